# migrate-batch
job "migrate-batch" {
  type = "batch"
  group "work" {
    migrate {
      max_parallel = 2
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
