job "a" {
  group "web" {
    task "app" {
      driver = "raw_exec"
      lifecycle {
        hook = "prerun"
      }
    }
  }
}
