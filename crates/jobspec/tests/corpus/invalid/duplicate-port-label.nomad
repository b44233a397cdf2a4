job "a" {
  group "web" {
    network {
      port "http" {}
      port "http" {
        static = 80
      }
    }
    task "app" {
      driver = "raw_exec"
    }
  }
}
