use base64::Engine;
use md5::Md5;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Number, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::error::Fault;
use crate::value::{json_eq, type_name};

pub(super) fn apply(name: &str, args: Vec<Value>) -> Result<Value, Fault> {
    let short = name.strip_prefix("States.").unwrap_or(name);
    let f = Args { name, args };
    match short {
        "Format" => f.format(),
        "StringToJson" => f.string_to_json(),
        "JsonToString" => f.exactly(1).map(|a| Value::String(a[0].to_string())),
        "Array" => Ok(Value::Array(f.args)),
        "ArrayPartition" => f.array_partition(),
        "ArrayContains" => f.array_contains(),
        "ArrayRange" => f.array_range(),
        "ArrayGetItem" => f.array_get_item(),
        "ArrayLength" => f.array(0).map(|a| Value::from(a.len())),
        "ArrayUnique" => f.array_unique(),
        "Base64Encode" => f.base64_encode(),
        "Base64Decode" => f.base64_decode(),
        "Hash" => f.hash(),
        "JsonMerge" => f.json_merge(),
        "MathRandom" => f.math_random(),
        "MathAdd" => f.math_add(),
        "StringSplit" => f.string_split(),
        "UUID" => f
            .exactly(0)
            .map(|_| Value::String(uuid::Uuid::new_v4().to_string())),
        _ => Err(Fault::intrinsic(format!(
            "Unknown intrinsic function '{name}'"
        ))),
    }
}

struct Args<'n> {
    name: &'n str,
    args: Vec<Value>,
}

impl Args<'_> {
    fn fail(&self, why: impl std::fmt::Display) -> Fault {
        Fault::intrinsic(format!("{}: {why}", self.name))
    }

    fn exactly(&self, n: usize) -> Result<&[Value], Fault> {
        if self.args.len() == n {
            Ok(&self.args)
        } else {
            Err(self.fail(format!("expected {n} argument(s), got {}", self.args.len())))
        }
    }

    fn arg(&self, i: usize) -> Result<&Value, Fault> {
        self.args
            .get(i)
            .ok_or_else(|| self.fail(format!("missing argument {}", i + 1)))
    }

    /// Argument `i` as `kind` (read by `as_kind`), or a fault saying what it was instead.
    fn typed<'v, T>(
        &'v self,
        i: usize,
        kind: &str,
        as_kind: impl FnOnce(&'v Value) -> Option<T>,
    ) -> Result<T, Fault> {
        let v = self.arg(i)?;
        as_kind(v).ok_or_else(|| {
            self.fail(format!(
                "argument {} must be {kind}, got {}",
                i + 1,
                type_name(v)
            ))
        })
    }

    fn string(&self, i: usize) -> Result<&str, Fault> {
        self.typed(i, "a string", Value::as_str)
    }

    fn array(&self, i: usize) -> Result<&Vec<Value>, Fault> {
        self.typed(i, "an array", Value::as_array)
    }

    fn number(&self, i: usize) -> Result<f64, Fault> {
        self.typed(i, "a number", Value::as_f64)
    }

    fn integer(&self, i: usize) -> Result<i64, Fault> {
        let v = self.arg(i)?;
        match v {
            Value::Number(n) if n.is_i64() => Ok(n.as_i64().expect("i64")),
            Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                Ok(n.as_f64().expect("f64") as i64)
            }
            _ => Err(self.fail(format!("argument {} must be an integer, got {v}", i + 1))),
        }
    }

    fn format(&self) -> Result<Value, Fault> {
        let template = self.string(0)?;
        let mut values = self.args[1..].iter();
        let mut out = String::new();
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(n) => out.push(n),
                    None => out.push('\\'),
                },
                '{' if chars.peek() == Some(&'}') => {
                    chars.next();
                    let v = values
                        .next()
                        .ok_or_else(|| self.fail("more placeholders than arguments"))?;
                    out.push_str(&java_string(v));
                }
                c => out.push(c),
            }
        }
        if values.next().is_some() {
            return Err(self.fail("more arguments than placeholders"));
        }
        Ok(Value::String(out))
    }

    fn string_to_json(&self) -> Result<Value, Fault> {
        self.exactly(1)?;
        let text = self.string(0)?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        let parsed: Value =
            serde_json::from_str(text).map_err(|e| self.fail(format!("invalid JSON: {e}")))?;
        Ok(normalize_negative_zero(parsed))
    }

    fn array_partition(&self) -> Result<Value, Fault> {
        self.exactly(2)?;
        let items = self.array(0)?;
        let size = self.integer(1)?;
        if size <= 0 {
            return Err(self.fail("chunk size must be greater than 0"));
        }
        Ok(Value::Array(
            items
                .chunks(size as usize)
                .map(|c| Value::Array(c.to_vec()))
                .collect(),
        ))
    }

    fn array_contains(&self) -> Result<Value, Fault> {
        self.exactly(2)?;
        let items = self.array(0)?;
        let needle = self.arg(1)?;
        Ok(Value::Bool(items.iter().any(|x| json_eq(x, needle))))
    }

    fn array_range(&self) -> Result<Value, Fault> {
        self.exactly(3)?;
        let (start, end, step) = (self.integer(0)?, self.integer(1)?, self.integer(2)?);
        if step == 0 {
            return Err(self.fail("step must not be 0"));
        }
        let mut out = Vec::new();
        let mut i = start;
        while (step > 0 && i <= end) || (step < 0 && i >= end) {
            out.push(Value::from(i));
            if out.len() > 1000 {
                return Err(self.fail("the range exceeds 1000 elements"));
            }
            i += step;
        }
        Ok(Value::Array(out))
    }

    fn array_get_item(&self) -> Result<Value, Fault> {
        self.exactly(2)?;
        let items = self.array(0)?;
        let i = self.integer(1)?;
        usize::try_from(i)
            .ok()
            .and_then(|i| items.get(i))
            .cloned()
            .ok_or_else(|| {
                self.fail(format!(
                    "index {i} out of bounds for length {}",
                    items.len()
                ))
            })
    }

    fn array_unique(&self) -> Result<Value, Fault> {
        self.exactly(1)?;
        let mut out: Vec<Value> = Vec::new();
        for x in self.array(0)? {
            if !out.iter().any(|y| json_eq(x, y)) {
                out.push(x.clone());
            }
        }
        Ok(Value::Array(out))
    }

    fn base64_encode(&self) -> Result<Value, Fault> {
        self.exactly(1)?;
        let s = self.string(0)?;
        Ok(Value::String(
            base64::engine::general_purpose::STANDARD.encode(s),
        ))
    }

    fn base64_decode(&self) -> Result<Value, Fault> {
        self.exactly(1)?;
        let s = self.string(0)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| self.fail(format!("invalid base64: {e}")))?;
        String::from_utf8(bytes)
            .map(Value::String)
            .map_err(|_| self.fail("decoded data is not UTF-8"))
    }

    fn hash(&self) -> Result<Value, Fault> {
        self.exactly(2)?;
        let data = match self.arg(0)? {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let algorithm = self.string(1)?;
        let digest = match algorithm {
            "MD5" => hex(Md5::digest(data.as_bytes()).as_slice()),
            "SHA-1" => hex(Sha1::digest(data.as_bytes()).as_slice()),
            "SHA-256" => hex(Sha256::digest(data.as_bytes()).as_slice()),
            "SHA-384" => hex(Sha384::digest(data.as_bytes()).as_slice()),
            "SHA-512" => hex(Sha512::digest(data.as_bytes()).as_slice()),
            other => return Err(self.fail(format!("unsupported hash algorithm '{other}'"))),
        };
        Ok(Value::String(digest))
    }

    fn json_merge(&self) -> Result<Value, Fault> {
        self.exactly(3)?;
        let (a, b) = match (self.arg(0)?, self.arg(1)?) {
            (Value::Object(a), Value::Object(b)) => (a, b),
            _ => return Err(self.fail("both arguments must be objects")),
        };
        if self.arg(2)? != &Value::Bool(false) {
            return Err(self.fail("only shallow merges (false) are supported"));
        }
        let mut out: Map<String, Value> = a.clone();
        for (k, v) in b {
            out.insert(k.clone(), v.clone());
        }
        Ok(Value::Object(out))
    }

    fn math_random(&self) -> Result<Value, Fault> {
        if !(2..=3).contains(&self.args.len()) {
            return Err(self.fail("expected 2 or 3 arguments"));
        }
        let (start, end) = (self.integer(0)?, self.integer(1)?);
        if start >= end {
            return Err(self.fail("start must be less than end"));
        }
        let n = match self.args.get(2) {
            Some(_) => {
                rand::rngs::StdRng::seed_from_u64(self.integer(2)? as u64).gen_range(start..end)
            }
            None => rand::thread_rng().gen_range(start..end),
        };
        Ok(Value::from(n))
    }

    fn math_add(&self) -> Result<Value, Fault> {
        self.exactly(2)?;
        let sum = self.number(0)?.round() + self.number(1)?.round();
        Ok(Value::from(sum as i64))
    }

    fn string_split(&self) -> Result<Value, Fault> {
        self.exactly(2)?;
        let s = self.string(0)?;
        let delimiters: Vec<char> = self.string(1)?.chars().collect();
        Ok(Value::Array(
            s.split(|c| delimiters.contains(&c))
                .filter(|t| !t.is_empty())
                .map(|t| Value::String(t.to_string()))
                .collect(),
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `-0` parses to an integer zero on AWS.
fn normalize_negative_zero(v: Value) -> Value {
    match v {
        Value::Number(n) if n.as_f64() == Some(0.0) && n.is_f64() => Value::Number(Number::from(0)),
        Value::Number(n) if n.as_i64() == Some(0) => Value::Number(Number::from(0)),
        other => other,
    }
}

/// How AWS's Java runtime prints a value into a States.Format placeholder.
fn java_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(java_string).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{k}={}", java_string(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}
