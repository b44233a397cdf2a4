//! `caravan service` (Nomad's `command/service_*.go`): list, info and delete the
//! registrations of Nomad's own service catalogue (`provider = "nomad"`).

use caravan_api_client::QueryOptions;
use caravan_structs::{ServiceRegistration, ServiceRegistrationListStub, short_id};

use crate::columnize::{format_kv, format_list};
use crate::flags::FlagSet;
use crate::meta;

/// `caravan service` without a subcommand.
pub const SERVICE_USAGE: &str = "Usage: caravan service <subcommand> [options]

  This command groups subcommands for interacting with the services API.

  List services:

      $ caravan service list

  Detail an individual service:

      $ caravan service info <service_name>

  Delete an individual service registration:

      $ caravan service delete <service_name> <service_id>

  Please see the individual subcommand help for detailed usage information.

Subcommands:
    delete    Deregister a registered service
    info      Display an individual Nomad service registration
    list      Display all registered Nomad services";

/// Runs `service <args>`.
pub fn run(args: &[String]) -> i32 {
    let rest = args.get(1..).unwrap_or_default().to_vec();
    match args.first().map(String::as_str) {
        Some("list") => list(&rest),
        Some("info") => info(&rest),
        Some("delete") => delete(&rest),
        Some("-h" | "-help" | "--help") => {
            meta::out(SERVICE_USAGE);
            0
        }
        _ => {
            meta::err(SERVICE_USAGE);
            1
        }
    }
}

/// Tags as Nomad prints them: `[a,b]`.
fn tags(tags: &[String]) -> String {
    format!("[{}]", tags.join(","))
}

/// `service list`: one namespace's services, or every namespace's with `-namespace=*`.
pub fn render_list(stubs: &[ServiceRegistrationListStub], all_namespaces: bool) -> String {
    let mut rows = Vec::new();
    for namespace in stubs {
        for service in &namespace.services {
            let mut sorted = service.tags.clone();
            sorted.sort();
            rows.push(if all_namespaces {
                format!(
                    "{}|{}|{}",
                    service.service_name,
                    namespace.namespace,
                    tags(&sorted)
                )
            } else {
                format!("{}|{}", service.service_name, tags(&sorted))
            });
        }
    }
    if rows.is_empty() {
        return "No services found".to_string();
    }
    let header = if all_namespaces {
        "Service Name|Namespace|Tags"
    } else {
        "Service Name|Tags"
    };
    rows.insert(0, header.to_string());
    format_list(&rows)
}

/// `service info`: a table of the registrations, or with `-verbose` each one in full.
pub fn render_info(services: &[ServiceRegistration], verbose: bool) -> String {
    if services.is_empty() {
        return "No service registrations found".to_string();
    }
    let address = |s: &ServiceRegistration| format!("{}:{}", s.address, s.port);
    if verbose {
        return services
            .iter()
            .map(|s| {
                format_kv(&[
                    format!("ID|{}", s.id),
                    format!("Service Name|{}", s.service_name),
                    format!("Namespace|{}", s.namespace),
                    format!("Job ID|{}", s.job_id),
                    format!("Alloc ID|{}", s.alloc_id),
                    format!("Node ID|{}", s.node_id),
                    format!("Datacenter|{}", s.datacenter),
                    format!("Address|{}", address(s)),
                    format!("Tags|{}", tags(&s.tags)),
                ])
            })
            .collect::<Vec<_>>()
            .join("\n\n");
    }
    let mut rows = vec!["Job ID|Address|Tags|Node ID|Alloc ID".to_string()];
    rows.extend(services.iter().map(|s| {
        format!(
            "{}|{}|{}|{}|{}",
            s.job_id,
            address(s),
            tags(&s.tags),
            short_id(s.node_id.as_str()),
            short_id(s.alloc_id.as_str())
        )
    }));
    format_list(&rows)
}

fn list(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan service list [options]

  List is used to list the currently registered services.

  If ACLs are enabled, this command requires a token with the 'read-job'
  capabilities for the namespace of all services. Any namespaces that the token
  does not have access to will have its services filtered from the results.

Service List Options:

  -json
    Output the services in JSON format.
";
    let Ok(parsed) = meta::parse(FlagSet::new().bools(&["json"]), args, HELP) else {
        return 1;
    };
    if let Err(code) = meta::no_arguments(&parsed, "service list") {
        return code;
    }
    let all = parsed.string("namespace") == Some("*");
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    meta::finish(
        client.run(|api| async move { api.services().await.map(|read| read.value) }),
        "Error listing service registrations",
        |stubs| {
            if parsed.bool("json") {
                meta::out(&meta::json_pretty(&stubs));
            } else {
                meta::out(&render_list(&stubs, all));
            }
        },
    )
}

fn info(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan service info [options] <service_name>

  Info is used to read the services registered to a single service name.

  When ACLs are enabled, this command requires a token with the 'read-job'
  capability for the service namespace.

Service Info Options:

  -json
    Output the service in JSON format.

  -verbose
    Display full information.
";
    let set = FlagSet::new().bools(&["json", "verbose"]);
    let Ok(parsed) = meta::parse(set, args, HELP) else {
        return 1;
    };
    let [name] = parsed.args.as_slice() else {
        meta::err("This command takes one argument: <service_name>");
        meta::err(&meta::help_hint("service info"));
        return 1;
    };
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    meta::finish(
        client.run(|api| async move {
            api.service(name, QueryOptions::default())
                .await
                .map(|read| read.value)
        }),
        "Error listing service registrations",
        |services| {
            if parsed.bool("json") {
                meta::out(&meta::json_pretty(&services));
            } else {
                meta::out(&render_info(&services, parsed.bool("verbose")));
            }
        },
    )
}

fn delete(args: &[String]) -> i32 {
    const HELP: &str = "Usage: caravan service delete [options] <service_name> <service_id>

  Delete is used to deregister the specified service registration. It should be
  used with caution and can only remove a single registration, via the service
  name and service ID, at a time.

  When ACLs are enabled, this command requires a token with the 'submit-job'
  capability for the service registration namespace.
";
    let Ok(parsed) = meta::parse(FlagSet::new(), args, HELP) else {
        return 1;
    };
    let [name, id] = parsed.args.as_slice() else {
        meta::err("This command takes two arguments: <service_name> and <service_id>");
        meta::err(&meta::help_hint("service delete"));
        return 1;
    };
    let Ok(client) = meta::client(&parsed) else {
        return 1;
    };
    meta::finish(
        client.run(|api| async move { api.delete_service(name, id).await }),
        "Error deleting service registration",
        |()| meta::out("Successfully deleted service registration"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_structs::ServiceRegistrationStub;

    fn registration(alloc: &str) -> ServiceRegistration {
        ServiceRegistration {
            id: format!("_nomad-task-{alloc}-group-cache-redis-db"),
            service_name: "redis".into(),
            namespace: "default".into(),
            node_id: "7406e90b-de16-d118-80fe-60d0f2730cb3".into(),
            datacenter: "dc1".into(),
            job_id: "example".into(),
            alloc_id: alloc.into(),
            tags: vec!["db".into(), "cache".into()],
            address: "127.0.0.1".into(),
            port: 22686,
            ..ServiceRegistration::default()
        }
    }

    #[test]
    fn list_and_info_print_nomads_tables() {
        let stubs = vec![ServiceRegistrationListStub {
            namespace: "default".into(),
            services: vec![ServiceRegistrationStub {
                service_name: "example-cache-redis".into(),
                tags: vec!["db".into(), "cache".into()],
            }],
        }];
        assert_eq!(
            render_list(&stubs, false),
            "Service Name         Tags\nexample-cache-redis  [cache,db]"
        );
        assert_eq!(
            render_list(&stubs, true),
            "Service Name         Namespace  Tags\nexample-cache-redis  default    [cache,db]"
        );
        assert_eq!(render_list(&[], false), "No services found");
        let services = [registration("5f0730ca-b055-52ac-f56e-358f3f7412f6")];
        assert_eq!(
            render_info(&services, false),
            "Job ID   Address          Tags        Node ID   Alloc ID\nexample  127.0.0.1:22686  [db,cache]  7406e90b  5f0730ca"
        );
        let verbose = render_info(&services, true);
        assert!(
            verbose.starts_with("ID           = _nomad-task-5f0730ca"),
            "{verbose}"
        );
        assert!(
            verbose.contains("\nAddress      = 127.0.0.1:22686\n"),
            "{verbose}"
        );
        assert_eq!(render_info(&[], false), "No service registrations found");
    }
}
