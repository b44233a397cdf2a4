//! `nomadVar`, `nomadVarExists` and `nomadVarList`: Nomad Variables as a task's
//! templates read them, through the servers' workload check (the paths of the task's
//! job, group and task). A variable not there reads as empty (consul-template would
//! hold the render until it exists).

use std::collections::BTreeMap;

use caravan_gotemplate::Value;
use caravan_structs::VariableMetadata;

use super::services::{CatalogAnswer, CatalogData, CatalogQuery};

/// `path[@namespace[.region]]`: the path alone (the task's namespace is the one read).
fn variable_path(name: &str, args: &[Value]) -> Result<String, String> {
    let [path] = args else {
        return Err(format!(
            "wrong number of args for {name}: want 1 got {}",
            args.len()
        ));
    };
    let path = path.as_str()?;
    Ok(path.split('@').next().unwrap_or_default().to_string())
}

impl CatalogData {
    /// `nomadVar "path"`: the variable's items, `{{ .key }}` each.
    pub fn variable(&self, args: &[Value]) -> Result<Value, String> {
        let path = variable_path("nomadVar", args)?;
        let items = match self.ask(CatalogQuery::Variable(path)) {
            Some(CatalogAnswer::Variable(Some(variable))) => variable
                .items
                .iter()
                .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
                .collect(),
            _ => BTreeMap::new(),
        };
        Ok(Value::Map(items))
    }

    /// `nomadVarExists "path"`.
    pub fn variable_exists(&self, args: &[Value]) -> Result<Value, String> {
        let path = variable_path("nomadVarExists", args)?;
        let exists = matches!(
            self.ask(CatalogQuery::Variable(path)),
            Some(CatalogAnswer::Variable(Some(_)))
        );
        Ok(Value::Bool(exists))
    }

    /// `nomadVarList ["prefix"]`: each variable's metadata (`.Path`, `.ModifyIndex`...).
    pub fn variable_list(&self, name: &str, args: &[Value]) -> Result<Value, String> {
        let prefix = match args {
            [] => String::new(),
            [_] => variable_path(name, args)?,
            _ => {
                return Err(format!(
                    "wrong number of args for {name}: want 0 or 1 got {}",
                    args.len()
                ));
            }
        };
        let listed = match self.ask(CatalogQuery::Variables(prefix)) {
            Some(CatalogAnswer::Variables(listed)) => listed.iter().map(metadata_value).collect(),
            _ => Vec::new(),
        };
        Ok(Value::List(listed))
    }
}

fn metadata_value(meta: &VariableMetadata) -> Value {
    let int = |n: u64| Value::Int(n as i64);
    Value::Map(BTreeMap::from([
        ("Namespace".to_string(), Value::Str(meta.namespace.clone())),
        ("Path".to_string(), Value::Str(meta.path.clone())),
        ("CreateIndex".to_string(), int(meta.create_index)),
        ("ModifyIndex".to_string(), int(meta.modify_index)),
        ("CreateTime".to_string(), Value::Int(meta.create_time)),
        ("ModifyTime".to_string(), Value::Int(meta.modify_time)),
    ]))
}
