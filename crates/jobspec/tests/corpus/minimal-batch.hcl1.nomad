# HCL1 form of minimal-batch
job "minimal-batch" {
  type = "batch"
  group "work" {
    task "echo" {
      driver = "raw_exec"

      config {
        command = "/bin/echo"
        args    = ["hello",]
      }
    }
  }
}
