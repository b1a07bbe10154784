//! BuildKit's build checks on the parsed Dockerfile: every rule fires where
//! BuildKit's does (message and range asserted) and stays silent on the
//! corrected file; `# check=` semantics; mechanical fixes.

use std::collections::BTreeMap;
use std::sync::Arc;

use buildkit_lsp::dockerfile::checks::{
    self, CheckOptions, Experimental, Finding, Severity, SeverityOverride, RULES,
};
use buildkit_lsp::dockerfile::parse;
use buildkit_lsp::dockerignore::DockerIgnore;

/// (rule, message, [start line, start col, end line, end col]) of each finding.
type Row = (String, String, [u32; 4]);

fn run_with(src: &str, opts: &CheckOptions) -> (Vec<Finding>, Vec<Row>) {
    let df = parse(src);
    let findings = checks::run(&df, opts);
    let rows = findings
        .iter()
        .map(|f| {
            let r = df.range(f.span);
            (
                f.code().unwrap_or("-").to_string(),
                f.message.clone(),
                [r.start.line, r.start.character, r.end.line, r.end.character],
            )
        })
        .collect();
    (findings, rows)
}

fn rows(src: &str) -> Vec<Row> {
    run_with(src, &CheckOptions::default()).1
}

/// Findings of one rule.
fn of(src: &str, rule: &str) -> Vec<Row> {
    rows(src).into_iter().filter(|r| r.0 == rule).collect()
}

fn row(rule: &str, msg: &str, range: [u32; 4]) -> Row {
    (rule.to_string(), msg.to_string(), range)
}

/// Applies the fix of the only finding of `rule`.
fn fixed(src: &str, rule: &str) -> String {
    let (findings, _) = run_with(src, &CheckOptions::default());
    let f: Vec<_> = findings.iter().filter(|f| f.code() == Some(rule)).collect();
    assert_eq!(f.len(), 1, "one {rule} finding expected in {src:?}");
    f[0].fix.as_ref().expect("a fix").apply(src)
}

#[test]
fn rule_table_has_buildkit_names_urls_and_levels() {
    assert_eq!(RULES.len(), 22);
    let r = checks::rule("StageNameCasing").unwrap();
    assert_eq!(
        r.url,
        "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/"
    );
    assert_eq!(r.description, "Stage names should be lowercase");
    assert_eq!(
        checks::rule("JSONArgsRecommended").unwrap().url,
        "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/"
    );
    assert!(
        checks::rule("InvalidDefinitionDescription")
            .unwrap()
            .experimental
    );
    assert_eq!(RULES.iter().filter(|r| r.experimental).count(), 1);
    assert!(RULES
        .iter()
        .all(|r| r.default_severity == Severity::Warning));
    assert!(checks::rule("stagenamecasing").is_none());
}

#[test]
fn stage_name_casing() {
    assert_eq!(
        of("FROM alpine AS Builder\n", "StageNameCasing"),
        [row(
            "StageNameCasing",
            "Stage name 'Builder' should be lowercase",
            [0, 15, 0, 22]
        )]
    );
    assert!(of("FROM alpine AS builder\n", "StageNameCasing").is_empty());
    assert_eq!(
        fixed("FROM alpine AS Builder\n", "StageNameCasing"),
        "FROM alpine AS builder\n"
    );
}

#[test]
fn from_as_casing() {
    assert_eq!(
        of("FROM alpine as build\n", "FromAsCasing"),
        [row(
            "FromAsCasing",
            "'as' and 'FROM' keywords' casing do not match",
            [0, 12, 0, 14]
        )]
    );
    assert_eq!(
        of("from alpine AS build\n", "FromAsCasing"),
        [row(
            "FromAsCasing",
            "'AS' and 'from' keywords' casing do not match",
            [0, 12, 0, 14]
        )]
    );
    assert!(of("FROM alpine AS build\n", "FromAsCasing").is_empty());
    assert!(of("from alpine as build\n", "FromAsCasing").is_empty());
    // Mixed-case FROM is left to ConsistentInstructionCasing.
    assert!(of("From alpine as build\n", "FromAsCasing").is_empty());
    assert_eq!(
        fixed("FROM alpine as build\n", "FromAsCasing"),
        "FROM alpine AS build\n"
    );
}

#[test]
fn no_empty_continuation() {
    let src = "FROM alpine\nRUN echo a \\\n\n  b\n";
    // On the line that ends the instruction, as BuildKit's parser reports it.
    assert_eq!(
        of(src, "NoEmptyContinuation"),
        [row(
            "NoEmptyContinuation",
            "Empty continuation line",
            [3, 2, 3, 3]
        )]
    );
    assert_eq!(
        fixed(src, "NoEmptyContinuation"),
        "FROM alpine\nRUN echo a \\\n  b\n"
    );
    assert!(of("FROM alpine\nRUN echo a \\\n  b\n", "NoEmptyContinuation").is_empty());
}

#[test]
fn consistent_instruction_casing() {
    let src = "FROM alpine\nRUN a\nrun b\nCopy x /y\n";
    assert_eq!(
        of(src, "ConsistentInstructionCasing"),
        [
            row(
                "ConsistentInstructionCasing",
                "Command 'run' should match the case of the command majority (uppercase)",
                [2, 0, 2, 3]
            ),
            row(
                "ConsistentInstructionCasing",
                "Command 'Copy' should match the case of the command majority (uppercase)",
                [3, 0, 3, 4]
            ),
        ]
    );
    // Majority lower case.
    assert_eq!(
        of("from alpine\nrun a\nRUN b\n", "ConsistentInstructionCasing")[0].1,
        "Command 'RUN' should match the case of the command majority (lowercase)"
    );
    assert!(of("FROM alpine\nRUN a\n", "ConsistentInstructionCasing").is_empty());
    let (findings, _) = run_with("FROM alpine\nRUN a\nrun b\n", &CheckOptions::default());
    let f = findings
        .iter()
        .find(|f| f.code() == Some("ConsistentInstructionCasing"))
        .unwrap();
    assert_eq!(
        f.fix.as_ref().unwrap().apply("FROM alpine\nRUN a\nrun b\n"),
        "FROM alpine\nRUN a\nRUN b\n"
    );
}

#[test]
fn duplicate_and_reserved_stage_names() {
    let src = "FROM alpine AS a\nFROM alpine AS A\nFROM alpine AS scratch\n";
    let r = rows(src);
    assert!(r.contains(&row(
        "DuplicateStageName",
        "Duplicate stage name \"a\", stage names should be unique",
        [1, 15, 1, 16]
    )));
    assert!(r.contains(&row(
        "ReservedStageName",
        "Stage name should not use the same name as reserved stage \"scratch\"",
        [2, 15, 2, 22]
    )));
    assert!(of("FROM alpine AS a\nFROM alpine AS b\n", "DuplicateStageName").is_empty());
    assert_eq!(of("FROM alpine AS context\n", "ReservedStageName").len(), 1);
    assert!(of("FROM alpine AS contexts\n", "ReservedStageName").is_empty());
}

#[test]
fn json_args_recommended() {
    let src = "FROM alpine\nCMD echo hi\nENTRYPOINT [\"/bin/app\"]\n";
    assert_eq!(
        of(src, "JSONArgsRecommended"),
        [row(
            "JSONArgsRecommended",
            "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals",
            [1, 4, 1, 11]
        )]
    );
    assert_eq!(
        fixed(src, "JSONArgsRecommended"),
        "FROM alpine\nCMD [\"echo\", \"hi\"]\nENTRYPOINT [\"/bin/app\"]\n"
    );
    // A SHELL in the stage, or in the stage it builds on, silences it.
    assert!(of(
        "FROM alpine\nSHELL [\"/bin/bash\", \"-c\"]\nCMD echo hi\n",
        "JSONArgsRecommended"
    )
    .is_empty());
    assert!(of(
        "FROM alpine AS base\nSHELL [\"/bin/bash\", \"-c\"]\nFROM base\nENTRYPOINT run me\n",
        "JSONArgsRecommended"
    )
    .is_empty());
    // Shell syntax: reported, but no mechanical fix.
    let (f, _) = run_with(
        "FROM alpine\nCMD echo $HOME && ls\n",
        &CheckOptions::default(),
    );
    let f = f
        .iter()
        .find(|f| f.code() == Some("JSONArgsRecommended"))
        .unwrap();
    assert!(f.fix.is_none());
}

#[test]
fn maintainer_deprecated() {
    let src = "FROM alpine\nMAINTAINER Jane \"JD\" <jane@example.com>\n";
    assert_eq!(
        of(src, "MaintainerDeprecated"),
        [row(
            "MaintainerDeprecated",
            "Maintainer instruction is deprecated in favor of using label",
            [1, 0, 1, 10]
        )]
    );
    assert_eq!(
        fixed(src, "MaintainerDeprecated"),
        "FROM alpine\nLABEL org.opencontainers.image.authors=\"Jane \\\"JD\\\" <jane@example.com>\"\n"
    );
    assert!(of(
        "FROM alpine\nLABEL org.opencontainers.image.authors=me\n",
        "MaintainerDeprecated"
    )
    .is_empty());
}

#[test]
fn undefined_arg_in_from() {
    let src = "ARG VERSION=3\nFROM alpine:${VERSIN}\n";
    assert_eq!(
        of(src, "UndefinedArgInFrom"),
        [row(
            "UndefinedArgInFrom",
            "FROM argument 'VERSIN' is not declared (did you mean VERSION?)",
            [1, 12, 1, 21]
        )]
    );
    assert!(of(
        "ARG VERSION=3\nFROM alpine:${VERSION}\n",
        "UndefinedArgInFrom"
    )
    .is_empty());
    // Declared without a default, or predefined: fine.
    assert!(of(
        "ARG TAG\nFROM --platform=$BUILDPLATFORM alpine:$TAG\n",
        "UndefinedArgInFrom"
    )
    .is_empty());
    let platform = of("FROM --platform=$PLATFORM alpine\n", "UndefinedArgInFrom");
    assert_eq!(platform[0].1, "FROM argument 'PLATFORM' is not declared");
    assert_eq!(platform[0].2, [0, 16, 0, 25]);
}

#[test]
fn workdir_relative_path() {
    let src = "FROM alpine\nWORKDIR app\nWORKDIR sub\n";
    assert_eq!(
        of(src, "WorkdirRelativePath"),
        [row(
            "WorkdirRelativePath",
            "Relative workdir \"app\" can have unexpected results if the base image changes",
            [1, 8, 1, 11]
        )]
    );
    assert!(of(
        "FROM alpine\nWORKDIR /app\nWORKDIR sub\n",
        "WorkdirRelativePath"
    )
    .is_empty());
    // Expanded before the check.
    assert!(of(
        "FROM alpine\nENV D=/srv\nWORKDIR $D/app\n",
        "WorkdirRelativePath"
    )
    .is_empty());
    // Inherited from the parent stage.
    assert!(of(
        "FROM alpine AS a\nWORKDIR /w\nFROM a\nWORKDIR rel\n",
        "WorkdirRelativePath"
    )
    .is_empty());
}

#[test]
fn undefined_var() {
    // From scratch, every undefined variable is reported.
    let src = "FROM scratch\nENV GREETING=hi\nCOPY $GREETNG /x\nUSER $NOBODY\n";
    assert_eq!(
        of(src, "UndefinedVar"),
        [
            row(
                "UndefinedVar",
                "Usage of undefined variable '$GREETNG' (did you mean $GREETING?)",
                [2, 5, 2, 13]
            ),
            row(
                "UndefinedVar",
                "Usage of undefined variable '$NOBODY'",
                [3, 5, 3, 12]
            ),
        ]
    );
    // ARG and ENV define; RUN is left to the shell.
    assert!(of(
        "FROM scratch\nARG A\nENV B=1\nCOPY $A$B /x\nRUN echo $UNSET\n",
        "UndefinedVar"
    )
    .is_empty());
    // An external base image may define it: only likely typos are reported.
    assert!(of("FROM node\nENV P=$NODE_HOME/bin:$PATH\n", "UndefinedVar").is_empty());
    assert_eq!(
        of(
            "FROM node\nARG NODE_VERSION=20\nLABEL v=$NODE_VERSON\n",
            "UndefinedVar"
        )[0]
        .1,
        "Usage of undefined variable '$NODE_VERSON' (did you mean $NODE_VERSION?)"
    );
    // BuildKit's documented examples: a lower-case build argument, a typo of PATH.
    assert_eq!(
        of("FROM alpine AS base\nCOPY $foo .\n", "UndefinedVar"),
        [row(
            "UndefinedVar",
            "Usage of undefined variable '$foo'",
            [1, 5, 1, 9]
        )]
    );
    assert_eq!(
        of("FROM alpine\nENV PATH=$PAHT:/app/bin\n", "UndefinedVar"),
        [row(
            "UndefinedVar",
            "Usage of undefined variable '$PAHT' (did you mean $PATH?)",
            [1, 9, 1, 14]
        )]
    );
    assert!(of(
        "FROM python AS base\nARG VERSION=$PYTHON_VERSION\n",
        "UndefinedVar"
    )
    .is_empty());
    // ENV values see the ENV before the instruction, as in BuildKit.
    assert_eq!(of("FROM scratch\nENV A=1 B=$A\n", "UndefinedVar").len(), 1);
    // Single quotes do not expand.
    assert!(of("FROM scratch\nENV A='$X'\n", "UndefinedVar").is_empty());
    // An ARG without a value is defined in the stages built on its stage
    // (BuildKit's child inherits `buildArgs`), not in a sibling.
    let src =
        "FROM scratch AS b0\nARG TOKEN\nFROM b0\nWORKDIR ${TOKEN-x}\nFROM scratch\nUSER $TOKEN\n";
    assert_eq!(
        of(src, "UndefinedVar"),
        [row(
            "UndefinedVar",
            "Usage of undefined variable '$TOKEN'",
            [5, 5, 5, 11]
        )]
    );
    // A heredoc body with an unquoted delimiter is expanded.
    let h = of(
        "FROM scratch\nCOPY <<EOF /f\n$MISSING\nEOF\n",
        "UndefinedVar",
    );
    // BuildKit places it on the COPY's lines: the diagnostic covers the
    // instruction, heredoc included.
    assert_eq!(
        h,
        [row(
            "UndefinedVar",
            "Usage of undefined variable '$MISSING'",
            [1, 0, 3, 3]
        )]
    );
    assert!(of(
        "FROM scratch\nCOPY <<'EOF' /f\n$MISSING\nEOF\n",
        "UndefinedVar"
    )
    .is_empty());
    // Reported once, though the body's references are now also collected.
    let h = of(
        "FROM scratch\nARG A=1\nADD <<EOF /f\n$A ${MISSING}\nEOF\n",
        "UndefinedVar",
    );
    assert_eq!(
        h,
        [row(
            "UndefinedVar",
            "Usage of undefined variable '$MISSING'",
            [2, 0, 4, 3]
        )]
    );
    // RUN heredocs go to the shell: BuildKit's linter never sees them.
    assert!(of(
        "FROM scratch\nRUN <<EOF\necho $MISSING\nEOF\n",
        "UndefinedVar"
    )
    .is_empty());
}

#[test]
fn circular_stage_dependency_is_an_error_on_each_reference() {
    let src = "FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\nRUN --mount=from=a,target=/m true\n";
    let errors: Vec<Row> = rows(src).into_iter().filter(|r| r.0 == "-").collect();
    let msg = "circular dependency detected on stage: a";
    assert_eq!(
        errors,
        [
            ("-".to_string(), msg.to_string(), [1, 12, 1, 13]),
            ("-".to_string(), msg.to_string(), [3, 17, 3, 18]),
        ]
    );
    let (findings, _) = run_with(src, &CheckOptions::default());
    assert!(findings
        .iter()
        .filter(|f| f.code().is_none())
        .all(|f| f.severity == Severity::Error));
    // A forward reference without a cycle is BuildKit's dispatch error
    // (stages are dispatched in file order).
    assert_eq!(
        rows("FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\n"),
        [(
            "-".to_string(),
            "cannot copy from stage \"b\", it needs to be defined before current stage \"a\""
                .to_string(),
            [1, 12, 1, 13]
        )]
    );
    assert_eq!(
        rows("FROM alpine AS a\nRUN --mount=from=b,target=/x true\nFROM alpine AS b\n"),
        [(
            "-".to_string(),
            "cannot mount from stage \"b\" to \"/x\", stage needs to be defined before current command"
                .to_string(),
            [1, 17, 1, 18]
        )]
    );
}

#[test]
fn multiple_instructions_disallowed() {
    let src = "FROM alpine\nCMD [\"a\"]\nHEALTHCHECK NONE\nCMD [\"b\"]\n";
    assert_eq!(
        of(src, "MultipleInstructionsDisallowed"),
        [row(
            "MultipleInstructionsDisallowed",
            "Multiple CMD instructions should not be used in the same stage because only the last one will be used",
            [1, 0, 1, 9]
        )]
    );
    // One per stage is fine.
    assert!(of(
        "FROM alpine\nCMD [\"a\"]\nFROM alpine\nCMD [\"b\"]\n",
        "MultipleInstructionsDisallowed"
    )
    .is_empty());
}

#[test]
fn legacy_key_value_format() {
    let src = "FROM alpine\nENV A b\nLABEL x hello world\n";
    assert_eq!(
        of(src, "LegacyKeyValueFormat"),
        [
            row(
                "LegacyKeyValueFormat",
                "\"ENV key=value\" should be used instead of legacy \"ENV key value\" format",
                [1, 4, 1, 7]
            ),
            row(
                "LegacyKeyValueFormat",
                "\"LABEL key=value\" should be used instead of legacy \"LABEL key value\" format",
                [2, 6, 2, 19]
            ),
        ]
    );
    let (findings, _) = run_with(src, &CheckOptions::default());
    let fixes: Vec<_> = findings.iter().filter_map(|f| f.fix.as_ref()).collect();
    assert_eq!(
        fixes[0].apply(src),
        "FROM alpine\nENV A=b\nLABEL x hello world\n"
    );
    assert_eq!(
        fixes[1].apply(src),
        "FROM alpine\nENV A b\nLABEL x=\"hello world\"\n"
    );
    assert!(of("FROM alpine\nENV A=b C=\"d e\"\n", "LegacyKeyValueFormat").is_empty());
}

#[test]
fn redundant_target_platform() {
    let src = "FROM --platform=$TARGETPLATFORM alpine\n";
    assert_eq!(
        of(src, "RedundantTargetPlatform"),
        [row(
            "RedundantTargetPlatform",
            "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
            [0, 16, 0, 31]
        )]
    );
    assert_eq!(fixed(src, "RedundantTargetPlatform"), "FROM alpine\n");
    assert!(of(
        "FROM --platform=$BUILDPLATFORM alpine\n",
        "RedundantTargetPlatform"
    )
    .is_empty());
}

#[test]
fn secrets_used_in_arg_or_env() {
    let src = "FROM alpine\nARG GITHUB_TOKEN\nENV DB_PASSWORD=x PUBLIC_KEY=y\n";
    assert_eq!(
        of(src, "SecretsUsedInArgOrEnv"),
        [
            row(
                "SecretsUsedInArgOrEnv",
                "Do not use ARG or ENV instructions for sensitive data (ARG \"GITHUB_TOKEN\")",
                [1, 4, 1, 16]
            ),
            row(
                "SecretsUsedInArgOrEnv",
                "Do not use ARG or ENV instructions for sensitive data (ENV \"DB_PASSWORD\")",
                [2, 4, 2, 15]
            ),
        ]
    );
    assert!(of(
        "FROM alpine\nARG TOKENIZER=x\nENV KEY_FILE=/k\n",
        "SecretsUsedInArgOrEnv"
    )
    .is_empty());
}

#[test]
fn invalid_default_arg_in_from() {
    let src = "ARG TAG\nFROM alpine:${TAG}\n";
    assert_eq!(
        of(src, "InvalidDefaultArgInFrom"),
        [row(
            "InvalidDefaultArgInFrom",
            "Default value for ARG alpine:${TAG} results in empty or invalid base image name",
            [1, 5, 1, 18]
        )]
    );
    assert!(of(
        "ARG TAG=3.20\nFROM alpine:${TAG}\n",
        "InvalidDefaultArgInFrom"
    )
    .is_empty());
    assert!(of(
        "ARG TAG\nFROM alpine:${TAG:-latest}\n",
        "InvalidDefaultArgInFrom"
    )
    .is_empty());
}

#[test]
fn from_platform_flag_const_disallowed() {
    let src = "FROM --platform=linux/amd64 alpine AS build\n";
    assert_eq!(
        of(src, "FromPlatformFlagConstDisallowed"),
        [row(
            "FromPlatformFlagConstDisallowed",
            "FROM --platform flag should not use constant value \"linux/amd64\"",
            [0, 16, 0, 27]
        )]
    );
    // The stage name says the platform is deliberate.
    assert!(of(
        "FROM --platform=linux/arm64 alpine AS build-arm64\n",
        "FromPlatformFlagConstDisallowed"
    )
    .is_empty());
    assert!(of(
        "FROM --platform=$BUILDPLATFORM alpine\n",
        "FromPlatformFlagConstDisallowed"
    )
    .is_empty());
}

#[test]
fn copy_ignored_file() {
    let ignore = Arc::new(DockerIgnore::parse("secrets/\n*.log\n"));
    let opts = CheckOptions {
        dockerignore: Some(ignore),
        ..CheckOptions::default()
    };
    let src = "FROM alpine\nCOPY app.log secrets/key ./src /dst/\nADD ./secrets/x /y\nCOPY --from=build app.log /z\n";
    let r: Vec<Row> = run_with(src, &opts)
        .1
        .into_iter()
        .filter(|r| r.0 == "CopyIgnoredFile")
        .collect();
    assert_eq!(
        r,
        [
            row(
                "CopyIgnoredFile",
                "Attempting to Copy file \"app.log\" that is excluded by .dockerignore",
                [1, 5, 1, 12]
            ),
            row(
                "CopyIgnoredFile",
                "Attempting to Copy file \"secrets/key\" that is excluded by .dockerignore",
                [1, 13, 1, 24]
            ),
            row(
                "CopyIgnoredFile",
                "Attempting to Add file \"secrets/x\" that is excluded by .dockerignore",
                [2, 4, 2, 15]
            ),
        ]
    );
    // Without a .dockerignore, or with `!` exceptions, BuildKit stays silent.
    assert!(of(src, "CopyIgnoredFile").is_empty());
    let exc = CheckOptions {
        dockerignore: Some(Arc::new(DockerIgnore::parse("*.log\n!keep.log\n"))),
        ..CheckOptions::default()
    };
    assert!(run_with(src, &exc)
        .1
        .iter()
        .all(|r| r.0 != "CopyIgnoredFile"));
    // An absolute source is matched as written by BuildKit: never excluded.
    let abs = run_with("FROM alpine\nCOPY /secrets/key /k\n", &opts).1;
    assert!(abs.iter().all(|r| r.0 != "CopyIgnoredFile"));
    // `.` only when everything is ignored.
    let all = CheckOptions {
        dockerignore: Some(Arc::new(DockerIgnore::parse("*\n"))),
        ..CheckOptions::default()
    };
    let r = run_with("FROM alpine\nCOPY . /app\n", &all).1;
    assert_eq!(r.iter().filter(|r| r.0 == "CopyIgnoredFile").count(), 1);
}

#[test]
fn invalid_definition_description_is_experimental() {
    let src = "# the builder\nFROM alpine AS build\n# version of the tool\nARG VERSION=1\n# VERSION2 ok\nARG VERSION2\n";
    assert!(of(src, "InvalidDefinitionDescription").is_empty());
    let opts = CheckOptions {
        experimental: Experimental::Rules(vec!["InvalidDefinitionDescription".into()]),
        ..CheckOptions::default()
    };
    let r: Vec<Row> = run_with(src, &opts)
        .1
        .into_iter()
        .filter(|r| r.0 == "InvalidDefinitionDescription")
        .collect();
    assert_eq!(
        r,
        [
            row(
                "InvalidDefinitionDescription",
                "Comment for FROM should follow the format: `# build <description>`",
                [1, 0, 1, 20]
            ),
            row(
                "InvalidDefinitionDescription",
                "Comment for ARG should follow the format: `# VERSION <description>`",
                [3, 0, 3, 13]
            ),
        ]
    );
    // Enabled from the file too; an empty `#` line separates the comment.
    let file = format!("# check=experimental=InvalidDefinitionDescription\n{src}");
    assert_eq!(of(&file, "InvalidDefinitionDescription").len(), 2);
    assert!(of(
        "# check=experimental=all\n# unrelated\n#\nARG VERSION=1\n",
        "InvalidDefinitionDescription"
    )
    .is_empty());
}

#[test]
fn expose_proto_casing_and_invalid_format() {
    let src = "FROM alpine\nEXPOSE 80/TCP 127.0.0.1:8080:80 53/udp\n";
    assert_eq!(
        rows(src).into_iter().filter(|r| r.0.starts_with("Expose")).collect::<Vec<_>>(),
        [
            row(
                "ExposeProtoCasing",
                "Defined protocol '80/TCP' in EXPOSE instruction should be lowercase",
                [1, 7, 1, 13]
            ),
            row(
                "ExposeInvalidFormat",
                "EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:8080:80'",
                [1, 14, 1, 31]
            ),
        ]
    );
    assert_eq!(
        fixed("FROM alpine\nEXPOSE 80/TCP\n", "ExposeProtoCasing"),
        "FROM alpine\nEXPOSE 80/tcp\n"
    );
    assert!(rows("FROM alpine\nEXPOSE 80 443/tcp 53/udp\n")
        .iter()
        .all(|r| !r.0.starts_with("Expose")));
}

#[test]
fn invalid_base_image_platform_never_fires_offline() {
    let r = checks::rule("InvalidBaseImagePlatform").unwrap();
    assert!(r.offline_note.is_some());
    assert!(of(
        "FROM --platform=linux/arm64 amd64/alpine\n",
        "InvalidBaseImagePlatform"
    )
    .is_empty());
}

#[test]
fn check_directive_skip_error_and_experimental() {
    let src = "FROM alpine as Build\nCMD echo hi\n";
    assert_eq!(rows(src).len(), 3);
    // skip lists rules; error=true turns findings into errors.
    let (f, r) = run_with(
        &format!("# check=skip=StageNameCasing,FromAsCasing;error=true\n{src}"),
        &CheckOptions::default(),
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, "JSONArgsRecommended");
    assert_eq!(f[0].severity, Severity::Error);
    // skip=all silences every rule but not the syntax errors.
    let (_, r) = run_with(
        &format!("# check=skip=all\n{src}FOO bar\n"),
        &CheckOptions::default(),
    );
    assert!(r.iter().all(|r| r.0 == "-"), "{r:?}");
    assert!(!r.is_empty());
    // A bad directive is an error on the directive value, rules run with defaults.
    let (f, r) = run_with(
        &format!("# check=skip=all;bogus=1\n{src}"),
        &CheckOptions::default(),
    );
    assert_eq!(
        r[0],
        row(
            "-",
            "failed to parse check options: invalid check option \"bogus\"",
            [0, 8, 0, 24]
        )
    );
    assert_eq!(f[0].severity, Severity::Error);
    assert_eq!(r.len(), 4);
    // Unknown rule names: BuildKit ignores them; we give a hint.
    let (f, r) = run_with(
        &format!("# check=skip=StageNameCasin\n{src}"),
        &CheckOptions::default(),
    );
    assert_eq!(
        r[0],
        row(
            "-",
            "Unknown build check rule 'StageNameCasin' in check directive, BuildKit ignores it (did you mean StageNameCasing?)",
            [0, 13, 0, 27]
        )
    );
    assert_eq!(f[0].severity, Severity::Hint);
}

#[test]
fn check_comment_above_an_instruction_applies_to_it_only() {
    let src =
        "FROM alpine\n# check=skip=JSONArgsRecommended\nCMD echo a\nFROM alpine\nCMD echo b\n";
    let r = of(src, "JSONArgsRecommended");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].2[0], 4);
}

#[test]
fn settings_skip_severity_and_override() {
    let src = "FROM alpine as Build\nCMD echo hi\n";
    let mut severity = BTreeMap::new();
    severity.insert("JSONArgsRecommended".to_string(), SeverityOverride::Hint);
    severity.insert("FromAsCasing".to_string(), SeverityOverride::Off);
    let opts = CheckOptions {
        skip: vec!["StageNameCasing".into()],
        severity,
        ..CheckOptions::default()
    };
    let (f, _) = run_with(src, &opts);
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].code(), f[0].severity),
        (Some("JSONArgsRecommended"), Severity::Hint)
    );
    // The override replaces the file's directive, as BUILDKIT_DOCKERFILE_CHECK does.
    let opts = CheckOptions {
        check_override: Some("skip=JSONArgsRecommended".into()),
        ..CheckOptions::default()
    };
    let (_, r) = run_with(&format!("# check=skip=all\n{src}"), &opts);
    assert_eq!(
        r.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["FromAsCasing", "StageNameCasing"]
    );
}

#[test]
fn syntax_errors_come_through_the_same_list() {
    let (f, _) = run_with("FROM alpine\nFOO bar\n", &CheckOptions::default());
    assert!(f
        .iter()
        .any(|f| f.rule.is_none() && f.severity == Severity::Error));
}

#[test]
fn clean_multi_stage_file_has_no_findings() {
    let src = "\
# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app .

FROM scratch
COPY --from=build /out/app /app
EXPOSE 8080/tcp
USER 65532:65532
ENTRYPOINT [\"/app\"]
";
    assert_eq!(rows(src), Vec::<Row>::new());
}

/// Hostile shapes that would be quadratic with naive scoping: a 100,000-line
/// chain of stages each adding ENV, then many undefined variables. Linear
/// work finishes well within the bound even in a debug build.
#[test]
fn hostile_files_stay_linear() {
    let mut chain = String::from("FROM scratch AS s0\n");
    for i in 1..50_000 {
        chain.push_str(&format!("FROM s{} AS s{i}\nENV K{i}=v\n", i - 1));
    }
    let mut fan = String::from("FROM scratch AS base\n");
    for i in 0..20_000 {
        fan.push_str(&format!("ENV K{i}=v\n"));
    }
    for i in 0..20_000 {
        fan.push_str(&format!("FROM base\nCOPY $UNDEFINED_{i} /x\n"));
    }
    let nested = format!(
        "FROM scratch\nENV A={}x{}\n",
        "${B:-".repeat(50_000),
        "}".repeat(50_000)
    );
    for src in [chain, fan, nested] {
        let start = std::time::Instant::now();
        let (f, _) = run_with(&src, &CheckOptions::default());
        let took = start.elapsed();
        assert!(
            took.as_secs() < 20,
            "{} lines took {took:?}",
            src.lines().count()
        );
        assert!(f.len() < src.len());
    }
}

/// The classes of disagreement the BuildKit oracle found (docs/checks.md,
/// "Held against BuildKit"); each also has a recorded fixture under
/// tests/fixtures/buildkit-oracle/cases/.
#[test]
fn buildkit_oracle_regressions() {
    // A file without instructions is BuildKit's error.
    assert_eq!(
        rows(""),
        [row("-", "the Dockerfile cannot be empty", [0, 0, 0, 0])]
    );
    assert_eq!(
        rows("# only a comment\n\n"),
        [row("-", "file with no instructions", [1, 0, 1, 0])]
    );
    // A secret key on the second line of an ENV: the instruction's lines.
    let env = "FROM scratch\nENV A=1 \\\n    API_TOKEN=x\n";
    assert_eq!(
        of(env, "SecretsUsedInArgOrEnv"),
        [row(
            "SecretsUsedInArgOrEnv",
            "Do not use ARG or ENV instructions for sensitive data (ENV \"API_TOKEN\")",
            [1, 0, 2, 15]
        )]
    );
    // An invalid `# check=` option stops the build.
    assert_eq!(
        rows("# check=skip=all;bogus=1\nFROM scratch\n")[0].1,
        "failed to parse check options: invalid check option \"bogus\""
    );
    // A parent's ONBUILD trigger is checked in the child, on its FROM.
    let onbuild = "FROM scratch AS p\nONBUILD WORKDIR rel\nFROM p\n";
    assert_eq!(
        of(onbuild, "WorkdirRelativePath"),
        [row(
            "WorkdirRelativePath",
            "Relative workdir \"rel\" can have unexpected results if the base image changes",
            [2, 0, 2, 6]
        )]
    );
    // PATH is defined in scratch stages (BuildKit's default for the build's
    // target platform, whatever the stage's --platform says).
    assert!(of("FROM scratch\nENV PATH=$PATH:/app\n", "UndefinedVar").is_empty());
    assert!(of(
        "FROM --platform=windows/amd64 scratch\nENV P=$PATH\n",
        "UndefinedVar"
    )
    .is_empty());
}
