# update-empty
job "update-empty" {
  update {
    max_parallel = 0
  }

  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
