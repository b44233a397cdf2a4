# HCL1 form of actions
job "actions" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      action "ping" {
        command = "/bin/echo"
        args    = ["pong",]
      }

      action "dump" {
        command = "/usr/bin/env"
      }
    }
  }
}
