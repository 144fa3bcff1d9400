//! Intrinsic functions (`States.Format(…)` and friends) in JSONPath payload templates.
mod functions;

use serde_json::Value;

use crate::error::Fault;
use crate::path::{Path, Scope};

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Literal(Value),
    Path(std::rc::Rc<Path>),
    Call(Call),
}

#[derive(Debug, Clone, PartialEq)]
struct Call {
    name: String,
    args: Vec<Arg>,
}

pub fn is_intrinsic(expr: &str) -> bool {
    expr.starts_with("States.")
}

/// Parses and evaluates one intrinsic call against `scope`.
pub fn evaluate(expr: &str, scope: &Scope) -> Result<Value, Fault> {
    let mut parser = Parser {
        chars: expr.chars().collect(),
        pos: 0,
        text: expr,
    };
    let call = parser.call()?;
    parser.skip_ws();
    if parser.pos != parser.chars.len() {
        return Err(parser.error("unexpected text after the closing parenthesis"));
    }
    eval_call(&call, scope)
}

fn eval_call(call: &Call, scope: &Scope) -> Result<Value, Fault> {
    let args = call
        .args
        .iter()
        .map(|a| match a {
            Arg::Literal(v) => Ok(v.clone()),
            Arg::Path(p) => p.select(scope),
            Arg::Call(c) => eval_call(c, scope),
        })
        .collect::<Result<Vec<_>, _>>()?;
    functions::apply(&call.name, args)
}

struct Parser<'t> {
    chars: Vec<char>,
    pos: usize,
    text: &'t str,
}

impl Parser<'_> {
    fn error(&self, why: &str) -> Fault {
        Fault::intrinsic(format!("Invalid intrinsic function '{}': {why}", self.text))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn call(&mut self) -> Result<Call, Fault> {
        self.skip_ws();
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_alphanumeric() || c == '.') {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(self.error("expected '('"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
            return Ok(Call { name, args });
        }
        loop {
            args.push(self.arg()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok(Call { name, args });
                }
                _ => return Err(self.error("expected ',' or ')'")),
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, Fault> {
        self.skip_ws();
        match self.peek() {
            Some('\'') => self.string().map(|s| Arg::Literal(Value::String(s))),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(_) if self.rest_starts_with("States.") => self.call().map(Arg::Call),
            Some(_) => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self.rest_starts_with(word) {
                        self.pos += word.len();
                        return Ok(Arg::Literal(value));
                    }
                }
                Err(self.error("unknown argument"))
            }
            None => Err(self.error("missing argument")),
        }
    }

    fn rest_starts_with(&self, word: &str) -> bool {
        let rest: String = self.chars[self.pos..].iter().take(word.len()).collect();
        rest == word
    }

    fn string(&mut self) -> Result<String, Fault> {
        self.pos += 1;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                '\\' => {
                    // Escapes keep braces literal for States.Format, so `\{` stays as typed.
                    match self.peek() {
                        Some(n @ ('{' | '}')) => {
                            out.push('\\');
                            out.push(n);
                            self.pos += 1;
                        }
                        Some(n) => {
                            out.push(n);
                            self.pos += 1;
                        }
                        None => break,
                    }
                }
                '\'' => return Ok(out),
                c => out.push(c),
            }
        }
        Err(self.error("unterminated string"))
    }

    fn number(&mut self) -> Result<Arg, Fault> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_digit() || "+-.eE".contains(c)) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        serde_json::from_str::<serde_json::Number>(&text)
            .map(|n| Arg::Literal(Value::Number(n)))
            .map_err(|_| self.error(&format!("bad number '{text}'")))
    }

    fn path(&mut self) -> Result<Arg, Fault> {
        let start = self.pos;
        let mut depth = 0i32;
        let mut quote = false;
        while let Some(c) = self.peek() {
            match c {
                '\'' => quote = !quote,
                '[' | '(' if !quote => depth += 1,
                ']' if !quote => depth -= 1,
                ')' if !quote && depth == 0 => break,
                ')' if !quote => depth -= 1,
                ',' if !quote && depth == 0 => break,
                c if c.is_whitespace() && !quote && depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        Path::parse(&text).map(Arg::Path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    fn run(expr: &str, input: Value) -> Result<Value, Fault> {
        let vars = Map::new();
        let ctx = || json!({});
        evaluate(expr, &Scope::new(&input, &vars, &ctx))
    }

    #[test]
    fn format_renders_objects_the_way_java_prints_maps() {
        let out = run(
            "States.Format('x={}', $.o)",
            json!({"o": {"A": 1, "B": []}}),
        )
        .unwrap();
        assert_eq!(out, json!("x={A=1, B=[]}"));
    }

    #[test]
    fn nested_calls_and_literals_evaluate_inside_out() {
        let out = run(
            "States.ArrayLength(States.Array(1, 'a', null, true))",
            json!({}),
        )
        .unwrap();
        assert_eq!(out, json!(4));
    }

    #[test]
    fn string_split_drops_empty_tokens() {
        let out = run("States.StringSplit('a,,b,', ',')", json!({})).unwrap();
        assert_eq!(out, json!(["a", "b"]));
    }

    #[test]
    fn math_add_rounds_its_arguments() {
        assert_eq!(run("States.MathAdd(1.51, 0)", json!({})).unwrap(), json!(2));
        assert_eq!(run("States.MathAdd(1.49, 0)", json!({})).unwrap(), json!(1));
    }

    #[test]
    fn escaped_braces_are_not_placeholders() {
        let out = run("States.Format('\\{{}\\}', 1)", json!({})).unwrap();
        assert_eq!(out, json!("{1}"));
    }
}
