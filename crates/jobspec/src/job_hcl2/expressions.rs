//! Evaluating one expression of a job file: what Nomad evaluates at parse time
//! (variables, locals, functions) is evaluated, and references only known at run time
//! (`${node.unique.name}`, `${NOMAD_ALLOC_ID}`) stay as `${...}` text.

use super::*;

impl Evaluator<'_> {
    /// Evaluates an expression, keeping runtime references as `${...}` text.
    pub(super) fn eval(&self, expr: &Expression) -> Result<hcl::Value, ParseError> {
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
            Expression::FuncCall(call) => {
                let mut evaluated = hcl::expr::FuncCall::new(call.name.name.as_str());
                for arg in call.args.iter() {
                    evaluated.args.push(hcl::Expression::from(self.eval(arg)?));
                }
                evaluated.expand_final = call.args.expand_final();
                self.evaluate(hcl::Expression::FuncCall(Box::new(evaluated)), expr)
            }
            _ if self.is_runtime_reference(expr) => Ok(hcl::Value::String(format!(
                "${{{}}}",
                self.source_text(expr)
            ))),
            Expression::Traversal(traversal) => {
                self.check_defined(traversal)?;
                self.evaluate(hcl::Expression::from(expr.clone()), expr)
            }
            _ => self.evaluate(hcl::Expression::from(expr.clone()), expr),
        }
    }

    /// Evaluates with hcl-rs, the error placed at `at`.
    pub(super) fn evaluate(
        &self,
        evaluable: hcl::Expression,
        at: &Expression,
    ) -> Result<hcl::Value, ParseError> {
        evaluate_guarded(evaluable, &self.ctx).map_err(|e| self.error(self.pos_of(at), e))
    }

    pub(super) fn template(
        &self,
        template: &Template,
        whole: &Expression,
    ) -> Result<hcl::Value, ParseError> {
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
                    return self.evaluate(hcl::Expression::from(whole.clone()), whole);
                }
            }
        }
        Ok(hcl::Value::String(out))
    }

    pub(super) fn interpolated_text(
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
    pub(super) fn check_defined(
        &self,
        traversal: &hcl::edit::expr::Traversal,
    ) -> Result<(), ParseError> {
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
    pub(super) fn is_runtime_reference(&self, expr: &Expression) -> bool {
        match expr {
            Expression::Variable(ident) => {
                !EVALUATED_ROOTS.contains(&ident.as_str())
                    && !self.iterators.iter().any(|it| it == ident.as_str())
            }
            Expression::Traversal(traversal) => self.is_runtime_reference(&traversal.expr),
            _ => false,
        }
    }

    /// The expression as written in the source (trimmed), or re-formatted when the parser
    /// kept no span.
    pub(super) fn source_text(&self, expr: &Expression) -> String {
        expr.span()
            .and_then(|span| self.source.get(span))
            .map(|text| text.trim().to_string())
            .unwrap_or_else(|| {
                hcl::format::to_string(&hcl::Expression::from(expr.clone())).unwrap_or_default()
            })
    }
}

pub(super) fn kind_name(value: &hcl::Value) -> &'static str {
    match value {
        hcl::Value::Null => "null",
        hcl::Value::Bool(_) => "a bool",
        hcl::Value::Number(_) => "a number",
        hcl::Value::String(_) => "a string",
        hcl::Value::Array(_) => "a list",
        hcl::Value::Object(_) => "an object",
    }
}

/// hcl-rs evaluation. Its arithmetic panics on some inputs (`x % 0` divides by zero in
/// hcl-primitives); a job file must get an error and never take the agent's request down,
/// so a panic there becomes an error message.
pub(super) fn evaluate_guarded(
    expr: hcl::Expression,
    ctx: &hcl::eval::Context<'_>,
) -> Result<hcl::Value, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| expr.evaluate(ctx))) {
        // hcl-rs quotes the whole evaluated expression, which may be a megabyte of text.
        Ok(result) => result.map_err(|e| shorten(e.to_string())),
        Err(_) => Err(
            "this expression cannot be evaluated (a division or remainder by zero?)".to_string(),
        ),
    }
}

/// An error message cut to a readable length.
fn shorten(mut message: String) -> String {
    const MAX: usize = 400;
    if message.len() > MAX {
        let mut end = MAX;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("…`");
    }
    message
}
