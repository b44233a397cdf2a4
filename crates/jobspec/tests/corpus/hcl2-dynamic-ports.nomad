# hcl2-dynamic-ports: dynamic blocks with a map, a list, labels and a custom iterator.
locals {
  ports    = { http = 8080, metrics = 9090 }
  services = ["api", "admin"]
}

job "hcl2-dynamic-ports" {
  group "web" {
    network {
      dynamic "port" {
        for_each = local.ports
        labels   = [port.key]

        content {
          to = port.value
        }
      }
    }

    dynamic "service" {
      for_each = local.services
      iterator = svc

      content {
        name     = "web-${svc.value}"
        port     = "http"
        provider = "nomad"
        tags     = ["index-${svc.key}", "${NOMAD_ALLOC_INDEX}"]
      }
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
