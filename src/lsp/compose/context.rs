//! Where the cursor is in a Compose file, from the text alone (a file
//! being typed rarely parses): the path of keys and sequence items from
//! the root, found by indentation, and whether the cursor is on a key or a
//! value.

use super::schema::Seg;

/// What the cursor is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The path of the mapping (or sequence item) holding the line.
    pub path: Vec<Seg>,
    /// The key of the line, when it has one (`key: …`), or the word being
    /// typed in key position.
    pub key: Option<String>,
    /// Byte range of the key (or the word typed) in the text.
    pub key_start: usize,
    pub key_end: usize,
    /// On the value: its start (the prefix typed is `key_end..offset`
    /// past the colon).
    pub value_start: Option<usize>,
    /// The line is a sequence item (`- …`) and the cursor is in its
    /// scalar (no key).
    pub in_item: bool,
}

/// A line's indentation and content after an optional `- `.
struct Line<'a> {
    indent: usize,
    /// Column of the content after the dashes (`- - x`: of `x`).
    content_indent: usize,
    dashes: usize,
    content: &'a str,
}

fn split(line: &str) -> Line<'_> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let mut rest = &line[indent..];
    let mut col = indent;
    let mut dashes = 0;
    while let Some(r) = rest
        .strip_prefix("- ")
        .or_else(|| (rest == "-").then_some(""))
    {
        let spaces = r.len() - r.trim_start_matches(' ').len();
        col += rest.len() - r.len() + spaces;
        rest = &r[spaces..];
        dashes += 1;
    }
    Line {
        indent,
        content_indent: col,
        dashes,
        content: rest,
    }
}

/// The key of `key: …` or `key:` content (quotes stripped).
pub fn key_of(content: &str) -> Option<&str> {
    let content = content.trim_end();
    let end = match content.find(": ") {
        Some(i) => i,
        None => content.strip_suffix(':').map(str::len)?,
    };
    let k = content[..end].trim();
    let k = k
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .or_else(|| k.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
        .unwrap_or(k);
    (!k.is_empty() && !k.starts_with('#') && !k.contains(['{', '[', '"'])).then_some(k)
}

/// The context at byte `offset` of `text`.
pub fn at(text: &str, offset: usize) -> Context {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[line_start..line_end].trim_end_matches('\r');
    let l = split(line);
    let content_start = line_start + l.content_indent;
    let mut ctx = Context {
        path: Vec::new(),
        key: None,
        key_start: content_start,
        key_end: content_start,
        value_start: None,
        in_item: false,
    };
    let col = offset - line_start;
    let colon = l.content.find(": ").or_else(|| {
        l.content
            .trim_end()
            .ends_with(':')
            .then(|| l.content.trim_end().len() - 1)
    });
    match colon.filter(|c| col > l.content_indent + c) {
        Some(c) if key_of(l.content).is_some() => {
            ctx.key = key_of(l.content).map(str::to_string);
            ctx.key_end = content_start + c;
            let after = &l.content[c + 1..];
            let spaces = after.len() - after.trim_start().len();
            ctx.value_start = Some((content_start + c + 1 + spaces).min(line_end));
        }
        _ => {
            let word_end = l
                .content
                .find([':', ' '])
                .map_or(line_start + line.len(), |i| content_start + i);
            if l.dashes > 0 && !l.content.contains(':') && col >= l.content_indent {
                ctx.in_item = true;
            }
            ctx.key = Some(
                l.content[..word_end.saturating_sub(content_start).min(l.content.len())]
                    .to_string(),
            )
            .filter(|k| !k.is_empty());
            ctx.key_end = word_end.max(content_start);
        }
    }
    // The line's own items.
    let mut inner: Vec<Seg> = vec![Seg::Item; l.dashes];
    // Parents, walking up.
    let mut want = l.content_indent;
    if l.content.is_empty() && l.dashes == 0 {
        // A blank line: the cursor's column is the indentation.
        want = col;
    }
    let mut parents: Vec<Seg> = Vec::new();
    for prev in text[..line_start].lines().rev() {
        if want == 0 {
            break;
        }
        let p = split(prev.trim_end_matches('\r'));
        if p.content.is_empty() && p.dashes == 0 || p.content.starts_with('#') {
            continue;
        }
        if p.dashes > 0 {
            if p.content_indent < want {
                // Nested under the item's `key:`.
                if let Some(k) = key_of(p.content).filter(|_| line_is_nested(p.content)) {
                    parents.push(Seg::Key(k.to_string()));
                }
            }
            if p.content_indent <= want || p.indent < want {
                for _ in 0..p.dashes {
                    parents.push(Seg::Item);
                }
                want = p.indent;
            }
            continue;
        }
        if p.indent < want {
            if let Some(k) = key_of(p.content) {
                parents.push(Seg::Key(k.to_string()));
            }
            want = p.indent;
        }
    }
    parents.reverse();
    ctx.path = parents;
    ctx.path.append(&mut inner);
    ctx
}

/// `key:` with nothing after it: what follows is nested under it.
fn line_is_nested(content: &str) -> bool {
    content.trim_end().ends_with(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> (Vec<Seg>, Option<String>, bool) {
        let at_cursor = text.find('|').unwrap();
        let text = text.replace('|', "");
        let c = at(&text, at_cursor);
        (c.path, c.key, c.value_start.is_some())
    }

    fn k(s: &str) -> Seg {
        Seg::Key(s.to_string())
    }

    #[test]
    fn keys_nest_by_indentation() {
        let (p, key, value) = path("services:\n  web:\n    build:\n      cont|\n");
        assert_eq!(p, vec![k("services"), k("web"), k("build")]);
        assert_eq!(key.as_deref(), Some("cont"));
        assert!(!value);
        let (p, key, value) = path("services:\n  web:\n    pull_policy: al|\n");
        assert_eq!(p, vec![k("services"), k("web")]);
        assert_eq!(key.as_deref(), Some("pull_policy"));
        assert!(value);
    }

    #[test]
    fn sequence_items_are_steps() {
        let text = "services:\n  web:\n    volumes:\n      - type: bind\n        sou|\n";
        let (p, _, _) = path(text);
        assert_eq!(p, vec![k("services"), k("web"), k("volumes"), Seg::Item]);
        let (p, _, _) = path("services:\n  web:\n    volumes:\n      - |\n");
        assert_eq!(p, vec![k("services"), k("web"), k("volumes"), Seg::Item]);
    }

    #[test]
    fn a_blank_line_takes_the_cursor_column() {
        let (p, key, _) = path("services:\n  web:\n    image: x\n    |\n");
        assert_eq!(p, vec![k("services"), k("web")]);
        assert_eq!(key, None);
        let (p, _, _) = path("services:\n  web:\n    image: x\n|\n");
        assert_eq!(p, vec![]);
    }
}
