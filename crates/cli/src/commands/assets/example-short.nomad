job "example" {
  datacenters = ["dc1"]

  group "hello" {
    task "hello" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "trap 'echo signal received' HUP USR1 USR2; while true; do echo hello from caravan; sleep 5; done"]
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }
  }
}
