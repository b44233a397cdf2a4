job "hello-exec-batch" {
  datacenters = ["dc1"]

  type = "batch"

  group "hello-exec" {
    task "echo" {
      driver = "raw_exec"
      config {
        # When running a binary that exists on the host, the path must be absolute.
        command = "/bin/bash"
        args    = ["-c", "echo Hi Nomad Exec Driver && sleep 180" ]
      }
    }
  }
}
