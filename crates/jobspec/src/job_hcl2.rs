//! HCL2 job files (Nomad's default syntax), parsed by `hcl-rs`/`hcl-edit`.
//!
//! What Nomad's `jobspec2` does that we do too: `variable` blocks (defaults and values
//! given by the caller), `variables { }`, `locals { }`, `var.x` / `local.x` references,
//! and runtime interpolations kept as literal text: any reference whose root is not `var`
//! or `local` (`attr.*`, `node.*`, `meta.*`, `NOMAD_*`, `env.*`, ...) stays `${...}`, and a
//! bare `attribute = node.datacenter` becomes `"${node.datacenter}"`.
//!
//! The evaluated document becomes the same [`Body`] tree HCL1 produces, so decoding into a
//! [`Job`] is shared.

use std::collections::{HashMap, HashSet};
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

/// Parses an HCL2 job file into a [`Job`]; variables take their defaults.
/// `file_name` is only used in error messages. The job is not canonicalized.
pub fn parse_job_hcl2(file_name: &str, source: &str) -> Result<Job, JobspecError> {
    parse_job_hcl2_with_vars(file_name, source, &[])
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
    let file_body = hcl::edit::parser::parse_body(source).map_err(|e| {
        let location = e.location();
        ParseError::new(
            file_name,
            Pos::new(location.line(), location.column()),
            e.message().to_string(),
        )
    })?;
    let mut evaluator = Evaluator {
        file: Arc::from(file_name),
        lines: LineIndex::new(source),
        source,
        ctx: Context::new(),
        var_names: HashSet::new(),
        local_names: HashSet::new(),
    };
    evaluator.declare_variables(&file_body, vars)?;
    evaluator.declare_locals(&file_body)?;
    let mut items = Vec::new();
    for structure in file_body.iter() {
        if let Structure::Block(block) = structure
            && matches!(block.ident.as_str(), "variable" | "variables" | "locals")
        {
            continue;
        }
        items.extend(evaluator.structure(structure)?);
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

struct Evaluator<'s> {
    file: Arc<str>,
    lines: LineIndex,
    source: &'s str,
    ctx: Context<'static>,
    /// Names of declared variables and evaluated locals, for clear "undefined" errors.
    var_names: HashSet<String>,
    local_names: HashSet<String>,
}

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
            let value = match (given_value, block.body.get_attribute("default")) {
                (Some(text), _) => {
                    self.convert_given(&name, text, block.body.get_attribute("type"), pos)?
                }
                (None, Some(default)) => self.eval(&default.value)?,
                (None, None) => {
                    return Err(self.error(
                        pos,
                        format!("variable \"{name}\" has no value: give it a default or set it with -var {name}=..."),
                    ));
                }
            };
            declared.insert(name.clone(), pos);
            values.insert(name, value);
        }
        if let Some((name, _)) = given.iter().find(|(k, _)| !declared.contains_key(k)) {
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
                hcl::Expression::from(expr)
                    .evaluate(&Context::new())
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

    fn structure(&self, structure: &Structure) -> Result<Option<Item>, ParseError> {
        match structure {
            Structure::Attribute(attr) => {
                let value = self.eval(&attr.value)?;
                let pos = self.pos_of(&attr.value);
                Ok(self.value(value, pos).map(|value| Item {
                    key: attr.key.to_string(),
                    labels: Vec::new(),
                    value,
                    is_block: false,
                    pos: self.pos_of(attr),
                }))
            }
            Structure::Block(block) => {
                let pos = self.pos_of(block);
                if block.ident.as_str() == "dynamic" {
                    return Err(self.error(
                        pos,
                        "dynamic blocks are not supported yet: write the blocks out",
                    ));
                }
                let mut items = Vec::new();
                for inner in block.body.iter() {
                    items.extend(self.structure(inner)?);
                }
                let body_pos = self.pos_of(&block.body);
                Ok(Some(Item {
                    key: block.ident.to_string(),
                    labels: block.labels.iter().map(label_text).collect(),
                    value: Value::new(
                        ValueKind::Object(Body::with_items(self.file.clone(), items)),
                        body_pos,
                    ),
                    is_block: true,
                    pos,
                }))
            }
        }
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

    /// Evaluates an expression, keeping runtime references as `${...}` text.
    fn eval(&self, expr: &Expression) -> Result<hcl::Value, ParseError> {
        match expr {
            Expression::Null(_) => Ok(hcl::Value::Null),
            Expression::Bool(b) => Ok(hcl::Value::Bool(*b.value())),
            Expression::Number(n) => Ok(hcl::Value::Number(*n.value())),
            Expression::String(s) => Ok(hcl::Value::String(s.value().clone())),
            Expression::Array(array) => array.iter().map(|e| self.eval(e)).collect(),
            Expression::Object(object) => {
                let mut map = hcl::Map::new();
                for (key, value) in object.iter() {
                    let key = match key {
                        ObjectKey::Ident(ident) => ident.to_string(),
                        ObjectKey::Expression(key_expr) => {
                            self.interpolated_text(self.eval(key_expr)?, key_expr)?
                        }
                    };
                    map.insert(key, self.eval(value.expr())?);
                }
                Ok(hcl::Value::Object(map))
            }
            Expression::StringTemplate(template) => self.template(template, expr),
            Expression::HeredocTemplate(heredoc) => self.template(&heredoc.template, expr),
            Expression::Parenthesis(inner) => self.eval(inner.inner()),
            _ if self.is_runtime_reference(expr) => Ok(hcl::Value::String(format!(
                "${{{}}}",
                self.source_text(expr)
            ))),
            Expression::Traversal(traversal) => {
                self.check_defined(traversal)?;
                hcl::Expression::from(expr.clone())
                    .evaluate(&self.ctx)
                    .map_err(|e| self.error(self.pos_of(expr), e.to_string()))
            }
            _ => hcl::Expression::from(expr.clone())
                .evaluate(&self.ctx)
                .map_err(|e| self.error(self.pos_of(expr), e.to_string())),
        }
    }

    fn template(&self, template: &Template, whole: &Expression) -> Result<hcl::Value, ParseError> {
        let mut out = String::new();
        for element in template.iter() {
            match element {
                Element::Literal(text) => out.push_str(text.value()),
                Element::Interpolation(interpolation) => {
                    let inner = &interpolation.expr;
                    if self.is_runtime_reference(inner) {
                        out.push_str("${");
                        out.push_str(&self.source_text(inner));
                        out.push('}');
                    } else {
                        out.push_str(&self.interpolated_text(self.eval(inner)?, inner)?);
                    }
                }
                // `%{ if }` / `%{ for }` directives: left to hcl-rs (no runtime references).
                Element::Directive(_) => {
                    return hcl::Expression::from(whole.clone())
                        .evaluate(&self.ctx)
                        .map_err(|e| self.error(self.pos_of(whole), e.to_string()));
                }
            }
        }
        Ok(hcl::Value::String(out))
    }

    fn interpolated_text(
        &self,
        value: hcl::Value,
        expr: &Expression,
    ) -> Result<String, ParseError> {
        match value {
            hcl::Value::String(s) => Ok(s),
            hcl::Value::Number(n) => Ok(n.to_string()),
            hcl::Value::Bool(b) => Ok(b.to_string()),
            other => Err(self.error(
                self.pos_of(expr),
                format!("cannot use {} as text here", kind_name(&other)),
            )),
        }
    }

    /// `var.x` and `local.x` must name a declared variable or local.
    fn check_defined(&self, traversal: &hcl::edit::expr::Traversal) -> Result<(), ParseError> {
        let (Expression::Variable(root), Some(first)) =
            (&traversal.expr, traversal.operators.first())
        else {
            return Ok(());
        };
        let TraversalOperator::GetAttr(name) = first.value() else {
            return Ok(());
        };
        let name = name.as_str();
        let message = match root.as_str() {
            "var" if !self.var_names.contains(name) => {
                format!(
                    "undefined variable \"{name}\": declare it with variable \"{name}\" {{ default = ... }}"
                )
            }
            "local" if !self.local_names.contains(name) => format!(
                "undefined local \"{name}\": define it in a locals {{ }} block (locals must not refer to each other in a cycle)"
            ),
            _ => return Ok(()),
        };
        Err(self.error(self.pos_of(&traversal.expr), message))
    }

    /// Whether `expr` is a reference to something only known at run time: a variable or
    /// traversal whose root is not `var` or `local`.
    fn is_runtime_reference(&self, expr: &Expression) -> bool {
        match expr {
            Expression::Variable(ident) => !EVALUATED_ROOTS.contains(&ident.as_str()),
            Expression::Traversal(traversal) => self.is_runtime_reference(&traversal.expr),
            _ => false,
        }
    }

    /// The expression as written in the source (trimmed), or re-formatted when the parser
    /// kept no span.
    fn source_text(&self, expr: &Expression) -> String {
        expr.span()
            .and_then(|span| self.source.get(span))
            .map(|text| text.trim().to_string())
            .unwrap_or_else(|| {
                hcl::format::to_string(&hcl::Expression::from(expr.clone())).unwrap_or_default()
            })
    }
}

fn label_text(label: &BlockLabel) -> String {
    match label {
        BlockLabel::Ident(ident) => ident.to_string(),
        BlockLabel::String(text) => text.value().clone(),
    }
}

fn kind_name(value: &hcl::Value) -> &'static str {
    match value {
        hcl::Value::Null => "null",
        hcl::Value::Bool(_) => "a bool",
        hcl::Value::Number(_) => "a number",
        hcl::Value::String(_) => "a string",
        hcl::Value::Array(_) => "a list",
        hcl::Value::Object(_) => "an object",
    }
}
