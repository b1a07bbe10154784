//! The bits of BuildKit's shell lexer the checks need: expanding one word
//! (`ProcessWordWithMatches`: quotes, escapes, `$A`, `${A}`, `${A:-x}`, …)
//! while recording which variables were found and which were not, and the
//! `did you mean` search of `util/suggest`.

use std::collections::BTreeSet;

/// The result of expanding one word. Variable names borrow from the word.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Expansion<'w> {
    pub result: String,
    /// Variables looked up and found.
    pub matched: BTreeSet<&'w str>,
    /// Variables looked up and not found.
    pub unmatched: BTreeSet<&'w str>,
}

/// Why a word could not be expanded (BuildKit fails the build on these;
/// the checks then stay silent as BuildKit's linter does).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ExpandError {
    /// BuildKit's message when it has one of its own: `${X?word}` and
    /// `${X:?word}` on an unset (or empty) `X` say `X: word`.
    pub message: Option<String>,
}

/// A variable's value, borrowed from the scope that holds it.
pub(crate) type Lookup<'l, 'v> = &'l dyn Fn(&str) -> Option<&'v str>;

/// Expands `word` with `lookup` as BuildKit's `ProcessWordWithMatches`.
pub(crate) fn expand<'w>(
    word: &'w str,
    escape: char,
    lookup: Lookup<'_, '_>,
) -> Result<Expansion<'w>, ExpandError> {
    expand_with(word, escape, false, lookup)
}

/// Like [`expand`]; `skip_quotes` treats quotes as plain characters, as
/// BuildKit does when expanding heredoc bodies (`SkipProcessQuotes`).
pub(crate) fn expand_with<'w>(
    word: &'w str,
    escape: char,
    skip_quotes: bool,
    lookup: Lookup<'_, '_>,
) -> Result<Expansion<'w>, ExpandError> {
    // Most words have nothing to expand or unquote: the lexer would copy
    // them char by char, so copy them at once.
    let special = |c: char| c == '$' || c == escape || (!skip_quotes && (c == '\'' || c == '"'));
    if !word.contains(special) {
        return Ok(Expansion {
            result: word.to_string(),
            ..Expansion::default()
        });
    }
    let mut lx = Lexer {
        word,
        pos: 0,
        escape,
        skip_quotes,
        depth: 0,
        lookup,
        out: Expansion::default(),
    };
    let mut result = String::with_capacity(word.len());
    lx.process_stop_on(&mut result, None, false)?;
    let mut out = lx.out;
    out.result = result;
    Ok(out)
}

/// Reads the word in place (byte offsets, no copy): names are slices of it.
struct Lexer<'w, 'l, 'v> {
    word: &'w str,
    /// Byte offset of the next character.
    pos: usize,
    escape: char,
    skip_quotes: bool,
    /// Nesting of `${A:-${B:-…}}`, bounded so hostile input cannot exhaust
    /// the stack.
    depth: usize,
    lookup: Lookup<'l, 'v>,
    out: Expansion<'w>,
}

/// Deeper nesting than this is refused (BuildKit's users never get close).
const MAX_DEPTH: usize = 64;

impl<'w, 'v> Lexer<'w, '_, 'v> {
    fn peek(&self) -> Option<char> {
        self.word.get(self.pos..)?.chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if let Some(c) = c {
            self.pos += c.len_utf8();
        }
        c
    }

    fn get(&mut self, name: &'w str) -> Option<&'v str> {
        let v = (self.lookup)(name);
        if v.is_some() {
            self.out.matched.insert(name);
        } else {
            self.out.unmatched.insert(name);
        }
        v
    }

    /// Processes into `out` until `stop` (consumed) or the end. `raw` keeps
    /// escapes, as BuildKit does for `#`/`%` patterns.
    fn process_stop_on(
        &mut self,
        out: &mut String,
        stop: Option<char>,
        raw: bool,
    ) -> Result<(), ExpandError> {
        loop {
            let Some(c) = self.peek() else {
                return if stop.is_some() {
                    Err(ExpandError::default())
                } else {
                    Ok(())
                };
            };
            if Some(c) == stop {
                self.next();
                return Ok(());
            }
            match c {
                '\'' | '"' if self.skip_quotes => {
                    self.next();
                    out.push(c);
                }
                '\'' => {
                    self.next();
                    loop {
                        match self.next() {
                            Some('\'') => break,
                            Some(ch) => out.push(ch),
                            None => return Err(ExpandError::default()),
                        }
                    }
                }
                '"' => {
                    self.next();
                    loop {
                        match self.peek() {
                            None => return Err(ExpandError::default()),
                            Some('"') => {
                                self.next();
                                break;
                            }
                            Some('$') => self.process_dollar(out)?,
                            Some(ch) if ch == self.escape => {
                                self.next();
                                match self.peek() {
                                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                                        self.next();
                                        out.push(n);
                                    }
                                    _ => out.push(ch),
                                }
                            }
                            Some(ch) => {
                                self.next();
                                out.push(ch);
                            }
                        }
                    }
                }
                '$' => self.process_dollar(out)?,
                ch if ch == self.escape => {
                    self.next();
                    if raw {
                        out.push(ch);
                    }
                    if let Some(n) = self.next() {
                        out.push(n);
                    }
                }
                _ => {
                    // A run of plain characters at once (this is most text).
                    let rest = &self.word[self.pos..];
                    let escape = self.escape;
                    let run = rest
                        .find(|c: char| {
                            matches!(c, '\'' | '"' | '$') || c == escape || Some(c) == stop
                        })
                        .unwrap_or(rest.len())
                        .max(c.len_utf8());
                    out.push_str(&rest[..run]);
                    self.pos += run;
                }
            }
        }
    }

    fn process_name(&mut self) -> &'w str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let empty = self.pos == start;
            if empty && c.is_ascii_digit() {
                while self.peek().is_some_and(|d| d.is_ascii_digit()) {
                    self.next();
                }
                break;
            }
            if empty && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                break;
            }
            if !c.is_alphanumeric() && c != '_' {
                break;
            }
            self.next();
        }
        &self.word[start..self.pos]
    }

    /// Expands the `$…` at the current position into `out`.
    fn process_dollar(&mut self, out: &mut String) -> Result<(), ExpandError> {
        self.next(); // `$`
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                out.push('$');
            } else if let Some(v) = self.get(name) {
                out.push_str(v);
            }
            return Ok(());
        }
        self.next(); // `{`
        match self.peek() {
            None | Some('{') | Some('}') | Some(':') => return Err(ExpandError::default()),
            _ => {}
        }
        let name = self.process_name();
        let mut ch = self.next().ok_or_else(ExpandError::default)?;
        if ch == '}' {
            if let Some(v) = self.get(name) {
                out.push_str(v);
            }
            return Ok(());
        }
        let mut null_is_unset = false;
        if ch == ':' {
            null_is_unset = true;
            ch = self.next().ok_or_else(ExpandError::default)?;
        }
        match ch {
            '+' | '-' | '?' | '#' | '%' => {
                let raw = ch == '#' || ch == '%';
                if null_is_unset && raw {
                    return Err(ExpandError::default());
                }
                if self.depth >= MAX_DEPTH {
                    return Err(ExpandError::default());
                }
                self.depth += 1;
                let mut word = String::new();
                let processed = self.process_stop_on(&mut word, Some('}'), raw);
                self.depth -= 1;
                processed?;
                let value = self.get(name);
                let unset = value.is_none() || (null_is_unset && value == Some(""));
                let v = value.unwrap_or_default();
                match ch {
                    '-' => out.push_str(if unset { &word } else { v }),
                    '+' => {
                        if !unset {
                            out.push_str(&word);
                        }
                    }
                    '?' if unset => {
                        let why = if !word.is_empty() {
                            word.clone()
                        } else if value.is_none() {
                            "is not allowed to be unset".to_string()
                        } else {
                            "is not allowed to be empty".to_string()
                        };
                        return Err(ExpandError {
                            message: Some(format!("{name}: {why}")),
                        });
                    }
                    '?' => out.push_str(v),
                    // Pattern trimming: only literal prefixes/suffixes, which
                    // covers FROM expressions in practice.
                    '#' => {
                        let w = word.trim_start_matches('#');
                        out.push_str(v.strip_prefix(w).unwrap_or(v));
                    }
                    _ => {
                        let w = word.trim_start_matches('%');
                        out.push_str(v.strip_suffix(w).unwrap_or(v));
                    }
                }
                Ok(())
            }
            // `${A/x/y}` and anything else: not needed by the checks.
            _ => Err(ExpandError::default()),
        }
    }
}

/// Names longer than this get no suggestion.
const MAX_SUGGEST_LEN: usize = 128;

/// BuildKit's `suggest.Search`: the option closest to `val` with a
/// Levenshtein distance under 3, `None` on an exact match or no close one.
pub(crate) fn suggest<'a, I>(val: &str, options: I, case_sensitive: bool) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let v = if case_sensitive {
        val.to_string()
    } else {
        val.to_lowercase()
    };
    let mut best: Option<&str> = None;
    let mut min = 3;
    // Bounded work on hostile input: long names are never typos of short ones.
    if v.chars().count() > MAX_SUGGEST_LEN {
        return None;
    }
    for opt in options {
        let o = if case_sensitive {
            std::borrow::Cow::Borrowed(opt)
        } else {
            std::borrow::Cow::Owned(opt.to_lowercase())
        };
        if *o == v {
            return None;
        }
        if o.len().abs_diff(v.len()) >= 3 * 4 {
            // Distance is at least the difference in characters (≤ 4 bytes each).
            continue;
        }
        let d = levenshtein(&v, &o);
        // Ties go to the smaller option, so results do not depend on order.
        if d < min || (d == min && d < 3 && best.is_some_and(|b| opt < b)) {
            min = d;
            best = Some(opt);
        }
    }
    best.map(str::to_string)
}

/// Levenshtein distance over chars: the one edit distance behind every
/// "did you mean" (variables here, bake attribute and target names).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<&'static str> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
    }

    #[test]
    fn expands_simple_braced_and_default_forms() {
        let e = env(&[("A", "alpine"), ("T", "3.20"), ("E", "")]);
        let x = expand("${A}:$T", '\\', &e).unwrap();
        assert_eq!(x.result, "alpine:3.20");
        assert_eq!(x.matched.iter().copied().collect::<Vec<_>>(), ["A", "T"]);
        let x = expand("${E:-busybox}${MISSING-x}", '\\', &e).unwrap();
        assert_eq!(x.result, "busyboxx");
        assert_eq!(x.unmatched.iter().copied().collect::<Vec<_>>(), ["MISSING"]);
        assert_eq!(expand("${A:+set}", '\\', &e).unwrap().result, "set");
    }

    #[test]
    fn plain_words_come_back_unchanged_with_no_lookups() {
        let x = expand("/srv/app-1:ü", '\\', &env(&[])).unwrap();
        assert_eq!(x.result, "/srv/app-1:ü");
        assert!(x.matched.is_empty() && x.unmatched.is_empty());
        // Quotes are plain characters only when skipping quotes.
        assert_eq!(expand("'a b'", '\\', &env(&[])).unwrap().result, "a b");
        let kept = expand_with("'a b'", '\\', true, &env(&[])).unwrap();
        assert_eq!(kept.result, "'a b'");
        // The escape character still counts, whichever it is.
        assert_eq!(expand("a`b", '`', &env(&[])).unwrap().result, "ab");
    }

    #[test]
    fn quotes_and_escapes() {
        let e = env(&[("A", "x")]);
        assert_eq!(expand("'$A'\"$A\"\\$A", '\\', &e).unwrap().result, "$Ax$A");
        assert_eq!(expand("`$A", '`', &e).unwrap().result, "$A");
    }

    #[test]
    fn errors_on_bad_substitution_and_required_unset() {
        let e = env(&[]);
        assert_eq!(expand("${", '\\', &e), Err(ExpandError::default()));
        assert_eq!(expand("${:x}", '\\', &e), Err(ExpandError::default()));
        // BuildKit's own words for a required variable.
        let msg = |m: &str| {
            Err(ExpandError {
                message: Some(m.to_string()),
            })
        };
        assert_eq!(expand("${X?must}", '\\', &e), msg("X: must"));
        assert_eq!(
            expand("${X?}", '\\', &e),
            msg("X: is not allowed to be unset")
        );
        let empty = env(&[("X", "")]);
        assert_eq!(
            expand("${X:?}", '\\', &empty),
            msg("X: is not allowed to be empty")
        );
        assert_eq!(expand("${X?}", '\\', &empty).unwrap().result, "");
    }

    #[test]
    fn suggest_matches_buildkit_search() {
        assert_eq!(
            suggest("NODE_VERISON", ["NODE_VERSION", "PATH"], true).as_deref(),
            Some("NODE_VERSION")
        );
        assert_eq!(suggest("PATH", ["PATH"], true), None);
        assert_eq!(suggest("XYZ", ["ABCDEF"], true), None);
        // Case-insensitive: an equal name is an exact match, so no suggestion.
        assert_eq!(suggest("stagenamecasing", ["StageNameCasing"], false), None);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        // Equal distances: the smaller option wins, whatever the order.
        assert_eq!(suggest("AB", ["AC", "AA"], true).as_deref(), Some("AA"));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let word = format!("{}x{}", "${A:-".repeat(100_000), "}".repeat(100_000));
        assert_eq!(expand(&word, '\\', &|_| None), Err(ExpandError::default()));
        let ok = format!("{}x{}", "${A:-".repeat(10), "}".repeat(10));
        assert_eq!(expand(&ok, '\\', &|_| None).unwrap().result, "x");
    }
}
