# ui
job "ui" {
  ui {
    description = "The **web** service"

    link {
      label = "Docs"
      url   = "https://example.com/docs"
    }

    link {
      label = "Repo"
      url   = "https://example.com/repo"
    }
  }

  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
