# update-batch
job "update-batch" {
  type = "batch"
  update {
    max_parallel = 2
  }

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
