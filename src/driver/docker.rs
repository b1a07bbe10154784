//! The `docker` driver: the BuildKit embedded in the Docker Engine.
//!
//! The engine is found as the docker CLI finds it: `DOCKER_HOST`, else the
//! current docker context (`DOCKER_CONTEXT`, else `currentContext` in
//! `config.json`, read from `contexts/meta/<sha256(name)>/meta.json`), else
//! `unix:///var/run/docker.sock`. `bollard` speaks the Engine API (ping,
//! version negotiation, info, image load); BuildKit's gRPC is reached through
//! the engine's HTTP upgrade endpoints: `POST /grpc` for the control API and
//! `POST /session` for the session, both `Upgrade: h2c`. Unversioned paths
//! are used because old engines reject newer API version prefixes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{BoxStream, Driver, DriverError, DriverKind, Features, InitConfig, SessionInfo};

/// The default engine socket.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How long connecting and the upgrade handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerEndpoint {
    Unix(PathBuf),
    /// `host:port`, plain TCP.
    Tcp(String),
}

impl DockerEndpoint {
    /// Parses a `DOCKER_HOST` value (`unix:///path`, `tcp://host:port`).
    pub fn parse(value: &str) -> Result<DockerEndpoint, DriverError> {
        let bad = |reason: &str| DriverError::Endpoint {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        if let Some(path) = value.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(bad("the unix socket path is empty"));
            }
            return Ok(DockerEndpoint::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = value
            .strip_prefix("tcp://")
            .or_else(|| value.strip_prefix("http://"))
        {
            let hostport = rest.trim_end_matches('/');
            if hostport.is_empty() {
                return Err(bad("the host is empty"));
            }
            let hostport = if hostport.contains(':') {
                hostport.to_string()
            } else {
                format!("{hostport}:2375")
            };
            return Ok(DockerEndpoint::Tcp(hostport));
        }
        if value.starts_with("ssh://") || value.starts_with("npipe://") {
            return Err(bad(
                "ssh:// and npipe:// endpoints are not supported; use unix:// or tcp://",
            ));
        }
        Err(bad("expected unix:///path or tcp://host:port"))
    }

    /// The endpoint as a URL for messages.
    pub fn url(&self) -> String {
        match self {
            DockerEndpoint::Unix(p) => format!("unix://{}", p.display()),
            DockerEndpoint::Tcp(h) => format!("tcp://{h}"),
        }
    }

    /// Resolves the endpoint from the environment and the docker config dir.
    pub fn from_env() -> Result<DockerEndpoint, DriverError> {
        let config_dir = docker_config_dir();
        resolve(
            std::env::var("DOCKER_HOST").ok().as_deref(),
            std::env::var("DOCKER_CONTEXT").ok().as_deref(),
            config_dir.as_deref(),
        )
    }
}

/// The docker CLI's config dir: `DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::home_dir().map(|h| h.join(".docker"))
}

/// Endpoint resolution with its inputs explicit, for tests.
pub fn resolve(
    docker_host: Option<&str>,
    docker_context: Option<&str>,
    config_dir: Option<&Path>,
) -> Result<DockerEndpoint, DriverError> {
    if let Some(host) = docker_host.filter(|h| !h.is_empty()) {
        return DockerEndpoint::parse(host);
    }
    let context = match docker_context.filter(|c| !c.is_empty()) {
        Some(c) => Some(c.to_string()),
        None => config_dir.and_then(current_context),
    };
    match (context, config_dir) {
        (Some(name), Some(dir)) if name != "default" => {
            DockerEndpoint::parse(&context_host(dir, &name)?)
        }
        _ => DockerEndpoint::parse(DEFAULT_HOST),
    }
}

fn current_context(config_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config_dir.join("config.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("currentContext")?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The docker endpoint of a named context, from its meta.json.
fn context_host(config_dir: &Path, name: &str) -> Result<String, DriverError> {
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    let path = config_dir
        .join("contexts")
        .join("meta")
        .join(digest)
        .join("meta.json");
    let err = |reason: String| DriverError::Context {
        name: name.to_string(),
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| err(format!("invalid JSON: {e}")))?;
    json.pointer("/Endpoints/docker/Host")
        .and_then(|h| h.as_str())
        .map(str::to_string)
        .ok_or_else(|| err("no Endpoints.docker.Host".to_string()))
}

/// The docker driver for one engine.
#[derive(Debug, Clone)]
pub struct DockerDriver {
    endpoint: DockerEndpoint,
    engine: bollard::Docker,
    features: Features,
}

impl DockerDriver {
    /// Connects to the engine found by [`DockerEndpoint::from_env`].
    pub async fn from_env() -> Result<DockerDriver, DriverError> {
        DockerDriver::connect_to(DockerEndpoint::from_env()?).await
    }

    /// The engine a stored node names: a docker host URL, or the name of a
    /// docker context (`default` or none: the environment's engine).
    pub async fn for_node(endpoint: &str) -> Result<DockerDriver, DriverError> {
        if endpoint.contains("://") {
            return DockerDriver::connect_to(DockerEndpoint::parse(endpoint)?).await;
        }
        if endpoint.is_empty() || endpoint == "default" {
            return DockerDriver::from_env().await;
        }
        let dir = docker_config_dir();
        let ep = resolve(None, Some(endpoint), dir.as_deref())?;
        DockerDriver::connect_to(ep).await
    }

    /// Pings the engine, negotiates the API version and reads its features.
    pub async fn connect_to(endpoint: DockerEndpoint) -> Result<DockerDriver, DriverError> {
        let url = endpoint.url();
        let engine_err = |source| DriverError::Engine {
            endpoint: url.clone(),
            source,
        };
        let secs = CONNECT_TIMEOUT.as_secs();
        // A quick raw connect first, so an absent daemon gives an I/O error
        // that names the socket rather than a generic HTTP client error.
        drop(open(&endpoint).await?);
        let engine = match &endpoint {
            DockerEndpoint::Unix(p) => bollard::Docker::connect_with_unix(
                &p.to_string_lossy(),
                secs,
                bollard::API_DEFAULT_VERSION,
            ),
            DockerEndpoint::Tcp(h) => {
                bollard::Docker::connect_with_http(h, secs, bollard::API_DEFAULT_VERSION)
            }
        }
        .map_err(engine_err)?;
        let engine = engine.negotiate_version().await.map_err(engine_err)?;
        let info = engine.info().await.map_err(engine_err)?;
        let containerd_store = info
            .driver_status
            .unwrap_or_default()
            .iter()
            .any(|kv| kv.len() == 2 && kv[0] == "driver-type" && kv[1].contains("containerd"));
        Ok(DockerDriver {
            endpoint,
            engine,
            features: Features {
                containerd_store,
                ..Features::of(DriverKind::Docker)
            },
        })
    }

    /// The Engine API client.
    pub fn engine(&self) -> &bollard::Docker {
        &self.engine
    }

    /// Pushes `reference` (`[registry/]repo[:tag]`) through the engine, as
    /// `docker push` does: the engine's embedded BuildKit (20.10) does not
    /// push from its `moby` exporter. `credentials` are (user, secret); empty
    /// means anonymous.
    pub async fn push_image(
        &self,
        reference: &str,
        credentials: (String, String),
    ) -> Result<(), DriverError> {
        use futures::StreamExt as _;
        let (repo, tag) = split_tag(reference);
        let opts = bollard::query_parameters::PushImageOptionsBuilder::new()
            .tag(tag)
            .build();
        let creds = (!credentials.0.is_empty() || !credentials.1.is_empty()).then(|| {
            bollard::auth::DockerCredentials {
                username: Some(credentials.0.clone()),
                password: Some(credentials.1.clone()),
                serveraddress: Some(registry_host(reference).to_string()),
                ..Default::default()
            }
        });
        let mut stream = self.engine.push_image(repo, Some(opts), creds);
        let fail = |detail: String| DriverError::Push {
            endpoint: self.endpoint.url(),
            reference: reference.to_string(),
            detail,
        };
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| fail(e.to_string()))?;
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(fail(err));
            }
        }
        Ok(())
    }

    /// Where the engine listens.
    pub fn docker_endpoint(&self) -> &DockerEndpoint {
        &self.endpoint
    }
}

impl Driver for DockerDriver {
    fn features(&self) -> Features {
        self.features
    }

    fn endpoint(&self) -> String {
        self.endpoint.url()
    }

    /// The engine is not ours to start: bootstrap asks BuildKit once.
    fn answer_within(&self) -> Option<Duration> {
        Some(Duration::ZERO)
    }

    fn push<'a>(
        &'a self,
        reference: &'a str,
        credentials: (String, String),
    ) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(self.push_image(reference, credentials))
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream, DriverError>> {
        Box::pin(async move { upgrade(&self.endpoint, "/grpc", &[]).await })
    }

    fn connect_session<'a>(
        &'a self,
        session: &'a SessionInfo,
    ) -> BoxFuture<'a, Result<Option<BoxStream>, DriverError>> {
        Box::pin(async move {
            let headers = session.headers();
            upgrade(&self.endpoint, "/session", &headers)
                .await
                .map(Some)
        })
    }
}

/// The docker driver's factory: a node is an engine (its endpoint a docker
/// host or context); its daemon is configured with dockerd's own file.
#[derive(Debug)]
pub struct Factory;

impl super::factory::Factory for Factory {
    fn kind(&self) -> DriverKind {
        DriverKind::Docker
    }

    fn allows_instances(&self) -> bool {
        false
    }

    fn owns_daemon(&self) -> bool {
        false
    }

    fn validate(&self, cfg: &InitConfig) -> Result<(), String> {
        if cfg.files.as_ref().is_some_and(|f| !f.is_empty()) {
            return Err("setting config file is not supported for docker driver, use dockerd configuration file".into());
        }
        Ok(())
    }

    fn new_driver<'a>(
        &'a self,
        cfg: &'a InitConfig,
    ) -> BoxFuture<'a, Result<std::sync::Arc<dyn Driver>, DriverError>> {
        Box::pin(async move {
            let d = DockerDriver::for_node(&cfg.endpoint).await?;
            Ok(std::sync::Arc::new(d) as std::sync::Arc<dyn Driver>)
        })
    }
}

/// The Docker CLI's `opts.ParseHost(true, ep)` for a docker endpoint given to
/// `create`: `unix://`, `tcp://` (port 2376 by default), `npipe://`, `fd://`,
/// `ssh://`, or a bare `host:port`.
pub fn parse_host(ep: &str) -> Result<String, String> {
    let fail = || format!("failed to parse endpoint {ep}: Invalid bind address format: {ep}");
    let ep_trim = ep.trim();
    match ep_trim.split_once("://") {
        Some(("unix", path)) => Ok(format!(
            "unix://{}",
            if path.is_empty() {
                "/var/run/docker.sock"
            } else {
                path
            }
        )),
        Some(("npipe" | "fd" | "ssh", _)) => Ok(ep_trim.to_string()),
        Some(("tcp", addr)) => tcp_host(addr).ok_or_else(fail),
        Some(_) => Err(fail()),
        None => tcp_host(ep_trim).ok_or_else(fail),
    }
}

fn tcp_host(addr: &str) -> Option<String> {
    let (host, rest) = match addr.find('/') {
        Some(i) => (&addr[..i], &addr[i..]),
        None => (addr, ""),
    };
    let (name, port) = if host.starts_with('[') {
        // [v6-address]:port
        let end = host.find(']')?;
        let (name, after) = host.split_at(end + 1);
        match after.strip_prefix(':') {
            Some(p) if !p.is_empty() => (name, p),
            _ if after.is_empty() || after == ":" => (name, "2376"),
            _ => return None,
        }
    } else {
        match host.split_once(':') {
            Some((h, p)) if !p.is_empty() => (h, p),
            Some((h, _)) => (h, "2376"),
            None => (host, "2376"),
        }
    };
    if !port.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let name = if name.is_empty() { "localhost" } else { name };
    Some(format!("tcp://{name}:{port}{rest}"))
}

/// Splits `repo[:tag]` (a `:` before the last `/` is a registry port).
pub fn split_tag(reference: &str) -> (&str, &str) {
    let name_start = reference.rfind('/').map(|i| i + 1).unwrap_or(0);
    match reference[name_start..].rfind(':') {
        Some(i) => (
            &reference[..name_start + i],
            &reference[name_start + i + 1..],
        ),
        None => (reference, "latest"),
    }
}

/// The registry host of a reference, as the docker CLI decides it: the first
/// component when it has a `.` or `:` or is `localhost`, else Docker Hub.
pub fn registry_host(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

async fn open(endpoint: &DockerEndpoint) -> Result<BoxStream, DriverError> {
    let url = endpoint.url();
    let fut = async {
        match endpoint {
            DockerEndpoint::Unix(p) => tokio::net::UnixStream::connect(p)
                .await
                .map(|s| Box::new(s) as BoxStream),
            DockerEndpoint::Tcp(h) => tokio::net::TcpStream::connect(h).await.map(|s| {
                let _ = s.set_nodelay(true);
                Box::new(s) as BoxStream
            }),
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, fut).await {
        Ok(r) => r.map_err(|source| DriverError::Connect {
            endpoint: url,
            source,
        }),
        Err(_) => Err(DriverError::Timeout {
            endpoint: url,
            what: "the connection",
            secs: CONNECT_TIMEOUT.as_secs(),
        }),
    }
}

/// Sends `POST path` with `Upgrade: h2c` and returns the raw stream after the
/// `101 Switching Protocols`, ready for HTTP/2.
pub async fn upgrade(
    endpoint: &DockerEndpoint,
    path: &'static str,
    headers: &[(&'static str, String)],
) -> Result<BoxStream, DriverError> {
    let mut stream = open(endpoint).await?;
    let url = endpoint.url();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: buildkit-lsp/{}\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n",
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in headers {
        if v.contains(['\r', '\n']) {
            return Err(DriverError::Upgrade {
                endpoint: url,
                path,
                detail: format!("header {k} contains a line break"),
            });
        }
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let io_err = |source| DriverError::Connect {
        endpoint: url.clone(),
        source,
    };
    let handshake = async {
        stream.write_all(req.as_bytes()).await.map_err(io_err)?;
        stream.flush().await.map_err(io_err)?;
        read_response_head(&mut stream).await.map_err(io_err)
    };
    let head = match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(DriverError::Timeout {
                endpoint: url,
                what: "the h2c upgrade",
                secs: CONNECT_TIMEOUT.as_secs(),
            })
        }
    };
    let status_line = head.lines().next().unwrap_or_default().to_string();
    let code = status_line.split_whitespace().nth(1).unwrap_or_default();
    if code != "101" {
        return Err(DriverError::Upgrade {
            endpoint: url,
            path,
            detail: format!("expected 101 Switching Protocols, got {status_line:?}"),
        });
    }
    Ok(stream)
}

/// Reads an HTTP response head byte by byte up to the blank line, so no
/// HTTP/2 byte that follows it is consumed.
async fn read_response_head(stream: &mut BoxStream) -> std::io::Result<String> {
    const MAX_HEAD: usize = 16 * 1024;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection before answering the upgrade",
            ));
        }
        head.push(byte[0]);
        if head.len() > MAX_HEAD {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the upgrade response head is larger than 16 KiB",
            ));
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_wins_over_everything() {
        let ep = resolve(Some("tcp://10.0.0.1:2376"), Some("other"), None).unwrap();
        assert_eq!(ep, DockerEndpoint::Tcp("10.0.0.1:2376".into()));
        let ep = resolve(Some("unix:///tmp/d.sock"), None, None).unwrap();
        assert_eq!(ep, DockerEndpoint::Unix("/tmp/d.sock".into()));
    }

    #[test]
    fn tcp_without_port_gets_2375() {
        assert_eq!(
            DockerEndpoint::parse("tcp://example").unwrap(),
            DockerEndpoint::Tcp("example:2375".into())
        );
    }

    #[test]
    fn bad_schemes_are_explained() {
        let e = DockerEndpoint::parse("ssh://me@host")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ssh:// and npipe://"), "{e}");
        assert!(DockerEndpoint::parse("unix://").is_err());
    }

    #[test]
    fn context_from_config_and_meta() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), r#"{"currentContext":"ci"}"#).unwrap();
        // sha256("ci"), computed with `printf ci | sha256sum`.
        let digest = "1b158839f8aa339e89bb50b1603e90ec68e0fd5565fe10a7cb32729fddf7070a";
        let meta = dir.path().join("contexts/meta").join(digest);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"ci","Endpoints":{"docker":{"Host":"unix:///run/ci.sock","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        let ep = resolve(None, None, Some(dir.path())).unwrap();
        assert_eq!(ep, DockerEndpoint::Unix("/run/ci.sock".into()));
        // DOCKER_CONTEXT=default means the default socket.
        let ep = resolve(None, Some("default"), Some(dir.path())).unwrap();
        assert_eq!(ep, DockerEndpoint::Unix("/var/run/docker.sock".into()));
        // A missing context is an error naming it.
        let e = resolve(None, Some("gone"), Some(dir.path())).unwrap_err();
        assert!(e.to_string().contains("\"gone\""), "{e}");
    }

    #[test]
    fn references_split_into_repo_tag_and_registry() {
        assert_eq!(
            split_tag("127.0.0.1:5000/app:1"),
            ("127.0.0.1:5000/app", "1")
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/app"),
            ("127.0.0.1:5000/app", "latest")
        );
        assert_eq!(split_tag("app"), ("app", "latest"));
        assert_eq!(registry_host("127.0.0.1:5000/app:1"), "127.0.0.1:5000");
        assert_eq!(registry_host("localhost/app"), "localhost");
        assert_eq!(registry_host("library/busybox:1"), "docker.io");
        assert_eq!(registry_host("busybox"), "docker.io");
    }

    #[test]
    fn create_endpoints_parse_as_the_docker_cli() {
        assert_eq!(parse_host("tcp://1.2.3.4").unwrap(), "tcp://1.2.3.4:2376");
        assert_eq!(parse_host("1.2.3.4:2375").unwrap(), "tcp://1.2.3.4:2375");
        assert_eq!(
            parse_host("unix:///run/d.sock").unwrap(),
            "unix:///run/d.sock"
        );
        assert_eq!(
            parse_host("http://x").unwrap_err(),
            "failed to parse endpoint http://x: Invalid bind address format: http://x"
        );
    }

    #[test]
    fn no_config_means_default_socket() {
        let ep = resolve(None, None, None).unwrap();
        assert_eq!(ep.url(), DEFAULT_HOST);
    }
}
