//! Compose files as a build configuration source: the file names `docker
//! compose` looks for, and their `services.*.build` sections read into
//! bake targets exactly as `docker buildx bake -f compose.yaml` maps them
//! (buildx `bake/compose.go`), every attribute remembering its YAML range.
//! Pure and synchronous: callers read the files and the environment.
//!
//! What is followed:
//! - files: the first of `compose.yaml`, `compose.yml`,
//!   `docker-compose.yml`, `docker-compose.yaml` and the first of their
//!   override names, merged as Compose merges them (mappings key by key,
//!   sequences appended without duplicates, scalars replaced) — the files
//!   `docker compose build` reads;
//! - one target per service with a `build` section, named after the
//!   service (`.` becomes `_`, as buildx's `sanitizeTargetName`), all in the
//!   `default` group; the short form `build: ./dir` is the context;
//! - `context`, `dockerfile`, `dockerfile_inline`, `target`, `args` (map or
//!   `KEY=VALUE` list; a key without value takes the environment's value or
//!   is dropped), `labels`, `cache_from`, `cache_to`, `platforms`, `tags`,
//!   `ssh`, `secrets` (from the top-level `secrets`: `file` or
//!   `environment`), `additional_contexts` (`service:NAME` becomes
//!   `target:NAME`), `network`, `no_cache`, `pull`, `shm_size`,
//!   `extra_hosts`, `ulimits`, `privileged`; `image` is the tag when `tags`
//!   is empty; `x-bake` adds `tags`, `cache-from`, `cache-to`, `secret`,
//!   `ssh`, `platforms`, `output`, `pull`, `no-cache`, `no-cache-filter`,
//!   `contexts` (a string where a list goes splits on whitespace);
//! - interpolation of every value ([`interpolate`]) from the environment
//!   the caller gives (the process environment over the `.env` file of the
//!   project folder: [`environment`]); without one (a workspace that is not
//!   trusted) a value that uses a variable is left out with a
//!   `NotEvaluated` error, like a bake file's expressions;
//! - `<<` merge keys and anchors.
//!
//! Each attribute's origin is its YAML value (the range a quick fix
//! replaces); the target's block is the service's `build` entry and its
//! name the service key. A new attribute (the `--load` fix's `output`) goes
//! into the build's `x-bake` mapping, created when missing.

pub mod interpolate;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::dockerfile::{LineIndex, PositionEncoding, Span};

use super::bake::{
    BakeAttr, BakeErrorKind, BakeSource, BakeValue, GroupBlock, Insertion, Origin, TargetBlock,
};
use super::Error;
use yaml::{Node, Value};

/// The Compose file names, in the order `docker compose` prefers them
/// (compose-go's `DefaultFileNames`).
pub const COMPOSE_MAIN_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// The override names (compose-go's `DefaultOverrideFileNames`).
pub const COMPOSE_OVERRIDE_NAMES: [&str; 4] = [
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// Every Compose file name: the main names, then the override names.
pub const COMPOSE_FILE_NAMES: [&str; 8] = [
    COMPOSE_MAIN_NAMES[0],
    COMPOSE_MAIN_NAMES[1],
    COMPOSE_MAIN_NAMES[2],
    COMPOSE_MAIN_NAMES[3],
    COMPOSE_OVERRIDE_NAMES[0],
    COMPOSE_OVERRIDE_NAMES[1],
    COMPOSE_OVERRIDE_NAMES[2],
    COMPOSE_OVERRIDE_NAMES[3],
];

/// The environment file Compose reads from the project folder.
pub const DOTENV: &str = ".env";

/// Whether a path names a Compose file (by its file name only).
pub fn is_compose_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| COMPOSE_FILE_NAMES.contains(&n))
}

/// The paths a folder's Compose files would have; the caller reads those
/// that exist.
pub fn compose_file_paths(folder: &Path) -> Vec<PathBuf> {
    COMPOSE_FILE_NAMES.iter().map(|n| folder.join(n)).collect()
}

/// The files Compose reads out of those that exist: the first main file
/// and the first override file (an override alone is not a project).
pub fn select(sources: &[BakeSource]) -> Vec<&BakeSource> {
    let first = |names: &[&str]| {
        names.iter().find_map(|n| {
            sources
                .iter()
                .find(|s| s.path.file_name().and_then(|f| f.to_str()) == Some(n))
        })
    };
    match first(&COMPOSE_MAIN_NAMES) {
        None => Vec::new(),
        Some(main) => std::iter::once(main)
            .chain(first(&COMPOSE_OVERRIDE_NAMES))
            .collect(),
    }
}

/// The environment Compose interpolates with: `process` over the values of
/// the `.env` file (`dotenv`, its text), as buildx's `composeEnv`.
pub fn environment(
    process: BTreeMap<String, String>,
    dotenv: Option<&str>,
) -> BTreeMap<String, String> {
    let mut env = process;
    if let Some(text) = dotenv {
        for (k, v) in parse_dotenv(text) {
            env.entry(k).or_insert(v);
        }
    }
    env
}

/// `KEY=VALUE` lines (`export ` allowed, `#` comments, single- or
/// double-quoted values, ` #` comments after unquoted values).
pub fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let value = if let Some(q) = v.strip_prefix('"').and_then(|r| r.rsplit_once('"')) {
            q.0.replace("\\n", "\n").replace("\\\"", "\"")
        } else if let Some(q) = v.strip_prefix('\'').and_then(|r| r.rsplit_once('\'')) {
            q.0.to_string()
        } else {
            v.split(" #").next().unwrap_or("").trim_end().to_string()
        };
        out.push((k.trim().to_string(), value));
    }
    out
}

/// The build targets of a Compose project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compose {
    /// The files read, in merge order.
    pub files: Vec<PathBuf>,
    pub targets: Vec<TargetBlock>,
    /// The `default` group of every target (buildx makes one).
    pub group: Option<GroupBlock>,
    /// Values that could not be interpolated (their attribute is left
    /// out; the target reports the first when it is resolved, except in
    /// static mode).
    pub errors: Vec<Error>,
}

/// One parsed file.
struct File<'a> {
    source: &'a BakeSource,
    lines: LineIndex,
}

impl File<'_> {
    fn origin(&self, span: Span) -> Origin {
        Origin {
            file: self.source.path.clone(),
            span,
            range: self.lines.range(span, PositionEncoding::Utf16),
            range_utf8: self.lines.range(span, PositionEncoding::Utf8),
        }
    }
}

/// A YAML syntax error as a bake error.
fn syntax_error(file: &File, e: yaml::YamlError) -> Error {
    Error::Bake {
        kind: BakeErrorKind::Syntax,
        origin: file.origin(e.span),
        message: e.message,
    }
}

/// Parses one Compose file's YAML (for the language features too).
pub fn parse_yaml(text: &str) -> Result<Node, yaml::YamlError> {
    yaml::parse(text, 0)
}

/// Reads the build targets of the Compose files `sources`, merged in the
/// order given (a folder's files: those [`select`] picks; `-f a -f b`: as
/// given), interpolating with `env` (`None`: static).
pub fn parse(
    sources: &[&BakeSource],
    env: Option<&BTreeMap<String, String>>,
) -> Result<Compose, Error> {
    let chosen = sources;
    let files: Vec<File> = chosen
        .iter()
        .map(|s| File {
            source: s,
            lines: LineIndex::new(&s.text),
        })
        .collect();
    let mut root: Option<Node> = None;
    for (i, f) in files.iter().enumerate() {
        let mut tree = yaml::parse(&f.source.text, i).map_err(|e| syntax_error(f, e))?;
        tree.resolve_merge_keys();
        root = Some(match root {
            None => tree,
            Some(base) => merge(base, tree),
        });
    }
    let mut compose = Compose {
        files: chosen.iter().map(|s| s.path.clone()).collect(),
        ..Compose::default()
    };
    let Some(root) = root else {
        return Ok(compose);
    };
    let reader = Reader {
        files: &files,
        env,
        root: &root,
    };
    let Some(services_entry) = root.entry("services") else {
        return Ok(compose);
    };
    let Some(services) = services_entry.value.as_map() else {
        return Ok(compose);
    };
    let mut names = Vec::new();
    for entry in services {
        let Some(name) = entry.key.as_str() else {
            continue;
        };
        let Some(build) = entry.value.entry("build") else {
            continue;
        };
        let target = reader.target(name, &entry.key, &entry.value, build, &mut compose.errors);
        names.push(target.name.clone());
        compose.targets.push(target);
    }
    if let Some(first) = compose.targets.first() {
        compose.group = Some(GroupBlock {
            name: "default".to_string(),
            origin: first.origin.clone(),
            targets: names,
            targets_origin: Some(reader.origin(&services_entry.key)),
            error: None,
        });
    }
    Ok(compose)
}

/// buildx's `sanitizeTargetName`.
pub fn target_name(service: &str) -> String {
    service.replace('.', "_")
}

/// Merges an override tree into a base tree, as Compose merges files.
fn merge(base: Node, over: Node) -> Node {
    match (base.value, over.value) {
        (Value::Map(mut entries), Value::Map(extra)) => {
            for e in extra {
                match entries
                    .iter()
                    .position(|b| b.key.as_str().is_some() && b.key.as_str() == e.key.as_str())
                {
                    Some(i) => {
                        let old = entries.remove(i);
                        let value = merge(old.value, e.value);
                        entries.insert(i, yaml::Entry { key: e.key, value });
                    }
                    None => entries.push(e),
                }
            }
            Node {
                value: Value::Map(entries),
                ..over
            }
        }
        (Value::Seq(mut items), Value::Seq(extra)) => {
            for e in extra {
                let dup = e.as_str().is_some() && items.iter().any(|i| i.as_str() == e.as_str());
                if !dup {
                    items.push(e);
                }
            }
            Node {
                value: Value::Seq(items),
                ..over
            }
        }
        (_, value) => Node { value, ..over },
    }
}

struct Reader<'a> {
    files: &'a [File<'a>],
    env: Option<&'a BTreeMap<String, String>>,
    root: &'a Node,
}

/// Why a value was not read.
enum Skip {
    /// Static mode: it uses a variable.
    NotEvaluated,
    /// Interpolation failed, or the value has the wrong shape.
    Error(BakeErrorKind, String),
}

impl Reader<'_> {
    fn origin(&self, node: &Node) -> Origin {
        self.files[node.file.min(self.files.len() - 1)].origin(node.span)
    }

    fn text(&self, node: &Node) -> &str {
        node.span
            .slice(&self.files[node.file.min(self.files.len() - 1)].source.text)
    }

    /// A scalar's value, interpolated.
    fn scalar(&self, node: &Node) -> Result<String, Skip> {
        let Some(raw) = node.as_str() else {
            return Err(Skip::Error(
                BakeErrorKind::Invalid,
                "must be a string".to_string(),
            ));
        };
        if !interpolate::has_variables(raw) {
            return Ok(raw.replace("$$", "$"));
        }
        match self.env {
            None => Err(Skip::NotEvaluated),
            Some(env) => interpolate::interpolate(raw, &|k| env.get(k).cloned())
                .map(|i| i.text)
                .map_err(|e| Skip::Error(BakeErrorKind::Eval, e)),
        }
    }

    /// A list: a sequence of scalars, or one scalar split on whitespace
    /// (`split`, as x-bake's string arrays) or as one item.
    fn list(&self, node: &Node, split: bool) -> Result<Vec<String>, Skip> {
        match &node.value {
            Value::Seq(items) => items.iter().map(|i| self.scalar(i)).collect(),
            Value::Scalar { .. } if node.is_null() => Ok(Vec::new()),
            Value::Scalar { .. } => {
                let s = self.scalar(node)?;
                Ok(match split {
                    true => s.split_whitespace().map(str::to_string).collect(),
                    false => vec![s],
                })
            }
            Value::Map(_) => Err(Skip::Error(
                BakeErrorKind::Invalid,
                "must be a list".to_string(),
            )),
        }
    }

    /// A map written as a mapping or as a `KEY=VALUE` list; a key without
    /// a value takes `lookup`'s value or is dropped.
    fn map(
        &self,
        node: &Node,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<BTreeMap<String, String>, Skip> {
        let mut out = BTreeMap::new();
        match &node.value {
            Value::Map(entries) => {
                for e in entries {
                    let Some(k) = e.key.as_str() else { continue };
                    if e.value.is_null() {
                        if let Some(v) = lookup(k) {
                            out.insert(k.to_string(), v);
                        }
                    } else {
                        out.insert(k.to_string(), self.scalar(&e.value)?);
                    }
                }
            }
            Value::Seq(items) => {
                for i in items {
                    let s = self.scalar(i)?;
                    match s.split_once('=') {
                        Some((k, v)) => {
                            out.insert(k.to_string(), v.to_string());
                        }
                        None => {
                            if let Some(v) = lookup(&s) {
                                out.insert(s, v);
                            }
                        }
                    }
                }
            }
            Value::Scalar { .. } if node.is_null() => {}
            Value::Scalar { .. } => {
                return Err(Skip::Error(
                    BakeErrorKind::Invalid,
                    "must be a mapping or a list".to_string(),
                ))
            }
        }
        Ok(out)
    }

    fn bool(&self, node: &Node) -> Result<bool, Skip> {
        if let Some(b) = node.as_bool() {
            return Ok(b);
        }
        match self.scalar(node)?.as_str() {
            "true" | "True" | "TRUE" => Ok(true),
            "false" | "False" | "FALSE" => Ok(false),
            _ => Err(Skip::Error(
                BakeErrorKind::Invalid,
                "must be a boolean".to_string(),
            )),
        }
    }

    fn target(
        &self,
        service: &str,
        key: &Node,
        svc: &Node,
        build: &yaml::Entry,
        errors: &mut Vec<Error>,
    ) -> TargetBlock {
        let mut attrs: BTreeMap<String, BakeAttr> = BTreeMap::new();
        let mut first_error: Option<Error> = None;
        let mut put = |attrs: &mut BTreeMap<String, BakeAttr>,
                       name: &str,
                       node: &Node,
                       value: Result<BakeValue, Skip>,
                       errors: &mut Vec<Error>| {
            let origin = self.origin(node);
            match value {
                Ok(value) => {
                    attrs.insert(name.to_string(), BakeAttr { value, origin });
                }
                Err(Skip::NotEvaluated) => errors.push(Error::Bake {
                    kind: BakeErrorKind::NotEvaluated,
                    origin,
                    message: format!(
                        "{name}: not evaluated in Restricted Mode (Compose variables and the .env file are read in a trusted workspace only)"
                    ),
                }),
                Err(Skip::Error(kind, message)) => {
                    let e = Error::Bake {
                        kind,
                        origin,
                        message: format!("services.{service}.build: {name} {message}"),
                    };
                    errors.push(e.clone());
                    first_error.get_or_insert(e);
                }
            }
        };
        let environment = svc.get("environment");
        let env_lookup = |k: &str| -> Option<String> {
            // buildx resolves a bare arg from the service's environment,
            // then the project's.
            if let Some(env) = environment {
                if let Ok(m) = self.map(env, &|_| None) {
                    if let Some(v) = m.get(k) {
                        return Some(v.clone());
                    }
                }
            }
            self.env.and_then(|e| e.get(k).cloned())
        };
        let b = &build.value;
        if b.as_map().is_none() {
            // Short form: the context.
            put(
                &mut attrs,
                "context",
                b,
                self.scalar(b).map(BakeValue::Str),
                errors,
            );
        }
        let str_attrs = [
            ("context", "context"),
            ("dockerfile", "dockerfile"),
            ("dockerfile_inline", "dockerfile-inline"),
            ("target", "target"),
            ("network", "network"),
            ("shm_size", "shm-size"),
        ];
        for (compose, bake) in str_attrs {
            if let Some(n) = b.get(compose) {
                put(
                    &mut attrs,
                    bake,
                    n,
                    self.scalar(n).map(BakeValue::Str),
                    errors,
                );
            }
        }
        let list_attrs = [
            ("cache_from", "cache-from"),
            ("cache_to", "cache-to"),
            ("platforms", "platforms"),
            ("tags", "tags"),
            ("extra_hosts", "extra-hosts"),
        ];
        for (compose, bake) in list_attrs {
            if let Some(n) = b.get(compose) {
                put(
                    &mut attrs,
                    bake,
                    n,
                    self.list(n, false).map(BakeValue::List),
                    errors,
                );
            }
        }
        if let Some(n) = b.get("args") {
            let v = self.map(n, &env_lookup).map(BakeValue::Map);
            put(&mut attrs, "args", n, v, errors);
        }
        if let Some(n) = b.get("labels") {
            let v = self.map(n, &|_| None).map(BakeValue::Map);
            put(&mut attrs, "labels", n, v, errors);
        }
        if let Some(n) = b.get("additional_contexts") {
            let v = self
                .map(n, &|_| None)
                .map(|m| BakeValue::Map(named_contexts(m)));
            put(&mut attrs, "contexts", n, v, errors);
        }
        for (compose, bake) in [
            ("no_cache", "no-cache"),
            ("pull", "pull"),
            ("privileged", "privileged"),
        ] {
            if let Some(n) = b.get(compose) {
                // buildx sets these only when true.
                match self.bool(n) {
                    Ok(false) => {}
                    v => put(&mut attrs, bake, n, v.map(BakeValue::Bool), errors),
                }
            }
        }
        if let Some(n) = b.get("ssh") {
            let v = self.ssh(n).map(BakeValue::List);
            put(&mut attrs, "ssh", n, v, errors);
        }
        if let Some(n) = b.get("secrets") {
            let v = self.secrets(n).map(BakeValue::List);
            put(&mut attrs, "secret", n, v, errors);
        }
        if let Some(n) = b.get("ulimits") {
            let v = self.ulimits(n).map(BakeValue::List);
            put(&mut attrs, "ulimits", n, v, errors);
        }
        let has_tags = matches!(attrs.get("tags"), Some(BakeAttr { value: BakeValue::List(l), .. }) if !l.is_empty());
        if !has_tags {
            if let Some(n) = svc.get("image") {
                let v = self.scalar(n).map(|s| BakeValue::List(vec![s]));
                put(&mut attrs, "tags", n, v, errors);
            }
        }
        // x-bake: lists append, booleans and contexts override.
        let xbake = b.get("x-bake");
        if let Some(x) = xbake.filter(|x| x.as_map().is_some()) {
            for key in [
                "tags",
                "cache-from",
                "cache-to",
                "secret",
                "ssh",
                "platforms",
                "output",
                "no-cache-filter",
            ] {
                let Some(n) = x.get(key) else { continue };
                let v = self.list(n, true);
                let v = v.map(|new| match attrs.get(key) {
                    Some(BakeAttr {
                        value: BakeValue::List(old),
                        ..
                    }) => {
                        let mut all = old.clone();
                        for item in new {
                            if !all.contains(&item) {
                                all.push(item);
                            }
                        }
                        all
                    }
                    _ => new,
                });
                // A list extended by x-bake keeps its Compose origin (the
                // place the user most likely edits).
                let origin_node = match attrs.contains_key(key) {
                    true => None,
                    false => Some(n),
                };
                match (v, origin_node) {
                    (Ok(list), None) => {
                        if let Some(a) = attrs.get_mut(key) {
                            a.value = BakeValue::List(list);
                        }
                    }
                    (v, _) => put(&mut attrs, key, n, v.map(BakeValue::List), errors),
                }
            }
            for key in ["pull", "no-cache"] {
                if let Some(n) = x.get(key) {
                    let v = self.bool(n).map(BakeValue::Bool);
                    put(&mut attrs, key, n, v, errors);
                }
            }
            if let Some(n) = x.get("contexts") {
                let v = self.map(n, &|_| None).map(|m| {
                    let mut all = match attrs.get("contexts") {
                        Some(BakeAttr {
                            value: BakeValue::Map(old),
                            ..
                        }) => old.clone(),
                        _ => BTreeMap::new(),
                    };
                    all.extend(named_contexts(m));
                    BakeValue::Map(all)
                });
                put(&mut attrs, "contexts", n, v, errors);
            }
        }
        let file = &self.files[build.key.file.min(self.files.len() - 1)];
        TargetBlock {
            name: target_name(service),
            origin: file.origin(build.span()),
            name_origin: self.origin(key),
            insertion: self.insertion(build, xbake),
            attrs,
            error: first_error,
        }
    }

    /// Where a new x-bake attribute goes (see the module doc).
    fn insertion(&self, build: &yaml::Entry, xbake: Option<&Node>) -> Insertion {
        let file = &self.files[build.value.file.min(self.files.len() - 1)];
        let text = &file.source.text;
        let column = |at: usize| at - text[..at].rfind('\n').map_or(0, |i| i + 1);
        let make = |span: Span, before: String, after: String| Insertion {
            origin: file.origin(span),
            json: false,
            before,
            after,
        };
        if let Some(x) = xbake.and_then(|x| x.as_map().map(|m| (x, m))) {
            let (node, entries) = x;
            if let Some(last) = entries.last() {
                if !self.text(node).starts_with('{') {
                    let indent = " ".repeat(column(last.key.span.start));
                    return make(
                        Span::empty(node.span.end),
                        format!("\n{indent}"),
                        String::new(),
                    );
                }
            }
        }
        match build.value.as_map() {
            Some(entries) if !entries.is_empty() && !self.text(&build.value).starts_with('{') => {
                let indent = " ".repeat(column(entries[0].key.span.start));
                make(
                    Span::empty(build.value.span.end),
                    format!("\n{indent}x-bake:\n{indent}  "),
                    String::new(),
                )
            }
            _ => {
                // Short form (or flow): rewrite the value as a block mapping.
                let indent = " ".repeat(column(build.key.span.start) + 2);
                let context = match build.value.as_str() {
                    Some(_) => format!("\n{indent}context: {}", self.text(&build.value)),
                    None => String::new(),
                };
                make(
                    build.value.span,
                    format!("{context}\n{indent}x-bake:\n{indent}  "),
                    String::new(),
                )
            }
        }
    }

    /// `ssh`: `default`, `id=path` entries, or a mapping id: path.
    fn ssh(&self, node: &Node) -> Result<Vec<String>, Skip> {
        match &node.value {
            Value::Map(_) => Ok(self
                .map(node, &|_| None)?
                .into_iter()
                .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
                .collect()),
            _ => self.list(node, false),
        }
    }

    /// `secrets`: names (or `{source: name}`) of top-level secrets, as
    /// buildx's `composeToBuildkitSecret`.
    fn secrets(&self, node: &Node) -> Result<Vec<String>, Skip> {
        let Some(items) = node.as_seq() else {
            return Err(Skip::Error(
                BakeErrorKind::Invalid,
                "must be a list".to_string(),
            ));
        };
        let mut out = Vec::new();
        for item in items {
            let source = match item.get("source") {
                Some(s) => self.scalar(s)?,
                None => self.scalar(item)?,
            };
            let top = self.root.get("secrets").and_then(|s| s.get(&source));
            let mut csv = format!("id={source}");
            if let Some(top) = top {
                if top.get("external").and_then(Node::as_bool) == Some(true) {
                    return Err(Skip::Error(
                        BakeErrorKind::Invalid,
                        format!("unsupported external secret {source}"),
                    ));
                }
                if let Some(f) = top.get("file") {
                    csv.push_str(&format!(",src={}", self.scalar(f)?));
                }
                if let Some(e) = top.get("environment") {
                    csv.push_str(&format!(",env={}", self.scalar(e)?));
                }
            }
            out.push(csv);
        }
        Ok(out)
    }

    /// `ulimits`: `name: n` or `name: {soft, hard}`, as `name=soft:hard`.
    fn ulimits(&self, node: &Node) -> Result<Vec<String>, Skip> {
        let Some(entries) = node.as_map() else {
            return Err(Skip::Error(
                BakeErrorKind::Invalid,
                "must be a mapping".to_string(),
            ));
        };
        let mut out = Vec::new();
        for e in entries {
            let Some(name) = e.key.as_str() else { continue };
            let (soft, hard) = match (e.value.get("soft"), e.value.get("hard")) {
                (Some(s), Some(h)) => (self.scalar(s)?, self.scalar(h)?),
                _ => {
                    let v = self.scalar(&e.value)?;
                    (v.clone(), v)
                }
            };
            out.push(format!("{name}={soft}:{hard}"));
        }
        Ok(out)
    }
}

/// `service:NAME` / `target:NAME` contexts name bake targets.
fn named_contexts(m: BTreeMap<String, String>) -> BTreeMap<String, String> {
    m.into_iter()
        .map(|(k, v)| {
            let v = match v.split_once(':') {
                Some(("service" | "target", name)) => format!("target:{}", target_name(name)),
                _ => v,
            };
            (k, v)
        })
        .collect()
}

#[cfg(test)]
mod tests;
