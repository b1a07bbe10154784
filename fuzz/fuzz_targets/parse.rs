//! Fuzz target: any bytes through `parse_bytes`, the semantic model and all
//! build checks, then the invariants every consumer relies on (lossless
//! pieces, spans inside the source and on character boundaries).
#![no_main]

use buildkit_lsp::dockerfile::{checks, parse_bytes, Model, PositionEncoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(df) = parse_bytes(data) else {
        return;
    };
    let joined: String = df.pieces.iter().map(|p| df.text(p.span)).collect();
    assert_eq!(joined, df.source, "pieces must cover the file");
    for ins in &df.instructions {
        for s in [ins.span, ins.keyword_span, ins.rest_span, ins.line_span] {
            assert!(s.start <= s.end && s.end <= df.source.len());
            assert!(df.source.is_char_boundary(s.start) && df.source.is_char_boundary(s.end));
        }
        for v in &ins.variables {
            assert!(df.source.get(v.name_span.start..v.name_span.end).is_some());
        }
        for f in &ins.flags {
            let _ = f.options();
        }
    }
    for e in &df.errors {
        let r = df.range(e.span);
        let back = df.line_index.span(r, PositionEncoding::Utf16);
        assert!(back.end <= df.source.len());
    }
    let model = Model::build(&df);
    for r in &model.references {
        let var = r.var(&df).expect("a resolved reference points at its variable");
        assert_eq!(var.name_span, r.name_span);
    }
    let findings = checks::run_with_model(&df, &model, &checks::CheckOptions::default());
    for f in &findings {
        assert!(f.span.start <= f.span.end && f.span.end <= df.source.len());
    }
});
