# restart-task-override
job "restart-task-override" {
  type = "batch"
  group "work" {
    restart {
      attempts = 1
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }

      restart {
        delay = "1m"
      }
    }
  }
}
