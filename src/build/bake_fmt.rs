//! Bake file formatting. HCL in the style of `terraform fmt` / `hclfmt`:
//! two spaces per nesting level, one space around `=` with the `=` of
//! consecutive one-line attributes aligned, a space before a block's `{`,
//! no trailing white space, at most one blank line in a row, none at the
//! start, one line break at the end. Strings, heredocs and comment text are
//! never changed. JSON: two-space indentation, properties in their order,
//! values as written. Both are idempotent: formatting formatted text
//! changes nothing.

use crate::build::bake_syntax::{lex, Tok, Token};

/// Why a file was left as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the JSON does not parse ({0}); fix it before formatting")]
    Json(String),
    #[error("the JSON holds comments, which formatting would lose; it was left as it is")]
    JsonComments,
}

const INDENT: &str = "  ";

/// The HCL text formatted.
pub fn format_hcl(text: &str) -> String {
    let toks = lex(text);
    // Byte offsets inside a multi-line string, heredoc or block comment:
    // the lines starting there are kept verbatim.
    let verbatim: Vec<(usize, usize)> = toks
        .iter()
        .filter(|t| {
            matches!(t.kind, Tok::Str | Tok::Heredoc | Tok::Comment)
                && text[t.span.start..t.span.end].contains('\n')
        })
        .map(|t| (t.span.start, t.span.end))
        .collect();
    let mut lines: Vec<Line> = Vec::new();
    let mut depth: i32 = 0;
    let mut ti = 0;
    let mut start = 0;
    while start <= text.len() {
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let raw = &text[start..end];
        let keep = verbatim.iter().any(|(a, b)| *a < start && start <= *b);
        // The tokens of this line (a multi-line token belongs to the line it
        // starts on).
        while ti < toks.len() && toks[ti].span.start < start {
            ti += 1;
        }
        let first = ti;
        while ti < toks.len() && toks[ti].span.start < end {
            ti += 1;
        }
        let line_toks: Vec<Token> = toks[first..ti]
            .iter()
            .copied()
            .filter(|t| t.kind != Tok::Newline)
            .collect();
        let leading_closers = line_toks
            .iter()
            .take_while(|t| matches!(t.kind, Tok::Close(_)))
            .count() as i32;
        let level = (depth - leading_closers).max(0) as usize;
        for t in &line_toks {
            match t.kind {
                Tok::Open(_) => depth += 1,
                Tok::Close(_) => depth -= 1,
                _ => {}
            }
        }
        depth = depth.max(0);
        lines.push(if keep {
            Line::Verbatim(raw.to_string())
        } else {
            normalise(
                text,
                raw.trim(),
                start + (raw.len() - raw.trim_start().len()),
                &line_toks,
                level,
            )
        });
        if end == text.len() {
            break;
        }
        start = end + 1;
    }
    align(&mut lines);
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for l in &lines {
        let s = l.render();
        let blank = s.trim().is_empty() && !matches!(l, Line::Verbatim(_));
        if blank {
            blank_run += 1;
            // None at the start, at most one in a row.
            if out.is_empty() || blank_run > 1 {
                continue;
            }
            out.push('\n');
            continue;
        }
        blank_run = 0;
        out.push_str(&s);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    if out.trim().is_empty() {
        return String::new();
    }
    out
}

/// A formatted line before alignment.
enum Line {
    Verbatim(String),
    Plain {
        indent: usize,
        text: String,
    },
    /// `key = rest`: aligned with its neighbours.
    Attr {
        indent: usize,
        key: String,
        rest: String,
    },
}

impl Line {
    fn render(&self) -> String {
        match self {
            Line::Verbatim(s) => s.trim_end_matches('\r').to_string(),
            Line::Plain { indent, text } if text.is_empty() => {
                let _ = indent;
                String::new()
            }
            Line::Plain { indent, text } => format!("{}{}", INDENT.repeat(*indent), text),
            Line::Attr { indent, key, rest } => {
                let rest = if rest.is_empty() {
                    String::new()
                } else {
                    format!(" {rest}")
                };
                format!("{}{key} ={rest}", INDENT.repeat(*indent))
            }
        }
    }
}

/// One line's text: an attribute split at its `=`, a block header with a
/// space before `{`, anything else as written.
fn normalise(text: &str, trimmed: &str, at: usize, toks: &[Token], indent: usize) -> Line {
    let src = |t: &Token| &text[t.span.start..t.span.end];
    // `key = value` (key an identifier or a quoted string), where the value
    // starts on this line.
    if let [k, eq, ..] = toks {
        if matches!(k.kind, Tok::Ident | Tok::Str) && eq.kind == Tok::Assign && k.span.start == at {
            let rest = text[eq.span.end..].lines().next().unwrap_or("").trim();
            // The rest of the line as written: a multi-line token ends the
            // line where the source line ends.
            let line_end = at + trimmed.len();
            let rest = text.get(eq.span.end..line_end).map_or(rest, str::trim);
            return Line::Attr {
                indent,
                key: src(k).to_string(),
                rest: rest.to_string(),
            };
        }
    }
    // A block header: `type "label" {` with single spaces.
    if let Some(last) = toks.last() {
        if last.kind == Tok::Open('{')
            && toks.len() >= 2
            && toks[..toks.len() - 1]
                .iter()
                .all(|t| matches!(t.kind, Tok::Ident | Tok::Str))
            && toks[0].kind == Tok::Ident
        {
            let parts: Vec<&str> = toks.iter().map(src).collect();
            return Line::Plain {
                indent,
                text: parts.join(" "),
            };
        }
    }
    Line::Plain {
        indent,
        text: trimmed.trim_end_matches('\r').to_string(),
    }
}

/// Pads the keys of consecutive attribute lines at one level so their `=`
/// line up. A blank line, a comment or any other line ends a run, as does
/// an attribute whose value continues on the next lines.
fn align(lines: &mut [Line]) {
    let mut i = 0;
    while i < lines.len() {
        let Line::Attr { indent, .. } = &lines[i] else {
            i += 1;
            continue;
        };
        let level = *indent;
        let mut j = i;
        while j < lines.len() {
            match &lines[j] {
                // A value going on over the next lines stands alone, as in
                // `terraform fmt`.
                Line::Attr { indent, rest, .. } if *indent == level && !opens(rest) => j += 1,
                _ => break,
            }
        }
        let width = lines[i..j]
            .iter()
            .map(|l| match l {
                Line::Attr { key, .. } => key.chars().count(),
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        for l in &mut lines[i..j] {
            if let Line::Attr { key, .. } = l {
                let pad = width - key.chars().count();
                key.push_str(&" ".repeat(pad));
            }
        }
        i = j.max(i + 1);
    }
}

/// Whether a value's text leaves a bracket open (the value goes on).
fn opens(rest: &str) -> bool {
    let mut depth = 0i32;
    for t in lex(rest) {
        match t.kind {
            Tok::Open(_) => depth += 1,
            Tok::Close(_) => depth -= 1,
            Tok::Heredoc => return true,
            _ => {}
        }
    }
    depth > 0
}

/// The JSON text formatted, properties in their order.
pub fn format_json(text: &str) -> Result<String, FormatError> {
    let parsed = jsonc_parser::parse_to_ast(
        text,
        &jsonc_parser::CollectOptions {
            comments: jsonc_parser::CommentCollectionStrategy::Separate,
            tokens: false,
        },
        &jsonc_parser::ParseOptions::default(),
    )
    .map_err(|e| FormatError::Json(e.to_string()))?;
    if parsed.comments.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(FormatError::JsonComments);
    }
    let mut out = String::with_capacity(text.len());
    if let Some(v) = &parsed.value {
        json_value(text, v, 0, &mut out);
        out.push('\n');
    }
    Ok(out)
}

fn json_value(text: &str, v: &jsonc_parser::ast::Value<'_>, level: usize, out: &mut String) {
    use jsonc_parser::ast::Value as J;
    use jsonc_parser::common::Ranged;
    match v {
        J::Object(o) if o.properties.is_empty() => out.push_str("{}"),
        J::Object(o) => {
            out.push_str("{\n");
            for (i, p) in o.properties.iter().enumerate() {
                out.push_str(&INDENT.repeat(level + 1));
                let r = p.name.range();
                out.push_str(&text[r.start..r.end]);
                out.push_str(": ");
                json_value(text, &p.value, level + 1, out);
                if i + 1 < o.properties.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&INDENT.repeat(level));
            out.push('}');
        }
        J::Array(a) if a.elements.is_empty() => out.push_str("[]"),
        J::Array(a) => {
            out.push_str("[\n");
            for (i, e) in a.elements.iter().enumerate() {
                out.push_str(&INDENT.repeat(level + 1));
                json_value(text, e, level + 1, out);
                if i + 1 < a.elements.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&INDENT.repeat(level));
            out.push(']');
        }
        other => {
            let r = other.range();
            out.push_str(&text[r.start..r.end]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_attributes_align_and_indent() {
        let text = "target \"app\"{\ndockerfile=\"Dockerfile\"\n      tags = [\"a\"]\n\n\n\n    platforms   =   [\n\"linux/amd64\",\n  ]\n}\n\n\n";
        let want = "target \"app\" {\n  dockerfile = \"Dockerfile\"\n  tags       = [\"a\"]\n\n  platforms = [\n    \"linux/amd64\",\n  ]\n}\n";
        assert_eq!(format_hcl(text), want);
        assert_eq!(format_hcl(want), want);
    }

    #[test]
    fn heredocs_and_multiline_strings_are_kept() {
        let text = "target \"a\" {\n  dockerfile-inline = <<EOT\nFROM x\n    RUN y\nEOT\n}\n";
        assert_eq!(format_hcl(text), text);
    }

    #[test]
    fn json_keeps_property_order() {
        let text = r#"{"target":{"b":{"tags":["x"],"args":{}},"a":{}}}"#;
        let out = format_json(text).unwrap();
        assert_eq!(
            out,
            "{\n  \"target\": {\n    \"b\": {\n      \"tags\": [\n        \"x\"\n      ],\n      \"args\": {}\n    },\n    \"a\": {}\n  }\n}\n"
        );
        assert_eq!(format_json(&out).unwrap(), out);
    }

    #[test]
    fn json_with_comments_is_refused() {
        assert_eq!(format_json("{ // c\n}"), Err(FormatError::JsonComments));
    }
}
