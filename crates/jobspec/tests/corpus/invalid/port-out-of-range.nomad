job "a" {
  group "web" {
    network {
      port "http" {
        static = 70000
      }
    }
    task "app" {
      driver = "raw_exec"
    }
  }
}
