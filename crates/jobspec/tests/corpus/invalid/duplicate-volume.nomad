job "a" {
  group "web" {
    volume "data" {
      type   = "host"
      source = "a"
    }
    volume "data" {
      type   = "host"
      source = "b"
    }
    task "app" {
      driver = "raw_exec"
    }
  }
}
