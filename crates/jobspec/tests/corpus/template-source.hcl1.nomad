# HCL1 form of template-source
job "template-source" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      template {
        source               = "local/app.tpl"
        destination          = "secrets/app.env"
        change_mode          = "noop"
        uid                  = 1000
        gid                  = 1000
        error_on_missing_key = true
      }
    }
  }
}
