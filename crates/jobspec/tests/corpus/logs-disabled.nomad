# logs-disabled
job "logs-disabled" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }

      logs {
        disabled = true
      }
    }
  }
}
