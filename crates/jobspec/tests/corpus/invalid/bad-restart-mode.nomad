job "a" {
  group "web" {
    restart {
      mode = "retry"
    }
    task "app" {
      driver = "raw_exec"
    }
  }
}
