# HCL1 form of sysbatch-job
job "sysbatch-job" {
  type = "sysbatch"
  group "sweep" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }
    }
  }
}
