# service-tcp-check
job "service-tcp-check" {
  group "web" {
    network {
      port "db" {
        to = 5432
      }
    }

    service {
      name         = "db"
      port         = "db"
      provider     = "nomad"
      address_mode = "host"

      check {
        type                     = "tcp"
        interval                 = "5s"
        timeout                  = "1s"
        success_before_passing   = 2
        failures_before_critical = 3
      }
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
