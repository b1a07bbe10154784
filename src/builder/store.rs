//! The on-disk builder store, laid out exactly as `docker buildx` keeps it so
//! both tools see the same builders:
//!
//! ```text
//! <buildx dir>/.lock             flock(2) taken for every transaction
//! <buildx dir>/instances/<name>  NodeGroup JSON (name lower-cased)
//! <buildx dir>/current           {"Key":<docker endpoint>,"Name":…,"Global":…}
//! <buildx dir>/defaults/<hash>   builder name set by `use --default`
//! <buildx dir>/activity/<name>   last use, RFC 3339 UTC
//! <buildx dir>/refs/<name>/      build history refs, removed with the builder
//! ```
//!
//! Every write is atomic (temporary file in the same directory, then rename),
//! so a reader never sees a torn file. A corrupt instance file is skipped by
//! `list` with a warning and never deleted.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::name::validate_name;
use super::nodegroup::NodeGroup;
use super::BuilderError;

const INSTANCE_DIR: &str = "instances";
const DEFAULTS_DIR: &str = "defaults";
const ACTIVITY_DIR: &str = "activity";
const REFS_DIR: &str = "refs";

/// A buildx store directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

fn io_err(path: &Path, source: std::io::Error) -> BuilderError {
    BuilderError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn mkdir(path: &Path) -> Result<(), BuilderError> {
    if path.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| io_err(path, e))
}

impl Store {
    /// Opens (and creates, like buildx, with mode 0700) the store at `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store, BuilderError> {
        let dir = dir.into();
        for sub in [INSTANCE_DIR, DEFAULTS_DIR, ACTIVITY_DIR] {
            mkdir(&dir.join(sub))?;
        }
        Ok(Store { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the store's file lock (blocking) for one transaction; it is
    /// released when the `Txn` is dropped.
    pub fn txn(&self) -> Result<Txn<'_>, BuilderError> {
        let path = self.dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        // Called through the trait: std's inherent `File::lock` is newer than our MSRV.
        fs4::FileExt::lock(&file).map_err(|e| BuilderError::Lock {
            path: path.clone(),
            source: e,
        })?;
        Ok(Txn {
            store: self,
            _lock: file,
            warnings: Vec::new(),
        })
    }

    /// Writes `data` to `rel` (relative to the store) atomically with mode 0600.
    fn atomic_write(&self, rel: &Path, data: &[u8]) -> Result<(), BuilderError> {
        let path = self.dir.join(rel);
        let parent = path.parent().unwrap_or(&self.dir);
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent.join(format!(".tmp-{base}{:016x}", rand::random::<u64>()));
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(&path, e)
        })
    }
}

/// One locked transaction on the store.
pub struct Txn<'a> {
    store: &'a Store,
    _lock: File,
    /// Problems that did not stop the operation (e.g. a corrupt instance file
    /// that `list` skipped); the caller shows them to the user.
    pub warnings: Vec<String>,
}

/// The content of `current`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Current {
    pub key: String,
    pub name: String,
    pub global: bool,
}

impl Current {
    /// Parses `current` with Go's rules (keys case-insensitive, null = zero).
    pub fn from_json(data: &[u8]) -> Result<Current, String> {
        let value: serde_json::Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        let serde_json::Value::Object(mut obj) = value else {
            return Err("expected a JSON object".into());
        };
        let mut text = |key: &str| match super::gojson::take_field(&mut obj, key) {
            None | Some(serde_json::Value::Null) => Ok(String::new()),
            Some(serde_json::Value::String(s)) => Ok(s),
            Some(other) => Err(format!("{key}: expected a string, found {other}")),
        };
        let key = text("Key")?;
        let name = text("Name")?;
        let global = match super::gojson::take_field(&mut obj, "Global") {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(b)) => b,
            Some(other) => return Err(format!("Global: expected a bool, found {other}")),
        };
        Ok(Current { key, name, global })
    }

    fn to_json(&self) -> String {
        let mut out = String::from("{\"Key\":");
        super::gojson::string(&mut out, &self.key);
        out.push_str(",\"Name\":");
        super::gojson::string(&mut out, &self.name);
        out.push_str(",\"Global\":");
        out.push_str(if self.global { "true" } else { "false" });
        out.push('}');
        out
    }
}

/// buildx's key for `defaults/`: the first 20 hex digits of sha256(endpoint).
pub fn endpoint_hash(key: &str) -> String {
    let mut h = hex::encode(Sha256::digest(key.as_bytes()));
    h.truncate(20);
    h
}

impl Txn<'_> {
    fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.store.dir.join(rel)
    }

    /// The store directory this transaction works on.
    pub fn store_dir(&self) -> &Path {
        &self.store.dir
    }

    fn warn(&mut self, message: String) {
        tracing::warn!("{message}");
        self.warnings.push(message);
    }

    /// All builders in `instances/`, sorted by name. Unreadable or invalid
    /// files are skipped with a warning and left on disk.
    pub fn list(&mut self) -> Result<Vec<NodeGroup>, BuilderError> {
        let dir = self.path(INSTANCE_DIR);
        let entries = fs::read_dir(&dir).map_err(|e| io_err(&dir, e))?;
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            // our own temporary files, and editors' droppings
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            match self.node_group_by_name(&name) {
                Ok(Some(ng)) => out.push(ng),
                Ok(None) => {}
                Err(err) => self.warn(format!("skipping builder {name:?}: {err}")),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The builder stored under `name` (case-insensitive), `None` if there is
    /// no such file.
    pub fn node_group_by_name(&self, name: &str) -> Result<Option<NodeGroup>, BuilderError> {
        let file = validate_name(name)?;
        let path = self.path(Path::new(INSTANCE_DIR).join(&file));
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path, e)),
        };
        let mut ng = NodeGroup::from_json(&data).map_err(|reason| BuilderError::Corrupt {
            path: path.clone(),
            reason,
        })?;
        ng.last_activity = self.last_activity(&ng.name)?;
        Ok(Some(ng))
    }

    /// Writes the builder (and its activity time), as buildx's `Txn.Save`.
    pub fn save(&self, ng: &NodeGroup) -> Result<(), BuilderError> {
        let file = validate_name(&ng.name)?;
        self.update_last_activity(&ng.name)?;
        self.store
            .atomic_write(&Path::new(INSTANCE_DIR).join(file), ng.to_json().as_bytes())
    }

    /// Removes the builder's instance file, activity and local build refs.
    pub fn remove(&self, name: &str) -> Result<(), BuilderError> {
        let file = validate_name(name)?;
        for path in [
            self.path(Path::new(ACTIVITY_DIR).join(&file)),
            self.path(Path::new(REFS_DIR).join(&file)),
            self.path(Path::new(INSTANCE_DIR).join(&file)),
        ] {
            let result = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            match result {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path, e)),
            }
        }
        Ok(())
    }

    /// Writes `current`; with `default` also `defaults/<hash(key)>`,
    /// otherwise removes that file (buildx's `Txn.SetCurrent`).
    pub fn set_current(
        &self,
        key: &str,
        name: &str,
        global: bool,
        default: bool,
    ) -> Result<(), BuilderError> {
        let current = Current {
            key: key.into(),
            name: name.into(),
            global,
        };
        self.store
            .atomic_write(Path::new("current"), current.to_json().as_bytes())?;
        let rel = Path::new(DEFAULTS_DIR).join(endpoint_hash(key));
        if default {
            self.store.atomic_write(&rel, name.as_bytes())?;
        } else {
            // buildx ignores this error too: a missing file is the goal.
            let _ = fs::remove_file(self.path(rel));
        }
        Ok(())
    }

    /// The content of `current`, if the file exists and parses.
    pub fn read_current(&self) -> Option<Current> {
        let data = fs::read(self.path("current")).ok()?;
        Current::from_json(&data).ok()
    }

    fn reset(&self, key: &str) -> Result<(), BuilderError> {
        let current = Current {
            key: key.into(),
            ..Current::default()
        };
        self.store
            .atomic_write(Path::new("current"), current.to_json().as_bytes())
    }

    /// The builder selected for the docker endpoint `key`, as buildx's
    /// `Txn.Current`: a global `current`, else `current` for this key, else
    /// the `use --default` choice for this key; `None` means the docker
    /// context's own builder.
    pub fn current(&mut self, key: &str) -> Result<Option<NodeGroup>, BuilderError> {
        let path = self.path("current");
        match fs::read(&path) {
            Ok(data) => {
                let c = Current::from_json(&data).map_err(|reason| BuilderError::Corrupt {
                    path: path.clone(),
                    reason,
                })?;
                if !c.name.is_empty() {
                    if c.global {
                        if let Ok(Some(ng)) = self.node_group_by_name(&c.name) {
                            return Ok(Some(ng));
                        }
                    }
                    if c.key == key {
                        return match self.node_group_by_name(&c.name) {
                            Ok(ng) => Ok(ng),
                            Err(err) => {
                                self.warn(format!("current builder {:?}: {err}", c.name));
                                Ok(None)
                            }
                        };
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path, e)),
        }
        let defaults = self.path(Path::new(DEFAULTS_DIR).join(endpoint_hash(key)));
        let name = match fs::read_to_string(&defaults) {
            Ok(name) => name,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.reset(key)?;
                return Ok(None);
            }
            Err(e) => return Err(io_err(&defaults, e)),
        };
        let ng = match self.node_group_by_name(&name) {
            Ok(ng) => ng,
            Err(err) => {
                self.warn(format!("default builder {name:?}: {err}"));
                None
            }
        };
        if ng.is_none() {
            self.reset(key)?;
        }
        self.set_current(key, &name, false, true)?;
        Ok(ng)
    }

    fn update_last_activity(&self, name: &str) -> Result<(), BuilderError> {
        // Validated, but buildx writes the activity file under the name as given.
        validate_name(name)?;
        self.store.atomic_write(
            &Path::new(ACTIVITY_DIR).join(name),
            rfc3339_utc_now().as_bytes(),
        )
    }

    /// Records that the builder was just used (as buildx does on builds).
    pub fn touch(&self, name: &str) -> Result<(), BuilderError> {
        self.update_last_activity(name)
    }

    fn last_activity(&self, name: &str) -> Result<Option<String>, BuilderError> {
        let path = self.path(Path::new(ACTIVITY_DIR).join(name));
        match fs::read_to_string(&path) {
            Ok(s) => Ok(Some(s.trim().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, e)),
        }
    }
}

/// Now as `2006-01-02T15:04:05Z` (Go's `time.RFC3339` in UTC).
pub fn rfc3339_utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339_utc(secs)
}

/// Seconds since the epoch as RFC 3339 UTC (civil-from-days, Howard Hinnant).
pub fn rfc3339_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        // `date -u -d @1795750115 +%Y-%m-%dT%H:%M:%SZ`
        assert_eq!(rfc3339_utc(1_795_750_115), "2026-11-27T03:28:35Z");
        // leap day: `date -u -d @1709210096`
        assert_eq!(rfc3339_utc(1_709_210_096), "2024-02-29T12:34:56Z");
    }

    #[test]
    fn current_file_parses_like_go() {
        let c = Current::from_json(br#"{"key":"k","NAME":"b","Global":null}"#).unwrap();
        assert_eq!(
            c,
            Current {
                key: "k".into(),
                name: "b".into(),
                global: false
            }
        );
        let text = r#"{"Key":"unix:///x","Name":"b","Global":true}"#;
        assert_eq!(Current::from_json(text.as_bytes()).unwrap().to_json(), text);
        assert!(Current::from_json(b"[]").is_err());
        assert!(Current::from_json(br#"{"Global":"yes"}"#).is_err());
    }

    #[test]
    fn endpoint_hash_is_sha256_prefix() {
        // `printf 'unix:///var/run/docker.sock' | sha256sum | cut -c1-20`
        assert_eq!(
            endpoint_hash("unix:///var/run/docker.sock"),
            "13c4025c96f36e94b348"
        );
    }
}
