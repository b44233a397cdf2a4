# HCL1 form of shutdown-delay
job "shutdown-delay" {
  group "web" {
    shutdown_delay = "10s"

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      shutdown_delay = "5s"
    }
  }
}
