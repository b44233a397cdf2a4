job "a" {
  datacenter = ["dc1"]
  group "web" {
    task "app" {
      driver = "raw_exec"
    }
  }
}
