# lifecycle-prestart
job "lifecycle-prestart" {
  group "web" {
    task "init" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }

      lifecycle {
        hook = "prestart"
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
