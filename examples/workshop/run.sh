#!/usr/bin/env bash
# (Re)starts the workshop's local cluster: one server and three clients on this machine,
# each from its own configuration file, as the Nomad workshop's run.sh does. Any cluster
# this script started before is stopped first.
#
#   ./run.sh          start (or restart) the cluster
#   ./run.sh stop     stop it
#
# CARAVAN picks the binary (default: caravan on PATH, else the workspace's release build).
set -euo pipefail
cd "$(dirname "$0")"
export DIR="$(pwd)"

CARAVAN="${CARAVAN:-$(command -v caravan || true)}"
if [ -z "$CARAVAN" ]; then
  CARAVAN="$DIR/../../target/release/caravan"
  [ -x "$CARAVAN" ] || (cd ../.. && cargo build --release --quiet)
fi

stop_all() {
  for pid_file in "$DIR"/.pids/*.pid; do
    [ -e "$pid_file" ] || continue
    pid="$(cat "$pid_file")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -INT "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file"
  done
}

stop_all
[ "${1:-}" = "stop" ] && exit 0

# The configuration files, written the way the workshop writes them (only if missing, so
# edits such as enabling raw_exec on every client survive a restart).
[ -e nomad-local-config-server.hcl ] || cat > nomad-local-config-server.hcl <<EOT
data_dir  = "${DIR}/local-cluster-data-server"

bind_addr = "0.0.0.0"

server {
  enabled          = true
  bootstrap_expect = 1
}

advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}

ports {
  http = 4646
  rpc  = 4647
  serf = 4648
}

telemetry {
  publish_allocation_metrics = true
  publish_node_metrics       = true
  prometheus_metrics         = true
}
EOT

for n in 1 2 3; do
  file="nomad-local-config-client-$n.hcl"
  [ -e "$file" ] && continue
  http=$((5641 + (n - 1) * 3)); rpc=$((http + 1)); serf=$((http + 2))
  raw_exec=""
  # As in the workshop's first step, only client-1 runs raw_exec tasks at first.
  if [ "$n" = 1 ]; then
    raw_exec='
plugin "raw_exec" {
  config {
    enabled = true
  }
}
'
  fi
  cat > "$file" <<EOT

data_dir  = "${DIR}/local-cluster-data-$n"

bind_addr = "0.0.0.0"

client {
  enabled = true
  servers = ["127.0.0.1:4647"]
  meta {
    "Name" = "client-$n"
  }
}

advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}

ports {
  http = $http
  rpc  = $rpc
  serf = $serf
}
$raw_exec
telemetry {
  publish_allocation_metrics = true
  publish_node_metrics       = true
  prometheus_metrics         = true
}
EOT
done

mkdir -p .pids logs
start() {
  local name="$1" config="$2"
  "$CARAVAN" agent -config="$config" > "logs/$name.log" 2>&1 &
  echo $! > ".pids/$name.pid"
}
start server nomad-local-config-server.hcl
# Give the server a moment to listen; clients retry anyway.
for _ in $(seq 1 50); do
  curl -fs http://127.0.0.1:4646/v1/status/leader >/dev/null 2>&1 && break
  sleep 0.1
done
for n in 1 2 3; do
  start "client-$n" "nomad-local-config-client-$n.hcl"
done
echo "Started 1 server and 3 clients; logs in $DIR/logs. Stop them with ./run.sh stop"
