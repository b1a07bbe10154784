//! The `# check=` directive (and `BUILDKIT_DOCKERFILE_CHECK`): BuildKit's
//! `linter.ParseLintOptions` and the way its `Linter` merges and applies the
//! result, so a file gets exactly the rules `docker build --check` runs.
//!
//! Semantics, as in `frontend/dockerfile/linter/linter.go`:
//! - the value is up to three `;`-separated `key=value` parts (`skip`,
//!   `experimental`, `error`); a fourth `;` stays inside the third value;
//! - `skip=all` / `experimental=all`, otherwise comma-separated rule names,
//!   trimmed; unknown names are accepted and have no effect;
//! - `error=` takes Go's `strconv.ParseBool` spellings;
//! - skipping never touches experimental rules: an experimental rule runs
//!   exactly when it is enabled by `experimental=` (even with `skip=all`);
//! - a comment `# check=…` right above an instruction merges its skip and
//!   experimental lists (not `error`) for that instruction only.

use crate::dockerfile::Error;

/// The parsed `# check=` configuration (BuildKit's `linter.Config`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LintConfig {
    pub skip_all: bool,
    pub skip: Vec<String>,
    pub experimental_all: bool,
    pub experimental: Vec<String>,
    /// `error=true`: every finding fails the build.
    pub error: bool,
}

impl LintConfig {
    /// Parses a `check` directive value, e.g. `skip=A,B;error=true`.
    pub fn parse(value: &str) -> Result<LintConfig, Error> {
        let value = value.trim();
        let mut cfg = LintConfig::default();
        if value.is_empty() {
            return Ok(cfg);
        }
        for part in value.splitn(3, ';') {
            let Some((key, v)) = part.split_once('=') else {
                return Err(Error::InvalidCheckOption(part.to_string()));
            };
            match key.trim() {
                "skip" => all_or_rules(v, &mut cfg.skip_all, &mut cfg.skip),
                "experimental" => all_or_rules(v, &mut cfg.experimental_all, &mut cfg.experimental),
                "error" => {
                    cfg.error = crate::options::parse_bool(v.trim()).map_err(|_| {
                        Error::InvalidCheckBool {
                            part: part.to_string(),
                            value: v.trim().to_string(),
                        }
                    })?;
                }
                other => return Err(Error::InvalidCheckOption(other.to_string())),
            }
        }
        Ok(cfg)
    }

    /// Parses the `check=` value of a comment right above an instruction, as
    /// `WithMergedConfigFromComments` does: only the first word counts.
    /// `None` when the comment is not a check directive or does not parse
    /// (BuildKit then keeps the file's configuration).
    pub fn from_comment(comment: &str) -> Option<LintConfig> {
        let (key, value) = split_directive(comment)?;
        if !key.eq_ignore_ascii_case("check") {
            return None;
        }
        let first = value.split(' ').next().unwrap_or("");
        LintConfig::parse(first).ok()
    }

    /// This configuration with another's skip and experimental lists added
    /// (BuildKit's `WithMergedConfig`; `error` is not merged).
    pub fn merged(&self, other: &LintConfig) -> LintConfig {
        let mut out = self.clone();
        out.skip_all |= other.skip_all;
        out.experimental_all |= other.experimental_all;
        out.skip.extend(other.skip.iter().cloned());
        out.experimental.extend(other.experimental.iter().cloned());
        out
    }

    /// Whether a rule runs under this configuration.
    pub fn enables(&self, rule: &str, experimental: bool) -> bool {
        if experimental {
            self.experimental_all || self.experimental.iter().any(|r| r == rule)
        } else {
            !(self.skip_all || self.skip.iter().any(|r| r == rule))
        }
    }

    /// Rule names listed in skip/experimental that no rule has (BuildKit
    /// ignores them silently; we point at likely typos).
    pub fn unknown_rules(&self) -> Vec<&str> {
        self.skip
            .iter()
            .chain(self.experimental.iter())
            .map(String::as_str)
            .filter(|name| !name.is_empty() && super::rule(name).is_none())
            .collect()
    }
}

/// `# key=value` (or `key=value` without the `#`), as BuildKit's directive
/// regexp `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` reads it.
fn split_directive(comment: &str) -> Option<(&str, &str)> {
    let s = comment.trim_start();
    let s = s.strip_prefix('#').unwrap_or(s).trim_start();
    let (key, value) = s.split_once('=')?;
    let key = key.trim_end();
    let mut chars = key.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    Some((key, value))
}

/// A `skip=`/`experimental=` value: `all`, or comma-separated rule names
/// (a later part of the same key replaces the names, never clears `all`).
fn all_or_rules(v: &str, all: &mut bool, rules: &mut Vec<String>) {
    let v = v.trim();
    if v == "all" {
        *all = true;
    } else {
        *rules = split_rules(v);
    }
}

fn split_rules(v: &str) -> Vec<String> {
    v.split(',').map(|r| r.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_three_parts() {
        let c = LintConfig::parse("skip=StageNameCasing, FromAsCasing;error=true;experimental=all")
            .unwrap();
        assert_eq!(c.skip, vec!["StageNameCasing", "FromAsCasing"]);
        assert!(c.error && c.experimental_all && !c.skip_all);
    }

    #[test]
    fn empty_value_is_default() {
        assert_eq!(LintConfig::parse("  ").unwrap(), LintConfig::default());
    }

    #[test]
    fn error_accepts_go_bool_spellings_only() {
        assert!(LintConfig::parse("error=T").unwrap().error);
        assert!(!LintConfig::parse("error=0").unwrap().error);
        assert_eq!(
            LintConfig::parse("error=yes").unwrap_err().to_string(),
            "failed to parse check option \"error=yes\": strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
    }

    #[test]
    fn unknown_key_and_missing_equals_are_errors() {
        assert_eq!(
            LintConfig::parse("skips=all").unwrap_err().to_string(),
            "invalid check option \"skips\""
        );
        assert_eq!(
            LintConfig::parse("skip=all;error").unwrap_err().to_string(),
            "invalid check option \"error\""
        );
    }

    #[test]
    fn fourth_part_stays_inside_the_third_value() {
        // splitn(3): "experimental=A;B" is the third part, so "A;B" is one rule name.
        let c = LintConfig::parse("skip=X;error=false;experimental=A;B").unwrap();
        assert_eq!(c.experimental, vec!["A;B"]);
    }

    #[test]
    fn skip_all_does_not_disable_enabled_experimental_rules() {
        let c = LintConfig::parse("skip=all;experimental=InvalidDefinitionDescription").unwrap();
        assert!(!c.enables("StageNameCasing", false));
        assert!(c.enables("InvalidDefinitionDescription", true));
        let d = LintConfig::default();
        assert!(!d.enables("InvalidDefinitionDescription", true));
        assert!(d.enables("StageNameCasing", false));
    }

    #[test]
    fn comment_config_uses_first_word_and_merges_without_error() {
        let c = LintConfig::from_comment("# check=skip=JSONArgsRecommended extra words").unwrap();
        assert_eq!(c.skip, vec!["JSONArgsRecommended"]);
        assert!(LintConfig::from_comment("# just a comment").is_none());
        assert!(LintConfig::from_comment("# check=bogus").is_none());
        let file = LintConfig::parse("skip=A;error=true").unwrap();
        let merged = file.merged(&LintConfig::parse("skip=B;error=false").unwrap());
        assert_eq!(merged.skip, vec!["A", "B"]);
        assert!(merged.error);
    }

    #[test]
    fn unknown_rule_names_are_listed() {
        let c = LintConfig::parse("skip=StageNameCasing,StageNameCasin").unwrap();
        assert_eq!(c.unknown_rules(), vec!["StageNameCasin"]);
    }
}
