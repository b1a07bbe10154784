use super::*;

const DF: &str = "FROM busybox:test AS base\nARG V=1\nWORKDIR /w\nCOPY a.txt /a\nRUN echo $V > /v\nCOPY b.txt /b\nENV X=1\nRUN cat /a /b\n\nFROM base\nRUN true\n";

/// The vertex names BuildKit gives DF's steps (Engine 26's, with the base
/// digest in the FROM step).
fn names(v: &str) -> Vec<String> {
    vec![
        "[internal] load build definition from Dockerfile".into(),
        "[base 1/6] FROM docker.io/library/busybox:test@sha256:457a93".into(),
        "[base 2/6] WORKDIR /w".into(),
        "[base 3/6] COPY a.txt /a".into(),
        format!("[base 4/6] RUN echo {v} > /v"),
        "[base 5/6] COPY b.txt /b".into(),
        "[base 6/6] RUN cat /a /b".into(),
        "[stage-1 1/1] RUN true".into(),
        "exporting to image".into(),
    ]
}

fn obs(text: &str, names: Vec<String>, ran: &[usize], sent: &[(&str, &str)]) -> Observation {
    Observation {
        dockerfile: text.into(),
        vertices: names
            .into_iter()
            .enumerate()
            .map(|(i, name)| VertexRecord {
                name,
                cached: !ran.contains(&i),
                duration: Some(Duration::from_millis(if ran.contains(&i) {
                    300
                } else {
                    0
                })),
                error: None,
            })
            .collect(),
        sent: sent
            .iter()
            .map(|(p, d)| SentFile {
                path: p.to_string(),
                bytes: 2,
                digest: d.to_string(),
            })
            .collect(),
        ok: true,
        ..Observation::default()
    }
}

fn causes(e: &Explained) -> Vec<(usize, Option<Cause>)> {
    e.steps
        .iter()
        .map(|s| (s.anchor.start_line + 1, s.cause.clone()))
        .collect()
}

fn first_build() -> Inputs {
    let all = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    let o = obs(DF, names("1"), &all, &[("a.txt", "da"), ("b.txt", "db")]);
    explain(&o, None, 1).1
}

#[test]
fn steps_map_to_instructions_by_stage_and_ordinal() {
    let df = dockerfile::parse(DF);
    let m = Model::build(&df);
    let line = |name: &str| {
        step_instruction(&df, &m, name).map(|i| df.range(df.instructions[i].span).start.line + 1)
    };
    assert_eq!(line("[base 4/6] RUN echo 2 > /v"), Some(5));
    assert_eq!(line("[stage-1 1/1] RUN true"), Some(11));
    assert_eq!(line("[linux/amd64 base 3/6] COPY a.txt /a"), Some(4));
    assert_eq!(
        line("[base 1/6] FROM docker.io/library/busybox:test"),
        Some(1)
    );
    assert_eq!(line("[internal] load build context"), None);
    assert_eq!(line("[nope 1/1] RUN true"), None);
    // BuildKit pads the index to the width of the total.
    let long = format!("FROM a\n{}", "RUN x\n".repeat(10));
    let df = dockerfile::parse(&long);
    let m = Model::build(&df);
    assert_eq!(step_instruction(&df, &m, "[ 2/11] RUN x"), Some(1));
    // A count that does not fit (ONBUILD steps of the base) falls back to
    // the text.
    assert_eq!(step_instruction(&df, &m, "[3/13] RUN x"), Some(1));
}

#[test]
fn a_changed_file_names_its_copy_and_later_steps_blame_it() {
    let prev = first_build();
    // b.txt changed: the daemon asked for it; COPY b.txt and what follows ran.
    let o = obs(DF, names("1"), &[5, 6, 7], &[("b.txt", "db2")]);
    let (e, _) = explain(&o, Some(&prev), 2);
    let c = causes(&e);
    assert_eq!(c[0], (1, None));
    assert_eq!(c[2], (4, None));
    assert_eq!(
        c[4],
        (
            6,
            Some(Cause::Files {
                names: vec!["b.txt".into()],
                more: 0
            })
        )
    );
    assert_eq!(
        c[5].1,
        Some(Cause::EarlierStep {
            step: "line 6, stage base: COPY b.txt /b".into()
        })
    );
    // The second stage builds on the first.
    assert!(matches!(c[6].1, Some(Cause::EarlierStep { .. })));
    assert_eq!(e.steps[4].label(), "ran 0.3 s: b.txt changed");
    assert_eq!(e.steps[0].label(), "cached");
    assert_eq!(e.steps[4].bytes, 2);
}

#[test]
fn a_file_sent_again_with_the_same_content_is_not_a_change() {
    let prev = first_build();
    let o = obs(DF, names("1"), &[5], &[("b.txt", "db")]);
    let (e, _) = explain(&o, Some(&prev), 2);
    assert_eq!(e.steps[4].cause, Some(Cause::Unknown));
}

#[test]
fn a_changed_build_arg_is_named_by_the_run_in_its_scope() {
    let prev = first_build();
    let mut o = obs(DF, names("2"), &[4, 5, 6, 7], &[]);
    o.build_args.insert("V".into(), "2".into());
    let (e, inputs) = explain(&o, Some(&prev), 2);
    assert_eq!(
        e.steps[3].cause,
        Some(Cause::BuildArg {
            names: vec!["V".into()]
        })
    );
    assert_eq!(inputs.args.get("base/V").map(String::as_str), Some("2"));
    // Same value as the default: nothing changed.
    let mut o = obs(DF, names("1"), &[4], &[]);
    o.build_args.insert("V".into(), "1".into());
    assert_eq!(
        explain(&o, Some(&prev), 2).0.steps[3].cause,
        Some(Cause::Unknown)
    );
}

#[test]
fn an_edited_instruction_says_so_and_an_edited_env_is_named() {
    let prev = first_build();
    let text = DF.replace("RUN cat /a /b", "RUN cat /b /a");
    let mut n = names("1");
    n[6] = "[base 6/6] RUN cat /b /a".into();
    let (e, _) = explain(&obs(&text, n, &[6, 7], &[]), Some(&prev), 2);
    assert_eq!(e.steps[5].cause, Some(Cause::InstructionChanged));
    assert_eq!(e.steps[5].label(), "ran 0.3 s: instruction changed");
    let text = DF.replace("ENV X=1", "ENV X=2");
    let (e, _) = explain(&obs(&text, names("1"), &[6, 7], &[]), Some(&prev), 2);
    assert_eq!(
        e.steps[5].cause,
        Some(Cause::EarlierInstructionChanged {
            instruction: "ENV X=2".into()
        })
    );
}

#[test]
fn unchanged_rebuild_is_all_cached_and_no_cache_is_named() {
    let prev = first_build();
    let (e, _) = explain(&obs(DF, names("1"), &[], &[]), Some(&prev), 2);
    assert_eq!(e.steps.len(), 7);
    assert!(e.steps.iter().all(|s| s.cached && s.cause.is_none()));
    assert_eq!(e.summary(), "last build: 7 steps, 7 cached, 0.00 s");
    let mut o = obs(DF, names("1"), &[1, 2, 3, 4, 5, 6, 7], &[]);
    o.no_cache = true;
    let (e, _) = explain(&o, Some(&prev), 2);
    assert!(e.steps[1..].iter().all(|s| s.cause == Some(Cause::NoCache)));
}

#[test]
fn a_new_base_digest_is_the_from_steps_cause() {
    let prev = first_build();
    let mut n = names("1");
    n[1] = "[base 1/6] FROM docker.io/library/busybox:test@sha256:999999".into();
    let (e, _) = explain(&obs(DF, n, &[1, 2], &[]), Some(&prev), 2);
    assert_eq!(
        e.steps[0].cause,
        Some(Cause::BaseImage {
            from: "sha256:457a93".into(),
            to: "sha256:999999".into()
        })
    );
    assert_eq!(
        e.steps[0].cause.as_ref().unwrap().long(),
        "base image changed (457a93 → 999999)"
    );
    assert!(matches!(e.steps[1].cause, Some(Cause::EarlierStep { .. })));
}

#[test]
fn nothing_known_is_unknown_and_failures_keep_their_exit_code() {
    let mut o = obs(DF, names("1"), &[2, 6], &[]);
    o.vertices[6].error =
        Some("process \"/bin/sh -c cat /a /b\" did not complete successfully: exit code: 3".into());
    o.ok = false;
    let (e, _) = explain(&o, None, 2);
    // The FROM step reports no cache state: it counts as cached.
    assert!(e.steps[0].cached);
    assert_eq!(e.steps[1].cause, Some(Cause::Unknown));
    assert_eq!(e.steps[1].label(), format!("ran 0.3 s: {UNKNOWN}"));
    assert_eq!(e.steps[5].exit_code, Some(3));
    assert_eq!(e.steps[5].label(), "failed after 0.3 s: exit code 3");
    assert!(e.summary().starts_with("last build (failed): 7 steps"));
}

#[test]
fn copy_sources_cover_directories_globs_and_the_whole_context() {
    let df = dockerfile::parse("FROM a\nCOPY src/ *.md /x/\nCOPY . /y\nCOPY --from=b /z /z\n");
    let s = copy_sources(&df.instructions[1]).unwrap();
    assert!(s.covers("src/main.rs") && s.covers("README.md") && !s.covers("other.txt"));
    assert!(copy_sources(&df.instructions[2])
        .unwrap()
        .covers("any/file"));
    assert!(copy_sources(&df.instructions[3]).is_none());
}

#[test]
fn many_changed_files_are_counted_and_the_table_lines_up() {
    let text = "FROM a\nCOPY . /app\n";
    let names = vec![
        "[1/2] FROM docker.io/library/a".into(),
        "[2/2] COPY . /app".into(),
    ];
    let sent: Vec<(String, String)> = (0..5).map(|i| (format!("f{i}"), "d".to_string())).collect();
    let sent: Vec<(&str, &str)> = sent.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (e, inputs) = explain(&obs(text, names, &[1], &sent), None, 1);
    assert_eq!(
        e.steps[1].cause,
        Some(Cause::Files {
            names: vec!["f0".into(), "f1".into(), "f2".into()],
            more: 2
        })
    );
    assert_eq!(
        e.steps[1].label(),
        "ran 0.3 s: 5 files changed: f0, f1, f2 +2"
    );
    assert_eq!(inputs.files.len(), 5);
    assert_eq!(
        e.table(),
        "STEP            RESULT    TIME  WHY\n\
         1: FROM a       cached  0.00 s\n\
         2: COPY . /app  ran      0.3 s  5 files changed: f0, f1, f2 +2\n\
         build: 2 steps, 1 cached, 0.00 s\n"
    );
}

#[test]
fn a_copy_answered_from_an_older_cache_entry_is_named_by_the_step_after_it() {
    let prev = first_build();
    // b.txt went back to content the daemon cached long ago: its COPY is
    // cached, yet the RUN after it misses.
    let o = obs(DF, names("1"), &[6, 7], &[("b.txt", "db-old")]);
    let (e, _) = explain(&o, Some(&prev), 2);
    assert!(e.steps[4].cached);
    assert_eq!(
        e.steps[5].cause,
        Some(Cause::EarlierInput {
            step: "line 6, stage base: COPY b.txt /b".into(),
            input: Box::new(Cause::Files {
                names: vec!["b.txt".into()],
                more: 0
            })
        })
    );
    assert_eq!(e.steps[5].label(), "ran 0.3 s: b.txt changed before it");
}
