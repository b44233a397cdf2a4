job "a" {
  group "web" {
    shutdown_delay = "-5s"
    task "app" {
      driver = "raw_exec"
    }
  }
}
