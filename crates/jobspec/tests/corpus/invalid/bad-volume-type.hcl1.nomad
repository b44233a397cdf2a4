job "a" {
  group "web" {
    volume "data" {
      type = "nfs"
    }
    task "app" {
      driver = "raw_exec"
    }
  }
}
