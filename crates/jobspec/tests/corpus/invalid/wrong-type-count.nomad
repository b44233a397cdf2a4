job "a" {
  group "web" {
    count = "three"
    task "app" {
      driver = "raw_exec"
    }
  }
}
