job "a" {
  group "web" {
    task "app" {
      driver = "raw_exec"
      kill_timeout = "5"
    }
  }
}
