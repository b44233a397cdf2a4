job "a" {
  group "web" {
    consul {
      namespace = "x"
    }
    task "app" {
      driver = "raw_exec"
    }
  }
}
