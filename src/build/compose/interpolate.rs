//! Compose variable interpolation, as compose-go's `template` package does
//! it: `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty),
//! `${VAR-default}` (unset), `${VAR:?message}` / `${VAR?message}` (an
//! error), `${VAR:+alt}` / `${VAR+alt}`, defaults that interpolate in turn,
//! and `$$` for a literal `$`. An unset variable without a default is the
//! empty string (Compose warns and goes on).

/// A variable reference in a string: where (byte range in the string),
/// which variable, and the value it took (`None`: unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarUse {
    pub start: usize,
    pub end: usize,
    pub name: String,
    pub value: Option<String>,
}

/// The result of interpolating one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpolated {
    pub text: String,
    /// The top-level references, in order.
    pub uses: Vec<VarUse>,
}

/// Whether a string needs interpolation (has a `$` other than `$$`).
pub fn has_variables(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            if b.get(i + 1) == Some(&b'$') {
                i += 2;
                continue;
            }
            return true;
        }
        i += 1;
    }
    false
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn is_name(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Interpolates `s`; `lookup` gives a variable's value. The error is
/// Compose's message.
pub fn interpolate(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Interpolated, String> {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut uses = Vec::new();
    let mut i = 0;
    let mut lit = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        out.push_str(&s[lit..i]);
        let start = i;
        match b.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let close = matching_brace(s, i + 1).ok_or_else(|| {
                    format!("invalid interpolation format for \"{s}\": missing closing brace")
                })?;
                let inner = &s[i + 2..close];
                let (name, value) = braced(inner, s, lookup)?;
                uses.push(VarUse {
                    start,
                    end: close + 1,
                    name: name.to_string(),
                    value: lookup(name),
                });
                out.push_str(&value);
                i = close + 1;
            }
            Some(&c) if is_name_start(c) => {
                let mut j = i + 1;
                while j < b.len() && is_name(b[j]) {
                    j += 1;
                }
                let name = &s[i + 1..j];
                let value = lookup(name);
                out.push_str(value.as_deref().unwrap_or(""));
                uses.push(VarUse {
                    start,
                    end: j,
                    name: name.to_string(),
                    value,
                });
                i = j;
            }
            _ => {
                return Err(format!(
                    "invalid interpolation format for \"{s}\". You may need to escape any $ with another $"
                ))
            }
        }
        lit = i;
    }
    out.push_str(&s[lit..]);
    Ok(Interpolated { text: out, uses })
}

/// The index of the `}` closing the `{` at `open`.
fn matching_brace(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `NAME`, `NAME:-x`, `NAME-x`, `NAME:?x`, `NAME?x`, `NAME:+x`, `NAME+x`.
fn braced<'a>(
    inner: &'a str,
    whole: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(&'a str, String), String> {
    let b = inner.as_bytes();
    let invalid = || format!("invalid interpolation format for \"{whole}\"");
    if b.first().is_none_or(|c| !is_name_start(*c)) {
        return Err(invalid());
    }
    let mut j = 1;
    while j < b.len() && is_name(b[j]) {
        j += 1;
    }
    let name = &inner[..j];
    let rest = &inner[j..];
    let value = lookup(name);
    if rest.is_empty() {
        return Ok((name, value.unwrap_or_default()));
    }
    let (colon, op, arg) = match rest.strip_prefix(':') {
        Some(r) => (true, r.chars().next(), r.get(1..).unwrap_or("")),
        None => (false, rest.chars().next(), rest.get(1..).unwrap_or("")),
    };
    // With the colon, empty counts as unset.
    let set = match (&value, colon) {
        (None, _) => None,
        (Some(v), true) if v.is_empty() => None,
        (Some(v), _) => Some(v.clone()),
    };
    let nested = |a: &str| interpolate(a, lookup).map(|i| i.text);
    match op {
        Some('-') => match set {
            Some(v) => Ok((name, v)),
            None => Ok((name, nested(arg)?)),
        },
        Some('?') => match set {
            Some(v) => Ok((name, v)),
            None => Err(format!(
                "required variable {name} is missing a value: {}",
                nested(arg)?
            )),
        },
        Some('+') => match set {
            Some(_) => Ok((name, nested(arg)?)),
            None => Ok((name, String::new())),
        },
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> Result<String, String> {
        let env = |k: &str| match k {
            "SET" => Some("v".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        interpolate(s, &env).map(|i| i.text)
    }

    #[test]
    fn forms_follow_compose() {
        assert_eq!(run("a-$SET-${SET}").unwrap(), "a-v-v");
        assert_eq!(run("${UNSET:-d}|${EMPTY:-d}|${EMPTY-d}").unwrap(), "d|d|");
        assert_eq!(run("${UNSET:-${SET}x}").unwrap(), "vx");
        assert_eq!(run("${SET:+alt}|${UNSET:+alt}").unwrap(), "alt|");
        assert_eq!(run("$$SET and $UNSET.").unwrap(), "$SET and .");
        assert_eq!(
            run("${UNSET?set it}").unwrap_err(),
            "required variable UNSET is missing a value: set it"
        );
        assert!(run("${SET").is_err());
        assert!(run("$ x").is_err());
    }

    #[test]
    fn uses_name_where_each_variable_is() {
        let env = |_: &str| Some("1".to_string());
        let i = interpolate("x ${A:-b} $C", &env).unwrap();
        let spans: Vec<(usize, usize, &str)> = i
            .uses
            .iter()
            .map(|u| (u.start, u.end, u.name.as_str()))
            .collect();
        assert_eq!(spans, vec![(2, 9, "A"), (10, 12, "C")]);
    }

    #[test]
    fn only_unescaped_dollars_are_variables() {
        assert!(!has_variables("a$$b"));
        assert!(has_variables("a$b"));
    }
}
