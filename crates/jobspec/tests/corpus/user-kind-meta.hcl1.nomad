# HCL1 form of user-kind-meta
job "user-kind-meta" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      user = "nobody"
      kind = "connect-proxy:web"

      meta {
        build = "42"
      }
    }
  }
}
