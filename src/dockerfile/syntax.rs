//! The syntax tree of a Dockerfile, as [`parse`](super::parse) produces it.
//!
//! Every node records its byte [`Span`] in [`Dockerfile::source`]; convert with
//! [`Dockerfile::range`] for LSP. Values (`Word::value`, `KeyValue::value`, …)
//! are the *logical* text: line continuations and comment lines inside a
//! continuation removed, exactly what BuildKit's parser hands on. Quotes are
//! kept where BuildKit keeps them (ENV/LABEL/ARG values, plain words) and
//! removed where it removes them (flag values, JSON strings).
//!
//! Lossless: [`Dockerfile::pieces`] cover the source byte for byte, in order.

use serde::Serialize;

/// The text type of syntax nodes: strings of up to 24 bytes (almost every
/// word, flag, key and variable name) live inline without a heap
/// allocation; it derefs to `str`.
pub use compact_str::CompactString;
/// The instruction's lists: one pointer wide, and no allocation while empty
/// (most of an instruction's lists are), so the syntax tree of a large file
/// is a third smaller than with `Vec`s.
pub use thin_vec::ThinVec;

use super::text::{LineIndex, PositionEncoding, Range, Span};

/// A parsed Dockerfile. Holds its source so spans can always be sliced.
/// Equality is structural (incremental and full parses are compared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub source: String,
    pub line_index: LineIndex,
    /// The UTF-8 byte-order mark, when the file starts with one.
    pub bom: Option<Span>,
    /// The escape character in effect (`\` unless `# escape=` says otherwise).
    pub escape: char,
    pub directives: Vec<Directive>,
    /// The top-level pieces in source order, covering the whole file.
    pub pieces: Vec<Piece>,
    pub instructions: Vec<Instruction>,
    /// Syntax errors, in source order of their instructions; one
    /// instruction's in the order BuildKit checks them (the first is the
    /// one BuildKit stops with). The file is parsed past every one.
    pub errors: Vec<SyntaxError>,
}

impl Dockerfile {
    /// The source text of a span (empty when the span does not fit).
    pub fn text(&self, span: Span) -> &str {
        span.slice(&self.source)
    }

    /// A span as an LSP range with UTF-16 columns.
    pub fn range(&self, span: Span) -> Range {
        self.line_index.range(span, PositionEncoding::Utf16)
    }

    /// A span as an LSP range in the given column encoding.
    pub fn range_in(&self, span: Span, encoding: PositionEncoding) -> Range {
        self.line_index.range(span, encoding)
    }

    /// The value of a directive (`syntax`, `escape`, `check`), if present.
    pub fn directive(&self, name: &str) -> Option<&Directive> {
        self.directives
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// The instruction at `offset` that owns it: the one `ONBUILD` wraps once
    /// `offset` reaches the wrapped keyword, else the top-level one.
    pub fn innermost_instruction_at(&self, offset: usize) -> Option<&Instruction> {
        let mut ins = self.instruction_at(offset)?;
        while let Some(inner) = ins.onbuild.as_deref() {
            if offset < inner.keyword_span.start {
                break;
            }
            ins = inner;
        }
        Some(ins)
    }

    /// The top-level instruction whose span touches `offset` (for hover and
    /// completion).
    pub fn instruction_at(&self, offset: usize) -> Option<&Instruction> {
        let i = self
            .instructions
            .partition_point(|ins| ins.span.end < offset);
        self.instructions
            .get(i)
            .filter(|ins| ins.span.touches(offset))
    }
}

/// One top-level piece of the file. Its span includes the trailing line break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Piece {
    pub kind: PieceKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PieceKind {
    Bom,
    /// Index into [`Dockerfile::directives`].
    Directive(usize),
    /// A comment line outside any instruction (also directive-like lines that
    /// BuildKit does not treat as directives).
    Comment,
    /// A line holding only whitespace.
    Blank,
    /// Index into [`Dockerfile::instructions`]; covers the instruction's
    /// continuation lines, comment lines inside it and heredoc bodies.
    Instruction(usize),
}

/// A parser directive at the top of the file: `# name=value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// Lower-cased: `syntax`, `escape` or `check`.
    pub name: CompactString,
    pub value: CompactString,
    /// The whole line without its line break.
    pub span: Span,
    pub name_span: Span,
    pub value_span: Span,
}

/// A syntax error with a BuildKit-like message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

/// The Dockerfile instructions BuildKit knows, plus `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub enum InstructionKind {
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    Stopsignal,
    User,
    Volume,
    Workdir,
    #[default]
    Unknown,
}

impl InstructionKind {
    /// All known kinds (without `Unknown`), for completion.
    pub const ALL: [InstructionKind; 18] = [
        InstructionKind::Add,
        InstructionKind::Arg,
        InstructionKind::Cmd,
        InstructionKind::Copy,
        InstructionKind::Entrypoint,
        InstructionKind::Env,
        InstructionKind::Expose,
        InstructionKind::From,
        InstructionKind::Healthcheck,
        InstructionKind::Label,
        InstructionKind::Maintainer,
        InstructionKind::Onbuild,
        InstructionKind::Run,
        InstructionKind::Shell,
        InstructionKind::Stopsignal,
        InstructionKind::User,
        InstructionKind::Volume,
        InstructionKind::Workdir,
    ];

    /// Recognises a keyword in any case.
    pub fn from_keyword(keyword: &str) -> InstructionKind {
        // Upper-cased into a stack buffer and matched at once: this runs for
        // every instruction. No keyword is longer than HEALTHCHECK.
        let mut upper = [0u8; 11];
        let Some(buf) = upper.get_mut(..keyword.len()) else {
            return InstructionKind::Unknown;
        };
        buf.copy_from_slice(keyword.as_bytes());
        buf.make_ascii_uppercase();
        match &*buf {
            b"ADD" => InstructionKind::Add,
            b"ARG" => InstructionKind::Arg,
            b"CMD" => InstructionKind::Cmd,
            b"COPY" => InstructionKind::Copy,
            b"ENTRYPOINT" => InstructionKind::Entrypoint,
            b"ENV" => InstructionKind::Env,
            b"EXPOSE" => InstructionKind::Expose,
            b"FROM" => InstructionKind::From,
            b"HEALTHCHECK" => InstructionKind::Healthcheck,
            b"LABEL" => InstructionKind::Label,
            b"MAINTAINER" => InstructionKind::Maintainer,
            b"ONBUILD" => InstructionKind::Onbuild,
            b"RUN" => InstructionKind::Run,
            b"SHELL" => InstructionKind::Shell,
            b"STOPSIGNAL" => InstructionKind::Stopsignal,
            b"USER" => InstructionKind::User,
            b"VOLUME" => InstructionKind::Volume,
            b"WORKDIR" => InstructionKind::Workdir,
            _ => InstructionKind::Unknown,
        }
    }

    /// The canonical upper-case keyword (`""` for `Unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            InstructionKind::Add => "ADD",
            InstructionKind::Arg => "ARG",
            InstructionKind::Cmd => "CMD",
            InstructionKind::Copy => "COPY",
            InstructionKind::Entrypoint => "ENTRYPOINT",
            InstructionKind::Env => "ENV",
            InstructionKind::Expose => "EXPOSE",
            InstructionKind::From => "FROM",
            InstructionKind::Healthcheck => "HEALTHCHECK",
            InstructionKind::Label => "LABEL",
            InstructionKind::Maintainer => "MAINTAINER",
            InstructionKind::Onbuild => "ONBUILD",
            InstructionKind::Run => "RUN",
            InstructionKind::Shell => "SHELL",
            InstructionKind::Stopsignal => "STOPSIGNAL",
            InstructionKind::User => "USER",
            InstructionKind::Volume => "VOLUME",
            InstructionKind::Workdir => "WORKDIR",
            InstructionKind::Unknown => "",
        }
    }

    /// The flags BuildKit accepts on this instruction (without `--`).
    pub fn allowed_flags(self) -> &'static [&'static str] {
        match self {
            InstructionKind::From => &["platform"],
            InstructionKind::Run => &["mount", "network", "security", "device"],
            InstructionKind::Copy => &["from", "chown", "chmod", "link", "parents", "exclude"],
            InstructionKind::Add => &[
                "chown",
                "chmod",
                "link",
                "keep-git-dir",
                "checksum",
                "exclude",
                "unpack",
            ],
            InstructionKind::Healthcheck => &[
                "interval",
                "timeout",
                "start-period",
                "start-interval",
                "retries",
            ],
            _ => &[],
        }
    }

    /// Whether heredocs (`<<EOF`) are recognised (BuildKit: RUN, COPY, ADD).
    pub fn accepts_heredocs(self) -> bool {
        matches!(
            self,
            InstructionKind::Run | InstructionKind::Copy | InstructionKind::Add
        )
    }

    /// Whether BuildKit expands `$VAR` in the arguments itself (as opposed
    /// to leaving it to the shell, as for RUN/CMD/ENTRYPOINT).
    pub fn expands_variables(self) -> bool {
        matches!(
            self,
            InstructionKind::Add
                | InstructionKind::Arg
                | InstructionKind::Copy
                | InstructionKind::Env
                | InstructionKind::Expose
                | InstructionKind::From
                | InstructionKind::Label
                | InstructionKind::Stopsignal
                | InstructionKind::User
                | InstructionKind::Volume
                | InstructionKind::Workdir
        )
    }
}

/// How the arguments were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum ArgForm {
    /// No arguments at all.
    #[default]
    Empty,
    /// Plain text (shell form for RUN/CMD/ENTRYPOINT/SHELL).
    Shell,
    /// A JSON array of strings (exec form).
    Json,
}

/// One instruction (a logical line plus any heredoc bodies). Its lists are
/// [`ThinVec`]s (they deref to slices).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Instruction {
    pub kind: InstructionKind,
    /// The keyword as written (any case).
    pub keyword: CompactString,
    pub keyword_span: Span,
    /// From the keyword to the end of the instruction, including continuation
    /// lines and heredoc bodies with their terminators, without the final
    /// line break.
    pub span: Span,
    /// From the keyword to the end of the logical line (before heredoc bodies).
    pub line_span: Span,
    pub flags: ThinVec<Flag>,
    /// Span of the text after the keyword and flags, trimmed (empty at the
    /// line end when absent). Its logical text is in `args`.
    pub rest_span: Span,
    pub form: ArgForm,
    /// The arguments as BuildKit's parser splits them (see the module docs of
    /// `parser` and docs/dockerfile.md): one word for shell-form RUN/CMD/
    /// ENTRYPOINT/SHELL and for MAINTAINER/USER/WORKDIR/STOPSIGNAL; the
    /// strings for JSON form; `key, value, …` for ENV/LABEL; each
    /// `name[=default]` for ARG; whitespace-separated words otherwise.
    pub args: ThinVec<Word>,
    /// ENV, LABEL and ARG: the pairs (ARG values may be absent).
    pub key_values: ThinVec<KeyValue>,
    /// ENV/LABEL written as `KEY name value` (one pair, value is the rest).
    pub legacy_key_value: bool,
    /// FROM's parts.
    pub from: Option<Box<FromClause>>,
    pub heredocs: ThinVec<Heredoc>,
    /// The wrapped instruction of `ONBUILD <instruction>`.
    pub onbuild: Option<Box<Instruction>>,
    /// Lines inside a continuation that are empty or whitespace only.
    pub empty_continuation_lines: ThinVec<Span>,
    /// Comment lines inside a continuation (removed from the logical text).
    pub comment_lines: ThinVec<Span>,
    /// Variable references in the arguments and flag values, in source order
    /// (nested ones included).
    pub variables: ThinVec<VarRef>,
}

impl Instruction {
    /// The first flag with this name (without `--`), e.g. `"from"`.
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name == name)
    }

    /// All flags with this name, e.g. every `--mount`.
    pub fn flags_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Flag> + 'a {
        self.flags.iter().filter(move |f| f.name == name)
    }

    pub fn is_json(&self) -> bool {
        self.form == ArgForm::Json
    }
}

/// A `--name[=value]` flag. The value has quotes and escapes removed, as
/// BuildKit's flag extraction does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// The whole `--name=value` in the source.
    pub span: Span,
    /// Without the leading `--`.
    pub name: CompactString,
    pub name_span: Span,
    pub value: Option<CompactString>,
    /// Span of the value after `=` (may be empty for `--from=`).
    pub value_span: Option<Span>,
}

impl Flag {
    /// The flag as BuildKit's node records it: `--name` or `--name=value`.
    pub fn to_flag_string(&self) -> String {
        match &self.value {
            Some(v) => format!("--{}={}", self.name, v),
            None => format!("--{}", self.name),
        }
    }

    /// `key=value` options of a CSV-valued flag such as `--mount`, each with
    /// spans. Spans are exact when the value has no quotes or escapes (the
    /// usual case); otherwise they are clamped to the value span.
    pub fn options(&self) -> Vec<FlagOption> {
        let (Some(value), Some(vspan)) = (&self.value, self.value_span) else {
            return Vec::new();
        };
        let exact = vspan.len() == value.len();
        let at = |i: usize| {
            if exact {
                vspan.start + i
            } else {
                vspan.start + i.min(vspan.len())
            }
        };
        let mut out = Vec::new();
        let mut start = 0;
        for part in value.split(',') {
            let end = start + part.len();
            let (key, val) = match part.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (part, None),
            };
            let key_span = Span::new(at(start), at(start + key.len()));
            out.push(FlagOption {
                key: CompactString::new(key),
                key_span,
                value: val.map(CompactString::new),
                value_span: val.map(|v| Span::new(at(end - v.len()), at(end))),
                span: Span::new(at(start), at(end)),
            });
            start = end + 1;
        }
        out
    }
}

/// One `key[=value]` item of a CSV flag value (`--mount=type=cache,target=/x`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlagOption {
    pub key: CompactString,
    pub key_span: Span,
    pub value: Option<CompactString>,
    pub value_span: Option<Span>,
    pub span: Span,
}

/// An argument: its logical value and its source span. A word that crosses a
/// line continuation has a span covering the continuation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Word {
    pub value: CompactString,
    pub span: Span,
}

/// A `key=value` (or legacy `key value`) pair of ENV, LABEL or ARG. The value
/// is raw: quotes kept, as BuildKit's parser keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    pub key: CompactString,
    pub key_span: Span,
    /// `None` for `ARG name` without a default.
    pub value: Option<CompactString>,
    pub value_span: Option<Span>,
    /// The whole pair.
    pub span: Span,
}

impl KeyValue {
    /// The value with shell quoting removed (`"a b"` → `a b`, `\"` → `"`);
    /// variables are not expanded.
    pub fn unquoted_value(&self, escape: char) -> Option<String> {
        self.value.as_deref().map(|v| unquote(v, escape))
    }
}

/// Removes shell quotes and escapes from a word the way BuildKit's shell
/// lexer does, without expanding variables.
pub fn unquote(word: &str, escape: char) -> String {
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == escape => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            Some(q) if c == q => quote = None,
            Some('"') if c == escape => match chars.peek() {
                Some(&n) if n == '"' || n == escape || n == '$' => {
                    out.push(n);
                    chars.next();
                }
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    out
}

/// FROM's parts: `FROM [--platform=…] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FromClause {
    pub image: Word,
    /// The `AS` keyword as written.
    pub as_keyword: Option<Word>,
    /// The stage name as written (BuildKit compares names lower-cased).
    pub stage_name: Option<Word>,
}

/// A heredoc: `<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    /// The delimiter with quotes removed.
    pub name: CompactString,
    /// The whole `<<…` word on the instruction line.
    pub span: Span,
    /// The body as BuildKit stores it: every line with its line break, tabs
    /// not yet stripped.
    pub body: CompactString,
    pub body_span: Span,
    /// The terminator line, or `None` when the heredoc runs to end of file.
    pub terminator_span: Option<Span>,
    /// False when the delimiter is quoted: no variable expansion in the body.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from body lines and the terminator.
    pub strip_tabs: bool,
    /// `3<<EOF`: the file descriptor, when written.
    pub fd: Option<u32>,
}

impl Heredoc {
    /// The delimiter's name in the opening word (`EOF` in `3<<-"EOF"`).
    pub fn name_span(&self, source: &str) -> Span {
        let word = self.span.slice(source);
        let after = word.find("<<").map_or(0, |i| i + 2);
        let at = word
            .get(after..)
            .and_then(|rest| rest.find(self.name.as_str()))
            .map_or(0, |i| after + i);
        Span::new(self.span.start + at, self.span.start + at + self.name.len()).clamp_to(self.span)
    }

    /// The delimiter's name on the terminator line (after the tabs `<<-`
    /// strips), when the heredoc is terminated.
    pub fn terminator_name_span(&self, source: &str) -> Option<Span> {
        let t = self.terminator_span?;
        let line = t.slice(source);
        let lead = line.len() - line.trim_start_matches('\t').len();
        Some(Span::new(t.start + lead, t.start + lead + self.name.len()).clamp_to(t))
    }

    /// The body with leading tabs removed from each line when `<<-` was used.
    pub fn effective_body(&self) -> String {
        if !self.strip_tabs {
            return self.body.to_string();
        }
        self.body
            .split_inclusive('\n')
            .map(|l| l.trim_start_matches('\t'))
            .collect()
    }
}

/// A variable reference: `$A`, `${A}`, `${A:-default}`, `${A:+x}`, `${A?err}`…
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VarRef {
    pub name: CompactString,
    pub name_span: Span,
    /// The whole reference, `$` to `}`.
    pub span: Span,
    pub braced: bool,
    /// The modifier operator, e.g. `:-`, `-`, `:+`, `+`, `:?`, `?`, `#`, `%`.
    pub operator: Option<CompactString>,
    /// The word after the operator (raw), e.g. the default value.
    pub operand: Option<Word>,
}

#[cfg(test)]
mod tests {
    use super::InstructionKind;

    #[test]
    fn every_keyword_is_recognised_in_any_case() {
        for kind in InstructionKind::ALL {
            let upper = kind.as_str();
            assert_eq!(InstructionKind::from_keyword(upper), kind);
            assert_eq!(
                InstructionKind::from_keyword(&upper.to_ascii_lowercase()),
                kind
            );
        }
        assert_eq!(InstructionKind::from_keyword("RuN"), InstructionKind::Run);
        for unknown in ["", "RUNX", "HEALTHCHECKS", "FRÖM", "fro"] {
            assert_eq!(
                InstructionKind::from_keyword(unknown),
                InstructionKind::Unknown
            );
        }
    }
}
