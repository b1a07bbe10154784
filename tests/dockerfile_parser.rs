//! Parser behaviour, one test per case of issue 2, with ranges asserted.
//! Expected values were worked out by hand from BuildKit's parser rules
//! (frontend/dockerfile/parser), not copied from our output.

use buildkit_lsp::dockerfile::model::{Resolution, StageRefKind};
use buildkit_lsp::dockerfile::*;

fn p(text: &str) -> Dockerfile {
    parse(text)
}

fn rng(l1: u32, c1: u32, l2: u32, c2: u32) -> Range {
    Range::new(Position::new(l1, c1), Position::new(l2, c2))
}

fn args(ins: &Instruction) -> Vec<&str> {
    ins.args.iter().map(|a| a.value.as_str()).collect()
}

fn round_trip(df: &Dockerfile) -> String {
    df.pieces.iter().map(|p| df.text(p.span)).collect()
}

#[test]
fn smoke_multi_stage() {
    let df = p("FROM --platform=$BUILDPLATFORM golang:1.22 AS build\nRUN go build\n");
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    let from = &df.instructions[0];
    let fc = from.from.as_ref().unwrap();
    assert_eq!(fc.image.value, "golang:1.22");
    assert_eq!(
        df.range(fc.stage_name.as_ref().unwrap().span),
        rng(0, 46, 0, 51)
    );
    assert_eq!(
        df.range(fc.as_keyword.as_ref().unwrap().span),
        rng(0, 43, 0, 45)
    );
    assert_eq!(from.flags[0].name, "platform");
    assert_eq!(df.range(from.flags[0].span), rng(0, 5, 0, 30));
    assert_eq!(
        df.range(from.flags[0].value_span.unwrap()),
        rng(0, 16, 0, 30)
    );
    assert_eq!(from.variables[0].name, "BUILDPLATFORM");
    assert_eq!(df.range(from.variables[0].name_span), rng(0, 17, 0, 30));
}

#[test]
fn directives_only_at_top_case_insensitive() {
    let df =
        p("# SYNTAX = docker/dockerfile:1\n# Escape=`\n# check=skip=all\nFROM a\n# escape=\\\n");
    let names: Vec<_> = df.directives.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["syntax", "escape", "check"]);
    assert_eq!(df.directives[0].value, "docker/dockerfile:1");
    assert_eq!(df.range(df.directives[0].value_span), rng(0, 11, 0, 30));
    assert_eq!(df.range(df.directives[0].name_span), rng(0, 2, 0, 8));
    assert_eq!(df.escape, '`');
    // The late one is a comment.
    assert_eq!(df.pieces.last().unwrap().kind, PieceKind::Comment);
}

#[test]
fn directive_after_comment_or_blank_is_a_comment() {
    let df = p("# hello\n# escape=`\nFROM a\n");
    assert!(df.directives.is_empty());
    assert_eq!(df.escape, '\\');
    let df = p("\n# syntax=x\nFROM a\n");
    assert!(df.directives.is_empty());
    assert_eq!(df.pieces[0].kind, PieceKind::Blank);
    assert_eq!(df.pieces[1].kind, PieceKind::Comment);
}

#[test]
fn bom_is_skipped_and_ranges_stay_exact() {
    let df = p("\u{feff}# syntax=x\nFROM a\n");
    assert_eq!(df.bom, Some(Span::new(0, 3)));
    assert_eq!(df.directives.len(), 1);
    // The BOM is one UTF-16 unit: "FROM" starts line 1 col 0; directive at col 1.
    assert_eq!(df.range(df.directives[0].span), rng(0, 1, 0, 11));
    assert_eq!(df.range(df.instructions[0].keyword_span), rng(1, 0, 1, 4));
    assert_eq!(round_trip(&df), df.source);
}

#[test]
fn duplicate_directive_is_an_error() {
    let df = p("# syntax=a\n# syntax=b\nFROM x\n");
    assert_eq!(df.directives.len(), 1);
    assert_eq!(df.errors.len(), 1);
    assert_eq!(
        df.errors[0].message,
        "only one syntax parser directive can be used"
    );
    assert_eq!(df.range(df.errors[0].span), rng(1, 0, 1, 10));
}

#[test]
fn backtick_escape_changes_continuation() {
    let df = p("# escape=`\nFROM w\nRUN dir `\n  c:\\ `\n  /s\nCOPY a\\ b c:\\\n");
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    let run = &df.instructions[1];
    assert_eq!(args(run), ["dir   c:\\   /s"]);
    assert_eq!(df.range(run.span), rng(2, 0, 4, 4));
    // Backslash at the end of COPY is not a continuation any more.
    assert_eq!(args(&df.instructions[2]), ["a\\", "b", "c:\\"]);
}

#[test]
fn escaped_escape_at_line_end_is_not_a_continuation() {
    let df = p("FROM a\nRUN echo \\\\\nRUN b\n");
    assert_eq!(df.instructions.len(), 3);
    assert_eq!(args(&df.instructions[1]), ["echo \\\\"]);
}

#[test]
fn continuations_with_comment_lines_and_empty_lines() {
    let src = "FROM a\nRUN apt-get update \\\n# a comment\n    && apt-get install \\\n\n    curl\n";
    let df = p(src);
    let run = &df.instructions[1];
    assert_eq!(
        args(run),
        ["apt-get update     && apt-get install     curl"]
    );
    assert_eq!(run.comment_lines.len(), 1);
    assert_eq!(df.range(run.comment_lines[0]), rng(2, 0, 2, 11));
    assert_eq!(run.empty_continuation_lines.len(), 1);
    assert_eq!(df.range(run.empty_continuation_lines[0]), rng(4, 0, 4, 0));
    assert_eq!(df.range(run.span), rng(1, 0, 5, 8));
    assert!(df.errors.is_empty());
}

#[test]
fn continuation_at_end_of_file() {
    let df = p("FROM a\nRUN echo \\");
    assert_eq!(args(&df.instructions[1]), ["echo"]);
    assert_eq!(df.range(df.instructions[1].span), rng(1, 0, 1, 10));
    assert_eq!(round_trip(&df), df.source);
}

#[test]
fn crlf_lf_and_mixed() {
    let src = "FROM a\r\nRUN x \\\r\n  y\nLABEL k=v\r\n";
    let df = p(src);
    assert!(df.errors.is_empty());
    assert_eq!(args(&df.instructions[1]), ["x   y"]);
    assert_eq!(df.range(df.instructions[1].span), rng(1, 0, 2, 3));
    assert_eq!(df.range(df.instructions[2].span), rng(3, 0, 3, 9));
    assert_eq!(df.instructions[2].key_values[0].value.as_deref(), Some("v"));
    assert_eq!(round_trip(&df), src);
}

#[test]
fn exec_form_vs_shell_form() {
    let df = p("FROM a\nCMD [\"echo\", \"a b\"]\nENTRYPOINT echo hi\nRUN [ ]\n");
    let cmd = &df.instructions[1];
    assert!(cmd.is_json());
    assert_eq!(args(cmd), ["echo", "a b"]);
    assert_eq!(df.range(cmd.args[1].span), rng(1, 13, 1, 18));
    let ep = &df.instructions[2];
    assert_eq!(ep.form, ArgForm::Shell);
    assert_eq!(args(ep), ["echo hi"]);
    assert!(df.instructions[3].is_json());
    assert!(df.instructions[3].args.is_empty());
}

#[test]
fn invalid_json_falls_back_to_shell_form() {
    let df = p("FROM a\nCMD ['a','b']\nRUN [\"unterminated\nCOPY [\"a\" b\n");
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    assert_eq!(df.instructions[1].form, ArgForm::Shell);
    assert_eq!(args(&df.instructions[1]), ["['a','b']"]);
    assert_eq!(args(&df.instructions[2]), ["[\"unterminated"]);
    assert_eq!(args(&df.instructions[3]), ["[\"a\"", "b"]);
    // Valid JSON that is not all strings is BuildKit's error.
    let df = p("FROM a\nCMD [1]\n");
    assert_eq!(
        df.errors[0].message,
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!(df.range(df.errors[0].span), rng(1, 4, 1, 7));
}

#[test]
fn heredocs_several_on_one_line() {
    let src = "FROM a\nRUN <<A <<B\necho a\nA\necho b\nB\nRUN next\n";
    let df = p(src);
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    let run = &df.instructions[1];
    assert_eq!(run.heredocs.len(), 2);
    assert_eq!(run.heredocs[0].name, "A");
    assert_eq!(run.heredocs[0].body, "echo a\n");
    assert_eq!(df.range(run.heredocs[0].body_span), rng(2, 0, 3, 0));
    assert_eq!(run.heredocs[1].body, "echo b\n");
    assert_eq!(
        df.range(run.heredocs[1].terminator_span.unwrap()),
        rng(5, 0, 5, 1)
    );
    assert_eq!(df.range(run.span), rng(1, 0, 5, 1));
    assert_eq!(df.range(run.heredocs[1].span), rng(1, 8, 1, 11));
    assert_eq!(df.instructions[2].kind, InstructionKind::Run);
    assert_eq!(round_trip(&df), src);
}

#[test]
fn heredoc_tab_stripping_quotes_fd_and_program() {
    let df = p("FROM a\nRUN <<-EOT\n\techo $X\n\tEOT\nRUN 3<<'EOF' bash\nx\nEOF\nCOPY <<\"F\" /dst\n\nblank above\nF\n");
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    let h = &df.instructions[1].heredocs[0];
    assert!(h.strip_tabs && h.expand);
    assert_eq!(h.body, "\techo $X\n");
    assert_eq!(h.effective_body(), "echo $X\n");
    let h = &df.instructions[2].heredocs[0];
    assert_eq!((h.name.as_str(), h.fd, h.expand), ("EOF", Some(3), false));
    assert_eq!(args(&df.instructions[2]), ["3<<'EOF' bash"]);
    let copy = &df.instructions[3];
    assert_eq!(copy.heredocs[0].name, "F");
    assert!(!copy.heredocs[0].expand);
    assert_eq!(copy.heredocs[0].body, "\nblank above\n");
    assert_eq!(args(copy), ["<<\"F\"", "/dst"]);
}

#[test]
fn unterminated_heredoc_is_an_error_with_a_range() {
    let df = p("FROM a\nRUN <<EOF\necho\n");
    assert_eq!(df.errors.len(), 1);
    assert_eq!(df.errors[0].message, "unterminated heredoc");
    assert_eq!(df.range(df.errors[0].span), rng(1, 4, 1, 9));
    assert_eq!(df.instructions[1].heredocs[0].body, "echo\n");
    assert_eq!(round_trip(&df), df.source);
}

#[test]
fn onbuild_wraps_and_forbids() {
    let df = p("FROM a\nONBUILD COPY --from=b x /y\nONBUILD ONBUILD RUN x\nONBUILD FROM y\nonbuild maintainer me\n");
    let inner = df.instructions[1].onbuild.as_ref().unwrap();
    assert_eq!(inner.kind, InstructionKind::Copy);
    assert_eq!(df.range(inner.keyword_span), rng(1, 8, 1, 12));
    assert_eq!(inner.flag("from").unwrap().value.as_deref(), Some("b"));
    let msgs: Vec<_> = df.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
            "FROM isn't allowed as an ONBUILD trigger",
            "MAINTAINER isn't allowed as an ONBUILD trigger"
        ]
    );
    assert_eq!(df.range(df.errors[0].span), rng(2, 8, 2, 21));
}

#[test]
fn flags_everywhere_buildkit_accepts_them() {
    let src = "FROM --platform=$BUILDPLATFORM img AS name\n\
COPY --from=build --chown=1:1 --chmod=755 --link --parents --exclude=*.md a /b\n\
RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=x --network=none --security=insecure make\n\
HEALTHCHECK --interval=5s --timeout=3s --start-period=1s --start-interval=1s --retries=3 CMD curl -f x\n";
    let df = p(src);
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    let copy = &df.instructions[1];
    let names: Vec<_> = copy.flags.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["from", "chown", "chmod", "link", "parents", "exclude"]
    );
    assert_eq!(copy.flags[3].value, None);
    assert_eq!(args(copy), ["a", "/b"]);
    let run = &df.instructions[2];
    let mounts: Vec<_> = run.flags_named("mount").collect();
    assert_eq!(mounts.len(), 2);
    let opts = mounts[0].options();
    assert_eq!(opts[1].key, "target");
    assert_eq!(opts[1].value.as_deref(), Some("/root/.cache"));
    assert_eq!(df.range(opts[1].value_span.unwrap()), rng(2, 30, 2, 42));
    assert_eq!(args(run), ["make"]);
    let hc = &df.instructions[3];
    assert_eq!(hc.flags.len(), 5);
    assert_eq!(args(hc), ["CMD", "curl -f x"]);
}

#[test]
fn bad_flags_are_errors() {
    let df = p("FROM a\nCOPY --form=x a b\nRUN --network a\n");
    let msgs: Vec<_> = df.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "unknown flag: --form (did you mean from?)",
            "missing a value on flag: --network"
        ]
    );
    assert_eq!(df.range(df.errors[0].span), rng(1, 5, 1, 13));
}

#[test]
fn variable_syntax() {
    let df = p("FROM a\nARG A B C D\nWORKDIR $A/${B}/${C:-d}/${D:+x}/${E?err}/${F:-${G:-z}}\n");
    let w = &df.instructions[2];
    let names: Vec<_> = w.variables.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["A", "B", "C", "D", "E", "F", "G"]);
    let c = &w.variables[2];
    assert_eq!(c.operator.as_deref(), Some(":-"));
    assert_eq!(c.operand.as_ref().unwrap().value, "d");
    assert_eq!(df.range(c.span), rng(2, 16, 2, 23));
    assert_eq!(df.range(c.name_span), rng(2, 18, 2, 19));
    assert_eq!(w.variables[4].operator.as_deref(), Some("?"));
    assert_eq!(w.variables[5].operand.as_ref().unwrap().value, "${G:-z}");
    assert_eq!(df.range(w.variables[6].name_span), rng(2, 48, 2, 49));
    // Single quotes and escapes hide references.
    let df = p("FROM a\nRUN echo '$NO' \\$NO2 \"$YES\"\n");
    let names: Vec<_> = df.instructions[1]
        .variables
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(names, ["YES"]);
}

#[test]
fn from_with_variables() {
    let df = p("ARG R=alpine T=3\nFROM ${R}:${T}\n");
    let from = &df.instructions[1];
    assert_eq!(from.from.as_ref().unwrap().image.value, "${R}:${T}");
    assert_eq!(df.range(from.variables[1].name_span), rng(1, 12, 1, 13));
    assert!(df.errors.is_empty());
}

#[test]
fn env_label_arg_forms() {
    let df = p("FROM a\nENV A=1 B=\"two words\" \\\n    C=3\nENV LEGACY some value here\nLABEL \"com.x\"=y k=v\nARG X Y=2\n");
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    let env = &df.instructions[1];
    assert!(!env.legacy_key_value);
    assert_eq!(args(env), ["A", "1", "B", "\"two words\"", "C", "3"]);
    assert_eq!(df.range(env.key_values[2].key_span), rng(2, 4, 2, 5));
    assert_eq!(
        env.key_values[1].unquoted_value('\\').as_deref(),
        Some("two words")
    );
    let legacy = &df.instructions[2];
    assert!(legacy.legacy_key_value);
    assert_eq!(args(legacy), ["LEGACY", "some value here"]);
    assert_eq!(
        df.range(legacy.key_values[0].value_span.unwrap()),
        rng(3, 11, 3, 26)
    );
    assert_eq!(df.instructions[3].key_values[0].key, "\"com.x\"");
    let arg = &df.instructions[4];
    assert_eq!(args(arg), ["X", "Y=2"]);
    assert_eq!(arg.key_values[0].value, None);
    assert_eq!(arg.key_values[1].value.as_deref(), Some("2"));
    let df = p("FROM a\nENV A=1 B\nENV ONLY\n");
    let msgs: Vec<_> = df.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "Syntax error - can't find = in \"B\". Must be of the form: name=value",
            "ENV must have two arguments"
        ]
    );
}

#[test]
fn keywords_in_any_case_and_unknown_instructions() {
    let df = p("from a\nRuN x\nFOO bar\nCOPY a b\n");
    assert_eq!(df.instructions[0].kind, InstructionKind::From);
    assert_eq!(df.instructions[1].keyword, "RuN");
    assert_eq!(df.instructions[1].kind, InstructionKind::Run);
    assert_eq!(df.instructions[2].kind, InstructionKind::Unknown);
    assert_eq!(df.errors.len(), 1);
    assert_eq!(
        df.errors[0].message,
        "unknown instruction: FOO (did you mean FROM?)"
    );
    assert_eq!(df.range(df.errors[0].span), rng(2, 0, 2, 3));
    assert_eq!(df.instructions[3].kind, InstructionKind::Copy);
}

#[test]
fn one_bad_instruction_never_loses_the_rest() {
    let df = p("FROM\nRUN [1]\nCOPY onlyone\nENV\nWORKDIR\nLABEL x\nFROM ok AS good\nRUN fine\n");
    assert_eq!(df.instructions.len(), 8);
    assert_eq!(df.errors.len(), 6, "{:?}", df.errors);
    assert_eq!(
        df.errors[0].message,
        "FROM requires either one or three arguments"
    );
    assert_eq!(
        df.instructions[6]
            .from
            .as_ref()
            .unwrap()
            .stage_name
            .as_ref()
            .unwrap()
            .value,
        "good"
    );
    let m = Model::build(&df);
    assert_eq!(m.stages.len(), 2);
}

#[test]
fn non_utf8_bytes_are_a_clear_error() {
    let err = parse_bytes(b"FROM a\nRUN \xff\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the Dockerfile is not valid UTF-8: invalid byte 0xff at byte offset 11"
    );
}

#[test]
fn nul_bytes_parse() {
    let df = parse_bytes(b"FROM a\nRUN x\0y\n\0\n").unwrap();
    assert_eq!(args(&df.instructions[1]), ["x\0y"]);
    assert_eq!(df.instructions.len(), 3);
    assert_eq!(round_trip(&df), df.source);
}

#[test]
fn large_files_parse_linearly_without_panic() {
    // 100,000 lines.
    let mut s = String::from("FROM a AS s0\n");
    for i in 0..99_999 {
        s.push_str(&format!("RUN echo {i} \\\n"));
    }
    let df = p(&s);
    assert_eq!(df.instructions.len(), 2);
    assert_eq!(round_trip(&df).len(), s.len());
    // 20 MB: one 10 MB line and 1.25 million short ones.
    let mut big = String::from("FROM a\nRUN ");
    big.push_str(&"x".repeat(10_000_000));
    big.push('\n');
    for _ in 0..1_250_000 {
        big.push_str("ENV A=b\n");
    }
    assert!(big.len() > 20_000_000);
    let df = p(&big);
    assert_eq!(df.instructions.len(), 1_250_002);
    assert!(df.errors.is_empty());
}

#[test]
fn model_stages_scopes_and_references() {
    let src = "ARG BASE=alpine\nARG V\nFROM --platform=$BUILDPLATFORM $BASE AS build\nARG V\nENV E=1\nRUN echo $V $E $TARGETOS $HTTP_PROXY\nFROM build AS final\nCOPY --from=build /a /b\nCOPY --from=0 /a /b\nRUN --mount=type=bind,from=build,target=/x echo $E $BASE\nCOPY --from=nginx /a /b\n";
    let df = p(src);
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    let m = Model::build(&df);
    assert_eq!(m.stages.len(), 2);
    assert_eq!(m.stages[1].parent, Some(0));
    assert_eq!(m.global_args.len(), 2);
    let res = |name: &str, ins: usize| {
        m.references
            .iter()
            .find(|r| r.name == name && r.instruction == ins)
            .map(|r| r.resolution)
            .unwrap()
    };
    assert_eq!(res("BASE", 2), Resolution::Defined(0));
    assert_eq!(res("BUILDPLATFORM", 2), Resolution::Automatic);
    // Stage ARG V redeclares the global.
    let Resolution::Defined(v) = res("V", 5) else {
        panic!()
    };
    assert_eq!(m.definitions[v].global, Some(1));
    assert_eq!(res("TARGETOS", 5), Resolution::Undefined);
    assert_eq!(res("HTTP_PROXY", 5), Resolution::Builtin);
    // Every resolved reference leads back to the parsed one, at its name.
    for r in &m.references {
        let var = r.var(&df).expect("reference in its instruction");
        assert_eq!((&var.name, var.name_span), (&r.name, r.name_span));
        assert_eq!(df.text(r.name_span), r.name.as_str());
    }
    // ENV inherited through FROM build; global ARG not visible in a stage.
    let Resolution::Defined(e) = res("E", 9) else {
        panic!()
    };
    assert_eq!(m.definitions[e].name, "E");
    assert_eq!(res("BASE", 9), Resolution::Undefined);
    let kinds: Vec<_> = m.stage_refs.iter().map(|r| (r.kind, r.target)).collect();
    assert_eq!(
        kinds,
        [
            (StageRefKind::FromBase, Some(0)),
            (StageRefKind::CopyFrom, Some(0)),
            (StageRefKind::CopyFrom, Some(0)),
            (StageRefKind::MountFrom, Some(0)),
            (StageRefKind::CopyFrom, None)
        ]
    );
    assert_eq!(df.range(m.stage_refs[3].span), rng(9, 27, 9, 32));
}

#[test]
fn lone_escape_line_continues_into_the_next() {
    // BuildKit: `^\\[ \t]*$` is a continuation; the logical line is trimmed.
    let df = p("FROM a\n\\\n   RUN x\n");
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    let run = &df.instructions[1];
    assert_eq!(run.kind, InstructionKind::Run);
    assert_eq!(df.range(run.keyword_span), rng(2, 3, 2, 6));
    assert_eq!(df.range(run.span), rng(1, 0, 2, 8));
}

#[test]
fn model_of_a_huge_single_stage_resolves_every_reference() {
    // 100,000 ENV lines, each referring to the previous one, plus a global
    // ARG used everywhere: quadratic lookups would take minutes here.
    let mut s = String::from("ARG G=1\nFROM a\nARG G\n");
    s.push_str("ENV V0=x\n");
    for i in 1..100_000 {
        s.push_str(&format!("ENV V{i}=$V{}${{G}}\n", i - 1));
    }
    let df = p(&s);
    let m = Model::build(&df);
    assert_eq!(m.references.len(), 2 * 99_999);
    let last = m.references.last().unwrap();
    let Resolution::Defined(d) = last.resolution else {
        panic!("unresolved {:?}", last)
    };
    // `${G}` resolves to the stage's `ARG G` (definition 1), which points
    // back to the global (definition 0).
    assert_eq!(d, 1);
    assert_eq!(m.definitions[1].global, Some(0));
    let prev = &m.references[m.references.len() - 2];
    let Resolution::Defined(d) = prev.resolution else {
        panic!()
    };
    assert_eq!(m.definitions[d].name, "V99998");
}

#[test]
fn quoted_flag_values_lose_their_quotes() {
    let df = p("FROM a\nCOPY --chown=\"app user\" --from='b' x /y\n");
    let copy = &df.instructions[1];
    assert_eq!(copy.flags[0].value.as_deref(), Some("app user"));
    assert_eq!(copy.flags[0].to_flag_string(), "--chown=app user");
    assert_eq!(
        df.range(copy.flags[0].value_span.unwrap()),
        rng(1, 13, 1, 23)
    );
    assert_eq!(copy.flags[1].value.as_deref(), Some("b"));
    assert_eq!(args(copy), ["x", "/y"]);
}

#[test]
fn hostile_nesting_stays_bounded() {
    // Deep ONBUILD chains, `${A:-${A:-…}}` nesting, thousands of unclosed
    // `${` and deeply nested JSON: no stack overflow, no quadratic time.
    let chain = format!("FROM a\n{}RUN x\n", "ONBUILD ".repeat(50_000));
    let df = p(&chain);
    assert_eq!(df.instructions.len(), 2);
    assert!(!df.errors.is_empty());
    let nested = format!(
        "FROM a\nENV X={}{}\n",
        "${A:-".repeat(50_000),
        "}".repeat(50_000)
    );
    let df = p(&nested);
    assert_eq!(df.instructions[1].variables.len(), 17);
    let unclosed = format!("FROM a\nENV X={}\n", "${A ".repeat(100_000));
    let df = p(&unclosed);
    assert_eq!(df.instructions[1].variables.len(), 1);
    let unclosed_run = format!("FROM a\nRUN {}\n", "${A ".repeat(100_000));
    let df = p(&unclosed_run);
    assert_eq!(df.instructions[1].variables.len(), 100_000);
    assert_eq!(
        df.range(df.instructions[1].variables[1].span),
        rng(1, 8, 1, 11)
    );
    let json = format!(
        "FROM a\nCMD [{}\"a\"{}]\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let df = p(&json);
    assert_eq!(df.instructions[1].form, ArgForm::Shell);
    let strings = format!("FROM a\nCMD [[{}\"a\"]]\n", "\"a\",".repeat(200_000));
    let df = p(&strings);
    assert_eq!(df.errors.len(), 1);
}

#[test]
fn cli_parse_json_prints_the_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Dockerfile");
    std::fs::write(
        &file,
        "# syntax=docker/dockerfile:1\nFROM alpine AS base\nRUN --mount=type=cache,target=/var/cache/apk \\\n    apk add curl\nCOPY <<EOF /etc/motd\nhello\nEOF\nONBUILD CMD [\"echo\", \"hi\"]\nFOO\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
        .args(["parse", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = |l1: u32, c1: u32, l2: u32, c2: u32| serde_json::json!({"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}});
    assert_eq!(
        v["directives"],
        serde_json::json!([{"name": "syntax", "value": "docker/dockerfile:1", "range": r(0, 0, 0, 28)}])
    );
    let ins = &v["instructions"];
    assert_eq!(ins[1]["keyword"], "RUN");
    assert_eq!(ins[1]["range"], r(2, 0, 3, 16));
    assert_eq!(
        ins[1]["flags"],
        serde_json::json!(["--mount=type=cache,target=/var/cache/apk"])
    );
    assert_eq!(ins[1]["args"], serde_json::json!(["apk add curl"]));
    assert_eq!(ins[2]["args"], serde_json::json!(["<<EOF", "/etc/motd"]));
    assert_eq!(
        ins[2]["heredocs"],
        serde_json::json!([{"name": "EOF", "body": "hello\n", "expand": true}])
    );
    assert_eq!(ins[3]["onbuild"]["keyword"], "CMD");
    assert_eq!(ins[3]["onbuild"]["json"], true);
    assert_eq!(ins[3]["onbuild"]["args"], serde_json::json!(["echo", "hi"]));
    assert_eq!(ins[3]["onbuild"]["range"], r(7, 8, 7, 26));
    assert_eq!(ins[0]["onbuild"], serde_json::Value::Null);
    assert_eq!(
        v["errors"],
        serde_json::json!([{"message": "unknown instruction: FOO (did you mean FROM?)", "range": r(8, 0, 8, 3)}])
    );
    // Not UTF-8: exit 2 with the offset.
    std::fs::write(&file, b"FROM a\n\xc3\x28\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
        .args(["parse", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid byte 0xc3 at byte offset 7"));
}

#[test]
fn instruction_argument_errors_match_buildkit() {
    let df = p(
        "FROM a\nSHELL /bin/bash -c\nVOLUME []\nVOLUME [\"\"]\nSHELL [\"sh\", \"-c\"]\nEXPOSE\n",
    );
    let msgs: Vec<_> = df.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "SHELL requires the arguments to be in JSON form",
            "VOLUME requires at least one argument",
            "VOLUME specified can not be an empty string",
            "EXPOSE requires at least one argument"
        ]
    );
    assert_eq!(df.range(df.errors[0].span), rng(1, 6, 1, 18));
    assert_eq!(df.range(df.errors[3].span), rng(5, 0, 5, 6));
}

#[test]
fn env_is_inherited_down_long_stage_chains() {
    // 3,000 stages, each `FROM` the previous one; ENV A in stage 0 and ENV B
    // redefined in stage 1,500: every stage resolves A to stage 0 and B to
    // the nearest ancestor that defines it.
    let mut s = String::from("FROM a AS s0\nENV A=1 B=0\n");
    for i in 1..3000 {
        s.push_str(&format!("FROM s{} AS s{i}\n", i - 1));
        if i == 1500 {
            s.push_str("ENV B=2\n");
        }
        s.push_str("RUN echo $A $B\n");
    }
    let df = p(&s);
    let m = Model::build(&df);
    assert_eq!(m.stages.len(), 3000);
    let def_of = |r: &buildkit_lsp::dockerfile::model::ResolvedRef| match r.resolution {
        Resolution::Defined(d) => (m.definitions[d].stage, m.definitions[d].name.clone()),
        other => panic!("{other:?}"),
    };
    for r in &m.references {
        let (stage, name) = def_of(r);
        let here = r.stage.unwrap();
        match name.as_str() {
            "A" => assert_eq!(stage, Some(0)),
            "B" if here >= 1500 => assert_eq!(stage, Some(1500), "stage {here}"),
            "B" => assert_eq!(stage, Some(0), "stage {here}"),
            _ => unreachable!(),
        }
    }
    assert_eq!(m.references.len(), 2 * 2999);
}

#[test]
fn model_copy_and_mount_sources_resolve_later_stages_like_buildkit() {
    let src = "FROM alpine AS base\nCOPY --from=later /a /b\nRUN --mount=from=Later,target=/x true\nCOPY --from=2 /a /b\nCOPY --from=3 /a /b\nRUN --mount=from=1,target=/y true\nFROM later AS mid\nFROM alpine AS later\n";
    let df = p(src);
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    let m = Model::build(&df);
    // FROM sees only earlier stages: `later` is an image name on line 6.
    assert_eq!(m.stages[1].parent, None);
    let refs: Vec<_> = m
        .stage_refs
        .iter()
        .map(|r| (r.kind, r.value.as_str(), r.target))
        .collect();
    assert_eq!(
        refs,
        [
            (StageRefKind::CopyFrom, "later", Some(2)),
            // Names compare case-insensitively.
            (StageRefKind::MountFrom, "Later", Some(2)),
            (StageRefKind::CopyFrom, "2", Some(2)),
            // Index past the last stage: BuildKit's "invalid stage index".
            (StageRefKind::CopyFrom, "3", None),
            // Mounts name stages only by name, never by index.
            (StageRefKind::MountFrom, "1", None),
        ]
    );
    assert_eq!(df.range(m.stage_refs[0].span), rng(1, 12, 1, 17));
    assert_eq!(df.range(m.stage_refs[1].span), rng(2, 17, 2, 22));
    assert_eq!(m.circular_dependency, None);
}

#[test]
fn model_duplicate_stage_names_resolve_as_buildkit_replaces_them() {
    // BuildKit's statesByName keeps the latest stage of a name: FROM sees the
    // latest earlier one, COPY --from (resolved after all stages) the last.
    let df =
        p("FROM alpine AS x\nFROM x AS y\nFROM busybox AS x\nCOPY --from=x /a /b\nFROM x AS z\n");
    let m = Model::build(&df);
    assert_eq!(m.stages[1].parent, Some(0));
    assert_eq!(
        m.stage_refs
            .iter()
            .find(|r| r.kind == StageRefKind::CopyFrom)
            .unwrap()
            .target,
        Some(2)
    );
    assert_eq!(m.stages[3].parent, Some(2));
}

#[test]
fn model_reports_circular_stage_dependencies_as_buildkit() {
    let df = p("FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\nCOPY --from=a /y /y\n");
    let m = Model::build(&df);
    let cycle = m.circular_dependency.clone().expect("a cycle");
    assert_eq!(cycle.stage, 0);
    assert_eq!(cycle.message(), "circular dependency detected on stage: a");
    let spans: Vec<_> = cycle
        .refs
        .iter()
        .map(|&r| df.range(m.stage_refs[r].span))
        .collect();
    assert_eq!(spans, [rng(1, 12, 1, 13), rng(3, 12, 3, 13)]);

    // A stage copying from itself, unnamed: BuildKit calls it stage-0.
    let df = p("FROM alpine\nCOPY --from=0 /x /y\n");
    let cycle = Model::build(&df).circular_dependency.expect("a self cycle");
    assert_eq!(
        cycle.message(),
        "circular dependency detected on stage: stage-0"
    );

    // BuildKit names the first stage from which the cycle is reached, even
    // when that stage is not on it.
    let df = p("FROM alpine\nCOPY --from=b /x /x\nFROM alpine AS a\nCOPY --from=b /y /y\nFROM alpine AS b\nCOPY --from=a /z /z\n");
    let m = Model::build(&df);
    let cycle = m.circular_dependency.clone().expect("a cycle");
    assert_eq!(
        cycle.message(),
        "circular dependency detected on stage: stage-0"
    );
    let lines: Vec<_> = cycle
        .refs
        .iter()
        .map(|&r| df.range(m.stage_refs[r].span).start.line)
        .collect();
    assert_eq!(lines, [1, 5, 3]);

    // FROM <stage> plus COPY --from of a later stage is no cycle.
    let df = p("FROM alpine AS a\nCOPY --from=c /x /x\nFROM a AS b\nFROM alpine AS c\n");
    assert_eq!(Model::build(&df).circular_dependency, None);
}

#[test]
fn heredoc_bodies_with_expansion_contribute_variable_references() {
    let src = "FROM alpine\nARG NAME=x\nCOPY <<EOF /etc/motd\nhello $NAME '${NAME}' \\$NOT\nEOF\nCOPY <<'EOF' /etc/raw\n$RAW\nEOF\nRUN <<EOF\necho \"$NAME\" '$QUOTED'\nEOF\n";
    let df = p(src);
    assert!(df.errors.is_empty(), "{:?}", df.errors);
    let names = |i: usize| -> Vec<(&str, Range)> {
        df.instructions[i]
            .variables
            .iter()
            .map(|v| (v.name.as_str(), df.range(v.name_span)))
            .collect()
    };
    // COPY expands with quotes as plain text (BuildKit's SkipProcessQuotes);
    // an escaped `\$` is no reference.
    assert_eq!(
        names(2),
        [("NAME", rng(3, 7, 3, 11)), ("NAME", rng(3, 15, 3, 19))]
    );
    // Quoted delimiter: no expansion, no references.
    assert!(names(3).is_empty());
    // RUN: the shell expands the body and honours single quotes.
    assert_eq!(names(4), [("NAME", rng(9, 7, 9, 11))]);
    let m = Model::build(&df);
    let on_name: Vec<_> = m
        .references
        .iter()
        .filter(|r| r.name == "NAME")
        .map(|r| r.resolution)
        .collect();
    assert_eq!(on_name, [Resolution::Defined(0); 3]);
}

/// The first error of an instruction is the one BuildKit stops with (it is
/// all an ONBUILD trigger shows in the child stage): argument counts before
/// flags for COPY/ADD and the like, flags before counts for ENV and SHELL,
/// and no flag errors where BuildKit never parses the flags.
#[test]
fn an_instructions_errors_come_in_buildkits_order() {
    let first =
        |text: &str| -> Option<String> { p(text).errors.first().map(|e| e.message.clone()) };
    assert_eq!(
        first("FROM a\nADD --from=x /a\n").as_deref(),
        Some("ADD requires at least two arguments, but only one was provided. Destination could not be determined")
    );
    assert_eq!(
        first("FROM a\nWORKDIR --x\n").as_deref(),
        Some("WORKDIR requires exactly one argument")
    );
    assert_eq!(
        first("FROM --bogus a AS 1x\n").as_deref(),
        Some("invalid name for build stage: \"1x\", name can't start with a number or contain symbols")
    );
    assert_eq!(
        first("FROM a\nENV --x\n").as_deref(),
        Some("unknown flag: --x")
    );
    assert_eq!(
        first("FROM a\nSHELL --x\n").as_deref(),
        Some("unknown flag: --x")
    );
    assert_eq!(
        first("FROM a\nCOPY --bogus <<EOF /a\n").as_deref(),
        Some("unterminated heredoc")
    );
    assert_eq!(
        first("FROM a\nARG --foo=1 x\nSTOPSIGNAL --x TERM\nHEALTHCHECK --x NONE\n"),
        None
    );
    // A trigger's syntax errors are the ONBUILD line's; its other errors wait
    // for the stage that runs it.
    assert_eq!(
        first("FROM a\nONBUILD ENV --x a\n").as_deref(),
        Some("ENV must have two arguments")
    );
    assert_eq!(first("FROM a\nONBUILD ADD --from=x /a\n"), None);
}
