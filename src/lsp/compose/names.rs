//! The names a Compose file declares (services, networks, volumes,
//! configs, secrets: the keys of the top-level sections) and where it
//! refers to them: `depends_on`, `extends` (without `file`), `links`
//! (`svc` or `svc:alias`), `additional_contexts: service:NAME` for
//! services; a service's `networks`; its `volumes` (a named source:
//! `data:/path` or `{source: data}` of type volume); `configs` and
//! `secrets` of services and of `build` (`name` or `{source: name}`).
//! For definition, references, rename, completion and document symbols.

use crate::build::compose::yaml::{Node, Value};
use crate::dockerfile::Span;

use super::schema::Seg;

/// What a name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Service,
    Network,
    Volume,
    Config,
    Secret,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Service,
        Kind::Network,
        Kind::Volume,
        Kind::Config,
        Kind::Secret,
    ];

    /// The top-level section declaring them.
    pub fn section(self) -> &'static str {
        match self {
            Kind::Service => "services",
            Kind::Network => "networks",
            Kind::Volume => "volumes",
            Kind::Config => "configs",
            Kind::Secret => "secrets",
        }
    }
}

/// The declarations of a kind: (name, span of the key).
pub fn declarations(root: &Node, kind: Kind) -> Vec<(String, Span)> {
    root.get(kind.section())
        .and_then(Node::as_map)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| Some((e.key.as_str()?.to_string(), e.key.span)))
        .collect()
}

/// A reference: the name, its span in the text, what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub kind: Kind,
    pub name: String,
    pub span: Span,
}

/// The kind of name a value at `path` refers to (for completion).
pub fn reference_kind(path: &[Seg]) -> Option<Kind> {
    let keys: Vec<&str> = path
        .iter()
        .map(|s| match s {
            Seg::Key(k) => k.as_str(),
            Seg::Item => "[]",
        })
        .collect();
    match keys.as_slice() {
        ["services", _, "depends_on", ..] | ["services", _, "links", ..] => Some(Kind::Service),
        ["services", _, "extends", ..] => Some(Kind::Service),
        ["services", _, "networks", ..] => Some(Kind::Network),
        ["services", _, "volumes", ..] => Some(Kind::Volume),
        ["services", _, "configs", ..] => Some(Kind::Config),
        ["services", _, "secrets", ..] | ["services", _, "build", "secrets", ..] => {
            Some(Kind::Secret)
        }
        _ => None,
    }
}

/// Every reference in the document.
pub fn references(root: &Node) -> Vec<Reference> {
    let mut out = Vec::new();
    let Some(services) = root.get("services").and_then(Node::as_map) else {
        return out;
    };
    let mut push = |kind: Kind, node: &Node, text: &str, start_in_text: usize| {
        // Quoted scalars: the name sits inside the quotes.
        let quote = usize::from(!matches!(node.value, Value::Scalar { plain: true, .. }));
        let start = node.span.start + quote + start_in_text;
        out.push(Reference {
            kind,
            name: text.to_string(),
            span: Span::new(start, start + text.len()),
        });
    };
    for svc in services {
        let s = &svc.value;
        // depends_on: list, or mapping of names.
        if let Some(d) = s.get("depends_on") {
            names_in(d, &mut |n, t| push(Kind::Service, n, t, 0));
        }
        if let Some(links) = s.get("links").and_then(Node::as_seq) {
            for l in links {
                if let Some(t) = l.as_str() {
                    let name = t.split(':').next().unwrap_or(t);
                    push(Kind::Service, l, name, 0);
                }
            }
        }
        if let Some(e) = s.get("extends") {
            match e.get("service") {
                Some(n) if e.get("file").is_none() => {
                    if let Some(t) = n.as_str() {
                        push(Kind::Service, n, t, 0);
                    }
                }
                _ => {
                    if let Some(t) = e.as_str() {
                        push(Kind::Service, e, t, 0);
                    }
                }
            }
        }
        if let Some(ctxs) = s.get("build").and_then(|b| b.get("additional_contexts")) {
            let mut each = |n: &Node| {
                if let Some(t) = n.as_str() {
                    let value = t.split_once('=').map_or(t, |(_, v)| v);
                    if let Some(name) = value.strip_prefix("service:") {
                        let at = t.len() - name.len();
                        push(Kind::Service, n, name, at);
                    }
                }
            };
            match &ctxs.value {
                Value::Map(entries) => entries.iter().for_each(|e| each(&e.value)),
                Value::Seq(items) => items.iter().for_each(&mut each),
                Value::Scalar { .. } => {}
            }
        }
        if let Some(n) = s.get("networks") {
            names_in(n, &mut |n, t| push(Kind::Network, n, t, 0));
        }
        if let Some(vols) = s.get("volumes").and_then(Node::as_seq) {
            for v in vols {
                if let Some(t) = v.as_str() {
                    let source = t.split(':').next().unwrap_or("");
                    if t.contains(':') && is_volume_name(source) {
                        push(Kind::Volume, v, source, 0);
                    }
                } else if let Some(src) = v.get("source") {
                    let volume = v
                        .get("type")
                        .and_then(Node::as_str)
                        .is_none_or(|t| t == "volume");
                    if let Some(t) = src.as_str().filter(|t| volume && is_volume_name(t)) {
                        push(Kind::Volume, src, t, 0);
                    }
                }
            }
        }
        for (key, kind) in [("configs", Kind::Config), ("secrets", Kind::Secret)] {
            sources_in(s.get(key), &mut |n, t| push(kind, n, t, 0));
        }
        sources_in(
            s.get("build").and_then(|b| b.get("secrets")),
            &mut |n, t| push(Kind::Secret, n, t, 0),
        );
    }
    out
}

/// Names as list items or mapping keys.
fn names_in<'a>(node: &'a Node, f: &mut dyn FnMut(&'a Node, &'a str)) {
    match &node.value {
        Value::Seq(items) => {
            for i in items {
                if let Some(t) = i.as_str() {
                    f(i, t);
                }
            }
        }
        Value::Map(entries) => {
            for e in entries {
                if let Some(t) = e.key.as_str() {
                    f(&e.key, t);
                }
            }
        }
        Value::Scalar { .. } => {}
    }
}

/// `- name` or `- source: name` items.
fn sources_in<'a>(node: Option<&'a Node>, f: &mut dyn FnMut(&'a Node, &'a str)) {
    for i in node.and_then(Node::as_seq).unwrap_or_default() {
        match (i.as_str(), i.get("source")) {
            (Some(t), _) => f(i, t),
            (None, Some(s)) => {
                if let Some(t) = s.as_str() {
                    f(s, t);
                }
            }
            _ => {}
        }
    }
}

/// A volume source that is a name, not a path.
fn is_volume_name(s: &str) -> bool {
    !s.is_empty() && !s.starts_with(['.', '/', '~', '$']) && !s.contains('/')
}

/// The name under `offset`: a declaration or a reference.
pub fn name_at(root: &Node, offset: usize) -> Option<(Kind, String, Span)> {
    for kind in Kind::ALL {
        for (name, span) in declarations(root, kind) {
            if span.start <= offset && offset <= span.end {
                return Some((kind, name, span));
            }
        }
    }
    references(root)
        .into_iter()
        .find(|r| r.span.start <= offset && offset <= r.span.end)
        .map(|r| (r.kind, r.name, r.span))
}

/// Every occurrence of a name (declaration first when there is one).
pub fn occurrences(root: &Node, kind: Kind, name: &str) -> Vec<Span> {
    let mut out: Vec<Span> = declarations(root, kind)
        .into_iter()
        .filter(|(n, _)| n == name)
        .map(|(_, s)| s)
        .collect();
    out.extend(
        references(root)
            .into_iter()
            .filter(|r| r.kind == kind && r.name == name)
            .map(|r| r.span),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::compose::yaml;

    const TEXT: &str = "services:\n  web:\n    depends_on: [db]\n    links: [\"db:database\"]\n    networks: [front]\n    volumes: [\"data:/var/lib\", \"./src:/src\"]\n    secrets: [{source: tok}]\n  db:\n    extends: base\n    depends_on:\n      web:\n        condition: service_started\n  base:\n    image: x\nnetworks:\n  front: {}\nvolumes:\n  data: {}\nsecrets:\n  tok:\n    file: t\n";

    #[test]
    fn references_name_what_they_point_at() {
        let root = yaml::parse(TEXT, 0).unwrap();
        let found: Vec<(Kind, &str, &str)> = references(&root)
            .iter()
            .map(|r| (r.kind, r.name.as_str(), r.span.slice(TEXT)))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|(k, n, s)| (k, Box::leak(n.to_string().into_boxed_str()) as &str, s))
            .collect();
        assert_eq!(
            found,
            vec![
                (Kind::Service, "db", "db"),
                (Kind::Service, "db", "db"),
                (Kind::Network, "front", "front"),
                (Kind::Volume, "data", "data"),
                (Kind::Secret, "tok", "tok"),
                (Kind::Service, "web", "web"),
                (Kind::Service, "base", "base"),
            ]
        );
    }

    #[test]
    fn occurrences_start_at_the_declaration() {
        let root = yaml::parse(TEXT, 0).unwrap();
        let at = TEXT.find("[db]").unwrap() + 1;
        let (kind, name, _) = name_at(&root, at).unwrap();
        assert_eq!((kind, name.as_str()), (Kind::Service, "db"));
        let spans = occurrences(&root, kind, &name);
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[0].start, TEXT.find("  db:\n").unwrap() + 2);
    }
}
