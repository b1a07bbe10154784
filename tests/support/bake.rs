//! Bake files read from a test fixture folder: `build/` parses text and does
//! no I/O, so tests read the files the way the editor does (those of
//! buildx's names that exist, in its order).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use buildkit_lsp::build::bake::{bake_file_paths, Bake, BakeSource};
use buildkit_lsp::build::Error;

/// The bake files of `folder` that exist, in buildx's reading order.
pub fn find_bake_files(folder: &Path) -> Vec<PathBuf> {
    bake_file_paths(folder)
        .into_iter()
        .filter(|p| p.is_file())
        .collect()
}

/// Reads and parses the bake files of `folder` (none: an empty `Bake`).
pub fn load_folder(folder: &Path, env: &BTreeMap<String, String>) -> Result<Bake, Error> {
    let mut sources = Vec::new();
    for path in find_bake_files(folder) {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::unreadable(&path, e))?;
        sources.push(BakeSource { path, text });
    }
    Bake::parse(&sources, env)
}
