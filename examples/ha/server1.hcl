# Server 1 of a three-server cluster on one machine (each server on its own ports).
# Start all three: caravan agent -config=examples/ha/server1.hcl
name      = "server1"
data_dir  = "/tmp/caravan-ha/server1"
bind_addr = "127.0.0.1"

ports {
  http = 4646
  rpc  = 4647
  serf = 4648
}

server {
  enabled          = true
  bootstrap_expect = 3

  server_join {
    retry_join     = ["127.0.0.1:4648", "127.0.0.1:5648", "127.0.0.1:6648"]
    retry_interval = "5s"
  }
}
