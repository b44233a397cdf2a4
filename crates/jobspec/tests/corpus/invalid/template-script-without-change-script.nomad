job "a" {
  group "web" {
    task "app" {
      driver = "raw_exec"
      template {
        data        = "x"
        destination = "local/x"
        change_mode = "script"
      }
    }
  }
}
