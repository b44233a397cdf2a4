job "a" {
  meta {
    motd = file("motd.txt")
  }
}
