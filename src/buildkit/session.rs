//! The session we serve back to BuildKit. BuildKit is the gRPC *client* of
//! the session: it calls our FileSync, FileSend, Auth, Secrets and Health
//! services over a connection we open. For the docker driver that is the
//! engine's `/session` upgrade; for every other driver the HTTP/2 bytes
//! travel inside `Control.Session` (`BytesMessage` frames), bridged here to a
//! local pipe that a tonic server reads.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bollard_buildkit_proto::health::health_server::HealthServer;
use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::SecretsServer;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::BytesMessage;
use bollard_buildkit_proto::moby::filesync::v1::auth_server::AuthServer;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tonic::service::RoutesBuilder;
use tonic::transport::server::Connected;
use tonic::transport::Channel;

use super::attachables::{AuthService, HealthService, SecretsService};
use super::errors::BuildkitError;
use super::filesend::FileSendService;
use super::filesync::FileSyncService;
use crate::driver::{BoxStream, Driver, SessionInfo};

/// A session under construction: its identity and the services it serves.
pub struct Session {
    info: SessionInfo,
    routes: RoutesBuilder,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("info", &self.info).finish()
    }
}

impl Session {
    /// A session with Health only. `name` is shown in the daemon's logs;
    /// `shared_key` lets the daemon reuse its copy of our directories.
    pub fn new(name: &str, shared_key: &str) -> Session {
        let mut s = Session {
            info: SessionInfo {
                id: new_id(),
                name: name.to_string(),
                shared_key: shared_key.to_string(),
                methods: Vec::new(),
            },
            routes: RoutesBuilder::default(),
        };
        s.routes.add_service(HealthServer::new(HealthService));
        s.methods(&[
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
        ]);
        s
    }

    fn methods(&mut self, methods: &[&str]) {
        self.info
            .methods
            .extend(methods.iter().map(|m| m.to_string()));
    }

    /// The session's identity, for `SolveRequest.session` and headers.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// Serves directories to BuildKit's file sync.
    pub fn with_file_sync(mut self, svc: FileSyncService) -> Session {
        self.routes.add_service(svc.into_server());
        self.methods(&[
            "/moby.filesync.v1.FileSync/DiffCopy",
            "/moby.filesync.v1.FileSync/TarStream",
        ]);
        self
    }

    /// Receives a tarball or local export.
    pub fn with_file_send(mut self, svc: FileSendService) -> Session {
        self.routes.add_service(svc);
        self.methods(&["/moby.filesync.v1.FileSend/DiffCopy"]);
        self
    }

    /// Answers registry credential requests.
    pub fn with_auth(mut self, svc: AuthService) -> Session {
        self.routes.add_service(AuthServer::new(svc));
        self.methods(&[
            "/moby.filesync.v1.Auth/Credentials",
            "/moby.filesync.v1.Auth/FetchToken",
            "/moby.filesync.v1.Auth/GetTokenAuthority",
            "/moby.filesync.v1.Auth/VerifyTokenAuthority",
        ]);
        self
    }

    /// Serves content stores (local cache, OCI layout exports and
    /// contexts) by store id.
    pub fn with_content_store(mut self, svc: super::content::ContentStoreService) -> Session {
        self.routes.add_service(svc);
        self.methods(&super::content::METHODS);
        self
    }

    /// Answers build secret requests.
    pub fn with_secrets(mut self, svc: SecretsService) -> Session {
        self.routes.add_service(SecretsServer::new(svc));
        self.methods(&["/moby.buildkit.secrets.v1.Secrets/GetSecret"]);
        self
    }

    /// Forwards SSH agents to `RUN --mount=type=ssh` (`--ssh`).
    pub fn with_ssh(mut self, svc: super::sshforward::SshForwardService) -> Session {
        self.routes.add_service(svc.into_server());
        self.methods(&[
            "/moby.sshforward.v1.SSH/CheckAgent",
            "/moby.sshforward.v1.SSH/ForwardAgent",
        ]);
        self
    }

    /// Opens the session's connection through the driver (or, when the
    /// driver has no dedicated one, inside `Control.Session`) and serves it
    /// until the returned handle is dropped.
    pub async fn start(
        self,
        driver: &dyn Driver,
        control: ControlClient<Channel>,
    ) -> Result<SessionHandle, BuildkitError> {
        let Session { info, routes } = self;
        let routes = routes.routes();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel();
        let task = match driver.connect_session(&info).await? {
            Some(io) => tokio::spawn(async move { serve(routes, io, shutdown_rx).await }),
            None => {
                let (server_io, bridge_io) = tokio::io::duplex(256 * 1024);
                let server = tokio::spawn(async move {
                    serve(routes, Box::new(server_io) as BoxStream, shutdown_rx).await
                });
                tokio::spawn(async move {
                    let bridged = bridge_control_session(control, &info, bridge_io).await;
                    server.abort();
                    bridged
                })
            }
        };
        Ok(SessionHandle {
            task,
            _shutdown: shutdown,
        })
    }
}

/// A running session; dropping it closes the connection.
#[derive(Debug)]
pub struct SessionHandle {
    task: JoinHandle<Result<(), BuildkitError>>,
    /// Dropped with the handle: tells the server to close the connection.
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl SessionHandle {
    /// Whether the session's connection has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A byte stream tonic's server accepts as one incoming connection.
struct SessionIo(BoxStream);

impl Connected for SessionIo {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for SessionIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for SessionIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

async fn serve(
    routes: tonic::service::Routes,
    io: BoxStream,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) -> Result<(), BuildkitError> {
    use futures::StreamExt as _;
    // The one connection, then an incoming stream that never ends: tonic
    // detaches connections and returns once incoming ends, so the end of the
    // session is signalled by `shutdown` instead.
    let incoming = futures::stream::iter([Ok::<_, std::io::Error>(SessionIo(io))])
        .chain(futures::stream::pending());
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, async {
            let _ = shutdown.await;
        })
        .await
        .map_err(|e| BuildkitError::Session(format!("serving the session: {e}")))
}

/// Carries the session's HTTP/2 bytes inside `Control.Session`: what the
/// local server writes goes out as `BytesMessage`s, what BuildKit sends is
/// written back to it.
async fn bridge_control_session(
    mut control: ControlClient<Channel>,
    info: &SessionInfo,
    io: tokio::io::DuplexStream,
) -> Result<(), BuildkitError> {
    let (mut rd, mut wr) = tokio::io::split(io);
    let (tx, rx) = mpsc::channel::<BytesMessage>(64);
    let outbound = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let msg = BytesMessage {
                        data: buf[..n].to_vec(),
                    };
                    if tx.send(msg).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut req = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    for (k, v) in info.headers() {
        let value = v
            .parse()
            .map_err(|_| BuildkitError::Session(format!("header {k} has an invalid value")))?;
        req.metadata_mut().append(k, value);
    }
    let result = async {
        let mut inbound = control
            .session(req)
            .await
            .map_err(|s| BuildkitError::Session(format!("Control.Session: {}", s.message())))?
            .into_inner();
        while let Some(msg) = inbound
            .message()
            .await
            .map_err(|s| BuildkitError::Session(format!("Control.Session: {}", s.message())))?
        {
            if wr.write_all(&msg.data).await.is_err() {
                break;
            }
        }
        Ok(())
    }
    .await;
    outbound.abort();
    result
}

fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    // BuildKit accepts any unique string; buildx uses 25 base-36 chars.
    let mut n = u128::from_le_bytes(bytes);
    let mut s = String::with_capacity(25);
    for _ in 0..25 {
        let d = (n % 36) as u32;
        n /= 36;
        s.push(std::char::from_digit(d, 36).unwrap_or('0'));
    }
    s
}

/// buildx's config dir: `BUILDX_CONFIG`, else `buildx` in the docker config
/// dir.
pub fn buildx_config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("BUILDX_CONFIG").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(d));
    }
    crate::driver::docker::docker_config_dir().map(|d| d.join("buildx"))
}

/// This machine's node id, stored in `<buildx dir>/.buildNodeID` and created
/// on first use, as buildx does.
pub fn node_id(buildx_dir: Option<&Path>) -> String {
    let Some(dir) = buildx_dir else {
        return "buildkit-lsp".to_string();
    };
    let path = dir.join(".buildNodeID");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() {
            return id.to_string();
        }
    }
    let id = hex::encode(rand::random::<[u8; 32]>());
    // Unwritable config dir: the key is then stable only for this process,
    // which costs a full context transfer, nothing worse.
    let _ = std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, &id));
    id
}

/// The shared key of a context directory: stable across builds from this
/// machine, so the daemon reuses its copy of the directory.
pub fn shared_key(dir: &Path, node_id: &str) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let digest = Sha256::digest(format!("{}:{}", node_id, abs.display()).as_bytes());
    hex::encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_25_base36_chars_and_differ() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 25);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn node_id_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = node_id(Some(dir.path()));
        let b = node_id(Some(dir.path()));
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        let on_disk = std::fs::read_to_string(dir.path().join(".buildNodeID")).unwrap();
        assert_eq!(on_disk, a);
    }

    #[test]
    fn shared_key_depends_on_dir_and_node() {
        // sha256("n1:/ctx/a"), from `printf n1:/ctx/a | sha256sum`.
        assert_eq!(
            shared_key(Path::new("/ctx/a"), "n1"),
            "1f7910035006f489b3331a434ec25738c4fc080f4ceb6d3e03aec7248e119972"
        );
        assert_ne!(
            shared_key(Path::new("/ctx/a"), "n1"),
            shared_key(Path::new("/ctx/b"), "n1")
        );
        assert_ne!(
            shared_key(Path::new("/ctx/a"), "n1"),
            shared_key(Path::new("/ctx/a"), "n2")
        );
    }

    #[test]
    fn session_lists_its_methods() {
        let s = Session::new("ctx", "key").with_secrets(SecretsService::default());
        let m = &s.info().methods;
        assert!(m.contains(&"/grpc.health.v1.Health/Check".to_string()));
        assert!(m.contains(&"/moby.buildkit.secrets.v1.Secrets/GetSecret".to_string()));
        assert_eq!(s.info().shared_key, "key");
    }
}
