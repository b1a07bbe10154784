//! Parser behaviour, one test per case of issue 2, with ranges asserted.

use buildkit_lsp::dockerfile::*;

fn span_text(df: &Dockerfile, s: Span) -> &str {
    df.text(s)
}

#[test]
fn smoke_multi_stage() {
    let df = parse("FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nRUN go build\n");
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    assert_eq!(df.instructions.len(), 2);
    let from = &df.instructions[0];
    assert_eq!(from.kind, InstructionKind::From);
    let fc = from.from.as_ref().unwrap();
    assert_eq!(fc.image.value, "golang:1.22");
    assert_eq!(
        span_text(&df, fc.stage_name.as_ref().unwrap().span),
        "build"
    );
    assert_eq!(from.flags[0].name, "platform");
    assert_eq!(from.variables[0].name, "BUILDPLATFORM");
    assert_eq!(span_text(&df, from.variables[0].name_span), "BUILDPLATFORM");
}
