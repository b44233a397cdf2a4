# HCL1 form of artifact
job "artifact" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      artifact {
        source      = "https://example.com/app.tar.gz"
        destination = "local/app"

        options {
          checksum = "sha256:abc"
        }

        headers {
          User-Agent = "caravan"
        }
      }

      artifact {
        source = "git::https://example.com/repo.git"
      }
    }
  }
}
