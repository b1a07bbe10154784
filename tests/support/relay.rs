//! A loopback BuildKit endpoint for the remote and docker-container driver
//! tests: it accepts connections on 127.0.0.1 (TCP) or a Unix socket,
//! optionally terminates TLS (server-only or mutual, with certificates made
//! at test time by `rcgen`), upgrades each connection to the test engine's
//! `/grpc` endpoint (`Upgrade: h2c`) and pipes the bytes both ways. What the
//! client sees is the engine's embedded BuildKit, session included (it
//! travels inside `Control.Session`). `BUILDKIT_LSP_TEST_BUILDKIT` points
//! the relay at another BuildKit address instead ([`BUILDKIT_ADDR_ENV`]).
//!
//! The relay runs on its own thread and runtime, so tests of any flavour can
//! use it; it stops when dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls;

use super::DockerEndpoint;

/// Certificates for one test: a CA, a server certificate for `127.0.0.1` and
/// `localhost`, and a client certificate, all as PEM files in a temp dir.
pub struct TestPki {
    dir: tempfile::TempDir,
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

impl TestPki {
    /// A fresh CA with server and client certificates signed by it.
    pub fn new() -> TestPki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let dir = tempfile::tempdir().expect("temp dir for certificates");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(
            DnType::CommonName,
            super::unique_name("buildkit-lsp test CA"),
        );
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf = |sans: Vec<String>, cn: &str| {
            let key = KeyPair::generate().expect("leaf key");
            let mut params = CertificateParams::new(sans).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, cn);
            let cert = params.signed_by(&key, &issuer).expect("leaf certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert_pem, server_key_pem) =
            leaf(vec!["127.0.0.1".into(), "localhost".into()], "buildkitd");
        let (client_cert, client_key) = leaf(vec!["client".into()], "client");
        let pki = TestPki {
            ca_pem: ca_cert.pem(),
            server_cert_pem,
            server_key_pem,
            dir,
        };
        pki.write("ca.pem", &pki.ca_pem);
        pki.write("client.pem", &client_cert);
        pki.write("client-key.pem", &client_key);
        pki
    }

    fn write(&self, name: &str, content: &str) {
        std::fs::write(self.dir.path().join(name), content).expect("write PEM file");
    }

    /// A path in the PEM directory (`ca.pem`, `client.pem`, `client-key.pem`).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `content` as `name` in the PEM directory and returns its path.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        self.write(name, content);
        self.path(name)
    }

    /// The PEM directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// How the relay terminates TLS.
pub enum RelayTls<'a> {
    None,
    /// Server certificate only.
    Server(&'a TestPki),
    /// Server certificate, and clients must present one signed by the CA.
    Mutual(&'a TestPki),
}

/// A running relay; stops when dropped.
pub struct Relay {
    endpoint: String,
    accepted: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

enum StdListener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

impl Relay {
    /// A relay on `127.0.0.1:<free port>`.
    pub fn tcp(engine: &DockerEndpoint, tls: RelayTls<'_>) -> Relay {
        Relay::start(engine, tls, false, None)
    }

    /// A plain relay on the Unix socket `path`, bound only after `delay`
    /// (for tests of retrying clients); returns at once.
    pub fn unix_later(
        engine: &DockerEndpoint,
        path: &Path,
        delay: std::time::Duration,
    ) -> std::thread::JoinHandle<Relay> {
        let engine = engine.clone();
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            Relay::unix_at(&engine, &path)
        })
    }

    /// A relay on a Unix socket in a temp dir.
    pub fn unix(engine: &DockerEndpoint, tls: RelayTls<'_>) -> Relay {
        Relay::start(engine, tls, true, None)
    }

    /// A relay on the Unix socket `path` (its parent must exist).
    pub fn unix_at(engine: &DockerEndpoint, path: &Path) -> Relay {
        Relay::start(engine, RelayTls::None, true, Some(path.to_path_buf()))
    }

    fn start(engine: &DockerEndpoint, tls: RelayTls<'_>, unix: bool, at: Option<PathBuf>) -> Relay {
        let acceptor = server_tls(&tls);
        let engine = engine.clone();
        // Bound with std here (no runtime needed, so callers may be inside
        // one), handed to the relay's own runtime on its thread.
        let (dir, std_listener, endpoint) = if unix {
            let (dir, path) = match at {
                Some(p) => (None, p),
                None => {
                    let d = tempfile::tempdir().expect("relay socket dir");
                    let p = d.path().join("buildkitd.sock");
                    (Some(d), p)
                }
            };
            let _ = std::fs::remove_file(&path);
            let l = std::os::unix::net::UnixListener::bind(&path).expect("bind relay socket");
            l.set_nonblocking(true).expect("nonblocking socket");
            (
                dir,
                StdListener::Unix(l),
                format!("unix://{}", path.display()),
            )
        } else {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind relay port");
            l.set_nonblocking(true).expect("nonblocking socket");
            let addr = l.local_addr().expect("relay address");
            (None, StdListener::Tcp(l), format!("tcp://{addr}"))
        };
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("relay runtime");
            rt.block_on(async move {
                let listener = match std_listener {
                    StdListener::Tcp(l) => {
                        Listener::Tcp(tokio::net::TcpListener::from_std(l).expect("tokio listener"))
                    }
                    StdListener::Unix(l) => Listener::Unix(
                        tokio::net::UnixListener::from_std(l).expect("tokio listener"),
                    ),
                };
                let serve = async {
                    loop {
                        let conn: Box<dyn Io> = match &listener {
                            Listener::Tcp(l) => match l.accept().await {
                                Ok((s, _)) => Box::new(s),
                                Err(_) => continue,
                            },
                            Listener::Unix(l) => match l.accept().await {
                                Ok((s, _)) => Box::new(s),
                                Err(_) => continue,
                            },
                        };
                        count.fetch_add(1, Ordering::SeqCst);
                        let engine = engine.clone();
                        let acceptor = acceptor.clone();
                        tokio::spawn(async move {
                            let client: Box<dyn Io> = match acceptor {
                                Some(a) => match a.accept(conn).await {
                                    Ok(s) => Box::new(s),
                                    // the client's mistake; it sees the alert
                                    Err(_) => return,
                                },
                                None => conn,
                            };
                            let _ = pipe_to_engine(client, &engine).await;
                        });
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_background();
        });
        Relay {
            endpoint,
            accepted,
            stop: Some(stop_tx),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// `tcp://127.0.0.1:PORT` or `unix:///path`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A duplex byte stream the relay (and the Kubernetes simulator) can pipe.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

fn server_tls(tls: &RelayTls<'_>) -> Option<tokio_rustls::TlsAcceptor> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let (pki, mutual) = match tls {
        RelayTls::None => return None,
        RelayTls::Server(p) => (*p, false),
        RelayTls::Mutual(p) => (*p, true),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs =
        vec![CertificateDer::from_pem_slice(pki.server_cert_pem.as_bytes()).expect("server cert")];
    let key = PrivateKeyDer::from_pem_slice(pki.server_key_pem.as_bytes()).expect("server key");
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions");
    let builder = if mutual {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).expect("CA cert"))
            .expect("CA into store");
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .expect("server certificate and key");
    config.alpn_protocols = vec![b"h2".to_vec()];
    Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Upgrades a fresh engine connection to `/grpc` and pipes `client` into it.
async fn pipe_to_engine(mut client: Box<dyn Io>, engine: &DockerEndpoint) -> std::io::Result<()> {
    let mut upstream = connect_engine_grpc(engine).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// The environment variable that points the relay (and so the remote,
/// docker-container and kubernetes suites) at another BuildKit: a
/// `tcp://HOST:PORT` or `unix:///PATH` address where a BuildKit daemon
/// serves its gRPC API in plain text (e.g. a standalone `buildkitd
/// --addr tcp://127.0.0.1:12370`). Unset: the test engine's own BuildKit.
pub const BUILDKIT_ADDR_ENV: &str = "BUILDKIT_LSP_TEST_BUILDKIT";

/// The BuildKit address [`BUILDKIT_ADDR_ENV`] names, if set.
pub fn buildkit_addr_override() -> Option<String> {
    std::env::var(BUILDKIT_ADDR_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// A fresh connection to the BuildKit behind the relay: the address in
/// [`BUILDKIT_ADDR_ENV`], else the engine's `/grpc` endpoint, upgraded
/// (`h2c`). Either way what comes back speaks BuildKit's gRPC API as a
/// plain HTTP/2 server.
pub async fn connect_engine_grpc(engine: &DockerEndpoint) -> std::io::Result<Box<dyn Io>> {
    if let Some(addr) = buildkit_addr_override() {
        return match (addr.strip_prefix("tcp://"), addr.strip_prefix("unix://")) {
            (Some(a), _) => Ok(Box::new(
                tokio::net::TcpStream::connect(a.trim_end_matches('/')).await?,
            )),
            (_, Some(p)) => Ok(Box::new(tokio::net::UnixStream::connect(p).await?)),
            _ => Err(std::io::Error::other(format!(
                "{BUILDKIT_ADDR_ENV}={addr:?}: expected tcp://HOST:PORT or unix:///PATH"
            ))),
        };
    }
    let mut upstream: Box<dyn Io> = match engine {
        DockerEndpoint::Unix(p) => Box::new(tokio::net::UnixStream::connect(p).await?),
        DockerEndpoint::Tcp(a) => Box::new(tokio::net::TcpStream::connect(a.as_str()).await?),
    };
    upstream
        .write_all(
            b"POST /grpc HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
        )
        .await?;
    // Byte by byte up to the blank line, so no HTTP/2 byte is swallowed.
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if upstream.read(&mut b).await? == 0 || head.len() > 16 * 1024 {
            return Err(std::io::Error::other(
                "engine closed during the /grpc upgrade",
            ));
        }
        head.push(b[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(std::io::Error::other(format!(
            "engine refused /grpc: {}",
            String::from_utf8_lossy(&head)
        )));
    }
    Ok(upstream)
}
