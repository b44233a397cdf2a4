//! Go's `text/template`, the subset Caravan renders, and Go's `fmt.Sprintf`.
//!
//! - [`Template`]: parse once (text, `{{/* comments */}}`, trim markers, pipelines,
//!   variables, field chains, `if`/`else if`/`range`/`with`/`break`/`continue`, any
//!   delimiters), then execute with no data, as consul-template runs templates.
//! - Functions: Go's built-ins (`and or not eq ne lt le gt ge len index print printf
//!   println`) always; the caller adds its own through [`Functions`] (Go's `FuncMap`),
//!   which may also refuse names with a reason when the template is parsed.
//! - [`printf`]: Go's directive syntax, padding and number formatting, shared with other
//!   printf-like functions (HCL2's `format`).
//!
//! Pure: no I/O, no clock. What a function reads from the world is the caller's
//! business (the client's template hook gives `env` and `file`).
//!
//! ```
//! use caravan_gotemplate::{NoFunctions, Template};
//! let template = Template::new(&NoFunctions)
//!     .parse("{{ $n := len \"abc\" }}{{ if gt $n 2 }}{{ printf \"%03d\" $n }}{{ end }}")
//!     .unwrap();
//! assert_eq!(template.execute().unwrap(), "003");
//! ```

mod builtins;
mod exec;
mod lex;
mod parse;
pub mod printf;
mod value;

pub use builtins::check_arity;
pub use exec::ExecError;
pub use parse::ParseError;
pub use value::{Value, format_float};

/// Functions a caller adds to Go's built-ins (text/template's `FuncMap`).
pub trait Functions {
    /// Whether a template may name `name`, asked when it is parsed: `None` when it is
    /// not one of these (the template fails with Go's "function not defined"),
    /// `Some(Err(why))` to refuse it with a reason of the caller's.
    fn lookup(&self, name: &str) -> Option<Result<(), String>>;

    /// Calls `name`, which [`Functions::lookup`] accepted, with its evaluated arguments
    /// (a piped value last). The error is reported as `<name>: <error>`.
    fn call(&self, name: &str, args: Vec<Value>) -> Result<Value, String>;
}

/// No functions beyond Go's built-ins.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFunctions;

impl Functions for NoFunctions {
    fn lookup(&self, _: &str) -> Option<Result<(), String>> {
        None
    }

    fn call(&self, name: &str, _: Vec<Value>) -> Result<Value, String> {
        Err(format!("function {name:?} not defined"))
    }
}

/// A template: its options, then (once parsed) its tree. Built like Go's
/// `template.New("").Funcs(f).Delims(l, r).Option("missingkey=error").Parse(text)`.
pub struct Template<'f> {
    funcs: &'f dyn Functions,
    left_delim: String,
    right_delim: String,
    missing_key_error: bool,
    nodes: Vec<parse::Node>,
}

impl<'f> Template<'f> {
    /// An empty template whose actions may call Go's built-ins and `funcs`.
    pub fn new(funcs: &'f dyn Functions) -> Template<'f> {
        Template {
            funcs,
            left_delim: String::new(),
            right_delim: String::new(),
            missing_key_error: false,
            nodes: Vec::new(),
        }
    }

    /// Actions between `left` and `right` instead of `{{` and `}}` (an empty one keeps
    /// its default).
    pub fn delims(mut self, left: &str, right: &str) -> Template<'f> {
        self.left_delim = left.to_string();
        self.right_delim = right.to_string();
        self
    }

    /// Go's `missingkey=error`: a missing map key fails the execution instead of
    /// printing `<no value>`.
    pub fn missing_key_error(mut self, on: bool) -> Template<'f> {
        self.missing_key_error = on;
        self
    }

    /// Parses `text`; every function it names must be a built-in or one of the caller's.
    pub fn parse(mut self, text: &str) -> Result<Template<'f>, ParseError> {
        self.nodes = parse::parse(text, &self.left_delim, &self.right_delim, self.funcs)?;
        Ok(self)
    }

    /// Renders the parsed template with no data (`.` is nil).
    pub fn execute(&self) -> Result<String, ExecError> {
        let context = exec::Context {
            funcs: self.funcs,
            missing_key_error: self.missing_key_error,
        };
        exec::execute(&self.nodes, &context)
    }
}

#[cfg(test)]
mod tests;
