//! JSONPath as Step Functions uses it: reference paths (`$.a.b[0]`), the context object (`$$`),
//! variables (`$name`), and the wider query syntax (wildcards, slices, unions, `..`, filters)
//! whose results are always lists. Member names follow Jayway, AWS's library, which accepts
//! characters such as `-` that RFC 9535 shorthand rejects, so parsing is done here; filter
//! expressions are delegated to `serde_json_path`.
use std::cell::OnceCell;
use std::fmt::Write;
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::error::Fault;

#[derive(Debug, Clone, PartialEq)]
pub enum Root {
    Input,
    Context,
    Variable(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Field(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Fields(Vec<String>),
    Indexes(Vec<i64>),
    Descend(Box<Segment>),
    Filter(String),
}

impl Segment {
    fn is_definite(&self) -> bool {
        matches!(self, Segment::Field(_) | Segment::Index(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    text: String,
    root: Root,
    segments: Vec<Segment>,
}

/// Builds one named top-level member of the context object, if it has that member.
pub type MakePart<'a> = dyn Fn(&str) -> Option<Value> + 'a;

/// What a path evaluates against: the effective input, the context object (built only when a
/// `$$` path asks for it) and the variables in scope.
pub struct Scope<'a> {
    pub input: &'a Value,
    pub vars: &'a Map<String, Value>,
    context: OnceCell<Value>,
    make_context: &'a dyn Fn() -> Value,
    /// Builds one top-level member of the context object (see `context::PARTS`), when the
    /// caller can; then a `$$.Member…` lookup builds only that member.
    make_part: Option<&'a MakePart<'a>>,
    parts: [OnceCell<Option<Value>>; 5],
}

impl<'a> Scope<'a> {
    pub fn new(
        input: &'a Value,
        vars: &'a Map<String, Value>,
        make_context: &'a dyn Fn() -> Value,
    ) -> Self {
        Scope {
            input,
            vars,
            context: OnceCell::new(),
            make_context,
            make_part: None,
            parts: Default::default(),
        }
    }

    /// Lets `$$.Member…` lookups build just that member of the context object.
    pub fn with_parts(mut self, make_part: &'a MakePart<'a>) -> Self {
        self.make_part = Some(make_part);
        self
    }

    pub fn with_input<'b>(&'b self, input: &'b Value) -> Scope<'b> {
        let context = OnceCell::new();
        if let Some(c) = self.context.get() {
            let _ = context.set(c.clone());
        }
        Scope {
            input,
            vars: self.vars,
            context,
            make_context: self.make_context,
            make_part: self.make_part,
            parts: self.parts.clone(),
        }
    }

    /// The context object's top-level member `name`, built alone unless the whole object
    /// already exists; `None` when the context object has no such member.
    fn context_member(&self, name: &str) -> Option<&Value> {
        if let Some(full) = self.context.get() {
            return full.get(name);
        }
        let (Some(make), Some(i)) = (
            self.make_part,
            crate::context::PARTS.iter().position(|p| *p == name),
        ) else {
            return self.context().get(name);
        };
        self.parts[i].get_or_init(|| make(name)).as_ref()
    }

    pub fn context(&self) -> &Value {
        self.context.get_or_init(|| (self.make_context)())
    }
}

thread_local! {
    /// Definitions repeat the same few paths on every transition; parse each once per thread.
    static PARSED: std::cell::RefCell<std::collections::HashMap<String, Rc<Path>>> = Default::default();
}

impl Path {
    pub fn parse(text: &str) -> Result<Rc<Path>, Fault> {
        if let Some(p) = PARSED.with(|c| c.borrow().get(text).cloned()) {
            return Ok(p);
        }
        let parsed = Rc::new(Parser::new(text).parse()?);
        PARSED.with(|c| {
            let mut cache = c.borrow_mut();
            if cache.len() > 4096 {
                cache.clear();
            }
            cache.insert(text.to_string(), parsed.clone());
        });
        Ok(parsed)
    }

    /// Parses without the per-thread cache, for forms compiled once and kept with the definition.
    pub fn compile(text: &str) -> Result<Path, Fault> {
        Parser::new(text).parse()
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// A definite path names at most one value; any other path yields a list.
    pub fn is_definite(&self) -> bool {
        self.segments.iter().all(Segment::is_definite)
    }

    pub fn is_plain_input(&self) -> bool {
        self.root == Root::Input && self.segments.is_empty()
    }

    fn root_value<'v>(&self, scope: &'v Scope) -> Result<&'v Value, Fault> {
        match &self.root {
            Root::Input => Ok(scope.input),
            Root::Context => Ok(scope.context()),
            Root::Variable(name) => scope.vars.get(name).ok_or_else(|| {
                Fault::runtime(format!(
                    "Invalid path '{}': The variable '${name}' is not defined.",
                    self.text
                ))
            }),
        }
    }

    /// Definite paths: the value, or `None` when it does not exist.
    pub fn find<'v>(&self, scope: &'v Scope) -> Result<Option<&'v Value>, Fault> {
        let (mut current, segments) = match (&self.root, self.segments.first()) {
            (Root::Context, Some(Segment::Field(name))) => match scope.context_member(name) {
                Some(v) => (v, &self.segments[1..]),
                None => return Ok(None),
            },
            _ => (self.root_value(scope)?, &self.segments[..]),
        };
        for seg in segments {
            let next = match (seg, current) {
                (Segment::Field(name), Value::Object(map)) => map.get(name),
                (Segment::Index(i), Value::Array(items)) => index(items, *i),
                _ => None,
            };
            match next {
                Some(v) => current = v,
                None => return Ok(None),
            }
        }
        Ok(Some(current))
    }

    /// Evaluates the path the way Parameters and InputPath do: a definite path must exist, any
    /// other path returns the (possibly empty) list of matches.
    pub fn select(&self, scope: &Scope) -> Result<Value, Fault> {
        if self.is_definite() {
            return match self.find(scope)? {
                Some(v) => Ok(v.clone()),
                None => Err(self.no_results()),
            };
        }
        self.select_many(scope).map(Value::Array)
    }

    pub fn select_many(&self, scope: &Scope) -> Result<Vec<Value>, Fault> {
        let mut current: Vec<&Value> = vec![self.root_value(scope)?];
        for seg in &self.segments {
            let mut next = Vec::new();
            for v in current {
                apply(seg, v, &mut next)?;
            }
            current = next;
        }
        Ok(current.into_iter().cloned().collect())
    }

    pub fn no_results(&self) -> Fault {
        Fault::runtime(format!(
            "Invalid path '{}' : No results for path: {}",
            self.text,
            self.normalized()
        ))
    }

    /// Jayway's normalised form, which AWS quotes in its error causes.
    pub fn normalized(&self) -> String {
        let mut out = match &self.root {
            Root::Input => "$".to_string(),
            Root::Context => "$$".to_string(),
            Root::Variable(n) => format!("${n}"),
        };
        for seg in &self.segments {
            match seg {
                Segment::Field(f) => {
                    let _ = write!(out, "['{f}']");
                }
                Segment::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
                Segment::Wildcard => out.push_str("[*]"),
                Segment::Slice(a, b, _) => {
                    let show = |x: &Option<i64>| x.map(|v| v.to_string()).unwrap_or_default();
                    let _ = write!(out, "[{}:{}]", show(a), show(b));
                }
                Segment::Fields(fs) => {
                    let quoted: Vec<String> = fs.iter().map(|f| format!("'{f}'")).collect();
                    let _ = write!(out, "[{}]", quoted.join(","));
                }
                Segment::Indexes(is) => {
                    let shown: Vec<String> = is.iter().map(|i| i.to_string()).collect();
                    let _ = write!(out, "[{}]", shown.join(","));
                }
                Segment::Descend(inner) => {
                    let _ = write!(out, "..{inner:?}");
                }
                Segment::Filter(f) => {
                    let _ = write!(out, "[{f}]");
                }
            }
        }
        out
    }

    /// ResultPath semantics: writes `value` into `target` at this path, creating objects on the
    /// way. Only definite input paths are allowed.
    pub fn assign(&self, target: Value, value: Value) -> Result<Value, Fault> {
        if self.root != Root::Input || !self.is_definite() {
            return Err(Fault::runtime(format!(
                "Invalid ResultPath '{}': only definite paths into the state input are allowed",
                self.text
            )));
        }
        if self.segments.is_empty() {
            return Ok(value);
        }
        let mut target = target;
        set_at(&mut target, &self.segments, value, &self.text)?;
        Ok(target)
    }
}

fn set_at(node: &mut Value, segs: &[Segment], value: Value, text: &str) -> Result<(), Fault> {
    let (first, rest) = segs.split_first().expect("non-empty");
    match first {
        Segment::Field(name) => {
            if !node.is_object() {
                return Err(Fault::runtime(format!(
                    "Unable to apply ResultPath '{text}' to input: {node} is not an object"
                )));
            }
            let map = node.as_object_mut().expect("object");
            if rest.is_empty() {
                map.insert(name.clone(), value);
                return Ok(());
            }
            let child = map
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() && !child.is_array() {
                *child = Value::Object(Map::new());
            }
            set_at(child, rest, value, text)
        }
        Segment::Index(i) => {
            let len = node.as_array().map(Vec::len).unwrap_or(0) as i64;
            let at = if *i < 0 { len + i } else { *i };
            match node.as_array_mut() {
                Some(items) if at >= 0 && (at as usize) < items.len() => {
                    if rest.is_empty() {
                        items[at as usize] = value;
                        Ok(())
                    } else {
                        set_at(&mut items[at as usize], rest, value, text)
                    }
                }
                _ => Err(Fault::runtime(format!(
                    "Unable to apply ResultPath '{text}': index {i} does not exist"
                ))),
            }
        }
        _ => unreachable!("assign checks definiteness"),
    }
}

fn index(items: &[Value], i: i64) -> Option<&Value> {
    let at = if i < 0 { items.len() as i64 + i } else { i };
    if at < 0 {
        None
    } else {
        items.get(at as usize)
    }
}

fn apply<'v>(seg: &Segment, v: &'v Value, out: &mut Vec<&'v Value>) -> Result<(), Fault> {
    match seg {
        Segment::Field(name) => {
            if let Some(x) = v.as_object().and_then(|m| m.get(name)) {
                out.push(x);
            }
        }
        Segment::Index(i) => {
            if let Some(x) = v.as_array().and_then(|a| index(a, *i)) {
                out.push(x);
            }
        }
        Segment::Wildcard => match v {
            Value::Array(items) => out.extend(items.iter()),
            Value::Object(map) => out.extend(map.values()),
            _ => {}
        },
        Segment::Fields(names) => {
            if let Some(map) = v.as_object() {
                out.extend(names.iter().filter_map(|n| map.get(n)));
            }
        }
        Segment::Indexes(is) => {
            if let Some(items) = v.as_array() {
                out.extend(is.iter().filter_map(|i| index(items, *i)));
            }
        }
        Segment::Slice(start, end, step) => {
            if let Some(items) = v.as_array() {
                let len = items.len() as i64;
                let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let step = step.unwrap_or(1);
                if step > 0 {
                    let (a, b) = (norm(start.unwrap_or(0)), norm(end.unwrap_or(len)));
                    let mut i = a;
                    while i < b {
                        out.push(&items[i as usize]);
                        i += step;
                    }
                }
            }
        }
        Segment::Descend(inner) => descend(inner, v, out)?,
        Segment::Filter(expr) => filter(expr, v, out)?,
    }
    Ok(())
}

fn descend<'v>(inner: &Segment, v: &'v Value, out: &mut Vec<&'v Value>) -> Result<(), Fault> {
    apply(inner, v, out)?;
    match v {
        Value::Array(items) => {
            for x in items {
                descend(inner, x, out)?;
            }
        }
        Value::Object(map) => {
            for x in map.values() {
                descend(inner, x, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn filter<'v>(expr: &str, v: &'v Value, out: &mut Vec<&'v Value>) -> Result<(), Fault> {
    let query = serde_json_path::JsonPath::parse(&format!("$[{expr}]"))
        .map_err(|e| Fault::runtime(format!("Invalid filter expression '[{expr}]': {e}")))?;
    let children: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => map.values().collect(),
        _ => return Ok(()),
    };
    let matched = query.query(v).all();
    // Keep references into `v` by identity, in document order.
    for child in children {
        if matched.iter().any(|m| std::ptr::eq(*m, child)) {
            out.push(child);
        }
    }
    Ok(())
}

struct Parser<'t> {
    text: &'t str,
    chars: Vec<char>,
    pos: usize,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Self {
        Parser {
            text,
            chars: text.chars().collect(),
            pos: 0,
        }
    }

    fn error(&self, why: &str) -> Fault {
        Fault::runtime(format!("Invalid JSONPath '{}': {why}", self.text))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn parse(mut self) -> Result<Path, Fault> {
        if self.peek() != Some('$') {
            return Err(self.error("a path starts with '$'"));
        }
        self.pos += 1;
        let root = match self.peek() {
            Some('$') => {
                self.pos += 1;
                Root::Context
            }
            Some(c) if c != '.' && c != '[' => {
                let name = self.name();
                if name.is_empty() {
                    return Err(self.error("empty variable name"));
                }
                Root::Variable(name)
            }
            _ => Root::Input,
        };
        let mut segments = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '.' => {
                    self.pos += 1;
                    if self.peek() == Some('.') {
                        self.pos += 1;
                        let inner = if self.peek() == Some('[') {
                            self.bracket()?
                        } else if self.peek() == Some('*') {
                            self.pos += 1;
                            Segment::Wildcard
                        } else {
                            Segment::Field(self.name())
                        };
                        segments.push(Segment::Descend(Box::new(inner)));
                    } else if self.peek() == Some('*') {
                        self.pos += 1;
                        segments.push(Segment::Wildcard);
                    } else {
                        let name = self.name();
                        if name.is_empty() {
                            return Err(self.error("empty member name"));
                        }
                        segments.push(Segment::Field(name));
                    }
                }
                '[' => segments.push(self.bracket()?),
                _ => return Err(self.error(&format!("unexpected '{c}'"))),
            }
        }
        Ok(Path {
            text: self.text.to_string(),
            root,
            segments,
        })
    }

    fn name(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == '.' || c == '[' {
                break;
            }
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn bracket(&mut self) -> Result<Segment, Fault> {
        self.pos += 1; // '['
        let start = self.pos;
        if self.peek() == Some('?') {
            let mut depth = 0i32;
            let mut quote: Option<char> = None;
            while let Some(c) = self.peek() {
                match (quote, c) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), _) => {}
                    (None, '\'' | '"') => quote = Some(c),
                    (None, '(' | '[') => depth += 1,
                    (None, ')') => depth -= 1,
                    (None, ']') if depth == 0 => break,
                    (None, ']') => depth -= 1,
                    _ => {}
                }
                self.pos += 1;
            }
            let expr: String = self.chars[start..self.pos].iter().collect();
            self.expect(']')?;
            return Ok(Segment::Filter(expr));
        }
        if matches!(self.peek(), Some('\'' | '"')) {
            let mut names = vec![self.quoted()?];
            while self.peek() == Some(',') {
                self.pos += 1;
                self.skip_spaces();
                names.push(self.quoted()?);
            }
            self.expect(']')?;
            return Ok(if names.len() == 1 {
                Segment::Field(names.pop().expect("one"))
            } else {
                Segment::Fields(names)
            });
        }
        while let Some(c) = self.peek() {
            if c == ']' {
                break;
            }
            self.pos += 1;
        }
        let body: String = self.chars[start..self.pos].iter().collect();
        self.expect(']')?;
        let body = body.trim();
        if body == "*" {
            return Ok(Segment::Wildcard);
        }
        let num = |s: &str| -> Result<Option<i64>, Fault> {
            let s = s.trim();
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse()
                    .map(Some)
                    .map_err(|_| self.error(&format!("bad index '{s}'")))
            }
        };
        if body.contains(':') {
            let parts: Vec<&str> = body.split(':').collect();
            return Ok(Segment::Slice(
                num(parts[0])?,
                num(parts.get(1).copied().unwrap_or(""))?,
                num(parts.get(2).copied().unwrap_or(""))?,
            ));
        }
        if body.contains(',') {
            let idx = body
                .split(',')
                .map(|p| num(p).map(|n| n.unwrap_or(0)))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Segment::Indexes(idx));
        }
        match num(body)? {
            Some(i) => Ok(Segment::Index(i)),
            None => Err(self.error("empty brackets")),
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(' ') {
            self.pos += 1;
        }
    }

    fn quoted(&mut self) -> Result<String, Fault> {
        let q = self.peek().ok_or_else(|| self.error("unterminated"))?;
        self.pos += 1;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == '\\' {
                if let Some(n) = self.peek() {
                    out.push(n);
                    self.pos += 1;
                }
            } else if c == q {
                return Ok(out);
            } else {
                out.push(c);
            }
        }
        Err(self.error("unterminated quoted name"))
    }

    fn expect(&mut self, c: char) -> Result<(), Fault> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{c}'")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(path: &str, input: Value) -> Result<Value, Fault> {
        let vars = Map::new();
        let ctx = || json!({"Execution": {"Name": "x"}});
        let scope = Scope::new(&input, &vars, &ctx);
        Path::parse(path)?.select(&scope)
    }

    #[test]
    fn member_names_may_contain_dashes() {
        assert_eq!(
            eval("$.delivery-partner", json!({"delivery-partner": 1})).unwrap(),
            json!(1)
        );
    }

    #[test]
    fn wildcard_on_missing_data_is_an_empty_list() {
        assert_eq!(eval("$.items[*].v", json!({})).unwrap(), json!([]));
        assert_eq!(eval("$.items[1:]", json!({})).unwrap(), json!([]));
    }

    #[test]
    fn missing_definite_path_names_the_normalised_path() {
        let err = eval("$.a.b", json!({})).unwrap_err();
        assert!(
            err.message.ends_with("No results for path: $['a']['b']"),
            "{}",
            err.message
        );
    }

    #[test]
    fn filters_select_matching_elements() {
        let out = eval(
            "$.xs[?(@.n > 1)].n",
            json!({"xs": [{"n": 1}, {"n": 2}, {"n": 3}]}),
        )
        .unwrap();
        assert_eq!(out, json!([2, 3]));
    }

    #[test]
    fn context_paths_read_the_context_object() {
        assert_eq!(eval("$$.Execution.Name", json!({})).unwrap(), json!("x"));
    }

    #[test]
    fn result_path_creates_missing_objects() {
        let p = Path::parse("$.a.b").unwrap();
        assert_eq!(
            p.assign(json!({"x": 1}), json!(2)).unwrap(),
            json!({"x": 1, "a": {"b": 2}})
        );
    }
}
