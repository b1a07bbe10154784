//! Document links of a bake file: a target's `dockerfile` to the file it
//! names (relative to the target's context), its `context` and local
//! `contexts` to their folders.

use ls_types::{DocumentLink, Uri};

use super::{outlines, target_dockerfile_path, BakeDoc};
use crate::build::bake_syntax::Value;
use crate::lsp::session::Session;

pub fn links(session: &Session, doc: &BakeDoc) -> Vec<DocumentLink> {
    let Some(base) = doc
        .path
        .as_ref()
        .and_then(|p| p.parent())
        .map(|p| p.to_path_buf())
    else {
        return Vec::new();
    };
    let files = outlines(&doc.folder_files(session));
    let mut out = Vec::new();
    let mut push = |span, path: std::path::PathBuf, tooltip: String| {
        let path = crate::build::bake::normalize(&path);
        if !path.exists() {
            return;
        }
        if let Some(uri) = Uri::from_file_path(&path) {
            out.push(DocumentLink {
                range: doc.range(span),
                target: Some(uri),
                tooltip: Some(tooltip),
                data: None,
            });
        }
    };
    for b in doc.outline.blocks_of("target") {
        let Some((name, _)) = b.name() else { continue };
        for a in &b.attrs {
            match (a.key.as_str(), &a.value) {
                ("dockerfile", v) => {
                    if let (Some((_, span)), Some(path)) =
                        (v.as_str(), target_dockerfile_path(doc, &files, name))
                    {
                        push(span, path, format!("Open the Dockerfile of target {name}"));
                    }
                }
                ("context", v) => {
                    if let Some((c, span)) = v.as_str().filter(|(c, _)| !c.contains("://")) {
                        push(span, base.join(c), "Open the build context".to_string());
                    }
                }
                ("contexts", Value::Object(entries)) => {
                    for e in entries {
                        if let Some((c, span)) = e.value.as_str() {
                            if !c.contains(':') || c.starts_with("./") || c.starts_with('/') {
                                push(span, base.join(c), format!("Open the context {}", e.key));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}
