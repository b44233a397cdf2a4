# update-canary
job "update-canary" {
  group "web" {
    count = 3

    update {
      canary       = 3
      max_parallel = 3
      auto_promote = true
      auto_revert  = true
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
