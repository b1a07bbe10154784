//! JSON text exactly as Go's `encoding/json.Marshal` writes it, so that files we
//! write into the buildx store are byte-for-byte what `docker buildx` would
//! write for the same data: no whitespace, struct fields in declaration order,
//! map keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped, `[]byte` as
//! standard base64 with padding, nil slices and maps as `null`.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

/// Appends `s` as a Go-encoded JSON string (with HTML escaping, Go's default).
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Go 1.22+ writes these two short forms.
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends an optional list of strings (`None` is Go's nil slice: `null`).
pub fn string_list(out: &mut String, list: Option<&[String]>) {
    match list {
        None => out.push_str("null"),
        Some(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, item);
            }
            out.push(']');
        }
    }
}

/// Appends an optional `map[string]string`.
pub fn string_map(out: &mut String, map: Option<&BTreeMap<String, String>>) {
    go_map(out, map, |out, v| string(out, v));
}

/// Appends an optional `map[string][]byte` (values base64, standard alphabet).
pub fn bytes_map(out: &mut String, map: Option<&BTreeMap<String, Vec<u8>>>) {
    go_map(out, map, |out, v| {
        string(out, &base64::engine::general_purpose::STANDARD.encode(v))
    });
}

/// Appends a Go map with string keys (`null` when nil; keys sorted, as
/// `encoding/json` writes them), each value written by `value`.
fn go_map<V>(out: &mut String, map: Option<&BTreeMap<String, V>>, value: impl Fn(&mut String, &V)) {
    let Some(map) = map else {
        out.push_str("null");
        return;
    };
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, k);
        out.push(':');
        value(out, v);
    }
    out.push('}');
}

/// Appends any JSON value (used for fields we do not know and keep as read).
pub fn value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Go sorts map keys; sort here too whatever serde_json's map order is.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, k);
                out.push(':');
                if let Some(v) = map.get(k) {
                    value(out, v);
                }
            }
            out.push('}');
        }
    }
}

/// Appends `,"key":value` for each extra field, sorted by key, after the known
/// fields of a struct.
pub fn extra_fields(out: &mut String, extra: &BTreeMap<String, Value>) {
    for (k, v) in extra {
        out.push(',');
        string(out, k);
        out.push(':');
        value(out, v);
    }
}

/// Field lookup with Go's `json.Unmarshal` rule: an exact key match wins,
/// otherwise the first case-insensitive match. Matched keys are removed from
/// `obj`, so what remains are the unknown fields.
pub fn take_field(obj: &mut serde_json::Map<String, Value>, name: &str) -> Option<Value> {
    if let Some(v) = obj.remove(name) {
        return Some(v);
    }
    let key = obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()?;
    obj.remove(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_like_go() {
        let mut out = String::new();
        string(&mut out, "a<b>&\"\\\n\t\u{1}\u{8}\u{2028}é");
        assert_eq!(out, r#""a\u003cb\u003e\u0026\"\\\n\t\u0001\b\u2028é""#);
    }

    #[test]
    fn nil_and_empty_differ() {
        let mut out = String::new();
        string_list(&mut out, None);
        out.push(' ');
        string_list(&mut out, Some(&[]));
        assert_eq!(out, "null []");
    }

    #[test]
    fn bytes_are_std_base64_with_padding() {
        let mut map = BTreeMap::new();
        map.insert("buildkitd.toml".to_string(), b"debug = true\n".to_vec());
        let mut out = String::new();
        bytes_map(&mut out, Some(&map));
        // "debug = true\n" in base64, checked with `printf 'debug = true\n' | base64`.
        assert_eq!(out, r#"{"buildkitd.toml":"ZGVidWcgPSB0cnVlCg=="}"#);
    }

    #[test]
    fn field_lookup_prefers_exact_then_case_insensitive() {
        let mut obj = serde_json::Map::new();
        obj.insert("name".into(), Value::from("lower"));
        obj.insert("Other".into(), Value::from(1));
        assert_eq!(take_field(&mut obj, "Name"), Some(Value::from("lower")));
        assert_eq!(take_field(&mut obj, "Name"), None);
        assert_eq!(obj.len(), 1);
    }
}
