job "a" {
  group "web" {
    cout = 3
    task "app" {
      driver = "raw_exec"
    }
  }
}
