job "a" {
  group "web" {
    task "app" {
      driver = "raw_exec"
      comand = "/bin/true"
    }
  }
}
