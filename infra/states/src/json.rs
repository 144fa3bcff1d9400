//! Compact JSON text for history details, byte-for-byte what `serde_json::to_string` writes for
//! a `Value`, but straight into a `String` (no UTF-8 re-validation).
use serde_json::Value;

pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            if let Some(i) = n.as_u64() {
                write_u64(out, i);
            } else if let Some(i) = n.as_i64() {
                out.push('-');
                write_u64(out, i.unsigned_abs());
            } else {
                out.push_str(&serde_json::to_string(n).expect("numbers serialise"));
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal with serde_json's escapes.
pub fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(offset) = bytes[start..].iter().position(|&b| ESCAPE[b as usize] != 0) {
        let i = start + offset;
        out.push_str(&s[start..i]);
        let b = bytes[i];
        match ESCAPE[b as usize] {
            b'u' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
            e => {
                out.push('\\');
                out.push(e as char);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// For each byte, the character after the backslash of its escape (`u` for `\u00XX`), or 0.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// An unsigned integer in decimal, without the formatting machinery.
fn write_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[at..] {
        out.push(d as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(v: &Value) -> String {
        let mut out = String::new();
        write_value(&mut out, v);
        out
    }

    #[test]
    fn matches_serde_json() {
        let mut all: String = (0u32..0x80).filter_map(char::from_u32).collect();
        all.push_str("é€😀\u{7f}\u{80}\u{2028}");
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-17),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1.5),
            json!(1e300),
            json!(-0.0),
            json!(0.1),
            json!(12345678901234567890.0),
            json!(""),
            json!(all),
            json!("a\"b\\c\nd\u{1}e\u{1f}fghijklmnopqrstuvwxyz\"\"\"\"\"\"\"\"\"x"),
            json!({"b": [1, {"x": null}], "a": "q", "é": {}, "": []}),
            json!([[], {}, [1, 2.25, "x"]]),
        ];
        for v in values {
            assert_eq!(text(&v), serde_json::to_string(&v).unwrap(), "{v:?}");
        }
        for len in 0..40 {
            for pos in 0..len {
                for special in ['"', '\\', '\n', '\u{0}', '\u{1f}', 'é', '\u{7f}'] {
                    let mut s: String = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"[..len].into();
                    s.insert(pos, special);
                    let v = Value::String(s);
                    assert_eq!(text(&v), serde_json::to_string(&v).unwrap());
                }
            }
        }
    }
}
