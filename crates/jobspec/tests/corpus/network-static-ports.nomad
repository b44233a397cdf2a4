# network-static-ports
job "network-static-ports" {
  type = "system"
  group "web" {
    network {
      port "dns" {
        static = 53
      }

      port "http" {
        static = 8080
        to     = 80
      }

      port "admin" {}
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
