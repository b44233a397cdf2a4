job "a" {
  group "web" {
    network {
      port "http" {
        to = -2
      }
    }
    task "app" {
      driver = "raw_exec"
    }
  }
}
