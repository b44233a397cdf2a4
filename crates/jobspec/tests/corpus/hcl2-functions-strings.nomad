# hcl2-functions-strings: the string functions.
locals {
  words = split(",", "a,b,c")
}

job "hcl2-functions-strings" {
  meta {
    upper     = upper("web")
    lower     = lower("WEB")
    title     = title("hello world")
    format    = format("%s-%03d-%.2f-%q-%t-%x", "web", 7, 3.14159, "x", true, 255)
    join      = join("/", local.words)
    replace   = replace("a.b.c", ".", "-")
    regex     = replace("v1.2.3", "/[0-9]+/", "N")
    trim      = trimspace("  padded  ")
    prefix    = trimprefix("web-api", "web-")
    suffix    = trimsuffix("api.service", ".service")
    substr    = substr("caravan", 0, 3)
    strrev    = strrev("abc")
    chomp     = chomp("line\n")
    interp    = "${upper("x")}-${NOMAD_ALLOC_INDEX}"
    runtime   = format("%s.svc", "${node.unique.name}")
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
