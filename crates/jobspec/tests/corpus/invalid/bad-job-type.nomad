job "a" {
  type = "cron"
  group "web" {
    task "app" {
      driver = "raw_exec"
    }
  }
}
