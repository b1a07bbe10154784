//! The hand-written, lossless, line-oriented Dockerfile parser.
//!
//! It follows BuildKit's `frontend/dockerfile/parser` step by step, keeping
//! byte spans where BuildKit keeps only line numbers:
//! 1. physical lines split at `\n` (a `\r` before it belongs to the break);
//! 2. parser directives at the very top (`# syntax=`, `# escape=`, `# check=`);
//! 3. logical lines: an instruction continues while a line ends in the escape
//!    character (not itself escaped); comment lines inside are dropped, empty
//!    lines are skipped and recorded (NoEmptyContinuation);
//! 4. each logical line is split into keyword, flags and arguments the way
//!    BuildKit's per-instruction line parsers split them;
//! 5. for RUN/COPY/ADD, heredoc bodies follow the logical line.
//!
//! Errors stay local to their instruction: the parser always reaches the end
//! of the file, never panics and runs in linear time.

use super::syntax::*;
use super::text::{LineIndex, Span};
use super::Error;

/// Parses bytes read from a file. Dockerfiles must be UTF-8 (BuildKit reads
/// them as Go strings); invalid bytes are reported with their offset rather
/// than silently replaced, so ranges never drift.
pub fn parse_bytes(bytes: &[u8]) -> Result<Dockerfile, Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(parse(text)),
        Err(e) => {
            let offset = e.valid_up_to();
            Err(Error::InvalidUtf8 {
                offset,
                byte: bytes.get(offset).copied().unwrap_or(0),
            })
        }
    }
}

/// Parses a Dockerfile. Never fails: syntax errors are collected in
/// [`Dockerfile::errors`] and parsing continues with the next instruction.
pub fn parse(text: &str) -> Dockerfile {
    Parser::new(text, 0).run()
}

/// The pieces, instructions and errors [`parse`] makes of a run of lines
/// in the body of a file (past its parser directives), for
/// [`incremental`](super::incremental) re-parsing.
#[derive(Debug)]
pub(super) struct Window {
    /// Instruction indices count from 0, the first of `instructions`.
    pub pieces: Vec<Piece>,
    pub instructions: Vec<Instruction>,
    /// In source order of their instructions (see [`Dockerfile::errors`]).
    pub errors: Vec<SyntaxError>,
}

/// Parses `text` from byte `from` (the start of a line past the parser
/// directives) with the escape character `escape`, piece by piece, until
/// the text ends or `stop` accepts the end offset of the piece just parsed.
/// Every piece is parsed exactly as [`parse`] parses it there: a piece
/// depends only on its own lines and the escape character.
pub(super) fn parse_window(
    text: &str,
    from: usize,
    escape: char,
    stop: impl FnMut(usize) -> bool,
) -> Window {
    let mut p = Parser::new(text, from);
    p.escape = escape;
    let mut pieces = Vec::new();
    let mut instructions = Vec::new();
    p.pieces(
        None,
        true,
        &mut Vec::new(),
        &mut pieces,
        &mut instructions,
        stop,
    );
    let errors = p.sorted_errors();
    Window {
        pieces,
        instructions,
        errors,
    }
}

/// Nesting limit for JSON arrays, so hostile input cannot exhaust the stack.
const MAX_JSON_DEPTH: usize = 256;
/// Nesting limit for `ONBUILD ONBUILD …` chains.
const MAX_ONBUILD_DEPTH: usize = 4;
/// Nesting limit for `${A:-${B:-…}}` when collecting references.
const MAX_VAR_DEPTH: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    /// End of the content: before the trailing `\r`s and the `\n`.
    content_end: usize,
    /// After the `\n` (or the end of the text).
    end: usize,
}

/// The lines of `text` from byte `from` (a line start) on.
fn split_lines(text: &str, from: usize) -> Vec<Line> {
    let bytes = text.as_bytes();
    // Counted exactly (one SIMD pass): growing a vector this size copies it.
    let mut lines = Vec::with_capacity(memchr::memchr_iter(b'\n', &bytes[from..]).count() + 1);
    let mut start = from;
    while start < bytes.len() {
        let nl = memchr::memchr(b'\n', &bytes[start..]).map(|i| start + i);
        let end = nl.map_or(bytes.len(), |i| i + 1);
        // BuildKit's trimNewline strips every trailing `\r` and `\n`.
        let mut content_end = nl.unwrap_or(bytes.len());
        while content_end > start && bytes[content_end - 1] == b'\r' {
            content_end -= 1;
        }
        lines.push(Line {
            start,
            content_end,
            end,
        });
        start = end;
    }
    lines
}

/// The logical text of an instruction with a map back to the source.
#[derive(Debug, Default)]
struct Logical {
    text: String,
    /// (offset in `text`, offset in the source) where each contiguous source
    /// segment starts.
    segs: Vec<(usize, usize)>,
    /// Where the instruction starts in the source: the place of spans in a
    /// logical line without text (a lone escape character), which must
    /// stay inside the instruction.
    base: usize,
}

impl Logical {
    fn push(&mut self, src: &str, start: usize, end: usize) {
        if start < end {
            self.segs.push((self.text.len(), start));
            self.text.push_str(&src[start..end]);
        }
    }

    /// Source offset of the character at logical offset `off`.
    fn src(&self, off: usize) -> usize {
        // Most instructions are one line: one segment, no search.
        if let [(l, s)] = self.segs[..] {
            return s + off.saturating_sub(l);
        }
        let i = self.segs.partition_point(|&(l, _)| l <= off);
        match i.checked_sub(1).and_then(|i| self.segs.get(i)) {
            Some(&(l, s)) => s + (off - l),
            None => self.segs.first().map_or(self.base, |&(_, s)| s),
        }
    }

    /// Source offset just after the character ending at logical `off`.
    fn src_end(&self, off: usize) -> usize {
        if let [(l, s)] = self.segs[..] {
            return s + off.saturating_sub(l);
        }
        let i = self.segs.partition_point(|&(l, _)| l < off);
        match i.checked_sub(1).and_then(|i| self.segs.get(i)) {
            Some(&(l, s)) => s + (off - l),
            None => self.src(off),
        }
    }

    fn span(&self, a: usize, b: usize) -> Span {
        if b <= a {
            Span::empty(self.src(a))
        } else {
            Span::new(self.src(a), self.src_end(b))
        }
    }

    fn word(&self, a: usize, b: usize) -> Word {
        Word {
            value: CompactString::new(&self.text[a..b]),
            span: self.span(a, b),
        }
    }
}

/// Go's `unicode.IsSpace` (what BuildKit trims with).
fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// BuildKit's `reWhitespace`: `[\t\v\f\r ]`.
fn is_re_ws(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

fn trim_start_len(s: &str) -> usize {
    s.len() - s.trim_start_matches(is_space).len()
}

struct Parser<'a> {
    src: &'a str,
    lines: Vec<Line>,
    escape: char,
    /// Each error with its sort key: the start of the instruction it is
    /// in (so one instruction's errors keep the order BuildKit checks them
    /// in, and its first is the one BuildKit stops with), else its own.
    errors: Vec<(usize, SyntaxError)>,
    /// The start of the instruction being parsed.
    ins_start: Option<usize>,
    /// How many errors there were when the last instruction parsed went
    /// from its syntax (BuildKit's parser) to its checks (its
    /// `instructions` package).
    syntax_errors_end: usize,
    /// Reused buffer for logical lines (saves two allocations per instruction).
    scratch: Logical,
    /// Reused buffer for the argument ranges scanned for variables.
    ranges: Vec<(usize, usize)>,
    /// Reused buffer for the raw references of one scanned word.
    refs: Vec<RawRef>,
    /// Reused buffer for the word ranges of one instruction's arguments.
    words: Vec<(usize, usize)>,
}

impl<'a> Parser<'a> {
    /// A parser of `src` from byte `from` (a line start) on.
    fn new(src: &'a str, from: usize) -> Self {
        Parser {
            src,
            lines: split_lines(src, from),
            escape: '\\',
            errors: Vec::new(),
            ins_start: None,
            syntax_errors_end: 0,
            scratch: Logical::default(),
            ranges: Vec::new(),
            refs: Vec::new(),
            words: Vec::new(),
        }
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        let key = self.ins_start.unwrap_or(span.start);
        self.errors.push((
            key,
            SyntaxError {
                message: message.into(),
                span,
            },
        ));
    }

    /// The errors in source order of their instructions.
    fn sorted_errors(&mut self) -> Vec<SyntaxError> {
        let mut errors = std::mem::take(&mut self.errors);
        errors.sort_by_key(|(key, _)| *key);
        errors.into_iter().map(|(_, e)| e).collect()
    }

    fn run(mut self) -> Dockerfile {
        let src = self.src;
        let bom = src.starts_with('\u{feff}').then(|| Span::new(0, 3));
        let mut pieces = Vec::with_capacity(self.lines.len());
        if let Some(b) = bom {
            pieces.push(Piece {
                kind: PieceKind::Bom,
                span: b,
            });
        }
        let mut directives: Vec<Directive> = Vec::new();
        let mut instructions: Vec<Instruction> = Vec::new();
        self.pieces(
            bom,
            false,
            &mut directives,
            &mut pieces,
            &mut instructions,
            |_| false,
        );
        let errors = self.sorted_errors();
        Dockerfile {
            source: src.to_string(),
            line_index: LineIndex::new(src),
            bom,
            escape: self.escape,
            directives,
            pieces,
            instructions,
            errors,
        }
    }

    /// Parses the lines into top-level pieces, in order, until the text
    /// ends or `stop` accepts the end offset of the piece just parsed.
    /// `bom` is the file's BOM when the first line is the file's first;
    /// `directives_done` is false only at the top of the file. Piece
    /// indices count from the start of `directives` and `instructions`.
    fn pieces(
        &mut self,
        bom: Option<Span>,
        mut directives_done: bool,
        directives: &mut Vec<Directive>,
        pieces: &mut Vec<Piece>,
        instructions: &mut Vec<Instruction>,
        mut stop: impl FnMut(usize) -> bool,
    ) {
        let src = self.src;
        let mut i = 0;
        while i < self.lines.len() {
            let line = self.lines[i];
            let start = if i == 0 && bom.is_some() {
                3.min(line.end)
            } else {
                line.start
            };
            let content_end = line.content_end.max(start);
            let content = &src[start..content_end];
            let lead = trim_start_len(content);
            let t_start = start + lead;
            let t = &content[lead..];

            if !directives_done {
                match self.directive(t, t_start, directives) {
                    DirectiveLine::Directive(d) => {
                        pieces.push(Piece {
                            kind: PieceKind::Directive(directives.len()),
                            span: Span::new(start, line.end),
                        });
                        directives.push(d);
                        i += 1;
                        continue;
                    }
                    DirectiveLine::Duplicate => {
                        pieces.push(Piece {
                            kind: PieceKind::Comment,
                            span: Span::new(start, line.end),
                        });
                        i += 1;
                        continue;
                    }
                    DirectiveLine::NotADirective => directives_done = true,
                }
            }
            if t.is_empty() {
                pieces.push(Piece {
                    kind: PieceKind::Blank,
                    span: Span::new(start, line.end),
                });
                i += 1;
                if stop(line.end) {
                    return;
                }
                continue;
            }
            if t.starts_with('#') {
                pieces.push(Piece {
                    kind: PieceKind::Comment,
                    span: Span::new(start, line.end),
                });
                i += 1;
                if stop(line.end) {
                    return;
                }
                continue;
            }
            // Built in place: an instruction is a few hundred bytes, and
            // moving each one twice showed in profiles.
            instructions.push(Instruction::default());
            let Some(ins) = instructions.last_mut() else {
                break;
            };
            let next = self.instruction(i, t_start, ins);
            let end = self.lines[next - 1].end;
            pieces.push(Piece {
                kind: PieceKind::Instruction(instructions.len() - 1),
                span: Span::new(start, end),
            });
            i = next;
            if stop(end) {
                return;
            }
        }
    }

    /// BuildKit's DirectiveParser on one line (already left-trimmed).
    fn directive(&mut self, t: &str, t_start: usize, seen: &[Directive]) -> DirectiveLine {
        let Some(after_hash) = t.strip_prefix('#') else {
            return DirectiveLine::NotADirective;
        };
        let body_off = 1 + trim_start_len(after_hash);
        let body = &t[body_off..];
        // ^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$
        let name_len = body
            .char_indices()
            .take_while(|&(i, c)| {
                if i == 0 {
                    c.is_ascii_alphabetic()
                } else {
                    c.is_ascii_alphanumeric()
                }
            })
            .count();
        if name_len == 0 {
            return DirectiveLine::NotADirective;
        }
        let name = &body[..name_len];
        let after_name = &body[name_len..];
        let eq = trim_start_len(after_name);
        if !after_name[eq..].starts_with('=') {
            return DirectiveLine::NotADirective;
        }
        let after_eq = &after_name[eq + 1..];
        let v_lead = trim_start_len(after_eq);
        let value = after_eq[v_lead..].trim_end_matches(is_space);
        if value.is_empty() {
            return DirectiveLine::NotADirective;
        }
        let lname = name.to_ascii_lowercase();
        if !matches!(lname.as_str(), "syntax" | "escape" | "check") {
            return DirectiveLine::NotADirective;
        }
        let line_span = Span::new(t_start, t_start + t.trim_end_matches(is_space).len());
        if seen.iter().any(|d| d.name == lname) {
            self.error(
                line_span,
                format!("only one {lname} parser directive can be used"),
            );
            return DirectiveLine::Duplicate;
        }
        let name_start = t_start + body_off;
        let value_start = name_start + name_len + eq + 1 + v_lead;
        let value_span = Span::new(value_start, value_start + value.len());
        if lname == "escape" {
            match value {
                "\\" => self.escape = '\\',
                "`" => self.escape = '`',
                _ => self.error(
                    value_span,
                    format!("invalid escape token '{value}' does not match ` or \\"),
                ),
            }
        }
        DirectiveLine::Directive(Directive {
            name: CompactString::new(&lname),
            value: CompactString::new(value),
            span: line_span,
            name_span: Span::new(name_start, name_start + name_len),
            value_span,
        })
    }

    /// Where the kept text of a line ends if it continues (BuildKit's
    /// `([^\\])\\[ \t]*$|^\\[ \t]*$`), `None` when the line ends here.
    fn continuation(&self, line: &str) -> Option<usize> {
        // The escape is `\\` or `` ` ``: one byte, compared as bytes.
        let esc = self.escape as u8;
        let b = line.as_bytes();
        let mut end = b.len();
        while end > 0 && matches!(b[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        if end == 0 || b[end - 1] != esc {
            return None;
        }
        let before = end - 1;
        if before == 0 || b[before - 1] != esc {
            Some(before)
        } else {
            None
        }
    }

    /// Parses the instruction starting on line `first` at `t_start` into the
    /// blank `ins`; returns the index of the next unconsumed line.
    fn instruction(&mut self, first: usize, t_start: usize, ins: &mut Instruction) -> usize {
        let src = self.src;
        let line = self.lines[first];
        let mut logical = std::mem::take(&mut self.scratch);
        logical.text.clear();
        logical.segs.clear();
        logical.base = t_start;
        let mut empty_lines = ThinVec::new();
        let mut comment_lines = ThinVec::new();
        let first_text = &src[t_start..line.content_end];
        let mut cont = match self.continuation(first_text) {
            Some(cut) => {
                logical.push(src, t_start, t_start + cut);
                true
            }
            None => {
                logical.push(src, t_start, line.content_end);
                false
            }
        };
        let mut i = first + 1;
        while cont && i < self.lines.len() {
            let l = self.lines[i];
            i += 1;
            let c = &src[l.start..l.content_end];
            let lead = trim_start_len(c);
            if c[lead..].starts_with('#') {
                comment_lines.push(Span::new(l.start + lead, l.content_end));
                continue;
            }
            if lead == c.len() {
                empty_lines.push(Span::new(l.start, l.content_end));
                continue;
            }
            match self.continuation(c) {
                Some(cut) => logical.push(src, l.start, l.start + cut),
                None => {
                    logical.push(src, l.start, l.content_end);
                    cont = false;
                }
            }
        }
        let line_end = self.lines[i - 1].content_end;
        self.ins_start = Some(t_start);
        let first_error = self.errors.len();
        self.parse_logical(&logical, 0, 0, ins);
        ins.line_span = Span::new(t_start, line_end.max(t_start));
        ins.empty_continuation_lines = empty_lines;
        ins.comment_lines = comment_lines;

        // `ONBUILD RUN <<EOF` takes its bodies too (BuildKit's
        // `heredocCompoundDirectives`): the wrapped instruction decides.
        let heredoc_kind = match ins.onbuild.as_deref() {
            Some(inner) => inner.kind,
            None => ins.kind,
        };
        if heredoc_kind.accepts_heredocs() && logical.text.contains("<<") {
            let docs = heredoc_words(&logical);
            for (a, b, mut doc) in docs {
                doc.span = logical.span(a, b);
                let body_start = self.lines.get(i).map_or(src.len(), |l| l.start);
                let mut body_end = src.len();
                let mut terminated = false;
                while i < self.lines.len() {
                    let l = self.lines[i];
                    i += 1;
                    let mut cand = &src[l.start..l.content_end];
                    if doc.strip_tabs {
                        cand = cand.trim_start_matches('\t');
                    }
                    if cand == doc.name {
                        body_end = l.start;
                        doc.terminator_span = Some(Span::new(l.start, l.content_end));
                        terminated = true;
                        break;
                    }
                }
                let body_start = body_start.min(body_end);
                doc.body_span = Span::new(body_start, body_end);
                doc.body = CompactString::new(&src[body_start..body_end]);
                if !terminated {
                    // BuildKit's parser finds it before any check of the
                    // instruction's arguments and flags.
                    self.error(doc.span, "unterminated heredoc");
                    if let Some(e) = self.errors.pop() {
                        self.errors.insert(first_error, e);
                    }
                }
                if doc.expand {
                    // COPY/ADD bodies are expanded by BuildKit with `\` as the
                    // escape and quotes as plain text (`ExpandRaw`,
                    // `SkipProcessQuotes`); RUN bodies go to the shell, which
                    // honours quotes.
                    let lex = Lex {
                        esc: b'\\',
                        quotes: heredoc_kind == InstructionKind::Run,
                    };
                    scan_source_vars(src, doc.body_span, lex, &mut self.refs, &mut ins.variables);
                }
                ins.heredocs.push(doc);
            }
        }
        let end = self.lines[i - 1].content_end.max(t_start);
        ins.span = Span::new(t_start, end);
        self.ins_start = None;
        self.scratch = logical;
        i
    }

    /// Parses the instruction in `l.text[from..]` (`from` past any leading
    /// whitespace) into the blank `ins`. `depth` counts ONBUILD nesting (0 at
    /// top level).
    fn parse_logical(&mut self, l: &Logical, from: usize, depth: usize, ins: &mut Instruction) {
        let text = &l.text;
        // BuildKit trims the logical line first (it may start with the
        // indentation of a continuation line after a lone escape).
        let from = from + trim_start_len(&text[from..]);
        let kw_end = text[from..].find(is_re_ws).map_or(text.len(), |i| from + i);
        let keyword = CompactString::new(&text[from..kw_end]);
        let kind = InstructionKind::from_keyword(&keyword);
        let keyword_span = l.span(from, kw_end);
        let after_kw =
            kw_end + text[kw_end..].len() - text[kw_end..].trim_start_matches(is_re_ws).len();

        let (flags, rest_from) = self.flags(l, after_kw);
        // strings.TrimSpace(args)
        let rest_a = rest_from + trim_start_len(&text[rest_from..]);
        let rest_b = rest_a + text[rest_a..].trim_end_matches(is_space).len();
        let rest_span = l.span(rest_a, rest_b);
        let full_span = l.span(from, text.len().max(from));

        // `ins` is blank (`Instruction::default()`): set what is known.
        ins.kind = kind;
        ins.keyword = keyword;
        ins.keyword_span = keyword_span;
        ins.span = full_span;
        ins.line_span = full_span;
        ins.flags = flags;
        ins.rest_span = rest_span;
        // Taken, not borrowed: ONBUILD recursion gets its own (empty) buffer.
        let mut var_ranges = std::mem::take(&mut self.ranges);
        var_ranges.clear();
        let rest_empty = rest_a == rest_b;
        let name = kind.as_str();

        match kind {
            InstructionKind::Run
            | InstructionKind::Cmd
            | InstructionKind::Entrypoint
            | InstructionKind::Shell => {
                self.maybe_json(l, rest_a, rest_b, ins, &mut var_ranges, false);
            }
            InstructionKind::Add | InstructionKind::Copy | InstructionKind::Volume => {
                self.maybe_json(l, rest_a, rest_b, ins, &mut var_ranges, true);
            }
            InstructionKind::Healthcheck => {
                if !rest_empty {
                    let typ_end = text[rest_a..rest_b]
                        .find(is_space)
                        .map_or(rest_b, |i| rest_a + i);
                    ins.args.push(l.word(rest_a, typ_end));
                    let cmd_a = typ_end + trim_start_len(&text[typ_end..rest_b]);
                    ins.form = ArgForm::Shell;
                    let mut tmp = Instruction { ..ins.clone() };
                    tmp.args.clear();
                    self.maybe_json(l, cmd_a, rest_b, &mut tmp, &mut var_ranges, false);
                    ins.args.extend(tmp.args);
                    if tmp.form == ArgForm::Json {
                        ins.form = ArgForm::Json;
                    }
                }
            }
            InstructionKind::Env | InstructionKind::Label => {
                self.name_val(l, rest_a, rest_b, ins, &mut var_ranges);
            }
            InstructionKind::Arg => {
                let mut words = std::mem::take(&mut self.words);
                bk_words(text, rest_a, rest_b, self.escape, &mut words);
                for &(a, b) in &words {
                    ins.args.push(l.word(a, b));
                    let w = &text[a..b];
                    let kv = match w.find('=') {
                        Some(eq) => {
                            var_ranges.push((a + eq + 1, b));
                            KeyValue {
                                key: CompactString::new(&w[..eq]),
                                key_span: l.span(a, a + eq),
                                value: Some(CompactString::new(&w[eq + 1..])),
                                value_span: Some(l.span(a + eq + 1, b)),
                                span: l.span(a, b),
                            }
                        }
                        None => KeyValue {
                            key: CompactString::new(w),
                            key_span: l.span(a, b),
                            value: None,
                            value_span: None,
                            span: l.span(a, b),
                        },
                    };
                    ins.key_values.push(kv);
                }
                self.words = words;
                if !ins.args.is_empty() {
                    ins.form = ArgForm::Shell;
                }
            }
            InstructionKind::Expose | InstructionKind::From | InstructionKind::Unknown => {
                split_re_ws(text, rest_a, rest_b, &mut self.words);
                for &(a, b) in &self.words {
                    ins.args.push(l.word(a, b));
                    if kind != InstructionKind::Unknown {
                        var_ranges.push((a, b));
                    }
                }
                if !ins.args.is_empty() {
                    ins.form = ArgForm::Shell;
                }
            }
            InstructionKind::Maintainer
            | InstructionKind::Stopsignal
            | InstructionKind::User
            | InstructionKind::Workdir => {
                if !rest_empty {
                    ins.args.push(l.word(rest_a, rest_b));
                    var_ranges.push((rest_a, rest_b));
                    ins.form = ArgForm::Shell;
                }
            }
            InstructionKind::Onbuild => {
                // `ONBUILD ONBUILD …` is an error anyway; the bound keeps a
                // hostile chain from exhausting the stack.
                if !rest_empty && depth < MAX_ONBUILD_DEPTH {
                    let mut inner = Instruction::default();
                    // BuildKit's parser reads the trigger with the file: its
                    // syntax errors (JSON, ENV/LABEL pairs) are the ONBUILD
                    // line's. The rest it checks only where the trigger
                    // runs (a child stage, `checks` reports that).
                    self.parse_logical(l, rest_a, depth + 1, &mut inner);
                    self.errors.truncate(self.syntax_errors_end);
                    ins.variables.extend(inner.variables.iter().cloned());
                    ins.onbuild = Some(Box::new(inner));
                    ins.form = ArgForm::Shell;
                }
            }
        }

        // Variables: in flag values and the argument ranges chosen above.
        for f in &ins.flags {
            if let Some(vs) = f.value_span {
                // Flag spans are source spans; rescan their source text.
                scan_source_vars(
                    self.src,
                    vs,
                    Lex::shell(self.escape),
                    &mut self.refs,
                    &mut ins.variables,
                );
            }
        }
        for &(a, b) in &var_ranges {
            scan_vars(l, a, b, self.escape, &mut self.refs, &mut ins.variables);
        }
        self.ranges = var_ranges;
        ins.variables.sort_by_key(|v| (v.span.start, v.span.end));

        self.syntax_errors_end = self.errors.len();
        self.validate(ins, name, &text[rest_a..rest_b]);
    }

    /// BuildKit's `extractBuilderFlags`: leading `--words`, quotes and
    /// escapes removed; a lone `--` ends the flags.
    fn flags(&mut self, l: &Logical, mut pos: usize) -> (ThinVec<Flag>, usize) {
        let text = &l.text;
        let mut flags = ThinVec::new();
        loop {
            let ws = text[pos..].len() - text[pos..].trim_start_matches(is_space).len();
            let start = pos + ws;
            if !text[start..].starts_with("--") {
                return (flags, start);
            }
            let bytes = text.as_bytes();
            // Fast path: a word without quotes or backslashes is its own
            // unquoted value, so it can be sliced instead of rebuilt byte by
            // byte (the common `--mount=type=cache,target=/x`).
            let plain_end = bytes[start..]
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .map_or(bytes.len(), |i| start + i);
            let plain = !bytes[start..plain_end]
                .iter()
                .any(|&b| matches!(b, b'\'' | b'"' | b'\\'));
            let (word, j, raw_eq) = if plain {
                let raw_eq = bytes[start..plain_end]
                    .iter()
                    .position(|&b| b == b'=')
                    .map(|i| start + i);
                (
                    std::borrow::Cow::Borrowed(&text[start..plain_end]),
                    plain_end,
                    raw_eq,
                )
            } else {
                let (w, j, raw_eq) = unquote_flag_word(text, start);
                (std::borrow::Cow::Owned(w), j, raw_eq)
            };
            if word == "--" {
                return (flags, j);
            }
            let span = l.span(start, j);
            // Name and value come from the unquoted word, split at its first
            // `=` (BuildKit's strings.Cut); spans from the raw text.
            let body = word.get(2..).unwrap_or("");
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (CompactString::new(n), Some(CompactString::new(v))),
                None => (CompactString::new(body), None),
            };
            let name_end = raw_eq.unwrap_or(j);
            let value_span = match (raw_eq, &value) {
                (Some(re), _) => Some(l.span(re + 1, j)),
                (None, Some(_)) => Some(l.span(start + 2, j)),
                (None, None) => None,
            };
            flags.push(Flag {
                span,
                name,
                name_span: l.span(start + 2, name_end.max(start + 2)),
                value,
                value_span,
            });
            pos = j;
        }
    }

    /// BuildKit's parseMaybeJSON / parseMaybeJSONToList.
    fn maybe_json(
        &mut self,
        l: &Logical,
        a: usize,
        b: usize,
        ins: &mut Instruction,
        vars: &mut Vec<(usize, usize)>,
        to_list: bool,
    ) {
        if a == b {
            return;
        }
        let text = &l.text;
        match parse_json_array(&text[a..b]) {
            Ok(items) => {
                ins.form = ArgForm::Json;
                for (value, ia, ib) in items {
                    ins.args.push(Word {
                        value,
                        span: l.span(a + ia, a + ib),
                    });
                    vars.push((a + ia, a + ib));
                }
                return;
            }
            Err(JsonError::NotStrings) => {
                self.error(
                    l.span(a, b),
                    "when using JSON array syntax, arrays must be comprised of strings only",
                );
            }
            Err(JsonError::Invalid) => {}
        }
        ins.form = ArgForm::Shell;
        if to_list {
            split_re_ws(text, a, b, &mut self.words);
            for &(wa, wb) in &self.words {
                ins.args.push(l.word(wa, wb));
                vars.push((wa, wb));
            }
        } else {
            ins.args.push(l.word(a, b));
            vars.push((a, b));
        }
    }

    /// BuildKit's parseNameVal for ENV and LABEL.
    fn name_val(
        &mut self,
        l: &Logical,
        a: usize,
        b: usize,
        ins: &mut Instruction,
        vars: &mut Vec<(usize, usize)>,
    ) {
        let text = &l.text;
        let mut words = std::mem::take(&mut self.words);
        bk_words(text, a, b, self.escape, &mut words);
        self.name_val_words(l, a, b, &words, ins, vars);
        self.words = words;
    }

    /// [`Self::name_val`] on the instruction's words.
    fn name_val_words(
        &mut self,
        l: &Logical,
        a: usize,
        b: usize,
        words: &[(usize, usize)],
        ins: &mut Instruction,
        vars: &mut Vec<(usize, usize)>,
    ) {
        let text = &l.text;
        let Some(&(w0a, w0b)) = words.first() else {
            return;
        };
        ins.form = ArgForm::Shell;
        let kw = ins.kind.as_str();
        if !text[w0a..w0b].contains('=') {
            // Legacy `KEY name value`: split the rest at the first whitespace run.
            ins.legacy_key_value = true;
            let key_end = text[a..b].find(is_re_ws).map_or(b, |i| a + i);
            let val_a = key_end + text[key_end..b].len()
                - text[key_end..b].trim_start_matches(is_re_ws).len();
            if key_end == b {
                self.error(l.span(a, b), format!("{kw} must have two arguments"));
                return;
            }
            ins.args.push(l.word(a, key_end));
            ins.args.push(l.word(val_a, b));
            vars.push((val_a, b));
            ins.key_values.push(KeyValue {
                key: CompactString::new(&text[a..key_end]),
                key_span: l.span(a, key_end),
                value: Some(CompactString::new(&text[val_a..b])),
                value_span: Some(l.span(val_a, b)),
                span: l.span(a, b),
            });
            return;
        }
        for &(wa, wb) in words {
            let w = &text[wa..wb];
            let Some(eq) = w.find('=') else {
                self.error(
                    l.span(wa, wb),
                    format!(
                        "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
                    ),
                );
                continue;
            };
            let kv = KeyValue {
                key: CompactString::new(&w[..eq]),
                key_span: l.span(wa, wa + eq),
                value: Some(CompactString::new(&w[eq + 1..])),
                value_span: Some(l.span(wa + eq + 1, wb)),
                span: l.span(wa, wb),
            };
            ins.args.push(l.word(wa, wa + eq));
            ins.args.push(l.word(wa + eq + 1, wb));
            vars.push((wa + eq + 1, wb));
            ins.key_values.push(kv);
        }
    }

    /// The checks BuildKit's `instructions` package makes while building
    /// commands from the parse tree, where they need only the syntax.
    /// `rest` is the logical text after the keyword and flags.
    fn validate(&mut self, ins: &mut Instruction, name: &str, rest: &str) {
        let whole = ins.span;
        if ins.kind == InstructionKind::Unknown {
            let msg = if ins.keyword.is_empty() {
                "unknown instruction: (empty)".to_string()
            } else {
                let hint = did_you_mean(&ins.keyword, &INSTRUCTION_NAMES, false);
                format!("unknown instruction: {}{hint}", ins.keyword)
            };
            self.error(ins.keyword_span, msg);
            return;
        }
        let nargs = ins.args.len();
        let at = if ins.rest_span.is_empty() {
            whole
        } else {
            ins.rest_span
        };
        let healthcheck_none = ins.kind == InstructionKind::Healthcheck
            && ins
                .args
                .first()
                .is_some_and(|a| a.value.eq_ignore_ascii_case("none"));
        // BuildKit checks the number of arguments of these (and FROM's,
        // below) before their flags, and stops at the first error (an ONBUILD trigger shows
        // only that one, on the child's FROM).
        let count_error = match ins.kind {
            InstructionKind::Add | InstructionKind::Copy if nargs < 2 && !rest.contains("<<") => {
                Some(format!("{name} requires at least two arguments, but only one was provided. Destination could not be determined"))
            }
            InstructionKind::Arg
            | InstructionKind::Expose
            | InstructionKind::Volume
            | InstructionKind::Healthcheck
                if nargs == 0 =>
            {
                Some(format!("{name} requires at least one argument"))
            }
            InstructionKind::Onbuild if ins.onbuild.is_none() => {
                Some("ONBUILD requires at least one argument".to_string())
            }
            InstructionKind::Maintainer
            | InstructionKind::User
            | InstructionKind::Workdir
            | InstructionKind::Stopsignal
                if nargs != 1 =>
            {
                Some(format!("{name} requires exactly one argument"))
            }
            InstructionKind::Healthcheck if healthcheck_none && nargs > 1 => {
                Some("HEALTHCHECK NONE takes no arguments".to_string())
            }
            _ => None,
        };
        if let Some(m) = count_error {
            self.error(at, m);
        }
        // FROM: the arguments and the stage name, before the flags too.
        if ins.kind == InstructionKind::From {
            let a = &ins.args;
            if nargs == 3 && a[1].value.eq_ignore_ascii_case("as") {
                let stage = &a[2];
                if !valid_stage_name(&stage.value) {
                    self.error(
                        stage.span,
                        format!(
                            "invalid name for build stage: {:?}, name can't start with a number or contain symbols",
                            stage.value
                        ),
                    );
                }
                ins.from = Some(Box::new(FromClause {
                    image: a[0].clone(),
                    as_keyword: Some(a[1].clone()),
                    stage_name: Some(a[2].clone()),
                }));
            } else if nargs == 1 {
                ins.from = Some(Box::new(FromClause {
                    image: a[0].clone(),
                    as_keyword: None,
                    stage_name: None,
                }));
            } else {
                if let Some(img) = a.first() {
                    // Keep the image so stages still form while typing.
                    ins.from = Some(Box::new(FromClause {
                        image: img.clone(),
                        as_keyword: a.get(1).cloned(),
                        stage_name: a.get(2).cloned(),
                    }));
                }
                self.error(at, "FROM requires either one or three arguments");
            }
        }
        // Flags. BuildKit never parses the flags of ARG, STOPSIGNAL and
        // HEALTHCHECK NONE: any flag there is ignored.
        let flags_ignored = matches!(ins.kind, InstructionKind::Arg | InstructionKind::Stopsignal)
            || healthcheck_none;
        let allowed = ins.kind.allowed_flags();
        // Bit k: allowed[k] was seen (at most 7 flags per instruction).
        let mut seen: u32 = 0;
        let mut flag_errors = Vec::new();
        for f in &ins.flags {
            let n = f.name.as_str();
            let Some(k) = allowed.iter().position(|a| *a == n) else {
                let hint = did_you_mean(n, allowed, true);
                flag_errors.push((f.span, format!("unknown flag: --{n}{hint}")));
                continue;
            };
            let repeatable = matches!(n, "mount" | "exclude" | "device");
            let boolean = matches!(n, "link" | "keep-git-dir" | "unpack" | "parents");
            if !repeatable && seen & (1 << k) != 0 {
                flag_errors.push((f.span, format!("duplicate flag specified: --{n}")));
            }
            seen |= 1 << k;
            match (&f.value, boolean) {
                (None, false) => {
                    flag_errors.push((f.span, format!("missing a value on flag: --{n}")))
                }
                (Some(v), true) if v.is_empty() => {
                    flag_errors.push((f.span, format!("missing a value on flag: --{n}")))
                }
                (Some(v), true)
                    if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") =>
                {
                    flag_errors.push((
                        f.span,
                        format!("expecting boolean value for flag --{n}, not: {v}"),
                    ))
                }
                _ => {}
            }
        }
        if !flags_ignored {
            for (s, m) in flag_errors {
                self.error(s, m);
            }
        }
        match ins.kind {
            InstructionKind::Env | InstructionKind::Label | InstructionKind::Shell
                // ENV/LABEL with text but no pairs already have their error.
                if nargs == 0
                    && (rest.is_empty()
                        || !matches!(ins.kind, InstructionKind::Env | InstructionKind::Label)) =>
            {
                self.error(at, format!("{name} requires at least one argument"));
            }
            InstructionKind::Shell if ins.form == ArgForm::Shell => {
                self.error(at, "SHELL requires the arguments to be in JSON form");
            }
            InstructionKind::Volume if ins.args.iter().any(|a| a.value.trim().is_empty()) => {
                self.error(at, "VOLUME specified can not be an empty string");
            }
            InstructionKind::Onbuild => match ins.onbuild.as_deref().map(|i| i.kind) {
                None => {}
                Some(InstructionKind::Onbuild) => {
                    self.error(at, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
                }
                Some(k @ (InstructionKind::From | InstructionKind::Maintainer)) => self.error(
                    at,
                    format!("{} isn't allowed as an ONBUILD trigger", k.as_str()),
                ),
                _ => {}
            },
            _ => {}
        }
        if matches!(
            ins.kind,
            InstructionKind::Arg | InstructionKind::Env | InstructionKind::Label
        ) {
            let blank: Vec<Span> = ins
                .key_values
                .iter()
                .filter(|kv| kv.key.is_empty())
                .map(|kv| kv.span)
                .collect();
            for span in blank {
                self.error(span, format!("{name} names can not be blank"));
            }
        }
        if ins.kind == InstructionKind::Healthcheck && nargs > 0 {
            let typ = ins.args[0].value.to_ascii_uppercase();
            match typ.as_str() {
                "CMD" if nargs == 1 => self.error(at, "Missing command after HEALTHCHECK CMD"),
                "CMD" | "NONE" => {}
                _ => self.error(
                    ins.args[0].span,
                    format!(
                        "Unknown type {:?} in HEALTHCHECK (try CMD)",
                        ins.args[0].value
                    ),
                ),
            }
        }
    }
}

/// Scans one flag word from `start` honouring quotes and backslash escapes
/// (BuildKit's flag extraction): the unquoted word, where it ends and the
/// first unquoted `=`.
fn unquote_flag_word(text: &str, start: usize) -> (String, usize, Option<usize>) {
    let bytes = text.as_bytes();
    let mut j = start;
    let mut word = String::new();
    let mut quote: Option<u8> = None;
    let mut raw_eq: Option<usize> = None;
    while j < bytes.len() {
        let b = bytes[j];
        match quote {
            None => {
                if (b as char).is_ascii_whitespace() {
                    break;
                }
                if b == b'\'' || b == b'"' {
                    quote = Some(b);
                    j += 1;
                    continue;
                }
            }
            Some(q) if b == q => {
                quote = None;
                j += 1;
                continue;
            }
            Some(_) => {}
        }
        if b == b'\\' {
            j += 1;
            if j >= bytes.len() {
                break;
            }
        }
        let ch_len = utf8_len(bytes[j]);
        let ch_end = (j + ch_len).min(bytes.len());
        if bytes[j] == b'=' && raw_eq.is_none() && quote.is_none() {
            raw_eq = Some(j);
        }
        word.push_str(text.get(j..ch_end).unwrap_or(""));
        j = ch_end;
    }
    (word, j, raw_eq)
}

enum DirectiveLine {
    Directive(Directive),
    Duplicate,
    NotADirective,
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// `^[a-z][a-z0-9-_\.]*$` on the lower-cased name, as BuildKit checks
/// (so ASCII letters of either case).
fn valid_stage_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(c) if c.is_ascii_alphabetic())
        && bytes.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Ranges of `text[a..b]` split at runs of BuildKit's `reWhitespace`, into
/// `out` (cleared first). The separators are ASCII, so bytes suffice.
fn split_re_ws(text: &str, a: usize, b: usize, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let bytes = &text.as_bytes()[..b];
    let mut start: Option<usize> = None;
    for (i, &c) in bytes.iter().enumerate().skip(a) {
        if is_re_ws(c as char) {
            if let Some(s) = start.take() {
                out.push((s, i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, b));
    }
}

/// The character at byte `i` of `text` and its length (`i` is a char start).
#[inline]
fn char_at(text: &str, i: usize) -> (char, usize) {
    let c = text.as_bytes()[i];
    if c < 0x80 {
        return (c as char, 1);
    }
    let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
    (ch, ch.len_utf8())
}

/// BuildKit's parseWords: words of `text[a..b]` split at unquoted
/// whitespace, into `out` (cleared first); quotes and escapes stay in the
/// word.
fn bk_words(text: &str, a: usize, b: usize, escape: char, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let mut start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut i = a;
    while i < b {
        let (c, len) = char_at(text, i);
        let at = i;
        i += len;
        if start.is_none() {
            if is_space(c) {
                continue;
            }
            start = Some(at);
        }
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == escape && q != '\'' && i < b {
                i += char_at(text, i).1;
            }
            continue;
        }
        if is_space(c) {
            if let Some(s0) = start.take() {
                out.push((s0, at));
            }
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
        } else if c == escape && i < b {
            i += char_at(text, i).1;
        }
    }
    if let Some(s0) = start {
        out.push((s0, b));
    }
}

/// Heredoc words of a logical line: BuildKit lexes the whole line with a
/// `\` shell lexer (raw quotes) and matches `^(\d*)<<(-?)([^<]*)$`.
fn heredoc_words(l: &Logical) -> Vec<(usize, usize, Heredoc)> {
    let text = &l.text;
    let mut out = Vec::new();
    let mut words = Vec::new();
    bk_words(text, 0, text.len(), '\\', &mut words);
    for &(a, b) in &words {
        let w = &text[a..b];
        let digits = w.len() - w.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let Some(after) = w[digits..].strip_prefix("<<") else {
            continue;
        };
        let (strip_tabs, raw_name) = match after.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, after),
        };
        if raw_name.is_empty() || raw_name.contains('<') {
            continue;
        }
        let name = unquote(raw_name, '\\');
        if name.is_empty() || name.chars().any(is_space) {
            continue;
        }
        let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
        let expand = quotes(&name) == quotes(raw_name);
        out.push((
            a,
            b,
            Heredoc {
                name: CompactString::from(name),
                span: Span::default(),
                body: CompactString::default(),
                body_span: Span::default(),
                terminator_span: None,
                expand,
                strip_tabs,
                fd: if digits > 0 {
                    w[..digits].parse().ok()
                } else {
                    None
                },
            },
        ));
    }
    out
}

enum JsonError {
    Invalid,
    NotStrings,
}

/// Parses `s` as a JSON array (Go's `json.Unmarshal` into `[]any`): returns
/// the string elements with their byte ranges in `s` (quotes included), or
/// whether it was invalid JSON or valid JSON with non-string elements.
fn parse_json_array(s: &str) -> Result<Vec<(CompactString, usize, usize)>, JsonError> {
    let b = s.as_bytes();
    let mut p = skip_json_ws(b, 0);
    if b.get(p) != Some(&b'[') {
        return Err(JsonError::Invalid);
    }
    p += 1;
    let mut items = Vec::new();
    let mut non_string = false;
    p = skip_json_ws(b, p);
    if b.get(p) == Some(&b']') {
        p += 1;
    } else {
        loop {
            p = skip_json_ws(b, p);
            if b.get(p) == Some(&b'"') {
                let (v, end) = json_string(s, p).ok_or(JsonError::Invalid)?;
                items.push((v, p, end));
                p = end;
            } else {
                p = json_value(s, p, 1).ok_or(JsonError::Invalid)?;
                non_string = true;
            }
            p = skip_json_ws(b, p);
            match b.get(p) {
                Some(b',') => p += 1,
                Some(b']') => {
                    p += 1;
                    break;
                }
                _ => return Err(JsonError::Invalid),
            }
        }
    }
    if skip_json_ws(b, p) != b.len() {
        return Err(JsonError::Invalid);
    }
    if non_string {
        return Err(JsonError::NotStrings);
    }
    Ok(items)
}

fn skip_json_ws(b: &[u8], mut p: usize) -> usize {
    while matches!(b.get(p), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        p += 1;
    }
    p
}

/// A JSON string starting at `p` (the opening quote): its value and the
/// offset after the closing quote.
fn json_string(s: &str, p: usize) -> Option<(CompactString, usize)> {
    let b = s.as_bytes();
    // Fast path: no escapes, so the value is the text between the quotes.
    let plain = b
        .get(p + 1..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
    if b[p + 1 + plain] == b'"' {
        return Some((CompactString::new(&s[p + 1..p + 1 + plain]), p + plain + 2));
    }
    let mut out = CompactString::default();
    let mut i = p + 1;
    loop {
        let c = *b.get(i)?;
        match c {
            b'"' => return Some((out, i + 1)),
            b'\\' => {
                let e = *b.get(i + 1)?;
                i += 2;
                match e {
                    b'"' => out.push('"'),
                    b'\\' => out.push('\\'),
                    b'/' => out.push('/'),
                    b'b' => out.push('\u{8}'),
                    b'f' => out.push('\u{c}'),
                    b'n' => out.push('\n'),
                    b'r' => out.push('\r'),
                    b't' => out.push('\t'),
                    b'u' => {
                        let hex = s.get(i..i + 4)?;
                        let mut cp = u32::from_str_radix(hex, 16).ok()?;
                        i += 4;
                        if (0xd800..0xdc00).contains(&cp) && s.get(i..i + 2) == Some("\\u") {
                            if let Some(lo) = s
                                .get(i + 2..i + 6)
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .filter(|lo| (0xdc00..0xe000).contains(lo))
                            {
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                i += 6;
                            }
                        }
                        out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                    }
                    _ => return None,
                }
            }
            0x00..=0x1f => return None,
            _ => {
                let len = utf8_len(c);
                out.push_str(s.get(i..i + len)?);
                i += len;
            }
        }
    }
}

/// Skips any JSON value at `p`; `None` when invalid.
fn json_value(s: &str, p: usize, depth: usize) -> Option<usize> {
    if depth > MAX_JSON_DEPTH {
        return None;
    }
    let b = s.as_bytes();
    let p = skip_json_ws(b, p);
    match *b.get(p)? {
        b'"' => json_string(s, p).map(|(_, e)| e),
        b'[' | b'{' => {
            let close = if b[p] == b'[' { b']' } else { b'}' };
            let obj = b[p] == b'{';
            let mut q = skip_json_ws(b, p + 1);
            if b.get(q) == Some(&close) {
                return Some(q + 1);
            }
            loop {
                if obj {
                    q = skip_json_ws(b, q);
                    if b.get(q) != Some(&b'"') {
                        return None;
                    }
                    q = json_value(s, q, depth + 1)?;
                    q = skip_json_ws(b, q);
                    if b.get(q) != Some(&b':') {
                        return None;
                    }
                    q += 1;
                }
                q = json_value(s, q, depth + 1)?;
                q = skip_json_ws(b, q);
                match b.get(q) {
                    Some(b',') => q += 1,
                    Some(&c) if c == close => return Some(q + 1),
                    _ => return None,
                }
            }
        }
        b't' => b[p..].starts_with(b"true").then_some(p + 4),
        b'f' => b[p..].starts_with(b"false").then_some(p + 5),
        b'n' => b[p..].starts_with(b"null").then_some(p + 4),
        b'-' | b'0'..=b'9' => {
            let mut q = p;
            if b[q] == b'-' {
                q += 1;
            }
            let digits = |q: &mut usize| {
                let s = *q;
                while matches!(b.get(*q), Some(b'0'..=b'9')) {
                    *q += 1;
                }
                *q > s
            };
            if b.get(q) == Some(&b'0') {
                q += 1;
            } else if !digits(&mut q) {
                return None;
            }
            if b.get(q) == Some(&b'.') {
                q += 1;
                if !digits(&mut q) {
                    return None;
                }
            }
            if matches!(b.get(q), Some(b'e' | b'E')) {
                q += 1;
                if matches!(b.get(q), Some(b'+' | b'-')) {
                    q += 1;
                }
                if !digits(&mut q) {
                    return None;
                }
            }
            Some(q)
        }
        _ => None,
    }
}

/// Collects variable references in the logical range `a..b`.
fn scan_vars(
    l: &Logical,
    a: usize,
    b: usize,
    escape: char,
    refs: &mut Vec<RawRef>,
    out: &mut ThinVec<VarRef>,
) {
    // Most words hold no `$`: skip the scanner and its allocations.
    if !l.text.as_bytes()[a..b].contains(&b'$') {
        return;
    }
    refs.clear();
    scan_text(&l.text[..b], a, Lex::shell(escape), refs);
    out.reserve(refs.len());
    for r in refs.drain(..) {
        out.push(VarRef {
            name: r.name,
            name_span: l.span(r.name_range.0, r.name_range.1),
            span: l.span(r.start, r.end),
            braced: r.braced,
            operator: r.operator,
            operand: r.operand.map(|(oa, ob)| l.word(oa, ob)),
        });
    }
}

/// Collects variable references in a source span that has no continuation
/// inside (flag values are single words on one line in practice; when not,
/// the offsets are still clamped into the text).
fn scan_source_vars(
    src: &str,
    span: Span,
    lex: Lex,
    refs: &mut Vec<RawRef>,
    out: &mut ThinVec<VarRef>,
) {
    match src.get(span.start..span.end) {
        Some(v) if v.contains('$') => {}
        _ => return,
    }
    refs.clear();
    scan_text(&src[..span.end], span.start, lex, refs);
    out.reserve(refs.len());
    for r in refs.drain(..) {
        out.push(VarRef {
            name: r.name,
            name_span: Span::new(r.name_range.0, r.name_range.1),
            span: Span::new(r.start, r.end),
            braced: r.braced,
            operator: r.operator,
            operand: r.operand.map(|(oa, ob)| Word {
                value: CompactString::new(&src[oa..ob]),
                span: Span::new(oa, ob),
            }),
        });
    }
}

struct RawRef {
    name: CompactString,
    name_range: (usize, usize),
    start: usize,
    end: usize,
    braced: bool,
    operator: Option<CompactString>,
    operand: Option<(usize, usize)>,
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Scans `text[from..]` for `$NAME` / `${…}` the way BuildKit's shell lexer
/// finds them: not inside single quotes, not after the escape character.
fn scan_text(text: &str, from: usize, lex: Lex, out: &mut Vec<RawRef>) {
    let braces = brace_pairs(text, from, lex.esc);
    scan_range(text, from, text.len(), lex, &braces, 0, out);
}

/// How the scanner reads text: the escape byte, and whether quotes count
/// (heredoc bodies of COPY/ADD are expanded with quotes as plain text).
#[derive(Debug, Clone, Copy)]
struct Lex {
    esc: u8,
    quotes: bool,
}

impl Lex {
    fn shell(escape: char) -> Lex {
        Lex {
            esc: escape as u8,
            quotes: true,
        }
    }
}

/// `(open, close)` byte positions of every `${` and its matching `}` in
/// `text[from..]`, sorted by `open`: one pass with a stack, so matching stays
/// linear however many braces are left open.
fn brace_pairs(text: &str, from: usize, esc: u8) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut stack = Vec::new();
    let mut pairs = Vec::new();
    let mut i = from;
    while i < b.len() {
        match b[i] {
            c if c == esc => i += 1,
            b'$' if b.get(i + 1) == Some(&b'{') => {
                stack.push(i);
                i += 1;
            }
            b'}' => {
                if let Some(open) = stack.pop() {
                    pairs.push((open, i));
                }
            }
            _ => {}
        }
        i += 1;
    }
    pairs.sort_unstable();
    pairs
}

fn scan_range(
    text: &str,
    from: usize,
    to: usize,
    lex: Lex,
    braces: &[(usize, usize)],
    depth: usize,
    out: &mut Vec<RawRef>,
) {
    let b = &text.as_bytes()[..to];
    let mut i = from;
    let mut single = false;
    let mut double = false;
    while i < b.len() {
        let c = b[i];
        if single {
            if c == b'\'' {
                single = false;
            }
            i += 1;
            continue;
        }
        if c == lex.esc {
            i += 1;
            if i < b.len() {
                i += utf8_len(b[i]);
            }
            continue;
        }
        match c {
            b'\'' if !double && lex.quotes => single = true,
            b'"' if lex.quotes => double = !double,
            b'$' => {
                i = scan_dollar(text, i, to, lex, braces, depth, out);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
}

/// Scans one `$…` at `i` (below `to`); returns where scanning continues.
fn scan_dollar(
    text: &str,
    i: usize,
    to: usize,
    lex: Lex,
    braces: &[(usize, usize)],
    depth: usize,
    out: &mut Vec<RawRef>,
) -> usize {
    let b = &text.as_bytes()[..to];
    let Some(&next) = b.get(i + 1) else {
        return i + 1;
    };
    if next != b'{' {
        let mut j = i + 1;
        while j < b.len() && is_name_byte(b[j]) {
            j += 1;
        }
        if j > i + 1 {
            out.push(RawRef {
                name: CompactString::new(&text[i + 1..j]),
                name_range: (i + 1, j),
                start: i,
                end: j,
                braced: false,
                operator: None,
                operand: None,
            });
        }
        return j.max(i + 1);
    }
    let mut j = i + 2;
    // `${#NAME}` is the length of NAME.
    if b.get(j) == Some(&b'#') && b.get(j + 1).is_some_and(|&c| is_name_byte(c)) {
        j += 1;
    }
    let name_start = j;
    while j < b.len() && is_name_byte(b[j]) {
        j += 1;
    }
    if j == name_start {
        return i + 2;
    }
    let close = braces
        .binary_search_by_key(&i, |&(open, _)| open)
        .ok()
        .map(|k| braces[k].1)
        .filter(|&c| c < to);
    // Unclosed (BuildKit: "missing '}'"): the reference is just `${NAME`.
    let body_end = close.unwrap_or(j);
    let end = close.map_or(j, |c| c + 1);
    let (operator, operand) = if j < body_end {
        let rest = &text[j..body_end];
        let op_len = [":-", ":+", ":?", ":=", "##", "%%", "//"]
            .iter()
            .find(|op| rest.starts_with(*op))
            .map(|op| op.len())
            .or_else(|| {
                rest.starts_with(['-', '+', '?', '=', '#', '%', '/', ':'])
                    .then_some(1)
            })
            .unwrap_or(0);
        let op = &rest[..op_len];
        (
            (!op.is_empty()).then(|| CompactString::new(op)),
            Some((j + op_len, body_end)),
        )
    } else {
        (None, None)
    };
    out.push(RawRef {
        name: CompactString::new(&text[name_start..j]),
        name_range: (name_start, j),
        start: i,
        end,
        braced: true,
        operator,
        operand,
    });
    if let Some((oa, ob)) = operand {
        if depth < MAX_VAR_DEPTH {
            scan_range(text, oa, ob, lex, braces, depth + 1, out);
        }
    }
    end
}

/// Every instruction name, for BuildKit's `did you mean` on an unknown one.
const INSTRUCTION_NAMES: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// BuildKit's `suggest.WrapError` suffix: ` (did you mean X?)`, with X in
/// the case of what was written when matching case-insensitively (its
/// `matchCase`), or empty.
fn did_you_mean(val: &str, options: &[&str], case_sensitive: bool) -> String {
    let found = if case_sensitive {
        super::checks::suggest(val, options.iter().copied(), true)
    } else {
        let lower: Vec<String> = options.iter().map(|o| o.to_lowercase()).collect();
        super::checks::suggest(&val.to_lowercase(), lower.iter().map(String::as_str), true).map(
            |m| {
                if val == val.to_lowercase() {
                    m
                } else if val == val.to_uppercase() {
                    m.to_uppercase()
                } else {
                    m
                }
            },
        )
    };
    found
        .map(|m| format!(" (did you mean {m}?)"))
        .unwrap_or_default()
}
