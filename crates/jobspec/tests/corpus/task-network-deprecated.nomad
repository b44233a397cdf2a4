# task-network-deprecated
job "task-network-deprecated" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }

      resources {
        network {
          mbits = 10

          port "http" {}
        }
      }
    }
  }
}
