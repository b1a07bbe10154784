//! The `index.json` of an OCI image layout directory, read and updated as
//! BuildKit's client (`client/ociindex`) does it for buildx: a local cache
//! (`type=local`) is found by tag in it, an exported cache or image is
//! recorded in it after the solve, and an `oci-layout://` context is
//! resolved through it.
//!
//! Concurrent writers (us, buildx, buildctl) serialise on an flock of
//! `index.json.lock`, removed after use as BuildKit does. Unlike BuildKit,
//! which rewrites `index.json` in place, the new index is written beside it
//! and renamed over it, so a reader never sees half of one.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// `org.opencontainers.image.ref.name`: a manifest's tag in the layout.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// `io.containerd.image.name`: the full image name of an exported image.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// The OCI image index media type.
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// How long to wait for another process's lock on the index.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// A failure reading or updating a layout's index.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("could not read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("could not write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("could not unmarshal {path}: {detail}")]
    Json { path: PathBuf, detail: String },
    #[error("could not lock {path}: {detail}")]
    Lock { path: PathBuf, detail: String },
}

/// An OCI content descriptor, with Go's field order and `omitempty`s, so a
/// rewritten index reads byte for byte as BuildKit writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub artifact_type: String,
}

/// An OCI platform, as in a descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// An OCI image index (`index.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Index {
    #[serde(rename = "schemaVersion", default)]
    pub schema_version: i64,
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub media_type: String,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub artifact_type: String,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// How a descriptor is named in the index: a bare tag (caches), or an
/// image name (exports), which BuildKit records under both annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameOrTag {
    Tag(String),
    Name(String),
}

/// The index of one layout directory.
#[derive(Debug, Clone)]
pub struct StoreIndex {
    dir: PathBuf,
}

impl StoreIndex {
    pub fn new(dir: impl Into<PathBuf>) -> StoreIndex {
        StoreIndex { dir: dir.into() }
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join("index.json.lock")
    }

    /// Reads the index (an error when it is missing).
    pub fn read(&self) -> Result<Index, LayoutError> {
        let path = self.index_path();
        let bytes = std::fs::read(&path).map_err(|source| LayoutError::Read {
            path: path.clone(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| LayoutError::Json {
            path,
            detail: format!("{e} ({:?})", String::from_utf8_lossy(&bytes)),
        })
    }

    /// The manifest named `tag`: by image name first, then by ref name,
    /// as BuildKit's `Get` looks.
    pub fn get(&self, tag: &str) -> Result<Option<Descriptor>, LayoutError> {
        let idx = self.read()?;
        let by = |key: &str| {
            idx.manifests
                .iter()
                .find(|m| m.annotations.get(key).is_some_and(|t| t == tag))
                .cloned()
        };
        Ok(by(ANNOTATION_IMAGE_NAME).or_else(|| by(ANNOTATION_REF_NAME)))
    }

    /// The only manifest, when there is exactly one.
    pub fn get_single(&self) -> Result<Option<Descriptor>, LayoutError> {
        let idx = self.read()?;
        Ok(match idx.manifests.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        })
    }

    /// Records `desc` under each of `names` (replacing what had the same
    /// name), and writes `oci-layout`, under the lock.
    pub fn put(&self, desc: &Descriptor, names: &[NameOrTag]) -> Result<(), LayoutError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| LayoutError::Write {
            path: self.dir.clone(),
            source,
        })?;
        let _lock = Lock::exclusive(&self.lock_path())?;
        let layout = self.dir.join("oci-layout");
        write_atomically(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let path = self.index_path();
        let mut idx = match std::fs::read(&path) {
            Ok(b) if !b.is_empty() => {
                serde_json::from_slice(&b).map_err(|e| LayoutError::Json {
                    path: path.clone(),
                    detail: format!("{e} ({:?})", String::from_utf8_lossy(&b)),
                })?
            }
            Ok(_) => Index::default(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Index::default(),
            Err(source) => return Err(LayoutError::Read { path, source }),
        };
        if idx.schema_version == 0 {
            idx.schema_version = 2;
        }
        if idx.media_type.is_empty() {
            idx.media_type = MEDIA_TYPE_INDEX.to_string();
        }
        if names.is_empty() {
            idx.manifests.push(desc.clone());
        }
        for name in names {
            insert(&mut idx, desc, name);
        }
        // Serializing these types cannot fail.
        let bytes = serde_json::to_vec(&idx).unwrap_or_default();
        write_atomically(&path, &bytes)
    }
}

/// BuildKit's `insertDesc`: the descriptor gets the name's annotations, and
/// manifests with the same names leave the index.
fn insert(idx: &mut Index, desc: &Descriptor, name: &NameOrTag) {
    let mut desc = desc.clone();
    let (image_name, ref_name) = match name {
        NameOrTag::Tag(t) => (String::new(), t.clone()),
        NameOrTag::Name(n) => (n.clone(), oci_reference_name(n)),
    };
    if !image_name.is_empty() {
        desc.annotations
            .insert(ANNOTATION_IMAGE_NAME.into(), image_name.clone());
    }
    desc.annotations
        .insert(ANNOTATION_REF_NAME.into(), ref_name.clone());
    idx.manifests.retain(|m| {
        let get = |k: &str| m.annotations.get(k).map(String::as_str).unwrap_or("");
        get(ANNOTATION_REF_NAME) != ref_name || get(ANNOTATION_IMAGE_NAME) != image_name
    });
    idx.manifests.push(desc);
}

/// The OCI reference name of an image name, as BuildKit derives it with
/// containerd's `reference.Parse` (which reads the name as the URL
/// `dummy://NAME`): the tag or digest after the repository when the name
/// starts with a host, the whole name when it does not parse.
pub fn oci_reference_name(name: &str) -> String {
    if name.contains("://") {
        return name.to_string();
    }
    let end = name.find(['/', '?', '#']).unwrap_or(name.len());
    let (authority, path) = name.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        return name.to_string();
    }
    if !host.starts_with('[') {
        if let Some((_, port)) = host.rsplit_once(':') {
            // Go's URL parser refuses a non-numeric port.
            if !port.bytes().all(|b| b.is_ascii_digit()) {
                return name.to_string();
            }
        }
    }
    match path.find([':', '@']) {
        Some(i) => {
            let object = &path[i..];
            object.strip_prefix(':').unwrap_or(object).to_string()
        }
        None => String::new(),
    }
}

/// Writes `bytes` to `path` through a temporary file renamed over it.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), LayoutError> {
    let err = |source| LayoutError::Write {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

/// An flock on the index's lock file; released and the file removed when
/// dropped.
struct Lock {
    file: std::fs::File,
    path: PathBuf,
}

impl Lock {
    fn exclusive(path: &Path) -> Result<Lock, LayoutError> {
        let err = |detail: String| LayoutError::Lock {
            path: path.to_path_buf(),
            detail,
        };
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
                .map_err(|e| err(e.to_string()))?;
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => {
                    // The holder before us removed the file after
                    // unlocking: lock the one now at the path instead.
                    let same = std::fs::metadata(path).ok().is_some_and(|m| {
                        use std::os::unix::fs::MetadataExt;
                        file.metadata()
                            .is_ok_and(|f| f.ino() == m.ino() && f.dev() == m.dev())
                    });
                    if same {
                        return Ok(Lock {
                            file,
                            path: path.to_path_buf(),
                        });
                    }
                }
                Err(fs4::TryLockError::WouldBlock) => {}
                Err(e) => return Err(err(e.to_string())),
            }
            if Instant::now() >= deadline {
                return Err(err(format!(
                    "another process holds it (waited {} s)",
                    LOCK_WAIT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(d: &str) -> Descriptor {
        Descriptor {
            media_type: MEDIA_TYPE_INDEX.into(),
            digest: format!("sha256:{}", d.repeat(64)),
            size: 42,
            ..Descriptor::default()
        }
    }

    #[test]
    fn put_writes_index_and_layout_as_buildkit_does() {
        let dir = tempfile::tempdir().unwrap();
        let idx = StoreIndex::new(dir.path());
        idx.put(&desc("a"), &[NameOrTag::Tag("latest".into())])
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:{}","size":42,"annotations":{{"org.opencontainers.image.ref.name":"latest"}}}}]}}"#,
                "a".repeat(64)
            )
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("oci-layout")).unwrap(),
            r#"{"imageLayoutVersion":"1.0.0"}"#
        );
        assert!(!dir.path().join("index.json.lock").exists());
    }

    #[test]
    fn a_tag_put_again_replaces_the_old_entry_and_keeps_others() {
        let dir = tempfile::tempdir().unwrap();
        let idx = StoreIndex::new(dir.path());
        idx.put(&desc("a"), &[NameOrTag::Tag("latest".into())])
            .unwrap();
        idx.put(&desc("b"), &[NameOrTag::Tag("v1".into())]).unwrap();
        idx.put(&desc("c"), &[NameOrTag::Tag("latest".into())])
            .unwrap();
        let read = idx.read().unwrap();
        let digests: Vec<&str> = read.manifests.iter().map(|m| &m.digest[7..8]).collect();
        assert_eq!(digests, ["b", "c"]);
        assert_eq!(idx.get("latest").unwrap().unwrap().digest, desc("c").digest);
        assert_eq!(idx.get("v1").unwrap().unwrap().digest, desc("b").digest);
        assert_eq!(idx.get("v2").unwrap(), None);
        assert_eq!(idx.get_single().unwrap(), None);
    }

    #[test]
    fn image_names_get_both_annotations() {
        let dir = tempfile::tempdir().unwrap();
        let idx = StoreIndex::new(dir.path());
        idx.put(
            &desc("a"),
            &[NameOrTag::Name("docker.io/library/app:1".into())],
        )
        .unwrap();
        let m = idx.get_single().unwrap().unwrap();
        assert_eq!(
            m.annotations[ANNOTATION_IMAGE_NAME],
            "docker.io/library/app:1"
        );
        assert_eq!(m.annotations[ANNOTATION_REF_NAME], "1");
        // Found by the full name as by the tag.
        assert!(idx.get("docker.io/library/app:1").unwrap().is_some());
        assert!(idx.get("1").unwrap().is_some());
    }

    #[test]
    fn reference_names_follow_containerd() {
        assert_eq!(oci_reference_name("docker.io/library/app:1"), "1");
        assert_eq!(oci_reference_name("127.0.0.1:5000/app:v2"), "v2");
        assert_eq!(
            oci_reference_name("r.example/app@sha256:abc"),
            "@sha256:abc"
        );
        assert_eq!(oci_reference_name("r.example/app"), "");
        // No host: Go reads `app:latest` as a host with a bad port.
        assert_eq!(oci_reference_name("app:latest"), "app:latest");
    }

    /// Writers in parallel (threads here; buildx and this client in real
    /// use) serialise on the lock: no entry is lost, no index is torn.
    #[test]
    fn concurrent_puts_lose_no_entry() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let d = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    for j in 0..5 {
                        StoreIndex::new(&d)
                            .put(&desc("a"), &[NameOrTag::Tag(format!("t{i}-{j}"))])
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let idx = StoreIndex::new(dir.path()).read().unwrap();
        assert_eq!(idx.manifests.len(), 40);
        assert!(!dir.path().join("index.json.lock").exists());
    }

    #[test]
    fn a_missing_or_broken_index_says_which_file() {
        let dir = tempfile::tempdir().unwrap();
        let idx = StoreIndex::new(dir.path());
        let e = idx.get("latest").unwrap_err().to_string();
        assert!(e.starts_with("could not read "), "{e}");
        assert!(e.contains("index.json"), "{e}");
        std::fs::write(dir.path().join("index.json"), "{").unwrap();
        let e = idx.get("latest").unwrap_err().to_string();
        assert!(e.starts_with("could not unmarshal "), "{e}");
    }
}
