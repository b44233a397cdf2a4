# hcl2-functions-numbers: numbers, conversions and JSON.
locals {
  config = jsondecode("{\"port\": 8080, \"hosts\": [\"a\", \"b\"]}")
}

job "hcl2-functions-numbers" {
  priority = max(10, 60, 40)

  meta {
    min        = min(5, 2, 9)
    abs        = abs(-4)
    ceil       = ceil(1.2)
    floor      = floor(1.8)
    tostring   = tostring(42)
    tonumber   = tonumber("7") + 1
    tobool     = tobool("true")
    port       = local.config.port
    hosts      = join(",", local.config.hosts)
    jsonencode = jsonencode({ a = 1, b = ["x"] })
  }

  group "web" {
    count = floor(2.9)

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = [tostring(ceil(3599.5))]
      }
    }
  }
}
