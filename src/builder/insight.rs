//! The build insight's memory on disk: per build key (builder, Dockerfile,
//! target) the previous build's [`Inputs`] and the last few explained
//! builds, in one small JSON file, so the next build (from the editor or the
//! CLI, after a restart too) is compared with the last one.
//!
//! Bounded: [`MAX_KEYS`] keys (the least recently built go first),
//! [`MAX_BUILDS`] builds per key, and `insight::MAX_FILE_DIGESTS` file
//! digests per key. The file lives in `$BUILDKIT_LSP_STATE_DIR`, else
//! `<user cache dir>/buildkit-lsp`; `BUILDKIT_LSP_INSIGHT=off` turns the
//! insight off. A file that cannot be read or parsed is
//! replaced (with a warning in the log): the insight never fails a build.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::insight::{explain, Explained, Inputs, Observation};

/// Build keys kept.
pub const MAX_KEYS: usize = 32;
/// Builds kept per key (the hover shows them).
pub const MAX_BUILDS: usize = 5;
/// The file's name in the state directory.
const FILE: &str = "build-insight.json";
const VERSION: u32 = 1;

/// What identifies a series of builds to compare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub builder: String,
    /// The Dockerfile's absolute path.
    pub dockerfile: PathBuf,
    pub target: Option<String>,
}

/// One key's memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub key: Key,
    pub inputs: Inputs,
    /// Oldest first.
    pub builds: Vec<Explained>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    /// Least recently built first.
    entries: Vec<Entry>,
}

/// A build explained, with the key's earlier builds, for the front ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInsight {
    pub key: Key,
    /// Oldest first, this build last.
    pub builds: Vec<Explained>,
}

impl BuildInsight {
    /// This build.
    pub fn last(&self) -> Option<&Explained> {
        self.builds.last()
    }
}

/// Whether builds are explained and remembered: unless
/// `BUILDKIT_LSP_INSIGHT` is `0` or `off` (for the cost benchmark,
/// `benches/insight.rs`, and for whoever wants nothing on disk).
pub fn enabled() -> bool {
    !matches!(
        std::env::var("BUILDKIT_LSP_INSIGHT").as_deref(),
        Ok("0" | "off" | "false")
    )
}

/// The state directory: `$BUILDKIT_LSP_STATE_DIR`, else the user's cache
/// directory's `buildkit-lsp`.
pub fn state_dir() -> Option<PathBuf> {
    match std::env::var_os("BUILDKIT_LSP_STATE_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => dirs::cache_dir().map(|d| d.join("buildkit-lsp")),
    }
}

/// The file in `dir`.
pub fn store_file(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

fn read(path: &Path) -> File {
    match std::fs::read(path) {
        Ok(bytes) => match serde_json::from_slice::<File>(&bytes) {
            Ok(f) if f.version == VERSION => f,
            Ok(_) => File::default(),
            Err(e) => {
                tracing::warn!(
                    "build insight: {} is not readable ({e}); starting afresh",
                    path.display()
                );
                File::default()
            }
        },
        Err(_) => File::default(),
    }
}

/// Every key's memory in `dir`, least recently built first.
pub fn load(dir: &Path) -> Vec<Entry> {
    read(&store_file(dir)).entries
}

/// Explains `obs` against the key's previous build in `dir`, remembers it
/// there, and returns it with the key's earlier builds. A store that cannot
/// be written is logged; the explanation is returned all the same.
pub fn record(dir: &Path, key: Key, obs: &Observation, ended: u64) -> BuildInsight {
    let path = store_file(dir);
    let mut file = read(&path);
    file.version = VERSION;
    let at = file.entries.iter().position(|e| e.key == key);
    let mut entry = match at {
        Some(i) => file.entries.remove(i),
        None => Entry {
            key: key.clone(),
            inputs: Inputs::default(),
            builds: Vec::new(),
        },
    };
    let prev = at.map(|_| &entry.inputs);
    let (explained, inputs) = explain(obs, prev, ended);
    entry.inputs = inputs;
    entry.builds.push(explained);
    let extra = entry.builds.len().saturating_sub(MAX_BUILDS);
    entry.builds.drain(..extra);
    let insight = BuildInsight {
        key,
        builds: entry.builds.clone(),
    };
    file.entries.push(entry);
    let extra = file.entries.len().saturating_sub(MAX_KEYS);
    file.entries.drain(..extra);
    if let Err(e) = write(&path, &file) {
        tracing::warn!("build insight: cannot write {}: {e}", path.display());
    }
    insight
}

/// Writes through a temporary file and a rename, so a reader never sees
/// half a file.
fn write(path: &Path, file: &File) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("json.{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(file)?)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insight::VertexRecord;

    fn obs(run: bool) -> Observation {
        Observation {
            dockerfile: "FROM a\nRUN x\n".into(),
            vertices: vec![VertexRecord {
                name: "[2/2] RUN x".into(),
                cached: !run,
                ..VertexRecord::default()
            }],
            ok: true,
            ..Observation::default()
        }
    }

    fn key(target: &str) -> Key {
        Key {
            builder: "default".into(),
            dockerfile: "/w/Dockerfile".into(),
            target: Some(target.into()),
        }
    }

    #[test]
    fn builds_are_remembered_per_key_within_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let first = record(dir.path(), key("a"), &obs(true), 1);
        assert_eq!(first.builds.len(), 1);
        for n in 0..(MAX_BUILDS + 2) {
            record(dir.path(), key("a"), &obs(false), 2 + n as u64);
        }
        let entries = load(dir.path());
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].builds.len(), MAX_BUILDS);
        assert!(entries[0].builds.iter().all(|b| b.steps[0].cached));
        for k in 0..(MAX_KEYS + 3) {
            record(dir.path(), key(&format!("t{k}")), &obs(true), 100);
        }
        let entries = load(dir.path());
        assert_eq!(entries.len(), MAX_KEYS);
        // The oldest keys went first.
        assert!(entries.iter().all(|e| e.key != key("a")));
    }

    #[test]
    fn a_damaged_file_is_replaced_and_the_build_still_explained() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(store_file(dir.path()), b"{not json").unwrap();
        let i = record(dir.path(), key("a"), &obs(true), 1);
        assert_eq!(i.last().unwrap().steps.len(), 1);
        assert_eq!(load(dir.path()).len(), 1);
    }
}
