# hcl2-file: file() relative to the job file's directory.
job "hcl2-file" {
  meta {
    motd   = chomp(file("files/motd.txt"))
    exists = fileexists("files/motd.txt")
    absent = fileexists("files/nope.txt")
  }

  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }

      template {
        data        = file("files/app.conf.tpl")
        destination = "local/app.conf"
      }
    }
  }
}
