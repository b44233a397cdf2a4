job "a" {
  type = "batch"
  periodic {
    cron = "*/5 * * *"
  }
  group "g" {
    task "t" { driver = "raw_exec" }
  }
}
