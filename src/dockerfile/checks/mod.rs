//! BuildKit's Dockerfile build checks: the same rule names, messages, default
//! levels and `# check=` semantics as `docker build --check`, run on the
//! parsed [`Dockerfile`] without a daemon, plus the file's syntax errors, so
//! the CLI and the language server print one list.
//!
//! Entry point: [`run`]. Pure: the caller reads `.dockerignore` and passes it
//! in [`CheckOptions`]. Rules that need the base image's configuration
//! (its `ENV`, `SHELL`, platform) work on what the file says; each such rule
//! says so in [`Rule::offline_note`].

pub mod config;
mod expand;
pub use expand::levenshtein;
mod fixes;
mod reference;
mod rules;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::model::Model;
use super::syntax::{Dockerfile, PieceKind};
use super::text::Span;
use crate::dockerignore::DockerIgnore;

pub use config::LintConfig;
pub(crate) use expand::suggest;

/// How serious a finding is. Ordered from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Information,
    Hint,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
            Severity::Hint => "hint",
        }
    }
}

/// One of BuildKit's build check rules.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// BuildKit's name, e.g. `StageNameCasing` (what `# check=skip=` takes).
    pub name: &'static str,
    /// BuildKit's description of the rule.
    pub description: &'static str,
    /// `https://docs.docker.com/go/dockerfile/rule/<kebab-name>/`.
    pub url: &'static str,
    /// Off unless enabled with `experimental=`.
    pub experimental: bool,
    /// BuildKit reports every rule as a warning (`error=true` fails the build).
    pub default_severity: Severity,
    /// How the offline check differs from BuildKit's, when it needs the base
    /// image (`None`: identical).
    pub offline_note: Option<&'static str>,
}

macro_rules! rule {
    ($name:literal, $kebab:literal, $desc:literal) => {
        rule!($name, $kebab, $desc, false, None)
    };
    ($name:literal, $kebab:literal, $desc:literal, $exp:expr, $note:expr) => {
        Rule {
            name: $name,
            description: $desc,
            url: concat!("https://docs.docker.com/go/dockerfile/rule/", $kebab, "/"),
            experimental: $exp,
            default_severity: Severity::Warning,
            offline_note: $note,
        }
    };
}

pub static STAGE_NAME_CASING: Rule = rule!(
    "StageNameCasing",
    "stage-name-casing",
    "Stage names should be lowercase"
);
pub static FROM_AS_CASING: Rule = rule!(
    "FromAsCasing",
    "from-as-casing",
    "The 'as' keyword should match the case of the 'from' keyword"
);
pub static NO_EMPTY_CONTINUATION: Rule = rule!(
    "NoEmptyContinuation",
    "no-empty-continuation",
    "Empty continuation lines will become errors in a future release"
);
pub static CONSISTENT_INSTRUCTION_CASING: Rule = rule!(
    "ConsistentInstructionCasing",
    "consistent-instruction-casing",
    "All commands within the Dockerfile should use the same casing (either upper or lower)"
);
pub static DUPLICATE_STAGE_NAME: Rule = rule!(
    "DuplicateStageName",
    "duplicate-stage-name",
    "Stage names should be unique"
);
pub static RESERVED_STAGE_NAME: Rule = rule!(
    "ReservedStageName",
    "reserved-stage-name",
    "Reserved words should not be used as stage names"
);
pub static JSON_ARGS_RECOMMENDED: Rule = rule!(
    "JSONArgsRecommended",
    "json-args-recommended",
    "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals",
    false,
    Some("A SHELL set by the base image is unknown offline; only SHELL instructions in this file (and in stages it builds on) silence the rule.")
);
pub static MAINTAINER_DEPRECATED: Rule = rule!(
    "MaintainerDeprecated",
    "maintainer-deprecated",
    "The MAINTAINER instruction is deprecated, use a label instead to define an image author"
);
pub static UNDEFINED_ARG_IN_FROM: Rule = rule!(
    "UndefinedArgInFrom",
    "undefined-arg-in-from",
    "FROM command must use declared ARGs"
);
pub static WORKDIR_RELATIVE_PATH: Rule = rule!(
    "WorkdirRelativePath",
    "workdir-relative-path",
    "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes"
);
pub static UNDEFINED_VAR: Rule = rule!(
    "UndefinedVar",
    "undefined-var",
    "Variables should be defined before their use",
    false,
    Some("The base image's ENV is unknown offline: in stages built on an external image, an upper-case variable defined nowhere in the file is reported only when it is a likely typo of a known one (the `did you mean` case), since the image may define it; PATH is assumed defined. Lower-case names, and stages built on `scratch` or on other stages, are checked fully.")
);
pub static MULTIPLE_INSTRUCTIONS_DISALLOWED: Rule = rule!(
    "MultipleInstructionsDisallowed",
    "multiple-instructions-disallowed",
    "Multiple instructions of the same type should not be used in the same stage"
);
pub static LEGACY_KEY_VALUE_FORMAT: Rule = rule!(
    "LegacyKeyValueFormat",
    "legacy-key-value-format",
    "Legacy key/value format with whitespace separator should not be used"
);
pub static INVALID_BASE_IMAGE_PLATFORM: Rule = rule!(
    "InvalidBaseImagePlatform",
    "invalid-base-image-platform",
    "Base image platform does not match expected target platform",
    false,
    Some("Needs the platform of the pulled base image: never reported offline.")
);
pub static REDUNDANT_TARGET_PLATFORM: Rule = rule!(
    "RedundantTargetPlatform",
    "redundant-target-platform",
    "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior"
);
pub static SECRETS_USED_IN_ARG_OR_ENV: Rule = rule!(
    "SecretsUsedInArgOrEnv",
    "secrets-used-in-arg-or-env",
    "Sensitive data should not be used in the ARG or ENV commands"
);
pub static INVALID_DEFAULT_ARG_IN_FROM: Rule = rule!(
    "InvalidDefaultArgInFrom",
    "invalid-default-arg-in-from",
    "Default value for global ARG results in an empty or invalid base image name"
);
pub static FROM_PLATFORM_FLAG_CONST_DISALLOWED: Rule = rule!(
    "FromPlatformFlagConstDisallowed",
    "from-platform-flag-const-disallowed",
    "FROM --platform flag should not use a constant value"
);
pub static COPY_IGNORED_FILE: Rule = rule!(
    "CopyIgnoredFile",
    "copy-ignored-file",
    "Attempting to Copy file that is excluded by .dockerignore"
);
pub static INVALID_DEFINITION_DESCRIPTION: Rule = rule!(
    "InvalidDefinitionDescription",
    "invalid-definition-description",
    "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.",
    true,
    None
);
pub static EXPOSE_PROTO_CASING: Rule = rule!(
    "ExposeProtoCasing",
    "expose-proto-casing",
    "Protocol in EXPOSE instruction should be lowercase"
);
pub static EXPOSE_INVALID_FORMAT: Rule = rule!(
    "ExposeInvalidFormat",
    "expose-invalid-format",
    "IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release"
);

/// Every rule, in BuildKit's `ruleset.go` order.
pub static RULES: [&Rule; 22] = [
    &STAGE_NAME_CASING,
    &FROM_AS_CASING,
    &NO_EMPTY_CONTINUATION,
    &CONSISTENT_INSTRUCTION_CASING,
    &DUPLICATE_STAGE_NAME,
    &RESERVED_STAGE_NAME,
    &JSON_ARGS_RECOMMENDED,
    &MAINTAINER_DEPRECATED,
    &UNDEFINED_ARG_IN_FROM,
    &WORKDIR_RELATIVE_PATH,
    &UNDEFINED_VAR,
    &MULTIPLE_INSTRUCTIONS_DISALLOWED,
    &LEGACY_KEY_VALUE_FORMAT,
    &INVALID_BASE_IMAGE_PLATFORM,
    &REDUNDANT_TARGET_PLATFORM,
    &SECRETS_USED_IN_ARG_OR_ENV,
    &INVALID_DEFAULT_ARG_IN_FROM,
    &FROM_PLATFORM_FLAG_CONST_DISALLOWED,
    &COPY_IGNORED_FILE,
    &INVALID_DEFINITION_DESCRIPTION,
    &EXPOSE_PROTO_CASING,
    &EXPOSE_INVALID_FORMAT,
];

/// The rule with this exact (case-sensitive, as in BuildKit) name.
pub fn rule(name: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.name == name)
}

/// A text edit: replace `span` of the source with `new_text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    pub span: Span,
    pub new_text: String,
}

/// A mechanical fix for a finding (a code action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub title: String,
    /// Non-overlapping edits, in source order.
    pub edits: Vec<Edit>,
}

impl Fix {
    /// Applies the edits to `source` (for tests, the CLI and previews).
    /// Edits that do not fit the text are skipped.
    pub fn apply(&self, source: &str) -> String {
        let mut edits: Vec<&Edit> = self.edits.iter().collect();
        edits.sort_by_key(|e| (e.span.start, e.span.end));
        let mut out = String::with_capacity(source.len());
        let mut at = 0;
        for e in edits {
            if e.span.start < at
                || e.span.end > source.len()
                || !source.is_char_boundary(e.span.start)
                || !source.is_char_boundary(e.span.end)
                || e.span.start > e.span.end
            {
                continue;
            }
            out.push_str(&source[at..e.span.start]);
            out.push_str(&e.new_text);
            at = e.span.end;
        }
        out.push_str(&source[at..]);
        out
    }
}

/// One diagnostic: a rule finding, or a syntax/configuration error
/// (`rule: None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: Option<&'static Rule>,
    pub severity: Severity,
    pub message: String,
    /// Byte span in the source; convert with `Dockerfile::range`.
    pub span: Span,
    /// Documentation of the rule.
    pub url: Option<&'static str>,
    pub fix: Option<Fix>,
}

impl Finding {
    /// The rule name, used as the diagnostic code.
    pub fn code(&self) -> Option<&'static str> {
        self.rule.map(|r| r.name)
    }
}

/// A severity forced by the user for one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeverityOverride {
    Error,
    Warning,
    Information,
    Hint,
    /// Never report the rule.
    Off,
}

/// Experimental rules the user turns on (in addition to the file's
/// `experimental=`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Experimental {
    #[default]
    None,
    All,
    Rules(Vec<String>),
}

/// What the caller (CLI flags, editor settings) adds to the file's `# check=`.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Rules never reported, experimental ones included.
    pub skip: Vec<String>,
    /// Per-rule severity; wins over the rule's default and `error=true`.
    pub severity: BTreeMap<String, SeverityOverride>,
    /// Experimental rules to run.
    pub experimental: Experimental,
    /// Replaces the file's `# check=` directive, as the build argument
    /// `BUILDKIT_DOCKERFILE_CHECK` does.
    pub check_override: Option<String>,
    /// The build context's `.dockerignore` (or `<Dockerfile>.dockerignore`),
    /// for CopyIgnoredFile. `None`: the rule stays silent, as in BuildKit.
    pub dockerignore: Option<Arc<DockerIgnore>>,
}

impl CheckOptions {
    fn skips(&self, rule: &Rule) -> bool {
        self.skip.iter().any(|s| s == rule.name)
            || self.severity.get(rule.name) == Some(&SeverityOverride::Off)
    }

    fn enables_experimental(&self, rule: &Rule) -> bool {
        match &self.experimental {
            Experimental::None => false,
            Experimental::All => true,
            Experimental::Rules(r) => r.iter().any(|n| n == rule.name),
        }
    }
}

/// Each stage's FROM image with the global ARGs (and BuildKit's predefined
/// platform ARGs, for a linux/amd64 build) expanded, as the checks see it;
/// `None` where the expansion fails. Indexed like `Model::stages`.
pub fn expanded_bases(df: &Dockerfile, model: &Model) -> Vec<Option<String>> {
    rules::expanded_bases(df, model)
}

/// Runs every enabled rule and returns the findings, the parser's syntax
/// errors included, sorted by position.
pub fn run(df: &Dockerfile, opts: &CheckOptions) -> Vec<Finding> {
    run_with_model(df, &Model::build(df), opts)
}

/// [`run`] for a caller that already has the file's semantic model (the
/// language server builds it once per edit for the checks and the builder
/// findings).
pub fn run_with_model(df: &Dockerfile, model: &Model, opts: &CheckOptions) -> Vec<Finding> {
    let mut cx = Cx::new(df, opts);
    for e in &df.errors {
        cx.error(e.span, e.message.clone());
        // The error's mechanical fix, if it has one (a near-miss flag or
        // instruction name, an invalid escape value, …).
        if let Some(last) = cx.out.last_mut() {
            last.fix = fixes::for_syntax_error(df, e);
        }
    }
    if let Some(f) = no_instructions(df) {
        cx.out.push(f);
    }
    rules::run_all(&mut cx, model);
    let mut out = cx.out;
    out.sort_by(|a, b| {
        (a.span.start, a.span.end, a.code()).cmp(&(b.span.start, b.span.end, b.code()))
    });
    out
}

/// The state shared by the rules while checking one file.
pub(crate) struct Cx<'a> {
    pub df: &'a Dockerfile,
    pub opts: &'a CheckOptions,
    /// The file's `# check=` (or the override).
    pub file_cfg: LintConfig,
    /// (instruction, the configuration merged with a `# check=` comment
    /// right above it), sorted; only instructions that have one.
    inst_cfg: Vec<(usize, LintConfig)>,
    /// (instruction, BuildKit's `PrevComment`: comment texts since the
    /// previous instruction, reset by an empty `#`), sorted; only
    /// instructions with comments. Sparse: most instructions have none.
    prev_comments: Vec<(usize, Vec<String>)>,
    pub out: Vec<Finding>,
    /// While an ONBUILD trigger of a parent stage is checked in a child
    /// stage: the child's FROM, where BuildKit places the trigger's
    /// findings.
    pub relocate: Option<Span>,
}

impl<'a> Cx<'a> {
    fn new(df: &'a Dockerfile, opts: &'a CheckOptions) -> Cx<'a> {
        let mut out = Vec::new();
        let file_cfg = match &opts.check_override {
            Some(v) => match LintConfig::parse(v) {
                Ok(c) => c,
                Err(e) => {
                    out.push(config_error(e, Span::empty(0)));
                    LintConfig::default()
                }
            },
            None => match df.directive("check") {
                Some(d) => match LintConfig::parse(&d.value) {
                    Ok(c) => {
                        for name in c.unknown_rules() {
                            out.push(unknown_rule(name, d.value_span, &d.value));
                        }
                        c
                    }
                    Err(e) => {
                        out.push(config_error(e, d.value_span));
                        LintConfig::default()
                    }
                },
                None => LintConfig::default(),
            },
        };
        let n = df.instructions.len();
        let mut prev_comments = Vec::new();
        let mut inst_cfg = Vec::new();
        let mut pending: Vec<String> = Vec::new();
        for piece in &df.pieces {
            match piece.kind {
                PieceKind::Comment => {
                    let text = df.text(piece.span).trim_start();
                    let text = text.strip_prefix('#').unwrap_or(text).trim();
                    if text.is_empty() {
                        pending.clear();
                    } else {
                        pending.push(text.to_string());
                    }
                }
                PieceKind::Instruction(i) if i < n && !pending.is_empty() => {
                    // BuildKit applies the first `check=` comment found.
                    if let Some(c) = pending.iter().find_map(|t| LintConfig::from_comment(t)) {
                        inst_cfg.push((i, file_cfg.merged(&c)));
                    }
                    prev_comments.push((i, std::mem::take(&mut pending)));
                }
                _ => {}
            }
        }
        Cx {
            df,
            opts,
            file_cfg,
            inst_cfg,
            prev_comments,
            out,
            relocate: None,
        }
    }

    /// BuildKit's `PrevComment` of instruction `idx` (empty when none).
    pub fn prev_comments(&self, idx: usize) -> &[String] {
        sparse_get(&self.prev_comments, idx).map_or(&[], Vec::as_slice)
    }

    /// Whether `rule` runs for the instruction `at` (or file-wide for `None`).
    pub fn enabled(&self, rule: &Rule, at: Option<usize>) -> bool {
        if self.opts.skips(rule) {
            return false;
        }
        let cfg = at
            .and_then(|i| sparse_get(&self.inst_cfg, i))
            .unwrap_or(&self.file_cfg);
        if rule.experimental && self.opts.enables_experimental(rule) {
            return true;
        }
        cfg.enables(rule.name, rule.experimental)
    }

    fn severity(&self, rule: &Rule) -> Severity {
        match self.opts.severity.get(rule.name) {
            Some(SeverityOverride::Error) => Severity::Error,
            Some(SeverityOverride::Warning) => Severity::Warning,
            Some(SeverityOverride::Information) => Severity::Information,
            Some(SeverityOverride::Hint) => Severity::Hint,
            Some(SeverityOverride::Off) | None => {
                if self.file_cfg.error {
                    Severity::Error
                } else {
                    rule.default_severity
                }
            }
        }
    }

    /// Records a finding of `rule` for instruction `at`, if the rule is on.
    pub fn report(
        &mut self,
        rule: &'static Rule,
        at: Option<usize>,
        span: Span,
        message: String,
        fix: Option<Fix>,
    ) {
        if !self.enabled(rule, at) {
            return;
        }
        let severity = self.severity(rule);
        // NoEmptyContinuation is the one finding BuildKit's parser places
        // on a single line of its own choosing.
        let span = if let Some(at) = self.relocate {
            at
        } else if rule.name == NO_EMPTY_CONTINUATION.name {
            span
        } else {
            self.on_first_line(span)
        };
        self.out.push(Finding {
            rule: Some(rule),
            severity,
            message,
            span,
            url: Some(rule.url),
            fix,
        });
    }
}

impl Cx<'_> {
    /// Records an error that stops BuildKit's build (not a rule finding:
    /// no rule, never skipped).
    pub(crate) fn error(&mut self, span: Span, message: String) {
        // BuildKit's errors carry the instruction's location, as findings.
        let span = match self.relocate {
            Some(at) => at,
            None => self.on_first_line(span),
        };
        self.out.push(Finding {
            rule: None,
            severity: Severity::Error,
            message,
            span,
            url: None,
            fix: None,
        });
    }

    /// BuildKit places every finding on its instruction's lines, starting
    /// with the first (`Node.Location()`: one range per line, heredoc bodies
    /// included). A word on that first line keeps its own span (inside
    /// BuildKit's range, and more precise); a word on a later line (the
    /// second key of a multi-line ENV, a variable in a heredoc body) gives
    /// way to the whole instruction, so the diagnostic starts where
    /// BuildKit's does. See docs/checks.md, "Where findings sit".
    pub(crate) fn on_first_line(&self, span: Span) -> Span {
        let Some(ins) = self.df.instruction_at(span.start) else {
            return span;
        };
        let lines = &self.df.line_index;
        if lines.line_of(span.start) == lines.line_of(ins.span.start) {
            span
        } else {
            ins.span
        }
    }
}

/// The value for `key` in a list of `(key, value)` sorted by key.
fn sparse_get<T>(list: &[(usize, T)], key: usize) -> Option<&T> {
    let i = list.binary_search_by_key(&key, |(k, _)| *k).ok()?;
    Some(&list[i].1)
}

/// BuildKit refuses a file without instructions: an empty one before
/// parsing (`the Dockerfile cannot be empty`, no position), one with only
/// comments, directives or blank lines after parsing (`file with no
/// instructions`, on the last line its scanner read).
fn no_instructions(df: &Dockerfile) -> Option<Finding> {
    if !df.instructions.is_empty() {
        return None;
    }
    let (message, span) = if df.source.is_empty() {
        ("the Dockerfile cannot be empty", Span::empty(0))
    } else {
        // The scanner's last line: a final line break ends a line, it does
        // not start one.
        let read = df.source.matches('\n').count() + usize::from(!df.source.ends_with('\n'));
        let line = u32::try_from(read.saturating_sub(1)).unwrap_or(u32::MAX);
        let span = df.line_index.line_span(line).unwrap_or(Span::empty(0));
        ("file with no instructions", span)
    };
    Some(Finding {
        rule: None,
        severity: Severity::Error,
        message: message.to_string(),
        span,
        url: None,
        fix: None,
    })
}

fn config_error(e: crate::dockerfile::Error, span: Span) -> Finding {
    Finding {
        rule: None,
        severity: Severity::Error,
        message: format!("failed to parse check options: {e}"),
        span,
        url: None,
        fix: None,
    }
}

/// A rule name in `# check=` that no rule has: BuildKit ignores it, so this
/// is only a hint, pointing at the name inside the directive value.
fn unknown_rule(name: &str, value_span: Span, value: &str) -> Finding {
    let span = value
        .find(name)
        .map(|i| Span::new(value_span.start + i, value_span.start + i + name.len()))
        .unwrap_or(value_span);
    let suggestion = RULES
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(name))
        .map(|r| r.name.to_string())
        .or_else(|| expand::suggest(name, RULES.iter().map(|r| r.name), true))
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default();
    Finding {
        rule: None,
        severity: Severity::Hint,
        message: format!(
            "Unknown build check rule '{name}' in check directive, BuildKit ignores it{suggestion}"
        ),
        span,
        url: None,
        fix: None,
    }
}
