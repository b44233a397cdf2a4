# A client of the three-server cluster: it registers with whichever server leads and
# fails over to the others.
name      = "client1"
data_dir  = "/tmp/caravan-ha/client1"
bind_addr = "127.0.0.1"

ports {
  http = 7646
}

client {
  enabled = true
  servers = ["127.0.0.1:4647", "127.0.0.1:5647", "127.0.0.1:6647"]

  options {
    "driver.raw_exec.enable" = "1"
  }
}
