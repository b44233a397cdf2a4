job "a" {
  group "web" {
    task "app" {
      driver = "raw_exec"
      scaling "cpu" {
        max = 1000
      }
    }
  }
}
