//! Incremental re-parsing: the syntax tree of an edited text from the tree
//! of the text before the edit, re-parsing only the pieces the edit reaches.
//!
//! The parser is line-oriented and a top-level piece (an instruction with
//! its continuation lines and heredoc bodies, a comment, a blank line)
//! depends only on its own lines and the escape character. So after an
//! edit, the pieces before the first one the edit touches are kept as they
//! are; parsing restarts at that piece and stops at the first piece end
//! past the edit that is also a piece boundary of the old tree: from there
//! on the text is the old text, shifted, and so are its pieces, whose spans
//! are shifted by the change in length. A changed continuation or heredoc
//! simply makes the re-parsed run longer.
//!
//! Whenever that reasoning does not hold a full parse is made instead: an
//! edit in the parser directives at the top (or the first line after them,
//! which may be a directive too, or could become one; `# escape=` changes
//! every instruction), or in a byte-order mark. Pure: no I/O.
//!
//! [`reparse`] gives a tree equal to [`parse`] of the new text; the fuzz
//! target `incremental` and the `dockerfile_incremental` tests compare the
//! two on random edits.

use super::parser::{parse, parse_window};
use super::syntax::*;
use super::text::{LineIndex, Span};

/// Where two texts differ: the bytes `start..old_end` of the old text were
/// replaced by `start..new_end` of the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub old_end: usize,
    pub new_end: usize,
}

impl Edit {
    /// The smallest edit turning `old` into `new`: their common prefix and
    /// suffix are kept. Linear, compared a block at a time.
    pub fn between(old: &str, new: &str) -> Edit {
        let (a, b) = (old.as_bytes(), new.as_bytes());
        let max = a.len().min(b.len());
        let start = common_prefix(a, b, max);
        let tail = common_suffix(a, b, max - start);
        Edit {
            start,
            old_end: a.len() - tail,
            new_end: b.len() - tail,
        }
    }
}

const BLOCK: usize = 256;

fn common_prefix(a: &[u8], b: &[u8], max: usize) -> usize {
    let mut i = 0;
    // Whole blocks by slice equality (memcmp), then byte by byte.
    while i + BLOCK <= max && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    while i < max && a[i] == b[i] {
        i += 1;
    }
    i
}

fn common_suffix(a: &[u8], b: &[u8], max: usize) -> usize {
    let (la, lb) = (a.len(), b.len());
    let mut n = 0;
    while n + BLOCK <= max && a[la - n - BLOCK..la - n] == b[lb - n - BLOCK..lb - n] {
        n += BLOCK;
    }
    while n < max && a[la - n - 1] == b[lb - n - 1] {
        n += 1;
    }
    n
}

/// The tree of `new`, re-using `old` (the tree of an earlier text) as far as
/// the difference allows. Equal to `parse(new)`.
pub fn reparse(old: Dockerfile, new: &str) -> Dockerfile {
    match try_reparse(old, new) {
        Ok((df, _)) => df,
        Err(_) => parse(new),
    }
}

/// Why [`try_reparse`] did not re-parse incrementally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullParse {
    /// The edit reaches the BOM, the parser directives or the first line
    /// after them.
    Header,
}

/// Like [`reparse`], but says when it would parse the whole text instead,
/// and otherwise how many pieces it parsed anew (for tests and
/// measurements). The old tree is consumed either way.
pub fn try_reparse(mut old: Dockerfile, new: &str) -> Result<(Dockerfile, usize), FullParse> {
    let edit = Edit::between(&old.source, new);
    if edit.start == old.source.len() && edit.old_end == edit.start && edit.new_end == edit.start {
        // Same text.
        return Ok((
            Dockerfile {
                source: new.to_string(),
                ..old
            },
            0,
        ));
    }
    // The header: the BOM, the directives and the first piece after them
    // (the line that ended the directives could become one, and any comment
    // line before the first instruction or blank line could, once an
    // earlier line changes).
    let header_end = old
        .pieces
        .iter()
        .find(|p| matches!(p.kind, PieceKind::Blank | PieceKind::Instruction(_)))
        .map_or(usize::MAX, |p| p.span.end);
    if edit.start <= header_end {
        return Err(FullParse::Header);
    }
    // The first piece the edit touches (or ends at, as text appended to a
    // line without a line break belongs to it).
    let a = old.pieces.partition_point(|p| p.span.end < edit.start);
    let from = old.pieces.get(a).map_or(old.source.len(), |p| p.span.start);
    let delta = edit.new_end as isize - edit.old_end as isize;
    let old_len = old.source.len();
    // Stop at a piece end past the edit that is an old piece start too.
    let pieces_old = &old.pieces;
    let mut resync = None;
    let window = parse_window(new, from, old.escape, |end| {
        if end < edit.new_end {
            return false;
        }
        let at = (end as isize - delta) as usize;
        if at >= old_len {
            return false; // runs to the end: nothing to re-use
        }
        match pieces_old.binary_search_by_key(&at, |p| p.span.start) {
            Ok(b) => {
                resync = Some(b);
                true
            }
            Err(_) => false,
        }
    });
    let b = resync.unwrap_or(old.pieces.len());
    let old_after = old.pieces.get(b).map_or(old_len, |p| p.span.start);

    // Instruction indices: those of pieces `a..b` are replaced.
    let first_instruction = |pieces: &[Piece], default: usize| {
        pieces
            .iter()
            .find_map(|p| match p.kind {
                PieceKind::Instruction(k) => Some(k),
                _ => None,
            })
            .unwrap_or(default)
    };
    let n_ins = old.instructions.len();
    let ins_a = first_instruction(&old.pieces[a..], n_ins);
    let ins_b = first_instruction(&old.pieces[b..], n_ins);
    let added = window.instructions.len();
    let reparsed = window.pieces.len();

    // Pieces.
    let window_pieces = window.pieces.into_iter().map(|mut p| {
        if let PieceKind::Instruction(k) = &mut p.kind {
            *k += ins_a;
        }
        p
    });
    splice(&mut old.pieces, a..b, window_pieces, |p| {
        shift(&mut p.span, delta);
        if let PieceKind::Instruction(k) = &mut p.kind {
            *k = *k - ins_b + ins_a + added;
        }
    });

    // Instructions.
    splice(
        &mut old.instructions,
        ins_a..ins_b,
        window.instructions.into_iter(),
        |ins| shift_instruction(ins, delta),
    );

    // Errors: each lies inside its piece.
    let e_a = old.errors.partition_point(|e| e.span.start < from);
    let e_b = match resync {
        Some(_) => old.errors.partition_point(|e| e.span.start < old_after),
        None => old.errors.len(),
    };
    splice(&mut old.errors, e_a..e_b, window.errors.into_iter(), |e| {
        shift(&mut e.span, delta)
    });

    old.line_index = LineIndex::new(new);
    old.source = new.to_string();
    Ok((old, reparsed))
}

/// Replaces `v[range]` with `new` and applies `fix` to every element after
/// it (the old ones, moved by the edit).
fn splice<T>(
    v: &mut Vec<T>,
    range: std::ops::Range<usize>,
    new: impl ExactSizeIterator<Item = T>,
    fix: impl FnMut(&mut T),
) {
    let after = range.start + new.len();
    v.splice(range, new);
    v[after..].iter_mut().for_each(fix);
}

fn shift(span: &mut Span, delta: isize) {
    span.start = (span.start as isize + delta) as usize;
    span.end = (span.end as isize + delta) as usize;
}

fn shift_opt(span: &mut Option<Span>, delta: isize) {
    if let Some(s) = span {
        shift(s, delta);
    }
}

fn shift_word(w: &mut Word, delta: isize) {
    shift(&mut w.span, delta);
}

/// Moves every span of `ins` by `delta` bytes. Destructured field by field
/// so that a new field with a span cannot be forgotten here.
fn shift_instruction(ins: &mut Instruction, delta: isize) {
    let Instruction {
        kind: _,
        keyword: _,
        keyword_span,
        span,
        line_span,
        flags,
        rest_span,
        form: _,
        args,
        key_values,
        legacy_key_value: _,
        from,
        heredocs,
        onbuild,
        empty_continuation_lines,
        comment_lines,
        variables,
    } = ins;
    shift(keyword_span, delta);
    shift(span, delta);
    shift(line_span, delta);
    shift(rest_span, delta);
    for f in flags.iter_mut() {
        let Flag {
            span,
            name: _,
            name_span,
            value: _,
            value_span,
        } = f;
        shift(span, delta);
        shift(name_span, delta);
        shift_opt(value_span, delta);
    }
    for w in args.iter_mut() {
        shift_word(w, delta);
    }
    for kv in key_values.iter_mut() {
        let KeyValue {
            key: _,
            key_span,
            value: _,
            value_span,
            span,
        } = kv;
        shift(key_span, delta);
        shift_opt(value_span, delta);
        shift(span, delta);
    }
    if let Some(f) = from {
        let FromClause {
            image,
            as_keyword,
            stage_name,
        } = &mut **f;
        shift_word(image, delta);
        if let Some(w) = as_keyword {
            shift_word(w, delta);
        }
        if let Some(w) = stage_name {
            shift_word(w, delta);
        }
    }
    for h in heredocs.iter_mut() {
        let Heredoc {
            name: _,
            span,
            body: _,
            body_span,
            terminator_span,
            expand: _,
            strip_tabs: _,
            fd: _,
        } = h;
        shift(span, delta);
        shift(body_span, delta);
        shift_opt(terminator_span, delta);
    }
    if let Some(inner) = onbuild {
        shift_instruction(inner, delta);
    }
    for s in empty_continuation_lines.iter_mut() {
        shift(s, delta);
    }
    for s in comment_lines.iter_mut() {
        shift(s, delta);
    }
    for v in variables.iter_mut() {
        let VarRef {
            name: _,
            name_span,
            span,
            braced: _,
            operator: _,
            operand,
        } = v;
        shift(name_span, delta);
        shift(span, delta);
        if let Some(w) = operand {
            shift_word(w, delta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(old: &str, new: &str) -> Result<usize, FullParse> {
        let got = try_reparse(parse(old), new);
        let n = got.as_ref().map(|(_, n)| *n).map_err(|e| *e);
        if let Ok((df, _)) = got {
            assert_eq!(df, parse(new), "{old:?} -> {new:?}");
        }
        n
    }

    const FILE: &str = "# syntax=docker/dockerfile:1\nFROM alpine AS base\nRUN a \\\n  b\nENV A=1\n\nRUN <<EOF\necho\nEOF\nCOPY x /y\n";

    #[test]
    fn an_edit_inside_one_instruction_reparses_only_it() {
        let new = FILE.replace("ENV A=1", "ENV A=12");
        assert_eq!(check(FILE, &new), Ok(1));
        let new = FILE.replace("  b\n", "  bc\n");
        assert_eq!(check(FILE, &new), Ok(1));
    }

    #[test]
    fn a_removed_continuation_reparses_the_lines_it_joined() {
        // `RUN a \` loses its escape: `  b` becomes an instruction of its own.
        let new = FILE.replace("RUN a \\\n", "RUN a\n");
        assert_eq!(check(FILE, &new), Ok(2));
        // And an added one swallows the next line again.
        assert_eq!(check(&new, FILE), Ok(1));
        // Across a blank line, into a heredoc instruction whose body lines
        // become instructions: re-parsed up to the next unchanged piece.
        let new = FILE.replace("ENV A=1\n", "ENV A=1 \\\n");
        assert_eq!(check(FILE, &new), Ok(3));
    }

    #[test]
    fn a_changed_heredoc_terminator_reparses_to_the_new_end() {
        let new = FILE.replace("EOF\nCOPY", "EOX\nCOPY");
        // The heredoc now runs to the end of the file.
        assert!(check(FILE, &new).is_ok());
        let back = check(&new, FILE);
        assert!(back.is_ok());
    }

    #[test]
    fn edits_in_the_header_parse_everything() {
        let new = FILE.replace("# syntax=docker/dockerfile:1", "# escape=`");
        assert_eq!(check(FILE, &new), Err(FullParse::Header));
        let new = FILE.replace("FROM alpine", "FROM alpine:3");
        assert_eq!(check(FILE, &new), Err(FullParse::Header));
    }

    #[test]
    fn the_difference_of_two_texts_is_their_middle() {
        assert_eq!(
            Edit::between("abcdef", "abXYef"),
            Edit {
                start: 2,
                old_end: 4,
                new_end: 4
            }
        );
        let long = "x".repeat(1000);
        let e = Edit::between(&long, &format!("{long}y"));
        assert_eq!((e.start, e.old_end, e.new_end), (1000, 1000, 1001));
        let e = Edit::between(&long, &long[1..]);
        assert_eq!(e.old_end - e.start, 1);
        assert_eq!(e.new_end, e.start);
    }
}
