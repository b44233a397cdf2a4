# HCL1 form of job-id-override
job "job-id-override" {
  id   = "web-v2"
  name = "web"

  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }
    }
  }
}
