//! Capability diagnostics: the build a Dockerfile is configured with (bake
//! file, `buildkit.build.*` settings, defaults) checked against the selected
//! builder's driver features, published with the document's other
//! diagnostics; and, on open bake files, the same findings at the attribute.

use ls_types::{CodeLens, Uri};

use crate::lsp::ignore_files::uri_path;
use crate::lsp::session::Session;

/// The file names `docker buildx bake` reads.
const BAKE_FILE_NAMES: [&str; 4] = [
    "docker-bake.json",
    "docker-bake.hcl",
    "docker-bake.override.json",
    "docker-bake.override.hcl",
];

/// Whether a document is a bake file (by its file name, any languageId).
pub fn is_bake_uri(uri: &Uri) -> bool {
    uri_path(uri)
        .as_deref()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .is_some_and(|n| BAKE_FILE_NAMES.contains(&n))
}

/// The lenses of an open bake file.
pub fn bake_lenses(_session: &Session, _uri: &Uri) -> Vec<CodeLens> {
    Vec::new()
}

/// The tags the line-0 build of a Dockerfile would give its image.
pub fn tags_for(_session: &Session, _uri: &Uri) -> Vec<String> {
    Vec::new()
}
