# service-task-level
job "service-task-level" {
  group "web" {
    network {
      port "http" {}
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }

      service {
        port     = "http"
        provider = "nomad"
      }
    }
  }
}
