job "a" {
  reschedule {
    delay_function = "linear"
  }
  group "web" {
    task "app" {
      driver = "raw_exec"
    }
  }
}
