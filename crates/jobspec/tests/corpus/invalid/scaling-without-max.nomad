job "a" {
  group "web" {
    scaling {
      min = 1
    }
    task "app" {
      driver = "raw_exec"
    }
  }
}
