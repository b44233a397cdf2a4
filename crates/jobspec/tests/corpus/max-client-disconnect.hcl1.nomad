# HCL1 form of max-client-disconnect
job "max-client-disconnect" {
  group "web" {
    max_client_disconnect        = "2h"
    stop_after_client_disconnect = "30m"
    prevent_reschedule_on_lost   = true

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }
    }
  }
}
