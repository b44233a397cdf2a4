//! Executing a parsed template: variables, `if`/`with`/`range`, pipelines.
//!
//! Templates execute with no data (`.` is nil), as consul-template runs them, so `.Field`
//! is only useful on values a template made itself (a function's map, `range`).

use crate::Functions;
use crate::builtins;
use crate::parse::{Arg, Node, Pipeline};
use crate::value::Value;

/// What an execution may use: the caller's functions and Go's `missingkey` option.
pub(crate) struct Context<'a> {
    pub(crate) funcs: &'a dyn Functions,
    /// `missingkey=error`: a missing map key is an error instead of `<no value>`.
    pub(crate) missing_key_error: bool,
}

/// An execution error: the line of the action and what went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ExecError {
    /// The line of the action, from 1.
    pub line: usize,
    /// What went wrong (a function's error is prefixed with its name).
    pub message: String,
}

/// The most a template may write: far above any configuration file, far below what
/// would hurt the agent that renders it (a nested `range` multiplies output).
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

/// The most actions and `range` iterations one execution may take, so that a template
/// that loops without writing still ends (`range 1000000000000`).
pub const MAX_STEPS: u64 = 10_000_000;

enum Flow {
    Normal,
    Break,
    Continue,
}

/// Renders `nodes` with no data, like consul-template.
pub(crate) fn execute(nodes: &[Node], ctx: &Context) -> Result<String, ExecError> {
    let mut out = String::new();
    let mut state = State {
        ctx,
        vars: vec![("".to_string(), Value::Nil)],
        steps: 0,
        line: 1,
    };
    state.list(nodes, &Value::Nil, &mut out)?;
    Ok(out)
}

struct State<'a, 'b> {
    ctx: &'a Context<'b>,
    vars: Vec<(String, Value)>,
    /// Actions and iterations taken so far, against [`MAX_STEPS`].
    steps: u64,
    /// The line of the last action reached, for errors at text nodes (which have none).
    line: usize,
}

impl State<'_, '_> {
    fn list(&mut self, nodes: &[Node], dot: &Value, out: &mut String) -> Result<Flow, ExecError> {
        for node in nodes {
            let line = self.line_of(node);
            self.step(line)?;
            let flow = match node {
                Node::Text(text) => {
                    out.push_str(text);
                    Flow::Normal
                }
                Node::Output(pipe) => {
                    let value = self.pipeline(pipe, dot)?;
                    if pipe.vars.is_empty() {
                        // Go prints a missing value as `<no value>`.
                        match value {
                            Value::Nil => out.push_str("<no value>"),
                            other => out.push_str(&other.to_go_string()),
                        }
                    }
                    Flow::Normal
                }
                Node::If {
                    pipe,
                    then,
                    otherwise,
                } => {
                    let mark = self.vars.len();
                    let value = self.pipeline(pipe, dot)?;
                    let branch = if value.truth() { then } else { otherwise };
                    let flow = self.list(branch, dot, out);
                    self.vars.truncate(mark);
                    flow?
                }
                Node::With {
                    pipe,
                    then,
                    otherwise,
                } => {
                    let mark = self.vars.len();
                    let value = self.pipeline(pipe, dot)?;
                    let flow = if value.truth() {
                        self.list(then, &value, out)
                    } else {
                        self.list(otherwise, dot, out)
                    };
                    self.vars.truncate(mark);
                    flow?
                }
                Node::Range {
                    pipe,
                    then,
                    otherwise,
                } => self.range(pipe, then, otherwise, dot, out)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if out.len() > MAX_OUTPUT_BYTES {
                return Err(self.error(
                    line,
                    format!("the rendered template is over the limit of {MAX_OUTPUT_BYTES} bytes"),
                ));
            }
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    /// The line `node` stands on: its pipeline's, else the last action's.
    fn line_of(&mut self, node: &Node) -> usize {
        match node {
            Node::Output(pipe)
            | Node::If { pipe, .. }
            | Node::With { pipe, .. }
            | Node::Range { pipe, .. } => self.line = pipe.line,
            Node::Text(_) | Node::Break | Node::Continue => {}
        }
        self.line
    }

    /// Counts one action or iteration against [`MAX_STEPS`].
    fn step(&mut self, line: usize) -> Result<(), ExecError> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(self.error(
                line,
                format!("the template took over {MAX_STEPS} steps; it may loop too long"),
            ));
        }
        Ok(())
    }

    fn range(
        &mut self,
        pipe: &Pipeline,
        then: &[Node],
        otherwise: &[Node],
        dot: &Value,
        out: &mut String,
    ) -> Result<Flow, ExecError> {
        let value = self.commands(pipe, dot)?;
        // Lazily: `range N` must not build N entries before the step limit can stop it.
        let entries: Box<dyn Iterator<Item = (Value, Value)>> = match value {
            Value::Nil => Box::new(std::iter::empty()),
            Value::List(items) => Box::new(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (Value::Int(i as i64), v)),
            ),
            Value::Map(map) => Box::new(map.into_iter().map(|(k, v)| (Value::Str(k), v))),
            Value::Int(n) => Box::new((0..n.max(0)).map(|i| (Value::Int(i), Value::Int(i)))),
            other => {
                return Err(self.error(
                    pipe.line,
                    format!("range can't iterate over {}", other.to_go_string()),
                ));
            }
        };
        let mut entries = entries.peekable();
        if entries.peek().is_none() {
            return self.list(otherwise, dot, out);
        }
        let mark = self.vars.len();
        for (key, element) in entries {
            self.step(pipe.line)?;
            self.vars.truncate(mark);
            match pipe.vars.as_slice() {
                [value] => self.vars.push((value.clone(), element.clone())),
                [k, v] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((v.clone(), element.clone()));
                }
                _ => {}
            }
            let flow = self.list(then, &element, out);
            self.vars.truncate(mark);
            if let Flow::Break = flow? {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn error(&self, line: usize, message: impl Into<String>) -> ExecError {
        ExecError {
            line,
            message: message.into(),
        }
    }

    /// Runs a pipeline and declares or assigns its variables.
    fn pipeline(&mut self, pipe: &Pipeline, dot: &Value) -> Result<Value, ExecError> {
        let value = self.commands(pipe, dot)?;
        for name in &pipe.vars {
            if pipe.assign {
                let slot = self.vars.iter_mut().rev().find(|(n, _)| n == name);
                match slot {
                    Some(slot) => slot.1 = value.clone(),
                    None => {
                        return Err(self.error(pipe.line, format!("undefined variable: ${name}")));
                    }
                }
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    /// Runs the commands of a pipeline, each one's result the last argument of the next.
    fn commands(&mut self, pipe: &Pipeline, dot: &Value) -> Result<Value, ExecError> {
        let mut last: Option<Value> = None;
        for args in &pipe.commands {
            last = Some(self.command(args, dot, last, pipe.line)?);
        }
        Ok(last.unwrap_or(Value::Nil))
    }

    fn command(
        &mut self,
        args: &[Arg],
        dot: &Value,
        piped: Option<Value>,
        line: usize,
    ) -> Result<Value, ExecError> {
        let Some(Arg::Func(name)) = args.first() else {
            if args.len() > 1 || piped.is_some() {
                return Err(self.error(line, "can't give argument to non-function"));
            }
            return self.arg(&args[0], dot, line);
        };
        // `and` and `or` stop at the first operand that decides (Go 1.18).
        if name == "and" || name == "or" {
            let mut last = Value::Nil;
            let operands = args[1..]
                .iter()
                .map(Some)
                .chain(piped.as_ref().map(|_| None));
            let mut count = 0;
            for operand in operands {
                count += 1;
                last = match operand {
                    Some(arg) => self.arg(arg, dot, line)?,
                    None => piped.clone().unwrap_or(Value::Nil),
                };
                if last.truth() != (name == "and") {
                    return Ok(last);
                }
            }
            if count == 0 {
                return Err(self.error(
                    line,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            return Ok(last);
        }
        let mut values = Vec::with_capacity(args.len());
        for arg in &args[1..] {
            values.push(self.arg(arg, dot, line)?);
        }
        values.extend(piped);
        let result = if builtins::is_builtin(name) {
            builtins::call(name, values)
        } else {
            self.ctx.funcs.call(name, values)
        };
        result.map_err(|message| self.error(line, format!("{name}: {message}")))
    }

    fn arg(&mut self, arg: &Arg, dot: &Value, line: usize) -> Result<Value, ExecError> {
        match arg {
            Arg::Lit(value) => Ok(value.clone()),
            Arg::Field(fields) => self.fields(dot.clone(), fields, line),
            Arg::Var(name, fields) => {
                let value = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| self.error(line, format!("undefined variable: ${name}")))?;
                self.fields(value, fields, line)
            }
            Arg::Pipe(pipe) => self.pipeline(pipe, dot),
            Arg::Func(name) => self
                .command(std::slice::from_ref(arg), dot, None, line)
                .map_err(|mut e| {
                    if e.message.is_empty() {
                        e.message = format!("calling {name}");
                    }
                    e
                }),
        }
    }

    fn fields(&self, mut value: Value, fields: &[String], line: usize) -> Result<Value, ExecError> {
        for field in fields {
            value = match value {
                Value::Map(mut map) => match map.remove(field) {
                    Some(v) => v,
                    None if self.ctx.missing_key_error => {
                        return Err(self.error(line, format!("map has no entry for key {field:?}")));
                    }
                    None => Value::Nil,
                },
                Value::Nil if self.ctx.missing_key_error => {
                    return Err(self.error(line, format!("nil data; no entry for key {field:?}")));
                }
                Value::Nil => Value::Nil,
                other => {
                    return Err(self.error(
                        line,
                        format!("can't evaluate field {field} in type {}", other.type_name()),
                    ));
                }
            };
        }
        Ok(value)
    }
}
