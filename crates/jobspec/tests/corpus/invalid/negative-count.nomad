job "a" {
  group "web" {
    count = -1
    task "app" {
      driver = "raw_exec"
    }
  }
}
