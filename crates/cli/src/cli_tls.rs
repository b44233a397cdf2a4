//! The CLI's TLS settings: `-ca-cert`, `-client-cert`, `-client-key`,
//! `-tls-server-name`, `-tls-skip-verify`, each overriding its `NOMAD_*` variable, as
//! Nomad's CLI reads them.

use std::path::PathBuf;

use caravan_tls::outgoing::CliTls;

use crate::flags::Parsed;

/// The help text of the TLS flags, appended to every command's general options.
pub const TLS_FLAGS_HELP: &str = "
  -ca-cert=<path>
    Path to a PEM encoded CA cert file to use to verify the
    Nomad server SSL certificate. Overrides the NOMAD_CACERT
    environment variable if set.

  -client-cert=<path>
    Path to a PEM encoded client certificate for TLS authentication
    to the Nomad server. Must also specify -client-key. Overrides
    the NOMAD_CLIENT_CERT environment variable if set.

  -client-key=<path>
    Path to an unencrypted PEM encoded private key matching the
    client certificate from -client-cert. Overrides the
    NOMAD_CLIENT_KEY environment variable if set.

  -tls-server-name=<value>
    The server name to use as the SNI host when connecting via
    TLS. Overrides the NOMAD_TLS_SERVER_NAME environment variable if set.

  -tls-skip-verify
    Do not verify TLS certificate. This is highly not recommended. Verification
    will also be skipped if NOMAD_SKIP_VERIFY is set.";

/// Go's `strconv.ParseBool`.
fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The TLS settings of a command: its flags, else the environment (`env`).
pub fn tls_settings(
    parsed: &Parsed,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CliTls, String> {
    let setting = |flag: &str, var: &str| {
        parsed
            .string(flag)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .or_else(|| env(var))
    };
    if setting("ca-path", "NOMAD_CAPATH").is_some() {
        return Err(
            "-ca-path (NOMAD_CAPATH) is not supported by caravan: put the CA certificates in one PEM file and use -ca-cert"
                .into(),
        );
    }
    let skip_verify = parsed.bool("tls-skip-verify")
        || env("NOMAD_SKIP_VERIFY")
            .and_then(|v| go_bool(&v))
            .unwrap_or(false);
    Ok(CliTls {
        ca_cert: setting("ca-cert", "NOMAD_CACERT").map(PathBuf::from),
        client_cert: setting("client-cert", "NOMAD_CLIENT_CERT").map(PathBuf::from),
        client_key: setting("client-key", "NOMAD_CLIENT_KEY").map(PathBuf::from),
        skip_verify,
        server_name: setting("tls-server-name", "NOMAD_TLS_SERVER_NAME"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::with_client_flags;

    fn settings(args: &[&str], env: &[(&str, &str)]) -> Result<CliTls, String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let parsed = with_client_flags(crate::flags::FlagSet::new())
            .parse(&args)
            .unwrap();
        let env = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        tls_settings(&parsed, &env)
    }

    /// Flags, environment, and the settings they give.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], CliTls);

    #[test]
    fn flags_override_the_environment() {
        let cases: &[Case] = &[
            (&[], &[], CliTls::default()),
            (
                &["-ca-cert=ca.pem", "-client-cert=c.pem", "-client-key=k.pem"],
                &[("NOMAD_CACERT", "env-ca.pem")],
                CliTls {
                    ca_cert: Some("ca.pem".into()),
                    client_cert: Some("c.pem".into()),
                    client_key: Some("k.pem".into()),
                    ..CliTls::default()
                },
            ),
            (
                &[],
                &[
                    ("NOMAD_CACERT", "env-ca.pem"),
                    ("NOMAD_CLIENT_CERT", "env-c.pem"),
                    ("NOMAD_CLIENT_KEY", "env-k.pem"),
                    ("NOMAD_TLS_SERVER_NAME", "server.global.nomad"),
                    ("NOMAD_SKIP_VERIFY", "true"),
                ],
                CliTls {
                    ca_cert: Some("env-ca.pem".into()),
                    client_cert: Some("env-c.pem".into()),
                    client_key: Some("env-k.pem".into()),
                    skip_verify: true,
                    server_name: Some("server.global.nomad".into()),
                },
            ),
            (
                &["-tls-skip-verify", "-tls-server-name=x"],
                &[("NOMAD_SKIP_VERIFY", "nonsense")],
                CliTls {
                    skip_verify: true,
                    server_name: Some("x".into()),
                    ..CliTls::default()
                },
            ),
            (&[], &[("NOMAD_SKIP_VERIFY", "0")], CliTls::default()),
        ];
        for (args, env, want) in cases {
            assert_eq!(&settings(args, env).unwrap(), want, "{args:?} {env:?}");
        }
    }

    #[test]
    fn ca_path_is_refused_with_what_to_use() {
        let error = settings(&["-ca-path=/etc/certs"], &[]).unwrap_err();
        assert!(error.contains("use -ca-cert"), "{error}");
    }
}
