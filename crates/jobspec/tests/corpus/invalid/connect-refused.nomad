job "a" {
  group "web" {
    service {
      name = "web"
      connect {
        sidecar_service {}
      }
    }
    task "app" {
      driver = "raw_exec"
    }
  }
}
