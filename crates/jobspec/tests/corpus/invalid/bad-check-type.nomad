job "a" {
  group "web" {
    service {
      check {
        type = "icmp"
      }
    }
    task "app" {
      driver = "raw_exec"
    }
  }
}
