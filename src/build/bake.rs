//! Bake files: `docker-bake.hcl` / `docker-bake.json` and their
//! `.override` companions, read as `docker buildx bake` reads them, into
//! targets whose every attribute remembers where it was written (file, byte
//! span, UTF-16 range) so diagnostics and code lenses can point at it.
//!
//! What is followed from buildx: the default file names and their order
//! (JSON before HCL, overrides last), all files merged into one definition
//! (a later block of the same target overrides attribute by attribute),
//! `variable` blocks with defaults that the environment overrides (typed
//! after the default: bool and number defaults parse the environment value),
//! `${VAR}` interpolation in HCL expressions and in JSON strings, `group`s
//! (nested), `inherits` (several levels, parents in order, the child last;
//! `args` and `labels` merge key by key), the `default` group / target, and
//! path resolution (`context` relative to the bake file's folder,
//! `dockerfile` relative to the context).
//!
//! HCL is parsed by `hcl-edit` (it keeps the byte span of every attribute and
//! block) and evaluated by `hcl-rs` (templates, conditionals, operators; no
//! functions are declared, so `function` blocks and built-in functions are not
//! supported). JSON is parsed by `jsonc-parser`, which gives the byte range of
//! every property. [`Bake::parse_static`] reads the same files without any
//! evaluation (literal values only, no variables, no environment), for a
//! workspace that is not trusted. Attributes buildx knows and `BuildSpec` lacks (`pull`,
//! `ssh`, …) are kept as parsed but not used.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use hcl::eval::Evaluate;
use hcl_edit::Span as _;

use crate::dockerfile::{LineIndex, PositionEncoding, Range, Span};

use super::Error;

/// The file names `docker buildx bake` looks for, in its reading order
/// (Compose files come before them: `build::files`).
pub const BAKE_FILE_NAMES: [&str; 4] = [
    "docker-bake.json",
    "docker-bake.hcl",
    "docker-bake.override.json",
    "docker-bake.override.hcl",
];

/// Whether a path names a bake file (by its file name only).
pub fn is_bake_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| BAKE_FILE_NAMES.contains(&n))
}

/// The paths a workspace folder's bake files would have, in buildx's
/// reading order; the caller reads those that exist (this module does no
/// I/O).
pub fn bake_file_paths(folder: &Path) -> Vec<PathBuf> {
    BAKE_FILE_NAMES.iter().map(|n| folder.join(n)).collect()
}

/// Where something was written in a bake file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub file: PathBuf,
    /// Byte span in the file.
    pub span: Span,
    /// The same span as LSP positions (UTF-16 columns).
    pub range: Range,
    /// The same with UTF-8 columns, for clients that chose them.
    pub range_utf8: Range,
}

impl Origin {
    /// The span as positions in the client's encoding.
    pub fn range_in(&self, encoding: PositionEncoding) -> Range {
        match encoding {
            PositionEncoding::Utf16 => self.range,
            PositionEncoding::Utf8 => self.range_utf8,
        }
    }
}

/// What went wrong in a bake file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BakeErrorKind {
    /// The file could not be read.
    Read,
    /// HCL or JSON syntax.
    Syntax,
    /// An expression or a variable that cannot be evaluated.
    Eval,
    /// An attribute of the wrong type or with an invalid value.
    Invalid,
    /// A target or group name nobody defines.
    UnknownTarget,
    /// `inherits` or `group` targets that lead back to themselves.
    Cycle,
    /// An expression left unevaluated by [`Bake::parse_static`].
    NotEvaluated,
}

/// One evaluated attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BakeValue {
    Null,
    Bool(bool),
    /// Strings, and numbers as written.
    Str(String),
    List(Vec<String>),
    Map(BTreeMap<String, String>),
}

impl BakeValue {
    fn type_name(&self) -> &'static str {
        match self {
            BakeValue::Null => "null",
            BakeValue::Bool(_) => "a bool",
            BakeValue::Str(_) => "a string",
            BakeValue::List(_) => "a list",
            BakeValue::Map(_) => "a map",
        }
    }
}

/// An attribute of a target: its value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BakeAttr {
    pub value: BakeValue,
    pub origin: Origin,
}

/// A replacement of text in a bake file (a quick fix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BakeEdit {
    /// The replaced text (empty span: an insertion).
    pub origin: Origin,
    pub new_text: String,
}

/// Where a new attribute goes in a target block: an empty span, and the
/// text around the attribute that keeps the file's syntax valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insertion {
    pub origin: Origin,
    pub json: bool,
    pub before: String,
    pub after: String,
}

impl Insertion {
    /// The edit adding `key = value` (HCL) or `"key": value` (JSON); the
    /// value is written the same in both (a list of strings, a string).
    pub fn attribute(&self, key: &str, value: &str) -> BakeEdit {
        let attr = if is_yaml(&self.origin.file) {
            // A Compose file: the insertion sits in the build's `x-bake`.
            format!("{key}: {value}")
        } else if self.json {
            format!("\"{key}\": {value}")
        } else {
            format!("{key} = {value}")
        };
        BakeEdit {
            origin: self.origin.clone(),
            new_text: format!("{}{attr}{}", self.before, self.after),
        }
    }
}

/// An edit replacing a whole attribute (`cache-to = [...]`) with a new
/// value, in the attribute's own syntax.
pub fn replace_attribute(origin: &Origin, key: &str, value: &str) -> BakeEdit {
    if is_yaml(&origin.file) {
        // A Compose attribute's origin is its value alone.
        return BakeEdit {
            origin: origin.clone(),
            new_text: value.to_string(),
        };
    }
    let json = origin
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let new_text = if json {
        format!("\"{key}\": {value}")
    } else {
        format!("{key} = {value}")
    };
    BakeEdit {
        origin: origin.clone(),
        new_text,
    }
}

/// Whether an origin lies in a Compose (YAML) file, whose targets
/// `build::compose` reads into the same blocks.
fn is_yaml(file: &Path) -> bool {
    file.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// One `target "name" { … }` block as written (a target may be written in
/// several blocks or files; [`Bake::resolve`] merges them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetBlock {
    pub name: String,
    /// The whole block (for the `▶ Bake target` lens).
    pub origin: Origin,
    /// The span of the block's name label.
    pub name_origin: Origin,
    /// Where a new attribute goes.
    pub insertion: Insertion,
    pub attrs: BTreeMap<String, BakeAttr>,
    /// The first attribute that could not be evaluated (left out of
    /// `attrs`); resolving the target returns it.
    pub error: Option<Error>,
}

/// One `group "name" { targets = [...] }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupBlock {
    pub name: String,
    pub origin: Origin,
    pub targets: Vec<String>,
    /// The `targets` attribute, when written.
    pub targets_origin: Option<Origin>,
    /// Why `targets` could not be read; expanding the group returns it.
    pub error: Option<Error>,
}

/// The parsed and merged bake definition of one folder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bake {
    /// The files, in reading order.
    pub files: Vec<PathBuf>,
    /// Every target block of every file, in reading order.
    pub targets: Vec<TargetBlock>,
    /// Every group block, in reading order.
    pub groups: Vec<GroupBlock>,
    /// The variables' final values (default, else the environment).
    pub variables: BTreeMap<String, String>,
    /// Evaluation errors (variables, attributes). They spoil only the
    /// targets and groups that use what failed, and are returned again when
    /// those are resolved; the rest of the definition stays usable (a bake
    /// file with one unsupported function still configures the others).
    pub errors: Vec<Error>,
}

/// A target with its blocks merged and its `inherits` applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTarget {
    pub name: String,
    /// The target's last block (where a lens or a location points).
    pub block: Origin,
    /// The name label of that block.
    pub name_origin: Origin,
    /// Where a new attribute goes in that block.
    pub insertion: Insertion,
    /// The folder paths resolve against: the folder of the file holding the
    /// target's last block.
    pub base_dir: PathBuf,
    pub attrs: BTreeMap<String, BakeAttr>,
}

impl ResolvedTarget {
    pub fn attr(&self, key: &str) -> Option<&BakeAttr> {
        self.attrs.get(key)
    }

    /// A string attribute (`context`, `dockerfile`, `target`).
    pub fn string(&self, key: &str) -> Result<Option<String>, Error> {
        match self.attrs.get(key) {
            None => Ok(None),
            Some(BakeAttr {
                value: BakeValue::Null,
                ..
            }) => Ok(None),
            Some(BakeAttr {
                value: BakeValue::Str(s),
                ..
            }) => Ok(Some(s.clone())),
            Some(a) => Err(wrong_type(key, "a string", a)),
        }
    }

    /// A list attribute (`tags`, `platforms`, `output`, `cache-to`, …); a
    /// single string counts as a list of one, as buildx's JSON allows.
    pub fn list(&self, key: &str) -> Result<Vec<String>, Error> {
        match self.attrs.get(key) {
            None => Ok(Vec::new()),
            Some(a) => match &a.value {
                BakeValue::Null => Ok(Vec::new()),
                BakeValue::List(l) => Ok(l.clone()),
                BakeValue::Str(s) => Ok(vec![s.clone()]),
                _ => Err(wrong_type(key, "a list of strings", a)),
            },
        }
    }

    /// A map attribute (`args`, `labels`).
    pub fn map(&self, key: &str) -> Result<BTreeMap<String, String>, Error> {
        match self.attrs.get(key) {
            None => Ok(BTreeMap::new()),
            Some(a) => match &a.value {
                BakeValue::Null => Ok(BTreeMap::new()),
                BakeValue::Map(m) => Ok(m.clone()),
                _ => Err(wrong_type(key, "a map", a)),
            },
        }
    }

    /// A bool attribute (`no-cache`, `pull`).
    pub fn bool(&self, key: &str) -> Result<Option<bool>, Error> {
        match self.attrs.get(key) {
            None => Ok(None),
            Some(a) => match &a.value {
                BakeValue::Null => Ok(None),
                BakeValue::Bool(b) => Ok(Some(*b)),
                BakeValue::Str(s) if s == "true" || s == "false" => Ok(Some(s == "true")),
                _ => Err(wrong_type(key, "a bool", a)),
            },
        }
    }

    /// The build context: `context` (default `.`) against the bake file's
    /// folder.
    pub fn context_dir(&self) -> Result<PathBuf, Error> {
        let context = self.string("context")?.unwrap_or_else(|| ".".to_string());
        // `cwd://` (BAKE_CMD_CONTEXT) is the folder bake runs in: ours.
        let context = context.strip_prefix("cwd://").unwrap_or(&context);
        Ok(normalize(&self.base_dir.join(context)))
    }

    /// The Dockerfile: `dockerfile` (default `Dockerfile`) against the
    /// context, as buildx joins them; `cwd://` against the bake folder.
    pub fn dockerfile_path(&self) -> Result<PathBuf, Error> {
        let dockerfile = self
            .string("dockerfile")?
            .unwrap_or_else(|| "Dockerfile".to_string());
        if let Some(local) = dockerfile.strip_prefix("cwd://") {
            return Ok(normalize(&self.base_dir.join(local)));
        }
        Ok(normalize(&self.context_dir()?.join(dockerfile)))
    }
}

fn wrong_type(key: &str, expected: &str, attr: &BakeAttr) -> Error {
    Error::Bake {
        kind: BakeErrorKind::Invalid,
        origin: attr.origin.clone(),
        message: format!(
            "attribute \"{key}\" must be {expected}, not {}",
            attr.value.type_name()
        ),
    }
}

/// Removes `.` components and folds `..` lexically, so paths from bake files
/// compare equal to the editor's paths.
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let popped =
                    matches!(out.components().next_back(), Some(Component::Normal(_))) && out.pop();
                if !popped && !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// One bake file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BakeSource {
    pub path: PathBuf,
    pub text: String,
}

impl Bake {
    /// Parses bake files given with their text, merged in the order given.
    /// `env` overrides variable defaults, as the environment does for buildx.
    pub fn parse(sources: &[BakeSource], env: &BTreeMap<String, String>) -> Result<Bake, Error> {
        Bake::parse_with(sources, Some(env))
    }

    /// Parses bake files without evaluating anything (for a workspace that
    /// is not trusted): attribute values written as literals (strings
    /// without `${…}` or `%{…}`, numbers, bools, null, lists and objects of
    /// those) are taken as written; any other expression (a variable,
    /// function call, interpolation, operator, conditional, `for`) is left
    /// out with a [`BakeErrorKind::NotEvaluated`] error, and neither the
    /// `variable` blocks nor the environment are read. Nothing the file
    /// writes can make this read the machine or take more than linear time.
    pub fn parse_static(sources: &[BakeSource]) -> Result<Bake, Error> {
        Bake::parse_with(sources, None)
    }

    /// `env: None`: static (see [`Bake::parse_static`]).
    fn parse_with(
        sources: &[BakeSource],
        env: Option<&BTreeMap<String, String>>,
    ) -> Result<Bake, Error> {
        let files: Vec<ParsedFile> = sources
            .iter()
            .map(ParsedFile::parse)
            .collect::<Result<_, _>>()?;
        let (variables, var_errors) = match env {
            Some(env) => evaluate_variables(&files, env)?,
            None => Default::default(),
        };
        let ctx = context_of(&variables);
        let mut bake = Bake {
            files: sources.iter().map(|s| s.path.clone()).collect(),
            variables: variables
                .iter()
                .map(|(k, v)| (k.clone(), value_to_string(v)))
                .collect(),
            errors: var_errors.values().cloned().collect(),
            ..Bake::default()
        };
        let eval = Evaluator {
            ctx: &ctx,
            var_errors: &var_errors,
            static_only: env.is_none(),
        };
        for file in &files {
            file.collect(&eval, &mut bake)?;
        }
        Ok(bake)
    }

    /// Whether there is nothing to build from.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The distinct target names, in order of first appearance.
    pub fn target_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for t in &self.targets {
            if !names.contains(&t.name) {
                names.push(t.name.clone());
            }
        }
        names
    }

    /// The target blocks written in one file (for its lenses).
    pub fn target_blocks_in<'a>(&'a self, file: &'a Path) -> impl Iterator<Item = &'a TargetBlock> {
        self.targets.iter().filter(move |t| t.origin.file == file)
    }

    /// Where to point for errors about the whole definition.
    fn start_origin(&self) -> Origin {
        Origin {
            file: self.files.first().cloned().unwrap_or_default(),
            span: Span::empty(0),
            range: Range::default(),
            range_utf8: Range::default(),
        }
    }

    /// The target names a name stands for: a group's targets (nested groups
    /// expanded, without repeats), or the target itself. `default` with no
    /// such group or target is an error, as for buildx.
    pub fn expand(&self, name: &str) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        let mut stack = Vec::new();
        self.expand_into(name, None, &mut stack, &mut out)?;
        Ok(out)
    }

    fn expand_into(
        &self,
        name: &str,
        referrer: Option<&Origin>,
        stack: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<(), Error> {
        let groups: Vec<&GroupBlock> = self.groups.iter().filter(|g| g.name == name).collect();
        if groups.is_empty() {
            if self.targets.iter().any(|t| t.name == name) {
                if !out.iter().any(|n| n == name) {
                    out.push(name.to_string());
                }
                return Ok(());
            }
            return Err(Error::Bake {
                kind: BakeErrorKind::UnknownTarget,
                origin: referrer.cloned().unwrap_or_else(|| self.start_origin()),
                message: format!("failed to find target \"{name}\""),
            });
        }
        if stack.iter().any(|s| s == name) {
            let g = groups[groups.len() - 1];
            let mut chain = stack.clone();
            chain.push(name.to_string());
            return Err(Error::Bake {
                kind: BakeErrorKind::Cycle,
                origin: referrer.cloned().unwrap_or_else(|| g.origin.clone()),
                message: format!("group cycle: {}", chain.join(" -> ")),
            });
        }
        // A later group block replaces the `targets` of an earlier one.
        if let Some(e) = groups.iter().find_map(|g| g.error.clone()) {
            return Err(e);
        }
        let Some(g) = groups.iter().rev().find(|g| g.targets_origin.is_some()) else {
            return Ok(());
        };
        stack.push(name.to_string());
        for t in &g.targets {
            self.expand_into(t, g.targets_origin.as_ref(), stack, out)?;
        }
        stack.pop();
        Ok(())
    }

    /// The targets `docker buildx bake` builds without arguments: the
    /// `default` group or target.
    pub fn default_targets(&self) -> Result<Vec<String>, Error> {
        self.expand("default")
    }

    /// A target with its blocks merged and `inherits` applied.
    pub fn resolve(&self, name: &str) -> Result<ResolvedTarget, Error> {
        let mut stack = Vec::new();
        self.resolve_inner(name, None, &mut stack)
    }

    fn resolve_inner(
        &self,
        name: &str,
        referrer: Option<&Origin>,
        stack: &mut Vec<String>,
    ) -> Result<ResolvedTarget, Error> {
        let blocks: Vec<&TargetBlock> = self.targets.iter().filter(|t| t.name == name).collect();
        let Some(last) = blocks.last() else {
            let message = match referrer {
                Some(_) => format!("inherits unknown target \"{name}\""),
                None => format!("failed to find target \"{name}\""),
            };
            return Err(Error::Bake {
                kind: BakeErrorKind::UnknownTarget,
                origin: referrer.cloned().unwrap_or_else(|| self.start_origin()),
                message,
            });
        };
        if stack.iter().any(|s| s == name) {
            let mut chain = stack.clone();
            chain.push(name.to_string());
            return Err(Error::Bake {
                kind: BakeErrorKind::Cycle,
                origin: referrer.cloned().unwrap_or_else(|| last.origin.clone()),
                message: format!("inherits cycle: {}", chain.join(" -> ")),
            });
        }
        if let Some(e) = blocks.iter().find_map(|b| b.error.clone()) {
            return Err(e);
        }
        // The target's own blocks, merged in reading order.
        let mut own: BTreeMap<String, BakeAttr> = BTreeMap::new();
        for b in &blocks {
            for (k, v) in &b.attrs {
                merge_attr(&mut own, k, v.clone());
            }
        }
        let parents = match own.get("inherits") {
            None => Vec::new(),
            Some(a) => match &a.value {
                BakeValue::Null => Vec::new(),
                BakeValue::List(l) => l.clone(),
                BakeValue::Str(s) => vec![s.clone()],
                _ => return Err(wrong_type("inherits", "a list of target names", a)),
            },
        };
        let inherits_origin = own.get("inherits").map(|a| a.origin.clone());
        stack.push(name.to_string());
        let mut attrs: BTreeMap<String, BakeAttr> = BTreeMap::new();
        for parent in &parents {
            let p = self.resolve_inner(parent, inherits_origin.as_ref(), stack)?;
            for (k, v) in p.attrs {
                merge_attr(&mut attrs, &k, v);
            }
        }
        stack.pop();
        for (k, v) in own {
            if k != "inherits" {
                merge_attr(&mut attrs, &k, v);
            }
        }
        let base_dir = last
            .origin
            .file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Ok(ResolvedTarget {
            name: name.to_string(),
            block: last.origin.clone(),
            name_origin: last.name_origin.clone(),
            insertion: last.insertion.clone(),
            base_dir,
            attrs,
        })
    }
}

/// A later attribute overrides an earlier one, as buildx's `Target.Merge`:
/// maps (`args`, `labels`) merge key by key, the later key winning, and
/// `cache-from`, `ssh` and `attest` lists append without repeats (an `ssh`
/// id or `attest` type given again then replaces the earlier one in
/// `config`, as buildx's `Normalize`); other lists are replaced.
fn merge_attr(into: &mut BTreeMap<String, BakeAttr>, key: &str, attr: BakeAttr) {
    let merged = match (into.get(key).map(|a| &a.value), &attr.value) {
        (Some(BakeValue::Map(old)), BakeValue::Map(new)) => {
            let mut merged = old.clone();
            merged.extend(new.iter().map(|(k, v)| (k.clone(), v.clone())));
            Some(BakeValue::Map(merged))
        }
        (Some(BakeValue::List(old)), BakeValue::List(new))
            if matches!(key, "cache-from" | "ssh" | "attest") =>
        {
            let mut merged = old.clone();
            for item in new {
                if !merged.contains(item) {
                    merged.push(item.clone());
                }
            }
            Some(BakeValue::List(merged))
        }
        _ => None,
    };
    let attr = match merged {
        Some(value) => BakeAttr {
            value,
            origin: attr.origin,
        },
        None => attr,
    };
    into.insert(key.to_string(), attr);
}

/// One file, parsed but not yet evaluated.
struct ParsedFile<'a> {
    source: &'a BakeSource,
    lines: LineIndex,
    syntax: Syntax<'a>,
}

enum Syntax<'a> {
    Hcl(hcl_edit::structure::Body),
    Json(jsonc_parser::ast::Object<'a>),
}

/// A variable before evaluation.
enum VarDefault<'b> {
    Hcl(hcl::Expression),
    Json(&'b jsonc_parser::ast::Value<'b>),
    None,
}

struct VarDecl<'a> {
    default: VarDefault<'a>,
    origin: Origin,
}

impl<'a> ParsedFile<'a> {
    fn parse(source: &'a BakeSource) -> Result<ParsedFile<'a>, Error> {
        let lines = LineIndex::new(&source.text);
        let is_json = source
            .path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let syntax = if is_json {
            let parsed = jsonc_parser::parse_to_ast(
                &source.text,
                &jsonc_parser::CollectOptions::default(),
                // buildx reads JSON strictly (HCL's JSON syntax).
                &jsonc_parser::ParseOptions {
                    allow_comments: false,
                    allow_loose_object_property_names: false,
                    allow_trailing_commas: false,
                    allow_missing_commas: false,
                    allow_single_quoted_strings: false,
                    allow_hexadecimal_numbers: false,
                    allow_unary_plus_numbers: false,
                    allow_bare_decimal_point_numbers: false,
                    allow_non_finite_numbers: false,
                    allow_extended_string_escapes: false,
                },
            )
            .map_err(|e| {
                let r = e.range();
                syntax_error(
                    source,
                    &lines,
                    Span::new(r.start, r.end),
                    e.kind().to_string(),
                )
            })?;
            match parsed.value {
                Some(jsonc_parser::ast::Value::Object(o)) => Syntax::Json(o),
                None => Syntax::Json(jsonc_parser::ast::Object {
                    range: jsonc_parser::common::Range { start: 0, end: 0 },
                    properties: Vec::new(),
                }),
                Some(other) => {
                    let r = json_range(&other);
                    return Err(syntax_error(
                        source,
                        &lines,
                        r,
                        "a bake file in JSON must hold an object".to_string(),
                    ));
                }
            }
        } else {
            let body = hcl_edit::parser::parse_body(&source.text).map_err(|e| {
                let at = e.location().offset();
                syntax_error(source, &lines, Span::new(at, at), e.message().to_string())
            })?;
            Syntax::Hcl(body)
        };
        Ok(ParsedFile {
            source,
            lines,
            syntax,
        })
    }

    fn origin(&self, span: Span) -> Origin {
        Origin {
            file: self.source.path.clone(),
            span,
            range: self.lines.range(span, PositionEncoding::Utf16),
            range_utf8: self.lines.range(span, PositionEncoding::Utf8),
        }
    }

    fn origin_of(&self, span: Option<std::ops::Range<usize>>) -> Origin {
        let span = span.map_or(Span::empty(0), |r| Span::new(r.start, r.end));
        self.origin(span)
    }

    /// The file's `variable` blocks.
    fn variables(&self) -> Result<Vec<(String, VarDecl<'_>)>, Error> {
        let mut out = Vec::new();
        match &self.syntax {
            Syntax::Hcl(body) => {
                for block in body.get_blocks("variable") {
                    let origin = self.origin_of(block.span());
                    let name = single_label(block).ok_or_else(|| Error::Bake {
                        kind: BakeErrorKind::Syntax,
                        origin: origin.clone(),
                        message: "a variable block needs one name label".to_string(),
                    })?;
                    let default = match block.body.get_attribute("default") {
                        Some(a) => VarDefault::Hcl(hcl::Expression::from(a.value.clone())),
                        None => VarDefault::None,
                    };
                    out.push((name, VarDecl { default, origin }));
                }
            }
            Syntax::Json(root) => {
                for prop in section(root, "variable") {
                    let origin = self.origin(json_span(prop.range));
                    let default = match &prop.value {
                        jsonc_parser::ast::Value::Object(o) => o
                            .properties
                            .iter()
                            .find(|p| p.name.as_str() == "default")
                            .map_or(VarDefault::None, |p| VarDefault::Json(&p.value)),
                        _ => VarDefault::None,
                    };
                    out.push((prop.name.as_str().to_string(), VarDecl { default, origin }));
                }
            }
        }
        Ok(out)
    }

    /// Adds the file's targets and groups to `bake`.
    fn collect(&self, eval: &Evaluator<'_>, bake: &mut Bake) -> Result<(), Error> {
        match &self.syntax {
            Syntax::Hcl(body) => {
                for block in body.blocks() {
                    let kind = block.ident.as_str();
                    if kind != "target" && kind != "group" {
                        continue;
                    }
                    let origin = self.origin_of(block.span());
                    let name = single_label(block).ok_or_else(|| Error::Bake {
                        kind: BakeErrorKind::Syntax,
                        origin: origin.clone(),
                        message: format!("a {kind} block needs one name label"),
                    })?;
                    let name_origin = self.origin_of(block.labels.first().and_then(|l| l.span()));
                    let mut attrs = BTreeMap::new();
                    let mut error = None;
                    for attr in block.body.attributes() {
                        let key = attr.key.as_str();
                        let attr_origin = self.origin_of(attr.span());
                        let expr = hcl::Expression::from(attr.value.clone());
                        if eval.static_only && !is_literal(&expr) {
                            record(&mut error, not_evaluated(key, attr_origin), bake);
                            continue;
                        }
                        match expr.evaluate(eval.ctx) {
                            Ok(value) => {
                                attrs.insert(
                                    key.to_string(),
                                    BakeAttr {
                                        value: from_hcl_value(&value),
                                        origin: attr_origin,
                                    },
                                );
                            }
                            Err(e) => {
                                let e = eval.error(key, attr_origin, EvalFailure::from(e));
                                record(&mut error, e, bake);
                            }
                        }
                    }
                    let insertion = self.hcl_insertion(origin.span);
                    let parts = BlockParts {
                        name,
                        origin,
                        name_origin,
                        insertion,
                        attrs,
                        error,
                    };
                    push_block(kind, parts, bake);
                }
            }
            Syntax::Json(root) => {
                for kind in ["group", "target"] {
                    for prop in section(root, kind) {
                        let origin = self.origin(json_span(prop.range));
                        let name_origin = self.origin(json_name_span(&prop.name));
                        let jsonc_parser::ast::Value::Object(obj) = &prop.value else {
                            return Err(Error::Bake {
                                kind: BakeErrorKind::Invalid,
                                origin,
                                message: format!(
                                    "{kind} \"{}\" must be an object",
                                    prop.name.as_str()
                                ),
                            });
                        };
                        let mut attrs = BTreeMap::new();
                        let mut error = None;
                        for p in &obj.properties {
                            let key = p.name.as_str();
                            let attr_origin = self.origin(json_span(p.range));
                            if eval.static_only && !is_json_literal(&p.value) {
                                record(&mut error, not_evaluated(key, attr_origin), bake);
                                continue;
                            }
                            match from_json(&p.value, eval.ctx) {
                                Ok(value) => {
                                    attrs.insert(
                                        key.to_string(),
                                        BakeAttr {
                                            value: from_hcl_value(&value),
                                            origin: attr_origin,
                                        },
                                    );
                                }
                                Err(e) => {
                                    let e = eval.error(key, attr_origin, e);
                                    record(&mut error, e, bake);
                                }
                            }
                        }
                        let parts = BlockParts {
                            name: prop.name.as_str().to_string(),
                            origin,
                            name_origin,
                            insertion: self.json_insertion(obj),
                            attrs,
                            error,
                        };
                        push_block(kind, parts, bake);
                    }
                }
            }
        }
        Ok(())
    }

    /// A new attribute of an HCL block goes on its own line before the
    /// closing brace.
    fn hcl_insertion(&self, block: Span) -> Insertion {
        let text = &self.source.text;
        let close = block.end.saturating_sub(1);
        let before = text.get(..close).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let brace_alone = before[line_start..].trim().is_empty() && line_start > block.start;
        let (at, before) = if brace_alone {
            (line_start, "  ".to_string())
        } else {
            (close, "\n  ".to_string())
        };
        Insertion {
            origin: self.origin(Span::empty(at)),
            json: false,
            before,
            after: "\n".to_string(),
        }
    }

    /// A new property of a JSON target goes first, after the `{`.
    fn json_insertion(&self, obj: &jsonc_parser::ast::Object<'_>) -> Insertion {
        let at = obj.range.start + 1;
        Insertion {
            origin: self.origin(Span::empty(at)),
            json: true,
            before: String::new(),
            after: if obj.properties.is_empty() {
                String::new()
            } else {
                ", ".to_string()
            },
        }
    }
}

/// A block of a bake file, evaluated.
struct BlockParts {
    name: String,
    origin: Origin,
    name_origin: Origin,
    insertion: Insertion,
    attrs: BTreeMap<String, BakeAttr>,
    error: Option<Error>,
}

/// Keeps the first error of a block, and every error in the bake's list.
fn record(first: &mut Option<Error>, e: Error, bake: &mut Bake) {
    bake.errors.push(e.clone());
    first.get_or_insert(e);
}

fn push_block(kind: &str, parts: BlockParts, bake: &mut Bake) {
    let BlockParts {
        name,
        origin,
        name_origin,
        insertion,
        mut attrs,
        mut error,
    } = parts;
    if kind == "target" {
        bake.targets.push(TargetBlock {
            name,
            origin,
            name_origin,
            insertion,
            attrs,
            error,
        });
        return;
    }
    let (targets, targets_origin) = match attrs.remove("targets") {
        None => (Vec::new(), None),
        Some(a) => match a.value {
            BakeValue::List(l) => (l, Some(a.origin)),
            BakeValue::Str(s) => (vec![s], Some(a.origin)),
            BakeValue::Null => (Vec::new(), Some(a.origin)),
            _ => {
                let e = wrong_type("targets", "a list of target names", &a);
                record(&mut error, e, bake);
                (Vec::new(), Some(a.origin))
            }
        },
    };
    bake.groups.push(GroupBlock {
        name,
        origin,
        targets,
        targets_origin,
        error,
    });
}

/// Evaluation of attribute values: the variables, and the errors of the
/// variables that failed (an attribute using one reports that error).
struct Evaluator<'a> {
    ctx: &'a hcl::eval::Context<'a>,
    var_errors: &'a BTreeMap<String, Error>,
    /// Literal values only ([`Bake::parse_static`]).
    static_only: bool,
}

fn not_evaluated(key: &str, origin: Origin) -> Error {
    Error::Bake {
        kind: BakeErrorKind::NotEvaluated,
        origin,
        message: format!(
            "{key}: not evaluated in Restricted Mode (variables, functions and expressions of bake files are evaluated in a trusted workspace only)"
        ),
    }
}

/// Whether an HCL expression is a literal value (see [`Bake::parse_static`]).
fn is_literal(e: &hcl::Expression) -> bool {
    use hcl::Expression as E;
    match e {
        E::Null | E::Bool(_) | E::Number(_) | E::String(_) => true,
        E::Array(items) => items.iter().all(is_literal),
        E::Object(o) => o.iter().all(|(k, v)| {
            let key = match k {
                hcl::ObjectKey::Identifier(_) => true,
                hcl::ObjectKey::Expression(k) => is_literal(k),
                _ => false,
            };
            key && is_literal(v)
        }),
        // A heredoc or quoted string with only literal parts (`$${` escapes).
        E::TemplateExpr(t) => hcl::Template::from_expr(t).is_ok_and(|t| literal_template(&t)),
        _ => false,
    }
}

fn literal_template(t: &hcl::Template) -> bool {
    t.elements()
        .iter()
        .all(|e| matches!(e, hcl::template::Element::Literal(_)))
}

/// Whether a JSON value holds no template directive or interpolation.
fn is_json_literal(v: &jsonc_parser::ast::Value<'_>) -> bool {
    use jsonc_parser::ast::Value as J;
    match v {
        J::StringLit(s) => s
            .value
            .parse::<hcl::Template>()
            .is_ok_and(|t| literal_template(&t)),
        J::Array(a) => a.elements.iter().all(is_json_literal),
        J::Object(o) => o.properties.iter().all(|p| is_json_literal(&p.value)),
        J::NumberLit(_) | J::BooleanLit(_) | J::NullKeyword(_) => true,
    }
}

impl Evaluator<'_> {
    fn error(&self, key: &str, origin: Origin, failure: EvalFailure) -> Error {
        if let Some(Error::Bake { kind, message, .. }) = failure
            .undefined_var
            .as_ref()
            .and_then(|v| self.var_errors.get(v))
        {
            return Error::Bake {
                kind: *kind,
                origin,
                message: format!("{key}: {message}"),
            };
        }
        Error::Bake {
            kind: BakeErrorKind::Eval,
            origin,
            message: format!("{key}: {}", failure.message),
        }
    }
}

/// Why an expression could not be evaluated.
struct EvalFailure {
    message: String,
    /// The variable it named that is not defined.
    undefined_var: Option<String>,
}

impl From<hcl::eval::Error> for EvalFailure {
    fn from(e: hcl::eval::Error) -> EvalFailure {
        let undefined_var = match e.kind() {
            hcl::eval::ErrorKind::UndefinedVar(v) => Some(v.as_str().to_string()),
            _ => None,
        };
        // Without the expression hcl-rs appends (the attribute's range
        // already shows it, and lists span several lines).
        let message = e.kind().to_string();
        EvalFailure {
            message,
            undefined_var,
        }
    }
}

impl From<String> for EvalFailure {
    fn from(message: String) -> EvalFailure {
        EvalFailure {
            message,
            undefined_var: None,
        }
    }
}

fn syntax_error(source: &BakeSource, lines: &LineIndex, span: Span, message: String) -> Error {
    Error::Bake {
        kind: BakeErrorKind::Syntax,
        origin: Origin {
            file: source.path.clone(),
            span,
            range: lines.range(span, PositionEncoding::Utf16),
            range_utf8: lines.range(span, PositionEncoding::Utf8),
        },
        message,
    }
}

fn single_label(block: &hcl_edit::structure::Block) -> Option<String> {
    match block.labels.as_slice() {
        [label] => Some(label.as_str().to_string()),
        _ => None,
    }
}

/// The properties of a top-level JSON section (`"target": {…}`).
fn section<'o, 'a>(
    root: &'o jsonc_parser::ast::Object<'a>,
    name: &'o str,
) -> impl Iterator<Item = &'o jsonc_parser::ast::ObjectProp<'a>> {
    root.properties
        .iter()
        .filter(move |p| p.name.as_str() == name)
        .flat_map(|p| match &p.value {
            jsonc_parser::ast::Value::Object(o) => o.properties.iter(),
            _ => [].iter(),
        })
}

fn json_span(r: jsonc_parser::common::Range) -> Span {
    Span::new(r.start, r.end)
}

fn json_name_span(name: &jsonc_parser::ast::ObjectPropName<'_>) -> Span {
    match name {
        jsonc_parser::ast::ObjectPropName::String(s) => json_span(s.range),
        jsonc_parser::ast::ObjectPropName::Word(w) => json_span(w.range),
    }
}

fn json_range(v: &jsonc_parser::ast::Value<'_>) -> Span {
    use jsonc_parser::ast::Value as J;
    json_span(match v {
        J::StringLit(s) => s.range,
        J::NumberLit(n) => n.range,
        J::BooleanLit(b) => b.range,
        J::Object(o) => o.range,
        J::Array(a) => a.range,
        J::NullKeyword(n) => n.range,
    })
}

/// A JSON value as an HCL value, strings evaluated as templates (buildx
/// reads its JSON through HCL's JSON syntax, where strings interpolate).
fn from_json(
    v: &jsonc_parser::ast::Value<'_>,
    ctx: &hcl::eval::Context<'_>,
) -> Result<hcl::Value, EvalFailure> {
    use jsonc_parser::ast::Value as J;
    Ok(match v {
        J::StringLit(s) => {
            let template: hcl::Template = s
                .value
                .parse()
                .map_err(|e: hcl::Error| EvalFailure::from(e.to_string()))?;
            hcl::Value::String(template.evaluate(ctx)?)
        }
        J::NumberLit(n) => n
            .value
            .parse::<i64>()
            .map(hcl::Value::from)
            .or_else(|_| n.value.parse::<f64>().map(hcl::Value::from))
            .map_err(|e| EvalFailure::from(e.to_string()))?,
        J::BooleanLit(b) => hcl::Value::Bool(b.value),
        J::NullKeyword(_) => hcl::Value::Null,
        J::Array(a) => hcl::Value::Array(
            a.elements
                .iter()
                .map(|e| from_json(e, ctx))
                .collect::<Result<_, _>>()?,
        ),
        J::Object(o) => {
            let mut map = hcl::Map::new();
            for p in &o.properties {
                map.insert(p.name.as_str().to_string(), from_json(&p.value, ctx)?);
            }
            hcl::Value::Object(map)
        }
    })
}

/// An evaluated HCL value as a bake attribute value. Objects inside lists
/// (`cache-to = [{type = "registry", ref = "…"}]`) become buildx's CSV form.
fn from_hcl_value(v: &hcl::Value) -> BakeValue {
    match v {
        hcl::Value::Null => BakeValue::Null,
        hcl::Value::Bool(b) => BakeValue::Bool(*b),
        hcl::Value::Array(items) => BakeValue::List(
            items
                .iter()
                .filter(|i| !i.is_null())
                .map(|i| match i {
                    hcl::Value::Object(o) => object_to_csv(o),
                    other => value_to_string(other),
                })
                .collect(),
        ),
        hcl::Value::Object(o) => BakeValue::Map(
            o.iter()
                // buildx: a null arg means "not set here".
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), value_to_string(v)))
                .collect(),
        ),
        other => BakeValue::Str(value_to_string(other)),
    }
}

/// `{type = "registry", ref = "r/x"}` as `type=registry,ref=r/x` (`type`
/// first, the rest in key order; values with commas quoted as CSV).
fn object_to_csv(o: &hcl::Map<String, hcl::Value>) -> String {
    let mut keys: Vec<&String> = o.keys().collect();
    keys.sort_by_key(|k| (k.as_str() != "type", k.as_str()));
    keys.iter()
        .filter_map(|k| {
            let v = o.get(k.as_str())?;
            if v.is_null() {
                return None;
            }
            let field = format!("{k}={}", value_to_string(v));
            Some(if field.contains(',') || field.contains('"') {
                format!("\"{}\"", field.replace('"', "\"\""))
            } else {
                field
            })
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn value_to_string(v: &hcl::Value) -> String {
    match v {
        hcl::Value::Null => String::new(),
        hcl::Value::Bool(b) => b.to_string(),
        hcl::Value::Number(n) => n.to_string(),
        hcl::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn context_of(vars: &BTreeMap<String, hcl::Value>) -> hcl::eval::Context<'static> {
    let mut ctx = hcl::eval::Context::new();
    for (k, v) in vars {
        ctx.declare_var(k.as_str(), v.clone());
    }
    ctx
}

/// Evaluates every variable: declarations merged across files (the last
/// default wins), the environment overriding defaults, defaults that name
/// other variables evaluated once those are known.
#[allow(clippy::type_complexity)]
fn evaluate_variables(
    files: &[ParsedFile<'_>],
    env: &BTreeMap<String, String>,
) -> Result<(BTreeMap<String, hcl::Value>, BTreeMap<String, Error>), Error> {
    let mut decls: Vec<(String, VarDecl<'_>)> = Vec::new();
    for f in files {
        for (name, decl) in f.variables()? {
            match decls.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = decl,
                None => decls.push((name, decl)),
            }
        }
    }
    let mut values: BTreeMap<String, hcl::Value> = BTreeMap::from([
        // buildx's built-in variables of a local invocation.
        ("BAKE_CMD_CONTEXT".to_string(), hcl::Value::from("cwd://")),
        (
            "BAKE_LOCAL_PLATFORM".to_string(),
            hcl::Value::from(local_platform()),
        ),
    ]);
    let mut pending: Vec<usize> = (0..decls.len()).collect();
    let mut last_errors: HashMap<usize, EvalFailure> = HashMap::new();
    let mut errors: BTreeMap<String, Error> = BTreeMap::new();
    while !pending.is_empty() {
        let ctx = context_of(&values);
        let before = pending.len();
        let mut still = Vec::new();
        for i in pending {
            let (name, decl) = &decls[i];
            let evaluated = match &decl.default {
                VarDefault::None => Ok(hcl::Value::String(String::new())),
                VarDefault::Hcl(e) => e.evaluate(&ctx).map_err(EvalFailure::from),
                VarDefault::Json(v) => from_json(v, &ctx),
            };
            match (evaluated, env.get(name)) {
                (Ok(default), Some(s)) => match typed_like(name, decl, &default, s) {
                    Ok(value) => {
                        values.insert(name.clone(), value);
                    }
                    Err(e) => {
                        errors.insert(name.clone(), e);
                    }
                },
                (Ok(default), None) => {
                    values.insert(name.clone(), default);
                }
                // The environment's value stands even when the default
                // cannot be evaluated here (say, a function).
                (Err(_), Some(s)) => {
                    values.insert(name.clone(), hcl::Value::String(s.clone()));
                }
                (Err(e), None) => {
                    last_errors.insert(i, e);
                    still.push(i);
                }
            }
        }
        if still.len() == before {
            // What is left cannot be evaluated: each keeps its error.
            for i in still {
                let (name, decl) = &decls[i];
                let why = last_errors
                    .remove(&i)
                    .map(|f| f.message)
                    .unwrap_or_default();
                let e = Error::Bake {
                    kind: BakeErrorKind::Eval,
                    origin: decl.origin.clone(),
                    message: format!("variable \"{name}\": {why}"),
                };
                errors.insert(name.clone(), e);
            }
            break;
        }
        pending = still;
    }
    Ok((values, errors))
}

/// The environment's value `s` of variable `name`, typed like the
/// variable's default (buildx parses bools and numbers).
fn typed_like(
    name: &str,
    decl: &VarDecl<'_>,
    default: &hcl::Value,
    s: &str,
) -> Result<hcl::Value, Error> {
    let invalid = |type_name: &str| Error::Bake {
        kind: BakeErrorKind::Invalid,
        origin: decl.origin.clone(),
        message: format!("variable \"{name}\": failed to parse {s:?} as {type_name}"),
    };
    match default {
        hcl::Value::Bool(_) => crate::options::parse_bool(s)
            .map(hcl::Value::Bool)
            .map_err(|_| invalid("bool")),
        hcl::Value::Number(_) => s
            .parse::<i64>()
            .map(hcl::Value::from)
            .or_else(|_| s.parse::<f64>().map(hcl::Value::from))
            .map_err(|_| invalid("number")),
        _ => Ok(hcl::Value::String(s.to_string())),
    }
}

/// This machine's platform as BuildKit names it (`linux/amd64`).
pub fn local_platform() -> String {
    crate::platform::host().format()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_dots_lexically() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
        assert_eq!(normalize(Path::new("../x/./y")), PathBuf::from("../x/y"));
        assert_eq!(normalize(Path::new("a/../../b")), PathBuf::from("../b"));
    }

    #[test]
    fn objects_become_csv_with_quotes_where_needed() {
        let mut o = hcl::Map::new();
        o.insert("dest".to_string(), hcl::Value::from("a,b"));
        o.insert("type".to_string(), hcl::Value::from("local"));
        o.insert("skip".to_string(), hcl::Value::Null);
        assert_eq!(object_to_csv(&o), "type=local,\"dest=a,b\"");
    }

    fn source(name: &str, text: &str) -> BakeSource {
        BakeSource {
            path: PathBuf::from("/w").join(name),
            text: text.to_string(),
        }
    }

    #[test]
    fn static_parse_takes_literals_and_evaluates_nothing() {
        let hcl = r#"
variable "TAG" { default = "dev" }
variable "HOME" { default = "" }
target "app" {
  context = "."
  tags = ["app:1", "app:$${literal}"]
  args = { A = "1", B = true }
  cache-to = [{ type = "inline" }]
  platforms = ["linux/${TAG}"]
  labels = { who = HOME }
}
"#;
        let json = r#"{"target": {"api": {"tags": ["api:${TAG}"]}, "lit": {"context": "lit"}}}"#;
        let sources = [
            source("docker-bake.json", json),
            source("docker-bake.hcl", hcl),
        ];
        let env = BTreeMap::from([("HOME".to_string(), "/home/me".to_string())]);
        // Evaluated: the variable and the environment are read.
        let full = Bake::parse(&sources, &env).unwrap();
        assert!(full.errors.is_empty(), "{:?}", full.errors);
        assert_eq!(full.variables.get("TAG").map(String::as_str), Some("dev"));
        assert_eq!(
            full.variables.get("HOME").map(String::as_str),
            Some("/home/me")
        );

        let b = Bake::parse_static(&sources).unwrap();
        assert!(b.variables.is_empty());
        let app = b.targets.iter().find(|t| t.name == "app").unwrap();
        assert_eq!(
            app.attrs["tags"].value,
            BakeValue::List(vec!["app:1".into(), "app:${literal}".into()])
        );
        assert_eq!(
            app.attrs["cache-to"].value,
            BakeValue::List(vec!["type=inline".into()])
        );
        assert!(!app.attrs.contains_key("platforms"));
        assert!(!app.attrs.contains_key("labels"));
        let kinds: Vec<(BakeErrorKind, &str)> = b
            .errors
            .iter()
            .filter_map(|e| match e {
                Error::Bake { kind, message, .. } => {
                    Some((*kind, message.split(':').next().unwrap_or("")))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                (BakeErrorKind::NotEvaluated, "tags"),
                (BakeErrorKind::NotEvaluated, "platforms"),
                (BakeErrorKind::NotEvaluated, "labels"),
            ]
        );
        // Targets with a value left out do not resolve; literal ones do.
        assert_eq!(
            b.resolve("app").unwrap_err().bake_kind(),
            Some(BakeErrorKind::NotEvaluated)
        );
        assert!(b.resolve("api").is_err());
        assert_eq!(
            b.resolve("lit").unwrap().context_dir().unwrap(),
            PathBuf::from("/w/lit")
        );
    }

    #[test]
    fn environment_values_take_the_default_type() {
        let decl = VarDecl {
            default: VarDefault::None,
            origin: Error::unreadable(Path::new("/w/docker-bake.hcl"), "")
                .origin()
                .cloned()
                .unwrap(),
        };
        let typed = |default: &hcl::Value, s: &str| typed_like("V", &decl, default, s);
        let b = hcl::Value::Bool(false);
        assert_eq!(typed(&b, "T"), Ok(hcl::Value::Bool(true)));
        assert_eq!(typed(&b, "0"), Ok(hcl::Value::Bool(false)));
        let err = typed(&b, "on").unwrap_err();
        assert_eq!(err.bake_kind(), Some(BakeErrorKind::Invalid));
        assert_eq!(
            err.to_string(),
            "/w/docker-bake.hcl:1:1: variable \"V\": failed to parse \"on\" as bool"
        );
        let n = hcl::Value::from(1);
        assert_eq!(typed(&n, "2.5"), Ok(hcl::Value::from(2.5)));
        assert!(typed(&n, "two").is_err());
        assert_eq!(
            typed(&hcl::Value::from("x"), "7"),
            Ok(hcl::Value::from("7"))
        );
    }
}
