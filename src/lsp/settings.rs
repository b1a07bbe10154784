//! The `buildkit.*` settings the server reads from `workspace/configuration`,
//! `workspace/didChangeConfiguration` and `initializationOptions`. Parsing is
//! lenient: a wrong value keeps its default and an unknown key is reported,
//! never fatal.

use std::collections::BTreeMap;

use serde_json::Value;

/// Delay between the last edit and diagnostics, when not configured: none.
/// Diagnostics are computed as soon as an edit arrives (see
/// `lsp::diagnostics`); a user may still ask for a trailing delay.
pub const DEFAULT_DEBOUNCE_MS: u64 = 0;

pub use crate::dockerfile::checks::{Experimental, SeverityOverride};

fn parse_severity(s: &str) -> Option<SeverityOverride> {
    match s.to_ascii_lowercase().as_str() {
        "error" => Some(SeverityOverride::Error),
        "warning" | "warn" => Some(SeverityOverride::Warning),
        "information" | "info" => Some(SeverityOverride::Information),
        "hint" => Some(SeverityOverride::Hint),
        "off" | "none" | "ignore" => Some(SeverityOverride::Off),
        _ => None,
    }
}

/// Log verbosity for stderr and `window/logMessage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    #[default]
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl LogLevel {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "error" => Some(Self::Error),
            "warn" | "warning" => Some(Self::Warn),
            "info" => Some(Self::Info),
            "debug" => Some(Self::Debug),
            "trace" => Some(Self::Trace),
            _ => None,
        }
    }
}

/// All settings of the language server. `Default` is what a client that
/// sends nothing gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Rules never reported (`buildkit.checks.skip`).
    pub skip: Vec<String>,
    /// Per-rule severity (`buildkit.checks.severity`).
    pub severity: BTreeMap<String, SeverityOverride>,
    /// Experimental rules to run (`buildkit.checks.experimental`: `true`, or a list).
    pub experimental: Experimental,
    /// Extra delay from the last edit to diagnostics
    /// (`buildkit.diagnostics.debounceMs`, 0: none).
    pub debounce_ms: u64,
    /// `buildkit.logLevel`.
    pub log_level: LogLevel,
    /// `buildkit.buildOnSave`: a save builds the document's last target.
    pub build_on_save: bool,
    /// `buildkit.build.*`: what a Dockerfile without a bake target builds with.
    pub build: crate::build::config::BuildSettings,
    /// `buildkit.insight.inlayHints`: the last build's result as inlay hints.
    pub insight_hints: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            skip: Vec::new(),
            severity: BTreeMap::new(),
            experimental: Experimental::None,
            debounce_ms: DEFAULT_DEBOUNCE_MS,
            log_level: LogLevel::Info,
            build_on_save: false,
            build: Default::default(),
            insight_hints: true,
        }
    }
}

/// Keys that belong to other parts of the product (the editor extension, the
/// build settings of later features): accepted without a warning.
const HANDLED_ELSEWHERE: &[&str] = &["server", "build", "builder", "trace"];

impl Settings {
    /// Reads the `buildkit` section (the object under `buildkit`, not the
    /// whole settings tree). Returns the settings and one message per key that
    /// was ignored, for the log.
    #[cfg(test)]
    pub fn from_section(section: &Value) -> (Settings, Vec<String>) {
        Settings::from_section_over(section, Settings::default())
    }

    /// Like [`Settings::from_section`], with unset keys taken from `base`
    /// (the command line's defaults).
    pub fn from_section_over(section: &Value, base: Settings) -> (Settings, Vec<String>) {
        let mut s = base;
        let mut ignored = Vec::new();
        let Some(obj) = section.as_object() else {
            if !section.is_null() {
                ignored.push(format!("buildkit: expected an object, got {section}"));
            }
            return (s, ignored);
        };
        for (key, value) in obj {
            match key.as_str() {
                "checks" => s.read_checks(value, &mut ignored),
                "diagnostics" => s.read_diagnostics(value, &mut ignored),
                "logLevel" => match value.as_str().and_then(LogLevel::parse) {
                    Some(l) => s.log_level = l,
                    None => ignored.push(format!(
                        "buildkit.logLevel: expected error|warn|info|debug|trace, got {value}"
                    )),
                },
                "buildOnSave" => match value.as_bool() {
                    Some(b) => s.build_on_save = b,
                    None => ignored.push(format!(
                        "buildkit.buildOnSave: expected true or false, got {value}"
                    )),
                },
                "build" => match crate::build::config::BuildSettings::from_build_object(value) {
                    Ok(b) => s.build = b,
                    Err(e) => ignored.push(format!("{e}; the build settings keep their defaults")),
                },
                "insight" => match value.get("inlayHints").map(Value::as_bool) {
                    Some(Some(b)) => s.insight_hints = b,
                    None if value.is_object() => {}
                    _ => ignored.push(format!(
                        "buildkit.insight: expected {{\"inlayHints\": true|false}}, got {value}"
                    )),
                },
                k if HANDLED_ELSEWHERE.contains(&k) => {}
                other => ignored.push(format!("buildkit.{other}: unknown setting, ignored")),
            }
        }
        (s, ignored)
    }

    /// Reads settings as sent in `didChangeConfiguration` or `initializationOptions`:
    /// an object with a `buildkit` member. `None` when there is none.
    pub fn from_tree(tree: &Value, base: &Settings) -> Option<(Settings, Vec<String>)> {
        tree.get("buildkit")
            .map(|section| Settings::from_section_over(section, base.clone()))
    }

    fn read_checks(&mut self, v: &Value, ignored: &mut Vec<String>) {
        let Some(obj) = v.as_object() else {
            ignored.push(format!("buildkit.checks: expected an object, got {v}"));
            return;
        };
        for (key, value) in obj {
            match key.as_str() {
                "skip" => match string_list(value) {
                    Some(list) => self.skip = list,
                    None => ignored.push(format!(
                        "buildkit.checks.skip: expected a list of rule names, got {value}"
                    )),
                },
                "severity" => match value.as_object() {
                    Some(map) => {
                        for (rule, sev) in map {
                            match sev.as_str().and_then(parse_severity) {
                                Some(o) => {
                                    self.severity.insert(rule.clone(), o);
                                }
                                None => ignored.push(format!(
                                    "buildkit.checks.severity.{rule}: expected error|warning|information|hint|off, got {sev}"
                                )),
                            }
                        }
                    }
                    None => ignored.push(format!(
                        "buildkit.checks.severity: expected an object of rule: severity, got {value}"
                    )),
                },
                "experimental" => match value {
                    Value::Bool(true) => self.experimental = Experimental::All,
                    Value::Bool(false) => self.experimental = Experimental::None,
                    Value::String(s) if s == "all" => self.experimental = Experimental::All,
                    other => match string_list(other) {
                        Some(list) => self.experimental = Experimental::Rules(list),
                        None => ignored.push(format!(
                            "buildkit.checks.experimental: expected true, \"all\" or a list of rule names, got {other}"
                        )),
                    },
                },
                other => ignored.push(format!("buildkit.checks.{other}: unknown setting, ignored")),
            }
        }
    }

    fn read_diagnostics(&mut self, v: &Value, ignored: &mut Vec<String>) {
        let Some(obj) = v.as_object() else {
            ignored.push(format!("buildkit.diagnostics: expected an object, got {v}"));
            return;
        };
        for (key, value) in obj {
            match key.as_str() {
                // Capped so a typo cannot silence diagnostics for minutes.
                "debounceMs" => match value.as_u64() {
                    Some(ms) => self.debounce_ms = ms.min(10_000),
                    None => ignored.push(format!(
                        "buildkit.diagnostics.debounceMs: expected a non-negative integer, got {value}"
                    )),
                },
                other => ignored.push(format!(
                    "buildkit.diagnostics.{other}: unknown setting, ignored"
                )),
            }
        }
    }

    /// The checks' options for these settings.
    pub fn check_options(&self) -> crate::dockerfile::checks::CheckOptions {
        crate::dockerfile::checks::CheckOptions {
            skip: self.skip.clone(),
            severity: self.severity.clone(),
            experimental: self.experimental.clone(),
            ..Default::default()
        }
    }
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_known_keys_and_reports_unknown_ones() {
        let (s, ignored) = Settings::from_section(&json!({
            "checks": {"skip": ["StageNameCasing"], "severity": {"JSONArgsRecommended": "error", "MaintainerDeprecated": "off"}, "experimental": true},
            "diagnostics": {"debounceMs": 25},
            "logLevel": "debug",
            "colour": "blue",
            "build": {"context": "."}
        }));
        assert_eq!(s.skip, vec!["StageNameCasing".to_string()]);
        assert_eq!(
            s.severity.get("JSONArgsRecommended"),
            Some(&SeverityOverride::Error)
        );
        let opts = s.check_options();
        assert_eq!(opts.skip, vec!["StageNameCasing".to_string()]);
        assert_eq!(
            opts.severity.get("MaintainerDeprecated"),
            Some(&SeverityOverride::Off)
        );
        assert_eq!(s.experimental, Experimental::All);
        assert_eq!(s.debounce_ms, 25);
        assert_eq!(s.log_level, LogLevel::Debug);
        assert_eq!(
            ignored,
            vec!["buildkit.colour: unknown setting, ignored".to_string()]
        );
    }

    #[test]
    fn wrong_types_keep_defaults() {
        let (s, ignored) =
            Settings::from_section(&json!({"diagnostics": {"debounceMs": "fast"}, "logLevel": 3}));
        assert_eq!(s.debounce_ms, DEFAULT_DEBOUNCE_MS);
        assert_eq!(s.log_level, LogLevel::Info);
        assert_eq!(ignored.len(), 2);
    }
}
