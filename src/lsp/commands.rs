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

/// Builder selection (issue 7, `lsp::builds::selection`): list the store's
/// builders with status; pick one through `window/showMessageRequest`; use
/// one for this workspace / globally (`buildx use`); create a
/// docker-container builder; bootstrap, stop, remove one.
pub const LIST_BUILDERS: &str = "buildkit.listBuilders";
pub const SELECT_BUILDER: &str = "buildkit.selectBuilder";
pub const USE_BUILDER: &str = "buildkit.useBuilder";
pub const USE_BUILDER_GLOBALLY: &str = "buildkit.useBuilderGlobally";
pub const CREATE_BUILDER: &str = "buildkit.createBuilder";
pub const BOOTSTRAP_BUILDER: &str = "buildkit.bootstrapBuilder";
pub const STOP_BUILDER: &str = "buildkit.stopBuilder";
pub const REMOVE_BUILDER: &str = "buildkit.removeBuilder";
/// Quick fix: `buildkit.build.load` counts as true (result: the setting for
/// the client to persist, as `ignoreRuleEverywhere`).
pub const ENABLE_LOAD: &str = "buildkit.enableLoad";

/// Builds from the editor (issue 7, `lsp::builds::run`): run a build with
/// progress and answer with its result; cancel running builds.
pub const BUILD: &str = "buildkit.build";
pub const CANCEL_BUILD: &str = "buildkit.cancelBuild";

/// The builder's build history (issue 18, `lsp::builds::history`): recent
/// builds, and one build's markdown report.
pub const BUILD_HISTORY: &str = "buildkit.buildHistory";
pub const BUILD_REPORT: &str = "buildkit.buildReport";

const ALL: &[&str] = &[
    BUILD,
    CANCEL_BUILD,
    BUILD_HISTORY,
    BUILD_REPORT,
    IGNORE_RULE_EVERYWHERE,
    RELOAD_SETTINGS,
    SERVER_INFO,
    LIST_BUILDERS,
    SELECT_BUILDER,
    USE_BUILDER,
    USE_BUILDER_GLOBALLY,
    CREATE_BUILDER,
    BOOTSTRAP_BUILDER,
    STOP_BUILDER,
    REMOVE_BUILDER,
    ENABLE_LOAD,
];

/// The commands that run something (a build runs the Dockerfile's RUN
/// instructions; builder management starts containers or pods): refused in a
/// workspace that is not trusted (`lsp::trust`).
const EXECUTING: &[&str] = &[
    BUILD,
    CREATE_BUILDER,
    BOOTSTRAP_BUILDER,
    STOP_BUILDER,
    REMOVE_BUILDER,
];

/// Whether a command executes (see `EXECUTING`).
pub fn executes(command: &str) -> bool {
    EXECUTING.contains(&command)
}

pub fn names() -> Vec<String> {
    ALL.iter().map(|s| s.to_string()).collect()
}

pub fn all() -> &'static [&'static str] {
    ALL
}
