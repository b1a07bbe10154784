//! Incremental re-parsing agrees with a full parse: random edits (fixed
//! seed, so a failure reproduces) on every Dockerfile under tests/fixtures,
//! each tree re-parsed from the previous one and compared with a fresh
//! parse of the same text. The fuzz target `reparse` does the same
//! with libFuzzer's inputs.

use std::path::{Path, PathBuf};

use buildkit_lsp::dockerfile::incremental::try_reparse;
use buildkit_lsp::dockerfile::parse;

/// Pieces of Dockerfile syntax an edit inserts, so edits reach
/// continuations, heredocs, comments, directives, quotes and variables,
/// not only plain words.
const SNIPPETS: &[&str] = &[
    "a",
    " ",
    "\n",
    "\\",
    "\\\n",
    "`",
    "#",
    "# escape=`\n",
    "<<EOF\n",
    "EOF\n",
    "<<-EOT ",
    "\tEOT\n",
    "RUN ",
    "FROM x AS y\n",
    "ONBUILD ",
    "--mount=type=cache ",
    "=",
    "\"",
    "'",
    "$",
    "${A:-b}",
    "[\"a\", \"b\"]",
    "\r\n",
    "\u{e9}",
    "\u{feff}",
    "ENV A=1 \\\n  B=2\n",
    "COPY <<A <<B /x\n",
    "  # comment\n",
    "",
    "0",
];

/// A small xorshift generator: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn fixtures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("Dockerfile") || n.ends_with(".dockerfile"))
            {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut out,
    );
    out.sort();
    out
}

/// The nearest character boundary at or before `i`.
fn floor(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One random edit: a few bytes around a random offset replaced by a
/// snippet (or by nothing).
fn edit(rng: &mut Rng, text: &str) -> String {
    let start = floor(text, rng.below(text.len() + 1));
    let end = floor(text, start + [0, 0, 1, 1, 2, 5, 20][rng.below(7)]);
    let with = SNIPPETS[rng.below(SNIPPETS.len())];
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..start]);
    out.push_str(with);
    out.push_str(&text[end.max(start)..]);
    out
}

#[test]
fn incremental_reparsing_equals_a_full_parse_after_random_edits() {
    let files = fixtures();
    assert!(files.len() >= 50, "only {} fixtures", files.len());
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut incremental, mut total) = (0, 0);
    for path in &files {
        let Ok(mut text) = std::fs::read_to_string(path) else {
            continue;
        };
        let mut tree = parse(&text);
        for step in 0..150 {
            let new = edit(&mut rng, &text);
            let full = parse(&new);
            tree = match try_reparse(tree, &new) {
                Ok((df, _)) => {
                    incremental += 1;
                    df
                }
                Err(_) => full.clone(),
            };
            total += 1;
            assert!(
                tree == full,
                "{} edit {step}: incremental and full parses differ\nbefore: {text:?}\nafter: {new:?}",
                path.display()
            );
            text = new;
        }
    }
    // The comparison means something only if most edits took the
    // incremental path (edits in the header parse everything).
    assert!(
        incremental * 2 > total,
        "only {incremental} of {total} edits were re-parsed incrementally"
    );
}
