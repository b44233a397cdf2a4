job "a" {
  update = "fast"
  group "web" {
    task "app" {
      driver = "raw_exec"
    }
  }
}
