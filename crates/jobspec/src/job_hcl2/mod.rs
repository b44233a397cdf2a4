//! HCL2 job files (Nomad's default syntax), parsed by `hcl-rs`/`hcl-edit`.
//!
//! What Nomad's `jobspec2` does that we do too: `variable` blocks (defaults and values
//! given by the caller), `variables { }`, `locals { }`, `var.x` / `local.x` references,
//! and runtime interpolations kept as literal text: any reference whose root is not `var`
//! or `local` (`attr.*`, `node.*`, `meta.*`, `NOMAD_*`, `env.*`, ...) stays `${...}`, and a
//! bare `attribute = node.datacenter` becomes `"${node.datacenter}"`.
//!
//! Also: the common functions ([`crate::functions`]), `file()` relative to the job file
//! through a reader the caller lends ([`Hcl2Options::read_file`]), `dynamic` blocks, and
//! `-var-file` contents ([`parse_var_file`]).
//!
//! The evaluated document becomes the same [`Body`] tree HCL1 produces, so decoding into a
//! [`Job`] is shared.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use caravan_structs::Job;
use hcl::edit::Span;
use hcl::edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl::edit::structure::{self as edit, BlockLabel, Structure};
use hcl::edit::template::{Element, Template};
use hcl::eval::{Context, Evaluate};

use crate::ast::{Body, Item, Value, ValueKind};
use crate::decode;
use crate::error::{JobspecError, ParseError, Pos};
mod expressions;

use expressions::{evaluate_guarded, kind_name};

use crate::eval_budget::BudgetScope;
use crate::functions::{self, FileReader, FileScope};

/// Parses an HCL2 job file into a [`Job`]; variables take their defaults.
/// `file_name` is only used in error messages. The job is not canonicalized.
pub fn parse_job_hcl2(file_name: &str, source: &str) -> Result<Job, JobspecError> {
    parse_job_hcl2_with_vars(file_name, source, &[])
}

/// What the caller gives an HCL2 parse besides the text: variable values and file access.
#[derive(Clone, Default)]
pub struct Hcl2Options {
    /// `-var-file` values in the order the files were given (later files win), as
    /// [`parse_var_file`] returns them. `vars` override them.
    pub var_file_values: Vec<(String, serde_json::Value)>,
    /// `-var name=value` texts, converted to each variable's declared type; they win over
    /// `var_file_values` and defaults.
    pub vars: Vec<(String, String)>,
    /// Reads the files `file()` names, joined to the job file's directory. `None` makes
    /// `file()` an error (Nomad's `/v1/jobs/parse` has no file access either).
    pub read_file: Option<FileReader>,
}

impl std::fmt::Debug for Hcl2Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hcl2Options")
            .field("var_file_values", &self.var_file_values)
            .field("vars", &self.vars)
            .field("read_file", &self.read_file.is_some())
            .finish()
    }
}

/// Parses an HCL2 job file with [`Hcl2Options`]. The job is not canonicalized.
///
/// ```
/// use caravan_jobspec::{Hcl2Options, parse_job_hcl2_with_options};
/// let options = Hcl2Options {
///     read_file: Some(std::sync::Arc::new(|path: &std::path::Path| {
///         assert_eq!(path, std::path::Path::new("jobs/motd.txt"));
///         Ok("hello".to_string())
///     })),
///     ..Hcl2Options::default()
/// };
/// let job = parse_job_hcl2_with_options(
///     "jobs/web.nomad",
///     "job \"web\" {\n  meta = { motd = upper(file(\"motd.txt\")) }\n}\n",
///     &options,
/// )?;
/// assert_eq!(job.meta["motd"], "HELLO");
/// # Ok::<(), caravan_jobspec::JobspecError>(())
/// ```
pub fn parse_job_hcl2_with_options(
    file_name: &str,
    source: &str,
    options: &Hcl2Options,
) -> Result<Job, JobspecError> {
    let base = Path::new(file_name)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let _files = FileScope::enter(base, options.read_file.clone());
    let _budget = BudgetScope::enter();
    parse(file_name, source, &options.var_file_values, &options.vars)
}

/// Reads the contents of a `-var-file`: HCL attributes (`name = value`, no references to
/// other variables) or, when `file_name` ends in `.json`, a JSON object. Returns the
/// values in file order, for [`Hcl2Options::var_file_values`].
///
/// ```
/// let values = caravan_jobspec::parse_var_file("prod.hcl", "count = 3\nimage = \"web:1\"\n")?;
/// assert_eq!(values[0], ("count".to_string(), serde_json::json!(3)));
/// let json = caravan_jobspec::parse_var_file("prod.json", r#"{"dcs": ["a", "b"]}"#)?;
/// assert_eq!(json[0].1, serde_json::json!(["a", "b"]));
/// # Ok::<(), caravan_jobspec::JobspecError>(())
/// ```
pub fn parse_var_file(
    file_name: &str,
    source: &str,
) -> Result<Vec<(String, serde_json::Value)>, JobspecError> {
    if file_name.ends_with(".json") {
        let value: serde_json::Value = serde_json::from_str(source).map_err(|e| {
            ParseError::new(
                file_name,
                Pos::new(e.line().max(1), e.column().max(1)),
                format!("invalid JSON: {e}"),
            )
        })?;
        let serde_json::Value::Object(map) = value else {
            return Err(JobspecError::Unlocated {
                file: file_name.to_string(),
                message: "a JSON variables file must be an object: {\"name\": value}".into(),
            });
        };
        return Ok(map.into_iter().collect());
    }
    let body = hcl::edit::parser::parse_body(source).map_err(|e| {
        let location = e.location();
        ParseError::new(
            file_name,
            Pos::new(location.line(), location.column()),
            e.message().to_string(),
        )
    })?;
    let lines = LineIndex::new(source);
    let mut ctx = Context::new();
    functions::declare(&mut ctx);
    let mut out = Vec::new();
    for structure in body.iter() {
        let pos = structure
            .span()
            .map_or(Pos::new(1, 1), |span| lines.pos(source, span.start));
        let Structure::Attribute(attr) = structure else {
            return Err(ParseError::new(
                file_name,
                pos,
                "a variables file holds only name = value lines, no blocks",
            )
            .into());
        };
        let value = evaluate_guarded(hcl::Expression::from(attr.value.clone()), &ctx)
            .map_err(|e| ParseError::new(file_name, pos, e))?;
        let json = serde_json::to_value(&value)
            .map_err(|e| ParseError::new(file_name, pos, e.to_string()))?;
        out.push((attr.key.to_string(), json));
    }
    Ok(out)
}

/// Parses an HCL2 job file with variable values given as `-var name=value` would
/// (`("name", "value")`). A value is converted to the variable's declared `type`
/// (`number`, `bool`; other non-string types are read as an HCL expression). Setting a
/// variable the file does not declare is an error, as with Nomad's `-hcl2-strict`.
pub fn parse_job_hcl2_with_vars(
    file_name: &str,
    source: &str,
    vars: &[(String, String)],
) -> Result<Job, JobspecError> {
    let _files = FileScope::enter(Default::default(), None);
    let _budget = BudgetScope::enter();
    parse(file_name, source, &[], vars)
}

fn parse(
    file_name: &str,
    source: &str,
    file_values: &[(String, serde_json::Value)],
    vars: &[(String, String)],
) -> Result<Job, JobspecError> {
    let file_body = hcl::edit::parser::parse_body(source).map_err(|e| {
        let location = e.location();
        ParseError::new(
            file_name,
            Pos::new(location.line(), location.column()),
            e.message().to_string(),
        )
    })?;
    let mut ctx = Context::new();
    functions::declare(&mut ctx);
    let mut evaluator = Evaluator {
        file: Arc::from(file_name),
        lines: Arc::new(LineIndex::new(source)),
        source,
        ctx,
        var_names: HashSet::new(),
        local_names: HashSet::new(),
        iterators: Vec::new(),
        depth: 0,
    };
    evaluator.declare_variables(&file_body, file_values, vars)?;
    evaluator.declare_locals(&file_body)?;
    let mut items = Vec::new();
    for structure in file_body.iter() {
        if let Structure::Block(block) = structure
            && matches!(block.ident.as_str(), "variable" | "variables" | "locals")
        {
            continue;
        }
        items.extend(evaluator.structures(structure)?);
    }
    let body = Body::with_items(evaluator.file.clone(), items);
    Ok(decode::job_file(&body, &[])?)
}

/// Byte offsets to line and column.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(source: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn pos(&self, source: &str, offset: usize) -> Pos {
        let line = self.starts.partition_point(|start| *start <= offset).max(1);
        let start = self.starts[line - 1];
        let col = source
            .get(start..offset)
            .map_or(offset.saturating_sub(start), |text| text.chars().count());
        Pos::new(line, col + 1)
    }
}

#[derive(Clone)]
struct Evaluator<'s> {
    file: Arc<str>,
    lines: Arc<LineIndex>,
    source: &'s str,
    ctx: Context<'static>,
    /// Names of declared variables and evaluated locals, for clear "undefined" errors.
    var_names: HashSet<String>,
    local_names: HashSet<String>,
    /// Iterator names of the `dynamic` blocks being expanded (evaluated, not runtime).
    iterators: Vec<String>,
    /// Nesting of `dynamic` blocks, bounded.
    depth: usize,
}

/// Nested `dynamic` blocks deeper than this are refused.
const MAX_DYNAMIC_DEPTH: usize = 8;

/// The roots Nomad's HCL2 evaluation context defines; every other root is a runtime
/// reference kept as text.
const EVALUATED_ROOTS: &[&str] = &["var", "local"];

impl Evaluator<'_> {
    fn pos_of(&self, node: &impl Span) -> Pos {
        node.span().map_or(Pos::new(1, 1), |span| {
            self.lines.pos(self.source, span.start)
        })
    }

    fn error(&self, pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError::new(&self.file, pos, message)
    }

    fn declare_variables(
        &mut self,
        file: &edit::Body,
        file_values: &[(String, serde_json::Value)],
        given: &[(String, String)],
    ) -> Result<(), ParseError> {
        let mut values = hcl::Map::new();
        let mut declared: HashMap<String, Pos> = HashMap::new();
        for block in file.get_blocks("variables") {
            for attr in block.body.attributes() {
                declared.insert(attr.key.to_string(), self.pos_of(attr));
                values.insert(attr.key.to_string(), self.eval(&attr.value)?);
            }
        }
        for block in file.get_blocks("variable") {
            let pos = self.pos_of(block);
            let [label] = block.labels.as_slice() else {
                return Err(self.error(
                    pos,
                    "a variable needs one name: write variable \"name\" { default = ... }",
                ));
            };
            let name = label_text(label);
            let given_value = given.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| v);
            let file_value = file_values
                .iter()
                .rev()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v);
            let value = match (given_value, file_value, block.body.get_attribute("default")) {
                (Some(text), _, _) => {
                    self.convert_given(&name, text, block.body.get_attribute("type"), pos)?
                }
                (None, Some(json), _) => {
                    json_to_hcl(json, block.body.get_attribute("type").map(|a| &a.value))
                }
                (None, None, Some(default)) => self.eval(&default.value)?,
                (None, None, None) => {
                    return Err(self.error(
                        pos,
                        format!("variable \"{name}\" has no value: give it a default or set it with -var {name}=..."),
                    ));
                }
            };
            declared.insert(name.clone(), pos);
            values.insert(name, value);
        }
        let mut set_names = given
            .iter()
            .map(|(k, _)| k)
            .chain(file_values.iter().map(|(k, _)| k));
        if let Some(name) = set_names.find(|k| !declared.contains_key(*k)) {
            return Err(self.error(
                Pos::new(1, 1),
                format!("undefined variable \"{name}\" was given a value: declare it with variable \"{name}\" {{ }}"),
            ));
        }
        self.var_names = values.keys().cloned().collect();
        self.ctx.declare_var("var", hcl::Value::Object(values));
        Ok(())
    }

    /// A `-var` text converted to the variable's declared type.
    fn convert_given(
        &self,
        name: &str,
        text: &str,
        ty: Option<&edit::Attribute>,
        pos: Pos,
    ) -> Result<hcl::Value, ParseError> {
        let type_name = match ty.map(|attr| &attr.value) {
            None => return Ok(hcl::Value::String(text.to_string())),
            Some(Expression::Variable(ident)) => ident.as_str().to_string(),
            Some(_) => "complex".to_string(),
        };
        let bad = |what: &str| {
            self.error(
                pos,
                format!("variable \"{name}\" is a {what}, got {text:?}"),
            )
        };
        match type_name.as_str() {
            "string" | "any" => Ok(hcl::Value::String(text.to_string())),
            "number" => text
                .parse::<i64>()
                .map(hcl::Value::from)
                .or_else(|_| text.parse::<f64>().map(hcl::Value::from))
                .map_err(|_| bad("number")),
            "bool" => text
                .parse::<bool>()
                .map(hcl::Value::Bool)
                .map_err(|_| bad("bool")),
            _ => {
                let expr = hcl::edit::parser::parse_expr(text).map_err(|e| {
                    self.error(pos, format!("variable \"{name}\": {}", e.message()))
                })?;
                evaluate_guarded(hcl::Expression::from(expr), &self.ctx)
                    .map_err(|e| self.error(pos, format!("variable \"{name}\": {e}")))
            }
        }
    }

    /// Evaluates `locals` in dependency order: each pass evaluates what it can, until all
    /// are done or a pass makes no progress (then the first failure is the error).
    fn declare_locals(&mut self, file: &edit::Body) -> Result<(), ParseError> {
        let mut pending: Vec<&edit::Attribute> = file
            .get_blocks("locals")
            .flat_map(|block| block.body.attributes())
            .collect();
        let mut values = hcl::Map::new();
        self.ctx
            .declare_var("local", hcl::Value::Object(values.clone()));
        while !pending.is_empty() {
            let before = pending.len();
            let mut first_error = None;
            let mut still_pending = Vec::new();
            for attr in pending {
                match self.eval(&attr.value) {
                    Ok(value) => {
                        values.insert(attr.key.to_string(), value);
                        self.local_names.insert(attr.key.to_string());
                        self.ctx
                            .declare_var("local", hcl::Value::Object(values.clone()));
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                        still_pending.push(attr);
                    }
                }
            }
            if still_pending.len() == before
                && let Some(error) = first_error
            {
                return Err(error);
            }
            pending = still_pending;
        }
        Ok(())
    }

    /// The items one structure becomes: none for a `null` attribute, several for a
    /// `dynamic` block.
    fn structures(&self, structure: &Structure) -> Result<Vec<Item>, ParseError> {
        match structure {
            Structure::Attribute(attr) => {
                let value = self.eval(&attr.value)?;
                let pos = self.pos_of(&attr.value);
                Ok(self
                    .value(value, pos)
                    .map(|value| Item {
                        key: attr.key.to_string(),
                        labels: Vec::new(),
                        value,
                        is_block: false,
                        pos: self.pos_of(attr),
                    })
                    .into_iter()
                    .collect())
            }
            Structure::Block(block) => {
                let pos = self.pos_of(block);
                if block.ident.as_str() == "dynamic" {
                    return self.dynamic(block);
                }
                let mut items = Vec::new();
                for inner in block.body.iter() {
                    items.extend(self.structures(inner)?);
                }
                let body_pos = self.pos_of(&block.body);
                Ok(vec![Item {
                    key: block.ident.to_string(),
                    labels: block.labels.iter().map(label_text).collect(),
                    value: Value::new(
                        ValueKind::Object(Body::with_items(self.file.clone(), items)),
                        body_pos,
                    ),
                    is_block: true,
                    pos,
                }])
            }
        }
    }

    /// `dynamic "name" { for_each = ... iterator = it labels = [...] content { ... } }`:
    /// one `name` block per element, `it.key` and `it.value` bound in `labels` and
    /// `content` (the iterator is named like the block unless `iterator` says otherwise).
    fn dynamic(&self, block: &edit::Block) -> Result<Vec<Item>, ParseError> {
        let pos = self.pos_of(block);
        let [label] = block.labels.as_slice() else {
            return Err(self.error(
                pos,
                "a dynamic block needs the name of the block it makes: dynamic \"port\" { ... }",
            ));
        };
        if self.depth >= MAX_DYNAMIC_DEPTH {
            return Err(self.error(pos, "dynamic blocks are nested too deeply"));
        }
        let name = label_text(label);
        for structure in block.body.iter() {
            let key = match structure {
                Structure::Attribute(attr) => attr.key.as_str(),
                Structure::Block(inner) => inner.ident.as_str(),
            };
            if !matches!(key, "for_each" | "iterator" | "labels" | "content") {
                return Err(self.error(
                    self.pos_of(structure),
                    format!("unknown \"{key}\" in dynamic \"{name}\"; expected for_each, iterator, labels, content"),
                ));
            }
        }
        let Some(for_each) = block.body.get_attribute("for_each") else {
            return Err(self.error(
                pos,
                format!("dynamic \"{name}\" needs for_each = <list or map>"),
            ));
        };
        let mut contents = block.body.get_blocks("content");
        let Some(content) = contents.next() else {
            return Err(self.error(
                pos,
                format!("dynamic \"{name}\" needs a content {{ ... }} block"),
            ));
        };
        if let Some(second) = contents.next() {
            return Err(self.error(self.pos_of(second), "a dynamic block has one content block"));
        }
        let iterator = match block.body.get_attribute("iterator") {
            None => name.clone(),
            Some(attr) => match &attr.value {
                Expression::Variable(ident) => ident.to_string(),
                other => {
                    return Err(self.error(
                        self.pos_of(other),
                        "iterator must be a plain name, like iterator = port",
                    ));
                }
            },
        };
        let elements: Vec<(hcl::Value, hcl::Value)> = match self.eval(&for_each.value)? {
            hcl::Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (hcl::Value::from(i as u64), v))
                .collect(),
            hcl::Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| (hcl::Value::from(k), v))
                .collect(),
            hcl::Value::Null => Vec::new(),
            other => {
                return Err(self.error(
                    self.pos_of(&for_each.value),
                    format!(
                        "for_each must be a list or a map, got {}",
                        kind_name(&other)
                    ),
                ));
            }
        };
        let mut out = Vec::new();
        for (key, value) in elements {
            let mut child = self.clone();
            child.depth += 1;
            let mut it = hcl::Map::new();
            it.insert("key".to_string(), key);
            it.insert("value".to_string(), value);
            child
                .ctx
                .declare_var(iterator.clone(), hcl::Value::Object(it));
            child.iterators.push(iterator.clone());
            let labels = match block.body.get_attribute("labels") {
                None => Vec::new(),
                Some(attr) => match child.eval(&attr.value)? {
                    hcl::Value::Array(items) => items
                        .into_iter()
                        .map(|v| child.interpolated_text(v, &attr.value))
                        .collect::<Result<_, _>>()?,
                    other => {
                        return Err(self.error(
                            self.pos_of(&attr.value),
                            format!(
                                "labels must be a list of strings, got {}",
                                kind_name(&other)
                            ),
                        ));
                    }
                },
            };
            let mut items = Vec::new();
            for inner in content.body.iter() {
                items.extend(child.structures(inner)?);
            }
            out.push(Item {
                key: name.clone(),
                labels,
                value: Value::new(
                    ValueKind::Object(Body::with_items(self.file.clone(), items)),
                    self.pos_of(&content.body),
                ),
                is_block: true,
                pos,
            });
        }
        Ok(out)
    }

    /// An evaluated value as a tree value; `None` for `null` (an unset attribute).
    fn value(&self, value: hcl::Value, pos: Pos) -> Option<Value> {
        let kind = match value {
            hcl::Value::Null => return None,
            hcl::Value::Bool(b) => ValueKind::Bool(b),
            hcl::Value::Number(n) => match n.as_i64() {
                Some(i) if !n.is_f64() => ValueKind::Int(i),
                _ => ValueKind::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            hcl::Value::String(s) => ValueKind::String(s),
            hcl::Value::Array(items) => ValueKind::List(
                items
                    .into_iter()
                    .filter_map(|v| self.value(v, pos))
                    .collect(),
            ),
            hcl::Value::Object(map) => {
                let items = map
                    .into_iter()
                    .filter_map(|(key, v)| {
                        self.value(v, pos).map(|value| Item {
                            key,
                            labels: Vec::new(),
                            value,
                            is_block: false,
                            pos,
                        })
                    })
                    .collect();
                ValueKind::Object(Body::with_items(self.file.clone(), items))
            }
        };
        Some(Value::new(kind, pos))
    }
}

/// A `-var-file` value as an HCL value; a number or bool given to a `string` variable
/// becomes its text, as HCL's type conversion does.
fn json_to_hcl(json: &serde_json::Value, ty: Option<&Expression>) -> hcl::Value {
    let wants_string = matches!(ty, Some(Expression::Variable(t)) if t.as_str() == "string");
    match json {
        serde_json::Value::Number(n) if wants_string => hcl::Value::String(n.to_string()),
        serde_json::Value::Bool(b) if wants_string => hcl::Value::String(b.to_string()),
        other => serde_json::from_value(other.clone()).unwrap_or(hcl::Value::Null),
    }
}

fn label_text(label: &BlockLabel) -> String {
    match label {
        BlockLabel::Ident(ident) => ident.to_string(),
        BlockLabel::String(text) => text.value().clone(),
    }
}
