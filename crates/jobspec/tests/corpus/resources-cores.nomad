# resources-cores
job "resources-cores" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }

      resources {
        cores  = 2
        memory = 1024
      }
    }
  }
}
