count   = 4
dcs     = ["east", "west"]
version = 2
