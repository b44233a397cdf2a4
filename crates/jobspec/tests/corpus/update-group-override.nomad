# update-group-override
job "update-group-override" {
  update {
    max_parallel = 3
    canary       = 1
  }

  group "api" {
    update {
      max_parallel = 1
      auto_promote = true
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
  group "worker" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
