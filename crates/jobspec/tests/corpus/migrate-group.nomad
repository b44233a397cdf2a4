# migrate-group
job "migrate-group" {
  migrate {
    max_parallel = 3
  }

  group "web" {
    migrate {
      min_healthy_time = "20s"
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
