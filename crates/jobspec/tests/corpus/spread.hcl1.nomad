# HCL1 form of spread
job "spread" {
  spread {
    attribute = "${node.datacenter}"
    weight    = 100

    target "dc1" {
      percent = 70
    }

    target "dc2" {
      percent = 30
    }
  }

  group "web" {
    count = "4"

    spread {
      attribute = "${meta.rack}"
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
