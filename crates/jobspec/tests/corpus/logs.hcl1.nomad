# HCL1 form of logs
job "logs" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      logs {
        max_files     = 3
        max_file_size = 20
      }
    }
  }
}
