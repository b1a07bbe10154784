//! The session's cache of `.dockerignore` files (for CopyIgnoredFile):
//! which ignore files apply to a Dockerfile, read once and kept until they
//! change. `lsp::ignore_files` forgets changed files and re-publishes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ls_types::Uri;

use crate::dockerignore::DockerIgnore;
use crate::lsp::uri::uri_path;

/// Parsed ignore files by path; `None` = missing or unreadable (no patterns).
#[derive(Debug, Default)]
pub struct IgnoreCache {
    files: Mutex<HashMap<PathBuf, Option<Arc<DockerIgnore>>>>,
}

/// Whether a path names an ignore file (`.dockerignore`, `X.dockerignore`).
pub fn is_ignore_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".dockerignore"))
}

/// The ignore files that apply to a Dockerfile, preferred first.
pub fn candidates(dockerfile: &Path) -> Vec<PathBuf> {
    let mut out = Vec::with_capacity(2);
    if let Some(name) = dockerfile.file_name().and_then(|n| n.to_str()) {
        out.push(dockerfile.with_file_name(format!("{name}.dockerignore")));
    }
    if let Some(dir) = dockerfile.parent() {
        out.push(dir.join(".dockerignore"));
    }
    out
}

impl IgnoreCache {
    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Option<Arc<DockerIgnore>>>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The patterns for the Dockerfile at `uri` (`None`: no ignore file, or
    /// not a local file). Reads uncached files; never holds the lock across
    /// the read.
    pub async fn for_document(&self, uri: &Uri) -> Option<Arc<DockerIgnore>> {
        let path = uri_path(uri)?;
        for candidate in candidates(&path) {
            if let Some(found) = self.get_or_read(&candidate).await {
                return Some(found);
            }
        }
        None
    }

    async fn get_or_read(&self, path: &Path) -> Option<Arc<DockerIgnore>> {
        if let Some(cached) = self.files().get(path) {
            return cached.clone();
        }
        let parsed = match tokio::fs::read(path).await {
            Ok(bytes) => {
                let ignore = DockerIgnore::parse(&String::from_utf8_lossy(&bytes));
                for e in ignore.errors() {
                    tracing::warn!("{}: {e}", path.display());
                }
                tracing::info!(
                    "{}: {} pattern(s) for CopyIgnoredFile",
                    path.display(),
                    ignore.patterns().len()
                );
                Some(Arc::new(ignore))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!("no {}", path.display());
                None
            }
            Err(e) => {
                tracing::warn!("cannot read {}: {e}; no patterns from it", path.display());
                None
            }
        };
        // Logged once: the result stays cached until the file changes.
        self.files().insert(path.to_path_buf(), parsed.clone());
        parsed
    }

    /// The patterns for the Dockerfile at `uri` as far as already read; no
    /// I/O (for synchronous handlers).
    pub fn cached_for(&self, uri: &Uri) -> Option<Arc<DockerIgnore>> {
        let path = uri_path(uri)?;
        let files = self.files();
        candidates(&path)
            .iter()
            .find_map(|c| files.get(c).cloned().flatten())
    }

    /// Forgets a cached file (it changed); true if it was cached.
    pub fn invalidate(&self, path: &Path) -> bool {
        self.files().remove(path).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_prefer_the_dockerfile_specific_file() {
        assert_eq!(
            candidates(Path::new("/w/app/build.Dockerfile")),
            vec![
                PathBuf::from("/w/app/build.Dockerfile.dockerignore"),
                PathBuf::from("/w/app/.dockerignore")
            ]
        );
    }

    #[test]
    fn recognises_ignore_files() {
        assert!(is_ignore_file(Path::new("/w/.dockerignore")));
        assert!(is_ignore_file(Path::new("/w/Dockerfile.dockerignore")));
        assert!(!is_ignore_file(Path::new("/w/Dockerfile")));
        assert!(!is_ignore_file(Path::new("/w/dockerignore.txt")));
    }

    #[tokio::test]
    async fn reads_once_and_rereads_after_invalidate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let df = dir.path().join("Dockerfile");
        let uri: Uri = format!("file://{}", df.display()).parse().expect("uri");
        let cache = IgnoreCache::default();
        assert!(cache.for_document(&uri).await.is_none());
        std::fs::write(dir.path().join(".dockerignore"), "secret.txt\n").expect("write");
        // Still the cached "missing" answer until invalidated.
        assert!(cache.for_document(&uri).await.is_none());
        assert!(cache.invalidate(&dir.path().join(".dockerignore")));
        let got = cache.for_document(&uri).await.expect("patterns");
        assert!(got.is_excluded("secret.txt"));
        assert!(!got.is_excluded("other.txt"));
        // The Dockerfile-specific file wins.
        std::fs::write(dir.path().join("Dockerfile.dockerignore"), "other.txt\n").expect("write");
        cache.invalidate(&dir.path().join("Dockerfile.dockerignore"));
        let got = cache.for_document(&uri).await.expect("patterns");
        assert!(got.is_excluded("other.txt"));
        assert!(!got.is_excluded("secret.txt"));
    }
}
