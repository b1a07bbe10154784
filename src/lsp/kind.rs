//! Which language an open document is in: a Dockerfile, a bake file (HCL or
//! JSON) or a Compose file. Every request dispatches on it, so a
//! `docker-bake.hcl` never gets a Dockerfile's outline or formatting and a
//! `compose.yaml` never gets Dockerfile diagnostics. Decided once, at
//! `didOpen`, from the file name first (the names `docker buildx bake` and
//! `docker compose` look for) and the client's language id second (a bake or
//! Compose file under another name, opened by a client that knows it).

use std::path::Path;

use ls_types::Uri;

use crate::build::bake::is_bake_file;
use crate::build::compose::is_compose_file;
use crate::lsp::uri::uri_path;

/// The language of an open document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Dockerfile,
    Bake(BakeSyntax),
    Compose,
}

/// A bake file's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BakeSyntax {
    Hcl,
    Json,
}

impl DocKind {
    /// The kind of the document at `uri` that the client opened with
    /// `language_id`. Anything not recognised is a Dockerfile: clients
    /// start this server for Dockerfiles under any name (`Containerfile`,
    /// `*.dockerfile`, `Dockerfile.dev`).
    pub fn classify(uri: &Uri, language_id: &str) -> DocKind {
        if let Some(path) = uri_path(uri) {
            if let Some(kind) = Self::by_name(&path) {
                return kind;
            }
        }
        match language_id {
            // `dockerbake`: the VS Code extension's (and Docker's) bake language.
            "hcl" | "terraform" | "dockerbake" => DocKind::Bake(BakeSyntax::Hcl),
            "json" | "jsonc" => DocKind::Bake(BakeSyntax::Json),
            "dockercompose" | "yaml" => DocKind::Compose,
            _ => DocKind::Dockerfile,
        }
    }

    /// The kind a file name alone says.
    fn by_name(path: &Path) -> Option<DocKind> {
        if is_bake_file(path) {
            let json = path.extension().is_some_and(|e| e == "json");
            return Some(DocKind::Bake(if json {
                BakeSyntax::Json
            } else {
                BakeSyntax::Hcl
            }));
        }
        is_compose_file(path).then_some(DocKind::Compose)
    }

    pub fn is_dockerfile(self) -> bool {
        self == DocKind::Dockerfile
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(uri: &str, lang: &str) -> DocKind {
        DocKind::classify(&uri.parse().unwrap(), lang)
    }

    #[test]
    fn file_names_decide_before_language_ids() {
        assert_eq!(
            kind("file:///w/docker-bake.hcl", "dockerfile"),
            DocKind::Bake(BakeSyntax::Hcl)
        );
        assert_eq!(
            kind("file:///w/docker-bake.override.json", "json"),
            DocKind::Bake(BakeSyntax::Json)
        );
        assert_eq!(kind("file:///w/compose.yaml", "yaml"), DocKind::Compose);
        assert_eq!(
            kind("file:///w/docker-compose.override.yml", "dockerfile"),
            DocKind::Compose
        );
        assert_eq!(
            kind("file:///w/Dockerfile", "dockerfile"),
            DocKind::Dockerfile
        );
    }

    #[test]
    fn language_ids_name_bake_and_compose_files_under_other_names() {
        assert_eq!(
            kind("file:///w/ci/release.hcl", "hcl"),
            DocKind::Bake(BakeSyntax::Hcl)
        );
        assert_eq!(
            kind("file:///w/ci/stack.yaml", "dockercompose"),
            DocKind::Compose
        );
        assert_eq!(
            kind("file:///w/Containerfile", "plaintext"),
            DocKind::Dockerfile
        );
        assert_eq!(
            kind("untitled:Untitled-1", "dockerfile"),
            DocKind::Dockerfile
        );
    }
}
