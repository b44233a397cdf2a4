job "a" {
  group "web" {
    scaling {
      min = 5
      max = 2
    }
    task "app" {
      driver = "raw_exec"
    }
  }
}
