# HCL1 form of full-web
job "full-web" {
  datacenters = ["dc1",]

  update {
    max_parallel = 1
    canary       = 1
    auto_revert  = true
  }

  group "web" {
    count = "2"

    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name     = "web"
      port     = "http"
      provider = "nomad"

      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    restart {
      attempts = 3
      delay    = "10s"
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      template {
        data        = "listen = {{ env \"NOMAD_PORT_http\" }}"
        destination = "local/web.conf"
      }

      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
