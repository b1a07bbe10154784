//! The corpus: real-world-style Dockerfiles under tests/fixtures/corpus must
//! parse without errors, and the source slices of the top-level pieces must
//! reproduce each file byte for byte (the parser is lossless).

use std::path::Path;

use buildkit_lsp::dockerfile::{parse_bytes, Model, PieceKind};

#[test]
fn every_corpus_file_parses_cleanly_and_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    assert!(entries.len() >= 50, "corpus has {} files", entries.len());
    for path in entries {
        let bytes = std::fs::read(&path).expect("read corpus file");
        let df = parse_bytes(&bytes).expect("UTF-8");
        assert!(df.errors.is_empty(), "{}: {:?}", path.display(), df.errors);
        let joined: String = df.pieces.iter().map(|p| df.text(p.span)).collect();
        assert_eq!(joined.as_bytes(), &bytes[..], "{}", path.display());
        // Pieces are contiguous and in order.
        let mut at = 0;
        for p in &df.pieces {
            assert_eq!(p.span.start, at, "{}", path.display());
            at = p.span.end;
        }
        assert!(
            df.pieces
                .iter()
                .any(|p| matches!(p.kind, PieceKind::Instruction(_))),
            "{}",
            path.display()
        );
        let model = Model::build(&df);
        assert!(!model.stages.is_empty(), "{}", path.display());
    }
}

fn load(name: &str) -> buildkit_lsp::dockerfile::Dockerfile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/corpus")
        .join(name);
    parse_bytes(&std::fs::read(path).expect("read")).expect("utf-8")
}

#[test]
fn corpus_spot_checks() {
    let df = load("windows-backtick.Dockerfile");
    assert_eq!(df.escape, '`');
    assert_eq!(df.instructions.len(), 8);
    assert_eq!(
        df.instructions[5].args[0].value,
        "Invoke-WebRequest -Uri https://example.com/tool.zip     -OutFile tool.zip ;     Expand-Archive tool.zip -DestinationPath C:\\tools"
    );
    let df = load("many-stages.Dockerfile");
    let m = Model::build(&df);
    assert_eq!(m.stages.len(), 13);
    assert!(m.stage_refs.iter().all(|r| r.target.is_some()));
    let df = load("double-dash.Dockerfile");
    assert!(df.instructions[2].flags.is_empty());
    assert_eq!(df.instructions[2].args[0].value, "--weird-name");
    let df = load("empty-continuation.Dockerfile");
    assert_eq!(df.instructions[1].empty_continuation_lines.len(), 2);
    assert_eq!(df.instructions[1].args[0].value, "apk add     curl     git");
}
