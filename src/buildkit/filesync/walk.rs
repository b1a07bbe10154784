//! The directory walk of a file sync, as fsutil's `Walk` + `NewFilterFS` +
//! `mkstat` do it: depth first, entries of each directory in byte order of
//! their names, the root itself not listed, symlinks not followed.
//!
//! Filtering: a path leaves the machine only if it matches the include
//! patterns (when there are any) and no exclude list excludes it (BuildKit's
//! `exclude-patterns` and the context's `.dockerignore` are both applied).
//! A directory that is filtered out is still walked when an exception (or an
//! include pattern) could reach below it, and is then listed lazily, just
//! before the first entry below it that is listed, so the receiver always
//! sees parents first.

use std::collections::HashMap;
use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use bollard_buildkit_proto::fsutil::types::Stat;

use crate::buildkit::BuildkitError;
use crate::dockerignore::DockerIgnore;

/// Go's `os.FileMode` bits, the encoding fsutil puts in `Stat.mode`.
pub mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
    pub const IRREGULAR: u32 = 1 << 19;
    /// `os.ModeType`: any of these means "not a regular file".
    pub const TYPE: u32 = DIR | SYMLINK | NAMED_PIPE | SOCKET | DEVICE | CHAR_DEVICE | IRREGULAR;
}

/// Converts a Unix `st_mode` to Go's `os.FileMode` (os/stat_linux.go), with
/// the socket bit cleared as fsutil's `mkstat` does.
pub fn go_file_mode(st_mode: u32) -> u32 {
    const S_IFMT: u32 = 0o170000;
    let mut mode = st_mode & 0o777;
    mode |= match st_mode & S_IFMT {
        0o060000 => go_mode::DEVICE,
        0o020000 => go_mode::DEVICE | go_mode::CHAR_DEVICE,
        0o040000 => go_mode::DIR,
        0o010000 => go_mode::NAMED_PIPE,
        0o120000 => go_mode::SYMLINK,
        // sockets: fsutil clears the bit (archive/tar cannot carry it)
        _ => 0,
    };
    if st_mode & 0o2000 != 0 {
        mode |= go_mode::SETGID;
    }
    if st_mode & 0o4000 != 0 {
        mode |= go_mode::SETUID;
    }
    if st_mode & 0o1000 != 0 {
        mode |= go_mode::STICKY;
    }
    mode
}

/// Whether the receiver may request data for an entry (fsutil's
/// `fileCanRequestData`: regular files only).
pub fn can_request_data(go_mode: u32) -> bool {
    go_mode & go_mode::TYPE == 0
}

/// One listed entry: what goes into the STAT packet, and where to read it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub stat: Stat,
    pub abs: PathBuf,
}

/// The filters of one walk.
#[derive(Debug, Default)]
pub struct Filters<'a> {
    /// A path must match every one of these lists (a path matches a list
    /// when it, or a parent, matches one of its patterns).
    pub include: Vec<&'a DockerIgnore>,
    /// A path excluded by any of these is not listed.
    pub excludes: Vec<&'a DockerIgnore>,
}

struct Walker<'a, F> {
    filters: &'a Filters<'a>,
    emit: F,
    /// Filtered-out ancestor directories not listed yet (see module docs).
    pending: Vec<(String, PathBuf, Metadata)>,
    /// inode -> first path listed, for hardlinks (fsutil's seenFiles).
    seen_inodes: HashMap<u64, String>,
}

/// Walks `root` and calls `emit` for each entry to list, in fsutil's order.
pub fn walk<F>(root: &Path, filters: &Filters<'_>, emit: F) -> Result<(), BuildkitError>
where
    F: FnMut(Entry) -> Result<(), BuildkitError>,
{
    let mut w = Walker {
        filters,
        emit,
        pending: Vec::new(),
        seen_inodes: HashMap::new(),
    };
    w.walk_dir(root, "", false)
}

impl<F> Walker<'_, F>
where
    F: FnMut(Entry) -> Result<(), BuildkitError>,
{
    /// `filtered_out`: `abs` itself is not listed (only walked for what an
    /// exception may re-include), so an unreadable one is not an error,
    /// as in fsutil.
    fn walk_dir(&mut self, abs: &Path, rel: &str, filtered_out: bool) -> Result<(), BuildkitError> {
        let io_err = |source| BuildkitError::unreadable(abs, source);
        let entries = match std::fs::read_dir(abs) {
            Err(e) if filtered_out && e.kind() == io::ErrorKind::PermissionDenied => return Ok(()),
            other => other.map_err(io_err)?,
        };
        let mut names: Vec<std::ffi::OsString> = entries
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err)?;
        // Go's os.ReadDir sorts by name, bytewise
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let Some(name_str) = name.to_str() else {
                // Stat.path is a protobuf string: such a name cannot be sent
                tracing::warn!(dir = %abs.display(), name = ?name, "skipping non-UTF-8 file name");
                continue;
            };
            let child_rel = if rel.is_empty() {
                name_str.to_string()
            } else {
                format!("{rel}/{name_str}")
            };
            let child_abs = abs.join(&name);
            let meta = match std::fs::symlink_metadata(&child_abs) {
                Ok(m) => m,
                // removed while we walk: as fsutil, just leave it out
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => return Err(BuildkitError::unreadable(&child_abs, source)),
            };
            let is_dir = meta.is_dir();
            let mut skip = false;
            let mut prune = false;
            for inc in &self.filters.include {
                if !inc.is_excluded(&child_rel) {
                    if is_dir && !inc.may_match_below(&child_rel) {
                        prune = true;
                    }
                    skip = true;
                }
            }
            for ex in &self.filters.excludes {
                if ex.is_excluded(&child_rel) {
                    if is_dir && !ex.may_reinclude_below(&child_rel) {
                        prune = true;
                    }
                    skip = true;
                }
            }
            if prune {
                continue;
            }
            if !skip {
                self.flush_pending()?;
                self.emit_entry(&child_rel, &child_abs, &meta)?;
            }
            if is_dir {
                let depth = self.pending.len();
                if skip {
                    self.pending
                        .push((child_rel.clone(), child_abs.clone(), meta));
                }
                self.walk_dir(&child_abs, &child_rel, skip)?;
                self.pending.truncate(depth);
            }
        }
        Ok(())
    }

    fn flush_pending(&mut self) -> Result<(), BuildkitError> {
        for (rel, abs, meta) in std::mem::take(&mut self.pending) {
            self.emit_entry(&rel, &abs, &meta)?;
        }
        Ok(())
    }

    fn emit_entry(&mut self, rel: &str, abs: &Path, meta: &Metadata) -> Result<(), BuildkitError> {
        let stat = self.make_stat(rel, abs, meta)?;
        (self.emit)(Entry {
            stat,
            abs: abs.to_path_buf(),
        })
    }

    /// fsutil's `mkstat` + `setUnixOpt` (xattrs are not sent).
    fn make_stat(&mut self, rel: &str, abs: &Path, meta: &Metadata) -> Result<Stat, BuildkitError> {
        let mut stat = Stat {
            path: rel.to_string(),
            mode: go_file_mode(meta.mode()),
            uid: meta.uid(),
            gid: meta.gid(),
            mod_time: meta
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.mtime_nsec()),
            ..Stat::default()
        };
        if !meta.is_dir() {
            stat.size = i64::try_from(meta.size()).unwrap_or(i64::MAX);
            let ft = meta.file_type();
            if ft.is_block_device() || ft.is_char_device() {
                let rdev = meta.rdev();
                // the old Linux encoding fsutil uses for tar headers
                stat.devmajor = ((rdev >> 8) & 0xfff) as i64;
                stat.devminor = ((rdev & 0xff) | ((rdev >> 12) & 0xfff00)) as i64;
            }
            if meta.nlink() > 1 {
                if let Some(first) = self.seen_inodes.get(&meta.ino()) {
                    stat.linkname = first.clone();
                    stat.size = 0;
                } else {
                    self.seen_inodes.insert(meta.ino(), rel.to_string());
                }
            }
            if ft.is_symlink() {
                let target = std::fs::read_link(abs)
                    .map_err(|source| BuildkitError::unreadable(abs, source))?;
                stat.linkname = target.to_string_lossy().into_owned();
            }
        }
        Ok(stat)
    }
}

/// fsutil's `FollowLinks`: turns `followpaths` into include patterns, adding
/// the targets of symlinks met on the way (so `Dockerfile -> sub/Dockerfile`
/// sends both). Paths outside the root are kept relative to it, as fsutil
/// does. A component with glob characters is kept as a pattern.
pub fn follow_links(root: &Path, paths: &[String]) -> Vec<String> {
    let mut resolved: Vec<String> = Vec::new();
    for p in paths {
        resolve(root, p, &mut resolved, 0);
    }
    resolved.sort();
    resolved.dedup();
    resolved
}

fn resolve(root: &Path, path: &str, out: &mut Vec<String>, depth: usize) {
    // symlink loops: stop following, keep what we have
    if depth > 40 {
        return;
    }
    let cleaned = crate::dockerignore::clean(path);
    let cleaned = cleaned.trim_start_matches('/');
    if cleaned.is_empty() || cleaned == "." {
        return;
    }
    let parts: Vec<&str> = cleaned.split('/').collect();
    let mut current = String::new();
    for (i, part) in parts.iter().enumerate() {
        if !current.is_empty() {
            current.push('/');
        }
        current.push_str(part);
        if part.contains(['*', '?', '[']) {
            out.push(cleaned.to_string());
            return;
        }
        let abs = root.join(&current);
        let is_link = std::fs::symlink_metadata(&abs)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if !is_link {
            continue;
        }
        let Ok(target) = std::fs::read_link(&abs) else {
            continue;
        };
        out.push(current.clone());
        let target = target.to_string_lossy();
        let base = if target.starts_with('/') {
            target.to_string()
        } else {
            let parent = current.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            format!("{parent}/{target}")
        };
        let rest = parts[i + 1..].join("/");
        let next = if rest.is_empty() {
            base
        } else {
            format!("{base}/{rest}")
        };
        resolve(root, &next, out, depth + 1);
        return;
    }
    out.push(cleaned.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_file_mode_encoding() {
        // regular 0644
        assert_eq!(go_file_mode(0o100644), 0o644);
        // directory 0755: ModeDir | 0755
        assert_eq!(go_file_mode(0o040755), 0x8000_0000 | 0o755);
        // symlink 0777
        assert_eq!(go_file_mode(0o120777), 0x0800_0000 | 0o777);
        // setuid executable
        assert_eq!(go_file_mode(0o104755), (1 << 23) | 0o755);
        // sticky dir (like /tmp)
        assert_eq!(go_file_mode(0o041777), 0x8000_0000 | (1 << 20) | 0o777);
        // char device: ModeDevice | ModeCharDevice
        assert_eq!(go_file_mode(0o020666), (1 << 26) | (1 << 21) | 0o666);
        // fifo
        assert_eq!(go_file_mode(0o010644), (1 << 25) | 0o644);
        // socket bit cleared as fsutil does
        assert_eq!(go_file_mode(0o140755), 0o755);
        assert!(can_request_data(0o644));
        assert!(!can_request_data(0x8000_0000 | 0o755));
    }

    fn names(root: &Path, filters: &Filters<'_>) -> Vec<String> {
        let mut out = Vec::new();
        walk(root, filters, |e| {
            out.push(e.stat.path);
            Ok(())
        })
        .expect("walk");
        out
    }

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, rel.as_bytes()).expect("write");
    }

    #[test]
    fn order_is_per_directory_byte_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["a.txt", "a-b", "a/x", "B", "a/y/z"] {
            touch(dir.path(), f);
        }
        // "a" sorts before "a-b" and "a.txt" as a name, so its subtree comes
        // first even though "a-b" < "a/x" bytewise as full paths
        assert_eq!(
            names(dir.path(), &Filters::default()),
            vec!["B", "a", "a/x", "a/y", "a/y/z", "a-b", "a.txt"]
        );
    }

    #[test]
    fn excluded_dir_is_listed_lazily_for_an_exception() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["docs/README.md", "docs/other.md", "docs/sub/x", "main.c"] {
            touch(dir.path(), f);
        }
        let ig = DockerIgnore::parse("docs\n!docs/README.md\n");
        let filters = Filters {
            include: vec![],
            excludes: vec![&ig],
        };
        assert_eq!(
            names(dir.path(), &filters),
            vec!["docs", "docs/README.md", "main.c"]
        );
    }

    #[test]
    fn include_patterns_and_follow_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(dir.path(), "sub/Dockerfile.real");
        touch(dir.path(), "other");
        std::os::unix::fs::symlink("sub/Dockerfile.real", dir.path().join("Dockerfile"))
            .expect("symlink");
        let inc = follow_links(
            dir.path(),
            &["Dockerfile".to_string(), ".dockerignore".to_string()],
        );
        assert_eq!(
            inc,
            vec![".dockerignore", "Dockerfile", "sub/Dockerfile.real"]
        );
        let inc = DockerIgnore::from_patterns(&inc).expect("valid");
        let filters = Filters {
            include: vec![&inc],
            excludes: vec![],
        };
        assert_eq!(
            names(dir.path(), &filters),
            vec!["Dockerfile", "sub", "sub/Dockerfile.real"]
        );
    }
}
