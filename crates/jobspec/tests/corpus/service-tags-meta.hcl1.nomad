# HCL1 form of service-tags-meta
job "service-tags-meta" {
  group "web" {
    network {
      port "http" {}
    }

    service {
      name                = "web"
      port                = "http"
      tags                = ["a",]
      canary_tags         = ["canary",]
      enable_tag_override = true
      on_update           = "ignore_warnings"

      meta {
        version = "1"
      }

      canary_meta {
        version = "2"
      }
    }

    service {
      name = "web-consul"
      port = "http"
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }
    }
  }
}
