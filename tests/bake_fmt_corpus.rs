//! The bake formatter on a corpus: each `*.in.*` file of
//! `fixtures/bake-fmt` formats to its `*.out.*` twin, formatting is
//! idempotent, and it never changes what a file means (the HCL body, or the
//! JSON value, parses equal before and after). Every bake file among the
//! test fixtures is checked for the last two as well.

use std::path::{Path, PathBuf};

use buildkit_lsp::build::bake_fmt::{format_hcl, format_json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn format(path: &Path, text: &str) -> String {
    if path.extension().is_some_and(|e| e == "json") {
        format_json(text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    } else {
        format_hcl(text)
    }
}

/// Formatting keeps the meaning and is idempotent.
fn assert_safe(path: &Path, text: &str) -> String {
    let once = format(path, text);
    assert_eq!(
        format(path, &once),
        once,
        "{}: not idempotent",
        path.display()
    );
    if path.extension().is_some_and(|e| e == "json") {
        let a: serde_json::Value = serde_json::from_str(text).unwrap();
        let b: serde_json::Value = serde_json::from_str(&once).unwrap();
        assert_eq!(a, b, "{}: the value changed", path.display());
    } else {
        let a: hcl::Body = hcl::from_str(text).unwrap();
        let b: hcl::Body = hcl::from_str(&once).unwrap_or_else(|e| {
            panic!(
                "{}: formatted text does not parse: {e}\n{once}",
                path.display()
            )
        });
        assert_eq!(a, b, "{}: the body changed", path.display());
    }
    once
}

#[test]
fn corpus_inputs_format_to_their_expected_outputs() {
    let dir = root().join("fixtures/bake-fmt");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let Some((stem, ext)) = name.split_once(".in.") else {
            continue;
        };
        let input = std::fs::read_to_string(&path).unwrap();
        let want = std::fs::read_to_string(dir.join(format!("{stem}.out.{ext}"))).unwrap();
        assert_eq!(assert_safe(&path, &input), want, "{name}");
        assert_eq!(
            format(&path, &want),
            want,
            "{stem}.out.{ext} is not a fixed point"
        );
        seen += 1;
    }
    assert!(seen >= 3, "the corpus is missing ({seen} cases)");
}

#[test]
fn every_bake_fixture_formats_safely() {
    let mut files = Vec::new();
    let mut dirs = vec![root().join("fixtures"), root().join("e2e/fixtures")];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("docker-bake") && (n.ends_with(".hcl") || n.ends_with(".json"))
            }) {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 5, "{files:?}");
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        assert_safe(&p, &text);
    }
}
