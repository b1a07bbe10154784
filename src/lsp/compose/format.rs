//! Formatting of a Compose file that keeps every comment and value as
//! written: block indentation becomes two spaces per level (sequences
//! indented under their key), trailing spaces go, the file ends with one
//! newline, `key:   value` gets one space. Block scalars (`|`, `>`), flow
//! collections and quoted scalars spanning lines move with their key and
//! keep their inner layout. A file that does not parse is left alone.

use crate::build::compose::yaml;

use super::context::key_of;

/// Leading spaces.
fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The formatted text, or `None` when it would not change (or the file
/// does not parse, or the result would not read back the same).
pub fn format(text: &str) -> Option<String> {
    let before = yaml::parse(text, 0).ok()?;
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    // Old indentation of each open level, with its new indentation.
    let mut stack: Vec<(usize, usize)> = Vec::new();
    // Lines inside a block scalar or an open flow/quoted value: shifted by
    // the owner's delta while deeper than `owner_indent`.
    let mut verbatim: Option<(usize, isize)> = None;
    let mut open_brackets: isize = 0;
    // Stack depths of sequences written at their key's column.
    let mut seq_at_key: Vec<usize> = Vec::new();
    // The column of the last `key:` line with nothing after it.
    let mut last_was_key_at: Option<usize> = None;
    for raw in &lines {
        let line = raw.trim_end_matches([' ', '\r', '\t']);
        if line.trim().is_empty() {
            out.push(String::new());
            continue;
        }
        let old = indent_of(line);
        if let Some((owner, delta)) = verbatim {
            if old > owner || open_brackets > 0 {
                let shifted = (old as isize + delta).max(0) as usize;
                out.push(format!("{}{}", " ".repeat(shifted), &line[old..]));
                open_brackets += brackets(&line[old..]);
                continue;
            }
            verbatim = None;
        }
        let content = &line[old..];
        if content.starts_with('#') {
            // A comment takes the indentation of the level it sits at.
            // (Not the level of a sequence at its key's column: a comment
            // there belongs to the key's mapping.)
            let new = stack
                .iter()
                .enumerate()
                .rev()
                .find(|(i, (o, _))| *o <= old && !seq_at_key.contains(&(i + 1)))
                .map_or(0, |(_, (o, n))| n + (old - o));
            out.push(format!("{}{content}", " ".repeat(new)));
            continue;
        }
        while stack.last().is_some_and(|(o, _)| *o > old) {
            stack.pop();
        }
        let is_item = content.starts_with("- ") || content == "-";
        // A sequence written at its key's column goes one level deeper.
        if is_item && last_was_key_at == Some(old) {
            let n = stack.last().map_or(0, |(_, n)| *n) + 2;
            stack.push((old, n));
            seq_at_key.push(stack.len());
        }
        if !is_item
            && seq_at_key.last() == Some(&stack.len())
            && stack.last().is_some_and(|(o, _)| *o == old)
        {
            stack.pop();
            seq_at_key.pop();
        }
        seq_at_key.retain(|d| *d <= stack.len());
        last_was_key_at = (!is_item && content.trim_end().ends_with(':')).then_some(old);
        let new = match stack.last() {
            Some((o, n)) if *o == old => *n,
            Some((_, n)) => {
                let n = n + 2;
                stack.push((old, n));
                n
            }
            None => {
                stack.push((old, 0));
                0
            }
        };
        // Dash items: what follows the dash opens a level at its column.
        let mut rest = content;
        let mut col_old = old;
        let mut col_new = new;
        while let Some(r) = rest.strip_prefix("- ") {
            let spaces = r.len() - r.trim_start_matches(' ').len();
            col_old += 2 + spaces;
            col_new += 2;
            rest = &r[spaces..];
            while stack.last().is_some_and(|(o, _)| *o >= col_old) {
                stack.pop();
            }
            stack.push((col_old, col_new));
        }
        let dashes = content.len() - rest.len();
        let prefix: String = content[..dashes].split_whitespace().map(|_| "- ").collect();
        let rest = one_space_after_key(rest);
        let formatted = format!("{}{prefix}{rest}", " ".repeat(new));
        // What opens a multi-line value.
        let value = rest.split_once(": ").map_or(rest.as_str(), |(_, v)| v);
        open_brackets = brackets(value);
        let block = value
            .trim_end()
            .trim_end_matches(|c: char| c == '+' || c == '-' || c.is_ascii_digit())
            .ends_with(['|', '>'])
            && !value.trim_start().starts_with(['"', '\'']);
        if block || open_brackets > 0 || unclosed_quote(value) {
            verbatim = Some((old, new as isize - old as isize));
        }
        out.push(formatted);
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    let mut formatted = out.join("\n");
    formatted.push('\n');
    if formatted == text {
        return None;
    }
    // Never change what the file says.
    let after = yaml::parse(&formatted, 0).ok()?;
    same(&before, &after).then_some(formatted)
}

/// `key:   value` → `key: value` (plain keys only).
fn one_space_after_key(content: &str) -> String {
    if let Some(key) = key_of(content) {
        if let Some(i) = content.find(": ") {
            if content[..i].trim_matches(['"', '\'']) == key {
                let value = content[i + 1..].trim_start();
                if value.is_empty() {
                    return format!("{}:", &content[..i]);
                }
                return format!("{}: {value}", &content[..i]);
            }
        }
    }
    content.to_string()
}

/// Open minus closed brackets outside quotes (a rough count: enough to
/// keep a multi-line flow collection as written).
fn brackets(s: &str) -> isize {
    let mut n = 0;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '[' | '{') => n += 1,
            (None, ']' | '}') => n -= 1,
            (None, '#') => break,
            _ => {}
        }
    }
    n
}

fn unclosed_quote(value: &str) -> bool {
    let v = value.trim();
    match v.chars().next() {
        Some(q @ ('"' | '\'')) => v.len() == 1 || !v[1..].trim_end().ends_with(q),
        _ => false,
    }
}

/// Equal values, spans ignored.
fn same(a: &yaml::Node, b: &yaml::Node) -> bool {
    match (&a.value, &b.value) {
        (yaml::Value::Scalar { text: x, .. }, yaml::Value::Scalar { text: y, .. }) => x == y,
        (yaml::Value::Seq(x), yaml::Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (yaml::Value::Map(x), yaml::Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(a, b)| same(&a.key, &b.key) && same(&a.value, &b.value))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indentation_becomes_two_spaces_and_comments_stay() {
        let text = "# top\nservices:\n    web:   # the web\n        image:    nginx\n        ports:\n        - \"80:80\"   \n        # a comment\n        command: |\n            echo a\n              b\n\n\n";
        let want = "# top\nservices:\n  web: # the web\n    image: nginx\n    ports:\n      - \"80:80\"\n    # a comment\n    command: |\n        echo a\n          b\n";
        assert_eq!(format(text).as_deref(), Some(want));
        assert_eq!(format(want), None, "idempotent");
    }

    #[test]
    fn flow_collections_and_items_with_keys_keep_their_shape() {
        let text = "services:\n   a:\n      volumes:\n         - type: bind\n           source: ./x\n      environment: [\n         A=1,\n         B=2 ]\n";
        let out = format(text).unwrap();
        assert_eq!(
            out,
            "services:\n  a:\n    volumes:\n      - type: bind\n        source: ./x\n    environment: [\n       A=1,\n       B=2 ]\n"
        );
    }

    #[test]
    fn a_broken_file_is_left_alone() {
        assert_eq!(format("a: [\n"), None);
    }
}
