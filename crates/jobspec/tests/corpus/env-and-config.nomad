# env-and-config
job "env-and-config" {
  group "web" {
    task "app" {
      driver = "docker"

      config {
        command = "/usr/local/bin/app"
        args    = ["-port", "${NOMAD_PORT_http}"]

        mount {
          source = "/a"
        }
      }

      env = {
        LOG_LEVEL  = "debug"
        "APP.MODE" = "prod"
        DIR        = "${NOMAD_TASK_DIR}"
      }
    }
  }
}
