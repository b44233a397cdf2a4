job "a" {
  group "web" {
    count = 1
