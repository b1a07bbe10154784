//! The `remote` driver: a BuildKit daemon someone else runs, reached at
//! `tcp://host:port` or `unix:///path` (the node's endpoint, else
//! `BUILDKIT_HOST`), in plain text or with TLS.
//!
//! TLS follows buildx's remote driver options: `cacert` (required once TLS is
//! on), `cert` + `key` (client certificate for mutual TLS), `servername`
//! (default: the endpoint's host); all paths absolute. Server-only TLS (just
//! `cacert`) is allowed.
//!
//! Every connection is the gRPC control connection; the session travels
//! inside it (`Control.Session`). Before the first real connection a short
//! HTTP/2 probe runs on a throw-away connection, so the typical set-up
//! mistakes (wrong CA, missing client certificate, plain text against a TLS
//! port and the reverse) fail at connect time with a message that says what
//! to change, instead of as an opaque transport error on the first call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

use super::{BoxStream, Driver, DriverError, DriverKind, Features, InitConfig};
use crate::options::parse_bool;

const DRIVER: &str = "remote";

/// How long bootstrap waits for the remote BuildKit to answer (buildx: 20 s).
const BOOTSTRAP_WAIT: Duration = Duration::from_secs(20);

/// How long connecting (TCP/Unix connect, TLS handshake, probe) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP/2 client preface and an empty SETTINGS frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Where the remote BuildKit listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteEndpoint {
    /// `host`, `port`.
    Tcp(String, u16),
    Unix(PathBuf),
}

impl RemoteEndpoint {
    /// Parses `tcp://host:port` or `unix:///path`.
    pub fn parse(value: &str) -> Result<RemoteEndpoint, DriverError> {
        let bad = |why: &str| DriverError::Config {
            driver: DRIVER,
            detail: format!("invalid endpoint {value:?}: {why}"),
        };
        if let Some(path) = value.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(bad("expected unix:///absolute/path"));
            }
            return Ok(RemoteEndpoint::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = value.strip_prefix("tcp://") {
            let hostport = rest.trim_end_matches('/');
            let (host, port) = hostport
                .rsplit_once(':')
                .ok_or_else(|| bad("a tcp endpoint needs a port (tcp://host:port)"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(bad("the host is empty"));
            }
            let port: u16 = port
                .parse()
                .map_err(|_| bad("the port is not a number from 1 to 65535"))?;
            return Ok(RemoteEndpoint::Tcp(host.to_string(), port));
        }
        Err(bad(
            "unsupported scheme: the remote driver connects to tcp://host:port or unix:///path",
        ))
    }

    /// The endpoint as a URL.
    pub fn url(&self) -> String {
        match self {
            RemoteEndpoint::Tcp(h, p) if h.contains(':') => format!("tcp://[{h}]:{p}"),
            RemoteEndpoint::Tcp(h, p) => format!("tcp://{h}:{p}"),
            RemoteEndpoint::Unix(p) => format!("unix://{}", p.display()),
        }
    }
}

/// TLS settings from the driver options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    pub cacert: PathBuf,
    /// Client certificate and key, for mutual TLS.
    pub client: Option<(PathBuf, PathBuf)>,
    pub servername: Option<String>,
}

/// Reads the TLS options out of a node's driver options, with buildx's
/// checks and wording (`driver/remote/factory.go`). `None`: plain text.
pub fn tls_options(opts: &BTreeMap<String, String>) -> Result<Option<TlsOptions>, DriverError> {
    let err = |detail: String| DriverError::Config {
        driver: DRIVER,
        detail,
    };
    let mut tls = false;
    for (k, v) in opts {
        match k.as_str() {
            "servername" => tls = true,
            "cacert" | "cert" | "key" => {
                if !Path::new(v).is_absolute() {
                    return Err(err(format!("non-absolute path '{v}' provided for {k}")));
                }
                tls = true;
            }
            "default-load" => {}
            _ => return Err(err(format!("invalid driver option {k} for remote driver"))),
        }
    }
    if !tls {
        return Ok(None);
    }
    let mut missing = Vec::new();
    if !opts.contains_key("cacert") {
        missing.push("cacert");
    }
    if opts.contains_key("cert") && !opts.contains_key("key") {
        missing.push("key");
    }
    if opts.contains_key("key") && !opts.contains_key("cert") {
        missing.push("cert");
    }
    if !missing.is_empty() {
        return Err(err(format!(
            "tls enabled, but missing keys {}",
            missing.join(", ")
        )));
    }
    let path = |k: &str| PathBuf::from(opts.get(k).cloned().unwrap_or_default());
    Ok(Some(TlsOptions {
        cacert: path("cacert"),
        client: opts
            .contains_key("cert")
            .then(|| (path("cert"), path("key"))),
        servername: opts.get("servername").cloned(),
    }))
}

/// TLS ready to use: the rustls config and the name to verify.
struct Tls {
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
    options: TlsOptions,
}

/// The remote driver for one endpoint.
pub struct RemoteDriver {
    endpoint: RemoteEndpoint,
    tls: Option<Tls>,
    probed: AtomicBool,
    default_load: bool,
}

impl std::fmt::Debug for RemoteDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteDriver")
            .field("endpoint", &self.endpoint)
            .field("tls", &self.tls.as_ref().map(|t| &t.options))
            .finish()
    }
}

impl RemoteDriver {
    /// A driver for `endpoint` (else `BUILDKIT_HOST`) with buildx-style
    /// driver options. Certificates are read now, so a bad file fails here.
    pub fn new(
        endpoint: Option<&str>,
        opts: &BTreeMap<String, String>,
    ) -> Result<RemoteDriver, DriverError> {
        let from_env = std::env::var("BUILDKIT_HOST").ok();
        let ep = endpoint
            .filter(|e| !e.is_empty())
            .or(from_env.as_deref().filter(|e| !e.is_empty()))
            .ok_or_else(|| DriverError::Config {
                driver: DRIVER,
                detail: "no remote endpoint provided: give tcp://host:port or unix:///path, or set BUILDKIT_HOST".into(),
            })?;
        let endpoint = RemoteEndpoint::parse(ep)?;
        let tls = match tls_options(opts)? {
            Some(o) => Some(load_tls(&endpoint, o)?),
            None => None,
        };
        let default_load = match opts.get("default-load") {
            Some(v) => parse_bool(v).map_err(|detail| DriverError::Config {
                driver: DRIVER,
                detail,
            })?,
            None => false,
        };
        Ok(RemoteDriver {
            endpoint,
            tls,
            probed: AtomicBool::new(false),
            default_load,
        })
    }

    /// Whether connections use TLS.
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some()
    }

    async fn open(&self) -> Result<BoxStream, DriverError> {
        let url = self.endpoint.url();
        let unreachable = |detail: String| DriverError::Unreachable {
            endpoint: url.clone(),
            detail,
        };
        let raw: BoxStream = match &self.endpoint {
            RemoteEndpoint::Tcp(h, p) => {
                let s = tokio::net::TcpStream::connect((h.as_str(), *p))
                    .await
                    .map_err(|e| unreachable(format!("{e}; is BuildKit listening there?")))?;
                let _ = s.set_nodelay(true);
                Box::new(s)
            }
            RemoteEndpoint::Unix(p) => Box::new(
                tokio::net::UnixStream::connect(p)
                    .await
                    .map_err(|e| unreachable(format!("{e}; is BuildKit listening there?")))?,
            ),
        };
        let Some(tls) = &self.tls else {
            return Ok(raw);
        };
        match tls.connector.connect(tls.server_name.clone(), raw).await {
            Ok(s) => Ok(Box::new(s)),
            Err(e) => Err(unreachable(explain_tls(&e, &tls.options))),
        }
    }

    /// Opens a throw-away connection and checks that an HTTP/2 server
    /// answers the preface, so set-up mistakes surface with a clear message.
    async fn probe(&self) -> Result<(), DriverError> {
        let mut s = self.open().await?;
        let unreachable = |detail: String| DriverError::Unreachable {
            endpoint: self.endpoint.url(),
            detail,
        };
        let check = async {
            s.write_all(H2_PREFACE).await?;
            s.flush().await?;
            let mut head = [0u8; 9];
            s.read_exact(&mut head).await?;
            Ok::<_, std::io::Error>(head)
        };
        let head = match check.await {
            Ok(h) => h,
            Err(e) => {
                return Err(unreachable(match &self.tls {
                    Some(t) => explain_tls(&e, &t.options),
                    None if e.kind() == std::io::ErrorKind::UnexpectedEof
                        || e.kind() == std::io::ErrorKind::ConnectionReset =>
                    {
                        "the server closed the connection without answering HTTP/2; if it expects TLS, set the driver options cacert (and cert, key for mutual TLS)".to_string()
                    }
                    None => e.to_string(),
                }))
            }
        };
        if self.tls.is_none() && matches!(head, [0x15 | 0x16, 0x03, ..]) {
            return Err(unreachable(
                "the server answered with TLS; set the driver options cacert (and cert, key for mutual TLS)".into(),
            ));
        }
        // A server speaks first with a SETTINGS frame (type 4).
        if head[3] != 0x04 {
            return Err(unreachable(format!(
                "the server does not speak HTTP/2 (first bytes {:02x?}); is this a BuildKit gRPC endpoint?",
                &head[..]
            )));
        }
        let _ = s.shutdown().await;
        Ok(())
    }
}

impl Driver for RemoteDriver {
    fn features(&self) -> Features {
        Features {
            default_load: self.default_load,
            ..Features::of(DriverKind::Remote)
        }
    }

    fn endpoint(&self) -> String {
        self.endpoint.url()
    }

    /// Someone else runs the daemon: bootstrap waits for it to answer.
    fn answer_within(&self) -> Option<Duration> {
        Some(BOOTSTRAP_WAIT)
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream, DriverError>> {
        Box::pin(async move {
            let work = async {
                if !self.probed.load(Ordering::Acquire) {
                    self.probe().await?;
                    self.probed.store(true, Ordering::Release);
                }
                self.open().await
            };
            match tokio::time::timeout(CONNECT_TIMEOUT, work).await {
                Ok(r) => r,
                Err(_) => Err(DriverError::Timeout {
                    endpoint: self.endpoint.url(),
                    what: "BuildKit to answer",
                    secs: CONNECT_TIMEOUT.as_secs(),
                }),
            }
        })
    }
}

fn load_tls(endpoint: &RemoteEndpoint, options: TlsOptions) -> Result<Tls, DriverError> {
    let err = |detail: String| DriverError::Config {
        driver: DRIVER,
        detail,
    };
    let mut roots = rustls::RootCertStore::empty();
    let cas = read_certs(&options.cacert, "cacert")?;
    for ca in cas {
        roots.add(ca).map_err(|e| {
            err(format!(
                "cacert {}: not a usable CA certificate: {e}",
                options.cacert.display()
            ))
        })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots);
    let mut config = match &options.client {
        Some((cert, key)) => {
            let chain = read_certs(cert, "cert")?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                err(format!(
                    "key {}: no PEM private key could be read: {e}",
                    key.display()
                ))
            })?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| err(format!("cert/key {}: {e}", cert.display())))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    let name = match (&options.servername, endpoint) {
        (Some(n), _) => n.clone(),
        (None, RemoteEndpoint::Tcp(h, _)) => h.clone(),
        (None, RemoteEndpoint::Unix(_)) => {
            return Err(err(
                "TLS over a unix socket needs the driver option servername (the name in the server's certificate)".into(),
            ))
        }
    };
    let server_name = ServerName::try_from(name.clone()).map_err(|_| {
        err(format!(
            "servername {name:?} is not a valid DNS name or IP address"
        ))
    })?;
    Ok(Tls {
        connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        server_name,
        options,
    })
}

fn read_certs(path: &Path, opt: &str) -> Result<Vec<CertificateDer<'static>>, DriverError> {
    let err = |detail: String| DriverError::Config {
        driver: DRIVER,
        detail: format!("{opt} {}: {detail}", path.display()),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(format!("cannot read: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(err("contains no PEM certificate".into()));
    }
    Ok(certs)
}

/// Says what a TLS failure means for the user, keeping rustls's own words.
fn explain_tls(e: &std::io::Error, options: &TlsOptions) -> String {
    use rustls::{AlertDescription, CertificateError, Error as TlsError};
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<TlsError>());
    let hint = match inner {
        Some(TlsError::InvalidCertificate(CertificateError::UnknownIssuer))
        | Some(TlsError::InvalidCertificate(CertificateError::BadSignature)) => format!(
            "the server's certificate is not signed by the CA in cacert {}; point cacert at the CA that issued it",
            options.cacert.display()
        ),
        Some(TlsError::InvalidCertificate(CertificateError::NotValidForName))
        | Some(TlsError::InvalidCertificate(CertificateError::NotValidForNameContext {
            ..
        })) => "the server's certificate does not name this host; set the driver option servername to a name it carries".to_string(),
        Some(TlsError::AlertReceived(
            AlertDescription::CertificateRequired | AlertDescription::HandshakeFailure,
        )) if options.client.is_none() => {
            "the server requires a client certificate (mutual TLS); set the driver options cert and key".to_string()
        }
        Some(TlsError::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::DecryptError,
        )) if options.client.is_some() => "the server rejected our client certificate (cert, key); use one signed by the CA the server trusts".to_string(),
        Some(TlsError::InvalidMessage(_)) => {
            "the server does not speak TLS; remove the driver options cacert, cert, key and servername to connect in plain text".to_string()
        }
        _ if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the TLS handshake; check that it serves TLS and whether it requires a client certificate (cert, key)".to_string()
        }
        _ => String::new(),
    };
    if hint.is_empty() {
        format!("TLS: {e}")
    } else {
        format!("TLS: {hint} ({e})")
    }
}

/// The remote driver's factory: a node is a BuildKit address with TLS
/// options; the daemon's flags and files are the remote side's business.
#[derive(Debug)]
pub struct Factory;

impl super::factory::Factory for Factory {
    fn kind(&self) -> DriverKind {
        DriverKind::Remote
    }

    fn validate(&self, cfg: &InitConfig) -> Result<(), String> {
        if cfg.files.as_ref().is_some_and(|f| !f.is_empty()) {
            return Err("setting config file is not supported for remote driver".into());
        }
        if !cfg.buildkitd_flags.is_empty() {
            return Err("setting buildkit flags is not supported for remote driver".into());
        }
        if let Some(v) = cfg.driver_opts.get("default-load") {
            parse_bool(v)?;
        }
        match tls_options(&cfg.driver_opts) {
            Ok(_) => Ok(()),
            Err(DriverError::Config { detail, .. }) => Err(detail),
            Err(other) => Err(other.to_string()),
        }
    }

    fn new_driver<'a>(
        &'a self,
        cfg: &'a InitConfig,
    ) -> BoxFuture<'a, Result<Arc<dyn Driver>, DriverError>> {
        Box::pin(async move {
            let d = RemoteDriver::new(Some(cfg.endpoint.as_str()), &cfg.driver_opts)?;
            Ok(Arc::new(d) as Arc<dyn Driver>)
        })
    }

    fn endpoint_rule(&self) -> super::factory::EndpointRule {
        super::factory::EndpointRule::Buildkit
    }

    fn owns_daemon(&self) -> bool {
        false
    }

    /// buildx's `remoteutil.IsValidEndpoint`.
    fn validate_endpoint(&self, ep: &str) -> Result<(), String> {
        const SCHEMES: &[&str] = &[
            "docker-container",
            "kube-pod",
            "npipe",
            "ssh",
            "tcp",
            "unix",
        ];
        let scheme = ep.split_once("://").map(|(s, _)| s).unwrap_or("");
        if !SCHEMES.contains(&scheme) {
            return Err(format!("unrecognized url scheme {scheme}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::driver::test_opts as opts;

    #[test]
    fn endpoints_parse() {
        assert_eq!(
            RemoteEndpoint::parse("tcp://127.0.0.1:1234").unwrap(),
            RemoteEndpoint::Tcp("127.0.0.1".into(), 1234)
        );
        assert_eq!(
            RemoteEndpoint::parse("tcp://[::1]:99").unwrap().url(),
            "tcp://[::1]:99"
        );
        assert_eq!(
            RemoteEndpoint::parse("unix:///run/buildkit/buildkitd.sock").unwrap(),
            RemoteEndpoint::Unix("/run/buildkit/buildkitd.sock".into())
        );
        let e = RemoteEndpoint::parse("tcp://host").unwrap_err().to_string();
        assert_eq!(
            e,
            "remote driver: invalid endpoint \"tcp://host\": a tcp endpoint needs a port (tcp://host:port)"
        );
        assert!(RemoteEndpoint::parse("tcp://h:99999").is_err());
        assert!(RemoteEndpoint::parse("ssh://h").is_err());
        assert!(RemoteEndpoint::parse("unix://rel").is_err());
    }

    #[test]
    fn tls_options_follow_buildx() {
        assert_eq!(tls_options(&opts(&[])).unwrap(), None);
        assert_eq!(
            tls_options(&opts(&[("default-load", "true")])).unwrap(),
            None
        );
        let e = tls_options(&opts(&[("cacert", "ca.pem")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "remote driver: non-absolute path 'ca.pem' provided for cacert"
        );
        let e = tls_options(&opts(&[("cert", "/c.pem")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "remote driver: tls enabled, but missing keys cacert, key"
        );
        let e = tls_options(&opts(&[("servername", "x")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "remote driver: tls enabled, but missing keys cacert"
        );
        let e = tls_options(&opts(&[("bogus", "x")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "remote driver: invalid driver option bogus for remote driver"
        );
        let t = tls_options(&opts(&[
            ("cacert", "/ca.pem"),
            ("cert", "/c.pem"),
            ("key", "/k.pem"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(t.cacert, PathBuf::from("/ca.pem"));
        assert_eq!(
            t.client,
            Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
        );
        assert_eq!(t.servername, None);
    }

    #[test]
    fn missing_ca_file_is_named() {
        let e = RemoteDriver::new(
            Some("tcp://127.0.0.1:1"),
            &opts(&[("cacert", "/nonexistent/ca.pem")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("remote driver: cacert /nonexistent/ca.pem: cannot read:"),
            "{e}"
        );
    }
}
