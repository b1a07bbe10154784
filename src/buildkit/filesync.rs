//! The file sync we serve back to BuildKit: `moby.filesync.v1.FileSync/DiffCopy`,
//! the sending side of tonistiigi/fsutil's protocol, so BuildKit can copy the
//! build context and the Dockerfile's directory from this machine.
//!
//! BuildKit is the gRPC client of this call. It names the directory in the
//! `dir-name` metadata (`context`, `dockerfile`, or any name registered here)
//! and filters with `include-patterns`, `exclude-patterns` and `followpaths`.
//! We answer with one `PACKET_STAT` per entry (fsutil's walk order and stat
//! encoding), an empty STAT to end the listing, then a run of `PACKET_DATA`
//! chunks (32 KiB) and an empty DATA for each file BuildKit requests by the
//! STAT's index, and our `PACKET_FIN` when it sends its FIN.
//!
//! BuildKit compares each STAT with its cached copy and only requests files
//! whose metadata changed, so correct sizes, mtimes and modes are what make a
//! rebuild cheap. The context's `.dockerignore` is applied here, on this side,
//! besides whatever patterns BuildKit sends: an ignored file never leaves the
//! machine. [`TransferStats`] counts what was sent, for tests and progress.

mod walk;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bollard_buildkit_proto::fsutil::types::{packet::PacketType, Packet};
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::{FileSync, FileSyncServer};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::buildkit::BuildkitError;
use crate::dockerignore::DockerIgnore;

pub use walk::{can_request_data, go_file_mode, go_mode};

/// Size of one DATA packet's payload, as fsutil's send buffer.
pub const DATA_CHUNK_SIZE: usize = 32 * 1024;

/// gRPC metadata keys BuildKit sets on DiffCopy (session/filesync).
pub mod keys {
    pub const DIR_NAME: &str = "dir-name";
    pub const INCLUDE_PATTERNS: &str = "include-patterns";
    pub const EXCLUDE_PATTERNS: &str = "exclude-patterns";
    pub const FOLLOW_PATHS: &str = "followpaths";
    pub const OVERRIDE_EXCLUDES: &str = "override-excludes";
}

/// Files sent in parallel, as fsutil's four send workers.
const PARALLEL_FILES: usize = 4;

/// A directory BuildKit may copy, under a `dir-name`.
#[derive(Debug, Clone)]
pub struct SyncedDir {
    root: PathBuf,
    ignore: Option<Arc<DockerIgnore>>,
    /// When set, nothing outside these paths is ever sent, whatever
    /// BuildKit asks for (see [`SyncedDir::dockerfile`]).
    only: Option<Arc<DockerIgnore>>,
}

impl SyncedDir {
    /// A directory sent as is (no `.dockerignore`), e.g. the Dockerfile's.
    /// Symlinks in `root` are resolved now, as fsutil does.
    pub fn new(root: impl AsRef<Path>) -> Result<SyncedDir, BuildkitError> {
        let root = root.as_ref();
        let resolved = std::fs::canonicalize(root)
            .map_err(|source| BuildkitError::unreadable(root, source))?;
        if !resolved.is_dir() {
            return Err(BuildkitError::NotADirectory(root.to_path_buf()));
        }
        Ok(SyncedDir {
            root: resolved,
            ignore: None,
            only: None,
        })
    }

    /// The Dockerfile's directory, restricted to what BuildKit's frontend
    /// reads from it: the Dockerfile and its `<Dockerfile>.dockerignore`
    /// (and symlink targets on the way). When the Dockerfile sits in the
    /// context, this keeps the rest of the context, ignored files included,
    /// from leaving through the `dockerfile` name.
    pub fn dockerfile(dockerfile: &Path) -> Result<SyncedDir, BuildkitError> {
        let parent = match dockerfile.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut dir = SyncedDir::new(parent)?;
        let Some(name) = dockerfile.file_name().and_then(|n| n.to_str()) else {
            return Err(BuildkitError::NotADirectory(dockerfile.to_path_buf()));
        };
        let wanted = [name.to_string(), format!("{name}.dockerignore")];
        let paths = walk::follow_links(&dir.root, &wanted);
        let patterns: Vec<String> = paths.iter().map(|p| escape_glob(p)).collect();
        let only =
            DockerIgnore::from_patterns(&patterns).map_err(|error| BuildkitError::Ignore {
                file: dockerfile.to_path_buf(),
                error,
            })?;
        dir.only = Some(Arc::new(only));
        Ok(dir)
    }

    /// The build context: `root` filtered by the ignore file BuildKit would
    /// pick (see [`find_dockerignore`]). Fails on a pattern Docker rejects.
    pub fn context(root: impl AsRef<Path>, dockerfile: &Path) -> Result<SyncedDir, BuildkitError> {
        let dir = SyncedDir::new(root)?;
        match find_dockerignore(&dir.root, dockerfile)? {
            Some((_, ignore)) => Ok(dir.with_ignore(ignore)),
            None => Ok(dir),
        }
    }

    /// Applies `ignore` to everything sent from this directory.
    pub fn with_ignore(mut self, ignore: DockerIgnore) -> SyncedDir {
        self.ignore = Some(Arc::new(ignore));
        self
    }

    /// The resolved root.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// A literal path as a pattern: glob characters escaped.
fn escape_glob(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The ignore file of a build, as BuildKit and buildx choose it:
/// `<Dockerfile>.dockerignore` beside the Dockerfile wins over the context's
/// `.dockerignore`. Returns the file used and its patterns, or `None`.
pub fn find_dockerignore(
    context: &Path,
    dockerfile: &Path,
) -> Result<Option<(PathBuf, DockerIgnore)>, BuildkitError> {
    let mut candidates = Vec::new();
    if let Some(name) = dockerfile.file_name() {
        let mut n = name.to_os_string();
        n.push(".dockerignore");
        let dockerfile = if dockerfile.is_absolute() {
            dockerfile.to_path_buf()
        } else {
            context.join(dockerfile)
        };
        candidates.push(dockerfile.with_file_name(n));
    }
    candidates.push(context.join(".dockerignore"));
    for path in candidates {
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let ignore = DockerIgnore::parse(&text);
                if let Some(error) = ignore.errors().first() {
                    return Err(BuildkitError::Ignore {
                        file: path,
                        error: error.clone(),
                    });
                }
                return Ok(Some((path, ignore)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(BuildkitError::unreadable(&path, source)),
        }
    }
    Ok(None)
}

/// One file whose content was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFile {
    /// The `dir-name` it was sent under.
    pub dir: String,
    /// Its path relative to that directory.
    pub path: String,
    /// Bytes of content sent.
    pub bytes: u64,
    /// SHA-256 of the content sent (hex), so a build can tell a changed
    /// file from one the daemon asked for again after a mere touch.
    pub digest: String,
}

/// What a [`FileSyncService`] sent, over all its DiffCopy calls.
#[derive(Debug, Default)]
pub struct TransferStats {
    data_bytes: AtomicU64,
    wire_bytes: AtomicU64,
    stats_sent: AtomicU64,
    calls: AtomicU64,
    sent: Mutex<Vec<SentFile>>,
}

impl TransferStats {
    /// Bytes of file content sent (DATA payloads).
    pub fn data_bytes(&self) -> u64 {
        self.data_bytes.load(Ordering::Relaxed)
    }

    /// Encoded size of every packet sent (STATs, DATA, FIN): the traffic of
    /// the file sync without gRPC/HTTP2 framing.
    pub fn wire_bytes(&self) -> u64 {
        self.wire_bytes.load(Ordering::Relaxed)
    }

    /// STAT packets sent, end-of-listing markers excluded.
    pub fn stats_sent(&self) -> u64 {
        self.stats_sent.load(Ordering::Relaxed)
    }

    /// DiffCopy calls served.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Every file whose content was sent, in the order sending finished.
    pub fn sent_files(&self) -> Vec<SentFile> {
        self.sent.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Whether the content of `path` (relative, under `dir`) was ever sent.
    pub fn was_sent(&self, dir: &str, path: &str) -> bool {
        self.sent
            .lock()
            .map(|v| v.iter().any(|f| f.dir == dir && f.path == path))
            .unwrap_or(false)
    }

    fn count_packet(&self, p: &Packet) {
        self.wire_bytes
            .fetch_add(p.encoded_len() as u64, Ordering::Relaxed);
    }
}

/// The FileSync service of one session: the directories BuildKit may copy,
/// and the counters of what it copied.
#[derive(Debug, Clone, Default)]
pub struct FileSyncService {
    dirs: Arc<HashMap<String, SyncedDir>>,
    stats: Arc<TransferStats>,
}

impl FileSyncService {
    /// A service with the given directories (`dir-name` -> directory).
    pub fn new(dirs: impl IntoIterator<Item = (String, SyncedDir)>) -> FileSyncService {
        FileSyncService {
            dirs: Arc::new(dirs.into_iter().collect()),
            stats: Arc::default(),
        }
    }

    /// The same directories, counting into `stats` (a caller that wants
    /// the counts of a build that fails, too, keeps its own).
    pub fn with_stats(mut self, stats: Arc<TransferStats>) -> FileSyncService {
        self.stats = stats;
        self
    }

    /// The counters, shared with the running service.
    pub fn stats(&self) -> Arc<TransferStats> {
        self.stats.clone()
    }

    /// The tonic service to add to the session's server. Message size limits
    /// are lifted: a STAT can carry large xattrs/paths, DATA is 32 KiB.
    pub fn into_server(self) -> FileSyncServer<FileSyncService> {
        FileSyncServer::new(self)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX)
    }
}

/// The options BuildKit put in the call's metadata.
#[derive(Debug, Default)]
struct CallOptions {
    dir_name: String,
    includes: Vec<String>,
    excludes: Vec<String>,
    follow_paths: Vec<String>,
}

fn call_options(md: &tonic::metadata::MetadataMap) -> CallOptions {
    let all = |key: &str| -> Vec<String> {
        md.get_all(key)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_encoded_bytes()).into_owned())
            .collect()
    };
    CallOptions {
        dir_name: all(keys::DIR_NAME).into_iter().next().unwrap_or_default(),
        includes: all(keys::INCLUDE_PATTERNS),
        excludes: all(keys::EXCLUDE_PATTERNS),
        follow_paths: all(keys::FOLLOW_PATHS),
    }
}

type PacketResult = Result<Packet, Status>;

#[tonic::async_trait]
impl FileSync for FileSyncService {
    type DiffCopyStream = ReceiverStream<PacketResult>;
    type TarStreamStream = ReceiverStream<PacketResult>;

    async fn diff_copy(
        &self,
        request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::DiffCopyStream>, Status> {
        let opts = call_options(request.metadata());
        let Some(dir) = self.dirs.get(&opts.dir_name).cloned() else {
            return Err(Status::not_found(format!(
                "no access allowed to dir {:?}",
                opts.dir_name
            )));
        };
        // Patterns BuildKit sends went through the same reader as ours;
        // a bad one fails the call as it would in BuildKit.
        let mut includes = opts.includes.clone();
        if !opts.follow_paths.is_empty() {
            includes.extend(walk::follow_links(&dir.root, &opts.follow_paths));
        }
        let include =
            if includes.is_empty() {
                None
            } else {
                Some(DockerIgnore::from_patterns(&includes).map_err(|e| {
                    Status::invalid_argument(format!("invalid includepatterns: {e}"))
                })?)
            };
        let exclude =
            if opts.excludes.is_empty() {
                None
            } else {
                Some(DockerIgnore::from_patterns(&opts.excludes).map_err(|e| {
                    Status::invalid_argument(format!("invalid excludepatterns: {e}"))
                })?)
            };
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(128);
        let call = Call {
            dir_name: opts.dir_name,
            dir,
            include,
            exclude,
            stats: self.stats.clone(),
            files: Arc::default(),
            tx,
        };
        tokio::spawn(call.run(request.into_inner()));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn tar_stream(
        &self,
        _request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::TarStreamStream>, Status> {
        Err(Status::unimplemented(
            "FileSync/TarStream is not served by buildkit-lsp; BuildKit uses DiffCopy for local sources",
        ))
    }
}

/// One DiffCopy call in progress.
struct Call {
    dir_name: String,
    dir: SyncedDir,
    include: Option<DockerIgnore>,
    exclude: Option<DockerIgnore>,
    stats: Arc<TransferStats>,
    /// STAT index -> (relative path, absolute path) of files that may be requested.
    files: Arc<Mutex<HashMap<u32, (String, PathBuf)>>>,
    tx: mpsc::Sender<PacketResult>,
}

impl Call {
    async fn run(self, mut incoming: Streaming<Packet>) {
        let walker = tokio::task::spawn_blocking({
            let tx = self.tx.clone();
            let stats = self.stats.clone();
            let files = self.files.clone();
            let root = self.dir.root.clone();
            let ignore = self.dir.ignore.clone();
            let only = self.dir.only.clone();
            let include = self.include;
            let exclude = self.exclude;
            move || {
                let mut excludes = Vec::new();
                if let Some(e) = &exclude {
                    excludes.push(e);
                }
                if let Some(i) = ignore.as_deref() {
                    excludes.push(i);
                }
                let mut includes = Vec::new();
                if let Some(i) = &include {
                    includes.push(i);
                }
                if let Some(o) = only.as_deref() {
                    includes.push(o);
                }
                let filters = walk::Filters {
                    include: includes,
                    excludes,
                };
                list_entries(&root, &filters, &tx, &stats, &files)
            }
        });

        // REQs are queued, never left unread: h2 counts small DATA frames
        // buffered on a stream against a budget and closes the whole
        // connection (GOAWAY "too_many_data_frames") when BuildKit's burst of
        // thousands of REQs is not consumed. The queue is bounded by the
        // number of files listed, since each id can be requested once.
        //
        // The workers are blocking threads that read with plain `std::fs`:
        // a context is mostly small files, and reading one through
        // `tokio::fs` costs a thread hand-off per open and per read (three
        // per file), which dominated a cold transfer of 20,000 small files.
        let (jobs_tx, jobs_rx) = mpsc::unbounded_channel::<(u32, String, PathBuf)>();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let mut senders = tokio::task::JoinSet::new();
        for _ in 0..PARALLEL_FILES {
            let jobs = jobs_rx.clone();
            let tx = self.tx.clone();
            let stats = self.stats.clone();
            let dir_name = self.dir_name.clone();
            senders.spawn_blocking(move || loop {
                // Held while waiting: the other workers are idle then too.
                let job = match jobs.lock() {
                    Ok(mut rx) => rx.blocking_recv(),
                    Err(_) => None,
                };
                let Some((id, rel, abs)) = job else { break };
                if !send_file(id, &dir_name, &rel, &abs, &tx, &stats) {
                    break;
                }
            });
        }
        let mut jobs_tx = Some(jobs_tx);
        let mut requested: u64 = 0;
        let mut result: Result<(), Status> = Ok(());
        loop {
            let packet = match incoming.message().await {
                Ok(Some(p)) => p,
                Ok(None) => {
                    tracing::debug!(dir = %self.dir_name, "file sync: receiver closed without FIN");
                    break;
                }
                Err(status) => {
                    tracing::debug!(dir = %self.dir_name, "file sync: receive failed: {status}");
                    result = Err(status);
                    break;
                }
            };
            match PacketType::try_from(packet.r#type) {
                Ok(PacketType::PacketReq) => {
                    let entry = self
                        .files
                        .lock()
                        .ok()
                        .and_then(|mut f| f.remove(&packet.id));
                    let Some((rel, abs)) = entry else {
                        result = Err(Status::invalid_argument(format!(
                            "invalid file id {}",
                            packet.id
                        )));
                        break;
                    };
                    requested += 1;
                    if let Some(q) = &jobs_tx {
                        // only fails if every worker is gone, i.e. the stream is closed
                        let _ = q.send((packet.id, rel, abs));
                    }
                }
                Ok(PacketType::PacketFin) => {
                    tracing::debug!(dir = %self.dir_name, requested, "file sync: FIN");
                    // BuildKit sends FIN once every requested file is complete;
                    // let the workers finish anyway before answering
                    jobs_tx = None;
                    while senders.join_next().await.is_some() {}
                    let fin = Packet {
                        r#type: PacketType::PacketFin as i32,
                        ..Packet::default()
                    };
                    send(&self.tx, &self.stats, fin).await;
                    break;
                }
                Ok(PacketType::PacketErr) => {
                    let msg = String::from_utf8_lossy(&packet.data).into_owned();
                    tracing::debug!(dir = %self.dir_name, "file sync: receiver error: {msg}");
                    result = Err(Status::aborted(format!("error from receiver: {msg}")));
                    break;
                }
                // STAT/DATA from the receiver have no meaning in this direction
                _ => {}
            }
        }
        drop(jobs_tx);
        senders.abort_all();
        match walker.await {
            Ok(Ok(())) => {}
            Ok(Err(status)) => result = result.and(Err(status)),
            Err(e) => result = result.and(Err(Status::internal(format!("walk failed: {e}")))),
        }
        if let Err(status) = result {
            // the stream may already be closed; nothing else to tell anyone
            let _ = self.tx.send(Err(status)).await;
        }
    }
}

/// The listing: one STAT per entry, then an empty STAT. Runs on a blocking
/// thread; on a filesystem error it sends PACKET_ERR as fsutil does.
fn list_entries(
    root: &Path,
    filters: &walk::Filters<'_>,
    tx: &mpsc::Sender<PacketResult>,
    stats: &TransferStats,
    files: &Mutex<HashMap<u32, (String, PathBuf)>>,
) -> Result<(), Status> {
    let mut index: u32 = 0;
    let outcome = walk::walk(root, filters, |entry| {
        if can_request_data(entry.stat.mode) {
            if let Ok(mut f) = files.lock() {
                f.insert(index, (entry.stat.path.clone(), entry.abs));
            }
        }
        index = index.wrapping_add(1);
        let p = Packet {
            r#type: PacketType::PacketStat as i32,
            stat: Some(entry.stat),
            ..Packet::default()
        };
        stats.count_packet(&p);
        stats.stats_sent.fetch_add(1, Ordering::Relaxed);
        tx.blocking_send(Ok(p))
            .map_err(|_| BuildkitError::SyncStopped)
    });
    match outcome {
        Ok(()) => {
            let end = Packet {
                r#type: PacketType::PacketStat as i32,
                ..Packet::default()
            };
            stats.count_packet(&end);
            // a closed stream just means the receiver is gone
            let _ = tx.blocking_send(Ok(end));
            Ok(())
        }
        Err(BuildkitError::SyncStopped) => Ok(()),
        Err(e) => {
            let msg = e.to_string();
            let _ = tx.blocking_send(Ok(Packet {
                r#type: PacketType::PacketErr as i32,
                data: msg.clone().into_bytes(),
                ..Packet::default()
            }));
            Err(Status::internal(msg))
        }
    }
}

async fn send(tx: &mpsc::Sender<PacketResult>, stats: &TransferStats, p: Packet) -> bool {
    stats.count_packet(&p);
    tx.send(Ok(p)).await.is_ok()
}

fn send_blocking(tx: &mpsc::Sender<PacketResult>, stats: &TransferStats, p: Packet) -> bool {
    stats.count_packet(&p);
    tx.blocking_send(Ok(p)).is_ok()
}

/// DATA chunks of one file, then an empty DATA, from a blocking thread. A
/// file that cannot be opened any more is sent empty, as fsutil does (the
/// receiver then fails on size). `false` once the stream is closed.
fn send_file(
    id: u32,
    dir_name: &str,
    rel: &str,
    abs: &Path,
    tx: &mpsc::Sender<PacketResult>,
    stats: &TransferStats,
) -> bool {
    use sha2::Digest;
    use std::io::Read;
    let mut total: u64 = 0;
    let mut hasher = sha2::Sha256::new();
    match std::fs::File::open(abs) {
        Ok(mut file) => {
            let mut buf = vec![0u8; DATA_CHUNK_SIZE];
            loop {
                let n = match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(path = %abs.display(), "read failed during file sync: {e}");
                        break;
                    }
                };
                let p = Packet {
                    r#type: PacketType::PacketData as i32,
                    id,
                    data: buf[..n].to_vec(),
                    ..Packet::default()
                };
                stats.data_bytes.fetch_add(n as u64, Ordering::Relaxed);
                total += n as u64;
                hasher.update(&buf[..n]);
                if !send_blocking(tx, stats, p) {
                    return false;
                }
            }
        }
        Err(e) => tracing::warn!(path = %abs.display(), "open failed during file sync: {e}"),
    }
    if let Ok(mut sent) = stats.sent.lock() {
        sent.push(SentFile {
            dir: dir_name.to_string(),
            path: rel.to_string(),
            bytes: total,
            digest: hex::encode(hasher.finalize()),
        });
    }
    let end = Packet {
        r#type: PacketType::PacketData as i32,
        id,
        ..Packet::default()
    };
    send_blocking(tx, stats, end)
}
