# periodic-disabled
job "periodic-disabled" {
  type = "sysbatch"
  periodic {
    cron    = "@hourly"
    enabled = false
  }

  group "work" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
