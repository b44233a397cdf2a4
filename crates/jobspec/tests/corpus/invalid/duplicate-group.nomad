job "a" {
  group "web" {}
  group "web" {}
}
