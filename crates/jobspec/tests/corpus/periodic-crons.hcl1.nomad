# HCL1 form of periodic-crons
job "periodic-crons" {
  type = "batch"
  periodic {
    crons = ["0 9 * * MON-FRI", "@daily",]
  }

  group "work" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }
    }
  }
}
