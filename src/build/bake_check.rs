//! Checks of one bake file as written, beyond what evaluation reports:
//! unknown block types and attributes (with the nearest known name), values
//! of the wrong kind, `inherits` cycles, references to targets no bake file
//! of the folder defines, a `target` stage the Dockerfile lacks, `args` the
//! Dockerfile does not declare, and a target written twice in one file.
//! Each finding carries its mechanical fix when there is one. Pure: the
//! Dockerfile facts come from the caller.

use std::path::PathBuf;

use crate::build::bake_schema::{self, Kind};
use crate::build::bake_syntax::{target_refs, Outline, Value};
use crate::dockerfile::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Hint,
}

/// A finding in the checked file.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub span: Span,
    pub severity: Severity,
    /// A stable name for the kind of finding (the diagnostic's code).
    pub code: &'static str,
    pub message: String,
    pub fix: Option<Fix>,
}

/// A mechanical fix: edits of the checked file, or of another file.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    pub title: String,
    /// `None`: the checked file.
    pub file: Option<PathBuf>,
    pub edits: Vec<(Span, String)>,
}

/// What the Dockerfile a target builds declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DockerfileFacts {
    pub path: PathBuf,
    /// Stage names, in order.
    pub stages: Vec<String>,
    /// ARG names (global and of any stage).
    pub args: Vec<String>,
    /// Where a new `ARG` line for the target's stage goes (byte offset in
    /// the Dockerfile, at a line start), and the stage's name if any.
    pub arg_insert: Option<usize>,
}

/// ARGs BuildKit and buildx predefine or read themselves; passing them is
/// never a mistake.
const PREDEFINED_ARGS: [&str; 16] = [
    "BUILDKIT_SYNTAX",
    "BUILDKIT_INLINE_CACHE",
    "BUILDKIT_MULTI_PLATFORM",
    "BUILDKIT_CONTEXT_KEEP_GIT_DIR",
    "BUILDKIT_SANDBOX_HOSTNAME",
    "BUILDKIT_CACHE_MOUNT_NS",
    "SOURCE_DATE_EPOCH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
];

/// Checks `files[index]`; `files` are the folder's bake files in bake's
/// reading order. `dockerfile` gives the facts of the Dockerfile a target
/// (by name) builds, when it can be read.
pub fn check(
    files: &[Outline],
    index: usize,
    dockerfile: &dyn Fn(&str) -> Option<DockerfileFacts>,
) -> Vec<Check> {
    let Some(outline) = files.get(index) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let targets: Vec<&str> = files
        .iter()
        .flat_map(|o| o.blocks_of("target"))
        .filter_map(|b| b.name().map(|(n, _)| n))
        .collect();
    let groups: Vec<&str> = files
        .iter()
        .flat_map(|o| o.blocks_of("group"))
        .filter_map(|b| b.name().map(|(n, _)| n))
        .collect();
    for (bi, b) in outline.blocks.iter().enumerate() {
        let Some(schema) = bake_schema::block(&b.kind) else {
            out.push(Check {
                span: b.kind_span,
                severity: Severity::Error,
                code: "unknown-block",
                message: format!(
                    "Unsupported block type; Blocks of type \"{}\" are not expected here.",
                    b.kind
                ),
                fix: None,
            });
            continue;
        };
        for a in &b.attrs {
            let Some(doc) = schema.attrs.iter().find(|d| d.name == a.key) else {
                let near = bake_schema::nearest_attr(&b.kind, &a.key);
                out.push(Check {
                    span: a.key_span,
                    severity: Severity::Error,
                    code: "unknown-attribute",
                    message: format!(
                        "Unsupported argument; An argument named \"{}\" is not expected here.{}",
                        a.key,
                        near.map_or(String::new(), |n| format!(" Did you mean \"{n}\"?"))
                    ),
                    fix: near.map(|n| Fix {
                        title: format!("Change to \"{n}\""),
                        file: None,
                        edits: vec![(a.key_span, n.to_string())],
                    }),
                });
                continue;
            };
            if let Some(want) = wrong_kind(doc.kind, &a.value) {
                out.push(Check {
                    span: a.value_span,
                    severity: Severity::Error,
                    code: "wrong-value-kind",
                    message: format!(
                        "Incorrect attribute value type; Inappropriate value for attribute \"{}\": {want} required, not {}.",
                        a.key,
                        a.value.kind_name()
                    ),
                    fix: None,
                });
            }
        }
        // Target references.
        for (name, span) in target_refs(b) {
            let known = targets.contains(&name) || (b.kind == "group" && groups.contains(&name));
            if !known {
                let near = nearest(name, &targets);
                out.push(Check {
                    span,
                    severity: Severity::Error,
                    code: "unknown-target",
                    message: format!(
                        "failed to find target {name}{}",
                        near.map_or(String::new(), |n| format!(" (did you mean \"{n}\"?)"))
                    ),
                    fix: near.map(|n| Fix {
                        title: format!("Change to \"{n}\""),
                        file: None,
                        edits: vec![(span, n.to_string())],
                    }),
                });
            }
        }
        if b.kind != "target" {
            continue;
        }
        let Some((name, name_span)) = b.name() else {
            continue;
        };
        // Written twice in this file: bake merges the blocks, which is
        // seldom meant within one file.
        if outline.blocks[..bi]
            .iter()
            .any(|o| o.kind == "target" && o.name().is_some_and(|(n, _)| n == name))
        {
            out.push(Check {
                span: name_span,
                severity: Severity::Warning,
                code: "duplicate-target",
                message: format!(
                    "target \"{name}\" is already defined earlier in this file; bake merges the two blocks, the later one winning"
                ),
                fix: None,
            });
        }
        if groups.contains(&name) {
            out.push(Check {
                span: name_span,
                severity: Severity::Warning,
                code: "duplicate-target",
                message: format!("\"{name}\" names both a target and a group; `docker buildx bake {name}` builds the group"),
                fix: None,
            });
        }
        if let Some(cycle) = cycle_from(files, name) {
            if let Some(a) = b.attr("inherits") {
                out.push(Check {
                    span: a.value_span,
                    severity: Severity::Error,
                    code: "inherits-cycle",
                    message: format!("infinite loop from {name}: {}", cycle.join(" → ")),
                    fix: None,
                });
            }
        }
        value_checks(b, &mut out);
        let Some(facts) = dockerfile(name) else {
            continue;
        };
        if let Some(a) = b.attr("target") {
            if let Some((stage, span)) = a.value.as_str() {
                if !facts.stages.iter().any(|s| s.eq_ignore_ascii_case(stage)) {
                    let stages: Vec<&str> = facts.stages.iter().map(String::as_str).collect();
                    let near = nearest(stage, &stages);
                    out.push(Check {
                        span,
                        severity: Severity::Error,
                        code: "unknown-stage",
                        message: format!(
                            "target stage \"{stage}\" could not be found in {}",
                            facts.path.display()
                        ),
                        fix: near.map(|n| Fix {
                            title: format!("Change to \"{n}\""),
                            file: None,
                            edits: vec![(span, n.to_string())],
                        }),
                    });
                }
            }
        }
        if let Some(a) = b.attr("args") {
            if let Value::Object(entries) = &a.value {
                for e in entries {
                    if facts.args.contains(&e.key) || PREDEFINED_ARGS.contains(&e.key.as_str()) {
                        continue;
                    }
                    out.push(Check {
                        span: e.key_span,
                        severity: Severity::Warning,
                        code: "undeclared-arg",
                        message: format!(
                            "build argument \"{}\" is not declared by any ARG in {}",
                            e.key,
                            facts.path.display()
                        ),
                        fix: facts.arg_insert.map(|at| Fix {
                            title: format!("Add `ARG {}` to the Dockerfile", e.key),
                            file: Some(facts.path.clone()),
                            edits: vec![(Span::empty(at), format!("ARG {}\n", e.key))],
                        }),
                    });
                }
            }
        }
    }
    out
}

/// Literal values buildx would refuse, in Docker's language server's words,
/// and a `dockerfile` that `dockerfile-inline` makes pointless.
fn value_checks(b: &crate::build::bake_syntax::Block, out: &mut Vec<Check>) {
    if let (Some(df), Some(_)) = (b.attr("dockerfile"), b.attr("dockerfile-inline")) {
        out.push(Check {
            span: df.span,
            severity: Severity::Warning,
            code: "dockerfile-ignored",
            message: "dockerfile attribute is ignored if dockerfile-inline is defined".to_string(),
            fix: Some(Fix {
                title: "Remove unnecessary dockerfile attribute".to_string(),
                file: None,
                edits: vec![(df.span, String::new())],
            }),
        });
    }
    let mut literal = |key: &str, allowed: &[&str], message: &str| {
        let Some(a) = b.attr(key) else { return };
        let values = match &a.value {
            Value::List(_) => a.value.strings(),
            v => v.as_str().into_iter().collect(),
        };
        for (v, span) in values {
            if !allowed.contains(&v) {
                out.push(Check {
                    span,
                    severity: Severity::Error,
                    code: "invalid-value",
                    message: message.to_string(),
                    fix: None,
                });
            }
        }
    };
    literal(
        "network",
        &["default", "host", "none"],
        "network attribute must be either: default, host, or none",
    );
    literal(
        "entitlements",
        &["network.host", "security.insecure"],
        "entitlements attribute must be either: network.host or security.insecure",
    );
    if let Some(a) = b.attr("annotations") {
        for (v, span) in a.value.strings() {
            if !v.contains('=') {
                out.push(Check {
                    span,
                    severity: Severity::Error,
                    code: "invalid-value",
                    message: format!("invalid annotation \"{v}\", expected key=value"),
                    fix: None,
                });
            }
        }
    }
}

/// The kind required when `value` is a literal of another kind.
fn wrong_kind(want: Kind, value: &Value) -> Option<&'static str> {
    let ok = match (want, value) {
        (_, Value::Expr | Value::Missing | Value::Null) | (Kind::Any, _) => true,
        (Kind::String, Value::Str { .. } | Value::Template { .. } | Value::Number) => true,
        (Kind::Bool, Value::Bool) => true,
        // buildx parses "true"/"false" strings for booleans.
        (Kind::Bool, Value::Str { text, .. }) => matches!(text.as_str(), "true" | "false"),
        (Kind::List, Value::List(_)) => true,
        (Kind::ListOrObjects, Value::List(_)) => true,
        (Kind::Map, Value::Object(_)) => true,
        _ => false,
    };
    (!ok).then_some(match want {
        Kind::String => "string",
        Kind::Bool => "bool",
        Kind::List => "list of string",
        Kind::ListOrObjects => "list",
        Kind::Map => "map",
        Kind::Any => "any",
    })
}

/// The inheritance path back to `start` when `start` inherits from itself.
fn cycle_from(files: &[Outline], start: &str) -> Option<Vec<String>> {
    fn parents<'a>(files: &'a [Outline], name: &str) -> Vec<&'a str> {
        files
            .iter()
            .flat_map(|o| o.blocks_of("target"))
            .filter(|b| b.name().is_some_and(|(n, _)| n == name))
            .filter_map(|b| b.attr("inherits"))
            .flat_map(|a| a.value.strings())
            .map(|(n, _)| n)
            .collect()
    }
    fn go(files: &[Outline], start: &str, at: &str, path: &mut Vec<String>) -> bool {
        if path.len() > 64 {
            return false;
        }
        for p in parents(files, at) {
            if p == start {
                path.push(p.to_string());
                return true;
            }
            if path.iter().any(|x| x == p) {
                continue;
            }
            path.push(p.to_string());
            if go(files, start, p, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = vec![start.to_string()];
    go(files, start, start, &mut path).then_some(path)
}

/// The candidate nearest to `name` when it is close enough to be a typo.
pub fn nearest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (crate::dockerfile::checks::levenshtein(name, c), *c))
        .filter(|(d, c)| c.len() > 2 && *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::bake_syntax::Syntax;

    fn codes(text: &str, facts: Option<DockerfileFacts>) -> Vec<(&'static str, String)> {
        let files = [Outline::parse(text, Syntax::Hcl)];
        check(&files, 0, &|_| facts.clone())
            .into_iter()
            .map(|c| (c.code, text[c.span.start..c.span.end].to_string()))
            .collect()
    }

    #[test]
    fn unknown_attributes_suggest_the_nearest_name() {
        let text = "target \"a\" {\n  dockrfile = \"x\"\n}\n";
        let files = [Outline::parse(text, Syntax::Hcl)];
        let c = &check(&files, 0, &|_| None)[0];
        assert_eq!(c.code, "unknown-attribute");
        assert!(
            c.message.contains("Did you mean \"dockerfile\"?"),
            "{}",
            c.message
        );
        assert_eq!(c.fix.as_ref().unwrap().edits[0].1, "dockerfile");
    }

    #[test]
    fn wrong_kinds_cycles_and_unknown_targets_are_found() {
        let text = "target \"a\" {\n  tags = \"x\"\n  inherits = [\"b\"]\n}\ntarget \"b\" {\n  inherits = [\"a\"]\n}\ngroup \"g\" {\n  targets = [\"c\"]\n}\n";
        let found = codes(text, None);
        assert!(
            found.contains(&("wrong-value-kind", "\"x\"".to_string())),
            "{found:?}"
        );
        assert!(
            found.contains(&("inherits-cycle", "[\"b\"]".to_string())),
            "{found:?}"
        );
        assert!(
            found.contains(&("unknown-target", "c".to_string())),
            "{found:?}"
        );
    }

    #[test]
    fn a_target_twice_in_one_file_and_a_target_named_like_a_group_are_reported() {
        let text = "target \"a\" {\n}\ntarget \"a\" {\n}\ngroup \"a\" {\n  targets = []\n}\n";
        let found = codes(text, None);
        let dups = found
            .iter()
            .filter(|(c, _)| *c == "duplicate-target")
            .count();
        // The second block (twice in the file) and both blocks (a group too).
        assert_eq!(dups, 3, "{found:?}");
        // The same target in an override file is how overrides work.
        let files = [
            Outline::parse("target \"a\" {\n}\n", Syntax::Hcl),
            Outline::parse("target \"a\" {\n}\n", Syntax::Hcl),
        ];
        assert!(check(&files, 1, &|_| None).is_empty());
    }

    #[test]
    fn literal_values_buildx_refuses_are_reported() {
        let text = "target \"a\" {\n  network = \"bridge\"\n  entitlements = [\"network.host\", \"root\"]\n  annotations = [\"k=v\", \"nokey\"]\n  dockerfile = \"Dockerfile\"\n  dockerfile-inline = \"FROM scratch\"\n}\n";
        let found = codes(text, None);
        for want in ["\"bridge\"", "\"root\"", "\"nokey\""] {
            let inner = want.trim_matches('"').to_string();
            assert!(
                found.contains(&("invalid-value", inner)),
                "{want}: {found:?}"
            );
        }
        assert!(
            found.iter().any(|(c, _)| *c == "dockerfile-ignored"),
            "{found:?}"
        );
    }

    #[test]
    fn missing_stage_and_undeclared_args_use_the_dockerfile() {
        let facts = DockerfileFacts {
            path: PathBuf::from("/w/Dockerfile"),
            stages: vec!["build".into()],
            args: vec!["VERSION".into()],
            arg_insert: Some(10),
        };
        let text = "target \"a\" {\n  target = \"biuld\"\n  args = {\n    VERSION = \"1\"\n    COMMIT = \"x\"\n    BUILDKIT_INLINE_CACHE = 1\n  }\n}\n";
        let files = [Outline::parse(text, Syntax::Hcl)];
        let checks = check(&files, 0, &|_| Some(facts.clone()));
        let stage = checks.iter().find(|c| c.code == "unknown-stage").unwrap();
        assert_eq!(stage.fix.as_ref().unwrap().edits[0].1, "build");
        let args: Vec<&Check> = checks
            .iter()
            .filter(|c| c.code == "undeclared-arg")
            .collect();
        assert_eq!(args.len(), 1);
        let fix = args[0].fix.as_ref().unwrap();
        assert_eq!(
            fix.file.as_deref(),
            Some(std::path::Path::new("/w/Dockerfile"))
        );
        assert_eq!(fix.edits[0], (Span::empty(10), "ARG COMMIT\n".to_string()));
    }
}

#[cfg(test)]
mod robustness {
    use super::*;
    use crate::build::bake_fmt::{format_hcl, format_json};
    use crate::build::bake_syntax::Syntax;
    use rand::{Rng, SeedableRng};

    const SEEDS: [&str; 3] = [
        "variable \"T\" {\n  default = \"${X}é\"\n}\ntarget \"a\" {\n  inherits = [\"b\"]\n  args = { A = \"1\", \"B\" = 2 }\n  tags = [for x in [1] : \"${x}\"]\n  dockerfile-inline = <<-EOT\n  FROM x\n  EOT\n}\n/* c */ group \"g\" { targets = [\"a\"] }\n",
        "{\"target\": {\"a\": {\"args\": {\"A\": \"${V}\"}, \"tags\": [\"x\"]}}, \"group\": {\"g\": {\"targets\": [\"a\"]}}}",
        "target \"x\" {\n  output = [{ type = \"local\", dest = \"out\" }]\n  tags = target.y.tags\n  labels = merge(target.y.labels, { \"k\" = \"v\\\"}\" })\n}\n",
    ];

    /// Random edits of valid files (bytes deleted, inserted, swapped): the
    /// outline, the checks and the formatters never panic, and formatting
    /// stays idempotent.
    #[test]
    fn mangled_bake_files_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(15);
        let alphabet: Vec<char> = "{}[]()\"'=:,.$%<>-#/*\\\n abcT0é".chars().collect();
        for _ in 0..3000 {
            let seed = SEEDS[rng.random_range(0..SEEDS.len())];
            let mut chars: Vec<char> = seed.chars().collect();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..=chars.len());
                match rng.random_range(0..3) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 => chars.insert(at, alphabet[rng.random_range(0..alphabet.len())]),
                    _ if at + 1 < chars.len() => chars.swap(at, at + 1),
                    _ => {}
                }
            }
            let text: String = chars.into_iter().collect();
            for syntax in [Syntax::Hcl, Syntax::Json] {
                let files = [Outline::parse(&text, syntax)];
                let facts = DockerfileFacts {
                    path: PathBuf::from("/w/Dockerfile"),
                    stages: vec!["s".into()],
                    args: vec!["A".into()],
                    arg_insert: Some(0),
                };
                for c in check(&files, 0, &|_| Some(facts.clone())) {
                    assert!(
                        c.span.end <= text.len() && text.is_char_boundary(c.span.start),
                        "{text:?}"
                    );
                }
            }
            let once = format_hcl(&text);
            assert_eq!(format_hcl(&once), once, "not idempotent on {text:?}");
            if let Ok(j) = format_json(&text) {
                assert_eq!(format_json(&j).as_ref(), Ok(&j), "{text:?}");
            }
        }
    }
}
