job "a" {
  group "web" {
    task "app" {
      driver = "raw_exec"
      csi_plugin {
        id   = "ebs"
        type = "node"
      }
    }
  }
}
