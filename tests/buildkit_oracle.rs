//! Our checks held against BuildKit's own: every Dockerfile fixture of the
//! repository, BuildKit's lint answer for it (recorded from a live daemon
//! under `tests/fixtures/buildkit-oracle/answers/`), and
//! `buildkit-lsp check --format json` on the same file must agree (see
//! `oracle/mod.rs` for what agreeing means).
//!
//! The recorded comparison runs everywhere; the live one needs a daemon
//! (`BUILDKIT_ORACLE_ADDR`) and is run on purpose:
//! `BUILDKIT_ORACLE_ADDR=tcp://127.0.0.1:PORT cargo test --test buildkit_oracle -- --ignored`
//! (add `BUILDKIT_ORACLE_RECORD=1` to rewrite the recordings).

mod lsp_support;
mod oracle;

use std::path::PathBuf;

use oracle::{answer_path, compare, fixtures, oracle_dir, ours, repo, sha256, Recorded};

fn read_recorded(fixture: &std::path::Path) -> Result<Recorded, String> {
    let path = answer_path(fixture);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "{}: no recording ({e}); record it with a live daemon: {}=tcp://127.0.0.1:PORT {}=1 cargo test --test buildkit_oracle -- --ignored",
            fixture.display(),
            oracle::ADDR_VAR,
            oracle::RECORD_VAR
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[test]
fn our_checks_agree_with_buildkits_recorded_answers() {
    let fixtures = fixtures();
    assert!(fixtures.len() > 100, "fixtures found: {}", fixtures.len());
    let ours = ours(&fixtures);
    let mut problems = Vec::new();
    for f in &fixtures {
        let bytes = std::fs::read(repo().join(f)).expect("read fixture");
        let rec = match read_recorded(f) {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        if rec.sha256 != sha256(&bytes) {
            problems.push(format!(
                "{}: changed since BuildKit's answer was recorded; record it again",
                f.display()
            ));
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for d in compare(&text, &rec, &ours[f]) {
            problems.push(format!("{}: {d}", f.display()));
        }
    }
    // A recording whose fixture is gone is stale.
    let known: Vec<PathBuf> = fixtures.iter().map(|f| answer_path(f)).collect();
    for e in std::fs::read_dir(oracle_dir().join("answers")).expect("answers dir") {
        let p = e.expect("dir entry").path();
        if !known.contains(&p) {
            problems.push(format!("{}: no fixture has this recording", p.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "{} disagreement(s) with BuildKit:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The editor shows the same findings at the same places: every fixture
/// opened in the real language server, its published diagnostics compared
/// with BuildKit's recorded answer exactly as the CLI's are.
#[test]
fn editor_diagnostics_sit_where_buildkit_puts_them() {
    let lsp = lsp_support::Lsp::start_default();
    let mut problems = Vec::new();
    let mut compared = 0;
    for f in fixtures() {
        let path = repo().join(&f);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // not UTF-8: the editor never gets it
        };
        if text.contains('\0') {
            continue; // a binary document: no diagnostics, by design (docs/lsp.md)
        }
        let Ok(rec) = read_recorded(&f) else {
            continue; // reported by the test above
        };
        let uri = format!("file://{}", path.display());
        lsp.open(&uri, &text);
        let ours: Vec<oracle::Ours> = lsp
            .diagnostics(&uri, 1)
            .iter()
            // The selected builder's capability findings (bake targets
            // against the driver) are ours alone, not BuildKit's checks.
            .filter(|d| !d["code"].as_str().is_some_and(|c| c.starts_with("Builder")))
            .map(|d| {
                let start = d["range"]["start"]["line"].as_i64().unwrap_or(0) as i32;
                let mut end = d["range"]["end"]["line"].as_i64().unwrap_or(0) as i32;
                if end > start && d["range"]["end"]["character"].as_i64() == Some(0) {
                    end -= 1;
                }
                oracle::Ours {
                    rule: d["code"].as_str().map(str::to_string),
                    severity: match d["severity"].as_i64() {
                        Some(1) => "error",
                        Some(2) => "warning",
                        Some(3) => "information",
                        _ => "hint",
                    }
                    .to_string(),
                    message: d["message"].as_str().unwrap_or_default().to_string(),
                    start_line: start + 1,
                    end_line: end + 1,
                }
            })
            .collect();
        compared += 1;
        for d in compare(&text, &rec, &ours) {
            problems.push(format!("{} (editor): {d}", f.display()));
        }
    }
    assert!(
        compared > 100,
        "fixtures compared in the editor: {compared}"
    );
    assert!(
        problems.is_empty(),
        "{} disagreement(s) with BuildKit in the editor:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn recordings_say_which_buildkit_answered() {
    let header: serde_json::Value = serde_json::from_slice(
        &std::fs::read(oracle_dir().join("RECORDED.json")).expect("RECORDED.json"),
    )
    .expect("JSON");
    let v = header["buildkit"].as_str().unwrap_or_default();
    assert!(v.starts_with("v0."), "BuildKit version: {v:?}");
    assert_eq!(header["fixtures"].as_u64(), Some(fixtures().len() as u64));
}

#[tokio::test]
#[ignore = "needs a live buildkitd v0.15+: BUILDKIT_ORACLE_ADDR=tcp://127.0.0.1:PORT"]
async fn live_buildkit_agrees_on_every_fixture() {
    let client = oracle::connect().await;
    let version = client
        .info()
        .await
        .expect("Info")
        .expect("a daemon with Info (v0.11+)");
    let record = std::env::var_os(oracle::RECORD_VAR).is_some();
    let fixtures = fixtures();
    let ours = ours(&fixtures);
    let mut problems = Vec::new();
    if record {
        let _ = std::fs::create_dir_all(oracle_dir().join("answers"));
    }
    for f in &fixtures {
        let path = repo().join(f);
        let bytes = std::fs::read(&path).expect("read fixture");
        let answer = oracle::ask(&client, &path).await;
        oracle::assert_no_pull(f, &answer);
        let rec = Recorded::from_answer(f, &bytes, &answer);
        if record {
            let mut json = serde_json::to_string_pretty(&rec).expect("JSON");
            json.push('\n');
            std::fs::write(answer_path(f), json).expect("write recording");
        } else {
            match read_recorded(f) {
                Ok(old) if old == rec => {}
                Ok(_) => problems.push(format!(
                    "{}: BuildKit {} answers differently from the recording; record again",
                    f.display(),
                    version.version
                )),
                Err(e) => problems.push(e),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        for d in compare(&text, &rec, &ours[f]) {
            problems.push(format!("{}: {d}", f.display()));
        }
    }
    if record {
        let header = serde_json::json!({
            "buildkit": version.version,
            "revision": version.revision,
            "package": version.package,
            "recorded": oracle::today(),
            "fixtures": fixtures.len(),
            "stub_image": oracle::stub_image(),
        });
        let mut json = serde_json::to_string_pretty(&header).expect("JSON");
        json.push('\n');
        std::fs::write(oracle_dir().join("RECORDED.json"), json).expect("write header");
    }
    assert!(
        problems.is_empty(),
        "{} disagreement(s) with BuildKit {}:\n{}",
        problems.len(),
        version.version,
        problems.join("\n")
    );
}
