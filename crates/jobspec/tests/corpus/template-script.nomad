# template-script
job "template-script" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }

      template {
        data        = "z"
        destination = "local/z.conf"
        change_mode = "script"

        change_script {
          command       = "/local/reload.sh"
          args          = ["-v"]
          fail_on_error = true
        }

        wait {
          min = "2s"
          max = "10s"
        }
      }
    }
  }
}
