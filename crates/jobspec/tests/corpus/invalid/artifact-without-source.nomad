job "a" {
  group "web" {
    task "app" {
      driver = "raw_exec"
      artifact {
        destination = "local/"
      }
    }
  }
}
