//! A YAML document as a tree whose every node keeps its byte span, built
//! from the events of `saphyr-parser` (the event parser of the `saphyr`
//! YAML 1.2 library, which gives each event a start and an end marker).
//! Compose files need no more than this: mappings in order (duplicate keys
//! kept, so a checker can name them), sequences, scalars with their style,
//! anchors and aliases (an alias is a copy of the anchored node, spans
//! included), and `<<` merge keys resolved on request
//! ([`Node::resolve_merge_keys`]).

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::dockerfile::Span;

/// One node of a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Which source file the node was read from (an index the caller
    /// gives; merged trees mix files).
    pub file: usize,
    /// Byte span in that file: a scalar's text (quotes included), a
    /// collection from its first to its last byte.
    pub span: Span,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A scalar; `plain` when written without quotes or block indicator
    /// (only plain scalars can be `null`, `true`, numbers).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A mapping entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

impl Entry {
    /// From the key's first byte to the value's last.
    pub fn span(&self) -> Span {
        self.key.span.cover(self.value.span)
    }
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub span: Span,
    pub message: String,
}

impl Node {
    /// The scalar text, if a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// `null`, `~` or nothing, written plain.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The entry of a mapping with key `key` (the last, as YAML loaders
    /// keep the last of duplicate keys).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_map()?
            .iter()
            .rev()
            .find(|e| e.key.as_str() == Some(key))
    }

    /// The value of a mapping's key.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// A boolean written plain (`true`/`false`, any case as YAML 1.2's
    /// core schema allows).
    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar { text, plain: true } => match text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// Applies the `<<` merge keys of every mapping in the tree: the merged
    /// mapping's (or mappings', first wins) entries are added where the
    /// mapping does not write the key itself.
    pub fn resolve_merge_keys(&mut self) {
        match &mut self.value {
            Value::Scalar { .. } => {}
            Value::Seq(items) => items.iter_mut().for_each(Node::resolve_merge_keys),
            Value::Map(entries) => {
                for e in entries.iter_mut() {
                    e.value.resolve_merge_keys();
                }
                let is_merge = |e: &Entry| matches!(&e.key.value, Value::Scalar { text, plain: true } if text == "<<");
                if !entries.iter().any(is_merge) {
                    return;
                }
                let (merges, mut own): (Vec<Entry>, Vec<Entry>) =
                    entries.drain(..).partition(is_merge);
                for m in merges {
                    let sources: Vec<Node> = match m.value.value {
                        Value::Map(_) => vec![m.value],
                        Value::Seq(items) => items,
                        Value::Scalar { .. } => Vec::new(),
                    };
                    for source in sources {
                        if let Value::Map(extra) = source.value {
                            for e in extra {
                                if !own.iter().any(|o| o.key.as_str() == e.key.as_str()) {
                                    own.push(e);
                                }
                            }
                        }
                    }
                }
                *entries = own;
            }
        }
    }
}

/// Byte offsets of character indexes (saphyr's markers count characters).
struct Offsets {
    /// `None`: the text is ASCII, indexes are offsets.
    table: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Offsets {
        let table = (!text.is_ascii()).then(|| {
            let mut t: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            t.push(text.len());
            t
        });
        Offsets {
            table,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<Node>,
    },
}

/// Parses the first document of `text` (an empty document is an empty
/// mapping). `file` is stored in every node.
pub fn parse(text: &str, file: usize) -> Result<Node, YamlError> {
    let offsets = Offsets::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let empty = Node {
        file,
        span: Span::empty(0),
        value: Value::Map(Vec::new()),
    };
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let at = offsets.byte(e.marker().index());
            YamlError {
                span: Span::new(at, at),
                message: e.info().to_string(),
            }
        })?;
        let (start, end) = (
            offsets.byte(span.start.index()),
            offsets.byte(span.end.index()),
        );
        let done = match event {
            Event::DocumentEnd | Event::StreamEnd => {
                if stack.is_empty() && root.is_some() {
                    break;
                }
                continue;
            }
            Event::Scalar(text, style, anchor, _) => {
                let node = Node {
                    file,
                    span: Span::new(start, end.max(start)),
                    value: Value::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(n) => n.clone(),
                None => {
                    return Err(YamlError {
                        span: Span::new(start, end),
                        message: "unknown anchor".to_string(),
                    })
                }
            },
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq {
                    start,
                    anchor,
                    items: Vec::new(),
                });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map {
                    start,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = stack.pop() else { continue };
                let (start, anchor, value, last) = match frame {
                    Frame::Seq {
                        start,
                        anchor,
                        items,
                    } => {
                        let last = items.last().map(|n| n.span.end);
                        (start, anchor, Value::Seq(items), last)
                    }
                    Frame::Map {
                        start,
                        anchor,
                        entries,
                        ..
                    } => {
                        let last = entries.last().map(|e| e.value.span.end);
                        (start, anchor, Value::Map(entries), last)
                    }
                };
                // A flow collection ends at its closing bracket; a block
                // one at its last item (its end event sits wherever the
                // next token starts).
                let closes = matches!(text.as_bytes().get(start), Some(b'[' | b'{'));
                let end_at = match (closes, last) {
                    (true, _) => end.max(start + 1),
                    (false, Some(l)) => l,
                    (false, None) => start,
                };
                let node = Node {
                    file,
                    span: Span::new(start, end_at.max(start)),
                    value,
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
            _ => continue,
        };
        match stack.last_mut() {
            None => {
                root = Some(done);
            }
            Some(Frame::Seq { items, .. }) => items.push(done),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(done),
                Some(k) => entries.push(Entry {
                    key: k,
                    value: done,
                }),
            },
        }
    }
    Ok(root.unwrap_or(empty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_keep_byte_spans_of_scalars_and_block_collections() {
        let text = "services:\n  web:\n    build: ./dir # c\n    x: [a, \"b\"]\n";
        let root = parse(text, 0).unwrap();
        let web = root.get("services").unwrap().get("web").unwrap();
        let build = web.get("build").unwrap();
        assert_eq!(build.span.slice(text), "./dir");
        let x = web.get("x").unwrap();
        assert_eq!(x.span.slice(text), "[a, \"b\"]");
        assert_eq!(x.as_seq().unwrap()[1].span.slice(text), "\"b\"");
        assert_eq!(web.span.slice(text), "build: ./dir # c\n    x: [a, \"b\"]");
    }

    #[test]
    fn spans_are_bytes_after_wide_characters() {
        let text = "a: \"é✓\"\nb: x\n";
        let root = parse(text, 0).unwrap();
        assert_eq!(root.get("b").unwrap().span.slice(text), "x");
    }

    #[test]
    fn merge_keys_and_aliases_resolve() {
        let text = "x-base: &b\n  context: .\n  target: t\nsvc:\n  <<: *b\n  target: mine\n";
        let mut root = parse(text, 0).unwrap();
        root.resolve_merge_keys();
        let svc = root.get("svc").unwrap();
        assert_eq!(svc.get("target").unwrap().as_str(), Some("mine"));
        assert_eq!(svc.get("context").unwrap().as_str(), Some("."));
    }

    #[test]
    fn syntax_errors_carry_the_offset() {
        let text = "a: [1, 2\nb: c\n";
        let e = parse(text, 0).unwrap_err();
        assert!(e.span.start > 0 && e.span.start <= text.len(), "{e:?}");
    }
}
