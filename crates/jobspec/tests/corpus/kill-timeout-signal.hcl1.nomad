# HCL1 form of kill-timeout-signal
job "kill-timeout-signal" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      kill_timeout = "45s"
      kill_signal  = "SIGINT"
    }
  }
}
