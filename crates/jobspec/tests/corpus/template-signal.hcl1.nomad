# HCL1 form of template-signal
job "template-signal" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      template {
        data            = "x"
        destination     = "local/x.conf"
        change_mode     = "signal"
        splay           = "1s"
        perms           = "0600"
        left_delimiter  = "[["
        right_delimiter = "]]"
        env             = true
      }

      template {
        data          = "y"
        destination   = "local/y.conf"
        change_mode   = "signal"
        change_signal = "sigusr1"
      }
    }
  }
}
