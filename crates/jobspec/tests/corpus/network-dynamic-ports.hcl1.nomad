# HCL1 form of network-dynamic-ports
job "network-dynamic-ports" {
  group "web" {
    network {
      port "http" {}

      port "metrics" {
        to = 9090
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
