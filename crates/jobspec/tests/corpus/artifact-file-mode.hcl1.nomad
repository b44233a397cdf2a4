# HCL1 form of artifact-file-mode
job "artifact-file-mode" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      artifact {
        source = "https://example.com/bin/tool"
        mode   = "file"
      }
    }
  }
}
