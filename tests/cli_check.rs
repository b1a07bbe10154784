//! `buildkit-lsp check`, run as the real binary on fixture files: output
//! format, exit codes, file discovery, `.dockerignore` lookup.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checks")
}

/// Runs `check` from the fixtures directory (so paths print relative).
fn check(args: &[&str]) -> Output {
    bin()
        .arg("check")
        .args(args)
        .current_dir(fixtures())
        .output()
        .expect("run buildkit-lsp")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn clean_file_exits_zero_with_no_output() {
    let o = check(&["clean"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "1 file checked: 0 errors, 0 warnings\n"
    );
}

#[test]
fn warnings_print_compiler_style_lines_and_exit_one() {
    let o = check(&["warnings"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "\
warnings/Dockerfile:1:18: warning [FromAsCasing] 'as' and 'FROM' keywords' casing do not match
warnings/Dockerfile:1:21: warning [StageNameCasing] Stage name 'Build' should be lowercase
warnings/Dockerfile:2:1: warning [MaintainerDeprecated] Maintainer instruction is deprecated in favor of using label
warnings/Dockerfile:3:5: warning [LegacyKeyValueFormat] \"ENV key=value\" should be used instead of legacy \"ENV key value\" format
warnings/Dockerfile:4:5: warning [JSONArgsRecommended] JSON arguments recommended for CMD to prevent unintended behavior related to OS signals
"
    );
}

#[test]
fn error_on_error_ignores_warnings_but_not_error_true() {
    assert_eq!(
        check(&["--error-on", "error", "warnings"]).status.code(),
        Some(0)
    );
    let o = check(&["--error-on", "error", "strict"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "strict/Dockerfile:3:9: error [WorkdirRelativePath] Relative workdir \"app\" can have unexpected results if the base image changes\n"
    );
}

#[test]
fn skip_and_check_override_flags() {
    let o = check(&[
        "--skip",
        "FromAsCasing,StageNameCasing,MaintainerDeprecated,LegacyKeyValueFormat",
        "warnings",
    ]);
    assert_eq!(stdout(&o).lines().count(), 1);
    assert!(stdout(&o).contains("[JSONArgsRecommended]"));
    // --check replaces the file's directive: error=true is gone.
    let o = check(&[
        "--check",
        "skip=StageNameCasing",
        "--error-on",
        "error",
        "strict",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains(": warning [WorkdirRelativePath]"));
}

#[test]
fn json_format_carries_ranges_rules_urls_and_fixes() {
    let o = check(&["--format", "json", "warnings/Dockerfile"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 5);
    let first = &arr[0];
    assert_eq!(first["file"], "warnings/Dockerfile");
    assert_eq!(first["rule"], "FromAsCasing");
    assert_eq!(first["severity"], "warning");
    assert_eq!(first["line"], 1);
    assert_eq!(first["column"], 18);
    assert_eq!(
        first["range"],
        serde_json::json!({"start": {"line": 0, "character": 17}, "end": {"line": 0, "character": 19}})
    );
    assert_eq!(
        first["url"],
        "https://docs.docker.com/go/dockerfile/rule/from-as-casing/"
    );
    assert_eq!(first["fix"]["edits"][0]["newText"], "AS");
    let legacy = arr
        .iter()
        .find(|f| f["rule"] == "LegacyKeyValueFormat")
        .unwrap();
    assert_eq!(legacy["fix"]["edits"][0]["newText"], "=");
}

#[test]
fn dockerignore_next_to_the_dockerfile_and_its_own() {
    let o = check(&["ignored"]);
    assert_eq!(
        stdout(&o),
        "ignored/Dockerfile:2:6: warning [CopyIgnoredFile] Attempting to Copy file \"app.log\" that is excluded by .dockerignore\n"
    );
    // Dockerfile.dockerignore wins over .dockerignore (src is not reported).
    let o = check(&["own-ignore"]);
    assert_eq!(
        stdout(&o),
        "own-ignore/Dockerfile:3:6: warning [CopyIgnoredFile] Attempting to Copy file \"docs\" that is excluded by .dockerignore\n"
    );
}

#[test]
fn usage_and_io_errors_exit_two() {
    let o = check(&["does-not-exist"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read does-not-exist"));
    assert_eq!(check(&["--format", "xml", "clean"]).status.code(), Some(2));
    assert_eq!(check(&[]).status.code(), Some(2));
}

#[test]
fn directories_are_searched_by_name_skipping_vendor_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Each file has exactly one finding, so output lines name the files found.
    let body = "FROM alpine\nCMD [\"a\"]\nCMD [\"b\"]\n";
    for rel in [
        "Dockerfile",
        "api.Dockerfile",
        "Dockerfile.dev",
        "Containerfile",
        "sub/deeper/Dockerfile",
        "README.md",
        "Dockerfile.dockerignore",
        "notes.txt",
        "node_modules/pkg/Dockerfile",
        ".git/Dockerfile",
        "target/Dockerfile",
    ] {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
    }
    let o = bin()
        .arg("check")
        .arg(".")
        .current_dir(root)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let files: Vec<String> = stdout(&o)
        .lines()
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(
        files,
        [
            "./Containerfile",
            "./Dockerfile",
            "./Dockerfile.dev",
            "./api.Dockerfile",
            "./sub/deeper/Dockerfile",
        ]
    );
    // A file named explicitly is checked whatever its name.
    let o = bin()
        .args(["check", "notes.txt"])
        .current_dir(root)
        .output()
        .unwrap();
    assert_eq!(stdout(&o).lines().count(), 1);
}

#[test]
fn non_utf8_file_is_an_error_finding() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("Dockerfile");
    std::fs::write(&p, b"FROM alpine\nRUN echo \xff\n").unwrap();
    let o = bin()
        .args(["check", "Dockerfile"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.starts_with("Dockerfile:1:1: error "), "{out}");
}
