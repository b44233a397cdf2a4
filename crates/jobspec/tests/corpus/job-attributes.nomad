# job-attributes
job "job-attributes" {
  region      = "europe"
  namespace   = "apps"
  priority    = 70
  all_at_once = true
  datacenters = ["dc1", "dc2"]
  node_pool   = "gpu"

  meta = {
    owner       = "platform"
    "team.name" = "web"
  }

  group "web" {
    meta {
      tier = "frontend"
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
