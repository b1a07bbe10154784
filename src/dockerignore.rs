//! Docker's `.dockerignore` semantics (patterns, `!` exceptions, `**`), shared
//! by the build checks (CopyIgnoredFile) and the file sync of the build context.
//! Pure: the caller reads the file.
//!
//! The behaviour follows moby's `patternmatcher` and its `ignorefile` reader,
//! which BuildKit and the Docker CLI both use:
//! - a line starting with `#` is a comment (only at column 0: ` #x` is a pattern);
//!   a UTF-8 BOM on the first line is dropped; lines are trimmed;
//! - each pattern is cleaned like Go's `filepath.Clean` and a leading `/` is
//!   stripped, so `/a/./b/` and `a/b` are the same pattern;
//! - `!` marks an exception; the last pattern that matches wins;
//! - `*` and `?` never match `/`, `**` matches any number of directories,
//!   `[a-z]` / `[^a-z]` are classes, `\` escapes the next character;
//! - a pattern that matches a parent directory matches everything below it.
//!
//! Paths given to the queries are slash-separated and relative to the context
//! root (`src/main.rs`, not `./src/main.rs`).

use regex::Regex;
use thiserror::Error;

/// A pattern that Docker would refuse (the build fails with it in place).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: invalid .dockerignore pattern {pattern:?}: {reason}")]
pub struct PatternError {
    /// 1-based line in the `.dockerignore` text (0 when the pattern did not
    /// come from a file, e.g. from BuildKit's `exclude-patterns` metadata).
    pub line: usize,
    /// The pattern as written (after trimming).
    pub pattern: String,
    /// Why it is invalid.
    pub reason: String,
}

/// How one pattern is matched; the same four cases as patternmatcher, so the
/// fast paths give exactly the answers the regular expression would.
#[derive(Debug, Clone)]
enum Matcher {
    /// No glob characters: the path must equal the pattern.
    Exact,
    /// `dir/**`: any path starting with `dir/`.
    Prefix(String),
    /// `**/name` or `**name`: any path ending with the rest.
    Suffix(String),
    Regex(Regex),
}

/// One cleaned pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// Cleaned pattern text without the leading `!`.
    text: String,
    exception: bool,
    line: usize,
    matcher: Matcher,
}

impl Pattern {
    /// The cleaned pattern, without `!`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether this is a `!` exception (re-includes what it matches).
    pub fn is_exception(&self) -> bool {
        self.exception
    }

    /// 1-based line in the source file (0 if not from a file).
    pub fn line(&self) -> usize {
        self.line
    }

    /// Does this one pattern match `path` itself (not its parents)?
    fn matches_path(&self, path: &str) -> bool {
        match &self.matcher {
            Matcher::Exact => path == self.text,
            Matcher::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Matcher::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    // `**/foo` also matches `foo` at the root
                    || suffix
                        .strip_prefix('/')
                        .is_some_and(|rest| path == rest)
            }
            Matcher::Regex(re) => re.is_match(path),
        }
    }

    /// Does this pattern match `path` or one of its parent directories?
    fn matches_path_or_parent(&self, path: &str, parents: &[&str]) -> bool {
        if self.matches_path(path) {
            return true;
        }
        // parents[i] is the i-th prefix directory ("a", "a/b", ...)
        parents.iter().any(|p| self.matches_path(p))
    }

    /// The pattern without a trailing `/**` or `/*`, as fsutil uses it to
    /// decide whether an exception can reach below a directory.
    fn without_trailing_glob(&self) -> &str {
        let t = self.text.as_str();
        let t = t.strip_suffix("/**").unwrap_or(t);
        t.strip_suffix("/*").unwrap_or(t)
    }
}

/// A parsed `.dockerignore` (or any list of Docker exclude patterns).
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
    errors: Vec<PatternError>,
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore` file. Never fails: invalid
    /// patterns are left out of matching and reported by [`errors`](Self::errors)
    /// (Docker refuses to build with them; diagnostics can point at the line).
    pub fn parse(text: &str) -> DockerIgnore {
        let mut out = DockerIgnore::default();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (idx, raw) in text.split('\n').enumerate() {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.starts_with('#') {
                continue;
            }
            let Some(pattern) = normalize_ignore_line(raw) else {
                continue;
            };
            match compile_pattern(&pattern, idx + 1) {
                Ok(Some(p)) => out.patterns.push(p),
                Ok(None) => {}
                Err(e) => out.errors.push(e),
            }
        }
        out
    }

    /// Builds a matcher from already-read patterns (patternmatcher's `New`),
    /// as BuildKit sends them in `exclude-patterns`/`include-patterns`.
    /// Fails on the first invalid pattern, as BuildKit does.
    pub fn from_patterns<I, S>(patterns: I) -> Result<DockerIgnore, PatternError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = DockerIgnore::default();
        for p in patterns {
            if let Some(p) = compile_pattern(p.as_ref(), 0)? {
                out.patterns.push(p);
            }
        }
        Ok(out)
    }

    /// The valid patterns, in file order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Patterns Docker would reject, with their lines.
    pub fn errors(&self) -> &[PatternError] {
        &self.errors
    }

    /// True when there is no pattern at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern is a `!` exception.
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }

    /// Is `rel_path` (slash-separated, relative to the context root) excluded
    /// from the build context? A pattern matching a parent directory
    /// excludes the whole subtree unless a later `!` exception matches.
    /// The context root itself (`.` or empty) is never excluded.
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        let path = clean(rel_path);
        let path = path.strip_prefix('/').unwrap_or(&path);
        if path.is_empty() || path == "." {
            return false;
        }
        self.matches_cleaned(path)
    }

    /// patternmatcher's `MatchesOrParentMatches` on an already clean path.
    fn matches_cleaned(&self, path: &str) -> bool {
        let parent = go_dir(path);
        let mut parents: Vec<&str> = Vec::new();
        if parent != "." {
            // Prefixes of the parent directory: "a", "a/b", ...; they borrow
            // from `path` because a clean path's parent is its own prefix.
            for (i, b) in parent.bytes().enumerate() {
                if b == b'/' {
                    parents.push(&path[..i]);
                }
            }
            parents.push(&path[..parent.len()]);
        }
        let mut matched = false;
        for p in &self.patterns {
            // Only an exception can undo a match, only a plain pattern can
            // make one: skip the rest (patternmatcher does the same).
            if p.exception != matched {
                continue;
            }
            if p.matches_path_or_parent(path, &parents) {
                matched = !p.exception;
            }
        }
        matched
    }

    /// The pruning question for a walker: given a directory that
    /// [`is_excluded`](Self::is_excluded), could a `!` exception re-include
    /// something below it? `false` means the whole subtree can be skipped
    /// without reading it. Conservative like fsutil: any exception with glob
    /// characters (other than a trailing `/*` or `/**`) answers `true`.
    pub fn may_reinclude_below(&self, rel_dir: &str) -> bool {
        if !self.has_exceptions() {
            return false;
        }
        if !self.exceptions_are_prefixes() {
            return true;
        }
        let dir = clean(rel_dir);
        let dir_slash = format!("{}/", dir.trim_start_matches('/'));
        self.patterns
            .iter()
            .filter(|p| p.exception)
            .any(|p| format!("{}/", p.without_trailing_glob()).starts_with(&dir_slash))
    }

    fn exceptions_are_prefixes(&self) -> bool {
        self.patterns
            .iter()
            .filter(|p| p.exception)
            .all(|p| !p.without_trailing_glob().contains(GLOB_CHARS))
    }

    /// For include patterns (fsutil's `include-patterns`): could anything
    /// below `rel_dir` match, when `rel_dir` itself does not? `false` lets a
    /// walker skip the directory.
    pub fn may_match_below(&self, rel_dir: &str) -> bool {
        let plain: Vec<&Pattern> = self.patterns.iter().filter(|p| !p.exception).collect();
        if plain
            .iter()
            .any(|p| p.without_trailing_glob().contains(GLOB_CHARS))
        {
            return true;
        }
        let dir = clean(rel_dir);
        let dir_slash = format!("{}/", dir.trim_start_matches('/'));
        plain
            .iter()
            .any(|p| format!("{}/", p.without_trailing_glob()).starts_with(&dir_slash))
    }
}

/// Characters that make a pattern more than a literal prefix (fsutil's list).
const GLOB_CHARS: &[char] = &['*', '[', ']', '?', '^', '\\'];

/// ignorefile.ReadAll for one line that is not a comment: trim, clean,
/// strip a leading `/`, keep the `!`. `None` for blank lines.
fn normalize_ignore_line(raw: &str) -> Option<String> {
    let mut pattern = raw.trim();
    if pattern.is_empty() {
        return None;
    }
    let invert = pattern.starts_with('!');
    if invert {
        pattern = pattern[1..].trim();
    }
    let mut cleaned = String::new();
    if !pattern.is_empty() {
        cleaned = clean(pattern);
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
    }
    Some(if invert {
        format!("!{cleaned}")
    } else {
        cleaned
    })
}

/// patternmatcher.New for one pattern. `Ok(None)` for a blank one.
fn compile_pattern(raw: &str, line: usize) -> Result<Option<Pattern>, PatternError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let err = |reason: &str| PatternError {
        line,
        pattern: trimmed.to_string(),
        reason: reason.to_string(),
    };
    let mut p = clean(trimmed);
    let exception = p.starts_with('!');
    if exception {
        if p.len() == 1 {
            return Err(err("illegal exclusion pattern \"!\""));
        }
        p.remove(0);
    }
    check_glob_syntax(&p).map_err(|()| err("syntax error in pattern"))?;
    let matcher = build_matcher(&p).map_err(|e| err(&e))?;
    Ok(Some(Pattern {
        text: p,
        exception,
        line,
        matcher,
    }))
}

/// patternmatcher's `compile`: the glob becomes an exact, prefix, suffix or
/// regular-expression match.
fn build_matcher(pattern: &str) -> Result<Matcher, String> {
    #[derive(PartialEq, Clone, Copy)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut re = String::from("^");
    let mut kind = Kind::Exact;
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                // `**/` is the same as `**`
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    // trailing `**` accepts everything, as in .gitignore
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = Kind::Regex;
                    }
                } else {
                    // any number of directories, including none
                    re.push_str("(.*/)?");
                    kind = Kind::Regex;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = Kind::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                kind = Kind::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => {
                if let Some(&next) = chars.get(i) {
                    i += 1;
                    re.push('\\');
                    re.push(next);
                    kind = Kind::Regex;
                } else {
                    re.push('\\');
                }
            }
            '[' | ']' => {
                re.push(ch);
                kind = Kind::Regex;
            }
            _ => re.push(ch),
        }
        first = false;
    }
    Ok(match kind {
        Kind::Exact => Matcher::Exact,
        Kind::Prefix => Matcher::Prefix(pattern[..pattern.len() - 2].to_string()),
        Kind::Suffix => Matcher::Suffix(pattern[2..].to_string()),
        Kind::Regex => {
            re.push('$');
            let re = go_regex_to_rust(&re);
            Matcher::Regex(Regex::new(&re).map_err(|e| format!("bad pattern: {e}"))?)
        }
    })
}

/// The generated expression is Go RE2 syntax; inside a character class Rust's
/// `regex` also reads `[` (nested class), `&&` and `~~` (set operations),
/// which Go takes literally. Escape those so both engines agree.
fn go_regex_to_rust(re: &str) -> String {
    let mut out = String::with_capacity(re.len() + 8);
    let mut chars = re.chars().peekable();
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(c);
            if let Some(n) = chars.next() {
                out.push(n);
            }
            class_start = false;
            continue;
        }
        if !in_class {
            out.push(c);
            if c == '[' {
                in_class = true;
                class_start = true;
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
            }
            continue;
        }
        match c {
            // `]` first in a class is a literal in both engines
            ']' if class_start => out.push(']'),
            ']' => {
                out.push(']');
                in_class = false;
            }
            '[' if chars.peek() == Some(&':') => {
                // POSIX class `[:alpha:]`: both engines know it
                out.push('[');
                for n in chars.by_ref() {
                    out.push(n);
                    if n == ']' {
                        break;
                    }
                }
            }
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        class_start = false;
    }
    out
}

/// Go's `filepath.Match` syntax check (patternmatcher calls
/// `filepath.Match(p, ".")` only for its error): unterminated classes,
/// empty or inverted-looking ranges and a trailing `\` are errors.
fn check_glob_syntax(pattern: &str) -> Result<(), ()> {
    let mut rest = pattern.as_bytes();
    while !rest.is_empty() {
        while rest.first() == Some(&b'*') {
            rest = &rest[1..];
        }
        // scanChunk: up to the next `*` outside a class
        let mut in_range = false;
        let mut i = 0;
        while i < rest.len() {
            match rest[i] {
                // an escaped character never ends a chunk
                b'\\' if i + 1 < rest.len() => i += 1,
                b'[' => in_range = true,
                b']' => in_range = false,
                b'*' if !in_range => break,
                _ => {}
            }
            i += 1;
        }
        check_chunk(&rest[..i])?;
        rest = &rest[i..];
    }
    Ok(())
}

/// matchChunk's parsing, without a name to match.
fn check_chunk(mut chunk: &[u8]) -> Result<(), ()> {
    while let Some(&c) = chunk.first() {
        match c {
            b'[' => {
                chunk = &chunk[1..];
                if chunk.first() == Some(&b'^') {
                    chunk = &chunk[1..];
                }
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    chunk = get_esc(chunk)?;
                    if chunk.first() == Some(&b'-') {
                        chunk = get_esc(&chunk[1..])?;
                    }
                    nrange += 1;
                }
            }
            b'\\' => {
                chunk = &chunk[1..];
                if chunk.is_empty() {
                    return Err(());
                }
                chunk = &chunk[1..];
            }
            _ => chunk = &chunk[1..],
        }
    }
    Ok(())
}

/// getEsc: one (possibly escaped) character of a class; something must follow.
fn get_esc(mut chunk: &[u8]) -> Result<&[u8], ()> {
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(()),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(());
            }
        }
        Some(_) => {}
    }
    // skip one UTF-8 character
    let len = utf8_len(chunk[0]);
    if chunk.len() <= len {
        return Err(());
    }
    Ok(&chunk[len..])
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Go's `path.Clean`: collapse `//`, drop `.`, resolve `..` lexically,
/// no trailing `/`; the empty path becomes `.`.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Dir` for a clean path.
fn go_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(pattern: &str) -> DockerIgnore {
        DockerIgnore::from_patterns([pattern]).expect("valid pattern")
    }

    #[test]
    fn clean_matches_go_path_clean() {
        assert_eq!(clean(""), ".");
        assert_eq!(clean("a//b/./c/"), "a/b/c");
        assert_eq!(clean("a/../../b"), "../b");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("./"), ".");
        assert_eq!(clean("!foo/../bar"), "bar");
    }

    #[test]
    fn single_pattern_cases_from_patternmatcher() {
        // (pattern, path, excluded): patternmatcher's TestMatches table,
        // each case re-derived from the glob rules in the module docs.
        let cases: &[(&str, &str, bool)] = &[
            ("**", "file", true),
            ("**", "file/", true),
            ("**/", "file", true),
            ("**/", "file/", true),
            ("**", "dir/file", true),
            ("**/", "dir/file", true),
            ("**", "dir/file/", true),
            ("**/**", "dir/file", true),
            ("**/**", "dir/file/", true),
            ("dir/**", "dir/file", true),
            ("dir/**", "dir/file/", true),
            ("dir/**", "dir/dir2/file", true),
            ("**/dir", "dir", true),
            ("**/dir", "dir/file", true),
            ("**/dir2/*", "dir/dir2/file", true),
            ("**/dir2/*", "dir/dir2/file/", true),
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**file", "file", true),
            ("**file", "dir/file", true),
            ("**/file", "dir/file", true),
            ("**file", "dir/dir/file", true),
            ("**/file", "dir/dir/file", true),
            ("**/file*", "dir/dir/file", true),
            ("**/file*", "dir/dir/file.txt", true),
            ("**/file*txt", "dir/dir/file.txt", true),
            ("**/file*.txt", "dir/dir/file.txt", true),
            ("**/file*.txt*", "dir/dir/file.txt", true),
            ("**/**/*.txt", "dir/dir/file.txt", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("**/*.txt", "file.txt", true),
            ("**/**/*.txt", "file.txt", true),
            ("a**/*.txt", "a/file.txt", true),
            ("a**/*.txt", "a/dir/file.txt", true),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a/*.txt", "a/dir/file.txt", false),
            ("a/*.txt", "a/file.txt", true),
            ("a/*.txt**", "a/file.txt", true),
            ("a[b-d]e", "ae", false),
            ("a[b-d]e", "ace", true),
            ("a[b-d]e", "aae", false),
            ("a[^b-d]e", "aze", true),
            (".*", ".foo", true),
            (".*", "foo", false),
            ("abc.def", "abcdef", false),
            ("abc.def", "abc.def", true),
            ("abc.def", "abcZdef", false),
            ("abc?def", "abcZdef", true),
            ("abc?def", "abcdef", false),
            ("a\\\\", "a\\", true),
            ("**/foo/bar", "foo/bar", true),
            ("**/foo/bar", "dir/foo/bar", true),
            ("**/foo/bar", "dir/dir2/foo/bar", true),
            ("abc/**", "abc", false),
            ("abc/**", "abc/def", true),
            ("abc/**", "abc/def/ghi", true),
            ("**/.foo", ".foo", true),
            ("**/.foo", "bar.foo", false),
            ("a(b)c/def", "a(b)c/def", true),
            ("a(b)c/def", "a(b)c/xyz", false),
            ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
            (
                "dist/*.whl",
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                true,
            ),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
        ];
        for &(pattern, path, want) in cases {
            assert_eq!(
                one(pattern).is_excluded(path),
                want,
                "pattern {pattern:?} path {path:?}"
            );
        }
    }

    #[test]
    fn go_filepath_match_cases() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            // `a*` matches the parent directory `ab`
            ("a*", "ab/c", true),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("a[^a][^a][^a]b", "a☺b", false),
            ("[a-ζ]*", "α", true),
            ("*[a-ζ]", "A", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "x", true),
            ("[x\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[\\-x]", "x", true),
            ("[\\-x]", "-", true),
            ("[\\-x]", "a", false),
            ("*x", "xxx", true),
        ];
        for &(pattern, path, want) in cases {
            assert_eq!(
                one(pattern).is_excluded(path),
                want,
                "pattern {pattern:?} path {path:?}"
            );
        }
    }

    #[test]
    fn malformed_patterns_are_errors() {
        for bad in [
            "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "!",
        ] {
            let err = DockerIgnore::from_patterns([bad]).expect_err(bad);
            assert_eq!(err.line, 0, "{bad}");
        }
        // passes the glob check but the range l-O is inverted: refused when
        // compiled (patternmatcher fails on first match, we fail up front)
        assert!(DockerIgnore::from_patterns(["[Local-Only]/"]).is_err());
    }

    #[test]
    fn parse_reports_bad_lines_and_keeps_the_rest() {
        let ig = DockerIgnore::parse("ok.txt\n[\n!\n*.log\n");
        assert_eq!(ig.patterns().len(), 2);
        let lines: Vec<usize> = ig.errors().iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3]);
        assert_eq!(
            ig.errors()[0].to_string(),
            "line 2: invalid .dockerignore pattern \"[\": syntax error in pattern"
        );
        assert!(ig.is_excluded("x.log"));
    }

    #[test]
    fn multi_pattern_exceptions_last_match_wins() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["**", "!util/docker/web"], "util/docker/web/foo", false),
            (
                &["**", "!util/docker/web", "util/docker/web/foo"],
                "util/docker/web/foo",
                true,
            ),
            (
                &["**", "!dist/*.whl"],
                "dist/proxy.py-2.4.0rc3-py3-none-any.whl",
                false,
            ),
            (&["!fileutils.go", "*.go"], "fileutils.go", true),
            (&["*.go", "!fileutils.go"], "fileutils.go", false),
            (&["docs", "!docs/README.md"], "docs/README.md", false),
            (&["docs/", "!docs/README.md"], "docs/README.md", false),
            (&["docs/*", "!docs/README.md"], "docs/README.md", false),
            (&["docs", "!docs/README.md"], "docs/other.md", true),
            (&["*.go"], ".", false),
            (&[], "any/path", false),
        ];
        for &(patterns, path, want) in cases {
            let ig = DockerIgnore::from_patterns(patterns).expect("valid");
            assert_eq!(ig.is_excluded(path), want, "{patterns:?} {path:?}");
        }
    }

    #[test]
    fn parse_handles_comments_bom_trim_and_leading_slash() {
        let text =
            "\u{feff}# comment\n  /build/  \n #notacomment\r\n\n! ./keep/me.txt \n./a//b/../c\n";
        let ig = DockerIgnore::parse(text);
        let texts: Vec<(&str, bool)> = ig
            .patterns()
            .iter()
            .map(|p| (p.text(), p.is_exception()))
            .collect();
        assert_eq!(
            texts,
            vec![
                ("build", false),
                ("#notacomment", false),
                ("keep/me.txt", true),
                ("a/c", false),
            ]
        );
        let lines: Vec<usize> = ig.patterns().iter().map(|p| p.line()).collect();
        assert_eq!(lines, vec![2, 3, 5, 6]);
        assert!(ig.is_excluded("build/out/x.o"));
        assert!(ig.is_excluded("#notacomment"));
        assert!(!ig.is_excluded("buildx"));
        assert!(ig.is_excluded("a/c"));
        // a leading "./" on the queried path is the same path
        assert!(ig.is_excluded("./a/c/d"));
    }

    #[test]
    fn escapes_and_special_regex_characters() {
        assert!(one("a\\?b").is_excluded("a?b"));
        assert!(!one("a\\?b").is_excluded("axb"));
        assert!(one("[[]x").is_excluded("[x"));
        assert!(one("a+b").is_excluded("a+b"));
        assert!(!one("a+b").is_excluded("aab"));
        assert!(one("f[&~]*").is_excluded("f&1"));
        assert!(one("f[&~]*").is_excluded("f~1"));
        assert!(!one("f[&~]*").is_excluded("fx"));
        // Go's regexp knows POSIX classes inside brackets, and so do we
        assert!(one("[[:digit:]]x").is_excluded("5x"));
        assert!(!one("[[:digit:]]x").is_excluded("ax"));
        // `*` inside a class is translated too: Go builds `[[^/]*]`, i.e. the
        // class {[, ^, /} repeated, then a literal `]`
        assert!(one("[*]").is_excluded("]"));
        assert!(one("[*]").is_excluded("[^]"));
        assert!(!one("[*]").is_excluded("*"));
    }

    #[test]
    fn pruning_question() {
        let ig = DockerIgnore::parse("node_modules\n");
        assert!(ig.is_excluded("node_modules"));
        assert!(!ig.may_reinclude_below("node_modules"));

        let ig = DockerIgnore::parse("docs\n!docs/README.md\n");
        assert!(ig.is_excluded("docs"));
        assert!(ig.may_reinclude_below("docs"));
        assert!(!ig.may_reinclude_below("other"));
        // "docs2/" is not below "docs/"
        assert!(!ig.may_reinclude_below("doc"));

        let ig = DockerIgnore::parse("vendor\n!vendor/keep/**\n");
        assert!(ig.may_reinclude_below("vendor"));
        assert!(ig.may_reinclude_below("vendor/keep"));
        assert!(!ig.may_reinclude_below("vendor/drop"));

        // a glob in an exception: cannot tell, must descend
        let ig = DockerIgnore::parse("*\n!**/*.md\n");
        assert!(ig.may_reinclude_below("anything"));
    }

    #[test]
    fn include_pruning_question() {
        let inc = DockerIgnore::from_patterns(["src/lib", "Dockerfile"]).expect("valid");
        assert!(inc.may_match_below("src"));
        assert!(!inc.may_match_below("tests"));
        // a glob that is not a trailing `/*` or `/**`: cannot tell, descend
        let inc = DockerIgnore::from_patterns(["src/*.rs"]).expect("valid");
        assert!(inc.may_match_below("tests"));
        let inc = DockerIgnore::from_patterns(["src/**"]).expect("valid");
        assert!(inc.may_match_below("src"));
        assert!(!inc.may_match_below("tests"));
        let inc = DockerIgnore::from_patterns(["**/*.rs"]).expect("valid");
        assert!(inc.may_match_below("tests"));
    }
}
