job "hello-exec-batch" {
  datacenters = ["dc1"]
  type = "batch"

  group "example" {
    count = 10
    constraint {
      attribute = "${attr.os.name}"
      value     = "windows"
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
