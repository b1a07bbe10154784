//! `textDocument/signatureHelp`: the forms of the instruction under the
//! cursor (`docs::SIGNATURES`, flags from `docs::FLAGS`), the form written
//! chosen as active, and the active parameter following the cursor through
//! the flags, the arguments and the key/value pairs. Inside `ONBUILD` the
//! nested instruction answers.

use ls_types::{
    Documentation, MarkupContent, MarkupKind, ParameterInformation, ParameterLabel, SignatureHelp,
    SignatureHelpParams, SignatureInformation,
};

use crate::dockerfile::{Dockerfile, Instruction, InstructionKind};
use crate::lsp::docs::{self, FormDoc, SignatureDoc, Slot};
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: SignatureHelpParams) -> Option<SignatureHelp> {
    let p = params.text_document_position_params;
    let snap = session.snapshot(&p.text_document.uri)?;
    let offset = snap.doc.offset(p.position, snap.features.encoding);
    signature_help(&snap.df, offset, snap.features.hover_markdown)
}

pub fn signature_help(df: &Dockerfile, offset: usize, markdown: bool) -> Option<SignatureHelp> {
    let ins = df
        .innermost_instruction_at(offset)
        .or_else(|| typing_after(df, offset))?;
    // On the keyword itself the user is still choosing the instruction.
    if offset <= ins.keyword_span.end || ins.kind == InstructionKind::Unknown {
        return None;
    }
    // Past a heredoc's first body line the cursor is in a body, not the line.
    if !ins.heredocs.is_empty() && offset > ins.line_span.end {
        return None;
    }
    let forms: Vec<&SignatureDoc> = docs::signatures_of(ins.kind.as_str()).collect();
    let active_form = active_form(ins, &forms);
    let active = forms.get(active_form)?;
    let flag_names: Vec<&str> = docs::flags_of(ins.kind.as_str())
        .filter(|_| active.form != FormDoc::None)
        .map(|f| f.name)
        .collect();
    let active_parameter = active_parameter(df, ins, active, &flag_names, offset);
    let signatures = forms.iter().map(|s| signature(s, markdown)).collect();
    Some(SignatureHelp {
        signatures,
        active_signature: Some(active_form as u32),
        active_parameter,
    })
}

/// The instruction the cursor follows after spaces just typed (`FROM |`):
/// instruction spans end at their last word.
fn typing_after(df: &Dockerfile, offset: usize) -> Option<&Instruction> {
    let i = df.instructions.partition_point(|ins| ins.span.end < offset);
    let ins = df.instructions.get(i.checked_sub(1)?)?;
    let gap = df.source.get(ins.span.end..offset)?;
    if gap.is_empty() || !gap.chars().all(|c| c == ' ' || c == '\t') {
        return None;
    }
    let mut ins = ins;
    while let Some(inner) = ins.onbuild.as_deref() {
        ins = inner;
    }
    Some(ins)
}

/// Which form is written: JSON or shell, `HEALTHCHECK NONE` or `CMD`.
fn active_form(ins: &Instruction, forms: &[&SignatureDoc]) -> usize {
    let written = if ins.kind == InstructionKind::Healthcheck
        && ins
            .args
            .first()
            .is_some_and(|a| a.value.eq_ignore_ascii_case("NONE"))
    {
        FormDoc::None
    } else if ins.is_json() || starts_json(ins) {
        FormDoc::Json
    } else {
        FormDoc::Shell
    };
    forms
        .iter()
        .position(|f| f.form == written)
        .or_else(|| forms.iter().position(|f| f.form == FormDoc::Any))
        .unwrap_or(0)
}

/// A JSON array still being typed (`CMD ["a", |`) is not JSON yet for the
/// parser, but the user is writing the exec form.
fn starts_json(ins: &Instruction) -> bool {
    ins.args.first().is_some_and(|a| a.value.starts_with('['))
}

/// The index of the parameter at `offset` in the signature's parameter
/// list: the instruction's flags first, then the positional parameters.
fn active_parameter(
    df: &Dockerfile,
    ins: &Instruction,
    sig: &SignatureDoc,
    flag_names: &[&str],
    offset: usize,
) -> Option<u32> {
    if let Some(f) = ins.flags.iter().find(|f| f.span.touches(offset)) {
        return flag_names
            .iter()
            .position(|n| *n == f.name)
            .map(|i| i as u32);
    }
    let base = flag_names.len();
    let positional = |slot: Slot| {
        sig.params
            .iter()
            .position(|p| p.slot == slot)
            .map(|i| (base + i) as u32)
    };
    if matches!(
        ins.kind,
        InstructionKind::Env | InstructionKind::Label | InstructionKind::Arg
    ) {
        // ENV/LABEL/ARG: the key until the `=`, the value after it.
        let in_value = ins.key_values.iter().any(|kv| {
            kv.value_span
                .is_some_and(|v| v.touches(offset) && offset > kv.key_span.end)
        });
        return positional(if in_value { Slot::Value } else { Slot::Key });
    }
    // The argument under the cursor, or the one about to be typed.
    let args = &ins.args;
    let n_before = args.iter().take_while(|a| a.span.end < offset).count();
    let on_arg = args.get(n_before).is_some_and(|a| a.span.touches(offset));
    let total = if on_arg { args.len() } else { args.len() + 1 };
    let mut k = n_before;
    if sig.form == FormDoc::Json && !ins.is_json() {
        // An array still being typed: the strings are not parsed yet, so
        // count the commas before the cursor.
        let typed = df.source.get(ins.rest_span.start..offset);
        k = typed.map_or(0, commas_outside_quotes);
    }
    // `<dest>` is the last of at least two arguments; the ones before it
    // are sources.
    if total >= 2 && k + 1 == total {
        if let Some(i) = positional(Slot::Last) {
            return Some(i);
        }
    }
    sig.params
        .iter()
        .position(|p| match p.slot {
            Slot::Arg(i) => i == k,
            Slot::From(i) => k >= i,
            _ => false,
        })
        .map(|i| (base + i) as u32)
}

/// How many commas outside double-quoted strings `text` has.
fn commas_outside_quotes(text: &str) -> usize {
    let mut in_string = false;
    let mut escaped = false;
    let mut n = 0;
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ',' if !in_string => n += 1,
            _ => {}
        }
    }
    n
}

/// One form as LSP signature information: `KEYWORD [--flag=…]… params`, each
/// parameter labelled by its offsets in that label.
fn signature(s: &SignatureDoc, markdown: bool) -> SignatureInformation {
    let doc = |text: String| {
        if markdown {
            Documentation::MarkupContent(MarkupContent {
                kind: MarkupKind::Markdown,
                value: text,
            })
        } else {
            Documentation::String(text.replace('`', ""))
        }
    };
    let mut label = String::from(s.keyword);
    let mut params = Vec::new();
    // Appends `text` to the label (after `sep`) as one parameter.
    let mut push = |label: &mut String, sep: &str, text: &str, summary: &str| {
        label.push_str(sep);
        let start = label.encode_utf16().count() as u32;
        label.push_str(text);
        let end = label.encode_utf16().count() as u32;
        params.push(ParameterInformation {
            label: ParameterLabel::LabelOffsets([start, end]),
            documentation: Some(doc(summary.to_string())),
        });
    };
    // `HEALTHCHECK NONE` takes no options.
    let flags = docs::flags_of(s.keyword).filter(|_| s.form != FormDoc::None);
    for f in flags {
        push(
            &mut label,
            " ",
            &format!("[{}]", docs::flag_usage(f)),
            f.summary,
        );
    }
    let json = s.form == FormDoc::Json;
    for (i, p) in s.params.iter().enumerate() {
        let sep = match (json, i) {
            (true, 0) => " [",
            (true, _) => ", ",
            (false, _) => " ",
        };
        push(&mut label, sep, p.label, p.summary);
    }
    if json {
        label.push_str(" ]");
    }
    let summary = docs::instruction(s.keyword).map(|d| {
        doc(format!(
            "{}\n\n[Dockerfile reference]({})",
            d.summary,
            docs::url(d.anchor)
        ))
    });
    SignatureInformation {
        label,
        documentation: summary,
        parameters: Some(params),
        active_parameter: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::parse;

    #[test]
    fn onbuild_alone_shows_its_own_signature() {
        let text = "FROM a\nMAINTAINER m\nONBUILD \nRUN x\n";
        let df = parse(text);
        let h = signature_help(&df, text.find("ONBUILD").unwrap() + 8, true).expect("a signature");
        assert!(h.signatures[0].label.starts_with("ONBUILD"));
    }
}
