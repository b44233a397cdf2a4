//! The names Nomad's certificates carry: `<role>.<region>.nomad`. A server's certificate
//! names `server.<region>.nomad`, a client's `client.<region>.nomad` and the CLI's
//! `cli.<region>.nomad`; checking a peer's role is checking one of these names.

/// What an agent or the CLI is, as its certificate says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Server,
    Client,
    Cli,
}

impl Role {
    /// `server`, `client` or `cli`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
            Role::Cli => "cli",
        }
    }

    /// `<role>.<region>.nomad`: the name a certificate of this role in `region` carries.
    pub fn name_in(self, region: &str) -> String {
        format!("{}.{region}.nomad", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names() {
        assert_eq!(Role::Server.name_in("global"), "server.global.nomad");
        assert_eq!(Role::Client.name_in("eu"), "client.eu.nomad");
        assert_eq!(Role::Cli.name_in("global"), "cli.global.nomad");
    }
}
