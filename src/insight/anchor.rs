//! An instruction's place in a document that keeps changing: the lines it
//! had when a build saw it, and where they are now. Used by the failed-step
//! diagnostic and by the build insight's hints, so both follow edits the
//! same way: lines inserted or removed above move the anchor, an edit inside
//! the instruction drops it.

use serde::{Deserialize, Serialize};

/// The lines of one instruction and where they start (0-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub start_line: usize,
    pub lines: Vec<String>,
}

impl Anchor {
    /// The lines `start..=end` (0-based, inclusive) of `text`; `None` when
    /// they run past its end.
    pub fn of_lines(text: &str, start: usize, end: usize) -> Option<Anchor> {
        let end = end.max(start);
        let lines: Vec<String> = text
            .lines()
            .skip(start)
            .take(end - start + 1)
            .map(str::to_string)
            .collect();
        (lines.len() == end - start + 1).then_some(Anchor {
            start_line: start,
            lines,
        })
    }

    /// The last line's index.
    pub fn end_line(&self) -> usize {
        self.start_line + self.lines.len().saturating_sub(1)
    }

    /// Finds the lines in the document's new `text`: where they were, else
    /// the nearest place with exactly these lines (lines above changed).
    /// Returns false when they are gone (the instruction was edited).
    pub fn relocate(&mut self, text: &str) -> bool {
        let current: Vec<&str> = text.lines().collect();
        let n = self.lines.len();
        let matches_at = |at: usize| {
            current
                .get(at..at + n)
                .is_some_and(|found| found.iter().zip(&self.lines).all(|(a, b)| *a == b))
        };
        if matches_at(self.start_line) {
            return true;
        }
        let nearest = (0..(current.len() + 1).saturating_sub(n))
            .filter(|&at| matches_at(at))
            .min_by_key(|&at| at.abs_diff(self.start_line));
        match nearest {
            Some(at) => {
                self.start_line = at;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_lines_above_and_is_lost_on_an_edit_inside() {
        let text = "FROM a\nRUN x \\\n  y\nCMD z\n";
        let mut a = Anchor::of_lines(text, 1, 2).unwrap();
        assert_eq!(a.end_line(), 2);
        assert!(a.relocate(&format!("# c\n{text}")));
        assert_eq!(a.start_line, 2);
        assert!(!a.relocate(&text.replace("  y", "  w")));
        assert_eq!(Anchor::of_lines(text, 3, 5), None);
    }
}
