job "a" {
  group "web" {
    task "t" { driver = "raw_exec" }
    task "t" { driver = "raw_exec" }
  }
}
