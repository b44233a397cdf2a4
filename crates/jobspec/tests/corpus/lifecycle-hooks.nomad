# lifecycle-hooks
job "lifecycle-hooks" {
  group "web" {
    task "proxy" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }

      lifecycle {
        hook    = "poststart"
        sidecar = true
      }
    }
    task "cleanup" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }

      lifecycle {
        hook = "poststop"
      }
    }
    task "main" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
