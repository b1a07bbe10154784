//! Where BuildKit runs: one driver per kind (docker, docker-container,
//! kubernetes, remote), each one value behind the [`Driver`] trait, built by
//! its kind's [`Factory`] from a node's configuration, as buildx's
//! `driver.Driver` and `driver.Factory`. A driver reports its features, runs
//! its daemon's lifecycle (status, bootstrap, stop, remove) and opens duplex
//! byte streams to a BuildKit gRPC endpoint; everything above the stream
//! (gRPC, the session, progress) is shared in `crate::buildkit`, and nothing
//! outside this module dispatches on a driver kind.

pub mod docker;
pub mod docker_container;
pub mod factory;
pub mod features;
pub mod kubernetes;
pub mod remote;

use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};

pub use factory::{factory, InitConfig};
pub use features::{DriverKind, Feature, Features, Refusal, Support};

/// Driver options from `(key, value)` pairs, for the drivers' tests.
#[cfg(test)]
pub(crate) fn test_opts(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A duplex byte stream to BuildKit (an upgraded HTTP connection, an exec's
/// stdio, a socket).
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> ByteStream for T {}

/// A boxed [`ByteStream`], what drivers hand out.
pub type BoxStream = Box<dyn ByteStream>;

/// The headers that announce a session to BuildKit: the same values travel as
/// HTTP headers on the docker driver's `/session` upgrade and as gRPC metadata
/// on `Control.Session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: String,
    pub name: String,
    pub shared_key: String,
    /// Every gRPC method the session serves, e.g.
    /// `/moby.filesync.v1.FileSync/DiffCopy`.
    pub methods: Vec<String>,
}

impl SessionInfo {
    /// The header pairs (lower-case names, as gRPC metadata wants them).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("x-docker-expose-session-uuid", self.id.clone()),
            ("x-docker-expose-session-name", self.name.clone()),
            ("x-docker-expose-session-sharedkey", self.shared_key.clone()),
        ];
        for m in &self.methods {
            out.push(("x-docker-expose-session-grpc-method", m.clone()));
        }
        out
    }
}

/// Errors of the driver layer: reaching the engine or BuildKit.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("cannot connect to the Docker daemon at {endpoint}: {source}. Is the docker daemon running? Start it, or point DOCKER_HOST / the docker context at a running engine.")]
    Connect {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the Docker daemon at {endpoint} refused the {path} upgrade: {detail}")]
    Upgrade {
        endpoint: String,
        path: &'static str,
        detail: String,
    },
    #[error("timed out after {secs} s waiting for {what} at {endpoint}")]
    Timeout {
        endpoint: String,
        what: &'static str,
        secs: u64,
    },
    #[error("invalid docker endpoint {value:?}: {reason}")]
    Endpoint { value: String, reason: String },
    #[error("cannot read the docker context {name:?} from {path}: {reason}")]
    Context {
        name: String,
        path: PathBuf,
        reason: String,
    },
    /// A driver's options or endpoint are unusable (remote, docker-container).
    #[error("{driver} driver: {detail}")]
    Config {
        driver: &'static str,
        detail: String,
    },
    /// BuildKit could not be reached or refused the connection (remote,
    /// docker-container); `detail` says why and what to change.
    #[error("cannot connect to BuildKit at {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("pushing {reference} through the Docker daemon at {endpoint} failed: {detail}")]
    Push {
        endpoint: String,
        reference: String,
        detail: String,
    },
    #[error("Docker Engine API error at {endpoint}: {source}")]
    Engine {
        endpoint: String,
        #[source]
        source: bollard::errors::Error,
    },
}

/// What a driver knows of its daemon without asking BuildKit (buildx's
/// `driver.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonState {
    /// Not created yet: bootstrap creates it.
    Inactive,
    /// Created, not running.
    Stopped,
    /// Running, or not the driver's to start (docker, remote): BuildKit
    /// itself says whether it answers.
    Running,
}

/// A progress callback: one line per bootstrap step.
pub type Progress<'a> = &'a mut (dyn FnMut(&str) + Send);

/// One BuildKit daemon and the way to reach it (buildx's `driver.Driver`).
pub trait Driver: Send + Sync + 'static {
    /// What this builder can do.
    fn features(&self) -> Features;

    /// A human-readable endpoint for messages (`unix:///var/run/docker.sock`).
    fn endpoint(&self) -> String;

    /// Whether the daemon exists and runs (buildx's `Info`). Drivers whose
    /// daemon is not theirs say `Running` and leave the answer to BuildKit.
    fn state(&self) -> BoxFuture<'_, Result<DaemonState, DriverError>> {
        Box::pin(async { Ok(DaemonState::Running) })
    }

    /// Creates and starts what is missing (buildx's `Bootstrap`), reporting
    /// each step to `progress`. Nothing to do for a daemon that is not ours.
    fn bootstrap<'a>(&'a self, _progress: Progress<'a>) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(async { Ok(()) })
    }

    /// How long the lifecycle then waits for BuildKit to answer
    /// `ListWorkers` (`Some(ZERO)`: asks once). `None`: `bootstrap` itself
    /// waited until the daemon was ready.
    fn answer_within(&self) -> Option<Duration> {
        None
    }

    /// Stops the daemon (`builder stop`). buildx's docker, remote and
    /// kubernetes drivers have nothing to stop.
    fn stop(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async { Ok(()) })
    }

    /// Removes the daemon (`builder rm` without `--keep-daemon`); with
    /// `keep_state` its state stays. Nothing to remove for a daemon that is
    /// not ours.
    fn remove(&self, _keep_state: bool) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async { Ok(()) })
    }

    /// The daemons that serve this node when there are several (kubernetes:
    /// its running pods, which `ls` lists in the node's place). `None`: the
    /// node is one daemon.
    fn instances(&self) -> BoxFuture<'_, Result<Option<Vec<String>>, DriverError>> {
        Box::pin(async { Ok(None) })
    }

    /// Pushes `reference` from the engine's image store, for drivers whose
    /// images land there ([`Feature::AutomaticLoad`]): their exporter does
    /// not push. `credentials` are (user, secret); empty means anonymous.
    fn push<'a>(
        &'a self,
        reference: &'a str,
        _credentials: (String, String),
    ) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(async move {
            Err(DriverError::Push {
                endpoint: self.endpoint(),
                reference: reference.to_string(),
                detail: "this driver pushes through BuildKit's exporter, not an engine".into(),
            })
        })
    }

    /// Opens a new byte stream to BuildKit's gRPC control API. Called once per
    /// HTTP/2 connection (tonic may reconnect).
    fn connect(&self) -> BoxFuture<'_, Result<BoxStream, DriverError>>;

    /// Opens a dedicated stream for the session, on which BuildKit is the
    /// HTTP/2 client (the docker driver's `/session` upgrade). `None` means the
    /// session travels inside the control connection (`Control.Session`).
    fn connect_session<'a>(
        &'a self,
        _session: &'a SessionInfo,
    ) -> BoxFuture<'a, Result<Option<BoxStream>, DriverError>> {
        Box::pin(async { Ok(None) })
    }
}
