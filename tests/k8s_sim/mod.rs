//! A Kubernetes API server simulator for the kubernetes driver's tests.
//!
//! No API server can be installed on the test machines, so this module
//! serves, on 127.0.0.1, the part of the Kubernetes API the driver (through
//! `kube`) uses: deployments, replicasets, statefulsets, configmaps, pods,
//! persistentvolumeclaims, events and namespaces, with list/watch, label and
//! field selectors, `resourceVersion`s and `kind: Status` errors as a real
//! API server sends them; controllers that turn deployments and statefulsets
//! into pods and mark them ready on a schedule the test controls; and pod
//! exec over the WebSocket channel protocol, where `buildctl dial-stdio` is
//! bridged byte for byte to a real BuildKit (by default the test Docker
//! Engine's, through its `/grpc` endpoint).
//!
//! Include it from a test file next to the shared support module:
//!
//! ```ignore
//! mod support;
//! #[path = "k8s_sim/mod.rs"]
//! mod k8s_sim;
//! ```
//!
//! The simulator runs on its own thread and runtime (like the relay in
//! `tests/support/relay.rs`), so it keeps answering while a test blocks.
//! What it implements and where it knowingly differs from a real API server
//! is written down in `docs/k8s-simulator.md`.
#![allow(dead_code)]

mod api;
mod controllers;
mod exec;
mod patch;
mod pki;
mod selector;
mod server;
mod store;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use store::{ExecRecord, Recorded};

/// How clients authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `Authorization: Bearer <token>`; anything else is 401.
    Token(String),
    /// A client certificate signed by the simulator's CA (which
    /// [`K8sSim::write_kubeconfig`] writes); needs `tls: true`.
    ClientCert,
}

/// Where exec of `buildctl dial-stdio` connects to.
#[derive(Debug, Clone)]
pub enum BuildkitTarget {
    /// The test engine's `/grpc` endpoint, via `DOCKER_HOST` or
    /// `/var/run/docker.sock`.
    EngineGrpc,
    /// A BuildKit gRPC endpoint on TCP (no TLS).
    Tcp(std::net::SocketAddr),
    /// A BuildKit gRPC endpoint on a Unix socket.
    Unix(PathBuf),
}

/// How the simulator is set up.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Serve HTTPS with a certificate of the simulator's own CA.
    pub tls: bool,
    pub auth: Auth,
    /// The namespace the kubeconfig names; it exists, besides `default`,
    /// `kube-system` and `kube-public`.
    pub namespace: String,
    pub buildkit: BuildkitTarget,
}

impl SimOptions {
    /// Plain HTTP, token `test-token`, namespace `buildkit`, the engine's
    /// BuildKit.
    pub fn new() -> SimOptions {
        SimOptions {
            tls: false,
            auth: Auth::Token("test-token".into()),
            namespace: "buildkit".into(),
            buildkit: BuildkitTarget::EngineGrpc,
        }
    }
}

impl Default for SimOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// When pods created from now on become ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Running and Ready this long after they are scheduled.
    After(Duration),
    /// Never: the container stays waiting with this reason (e.g.
    /// `ImagePullBackOff`) and message, and Warning events say so.
    Never { reason: String, message: String },
}

/// A running simulator; [`K8sSim::stop`] (or dropping it) shuts it down.
pub struct K8sSim {
    shared: Arc<store::Shared>,
    url: String,
    pki: Option<pki::SimPki>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl K8sSim {
    /// Starts the simulator on `127.0.0.1:<free port>`.
    pub async fn start(opts: SimOptions) -> K8sSim {
        K8sSim::start_blocking(opts)
    }

    /// [`K8sSim::start`] for tests without a runtime.
    pub fn start_blocking(opts: SimOptions) -> K8sSim {
        if matches!(opts.auth, Auth::ClientCert) {
            assert!(opts.tls, "k8s_sim: Auth::ClientCert needs tls: true");
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind simulator port");
        listener
            .set_nonblocking(true)
            .expect("nonblocking simulator socket");
        let addr = listener.local_addr().expect("simulator address");
        let pki = opts.tls.then(pki::SimPki::new);
        let acceptor = pki.as_ref().map(|p| p.acceptor(&opts.auth));
        let scheme = if opts.tls { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");
        let shared = Arc::new(store::Shared::new(opts, addr));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serve_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("k8s-sim".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("k8s-sim-worker")
                    .enable_all()
                    .build()
                    .expect("simulator runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    tokio::select! {
                        _ = server::serve(listener, acceptor, serve_shared) => {}
                        _ = stop_rx => {}
                    }
                });
                rt.shutdown_background();
            })
            .expect("simulator thread");
        K8sSim {
            shared,
            url,
            pki,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The namespace the simulator was started with.
    pub fn namespace(&self) -> String {
        self.shared.opts.namespace.clone()
    }

    /// The CA certificate (PEM) that signed the server (and client)
    /// certificates; `None` without TLS.
    pub fn ca_pem(&self) -> Option<String> {
        self.pki.as_ref().map(|p| p.ca_pem.clone())
    }

    /// Writes a kubeconfig with one cluster, user and context named
    /// `context` (current), the simulator's URL and CA, the token or a
    /// client certificate, and the namespace.
    pub fn write_kubeconfig(&self, path: &Path, context: &str) {
        let yaml = pki::kubeconfig_yaml(
            &self.url,
            self.pki.as_ref(),
            &self.shared.opts.auth,
            &self.shared.opts.namespace,
            context,
        );
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("kubeconfig directory");
        }
        std::fs::write(path, yaml).expect("write kubeconfig");
    }

    /// Readiness of pods created from now on.
    pub fn set_readiness(&self, r: Readiness) {
        self.shared.lock().readiness = r;
    }

    /// The next `n` exec requests fail with HTTP `status` and a
    /// `kind: Status` body, before any WebSocket upgrade.
    pub fn fail_next_execs(&self, n: usize, status: u16) {
        let mut st = self.shared.lock();
        st.fail_execs = n;
        st.fail_exec_status = status;
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// The stored objects of a resource (`"deployments"`, `"statefulsets"`,
    /// `"replicasets"`, `"configmaps"`, `"pods"`, `"persistentvolumeclaims"`,
    /// `"events"`, `"namespaces"`) in all namespaces, ordered by namespace and
    /// name, each with `kind` and `apiVersion`.
    pub fn objects(&self, kind: &str) -> Vec<serde_json::Value> {
        self.shared.lock().objects_of(kind)
    }

    /// Every exec request that named an existing pod (failed ones included),
    /// in arrival order.
    pub fn execs(&self) -> Vec<ExecRecord> {
        self.shared.lock().execs.clone()
    }

    /// How many exec streams are bridged to BuildKit right now.
    pub fn open_execs(&self) -> usize {
        self.shared
            .open_execs
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops serving; open connections are dropped.
    pub async fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for K8sSim {
    fn drop(&mut self) {
        self.shutdown();
    }
}
