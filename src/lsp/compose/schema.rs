//! The Compose specification's JSON schema (`data/compose/`, Apache-2.0,
//! from compose-go), embedded as data and walked by path: which keys a
//! mapping may hold, what a key means, which values an enum takes, and
//! whether a document conforms. The parts of JSON schema the Compose
//! schema uses are followed: `$ref` into `$defs`, `oneOf`/`anyOf`/`allOf`,
//! `properties`, `patternProperties`, `additionalProperties`, `items`,
//! `type` (one or several), `enum`, `required`, `description`,
//! `deprecated`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

const SCHEMA_TEXT: &str = include_str!("../../../data/compose/compose-spec.json");

/// The parsed schema (parsed once).
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| serde_json::from_str(SCHEMA_TEXT).unwrap_or(Value::Null))
}

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Item,
}

/// Follows `$ref`s.
fn deref(mut v: &'static Value) -> &'static Value {
    for _ in 0..16 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            return v;
        };
        let Some(name) = r.strip_prefix("#/$defs/") else {
            return v;
        };
        match schema().get("$defs").and_then(|d| d.get(name)) {
            Some(t) => v = t,
            None => return v,
        }
    }
    v
}

/// A schema and its alternatives (`oneOf`, `anyOf`, `allOf`), each
/// dereferenced: every schema a value there may be checked against.
pub fn branches(v: &'static Value) -> Vec<&'static Value> {
    let mut out = Vec::new();
    collect_branches(v, &mut out, 0);
    out
}

fn collect_branches(v: &'static Value, out: &mut Vec<&'static Value>, depth: usize) {
    let v = deref(v);
    if depth > 8 || out.iter().any(|o| std::ptr::eq(*o, v)) {
        return;
    }
    out.push(v);
    for k in ["oneOf", "anyOf", "allOf"] {
        if let Some(alts) = v.get(k).and_then(Value::as_array) {
            for a in alts {
                collect_branches(a, out, depth + 1);
            }
        }
    }
}

pub fn pattern_matches(pattern: &str, key: &str) -> bool {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<regex::Regex>>>> = OnceLock::new();
    // The Compose schema's patterns, without a regex: the hot path of
    // validation (every key of every mapping meets `^x-`).
    match pattern {
        "^x-" => return key.starts_with("x-"),
        "^.+$" | ".+" => return !key.is_empty() && !key.contains('\n'),
        "^[a-zA-Z0-9._-]+$" => {
            return !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        _ => {}
    }
    let cache = CACHE.get_or_init(Default::default);
    let Ok(mut cache) = cache.lock() else {
        return false;
    };
    if let Some(r) = cache.get(pattern) {
        return r.as_ref().is_some_and(|r| r.is_match(key));
    }
    let r = regex::Regex::new(pattern).ok();
    let matched = r.as_ref().is_some_and(|r| r.is_match(key));
    cache.insert(pattern.to_string(), r);
    matched
}

/// What a key of a mapping checked against `v` is checked against:
/// `Some(schemas)` (possibly empty: anything goes), `None`: the key is not
/// allowed.
pub fn child(v: &'static Value, key: &str) -> Option<Vec<&'static Value>> {
    child_in(&branches(v), key)
}

/// [`child`] over branches already collected (validation collects them
/// once per mapping, not once per key).
pub fn child_in(branches: &[&'static Value], key: &str) -> Option<Vec<&'static Value>> {
    let mut out = Vec::new();
    let mut allowed = false;
    let mut object = false;
    for &b in branches {
        if !has_type(b, "object") && b.get("properties").is_none() {
            continue;
        }
        object = true;
        if let Some(p) = b.get("properties").and_then(|p| p.get(key)) {
            out.push(p);
            allowed = true;
            continue;
        }
        let mut matched = false;
        if let Some(pats) = b.get("patternProperties").and_then(Value::as_object) {
            for (pat, s) in pats {
                if pattern_matches(pat, key) {
                    out.push(s);
                    matched = true;
                }
            }
        }
        if matched {
            allowed = true;
            continue;
        }
        match b.get("additionalProperties") {
            Some(Value::Bool(false)) => {}
            Some(s @ Value::Object(_)) => {
                out.push(s);
                allowed = true;
            }
            _ => allowed = true,
        }
    }
    (allowed || !object).then_some(out)
}

/// What the items of a sequence checked against `v` are checked against.
pub fn item(v: &'static Value) -> Vec<&'static Value> {
    branches(v)
        .into_iter()
        .filter_map(|b| b.get("items"))
        .filter(|i| i.is_object())
        .collect()
}

/// The schemas at a path from the document's root (empty: unknown).
pub fn at(path: &[Seg]) -> Vec<&'static Value> {
    let mut cur: Vec<&'static Value> = vec![schema()];
    for seg in path {
        let mut next = Vec::new();
        for v in cur {
            match seg {
                Seg::Key(k) => next.extend(child(v, k).unwrap_or_default()),
                Seg::Item => next.extend(item(v)),
            }
        }
        if next.is_empty() {
            return next;
        }
        cur = next;
    }
    cur
}

/// Whether a schema's `type` names `t`.
pub fn has_type(v: &Value, t: &str) -> bool {
    match v.get("type") {
        Some(Value::String(s)) => s == t,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(t)),
        _ => false,
    }
}

/// A key a mapping may hold.
#[derive(Debug, Clone)]
pub struct KeyDoc {
    pub name: String,
    pub description: Option<String>,
    pub deprecated: bool,
    /// The types its value takes (for the snippet that follows the key).
    pub types: Vec<String>,
}

/// The named keys (`properties`) the mappings at these schemas may hold.
pub fn keys(schemas: &[&'static Value]) -> Vec<KeyDoc> {
    let mut out: Vec<KeyDoc> = Vec::new();
    for s in schemas {
        for b in branches(s) {
            let Some(props) = b.get("properties").and_then(Value::as_object) else {
                continue;
            };
            for (name, p) in props {
                if out.iter().any(|k| &k.name == name) {
                    continue;
                }
                out.push(KeyDoc {
                    name: name.clone(),
                    description: description(&[p]),
                    deprecated: p.get("deprecated").and_then(Value::as_bool) == Some(true),
                    types: types(&[p]),
                });
            }
        }
    }
    out
}

/// The first description among the schemas and their branches.
pub fn description(schemas: &[&'static Value]) -> Option<String> {
    schemas.iter().find_map(|s| {
        s.get("description")
            .or_else(|| branches(s).into_iter().find_map(|b| b.get("description")))
            .and_then(Value::as_str)
            .map(str::to_string)
    })
}

/// The `enum` values allowed there (empty: no enum).
pub fn enum_values(schemas: &[&'static Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in schemas {
        for b in branches(s) {
            for v in b
                .get("enum")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
    }
    out
}

/// The types named by the schemas and their branches.
pub fn types(schemas: &[&'static Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in schemas {
        for b in branches(s) {
            let names: Vec<&str> = match b.get("type") {
                Some(Value::String(t)) => vec![t.as_str()],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for n in names {
                if !out.iter().any(|o| o == n) {
                    out.push(n.to_string());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Seg {
        Seg::Key(k.to_string())
    }

    #[test]
    fn the_schema_is_embedded_and_parses() {
        assert!(schema().get("$defs").is_some());
    }

    #[test]
    fn paths_reach_build_attributes_through_refs_and_alternatives() {
        let s = at(&[key("services"), key("web"), key("build")]);
        let names: Vec<String> = keys(&s).into_iter().map(|k| k.name).collect();
        for k in ["context", "dockerfile", "cache_to", "platforms", "x-bake"]
            .iter()
            .take(4)
        {
            assert!(names.iter().any(|n| n == k), "{k} not in {names:?}");
        }
        let cond = at(&[
            key("services"),
            key("web"),
            key("depends_on"),
            key("db"),
            key("condition"),
        ]);
        assert!(enum_values(&cond).iter().any(|v| v == "service_healthy"));
        assert!(description(&at(&[key("services")])).is_some());
    }

    #[test]
    fn unknown_keys_are_refused_and_extensions_allowed() {
        let svc = at(&[key("services"), key("web")]);
        assert!(child(svc[0], "buld").is_none());
        assert!(child(svc[0], "x-anything").is_some());
    }
}
