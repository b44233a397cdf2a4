# Server 2 of a three-server cluster on one machine (each server on its own ports).
# Start all three: caravan agent -config=examples/ha/server2.hcl
name      = "server2"
data_dir  = "/tmp/caravan-ha/server2"
bind_addr = "127.0.0.1"

ports {
  http = 5646
  rpc  = 5647
  serf = 5648
}

server {
  enabled          = true
  bootstrap_expect = 3

  server_join {
    retry_join     = ["127.0.0.1:4648", "127.0.0.1:5648", "127.0.0.1:6648"]
    retry_interval = "5s"
  }
}
