//! `caravan tls ca create` and `caravan tls cert create` (Nomad's `command/tls_*`): a
//! CA and certificates for servers, clients and the CLI, written to the current
//! directory under Nomad's file names.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use caravan_tls::Role;
use caravan_tls::certgen::{CaOptions, CertOptions, Pem, create_ca, create_cert};

use crate::flags::{FlagKind, FlagSet, Parsed};
use crate::meta;

/// `caravan tls` without a known subcommand.
pub const TLS_USAGE: &str = "Usage: caravan tls <subcommand> <subcommand> [options]

  This command groups subcommands for creating certificates for TLS
  communication between Caravan agents and the CLI.

Subcommands:
    ca      Helpers for managing CAs
    cert    Helpers for managing certificates";

const CA_CREATE_HELP: &str = "Usage: caravan tls ca create [options]

  Create a new certificate authority.

CA Create Options:

  -additional-domain
    Add additional DNS zones to the allowed list for the CA. The server will
    reject certificates for DNS names other than those specified in -domain and
    -additional-domain. This flag can be used multiple times. Only used in
    combination with -domain and -name-constraint.

  -common-name
    Common Name of CA. Defaults to \"Nomad Agent CA\".

  -country
    Country of the CA. Defaults to \"US\".

  -days
    Provide number of days the CA is valid for from now on.
    Defaults to 5 years or 1825 days.

  -domain
    Domain of Nomad cluster. Only used in combination with -name-constraint.
    Defaults to \"nomad\".

  -locality
    Locality of the CA. Defaults to \"San Francisco\".

  -name-constraint
    Enables the DNS name restriction functionality to the CA. Results in the CA
    rejecting certificates for any other DNS zone. If enabled, localhost and the
    value of -domain will be added to the allowed DNS zones field. If the UI is
    going to be served over HTTPS its hostname must be added with
    -additional-domain. Defaults to false.

  -organization
    Organization of the CA. Defaults to \"HashiCorp Inc.\".

  -organizational-unit
    Organizational Unit of the CA. Defaults to \"Nomad\".

  -postal-code
    Postal Code of the CA. Defaults to \"94105\".

  -province
    Province of the CA. Defaults to \"CA\".

  -street-address
    Street Address of the CA. Defaults to \"101 Second Street\".";

const CERT_CREATE_HELP: &str = "Usage: caravan tls cert create [options]

  Create a new TLS certificate to use within the Caravan cluster TLS
  configuration. You should use the -client, -server or -cli options to create
  certificates for these roles.

Certificate Create Options:

  -additional-dnsname
    Provide an additional dnsname for Subject Alternative Names.
    \"localhost\" is always included. This flag may be provided multiple times.

  -additional-ipaddress
    Provide an additional ipaddress for Subject Alternative Names.
    \"127.0.0.1\" is always included. This flag may be provided multiple times.

  -ca
    Provide path to the certificate authority certificate. Defaults to
    #DOMAIN#-agent-ca.pem.

  -cli
    Generate a certificate for use with the Caravan CLI.

  -client
    Generate a client certificate.

  -cluster-region
    DEPRECATED please use -region.

  -days
    Provide number of days the certificate is valid for from now on.
    Defaults to 1 year.

  -domain
    Provide the domain. Only used for -server certificates.

  -key
    Provide path to the certificate authority key. Defaults to
    #DOMAIN#-agent-ca-key.pem.

  -region
    Provide the region. Only used for -server certificates.
    Defaults to \"global\".

  -server
    Generate a server certificate.";

/// Writes `text` to a new file `path` with `mode`; an existing file is an error.
fn write_new(path: &str, text: &str, mode: u32) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("Error writing {path}: {e}"))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("Error writing {path}: {e}"))
}

/// The `-days` flag: a positive number of days, `default` when absent.
fn days(parsed: &Parsed, default: u32) -> Result<u32, String> {
    match parsed.int("days") {
        None => Ok(default),
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("-days must be a positive number of days, got {n}")),
    }
}

fn fail(message: &str) -> i32 {
    meta::err(message);
    1
}

fn takes_no_arguments(parsed: &Parsed, command: &str) -> Result<(), i32> {
    if parsed.args.len() > 1 {
        meta::err("This command takes up to one argument");
        meta::err(&meta::help_hint(command));
        return Err(1);
    }
    Ok(())
}

/// `caravan tls ca create`.
pub fn run_ca_create(args: &[String]) -> i32 {
    let flags = FlagSet::new()
        .flag("additional-domain", FlagKind::List)
        .flag("days", FlagKind::Int)
        .bools(&["name-constraint"])
        .strings(&[
            "domain",
            "common-name",
            "country",
            "postal-code",
            "province",
            "locality",
            "street-address",
            "organization",
            "organizational-unit",
        ]);
    let parsed = match meta::parse(flags, args, CA_CREATE_HELP) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    if let Err(code) = takes_no_arguments(&parsed, "tls ca create") {
        return code;
    }
    let mut options = CaOptions::default();
    let string = |name: &str, into: &mut String| {
        if let Some(value) = parsed.string(name) {
            *into = value.to_string();
        }
    };
    string("domain", &mut options.domain);
    string("common-name", &mut options.common_name);
    string("country", &mut options.country);
    string("postal-code", &mut options.postal_code);
    string("province", &mut options.province);
    string("locality", &mut options.locality);
    string("street-address", &mut options.street_address);
    string("organization", &mut options.organization);
    string("organizational-unit", &mut options.organizational_unit);
    options.name_constraint = parsed.bool("name-constraint");
    options.additional_domains = parsed.list("additional-domain");
    options.days = match days(&parsed, options.days) {
        Ok(days) => days,
        Err(message) => return fail(&message),
    };
    if !options.domain.is_empty() && options.domain != "nomad" && !options.name_constraint {
        return fail("Please provide the -name-constraint flag to use a custom domain constraint");
    }
    if options.domain == "nomad" && options.name_constraint {
        return fail(
            "Please provide the -domain flag if you want to enable custom domain constraints",
        );
    }
    if !options.additional_domains.is_empty() && !options.name_constraint {
        return fail("Please provide the -name-constraint flag to use a custom domain constraints");
    }
    let cert_file = format!("{}-agent-ca.pem", options.domain);
    let key_file = format!("{}-agent-ca-key.pem", options.domain);
    if Path::new(&cert_file).exists() {
        return fail(&format!("CA certificate file '{cert_file}' already exists"));
    }
    if Path::new(&key_file).exists() {
        return fail(&format!("CA key file '{key_file}' already exists"));
    }
    let ca = match create_ca(&options) {
        Ok(ca) => ca,
        Err(message) => return fail(&message),
    };
    if let Err(message) = write_new(&cert_file, &ca.cert, 0o666) {
        return fail(&message);
    }
    meta::out(&format!("==> CA certificate saved to: {cert_file}"));
    if let Err(message) = write_new(&key_file, &ca.key, 0o600) {
        return fail(&message);
    }
    meta::out(&format!("==> CA certificate key saved to: {key_file}"));
    0
}

/// The region of `tls cert create`: `-cluster-region`, else `-region` (or
/// `NOMAD_REGION`) unless it is `global`, else `global`.
fn cert_region(parsed: &Parsed) -> String {
    let client_region = parsed
        .string("region")
        .map(str::to_string)
        .or_else(|| std::env::var("NOMAD_REGION").ok());
    parsed
        .string("cluster-region")
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .or(client_region.filter(|r| !r.is_empty() && r != "global"))
        .unwrap_or_else(|| "global".to_string())
}

/// `caravan tls cert create`.
pub fn run_cert_create(args: &[String]) -> i32 {
    let flags = FlagSet::new()
        .flag("additional-dnsname", FlagKind::List)
        .flag("additional-ipaddress", FlagKind::List)
        .flag("days", FlagKind::Int)
        .bools(&["server", "client", "cli"])
        .strings(&["ca", "key", "domain", "cluster-region"]);
    let parsed = match meta::parse(flags, args, CERT_CREATE_HELP) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    if let Err(code) = takes_no_arguments(&parsed, "tls cert create") {
        return code;
    }
    let ca_flag = parsed.string("ca").unwrap_or("#DOMAIN#-agent-ca.pem");
    let key_flag = parsed.string("key").unwrap_or("#DOMAIN#-agent-ca-key.pem");
    if ca_flag.is_empty() {
        return fail("Please provide the ca");
    }
    if key_flag.is_empty() {
        return fail("Please provide the key");
    }
    let role = match (
        parsed.bool("server"),
        parsed.bool("client"),
        parsed.bool("cli"),
    ) {
        (true, false, false) => Role::Server,
        (false, true, false) => Role::Client,
        (false, false, true) => Role::Cli,
        _ => return fail("Please provide either -server, -client, or -cli"),
    };
    let mut options = CertOptions::new(role, &cert_region(&parsed));
    if let Some(domain) = parsed.string("domain") {
        options.domain = domain.to_string();
    }
    options.days = match days(&parsed, options.days) {
        Ok(days) => days,
        Err(message) => return fail(&message),
    };
    options.dns_names = parsed.list("additional-dnsname");
    for ip in parsed.list("additional-ipaddress") {
        match ip.trim().parse::<IpAddr>() {
            Ok(ip) => options.ip_addresses.push(ip),
            Err(_) if ip.trim().is_empty() => {}
            Err(_) => {
                return fail(&format!(
                    "-additional-ipaddress \"{ip}\" is not an IP address"
                ));
            }
        }
    }
    let prefix = options.file_prefix();
    let cert_file = format!("{prefix}.pem");
    let key_file = format!("{prefix}-key.pem");
    if Path::new(&cert_file).exists() {
        return fail(&format!("Certificate file '{cert_file}' already exists"));
    }
    if Path::new(&key_file).exists() {
        return fail(&format!("Key file '{key_file}' already exists"));
    }
    let ca_file = ca_flag.replacen("#DOMAIN#", &options.domain, 1);
    let ca_key_file = key_flag.replacen("#DOMAIN#", &options.domain, 1);
    let ca = match (
        std::fs::read_to_string(&ca_file),
        std::fs::read_to_string(&ca_key_file),
    ) {
        (Ok(cert), Ok(key)) => Pem { cert, key },
        (Err(e), _) => return fail(&format!("Error reading CA: {e}")),
        (_, Err(e)) => return fail(&format!("Error reading CA key: {e}")),
    };
    if role == Role::Server {
        meta::err(
            "==> WARNING: Server Certificates grants authority to become a
    server and access all state in the cluster including root keys
    and all ACL tokens. Do not distribute them to production hosts
    that are not server nodes. Store them as securely as CA keys.",
        );
    }
    meta::out(&format!(
        "==> Using CA file {ca_file} and CA key {ca_key_file}"
    ));
    let cert = match create_cert(&ca, &options) {
        Ok(cert) => cert,
        Err(message) => return fail(&message),
    };
    let (what, key_what) = match role {
        Role::Server => ("Server Certificate", "Server Certificate key"),
        Role::Client => ("Client Certificate", "Client Certificate key"),
        Role::Cli => ("Cli Certificate", "CLI Certificate key"),
    };
    if let Err(message) = write_new(&cert_file, &cert.cert, 0o666) {
        return fail(&message);
    }
    meta::out(&format!("==> {what} saved to {cert_file}"));
    if let Err(message) = write_new(&key_file, &cert.key, 0o600) {
        return fail(&message);
    }
    meta::out(&format!("==> {key_what} saved to {key_file}"));
    0
}
