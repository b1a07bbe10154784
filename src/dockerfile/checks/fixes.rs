//! Mechanical fixes for syntax errors (the rules' own findings carry theirs):
//! a near-miss instruction keyword or flag name (BuildKit's `did you mean`
//! distance), an invalid `# escape=` value, a misspelled `AS` in FROM, and a
//! JSON array written with the wrong quotes. A fix is only offered where it
//! resolves the error it is attached to; the syntax tree, not the message,
//! says what is wrong.

use super::expand::suggest;
use super::{Edit, Fix};
use crate::dockerfile::syntax::{Dockerfile, Instruction, InstructionKind, SyntaxError};
use crate::dockerfile::text::Span;

/// The fix for a syntax error, if it has a mechanical one.
pub(crate) fn for_syntax_error(df: &Dockerfile, e: &SyntaxError) -> Option<Fix> {
    if let Some(d) = df.directive("escape") {
        if d.value_span == e.span {
            return escape_fix(&d.value, d.value_span);
        }
    }
    let ins = df.instruction_at(e.span.start)?;
    let mut cur = Some(ins);
    // The error may belong to the instruction ONBUILD wraps.
    while let Some(ins) = cur {
        if let Some(fix) = instruction_fix(ins, e) {
            return Some(fix);
        }
        cur = ins.onbuild.as_deref();
    }
    None
}

fn instruction_fix(ins: &Instruction, e: &SyntaxError) -> Option<Fix> {
    if ins.kind == InstructionKind::Unknown && e.span == ins.keyword_span {
        let keywords = InstructionKind::ALL.map(InstructionKind::as_str);
        let wanted = suggest(&ins.keyword, keywords, false)?;
        return Some(replace(
            ins.keyword_span,
            &ins.keyword,
            in_case_of(&ins.keyword, &wanted),
        ));
    }
    if let Some(f) = ins.flags.iter().find(|f| f.span == e.span) {
        let allowed = ins.kind.allowed_flags();
        if allowed.contains(&f.name.as_str()) {
            return None; // a duplicate or a bad value: no mechanical fix
        }
        let wanted = suggest(&f.name, allowed.iter().copied(), true)?;
        return Some(replace(f.name_span, &f.name, wanted));
    }
    if ins.kind == InstructionKind::From {
        return misspelled_as(ins, e);
    }
    None
}

/// `FROM image xs name`: three arguments whose second is close to `AS`.
fn misspelled_as(ins: &Instruction, e: &SyntaxError) -> Option<Fix> {
    let [_, as_word, _] = ins.args.as_slice() else {
        return None;
    };
    if !ins.rest_span.contains_span(e.span) || as_word.value.eq_ignore_ascii_case("as") {
        return None;
    }
    // A word of one to three letters within BuildKit's suggestion distance.
    let plain = as_word.value.len() <= 3 && as_word.value.chars().all(|c| c.is_ascii_alphabetic());
    if !plain || suggest(&as_word.value, ["as"], false).is_none() {
        return None;
    }
    // The case of the FROM keyword, as FromAsCasing wants it.
    let wanted = in_case_of(&ins.keyword, "AS");
    Some(replace(as_word.span, &as_word.value, wanted))
}

fn escape_fix(value: &str, span: Span) -> Option<Fix> {
    // A backtick anywhere means the user wanted the backtick.
    let wanted = if value.contains('`') { "`" } else { "\\" };
    Some(Fix {
        title: format!("Change the escape character to '{wanted}'"),
        edits: vec![Edit {
            span,
            new_text: wanted.to_string(),
        }],
    })
}

fn replace(span: Span, old: &str, new: String) -> Fix {
    Fix {
        title: format!("Change '{old}' to '{new}'"),
        edits: vec![Edit {
            span,
            new_text: new,
        }],
    }
}

/// `wanted` in lower case when `like` is all lower case, else upper case.
fn in_case_of(like: &str, wanted: &str) -> String {
    if like.chars().any(|c| c.is_ascii_uppercase()) {
        wanted.to_ascii_uppercase()
    } else {
        wanted.to_ascii_lowercase()
    }
}

/// A JSON array written with single or typographic quotes, bare words or
/// missing commas (`['a', 'b']`, `[“a” “b”]`), re-written as the JSON array
/// of strings it was meant to be; `None` when the text is not such an
/// attempt or an element is empty of meaning (nested arrays, objects).
pub(crate) fn repair_json_array(text: &str) -> Option<String> {
    let inner = text.trim().strip_prefix('[')?;
    let inner = inner.strip_suffix(']').unwrap_or(inner);
    let mut items: Vec<String> = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let Some(c) = chars.next() else { break };
        let close = match c {
            '\'' => '\'',
            '"' => '"',
            '\u{201c}' => '\u{201d}',
            '\u{2018}' => '\u{2019}',
            '[' | ']' | '{' | '}' => return None,
            _ => {
                // A bare word, up to a separator.
                let mut word = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || n == ',' {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                items.push(word);
                continue;
            }
        };
        let mut s = String::new();
        let mut closed = false;
        while let Some(n) = chars.next() {
            if n == '\\' {
                if let Some(esc) = chars.next() {
                    s.push(esc);
                }
                continue;
            }
            if n == close {
                closed = true;
                break;
            }
            s.push(n);
        }
        if !closed {
            return None;
        }
        items.push(s);
    }
    if items.is_empty() {
        return None;
    }
    Some(
        serde_json::to_string(&items)
            .ok()?
            .replace("\",\"", "\", \""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_arrays_with_wrong_quotes_are_repaired() {
        assert_eq!(
            repair_json_array("['echo', 'a b']").as_deref(),
            Some(r#"["echo", "a b"]"#)
        );
        assert_eq!(
            repair_json_array("[\u{201c}sh\u{201d}, \u{201c}-c\u{201d}]").as_deref(),
            Some(r#"["sh", "-c"]"#)
        );
        assert_eq!(
            repair_json_array(r#"["a" "b""#).as_deref(),
            Some(r#"["a", "b"]"#)
        );
        assert_eq!(
            repair_json_array("['it\\'s']").as_deref(),
            Some(r#"["it's"]"#)
        );
        assert_eq!(repair_json_array("echo ['a']"), None);
        assert_eq!(repair_json_array("[['a']]"), None);
        assert_eq!(repair_json_array("['unclosed]"), None);
    }
}
