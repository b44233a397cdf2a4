job "a" {
  priority = 101
  group "web" {
    task "app" {
      driver = "raw_exec"
    }
  }
}
