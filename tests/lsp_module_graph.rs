//! The import graph of `src/lsp` (issue #13): every file is a node, and a
//! file that names an item of another file (`use crate::lsp::…`,
//! `super::…`, a child module's `child::…`, or an inline
//! `crate::lsp::a::b::f()` path) has an edge to it. Test code
//! (`#[cfg(test)] mod tests`) and comments are left out.
//!
//! Proven here: no cycle runs through `diagnostics` or through the session
//! (its state types live in `session/` and depend on no feature), only the
//! server and the request handlers import `diagnostics`, no file is on an
//! import cycle at all, and with each folder taken as one module
//! (`builds/…` as `builds`) there is none either, so the session and the
//! builds code do not import each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

type Module = Vec<String>;

/// Every `.rs` file under `src/lsp`, by module path (`lsp/mod.rs` is `[]`,
/// `lsp/session/builders.rs` is `["session", "builders"]`).
fn modules() -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src/lsp") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lsp");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&root).expect("under src/lsp");
            let mut parts: Module = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            (parts, path)
        })
        .collect()
}

/// The file's code without test modules and comments.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source");
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands a use tree (`a::{b, c::{d as e}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        // `a::b as c` names `a::b`.
        let path = tree.split_whitespace().next().unwrap_or("");
        return vec![path.to_string()];
    };
    let prefix: String = tree[..open].split_whitespace().collect();
    let inner = &tree[open + 1..tree.rfind('}').expect("balanced braces")];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|i| !i.trim().is_empty())
        .flat_map(|item| {
            let prefix = prefix.clone();
            expand(item).into_iter().map(move |p| match p.as_str() {
                "self" => prefix.trim_end_matches("::").to_string(),
                _ => format!("{prefix}{p}"),
            })
        })
        .collect()
}

/// A `use` item: at the start of a line (the word "use" in a string or a
/// trailing comment is not one).
static USE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\s*(?:pub(?:\([a-z]+\))?\s+)?use\s+([^;]+);").unwrap());
static INLINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:crate::lsp|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+").unwrap()
});
static MOD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_0-9]+)\s*;").unwrap()
});
/// A path that starts with a name (not `x::name` or `x.name`).
static BARE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^:\w.])([a-z_][a-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)+)").unwrap()
});

/// Every path the code names: the expanded `use` trees, inline paths
/// starting with `crate::lsp::`, `super::` or `self::`, and inline paths
/// starting with a child module's name.
fn paths_in(code: &str, children: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for m in USE.captures_iter(code) {
        out.extend(expand(&m[1]));
    }
    out.extend(INLINE.find_iter(code).map(|m| m.as_str().to_string()));
    for line in code.lines() {
        for m in BARE.captures_iter(line) {
            let path = &m[1];
            if children.contains(path.split("::").next().unwrap_or("")) {
                out.push(path.to_string());
            }
        }
    }
    out
}

/// The file a path names an item of: the longest prefix that is a file.
fn resolve(
    from: &Module,
    children: &BTreeSet<String>,
    path: &str,
    known: &BTreeMap<Module, PathBuf>,
) -> Option<Module> {
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    // `self` of `a/b.rs` is `a::b`, its `super` is `a` (as for `a/b/mod.rs`).
    let (mut base, rest): (Module, &[&str]) = match segs.as_slice() {
        ["crate", "lsp", rest @ ..] => (Vec::new(), rest),
        ["self", rest @ ..] => (from.clone(), rest),
        ["super", ..] => {
            let ups = segs.iter().take_while(|s| **s == "super").count();
            let keep = from.len().checked_sub(ups)?;
            (from[..keep].to_vec(), &segs[ups..])
        }
        [first, ..] if children.contains(*first) => (from.clone(), &segs[..]),
        _ => return None,
    };
    let mut best = known.contains_key(&base).then(|| base.clone());
    for s in rest {
        base.push(s.to_string());
        if known.contains_key(&base) {
            best = Some(base.clone());
        }
    }
    best.filter(|m| m != from)
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let known = modules();
    let mut edges = BTreeMap::new();
    for (module, path) in &known {
        let code = code_of(path);
        let children: BTreeSet<String> =
            MOD.captures_iter(&code).map(|c| c[1].to_string()).collect();
        let targets: BTreeSet<Module> = paths_in(&code, &children)
            .iter()
            .filter_map(|p| resolve(module, &children, p, &known))
            .collect();
        edges.insert(module.clone(), targets);
    }
    edges
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "lsp".to_string()
    } else {
        m.join("::")
    }
}

/// A cycle from `start` back to itself, if any (a shortest one).
fn cycle_through(
    edges: &BTreeMap<Module, BTreeSet<Module>>,
    start: &Module,
) -> Option<Vec<String>> {
    let mut prev: BTreeMap<Module, Module> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.clone()]);
    while let Some(m) = queue.pop_front() {
        for next in edges.get(&m).into_iter().flatten() {
            if next == start {
                let mut chain = Vec::new();
                let mut at = m.clone();
                while &at != start {
                    chain.push(name(&at));
                    at = prev[&at].clone();
                }
                chain.reverse();
                let mut cycle = vec![name(start)];
                cycle.extend(chain);
                cycle.push(name(start));
                return Some(cycle);
            }
            if !prev.contains_key(next) {
                prev.insert(next.clone(), m.clone());
                queue.push_back(next.clone());
            }
        }
    }
    None
}

fn module(path: &str) -> Module {
    path.split("::").map(str::to_string).collect()
}

#[test]
fn the_scan_sees_the_imports_it_must_see() {
    // Without these the other tests would pass on an empty graph.
    let edges = graph();
    for (from, to) in [
        ("diagnostics", "session"),
        ("diagnostics", "builds::selection::findings"),
        ("builds::run", "session"),
        ("builds::run", "session::builds"),
        ("builds::selection::commands", "builds::selection::watch"),
        ("builds::selection::commands", "builds::selection"),
        ("session", "session::builders"),
        ("session::builds", "session::failures"),
    ] {
        assert!(
            edges[&module(from)].contains(&module(to)),
            "{from} -> {to} not found; edges of {from}: {:?}",
            edges[&module(from)].iter().map(name).collect::<Vec<_>>()
        );
    }
}

#[test]
fn no_import_cycle_runs_through_diagnostics() {
    let edges = graph();
    assert_eq!(cycle_through(&edges, &module("diagnostics")), None);
}

#[test]
fn only_the_server_and_request_handlers_import_diagnostics() {
    // Features report stale diagnostics through the session.
    let importers: Vec<String> = graph()
        .into_iter()
        .filter(|(_, tos)| tos.contains(&module("diagnostics")))
        .map(|(from, _)| name(&from))
        .filter(|m| m != "server" && !m.starts_with("api::"))
        .collect();
    assert_eq!(importers, Vec::<String>::new());
}

#[test]
fn the_session_and_its_state_types_import_no_feature() {
    let edges = graph();
    for m in edges
        .keys()
        .filter(|m| m.first().is_some_and(|f| f == "session"))
    {
        assert_eq!(cycle_through(&edges, m), None, "{}", name(m));
    }
}

#[test]
fn no_file_is_on_an_import_cycle() {
    let edges = graph();
    let cycles: Vec<Vec<String>> = edges
        .keys()
        .filter_map(|m| cycle_through(&edges, m))
        .collect();
    assert_eq!(cycles, Vec::<Vec<String>>::new());
}

#[test]
fn folders_taken_as_one_module_import_each_other_in_one_direction() {
    // builds/… as builds, api/… as api, session/… as session.
    let mut top: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, tos) in graph() {
        let f: Module = from.iter().take(1).cloned().collect();
        let entry = top.entry(f.clone()).or_default();
        for to in tos {
            let t: Module = to.iter().take(1).cloned().collect();
            if t != f {
                entry.insert(t);
            }
        }
    }
    for m in top.keys() {
        assert_eq!(cycle_through(&top, m), None, "{}", name(m));
    }
    // The circle the issue named: the session held the builds' state types.
    assert!(top[&module("builds")].contains(&module("session")));
    assert!(!top[&module("session")].contains(&module("builds")));
}
