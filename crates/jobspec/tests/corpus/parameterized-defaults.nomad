# parameterized-defaults
job "parameterized-defaults" {
  type = "batch"
  parameterized {}

  group "work" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
