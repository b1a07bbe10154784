//! The session content store: containerd's content API
//! (`containerd.services.content.v1.Content`) served back to BuildKit, as
//! BuildKit's `session/content` attachable serves it for buildx and
//! buildctl. Each call names its store in the `buildkit-attachable-store-id`
//! metadata; the client registers one store per use:
//!
//! - `local:<dest>` / `local:<src>`: a `type=local` cache export or import
//!   (the attr's value exactly as sent);
//! - `export`: the `oci`/`docker` exporter with `tar=false`;
//! - `oci:<id>`: an `oci-layout://` named context.
//!
//! A store is a directory in containerd's local layout, which is an OCI
//! image layout: `blobs/<alg>/<hex>` plus `ingest/` for writes in
//! progress. A write goes to `ingest/<sha256(ref)>/data`, hashed as it
//! arrives, and becomes a blob only on commit, after its size and digest
//! are verified, by a rename within the store (atomic: a reader never sees
//! a partial blob, and a blob's name is always its content's digest).
//! Unlike containerd, an ingest is not kept for resuming once its write
//! stream ends uncommitted; the next writer of the ref starts over.
//!
//! `bollard-buildkit-proto` has no containerd types, so the messages of
//! containerd's `api/services/content/v1/content.proto` are written here.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bollard_buildkit_proto::google::protobuf::Timestamp;
use futures::future::BoxFuture;
use futures::Stream;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tonic::server::NamedService;
use tonic::{Request, Response, Status, Streaming};

/// The gRPC metadata key that names the store of a call.
pub const STORE_ID_HEADER: &str = "buildkit-attachable-store-id";

/// The service's name.
pub const SERVICE: &str = "containerd.services.content.v1.Content";

/// Every method of the service, for the session's method list.
pub const METHODS: [&str; 9] = [
    "/containerd.services.content.v1.Content/Info",
    "/containerd.services.content.v1.Content/Update",
    "/containerd.services.content.v1.Content/List",
    "/containerd.services.content.v1.Content/Delete",
    "/containerd.services.content.v1.Content/Read",
    "/containerd.services.content.v1.Content/Status",
    "/containerd.services.content.v1.Content/ListStatuses",
    "/containerd.services.content.v1.Content/Write",
    "/containerd.services.content.v1.Content/Abort",
];

/// containerd's read buffer: one `ReadContentResponse` carries at most this.
const READ_CHUNK: usize = 1 << 20;

/// The messages of `containerd.services.content.v1`.
pub mod api {
    use std::collections::HashMap;

    use bollard_buildkit_proto::google::protobuf::Timestamp;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Info {
        #[prost(string, tag = "1")]
        pub digest: String,
        #[prost(int64, tag = "2")]
        pub size: i64,
        #[prost(message, optional, tag = "3")]
        pub created_at: Option<Timestamp>,
        #[prost(message, optional, tag = "4")]
        pub updated_at: Option<Timestamp>,
        #[prost(map = "string, string", tag = "5")]
        pub labels: HashMap<String, String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct InfoRequest {
        #[prost(string, tag = "1")]
        pub digest: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct InfoResponse {
        #[prost(message, optional, tag = "1")]
        pub info: Option<Info>,
    }

    /// `UpdateRequest` (the field mask, field 2, is not read: updates are
    /// refused).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct UpdateRequest {
        #[prost(message, optional, tag = "1")]
        pub info: Option<Info>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct UpdateResponse {
        #[prost(message, optional, tag = "1")]
        pub info: Option<Info>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListContentRequest {
        #[prost(string, repeated, tag = "1")]
        pub filters: Vec<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListContentResponse {
        #[prost(message, repeated, tag = "1")]
        pub info: Vec<Info>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DeleteContentRequest {
        #[prost(string, tag = "1")]
        pub digest: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ReadContentRequest {
        #[prost(string, tag = "1")]
        pub digest: String,
        #[prost(int64, tag = "2")]
        pub offset: i64,
        #[prost(int64, tag = "3")]
        pub size: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ReadContentResponse {
        #[prost(int64, tag = "1")]
        pub offset: i64,
        #[prost(bytes = "vec", tag = "2")]
        pub data: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(message, optional, tag = "1")]
        pub started_at: Option<Timestamp>,
        #[prost(message, optional, tag = "2")]
        pub updated_at: Option<Timestamp>,
        #[prost(string, tag = "3")]
        pub r#ref: String,
        #[prost(int64, tag = "4")]
        pub offset: i64,
        #[prost(int64, tag = "5")]
        pub total: i64,
        #[prost(string, tag = "6")]
        pub expected: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StatusRequest {
        #[prost(string, tag = "1")]
        pub r#ref: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StatusResponse {
        #[prost(message, optional, tag = "1")]
        pub status: Option<Status>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListStatusesRequest {
        #[prost(string, repeated, tag = "1")]
        pub filters: Vec<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListStatusesResponse {
        #[prost(message, repeated, tag = "1")]
        pub statuses: Vec<Status>,
    }

    /// `WriteAction`: STAT = 0, WRITE = 1, COMMIT = 2.
    pub const STAT: i32 = 0;
    pub const WRITE: i32 = 1;
    pub const COMMIT: i32 = 2;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteContentRequest {
        #[prost(int32, tag = "1")]
        pub action: i32,
        #[prost(string, tag = "2")]
        pub r#ref: String,
        #[prost(int64, tag = "3")]
        pub total: i64,
        #[prost(string, tag = "4")]
        pub expected: String,
        #[prost(int64, tag = "5")]
        pub offset: i64,
        #[prost(bytes = "vec", tag = "6")]
        pub data: Vec<u8>,
        #[prost(map = "string, string", tag = "7")]
        pub labels: HashMap<String, String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteContentResponse {
        #[prost(int32, tag = "1")]
        pub action: i32,
        #[prost(message, optional, tag = "2")]
        pub started_at: Option<Timestamp>,
        #[prost(message, optional, tag = "3")]
        pub updated_at: Option<Timestamp>,
        #[prost(int64, tag = "4")]
        pub offset: i64,
        #[prost(int64, tag = "5")]
        pub total: i64,
        #[prost(string, tag = "6")]
        pub digest: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AbortRequest {
        #[prost(string, tag = "1")]
        pub r#ref: String,
    }

    /// `google.protobuf.Empty`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Empty {}
}

/// A content digest, validated: `<alg>:<lower-case hex>` with one of the
/// algorithms go-digest knows and the hex length it requires. The only
/// form that becomes a path (`blobs/<alg>/<hex>`), so a digest from the
/// wire can never name a file outside the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses a digest as go-digest's `Parse` accepts it.
    pub fn parse(s: &str) -> Result<Digest, String> {
        crate::options::parse_digest(s)?;
        Ok(Digest(s.to_string()))
    }

    /// The sha256 digest of `data`.
    pub fn sha256(data: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(data))))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parts(&self) -> (&str, &str) {
        self.0.split_once(':').unwrap_or(("", ""))
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn timestamp(t: SystemTime) -> Timestamp {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// A write in progress, as `Status` reports it.
#[derive(Debug, Clone)]
struct Ingest {
    started: SystemTime,
    updated: SystemTime,
    offset: i64,
    total: i64,
    expected: String,
}

/// One content store directory in containerd's local layout.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    /// The refs being written now; a second writer of one is refused, as
    /// containerd refuses it ("ref … locked"), and BuildKit retries.
    ingests: Mutex<HashMap<String, Ingest>>,
}

impl LocalStore {
    /// Opens (creating) the store at `root`, as containerd's
    /// `local.NewStore` does: the directory and its `ingest/`.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<LocalStore> {
        let root = root.into();
        std::fs::create_dir_all(root.join("ingest"))?;
        Ok(LocalStore {
            root,
            ingests: Mutex::default(),
        })
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob of `digest` lives.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        let (alg, hex) = digest.parts();
        self.root.join("blobs").join(alg).join(hex)
    }

    /// The size of a blob, `None` when the store lacks it.
    pub fn size(&self, digest: &Digest) -> io::Result<Option<u64>> {
        match std::fs::metadata(self.blob_path(digest)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn ingest_dir(&self, r#ref: &str) -> PathBuf {
        // containerd names ingests by the digest of the ref, to keep the
        // path's length constant.
        let name = hex::encode(Sha256::digest(r#ref.as_bytes()));
        self.root.join("ingest").join(name)
    }

    fn lock(&self, r#ref: &str) -> Result<RefLock<'_>, Status> {
        let mut ingests = self.ingests.lock().map_err(|_| poisoned())?;
        if ingests.contains_key(r#ref) {
            return Err(Status::unavailable(format!(
                "ref {ref} locked: unavailable"
            )));
        }
        let now = SystemTime::now();
        ingests.insert(
            r#ref.to_string(),
            Ingest {
                started: now,
                updated: now,
                offset: 0,
                total: 0,
                expected: String::new(),
            },
        );
        Ok(RefLock {
            store: self,
            r#ref: r#ref.to_string(),
        })
    }

    fn update(&self, r#ref: &str, f: impl FnOnce(&mut Ingest)) {
        if let Ok(mut ingests) = self.ingests.lock() {
            if let Some(i) = ingests.get_mut(r#ref) {
                f(i);
            }
        }
    }

    fn status_of(&self, r#ref: &str) -> Option<api::Status> {
        let ingests = self.ingests.lock().ok()?;
        ingests.get(r#ref).map(|i| status_message(r#ref, i))
    }
}

fn status_message(r#ref: &str, i: &Ingest) -> api::Status {
    api::Status {
        started_at: Some(timestamp(i.started)),
        updated_at: Some(timestamp(i.updated)),
        r#ref: r#ref.to_string(),
        offset: i.offset,
        total: i.total,
        expected: i.expected.clone(),
    }
}

fn poisoned() -> Status {
    Status::internal("the content store's state is unusable after a panic")
}

/// Holds a ref for one write stream; releases it when dropped.
struct RefLock<'a> {
    store: &'a LocalStore,
    r#ref: String,
}

impl Drop for RefLock<'_> {
    fn drop(&mut self) {
        if let Ok(mut ingests) = self.store.ingests.lock() {
            ingests.remove(&self.r#ref);
        }
    }
}

/// The attachable: the stores of one session, by id.
#[derive(Debug, Clone, Default)]
pub struct ContentStoreService {
    stores: Arc<BTreeMap<String, Arc<LocalStore>>>,
}

impl ContentStoreService {
    /// A service serving `stores` (store id -> store).
    pub fn new(stores: BTreeMap<String, Arc<LocalStore>>) -> ContentStoreService {
        ContentStoreService {
            stores: Arc::new(stores),
        }
    }

    /// Whether any store is served.
    pub fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    fn choose(&self, metadata: &tonic::metadata::MetadataMap) -> Result<Arc<LocalStore>, Status> {
        let Some(id) = metadata.get(STORE_ID_HEADER) else {
            return Err(Status::invalid_argument(format!(
                "request lacks metadata \"{STORE_ID_HEADER}\": invalid argument"
            )));
        };
        let id = id
            .to_str()
            .map_err(|_| Status::invalid_argument("the store id is not text"))?;
        self.stores
            .get(id)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("unknown store {id}: not found")))
    }
}

impl NamedService for ContentStoreService {
    const NAME: &'static str = SERVICE;
}

fn digest_arg(s: &str) -> Result<Digest, Status> {
    Digest::parse(s).map_err(Status::invalid_argument)
}

fn not_found(d: &Digest) -> Status {
    Status::not_found(format!("content digest {d}: not found"))
}

fn io_status(what: &str, path: &Path, e: io::Error) -> Status {
    Status::internal(format!("{what} {}: {e}", path.display()))
}

async fn info(store: &LocalStore, d: &Digest) -> Result<api::Info, Status> {
    let path = store.blob_path(d);
    let meta = match tokio::fs::metadata(&path).await {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found(d)),
        Err(e) => return Err(io_status("cannot stat", &path, e)),
    };
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(api::Info {
        digest: d.to_string(),
        size: meta.len() as i64,
        created_at: Some(timestamp(modified)),
        updated_at: Some(timestamp(modified)),
        labels: HashMap::new(),
    })
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

impl ContentStoreService {
    async fn info(&self, req: Request<api::InfoRequest>) -> Result<api::InfoResponse, Status> {
        let store = self.choose(req.metadata())?;
        let d = digest_arg(&req.get_ref().digest)?;
        Ok(api::InfoResponse {
            info: Some(info(&store, &d).await?),
        })
    }

    async fn update(
        &self,
        req: Request<api::UpdateRequest>,
    ) -> Result<api::UpdateResponse, Status> {
        self.choose(req.metadata())?;
        // containerd's local store without a label store says the same.
        Err(Status::failed_precondition(
            "update not supported on immutable content store: failed precondition",
        ))
    }

    async fn list(
        &self,
        req: Request<api::ListContentRequest>,
    ) -> Result<BoxStream<api::ListContentResponse>, Status> {
        let store = self.choose(req.metadata())?;
        if !req.get_ref().filters.is_empty() {
            return Err(Status::unimplemented(
                "filters are not supported by this content store (it keeps no labels)",
            ));
        }
        let mut infos = Vec::new();
        for alg in ["sha256", "sha384", "sha512"] {
            let dir = store.root.join("blobs").join(alg);
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_status("cannot list", &dir, e)),
            };
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| io_status("cannot list", &dir, e))?
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                // Anything that is not a blob name is not content.
                if let Ok(d) = Digest::parse(&format!("{alg}:{name}")) {
                    infos.push(info(&store, &d).await?);
                }
            }
        }
        let batches: Vec<Result<api::ListContentResponse, Status>> = infos
            .chunks(100)
            .map(|c| Ok(api::ListContentResponse { info: c.to_vec() }))
            .collect();
        Ok(Box::pin(futures::stream::iter(batches)))
    }

    async fn delete(&self, req: Request<api::DeleteContentRequest>) -> Result<api::Empty, Status> {
        let store = self.choose(req.metadata())?;
        let d = digest_arg(&req.get_ref().digest)?;
        let path = store.blob_path(&d);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(api::Empty {}),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(not_found(&d)),
            Err(e) => Err(io_status("cannot delete", &path, e)),
        }
    }

    async fn read(
        &self,
        req: Request<api::ReadContentRequest>,
    ) -> Result<BoxStream<api::ReadContentResponse>, Status> {
        let store = self.choose(req.metadata())?;
        let r = req.into_inner();
        let d = digest_arg(&r.digest)?;
        let size = info(&store, &d).await?.size;
        let offset = r.offset.max(0);
        if offset > size {
            return Err(Status::out_of_range(format!(
                "read past object length {size} bytes"
            )));
        }
        // The read size, not the blob's: past the end means up to the end.
        let len = if r.size <= 0 || offset + r.size > size {
            size - offset
        } else {
            r.size
        };
        let path = store.blob_path(&d);
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| io_status("cannot open", &path, e))?;
        file.seek(io::SeekFrom::Start(offset as u64))
            .await
            .map_err(|e| io_status("cannot read", &path, e))?;
        let (tx, rx) = mpsc::channel::<Result<api::ReadContentResponse, Status>>(4);
        tokio::spawn(async move {
            let mut left = len as u64;
            // Offsets relative to the request's, as containerd sends them.
            let mut sent: i64 = 0;
            while left > 0 {
                let mut buf = vec![0u8; left.min(READ_CHUNK as u64) as usize];
                let n = match file.read(&mut buf).await {
                    Ok(0) => {
                        let _ = tx
                            .send(Err(Status::data_loss(format!(
                                "{} ended before its recorded size",
                                path.display()
                            ))))
                            .await;
                        return;
                    }
                    Ok(n) => n,
                    Err(e) => {
                        let _ = tx.send(Err(io_status("cannot read", &path, e))).await;
                        return;
                    }
                };
                buf.truncate(n);
                left -= n as u64;
                let msg = api::ReadContentResponse {
                    offset: sent,
                    data: buf,
                };
                sent += n as i64;
                if tx.send(Ok(msg)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    async fn status(
        &self,
        req: Request<api::StatusRequest>,
    ) -> Result<api::StatusResponse, Status> {
        let store = self.choose(req.metadata())?;
        let r#ref = &req.get_ref().r#ref;
        match store.status_of(r#ref) {
            Some(s) => Ok(api::StatusResponse { status: Some(s) }),
            None => Err(Status::not_found(format!("ref {ref}: not found"))),
        }
    }

    async fn list_statuses(
        &self,
        req: Request<api::ListStatusesRequest>,
    ) -> Result<api::ListStatusesResponse, Status> {
        let store = self.choose(req.metadata())?;
        let ingests = store.ingests.lock().map_err(|_| poisoned())?;
        let mut statuses: Vec<api::Status> =
            ingests.iter().map(|(r, i)| status_message(r, i)).collect();
        statuses.sort_by(|a, b| a.r#ref.cmp(&b.r#ref));
        Ok(api::ListStatusesResponse { statuses })
    }

    async fn abort(&self, req: Request<api::AbortRequest>) -> Result<api::Empty, Status> {
        let store = self.choose(req.metadata())?;
        let r#ref = &req.get_ref().r#ref;
        // Uncommitted ingests go when their stream ends; one still written
        // is its writer's.
        match store.status_of(r#ref) {
            Some(_) => Err(Status::unavailable(format!(
                "ref {ref} locked: unavailable"
            ))),
            None => Err(Status::not_found(format!("ingest ref {ref:?}: not found"))),
        }
    }

    async fn write(
        &self,
        req: Request<Streaming<api::WriteContentRequest>>,
    ) -> Result<BoxStream<api::WriteContentResponse>, Status> {
        let store = self.choose(req.metadata())?;
        let mut input = req.into_inner();
        let (tx, rx) = mpsc::channel::<Result<api::WriteContentResponse, Status>>(4);
        tokio::spawn(async move {
            let Some(first) = (match input.message().await {
                Ok(m) => m,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }) else {
                return;
            };
            if let Err(e) = write_session(&store, first, &mut input, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
}

/// One `Write` stream, containerd's contentserver protocol: the first
/// message names the ref; every message gets one answer (STAT: the state;
/// WRITE: the new offset; COMMIT: the committed digest).
async fn write_session(
    store: &LocalStore,
    first: api::WriteContentRequest,
    input: &mut Streaming<api::WriteContentRequest>,
    tx: &mpsc::Sender<Result<api::WriteContentResponse, Status>>,
) -> Result<(), Status> {
    let r#ref = first.r#ref.clone();
    if r#ref.is_empty() {
        return Err(Status::invalid_argument(
            "first message must have a reference",
        ));
    }
    let _lock = store.lock(&r#ref)?;
    let dir = store.ingest_dir(&r#ref);
    let data_path = dir.join("data");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| io_status("cannot create", &dir, e))?;
    // Gone with the stream unless committed (then it is already renamed).
    let _cleanup = RemoveOnDrop(dir.clone());
    let mut file = tokio::fs::File::create(&data_path)
        .await
        .map_err(|e| io_status("cannot create", &data_path, e))?;
    let started = SystemTime::now();
    let mut hasher = Sha256::new();
    let mut offset: i64 = 0;
    let mut total = first.total;
    let mut expected = first.expected.clone();
    let mut committed = false;
    let mut req = first;
    loop {
        if committed {
            return Err(Status::failed_precondition(format!(
                "ref {ref} was committed; open a new writer"
            )));
        }
        let mut resp = api::WriteContentResponse {
            action: req.action,
            offset,
            ..Default::default()
        };
        if !req.expected.is_empty() {
            let d = digest_arg(&req.expected)?;
            expected = req.expected.clone();
            if store
                .size(&d)
                .map_err(|e| io_status("cannot stat", &store.blob_path(&d), e))?
                .is_some()
            {
                return Err(Status::already_exists(format!(
                    "blob with expected digest {d} exists"
                )));
            }
        }
        if req.total > 0 {
            total = req.total;
        }
        match req.action {
            api::STAT => {
                resp.digest = current_digest(&hasher);
                resp.started_at = Some(timestamp(started));
                resp.updated_at = Some(timestamp(SystemTime::now()));
                resp.total = total;
            }
            api::WRITE | api::COMMIT => {
                if req.offset > 0 && req.offset != offset {
                    return Err(Status::out_of_range(format!(
                        "write @{} must occur at current offset {offset}",
                        req.offset
                    )));
                }
                if req.offset == 0 && offset > 0 {
                    // A writer starting over (containerd truncates).
                    file.set_len(0)
                        .await
                        .map_err(|e| io_status("cannot truncate", &data_path, e))?;
                    file.seek(io::SeekFrom::Start(0))
                        .await
                        .map_err(|e| io_status("cannot truncate", &data_path, e))?;
                    hasher = Sha256::new();
                    offset = 0;
                    resp.offset = 0;
                }
                if !req.data.is_empty() {
                    file.write_all(&req.data)
                        .await
                        .map_err(|e| io_status("cannot write", &data_path, e))?;
                    hasher.update(&req.data);
                    offset += req.data.len() as i64;
                    resp.offset = offset;
                }
                if req.action == api::COMMIT {
                    commit(
                        store, &mut file, &data_path, &hasher, offset, total, &expected,
                    )
                    .await?;
                    committed = true;
                }
                resp.digest = current_digest(&hasher);
            }
            other => {
                return Err(Status::invalid_argument(format!(
                    "unknown write action {other}"
                )))
            }
        }
        store.update(&r#ref, |i| {
            i.updated = SystemTime::now();
            i.offset = offset;
            i.total = total;
            i.expected = expected.clone();
        });
        if tx.send(Ok(resp)).await.is_err() {
            return Ok(());
        }
        match input.message().await? {
            Some(next) => req = next,
            None => return Ok(()),
        }
    }
}

fn current_digest(hasher: &Sha256) -> String {
    format!("sha256:{}", hex::encode(hasher.clone().finalize()))
}

/// Verifies an ingest and makes it a blob (containerd's `Commit`).
async fn commit(
    store: &LocalStore,
    file: &mut tokio::fs::File,
    data_path: &Path,
    hasher: &Sha256,
    size: i64,
    total: i64,
    expected: &str,
) -> Result<(), Status> {
    file.flush()
        .await
        .map_err(|e| io_status("cannot write", data_path, e))?;
    file.sync_all()
        .await
        .map_err(|e| io_status("cannot sync", data_path, e))?;
    if total > 0 && total != size {
        return Err(Status::failed_precondition(format!(
            "unexpected commit size {size}, expected {total}: failed precondition"
        )));
    }
    let digest = Digest(current_digest(hasher));
    if !expected.is_empty() && expected != digest.as_str() {
        return Err(Status::failed_precondition(format!(
            "unexpected commit digest {digest}, expected {expected}: failed precondition"
        )));
    }
    let target = store.blob_path(&digest);
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| io_status("cannot create", parent, e))?;
    }
    if tokio::fs::try_exists(&target).await.unwrap_or(false) {
        return Err(Status::already_exists(format!(
            "content {digest}: already exists"
        )));
    }
    // Blobs are immutable: read-only, as containerd leaves them.
    let mut perms = file
        .metadata()
        .await
        .map_err(|e| io_status("cannot stat", data_path, e))?
        .permissions();
    perms.set_readonly(true);
    tokio::fs::set_permissions(data_path, perms)
        .await
        .map_err(|e| io_status("cannot chmod", data_path, e))?;
    tokio::fs::rename(data_path, &target)
        .await
        .map_err(|e| io_status("cannot commit", &target, e))?;
    // The ingest is done with: gone now rather than with the stream.
    if let Some(dir) = data_path.parent() {
        let _ = tokio::fs::remove_dir_all(dir).await;
    }
    Ok(())
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The content stores one build's session serves, and what to record in
/// their `index.json` once the solve is done: BuildKit's client
/// (`client/solve.go`) does the same for buildx.
#[derive(Debug, Default)]
pub struct SessionStores {
    stores: BTreeMap<String, Arc<LocalStore>>,
    /// `type=local` cache exports: the directory and the tag to record.
    cache_exports: Vec<(PathBuf, String)>,
    /// OCI layout exports (`tar=false`): the directories.
    layout_exports: Vec<PathBuf>,
    /// What was skipped, as BuildKit's client warns of it.
    pub warnings: Vec<String>,
}

/// The exporter response key of a cache export's manifest descriptor.
const CACHE_MANIFEST: &str = "cache.manifest";
/// The exporter response key of an image export's descriptor (base64 JSON).
const IMAGE_DESCRIPTOR: &str = "containerimage.descriptor";
/// The exporter response key of the exported image names.
const IMAGE_NAME: &str = "image.name";

fn open_store(dir: &Path) -> Result<Arc<LocalStore>, super::BuildkitError> {
    LocalStore::open(dir)
        .map(Arc::new)
        .map_err(|source| super::BuildkitError::Io {
            what: "cannot open the content store",
            path: dir.display().to_string(),
            source,
        })
}

impl SessionStores {
    /// The stores `spec` needs, and `spec` as sent: local cache imports
    /// carry the digest found in their `index.json` (or are left out with a
    /// warning when there is none, as BuildKit's client does), and
    /// `oci-layout://` contexts name their session store and digest.
    pub fn prepare(
        spec: &crate::build::BuildSpec,
        exports: &[crate::build::Export],
    ) -> Result<(crate::build::BuildSpec, SessionStores), super::BuildkitError> {
        use super::ocilayout::StoreIndex;
        use crate::build::options::ContextSource;
        let mut out = SessionStores::default();
        let mut spec = spec.clone();
        for c in spec.cache_to.iter().filter(|c| c.kind == "local") {
            let Some(dest) = c.attrs.get("dest") else {
                return Err(super::BuildkitError::Unsupported(
                    "local cache exporter requires dest".into(),
                ));
            };
            let store = open_store(Path::new(dest))?;
            out.stores.insert(format!("local:{dest}"), store);
            let tag = c
                .attrs
                .get("tag")
                .cloned()
                .unwrap_or_else(|| "latest".into());
            out.cache_exports.push((PathBuf::from(dest), tag));
        }
        let mut imports = Vec::new();
        for mut c in std::mem::take(&mut spec.cache_from) {
            if c.kind != "local" {
                imports.push(c);
                continue;
            }
            let Some(src) = c.attrs.get("src").cloned() else {
                return Err(super::BuildkitError::Unsupported(
                    "local cache importer requires src".into(),
                ));
            };
            if !c.attrs.contains_key("digest") {
                let tag = c
                    .attrs
                    .get("tag")
                    .cloned()
                    .unwrap_or_else(|| "latest".into());
                if tag.is_empty() {
                    return Err(super::BuildkitError::Unsupported(
                        "local cache importer requires either explicit digest, \"latest\" tag or custom tag on index.json".into(),
                    ));
                }
                match StoreIndex::new(&src).get(&tag) {
                    Ok(Some(desc)) => {
                        c.attrs.insert("digest".into(), desc.digest);
                    }
                    Ok(None) => {
                        out.warnings.push(format!(
                            "local cache import at {src} skipped: no digest found for tag {tag}"
                        ));
                        continue;
                    }
                    Err(e) => {
                        out.warnings.push(format!(
                            "local cache import at {src} skipped due to err: {e}"
                        ));
                        continue;
                    }
                }
            }
            let digest = c.attrs.get("digest").cloned().unwrap_or_default();
            let store = open_store(Path::new(&src))?;
            match Digest::parse(&digest).map(|d| store.size(&d)) {
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) => {
                    out.warnings.push(format!(
                        "local cache import at {src} skipped: digest {digest} unavailable: content digest {digest}: not found"
                    ));
                    continue;
                }
                Ok(Err(e)) => {
                    out.warnings.push(format!(
                        "local cache import at {src} skipped: digest {digest} unavailable: {e}"
                    ));
                    continue;
                }
                Err(e) => {
                    out.warnings.push(format!(
                        "local cache import at {src} skipped: digest {digest} unavailable: {e}"
                    ));
                    continue;
                }
            }
            out.stores.insert(format!("local:{src}"), store);
            imports.push(c);
        }
        spec.cache_from = imports;
        for e in exports.iter().filter(|e| e.is_layout()) {
            let Some(dest) = &e.dest else {
                return Err(super::BuildkitError::Unsupported(format!(
                    "dest is required for {} exporter",
                    e.kind
                )));
            };
            if dest.as_os_str() == "-" {
                return Err(super::BuildkitError::Unsupported(format!(
                    "dest cannot be stdout for {} exporter",
                    e.kind
                )));
            }
            if dest.is_file() {
                return Err(super::BuildkitError::Unsupported(format!(
                    "destination directory {} is a file",
                    dest.display()
                )));
            }
            // One store id for the exporter (BuildKit's client has the same
            // limit: "oci store key \"export\" already exists").
            if out.stores.contains_key("export") {
                return Err(super::BuildkitError::Unsupported(
                    "only one type=oci or type=docker output with tar=false per build; build once per output".into(),
                ));
            }
            out.stores.insert("export".into(), open_store(dest)?);
            out.layout_exports.push(dest.clone());
        }
        for (name, source) in spec.contexts.iter_mut() {
            let shown = source.display();
            let ContextSource::OciLayout { path, tag, digest } = source else {
                continue;
            };
            let digest = match digest {
                Some(d) => d.clone(),
                None => {
                    let tag = tag.clone().unwrap_or_else(|| "latest".into());
                    let idx = StoreIndex::new(&*path);
                    let found = match idx.get(&tag)? {
                        Some(d) => Some(d),
                        None => idx.get_single()?,
                    };
                    let Some(desc) = found else {
                        return Err(super::BuildkitError::Unsupported(format!(
                            "oci-layout reference \"{shown}\" could not be resolved: failed to resolve digest"
                        )));
                    };
                    Digest::parse(&desc.digest).map_err(|e| {
                        super::BuildkitError::Unsupported(format!(
                            "oci-layout reference \"{shown}\" could not be resolved: {e}"
                        ))
                    })?;
                    desc.digest
                }
            };
            let store_id = super::session_ref();
            if !path.is_dir() {
                return Err(super::BuildkitError::Unsupported(format!(
                    "invalid store at {}: not a directory (named context {name})",
                    path.display()
                )));
            }
            out.stores
                .insert(format!("oci:{store_id}"), open_store(path)?);
            let mut value = format!("oci-layout://{store_id}");
            if let Some(t) = tag {
                value.push(':');
                value.push_str(t);
            }
            value.push('@');
            value.push_str(&digest);
            *source = ContextSource::Passthrough(value);
        }
        Ok((spec, out))
    }

    /// Whether any store is served.
    pub fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    /// The session service serving the stores.
    pub fn service(&self) -> ContentStoreService {
        ContentStoreService::new(self.stores.clone())
    }

    /// Records what the solve exported in the layouts' `index.json`: the
    /// cache manifest under its tag, the image under its names (else
    /// `latest`).
    pub fn finish(
        &self,
        exporter_response: &HashMap<String, String>,
    ) -> Result<(), super::BuildkitError> {
        use super::ocilayout::{Descriptor, NameOrTag, StoreIndex};
        let bad = |what: &str, e: String| {
            super::BuildkitError::Session(format!("the exporter's {what} is unreadable: {e}"))
        };
        if let Some(json) = exporter_response.get(CACHE_MANIFEST) {
            let desc: Descriptor =
                serde_json::from_str(json).map_err(|e| bad(CACHE_MANIFEST, e.to_string()))?;
            for (dir, tag) in &self.cache_exports {
                StoreIndex::new(dir).put(&desc, &[NameOrTag::Tag(tag.clone())])?;
            }
        }
        if let Some(b64) = exporter_response.get(IMAGE_DESCRIPTOR) {
            use base64::Engine as _;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| bad(IMAGE_DESCRIPTOR, e.to_string()))?;
            let desc: Descriptor =
                serde_json::from_slice(&raw).map_err(|e| bad(IMAGE_DESCRIPTOR, e.to_string()))?;
            let names: Vec<NameOrTag> = match exporter_response.get(IMAGE_NAME) {
                Some(n) => n
                    .split(',')
                    .map(|n| NameOrTag::Name(n.to_string()))
                    .collect(),
                None => vec![NameOrTag::Tag("latest".into())],
            };
            for dir in &self.layout_exports {
                StoreIndex::new(dir).put(&desc, &names)?;
            }
        }
        Ok(())
    }
}

// The gRPC plumbing: tonic's server helpers, one small adapter per call
// shape, dispatched on the method's path.

type Handler<Req, Out> =
    fn(ContentStoreService, Request<Req>) -> BoxFuture<'static, Result<Out, Status>>;

struct Unary<Req, Resp>(ContentStoreService, Handler<Req, Resp>);

impl<Req, Resp: 'static> tonic::server::UnaryService<Req> for Unary<Req, Resp> {
    type Response = Resp;
    type Future = BoxFuture<'static, Result<Response<Resp>, Status>>;
    fn call(&mut self, request: Request<Req>) -> Self::Future {
        let fut = (self.1)(self.0.clone(), request);
        Box::pin(async move { fut.await.map(Response::new) })
    }
}

struct ServerStreaming<Req, Resp>(ContentStoreService, Handler<Req, BoxStream<Resp>>);

impl<Req, Resp: Send + 'static> tonic::server::ServerStreamingService<Req>
    for ServerStreaming<Req, Resp>
{
    type Response = Resp;
    type ResponseStream = BoxStream<Resp>;
    type Future = BoxFuture<'static, Result<Response<BoxStream<Resp>>, Status>>;
    fn call(&mut self, request: Request<Req>) -> Self::Future {
        let fut = (self.1)(self.0.clone(), request);
        Box::pin(async move { fut.await.map(Response::new) })
    }
}

struct Bidi<Req, Resp>(
    ContentStoreService,
    Handler<Streaming<Req>, BoxStream<Resp>>,
);

impl<Req, Resp: Send + 'static> tonic::server::StreamingService<Req> for Bidi<Req, Resp> {
    type Response = Resp;
    type ResponseStream = BoxStream<Resp>;
    type Future = BoxFuture<'static, Result<Response<BoxStream<Resp>>, Status>>;
    fn call(&mut self, request: Request<Streaming<Req>>) -> Self::Future {
        let fut = (self.1)(self.0.clone(), request);
        Box::pin(async move { fut.await.map(Response::new) })
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for ContentStoreService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let svc = self.clone();
        let method = req
            .uri()
            .path()
            .strip_prefix(&format!("/{SERVICE}/"))
            .unwrap_or_default()
            .to_string();
        macro_rules! codec {
            () => {
                tonic::server::Grpc::new(tonic_prost::ProstCodec::default())
                    .apply_max_message_size_config(Some(usize::MAX), Some(usize::MAX))
            };
        }
        macro_rules! unary {
            ($m:ident) => {{
                let handler = Unary(svc, |s, r| Box::pin(async move { s.$m(r).await }));
                Box::pin(async move { Ok(codec!().unary(handler, req).await) })
            }};
        }
        macro_rules! server_streaming {
            ($m:ident) => {{
                let handler = ServerStreaming(svc, |s, r| Box::pin(async move { s.$m(r).await }));
                Box::pin(async move { Ok(codec!().server_streaming(handler, req).await) })
            }};
        }
        match method.as_str() {
            "Info" => unary!(info),
            "Update" => unary!(update),
            "Delete" => unary!(delete),
            "Status" => unary!(status),
            "ListStatuses" => unary!(list_statuses),
            "Abort" => unary!(abort),
            "List" => server_streaming!(list),
            "Read" => server_streaming!(read),
            "Write" => {
                let handler = Bidi(svc, |s, r| Box::pin(async move { s.write(r).await }));
                Box::pin(async move { Ok(codec!().streaming(handler, req).await) })
            }
            _ => Box::pin(async move {
                Ok(
                    Status::unimplemented(format!("{} is not served", req.uri().path()))
                        .into_http(),
                )
            }),
        }
    }
}
