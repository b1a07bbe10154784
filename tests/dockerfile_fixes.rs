//! Every mechanical fix resolves the finding it is offered for: over every
//! Dockerfile in the test fixtures (the corpus, the checks' cases and
//! `fixtures/fixes/`, one file per kind of fix), each finding's fix is
//! applied alone and the file checked again — that finding is gone, and no
//! new error appears.

use std::path::{Path, PathBuf};

use buildkit_lsp::dockerfile::checks::{self, CheckOptions, Experimental, Finding, Severity};
use buildkit_lsp::dockerfile::parse;

fn dockerfiles(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            dockerfiles(&p, out);
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n == "Dockerfile" || n.ends_with(".Dockerfile"))
        {
            out.push(p);
        }
    }
}

fn findings(src: &str) -> Vec<Finding> {
    let opts = CheckOptions {
        experimental: Experimental::All,
        ..CheckOptions::default()
    };
    checks::run(&parse(src), &opts)
}

/// What identifies a finding across an edit elsewhere: rule, message and
/// the line it starts on.
fn key(src: &str, f: &Finding) -> (Option<&'static str>, String, u32) {
    (
        f.code(),
        f.message.clone(),
        parse(src).line_index.line_of(f.span.start),
    )
}

fn count_errors(found: &[Finding]) -> usize {
    found
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count()
}

#[test]
fn every_fix_removes_its_finding_and_adds_no_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files = Vec::new();
    for dir in ["corpus", "checks", "fixes"] {
        dockerfiles(&root.join(dir), &mut files);
    }
    files.sort();
    assert!(files.len() > 50, "fixtures not found under {root:?}");
    let mut fixed = 0;
    let mut titles = std::collections::BTreeSet::new();
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        let before = findings(&src);
        for f in before.iter().filter(|f| f.fix.is_some()) {
            let fix = f.fix.as_ref().unwrap();
            let after_src = fix.apply(&src);
            assert_ne!(
                after_src,
                src,
                "{}: {:?} changes nothing",
                path.display(),
                fix
            );
            let after = findings(&after_src);
            let k = key(&src, f);
            let same =
                |src: &str, list: &[Finding]| list.iter().filter(|g| key(src, g) == k).count();
            assert!(
                same(&after_src, &after) < same(&src, &before),
                "{}: fix {:?} left the finding {:?} in place:\n{after_src}",
                path.display(),
                fix.title,
                f.message
            );
            assert!(
                count_errors(&after) <= count_errors(&before),
                "{}: fix {:?} added an error:\n{after_src}",
                path.display(),
                fix.title
            );
            fixed += 1;
            titles.insert(
                f.code()
                    .unwrap_or(f.message.split(':').next().unwrap())
                    .to_string(),
            );
        }
    }
    // Every kind of fix the fixtures were written for was exercised.
    for kind in [
        "unknown instruction",
        "unknown flag",
        "invalid escape token '/' does not match ` or \\",
        "FROM requires either one or three arguments",
        "JSONArgsRecommended",
        "UndefinedVar",
        "UndefinedArgInFrom",
        "MaintainerDeprecated",
        "LegacyKeyValueFormat",
        "ExposeProtoCasing",
        "ConsistentInstructionCasing",
        "StageNameCasing",
        "FromAsCasing",
        "RedundantTargetPlatform",
        "NoEmptyContinuation",
    ] {
        assert!(
            titles.contains(kind),
            "no fix exercised for {kind}: {titles:?}"
        );
    }
    assert!(fixed > 20, "{fixed}");
}

#[test]
fn no_fix_is_offered_where_it_cannot_resolve_the_error() {
    // Words far from any keyword or flag, and a FROM whose middle word is
    // not a near miss of AS: errors without a fix.
    let src = "FROM alpine image name\nFROBNICATE x\nCOPY --zzzzzz a b\n";
    let found = findings(src);
    let errors: Vec<&Finding> = found
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 3, "{found:?}");
    assert!(errors.iter().all(|f| f.fix.is_none()), "{errors:?}");
    // And no casing fix of the middle word either.
    assert!(found.iter().all(|f| f.code() != Some("FromAsCasing")));
}
