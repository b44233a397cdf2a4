# HCL1 form of volume-host
job "volume-host" {
  group "web" {
    volume "data" {
      type      = "host"
      source    = "data"
      read_only = true
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      volume_mount {
        volume      = "data"
        destination = "/srv/data"
      }
    }
  }
}
