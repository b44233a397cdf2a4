
job "hello-exec-batch" {
  datacenters = ["dc1"]

  type = "batch"

  group "example" {
    count = 10
    spread {
      attribute = "${meta.Name}"
      target "client-1" {
        percent = 50
      }
      target "client-2" {
        percent = 0
      }
      target "client-3" {
        percent = 50
      }
    }
    task "echo" {
      driver = "raw_exec"
      config {
        # When running a binary that exists on the host, the path must be absolute.
        command = "/bin/echo"
        args    = ["Hi Nomad Exec Driver"]
      }
      resources {
          cpu    = 500
          memory = 300
      }
    }
  }
}
