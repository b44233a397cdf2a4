//! `client { host_volume "name" { path = "/srv/data"  read_only = true } }`: the
//! directories a client offers jobs' `volume` blocks of type `host`.

use std::collections::BTreeMap;

use caravan_structs::ClientHostVolumeConfig;

use crate::ast::{Body, Item, ValueKind};
use crate::error::{ParseError, Pos};

/// Every `host_volume` of a `client` block, by name. HCL writes each as a labelled
/// block; JSON as an object keyed by name (`"host_volume": {"data": {...}}`) or a list
/// of such objects. A later block of the same name wins, as in Nomad's merge.
pub(super) fn decode_host_volumes(
    client: &Body,
) -> Result<BTreeMap<String, ClientHostVolumeConfig>, ParseError> {
    let mut volumes = BTreeMap::new();
    for item in client.all("host_volume") {
        for (name, body) in named_bodies(client, item)? {
            volumes.insert(name.clone(), decode_one(body, name, item.pos)?);
        }
    }
    Ok(volumes)
}

/// The (name, body) pairs one `host_volume` item holds.
fn named_bodies<'a>(
    client: &'a Body,
    item: &'a Item,
) -> Result<Vec<(&'a String, &'a Body)>, ParseError> {
    if !item.labels.is_empty() {
        client.single_label(item)?;
        let body = client.value_object("host_volume", &item.value)?;
        return Ok(vec![(&item.labels[0], body)]);
    }
    let objects = match &item.value.kind {
        ValueKind::List(values) => values
            .iter()
            .map(|v| client.value_object("host_volume", v))
            .collect::<Result<Vec<_>, _>>()?,
        _ => vec![client.value_object("host_volume", &item.value)?],
    };
    let mut pairs = Vec::new();
    for object in objects {
        for named in &object.items {
            pairs.push((
                &named.key,
                object.value_object("host_volume", &named.value)?,
            ));
        }
    }
    if pairs.is_empty() {
        return Err(client.error_at(
            item.pos,
            "\"host_volume\" needs a name: write host_volume \"name\" { path = \"/dir\" }",
        ));
    }
    Ok(pairs)
}

fn decode_one(body: &Body, name: &str, pos: Pos) -> Result<ClientHostVolumeConfig, ParseError> {
    let context = format!("host_volume \"{name}\"");
    body.check_keys(&context, &["path", "read_only"], &[])?;
    let path = body.string("path")?.unwrap_or_default();
    if path.is_empty() {
        return Err(body.error_at(
            pos,
            format!("{context}: \"path\" is required: the directory on this client to offer"),
        ));
    }
    Ok(ClientHostVolumeConfig {
        name: name.to_string(),
        path,
        read_only: body.bool("read_only")?.unwrap_or(false),
    })
}
