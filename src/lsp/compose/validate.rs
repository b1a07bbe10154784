//! Schema validation of a Compose file: each error at the exact YAML range
//! (the key for an unknown or missing property, the value for a wrong type
//! or enum), in compose-go's words (`services.web additional properties
//! 'buld' not allowed`, `services.web.pull_policy must be one of …`).
//! Values that use a variable are not type-checked: Compose validates
//! after interpolation, so `${PORT}` may become a number.

use serde_json::Value;

use crate::build::compose::{interpolate, yaml};
use crate::dockerfile::Span;

use super::schema;

/// One schema error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub span: Span,
    pub message: String,
}

/// The errors of a parsed document.
pub fn validate(root: &yaml::Node) -> Vec<SchemaError> {
    let mut out = Vec::new();
    check(root, &[schema::schema()], "", &mut out);
    out
}

/// The YAML kind of a node, as JSON schema types name it.
fn kind_of(node: &yaml::Node) -> &'static str {
    match &node.value {
        yaml::Value::Map(_) => "object",
        yaml::Value::Seq(_) => "array",
        yaml::Value::Scalar { text, plain } => {
            if !plain {
                return "string";
            }
            if node.is_null() {
                return "null";
            }
            if node.as_bool().is_some() {
                return "boolean";
            }
            if text.parse::<i64>().is_ok() {
                return "integer";
            }
            if text.parse::<f64>().is_ok() && text.chars().any(|c| c.is_ascii_digit()) {
                return "number";
            }
            "string"
        }
    }
}

fn accepts(b: &Value, kind: &str) -> bool {
    match b.get("type") {
        None => true,
        Some(_) => {
            schema::has_type(b, kind) || (kind == "integer" && schema::has_type(b, "number"))
        }
    }
}

fn join(path: &str, key: &str) -> String {
    match path.is_empty() {
        true => key.to_string(),
        false => format!("{path}.{key}"),
    }
}

fn check(node: &yaml::Node, schemas: &[&'static Value], path: &str, out: &mut Vec<SchemaError>) {
    if schemas.is_empty() {
        return;
    }
    let kind = kind_of(node);
    let interpolated = node.as_str().is_some_and(interpolate::has_variables);
    // The concrete alternatives: branches that state a type or shape.
    let all: Vec<&'static Value> = schemas.iter().flat_map(|s| schema::branches(s)).collect();
    let typed: Vec<&'static Value> = all
        .iter()
        .copied()
        .filter(|b| b.get("type").is_some())
        .collect();
    if !typed.is_empty() && !interpolated {
        let fitting: Vec<&'static Value> =
            typed.iter().copied().filter(|b| accepts(b, kind)).collect();
        if fitting.is_empty() {
            let mut names: Vec<String> = schema::types(schemas);
            names.dedup();
            let names: Vec<String> = names
                .into_iter()
                .map(|n| match n.as_str() {
                    "object" => "a mapping".to_string(),
                    "array" => "a list".to_string(),
                    "integer" | "number" => "a number".to_string(),
                    "boolean" => "a boolean".to_string(),
                    "null" => "null".to_string(),
                    _ => "a string".to_string(),
                })
                .fold(Vec::new(), |mut acc, n| {
                    if !acc.contains(&n) {
                        acc.push(n);
                    }
                    acc
                });
            out.push(SchemaError {
                span: node.span,
                message: format!(
                    "{} must be {}",
                    if path.is_empty() { "the file" } else { path },
                    names.join(" or ")
                ),
            });
            return;
        }
    }
    match &node.value {
        yaml::Value::Scalar { text, .. } => {
            if interpolated {
                return;
            }
            if kind == "string" {
                let patterns: Vec<&str> = typed
                    .iter()
                    .filter(|b| accepts(b, "string"))
                    .map(|b| b.get("pattern").and_then(Value::as_str))
                    .collect::<Option<Vec<&str>>>()
                    .unwrap_or_default();
                if !patterns.is_empty()
                    && !patterns.iter().any(|p| schema::pattern_matches(p, text))
                {
                    out.push(SchemaError {
                        span: node.span,
                        message: format!("{path} does not match pattern \"{}\"", patterns[0]),
                    });
                    return;
                }
            }
            let values = schema::enum_values(schemas);
            if !values.is_empty() && !values.iter().any(|v| v == text) {
                out.push(SchemaError {
                    span: node.span,
                    message: format!(
                        "{path} must be one of the following: {}",
                        values
                            .iter()
                            .map(|v| format!("\"{v}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        yaml::Value::Seq(items) => {
            let item_schemas: Vec<&'static Value> =
                schemas.iter().flat_map(|s| schema::item(s)).collect();
            for (i, item) in items.iter().enumerate() {
                check(item, &item_schemas, &format!("{path}.{i}"), out);
            }
        }
        yaml::Value::Map(entries) => {
            let per_schema: Vec<Vec<&'static Value>> =
                schemas.iter().map(|s| schema::branches(s)).collect();
            for e in entries {
                let Some(key) = e.key.as_str() else { continue };
                if key == "<<" {
                    continue;
                }
                let mut children = Vec::new();
                let mut refused = true;
                for bs in &per_schema {
                    if let Some(c) = schema::child_in(bs, key) {
                        refused = false;
                        children.extend(c);
                    }
                }
                if refused {
                    out.push(SchemaError {
                        span: e.key.span,
                        message: format!(
                            "{} additional properties '{key}' not allowed",
                            if path.is_empty() { "(root)" } else { path }
                        ),
                    });
                    continue;
                }
                check(&e.value, &children, &join(path, key), out);
            }
            // `required` of the only mapping alternative.
            let objects: Vec<&&'static Value> = all
                .iter()
                .filter(|b| schema::has_type(b, "object"))
                .collect();
            if let [only] = objects.as_slice() {
                for r in only
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Some(r) = r.as_str() else { continue };
                    if !entries.iter().any(|e| e.key.as_str() == Some(r)) {
                        out.push(SchemaError {
                            span: Span::new(node.span.start, node.span.start),
                            message: format!(
                                "{} missing property '{r}'",
                                if path.is_empty() { "(root)" } else { path }
                            ),
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<(String, String)> {
        let root = yaml::parse(text, 0).unwrap();
        validate(&root)
            .into_iter()
            .map(|e| (e.span.slice(text).to_string(), e.message))
            .collect()
    }

    #[test]
    fn a_valid_file_has_no_errors() {
        let text = "name: x\nservices:\n  web:\n    image: nginx\n    build:\n      context: .\n      args: {A: b}\n      platforms: [linux/amd64]\n    ports: [\"80:80\", 443]\n    depends_on: [db]\n    pull_policy: always\n    x-custom: 1\n  db:\n    image: postgres\n    environment:\n      A: 1\n    healthcheck:\n      test: [CMD, \"true\"]\nvolumes:\n  data: {}\nx-anchors: &a\n  foo: 1\n";
        assert_eq!(errors(text), vec![]);
    }

    #[test]
    fn unknown_keys_wrong_types_patterns_and_enums_are_located() {
        let text = "services:\n  web:\n    buld: .\n    pull_policy: sometimes\n    ports: {a: 1}\n    depends_on:\n      db: {condition: whenever}\n    privileged: ${P}\n  db:\n    image: x\n";
        let e = errors(text);
        let spans: Vec<&str> = e.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(spans, ["buld", "sometimes", "{a: 1}", "whenever"], "{e:?}");
        assert_eq!(
            e[0].1,
            "services.web additional properties 'buld' not allowed"
        );
        assert!(
            e[1].1
                .starts_with("services.web.pull_policy does not match pattern"),
            "{}",
            e[1].1
        );
        assert_eq!(e[2].1, "services.web.ports must be a list");
        assert_eq!(
            e[3].1,
            "services.web.depends_on.db.condition must be one of the following: \"service_started\", \"service_healthy\", \"service_completed_successfully\""
        );
    }
}
