# HCL1 form of network-bridge-dns
job "network-bridge-dns" {
  group "web" {
    network {
      mode     = "bridge"
      hostname = "web-${NOMAD_ALLOC_INDEX}"

      dns {
        servers  = ["1.1.1.1", "8.8.8.8",]
        searches = ["internal",]
        options  = ["ndots:2",]
      }

      port "http" {
        to = 8080
      }
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }
    }
  }
}
