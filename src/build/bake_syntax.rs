//! The shape of one bake file as written, for editor features: its blocks
//! (`target`, `group`, `variable`, `function`) with their labels and
//! attributes, every value's kind and literal text, and every name an
//! expression refers to, each with its byte span. Unlike `bake::Bake`
//! nothing is evaluated and nothing fails: a file being typed (an
//! unterminated block, an attribute without a value) still has an outline,
//! so completion and hover work mid-edit.
//!
//! HCL is read by a small tolerant lexer ([`lex`]), which the formatter
//! (`bake_fmt`) and the semantic tokens share; JSON by `jsonc-parser` in
//! its lenient mode.

use crate::dockerfile::Span;

/// A bake file's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Hcl,
    Json,
}

/// A token of HCL source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    Ident,
    Number,
    /// A quoted string, quotes included (possibly unterminated).
    Str,
    /// A heredoc, from `<<` to its closing marker line.
    Heredoc,
    /// `#`, `//` (to the end of the line) or `/* */`.
    Comment,
    Open(char),
    Close(char),
    /// `=` (an assignment, not `==`).
    Assign,
    Punct,
    Newline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Tok,
    pub span: Span,
}

/// Tokens of HCL text; whitespace other than line breaks is skipped.
/// Never fails: anything unknown is one `Punct` character.
pub fn lex(text: &str) -> Vec<Token> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let push = |out: &mut Vec<Token>, kind, s, e| {
        out.push(Token {
            kind,
            span: Span::new(s, e),
        })
    };
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' => i += 1,
            b'\n' => {
                i += 1;
                push(&mut out, Tok::Newline, start, i);
            }
            b'#' => {
                i = line_end(b, i);
                push(&mut out, Tok::Comment, start, i);
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = line_end(b, i);
                push(&mut out, Tok::Comment, start, i);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..].find("*/").map_or(b.len(), |j| i + 2 + j + 2);
                push(&mut out, Tok::Comment, start, i);
            }
            b'"' => {
                i = string_end(b, i);
                push(&mut out, Tok::Str, start, i);
            }
            b'<' if b.get(i + 1) == Some(&b'<') && heredoc_marker(text, i).is_some() => {
                i = heredoc_end(text, i);
                push(&mut out, Tok::Heredoc, start, i);
            }
            b'{' | b'[' | b'(' => {
                i += 1;
                push(&mut out, Tok::Open(c as char), start, i);
            }
            b'}' | b']' | b')' => {
                i += 1;
                push(&mut out, Tok::Close(c as char), start, i);
            }
            b'=' if b.get(i + 1) != Some(&b'=') && b.get(i + 1) != Some(&b'>') => {
                i += 1;
                push(&mut out, Tok::Assign, start, i);
            }
            c if c.is_ascii_digit() => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                push(&mut out, Tok::Number, start, i);
            }
            c if is_ident_start(c) => {
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                push(&mut out, Tok::Ident, start, i);
            }
            _ => {
                // One character (a whole UTF-8 sequence) or a two-character
                // operator.
                let len = text[i..].chars().next().map_or(1, char::len_utf8);
                let two = text.get(i..i + 2).unwrap_or("");
                i += if matches!(two, "==" | "!=" | "<=" | ">=" | "&&" | "||" | "=>" | "::") {
                    2
                } else {
                    len
                };
                push(&mut out, Tok::Punct, start, i);
            }
        }
    }
    out
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c >= 0x80
}

fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |j| i + j)
}

/// The end of the string opening at `i`: after its closing quote, honouring
/// escapes and `${ … }` interpolations (which may hold strings), else the
/// end of the line.
fn string_end(b: &[u8], i: usize) -> usize {
    let mut j = i + 1;
    let mut depth = 0usize;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'$' | b'%' if b.get(j + 1) == Some(&b'{') => {
                depth += 1;
                j += 2;
            }
            b'}' if depth > 0 => {
                depth -= 1;
                j += 1;
            }
            b'"' if depth > 0 => j = string_end(b, j),
            b'"' => return j + 1,
            b'\n' => return j,
            _ => j += 1,
        }
    }
    b.len()
}

/// The marker of a heredoc opening at `i` (`<<EOT` or `<<-EOT`).
fn heredoc_marker(text: &str, i: usize) -> Option<&str> {
    let rest = &text[i + 2..];
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let len = rest
        .bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
        .count();
    let after = rest[len..]
        .bytes()
        .find(|c| *c != b' ' && *c != b'\t' && *c != b'\r');
    (len > 0 && matches!(after, Some(b'\n') | None)).then(|| &rest[..len])
}

fn heredoc_end(text: &str, i: usize) -> usize {
    let Some(marker) = heredoc_marker(text, i) else {
        return i + 2;
    };
    let mut at = line_end(text.as_bytes(), i);
    while at < text.len() {
        let start = at + 1;
        let end = line_end(text.as_bytes(), start.min(text.len()));
        if text.get(start..end).map(str::trim) == Some(marker) {
            return end;
        }
        at = end;
    }
    text.len()
}

/// What a value is, as far as syntax tells.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string without interpolation: its text (escapes as written) and
    /// the span inside the quotes.
    Str {
        text: String,
        inner: Span,
    },
    /// A string with `${…}` interpolations (its references are in the
    /// file's `refs`).
    Template {
        inner: Span,
    },
    Number,
    Bool,
    Null,
    List(Vec<(Value, Span)>),
    Object(Vec<Entry>),
    /// Anything else: variables, calls, operators, for-expressions.
    Expr,
    /// Nothing after `=` yet.
    Missing,
}

/// A key of an object value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Value,
    pub value_span: Span,
}

impl Value {
    /// The value's kind in words, as messages and hovers name it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Str { .. } | Value::Template { .. } => "a string",
            Value::Number => "a number",
            Value::Bool => "a boolean",
            Value::Null => "null",
            Value::List(_) => "a list",
            Value::Object(_) => "a map",
            Value::Expr | Value::Missing => "an expression",
        }
    }

    /// The literal string, if this is one.
    pub fn as_str(&self) -> Option<(&str, Span)> {
        match self {
            Value::Str { text, inner } => Some((text, *inner)),
            _ => None,
        }
    }

    /// The literal strings of a list value.
    pub fn strings(&self) -> Vec<(&str, Span)> {
        match self {
            Value::List(items) => items.iter().filter_map(|(v, _)| v.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

/// An attribute: `key = value` in HCL, `"key": value` in JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub key: String,
    pub key_span: Span,
    pub value: Value,
    pub value_span: Span,
    /// Key to the end of the value.
    pub span: Span,
}

/// A block: `target "name" { … }`, or in JSON `"target": {"name": {…}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: String,
    pub kind_span: Span,
    pub labels: Vec<(String, Span)>,
    /// From the block type to the closing brace (or the end of the file).
    pub span: Span,
    /// Inside the braces.
    pub body: Span,
    pub attrs: Vec<Attr>,
    pub blocks: Vec<Block>,
}

impl Block {
    /// The first label (a target's, group's, variable's or function's name).
    pub fn name(&self) -> Option<(&str, Span)> {
        self.labels.first().map(|(n, s)| (n.as_str(), *s))
    }

    pub fn attr(&self, key: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.key == key)
    }
}

/// A name an expression uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub name: String,
    pub span: Span,
    pub kind: RefKind,
    /// `target.<name>.<attr>`: the attribute read, and its span.
    pub attr: Option<(String, Span)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// A variable (or a function parameter, or a for-expression's name).
    Var,
    /// A function call's name.
    Call,
    /// `target.<name>` in an expression.
    Target,
}

/// One bake file's outline.
#[derive(Debug, Clone, PartialEq)]
pub struct Outline {
    pub syntax: Syntax,
    pub blocks: Vec<Block>,
    /// Attributes outside any block (HCL only: bake reads them as variables).
    pub attrs: Vec<Attr>,
    pub refs: Vec<Ref>,
}

const KEYWORDS: [&str; 7] = ["true", "false", "null", "for", "in", "if", "else"];

impl Outline {
    pub fn parse(text: &str, syntax: Syntax) -> Outline {
        match syntax {
            Syntax::Hcl => {
                let tokens = lex(text);
                let mut p = HclParser {
                    text,
                    toks: tokens
                        .into_iter()
                        .filter(|t| t.kind != Tok::Comment)
                        .collect(),
                    pos: 0,
                    refs: Vec::new(),
                };
                let (attrs, blocks) = p.body(None);
                Outline {
                    syntax,
                    blocks,
                    attrs,
                    refs: p.refs,
                }
            }
            Syntax::Json => json_outline(text),
        }
    }

    /// Blocks of one type.
    pub fn blocks_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.kind == kind)
    }

    /// The block of `kind` named `name` (the first, if written twice).
    pub fn block(&self, kind: &str, name: &str) -> Option<&Block> {
        self.blocks
            .iter()
            .find(|b| b.kind == kind && b.name().is_some_and(|(n, _)| n == name))
    }

    /// The innermost top-level block whose span holds `offset`.
    pub fn block_at(&self, offset: usize) -> Option<&Block> {
        self.blocks
            .iter()
            .find(|b| b.span.start <= offset && offset <= b.span.end)
    }

    /// Names a variable can be read by: `variable` blocks and top-level
    /// attributes.
    pub fn variable_names(&self) -> Vec<(&str, Span)> {
        let mut out: Vec<(&str, Span)> =
            self.blocks_of("variable").filter_map(Block::name).collect();
        out.extend(self.attrs.iter().map(|a| (a.key.as_str(), a.key_span)));
        out
    }

    /// Every place a target's name is written: its block labels, `inherits`
    /// and group `targets` entries, `target:` contexts, `target.<name>`.
    pub fn target_mentions(&self, name: &str) -> Vec<Span> {
        let mut out = Vec::new();
        for b in &self.blocks {
            if b.kind == "target" {
                if let Some((n, s)) = b.name() {
                    if n == name {
                        out.push(s);
                    }
                }
            }
            for (n, s) in target_refs(b) {
                if n == name {
                    out.push(s);
                }
            }
        }
        for r in &self.refs {
            if r.kind == RefKind::Target && r.name == name {
                out.push(r.span);
            }
        }
        out.sort_by_key(|s| s.start);
        out.dedup();
        out
    }

    /// Every place a variable's name is written: its declaration and uses.
    pub fn variable_mentions(&self, name: &str) -> Vec<Span> {
        let mut out: Vec<Span> = self
            .variable_names()
            .into_iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, s)| s)
            .collect();
        out.extend(
            self.refs
                .iter()
                .filter(|r| r.kind == RefKind::Var && r.name == name)
                .map(|r| r.span),
        );
        out.sort_by_key(|s| s.start);
        out.dedup();
        out
    }

    /// The reference (if any) whose span touches `offset`.
    pub fn ref_at(&self, offset: usize) -> Option<&Ref> {
        self.refs
            .iter()
            .find(|r| r.span.start <= offset && offset <= r.span.end)
    }
}

/// Target names a block refers to, with the span of each name: `inherits`,
/// a group's `targets`, and `contexts` values `target:<name>`.
pub fn target_refs(b: &Block) -> Vec<(&str, Span)> {
    let mut out = Vec::new();
    match b.kind.as_str() {
        "target" => {
            if let Some(a) = b.attr("inherits") {
                out.extend(a.value.strings());
            }
            if let Some(Attr {
                value: Value::Object(entries),
                ..
            }) = b.attr("contexts")
            {
                for e in entries {
                    if let Some((s, span)) = e.value.as_str() {
                        if let Some(name) = s.strip_prefix("target:") {
                            let start = span.start + "target:".len();
                            out.push((name, Span::new(start, start + name.len())));
                        }
                    }
                }
            }
        }
        "group" => {
            if let Some(a) = b.attr("targets") {
                out.extend(a.value.strings());
            }
        }
        _ => {}
    }
    out
}

/// The attribute `key` of target `name` as bake merges it: the target's
/// own blocks (a later file's block wins), then its `inherits` parents (a
/// later parent wins), depth-first. `files` in bake's reading order.
pub fn inherited<'a>(files: &'a [Outline], name: &str, key: &str) -> Option<&'a Attr> {
    fn go<'a>(files: &'a [Outline], name: &str, key: &str, depth: usize) -> Option<&'a Attr> {
        if depth > 32 {
            return None; // a cycle; reported by the checks
        }
        let blocks: Vec<&Block> = files
            .iter()
            .flat_map(|o| o.blocks_of("target"))
            .filter(|b| b.name().is_some_and(|(n, _)| n == name))
            .collect();
        if let Some(a) = blocks.iter().rev().find_map(|b| b.attr(key)) {
            return Some(a);
        }
        let parents: Vec<&str> = blocks
            .iter()
            .filter_map(|b| b.attr("inherits"))
            .flat_map(|a| a.value.strings())
            .map(|(n, _)| n)
            .collect();
        parents
            .iter()
            .rev()
            .find_map(|p| go(files, p, key, depth + 1))
    }
    go(files, name, key, 0)
}

struct HclParser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    pos: usize,
    refs: Vec<Ref>,
}

impl HclParser<'_> {
    fn peek(&self) -> Option<Token> {
        self.toks.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<Token> {
        self.toks.get(self.pos + n).copied()
    }

    fn src(&self, s: Span) -> &str {
        &self.text[s.start..s.end]
    }

    /// A body: attributes and blocks up to the closing brace (consumed) or
    /// the end of the text.
    fn body(&mut self, _close: Option<()>) -> (Vec<Attr>, Vec<Block>) {
        let mut attrs = Vec::new();
        let mut blocks = Vec::new();
        while let Some(t) = self.peek() {
            match t.kind {
                Tok::Newline => self.pos += 1,
                Tok::Close('}') => return (attrs, blocks),
                Tok::Ident if self.peek_at(1).is_some_and(|n| n.kind == Tok::Assign) => {
                    self.pos += 2;
                    let (value, value_span) = self.value(t.span.end);
                    attrs.push(Attr {
                        key: self.src(t.span).to_string(),
                        key_span: t.span,
                        span: Span::new(t.span.start, value_span.end.max(t.span.end)),
                        value,
                        value_span,
                    });
                }
                Tok::Ident => {
                    if let Some(b) = self.block(t) {
                        blocks.push(b);
                    }
                }
                _ => self.skip_line(),
            }
        }
        (attrs, blocks)
    }

    /// A block starting at the identifier `t`; `None` (and the line skipped)
    /// when no `{` follows its labels on the line.
    fn block(&mut self, t: Token) -> Option<Block> {
        let save = self.pos;
        self.pos += 1;
        let mut labels = Vec::new();
        loop {
            match self.peek() {
                Some(l) if l.kind == Tok::Str => {
                    let inner = str_inner(self.text, l.span);
                    labels.push((self.src(inner).to_string(), inner));
                    self.pos += 1;
                }
                Some(l) if l.kind == Tok::Ident => {
                    labels.push((self.src(l.span).to_string(), l.span));
                    self.pos += 1;
                }
                Some(o) if o.kind == Tok::Open('{') => {
                    self.pos += 1;
                    let (attrs, blocks) = self.body(Some(()));
                    let end = match self.peek() {
                        Some(c) if c.kind == Tok::Close('}') => {
                            self.pos += 1;
                            c.span.end
                        }
                        _ => self.text.len(),
                    };
                    return Some(Block {
                        kind: self.src(t.span).to_string(),
                        kind_span: t.span,
                        labels,
                        span: Span::new(t.span.start, end),
                        body: Span::new(o.span.end, end.saturating_sub(1).max(o.span.end)),
                        attrs,
                        blocks,
                    });
                }
                _ => {
                    self.pos = save;
                    self.skip_line();
                    return None;
                }
            }
        }
    }

    /// Skips to after the next line break outside brackets (or to a
    /// closing brace that ends the enclosing body).
    fn skip_line(&mut self) {
        let mut depth = 0i32;
        while let Some(t) = self.peek() {
            match t.kind {
                Tok::Newline if depth <= 0 => {
                    self.pos += 1;
                    return;
                }
                Tok::Open(_) => depth += 1,
                Tok::Close('}') if depth <= 0 => return,
                Tok::Close(_) => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// A value from the current token to the end of the line outside
    /// brackets; `after` is where the `=` ended (for a missing value).
    fn value(&mut self, after: usize) -> (Value, Span) {
        let start = self.pos;
        let mut depth = 0i32;
        let mut end = start;
        while let Some(t) = self.peek() {
            match t.kind {
                Tok::Newline if depth <= 0 => break,
                Tok::Close('}') if depth <= 0 => break,
                Tok::Open(_) => depth += 1,
                Tok::Close(_) => depth -= 1,
                _ => {}
            }
            self.pos += 1;
            end = self.pos;
        }
        let toks: Vec<Token> = trim_newlines(&self.toks[start..end]).to_vec();
        if toks.is_empty() {
            return (Value::Missing, Span::empty(after));
        }
        let span = Span::new(toks[0].span.start, toks[toks.len() - 1].span.end);
        self.collect_refs(&toks);
        (self.expr(&toks), span)
    }

    /// The value of tokens forming one expression.
    fn expr(&self, toks: &[Token]) -> Value {
        let toks = trim_newlines(toks);
        match toks {
            [] => Value::Missing,
            [t] => match t.kind {
                Tok::Str => {
                    let inner = str_inner(self.text, t.span);
                    let s = self.src(inner);
                    if s.contains("${") || s.contains("%{") {
                        Value::Template { inner }
                    } else {
                        Value::Str {
                            text: s.to_string(),
                            inner,
                        }
                    }
                }
                Tok::Heredoc => Value::Template { inner: t.span },
                Tok::Number => Value::Number,
                Tok::Ident => match self.src(t.span) {
                    "true" | "false" => Value::Bool,
                    "null" => Value::Null,
                    _ => Value::Expr,
                },
                _ => Value::Expr,
            },
            [first, .., last]
                if matches!(
                    (first.kind, last.kind),
                    (Tok::Open('['), Tok::Close(']')) | (Tok::Open('{'), Tok::Close('}'))
                ) && matched(toks) =>
            {
                let inner = &toks[1..toks.len() - 1];
                if inner.first().is_some_and(|t| self.src(t.span) == "for") {
                    return Value::Expr;
                }
                let items = split_top(self.text, inner);
                if first.kind == Tok::Open('[') {
                    Value::List(
                        items
                            .into_iter()
                            .map(|i| {
                                (
                                    self.expr(i),
                                    Span::new(i[0].span.start, i[i.len() - 1].span.end),
                                )
                            })
                            .collect(),
                    )
                } else {
                    Value::Object(items.into_iter().filter_map(|i| self.entry(i)).collect())
                }
            }
            _ => Value::Expr,
        }
    }

    /// `key = value` or `key: value` inside an object.
    fn entry(&self, toks: &[Token]) -> Option<Entry> {
        let k = *toks.first()?;
        let sep = toks.get(1)?;
        let is_sep =
            sep.kind == Tok::Assign || (sep.kind == Tok::Punct && self.src(sep.span) == ":");
        if !is_sep {
            return None;
        }
        let (key, key_span) = match k.kind {
            Tok::Str => {
                let inner = str_inner(self.text, k.span);
                (self.src(inner).to_string(), inner)
            }
            Tok::Ident => (self.src(k.span).to_string(), k.span),
            _ => return None,
        };
        let rest = &toks[2..];
        let value_span = match (rest.first(), rest.last()) {
            (Some(a), Some(b)) => Span::new(a.span.start, b.span.end),
            _ => Span::empty(sep.span.end),
        };
        Some(Entry {
            key,
            key_span,
            value: self.expr(rest),
            value_span,
        })
    }

    /// Names used in the tokens of one value: variables, calls,
    /// `target.<name>`; inside strings, those of `${…}`.
    fn collect_refs(&mut self, toks: &[Token]) {
        let mut i = 0;
        while i < toks.len() {
            let t = toks[i];
            match t.kind {
                Tok::Str | Tok::Heredoc => self.template_refs(t.span),
                Tok::Ident => {
                    let name = self.src(t.span);
                    let prev_dot = i > 0 && self.src(toks[i - 1].span) == ".";
                    let next = toks.get(i + 1);
                    // An object key (`key = …` inside braces) is no reference.
                    let is_key = next.is_some_and(|n| {
                        n.kind == Tok::Assign || (n.kind == Tok::Punct && self.src(n.span) == ":")
                    });
                    if !prev_dot && !is_key && !KEYWORDS.contains(&name) {
                        let call = next.is_some_and(|n| n.kind == Tok::Open('('));
                        if name == "target" && next.is_some_and(|n| self.src(n.span) == ".") {
                            if let Some(n) = toks.get(i + 2).filter(|n| n.kind == Tok::Ident) {
                                let attr = match (toks.get(i + 3), toks.get(i + 4)) {
                                    (Some(d), Some(a))
                                        if self.src(d.span) == "." && a.kind == Tok::Ident =>
                                    {
                                        Some((self.src(a.span).to_string(), a.span))
                                    }
                                    _ => None,
                                };
                                let skip = if attr.is_some() { 5 } else { 3 };
                                self.refs.push(Ref {
                                    name: self.src(n.span).to_string(),
                                    span: n.span,
                                    kind: RefKind::Target,
                                    attr,
                                });
                                i += skip;
                                continue;
                            }
                        }
                        self.refs.push(Ref {
                            name: name.to_string(),
                            span: t.span,
                            kind: if call { RefKind::Call } else { RefKind::Var },
                            attr: None,
                        });
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// References inside the `${…}` and `%{…}` of a string token.
    fn template_refs(&mut self, span: Span) {
        let text = self.text;
        let s = &text[span.start..span.end];
        let mut from = 0;
        while let Some(j) = s[from..].find("${").or_else(|| s[from..].find("%{")) {
            let open = from + j + 2;
            if open >= 3 && s.as_bytes().get(open - 3) == Some(&b'$') {
                // `$${` is an escaped `${`.
                from = open;
                continue;
            }
            let mut depth = 1;
            let mut k = open;
            let bytes = s.as_bytes();
            while k < bytes.len() && depth > 0 {
                match bytes[k] {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    _ => {}
                }
                k += 1;
            }
            let inner_end = if depth == 0 { k - 1 } else { k };
            let base = span.start + open;
            let inner = &text[base..span.start + inner_end];
            let toks: Vec<Token> = lex(inner)
                .into_iter()
                .filter(|t| t.kind != Tok::Newline && t.kind != Tok::Comment)
                .map(|t| Token {
                    kind: t.kind,
                    span: Span::new(t.span.start + base, t.span.end + base),
                })
                .collect();
            self.collect_refs(&toks);
            from = k.max(open);
        }
    }
}

/// Whether the first token's bracket closes at the last token.
fn matched(toks: &[Token]) -> bool {
    let mut depth = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Tok::Open(_) => depth += 1,
            Tok::Close(_) => {
                depth -= 1;
                if depth == 0 && i != toks.len() - 1 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// Items separated by commas or line breaks at depth 0.
fn split_top<'t>(text: &str, toks: &'t [Token]) -> Vec<&'t [Token]> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Tok::Open(_) => depth += 1,
            Tok::Close(_) => depth -= 1,
            _ => {}
        }
        let sep = depth == 0
            && (t.kind == Tok::Newline
                || (t.kind == Tok::Punct && &text[t.span.start..t.span.end] == ","));
        if sep {
            out.push(&toks[start..i]);
            start = i + 1;
        }
    }
    out.push(&toks[start..]);
    out.into_iter()
        .map(trim_newlines)
        .filter(|i| !i.is_empty())
        .collect()
}

fn trim_newlines(mut toks: &[Token]) -> &[Token] {
    while toks.first().is_some_and(|t| t.kind == Tok::Newline) {
        toks = &toks[1..];
    }
    while toks.last().is_some_and(|t| t.kind == Tok::Newline) {
        toks = &toks[..toks.len() - 1];
    }
    toks
}

/// The span inside a string token's quotes.
pub fn str_inner(text: &str, s: Span) -> Span {
    let body = &text[s.start..s.end];
    let start = s.start + usize::from(body.starts_with('"'));
    let end = if body.len() > 1 && body.ends_with('"') {
        s.end - 1
    } else {
        s.end
    };
    Span::new(start, end.max(start))
}

fn json_outline(text: &str) -> Outline {
    use jsonc_parser::ast::Value as J;
    let mut out = Outline {
        syntax: Syntax::Json,
        blocks: Vec::new(),
        attrs: Vec::new(),
        refs: Vec::new(),
    };
    let opts = jsonc_parser::ParseOptions::default();
    let Ok(parsed) =
        jsonc_parser::parse_to_ast(text, &jsonc_parser::CollectOptions::default(), &opts)
    else {
        return out;
    };
    let Some(J::Object(root)) = parsed.value else {
        return out;
    };
    for section in &root.properties {
        let kind = section.name.as_str().to_string();
        let kind_span = json_name_span(&section.name);
        let J::Object(blocks) = &section.value else {
            continue;
        };
        for prop in &blocks.properties {
            let name_span = json_name_span(&prop.name);
            let name_inner = Span::new(
                name_span.start + 1,
                name_span.end.saturating_sub(1).max(name_span.start + 1),
            );
            let mut block = Block {
                kind: kind.clone(),
                kind_span,
                labels: vec![(prop.name.as_str().to_string(), name_inner)],
                span: Span::new(prop.range.start, prop.range.end),
                body: Span::new(prop.range.start, prop.range.end),
                attrs: Vec::new(),
                blocks: Vec::new(),
            };
            if let J::Object(obj) = &prop.value {
                block.body = Span::new(obj.range.start + 1, obj.range.end.saturating_sub(1));
                for p in &obj.properties {
                    let key_span = json_name_span(&p.name);
                    let (value, value_span) = json_value(text, &p.value, &mut out.refs);
                    block.attrs.push(Attr {
                        key: p.name.as_str().to_string(),
                        key_span: Span::new(
                            key_span.start + 1,
                            key_span.end.saturating_sub(1).max(key_span.start + 1),
                        ),
                        value,
                        value_span,
                        span: Span::new(p.range.start, p.range.end),
                    });
                }
            }
            out.blocks.push(block);
        }
    }
    out
}

fn json_name_span(n: &jsonc_parser::ast::ObjectPropName<'_>) -> Span {
    let r = match n {
        jsonc_parser::ast::ObjectPropName::String(s) => s.range,
        jsonc_parser::ast::ObjectPropName::Word(w) => w.range,
    };
    Span::new(r.start, r.end)
}

fn json_value(text: &str, v: &jsonc_parser::ast::Value<'_>, refs: &mut Vec<Ref>) -> (Value, Span) {
    use jsonc_parser::ast::Value as J;
    use jsonc_parser::common::Ranged;
    let r = v.range();
    let span = Span::new(r.start, r.end);
    let value = match v {
        J::StringLit(s) => {
            let inner = Span::new(
                span.start + 1,
                span.end.saturating_sub(1).max(span.start + 1),
            );
            let raw = &text[inner.start..inner.end];
            if raw.contains("${") {
                let mut p = HclParser {
                    text,
                    toks: Vec::new(),
                    pos: 0,
                    refs: Vec::new(),
                };
                p.template_refs(span);
                refs.extend(p.refs);
                Value::Template { inner }
            } else {
                Value::Str {
                    text: s.value.to_string(),
                    inner,
                }
            }
        }
        J::NumberLit(_) => Value::Number,
        J::BooleanLit(_) => Value::Bool,
        J::NullKeyword(_) => Value::Null,
        J::Array(a) => Value::List(
            a.elements
                .iter()
                .map(|e| json_value(text, e, refs))
                .collect(),
        ),
        J::Object(o) => Value::Object(
            o.properties
                .iter()
                .map(|p| {
                    let ks = json_name_span(&p.name);
                    let (value, value_span) = json_value(text, &p.value, refs);
                    Entry {
                        key: p.name.as_str().to_string(),
                        key_span: Span::new(
                            ks.start + 1,
                            ks.end.saturating_sub(1).max(ks.start + 1),
                        ),
                        value,
                        value_span,
                    }
                })
                .collect(),
        ),
    };
    (value, span)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HCL: &str = r#"variable "TAG" {
  default = "latest"
}
group "default" {
  targets = ["app", "db"]
}
target "base" {
  dockerfile = "Dockerfile"
}
target "app" {
  inherits = ["base"]
  tags = ["repo/app:${TAG}"]
  args = {
    VERSION = "1.0"
  }
  contexts = {
    src = "target:base"
  }
  platforms = split(",", PLATFORMS)
}
"#;

    #[test]
    fn hcl_outline_has_blocks_attributes_and_values() {
        let o = Outline::parse(HCL, Syntax::Hcl);
        let kinds: Vec<&str> = o.blocks.iter().map(|b| b.kind.as_str()).collect();
        assert_eq!(kinds, ["variable", "group", "target", "target"]);
        let app = o.block("target", "app").unwrap();
        assert_eq!(app.attrs.len(), 5);
        assert_eq!(app.attr("inherits").unwrap().value.strings()[0].0, "base");
        let Value::Object(args) = &app.attr("args").unwrap().value else {
            panic!("args is no map")
        };
        assert_eq!(args[0].key, "VERSION");
        assert!(matches!(app.attr("tags").unwrap().value, Value::List(_)));
        assert_eq!(app.attr("platforms").unwrap().value, Value::Expr);
    }

    #[test]
    fn hcl_references_name_variables_calls_and_targets() {
        let o = Outline::parse(HCL, Syntax::Hcl);
        let names: Vec<(&str, RefKind)> =
            o.refs.iter().map(|r| (r.name.as_str(), r.kind)).collect();
        assert!(names.contains(&("TAG", RefKind::Var)));
        assert!(names.contains(&("split", RefKind::Call)));
        assert!(names.contains(&("PLATFORMS", RefKind::Var)));
        let tag = o.refs.iter().find(|r| r.name == "TAG").unwrap();
        assert_eq!(&HCL[tag.span.start..tag.span.end], "TAG");
        let mentions = o.target_mentions("base");
        assert_eq!(mentions.len(), 3, "label, inherits, contexts");
        for m in mentions {
            assert_eq!(&HCL[m.start..m.end], "base");
        }
    }

    #[test]
    fn unfinished_blocks_still_have_an_outline() {
        let text = "target \"app\" {\n  dockerfile = \n  tar";
        let o = Outline::parse(text, Syntax::Hcl);
        let app = o.block("target", "app").unwrap();
        assert_eq!(app.attr("dockerfile").unwrap().value, Value::Missing);
        assert_eq!(app.span.end, text.len());
    }

    #[test]
    fn json_outline_matches_hcl_shape() {
        let text = r#"{"target": {"app": {"inherits": ["base"], "tags": ["x:${TAG}"]}}, "variable": {"TAG": {"default": "1"}}}"#;
        let o = Outline::parse(text, Syntax::Json);
        let app = o.block("target", "app").unwrap();
        let (name, span) = app.name().unwrap();
        assert_eq!((name, &text[span.start..span.end]), ("app", "app"));
        assert_eq!(app.attr("inherits").unwrap().value.strings()[0].0, "base");
        assert!(o.refs.iter().any(|r| r.name == "TAG"));
        assert_eq!(o.variable_names()[0].0, "TAG");
    }

    #[test]
    fn heredocs_and_comments_are_single_tokens() {
        let text = "# c\nx = <<EOT\n{ not a block\nEOT\ny = 1 /* } */\n";
        let kinds: Vec<Tok> = lex(text)
            .into_iter()
            .map(|t| t.kind)
            .filter(|k| *k != Tok::Newline)
            .collect();
        assert_eq!(
            kinds,
            [
                Tok::Comment,
                Tok::Ident,
                Tok::Assign,
                Tok::Heredoc,
                Tok::Ident,
                Tok::Assign,
                Tok::Number,
                Tok::Comment
            ]
        );
    }
}
