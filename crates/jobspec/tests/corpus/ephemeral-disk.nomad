# ephemeral-disk
job "ephemeral-disk" {
  group "web" {
    ephemeral_disk {
      size    = 1024
      sticky  = true
      migrate = true
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
