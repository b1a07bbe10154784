//! Fuzz target: incremental re-parsing equals a full parse. The input is a
//! text, a 0xFF byte, then edits of 4 bytes each (offset low, offset high,
//! bytes removed, what is inserted: a Dockerfile snippet or one character);
//! after every edit the tree re-parsed from the previous one must equal a
//! full parse of the new text.
#![no_main]

use buildkit_lsp::dockerfile::{incremental::reparse, parse};
use libfuzzer_sys::fuzz_target;

/// Pieces of syntax worth inserting whole: continuations, heredocs,
/// directives, comments, quotes, variables, line breaks.
const SNIPPETS: &[&str] = &[
    "\n", "\\", "\\\n", "`", "#", "# escape=`\n", "# syntax=x\n", "<<EOF\n", "EOF\n", "<<-EOT ",
    "\tEOT\n", "RUN ", "FROM x AS y\n", "ONBUILD ", "--mount=type=cache ", "\"", "'", "${A:-b}",
    "[\"a\", \"b\"]", "\r\n", "\r", "\u{feff}", "ENV A=1 \\\n  B=2\n", "COPY <<A <<B /x\n",
    "  # c\n", " ", "\t",
];

fn floor(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fuzz_target!(|data: &[u8]| {
    let (text, program) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let mut text = text.to_string();
    let mut tree = parse(&text);
    for op in program.chunks_exact(4) {
        let at = floor(&text, usize::from(u16::from_le_bytes([op[0], op[1]])) % (text.len() + 1));
        let end = floor(&text, at + usize::from(op[2] % 24)).max(at);
        let one;
        let with = match SNIPPETS.get(usize::from(op[3])) {
            Some(s) => *s,
            None => {
                one = char::from(op[3] & 0x7f).to_string();
                one.as_str()
            }
        };
        let mut new = String::with_capacity(text.len() + with.len());
        new.push_str(&text[..at]);
        new.push_str(with);
        new.push_str(&text[end..]);
        tree = reparse(tree, &new);
        let full = parse(&new);
        assert!(
            tree == full,
            "incremental and full parses differ\nbefore: {text:?}\nafter: {new:?}"
        );
        text = new;
    }
});
