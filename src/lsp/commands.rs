//! The commands offered through `workspace/executeCommand`, all under the
//! `buildkit.` prefix. The table is the single list: capabilities advertise
//! exactly these names, and later features (builds, builders) add rows here.

/// Adds a rule to the server's skip list for every document, on top of the
/// client's `buildkit.checks.skip` (argument: the rule name).
pub const IGNORE_RULE_EVERYWHERE: &str = "buildkit.ignoreRuleEverywhere";
/// Returns the server's version, effective settings and open documents.
pub const SERVER_INFO: &str = "buildkit.serverInfo";

/// Pulls the `buildkit` settings again with `workspace/configuration`.
pub const RELOAD_SETTINGS: &str = "buildkit.reloadSettings";

const ALL: &[&str] = &[IGNORE_RULE_EVERYWHERE, RELOAD_SETTINGS, SERVER_INFO];

pub fn names() -> Vec<String> {
    ALL.iter().map(|s| s.to_string()).collect()
}

pub fn all() -> &'static [&'static str] {
    ALL
}
