//! FileSend, the session service through which BuildKit hands exports back to
//! this machine. One gRPC method carries two encodings: the tarball exporters
//! (`tar`, `docker`, `oci`) stream raw `BytesMessage` chunks, while the
//! `local` exporter speaks tonistiigi/fsutil's packet protocol with us as the
//! receiver (STAT per entry, an empty STAT to end the listing; we ask for
//! each regular file with REQ by the STAT's index, it answers with DATA
//! chunks and an empty DATA; our FIN ends the call). So the method is served
//! with a pass-through codec and decoded here by what was exported.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bollard_buildkit_proto::fsutil::types::packet::PacketType;
use bollard_buildkit_proto::fsutil::types::{Packet, Stat};
use bollard_buildkit_proto::moby::filesync::v1::BytesMessage;
use bytes::{Buf, BufMut, Bytes};
use futures::future::BoxFuture;
use futures::Stream;
use prost::Message;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::NamedService;
use tonic::{Request, Response, Status, Streaming};

use super::attachables::TarDest;
use crate::buildkit::BuildkitError;

/// Where an export lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportDest {
    /// A tarball exporter's stream, to a file or stdout.
    Tar(TarDest),
    /// The `local` exporter's files, into a directory.
    Dir(PathBuf),
    /// A tarball exporter's stream, handed chunk by chunk to a consumer (the
    /// engine load of `--load`).
    Stream(StreamSink),
}

/// The sending end of an export stream. The first DiffCopy call takes it and
/// drops it when the exporter's stream ends, so the consumer sees the end of
/// the tarball even while the session stays open.
#[derive(Debug, Clone)]
pub struct StreamSink(Arc<std::sync::Mutex<Option<mpsc::Sender<Bytes>>>>);

impl StreamSink {
    /// A sink and the receiver of its chunks.
    pub fn channel() -> (StreamSink, mpsc::Receiver<Bytes>) {
        // Small: the engine's import pulls at its own pace.
        let (tx, rx) = mpsc::channel(8);
        (StreamSink(Arc::new(std::sync::Mutex::new(Some(tx)))), rx)
    }

    fn take(&self) -> Option<mpsc::Sender<Bytes>> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

impl PartialEq for StreamSink {
    fn eq(&self, other: &StreamSink) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for StreamSink {}

/// The FileSend service of one session.
#[derive(Debug, Clone)]
pub struct FileSendService {
    dest: ExportDest,
    written: Arc<AtomicU64>,
}

impl FileSendService {
    pub fn new(dest: ExportDest) -> FileSendService {
        FileSendService {
            dest,
            written: Arc::default(),
        }
    }

    /// Bytes of exported content written so far.
    pub fn written(&self) -> Arc<AtomicU64> {
        self.written.clone()
    }
}

impl NamedService for FileSendService {
    const NAME: &'static str = "moby.filesync.v1.FileSend";
}

/// The gRPC path BuildKit calls.
pub const DIFF_COPY: &str = "/moby.filesync.v1.FileSend/DiffCopy";

impl tower::Service<http::Request<tonic::body::Body>> for FileSendService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        if req.uri().path() != DIFF_COPY {
            return Box::pin(async {
                Ok(Status::unimplemented("only FileSend/DiffCopy is served").into_http())
            });
        }
        let handler = Handler(self.clone());
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .apply_max_message_size_config(Some(usize::MAX), Some(usize::MAX));
            Ok(grpc.streaming(handler, req).await)
        })
    }
}

type Out = Pin<Box<dyn Stream<Item = Result<Bytes, Status>> + Send + 'static>>;

struct Handler(FileSendService);

impl tonic::server::StreamingService<Bytes> for Handler {
    type Response = Bytes;
    type ResponseStream = Out;
    type Future = BoxFuture<'static, Result<Response<Out>, Status>>;

    fn call(&mut self, request: Request<Streaming<Bytes>>) -> Self::Future {
        let svc = self.0.clone();
        Box::pin(async move {
            let input = request.into_inner();
            match svc.dest.clone() {
                ExportDest::Tar(dest) => {
                    receive_tar(input, &dest, &svc.written).await?;
                    Ok(Response::new(Box::pin(futures::stream::empty()) as Out))
                }
                ExportDest::Stream(sink) => {
                    let Some(tx) = sink.take() else {
                        return Err(Status::failed_precondition(
                            "the export stream was already received",
                        ));
                    };
                    receive_stream(input, tx, &svc.written).await?;
                    Ok(Response::new(Box::pin(futures::stream::empty()) as Out))
                }
                ExportDest::Dir(dir) => {
                    let (tx, rx) = mpsc::channel::<Result<Bytes, Status>>(16);
                    let written = svc.written.clone();
                    tokio::spawn(async move {
                        let err_tx = tx.clone();
                        if let Err(e) = receive_dir(input, &dir, tx, &written).await {
                            let _ = err_tx.send(Err(e)).await;
                        }
                    });
                    let out = tokio_stream::wrappers::ReceiverStream::new(rx);
                    Ok(Response::new(Box::pin(out) as Out))
                }
            }
        })
    }
}

async fn receive_tar(
    mut input: Streaming<Bytes>,
    dest: &TarDest,
    written: &AtomicU64,
) -> Result<(), Status> {
    let mut out: Pin<Box<dyn tokio::io::AsyncWrite + Send>> = match dest {
        TarDest::Stdout => Box::pin(tokio::io::stdout()),
        TarDest::File(p) => {
            if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(parent).await.map_err(|e| {
                    Status::internal(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            let f = tokio::fs::File::create(p)
                .await
                .map_err(|e| Status::internal(format!("cannot create {}: {e}", p.display())))?;
            Box::pin(f)
        }
    };
    while let Some(raw) = input.message().await? {
        let msg = BytesMessage::decode(raw)
            .map_err(|e| Status::invalid_argument(format!("not a BytesMessage: {e}")))?;
        out.write_all(&msg.data)
            .await
            .map_err(|e| Status::internal(format!("writing the export: {e}")))?;
        written.fetch_add(msg.data.len() as u64, Ordering::Relaxed);
    }
    out.flush()
        .await
        .map_err(|e| Status::internal(format!("writing the export: {e}")))
}

async fn receive_stream(
    mut input: Streaming<Bytes>,
    tx: mpsc::Sender<Bytes>,
    written: &AtomicU64,
) -> Result<(), Status> {
    while let Some(raw) = input.message().await? {
        let msg = BytesMessage::decode(raw)
            .map_err(|e| Status::invalid_argument(format!("not a BytesMessage: {e}")))?;
        let n = msg.data.len() as u64;
        tx.send(Bytes::from(msg.data))
            .await
            .map_err(|_| Status::aborted("the consumer of the export stopped reading"))?;
        written.fetch_add(n, Ordering::Relaxed);
    }
    Ok(())
}

/// Loads a docker-format tarball, arriving as `chunks` (e.g. a
/// [`StreamSink`]'s receiver through `ReceiverStream`), into the engine
/// (`POST /images/load`, what `docker load` does), reporting each progress
/// line to `progress`. Returns the engine's `Loaded image…` lines.
pub async fn load_into_engine(
    engine: &bollard::Docker,
    chunks: impl Stream<Item = Bytes> + Send + 'static,
    mut progress: impl FnMut(&str),
) -> Result<Vec<String>, BuildkitError> {
    use futures::StreamExt;
    let body = chunks.map(Ok::<_, Infallible>);
    let options = bollard::query_parameters::ImportImageOptionsBuilder::new()
        .quiet(false)
        .build();
    let mut answers = std::pin::pin!(engine.import_image_stream(options, body, None));
    let mut loaded = Vec::new();
    while let Some(item) = answers.next().await {
        let info = item.map_err(|e| BuildkitError::Load(e.to_string()))?;
        if let Some(e) = info.error_detail.and_then(|d| d.message) {
            return Err(BuildkitError::Load(e));
        }
        for line in info.stream.iter().chain(info.status.iter()) {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            progress(line);
            if line.starts_with("Loaded image") {
                loaded.push(line.to_string());
            }
        }
    }
    if loaded.is_empty() {
        return Err(BuildkitError::LoadedNothing);
    }
    Ok(loaded)
}

// Go's os.FileMode type bits, as fsutil sends them.
const MODE_DIR: u32 = 1 << 31;
const MODE_SYMLINK: u32 = 1 << 27;
const MODE_TYPE: u32 = MODE_DIR
    | (1 << 30) // append-only is not a type, but exclusive/temporary are not sent
    | MODE_SYMLINK
    | (1 << 26) // device
    | (1 << 25) // named pipe
    | (1 << 24) // socket
    | (1 << 21) // char device
    | (1 << 19); // irregular

/// A path from the daemon, made safe: relative, no `..`, no root.
pub fn safe_join(root: &Path, rel: &str) -> Result<PathBuf, Status> {
    let mut out = root.to_path_buf();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => {
                return Err(Status::invalid_argument(format!(
                    "export path {rel:?} leaves the destination"
                )))
            }
        }
    }
    if out == root {
        return Err(Status::invalid_argument(format!(
            "empty export path {rel:?}"
        )));
    }
    Ok(out)
}

fn packet(kind: PacketType, id: u32) -> Bytes {
    Bytes::from(
        Packet {
            r#type: kind as i32,
            stat: None,
            id,
            data: Vec::new(),
        }
        .encode_to_vec(),
    )
}

async fn receive_dir(
    mut input: Streaming<Bytes>,
    root: &Path,
    tx: mpsc::Sender<Result<Bytes, Status>>,
    written: &AtomicU64,
) -> Result<(), Status> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        Status::internal(format!("{what} {}: {e}", p.display()))
    };
    tokio::fs::create_dir_all(root)
        .await
        .map_err(|e| io("cannot create", root, e))?;
    let mut index: u32 = 0;
    let mut pending: HashMap<u32, (PathBuf, tokio::fs::File)> = HashMap::new();
    let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
    let mut listing_done = false;
    let mut fin_sent = false;
    let send = |b: Bytes| {
        let tx = tx.clone();
        async move {
            tx.send(Ok(b))
                .await
                .map_err(|_| Status::cancelled("the export call ended"))
        }
    };
    while let Some(raw) = input.message().await? {
        let p = Packet::decode(raw)
            .map_err(|e| Status::invalid_argument(format!("not an fsutil packet: {e}")))?;
        match PacketType::try_from(p.r#type) {
            Ok(PacketType::PacketStat) => match p.stat {
                None => listing_done = true,
                Some(Stat {
                    path,
                    mode,
                    linkname,
                    ..
                }) => {
                    let target = safe_join(root, &path)?;
                    if let Some(parent) = target.parent() {
                        tokio::fs::create_dir_all(parent)
                            .await
                            .map_err(|e| io("cannot create", parent, e))?;
                    }
                    if mode & MODE_DIR != 0 {
                        tokio::fs::create_dir_all(&target)
                            .await
                            .map_err(|e| io("cannot create", &target, e))?;
                        dirs.push((target, mode & 0o7777));
                    } else if mode & MODE_SYMLINK != 0 {
                        let _ = tokio::fs::remove_file(&target).await;
                        tokio::fs::symlink(&linkname, &target)
                            .await
                            .map_err(|e| io("cannot create the symlink", &target, e))?;
                    } else if mode & MODE_TYPE == 0 {
                        let f = tokio::fs::File::create(&target)
                            .await
                            .map_err(|e| io("cannot create", &target, e))?;
                        use std::os::unix::fs::PermissionsExt;
                        let _ = tokio::fs::set_permissions(
                            &target,
                            std::fs::Permissions::from_mode(mode & 0o7777),
                        )
                        .await;
                        pending.insert(index, (target, f));
                        send(packet(PacketType::PacketReq, index)).await?;
                    }
                    // Devices, pipes and sockets are not recreated.
                    index += 1;
                }
            },
            Ok(PacketType::PacketData) => {
                let Some((path, file)) = pending.get_mut(&p.id) else {
                    return Err(Status::invalid_argument(format!(
                        "data for unrequested file {}",
                        p.id
                    )));
                };
                if p.data.is_empty() {
                    file.flush()
                        .await
                        .map_err(|e| io("cannot write", path, e))?;
                    pending.remove(&p.id);
                } else {
                    file.write_all(&p.data)
                        .await
                        .map_err(|e| io("cannot write", path, e))?;
                    written.fetch_add(p.data.len() as u64, Ordering::Relaxed);
                }
            }
            Ok(PacketType::PacketFin) => break,
            Ok(PacketType::PacketErr) => {
                return Err(Status::internal(format!(
                    "the daemon failed the export: {}",
                    String::from_utf8_lossy(&p.data)
                )))
            }
            Ok(PacketType::PacketReq) | Err(_) => {
                return Err(Status::invalid_argument(format!(
                    "unexpected packet type {}",
                    p.r#type
                )))
            }
        }
        if listing_done && pending.is_empty() && !fin_sent {
            send(packet(PacketType::PacketFin, 0)).await?;
            fin_sent = true;
        }
    }
    // Directory modes last: a read-only directory would refuse its files.
    for (dir, mode) in dirs.into_iter().rev() {
        use std::os::unix::fs::PermissionsExt;
        let _ = tokio::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).await;
    }
    Ok(())
}

/// A codec that hands message bytes through untouched.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_paths_stay_inside_the_destination() {
        let root = Path::new("/out");
        assert_eq!(
            safe_join(root, "a/b.txt").unwrap(),
            PathBuf::from("/out/a/b.txt")
        );
        assert_eq!(safe_join(root, "./c").unwrap(), PathBuf::from("/out/c"));
        assert!(safe_join(root, "../etc/passwd").is_err());
        assert!(safe_join(root, "/etc/passwd").is_err());
        assert!(safe_join(root, "a/../../x").is_err());
        assert!(safe_join(root, "").is_err());
    }

    #[test]
    fn req_packet_encoding() {
        // type=1 (field 1 varint), id=7 (field 3 varint): 08 01 18 07.
        assert_eq!(
            packet(PacketType::PacketReq, 7).as_ref(),
            &[0x08, 0x01, 0x18, 0x07]
        );
        // FIN with id 0: only the type field.
        assert_eq!(packet(PacketType::PacketFin, 0).as_ref(), &[0x08, 0x03]);
    }
}
