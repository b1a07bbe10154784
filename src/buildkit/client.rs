//! The gRPC control client over any byte stream a driver hands over, and the
//! build itself: one `Solve` of the Dockerfile frontend with its session,
//! `Status` streamed alongside, and the failure decoded into source ranges.
//!
//! Dropping the future of [`Client::build`] cancels the build: the `Solve`
//! stream is reset, and BuildKit cancels the job and kills its processes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::types::{BuildkitVersion, WorkerRecord};
use bollard_buildkit_proto::moby::buildkit::v1::{
    CacheOptions, CacheOptionsEntry, Exporter, InfoRequest, ListWorkersRequest, SolveRequest,
    StatusRequest,
};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};

use super::attachables::{AuthService, SecretsService, TarDest};
use super::content::SessionStores;
use super::errors::{decode_solve_status, locate_step, BuildkitError};
use super::filesend::{load_into_engine, ExportDest, FileSendService, StreamSink};
use super::filesync::{FileSyncService, SyncedDir, TransferStats};
use super::progress::{decode, LogTail, ProgressEvent};
use super::redact::{Redactor, SecretValues};
use super::session::{buildx_config_dir, node_id, shared_key, Session};
use crate::build::options::ContextSource;
use crate::build::spec::local_context_dir_name;
use crate::build::{BuildSpec, Export};
use crate::driver::{BoxStream, Driver, Features};

/// A connection to one BuildKit daemon.
#[derive(Clone)]
pub struct Client {
    driver: Arc<dyn Driver>,
    control: ControlClient<Channel>,
    /// The connection itself, for services other than Control (the
    /// gateway's `LLBBridge` in `oracle.rs`).
    channel: Channel,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.driver.endpoint())
            .finish()
    }
}

/// What a finished build produced.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    /// The exporter's response (`containerimage.digest`, `image.name`, …).
    pub exporter_response: HashMap<String, String>,
    /// What the file sync sent for this build.
    pub transfer: Arc<TransferStats>,
    /// The engine's `Loaded image: …` lines of a `--load` through a
    /// non-docker driver.
    pub loaded: Vec<String>,
}

impl BuildOutcome {
    /// The image id or digest the exporter reported.
    pub fn image_id(&self) -> Option<&str> {
        self.exporter_response
            .get("containerimage.digest")
            .map(String::as_str)
    }
}

impl Client {
    /// Connects through the driver. The first stream is opened here, so an
    /// unreachable daemon fails now with the driver's own message.
    pub async fn connect(driver: Arc<dyn Driver>) -> Result<Client, BuildkitError> {
        let first: Arc<Mutex<Option<BoxStream>>> =
            Arc::new(Mutex::new(Some(driver.connect().await?)));
        let d = driver.clone();
        let endpoint = driver.endpoint();
        let channel = Endpoint::from_static("http://buildkit.invalid")
            .connect_timeout(Duration::from_secs(10))
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5))
            .keep_alive_while_idle(true)
            .connect_with_connector(tower::service_fn(move |_uri| {
                let d = d.clone();
                let first = first.clone();
                async move {
                    let ready = first.lock().ok().and_then(|mut f| f.take());
                    let io = match ready {
                        Some(io) => io,
                        None => d.connect().await.map_err(std::io::Error::other)?,
                    };
                    Ok::<_, std::io::Error>(TokioIo::new(io))
                }
            }))
            .await
            .map_err(|e| BuildkitError::Transport {
                endpoint: endpoint.clone(),
                detail: error_chain(&e),
            })?;
        let control = ControlClient::new(channel.clone())
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        Ok(Client {
            driver,
            control,
            channel,
        })
    }

    /// The driver this client goes through.
    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.driver
    }

    /// The raw control client, for calls not wrapped here.
    pub fn control(&self) -> ControlClient<Channel> {
        self.control.clone()
    }

    /// The connection, for other services on the same daemon.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The daemon's workers (platforms, labels).
    pub async fn list_workers(&self) -> Result<Vec<WorkerRecord>, BuildkitError> {
        let mut c = self.control.clone();
        c.list_workers(ListWorkersRequest::default())
            .await
            .map(|r| r.into_inner().record)
            .map_err(|s| BuildkitError::rpc(&self.driver.endpoint(), "ListWorkers", &s))
    }

    /// The daemon's BuildKit version; `None` for daemons without `Info`
    /// (Docker Engine 20.10's BuildKit answers Unimplemented).
    pub async fn info(&self) -> Result<Option<BuildkitVersion>, BuildkitError> {
        let mut c = self.control.clone();
        match c.info(InfoRequest::default()).await {
            Ok(r) => Ok(r.into_inner().buildkit_version),
            Err(s) if s.code() == tonic::Code::Unimplemented => Ok(None),
            Err(s) => Err(BuildkitError::rpc(&self.driver.endpoint(), "Info", &s)),
        }
    }

    /// Runs one build of `spec`, sending progress to `events` (a closed
    /// receiver is fine). What the driver cannot do is the caller's to
    /// refuse first (`BuildSpec::refusals`; `builder::run` does).
    pub async fn build(
        &self,
        spec: &BuildSpec,
        events: mpsc::UnboundedSender<ProgressEvent>,
    ) -> Result<BuildOutcome, BuildkitError> {
        self.build_loading(spec, events, None).await
    }

    /// Like [`Client::build`], with the Docker Engine a `--load` through a
    /// non-docker driver loads into: BuildKit's `docker` exporter streams
    /// the tarball back through the session, straight into the engine.
    pub async fn build_loading(
        &self,
        spec: &BuildSpec,
        events: mpsc::UnboundedSender<ProgressEvent>,
        engine: Option<&bollard::Docker>,
    ) -> Result<BuildOutcome, BuildkitError> {
        self.build_counted(spec, events, engine, Arc::default())
            .await
    }

    /// Like [`Client::build_loading`], with the file sync counting into
    /// `transfer`, which the caller keeps whether the build succeeds or not
    /// (the build insight reads which files were sent).
    pub async fn build_counted(
        &self,
        spec: &BuildSpec,
        events: mpsc::UnboundedSender<ProgressEvent>,
        engine: Option<&bollard::Docker>,
        transfer: Arc<TransferStats>,
    ) -> Result<BuildOutcome, BuildkitError> {
        // What the driver refuses was refused by the caller
        // (`builder::run`, `BuildSpec::refusals`), before connecting.
        let features = self.driver.features();
        let exports = spec.exports(&features);
        let version = self.info().await?;
        // The content stores (local cache, OCI layouts) and the spec as
        // sent: local cache imports and `oci-layout://` contexts resolved.
        let (sent, stores) = SessionStores::prepare(spec, &exports)?;
        for message in &stores.warnings {
            let _ = events.send(ProgressEvent::Warning {
                vertex: String::new(),
                level: 1,
                message: message.clone(),
                detail: Vec::new(),
                url: String::new(),
                filename: None,
                ranges: Vec::new(),
            });
        }
        let request = solve_request(&sent, &exports, &features, version.as_ref())?;

        let (context, dockerfile, dirs) = synced_dirs(spec)?;
        let file_sync = FileSyncService::new(dirs).with_stats(transfer);
        let transfer = file_sync.stats();

        let name = context
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "context".into());
        let buildx_dir = buildx_config_dir();
        let key = shared_key(&context, &node_id(buildx_dir.as_deref()));
        // Every value the session hands out is masked in the progress.
        let secret_values = SecretValues::default();
        let mut session = Session::new(&name, &key)
            .with_file_sync(file_sync)
            .with_auth(
                AuthService::new(crate::driver::docker::docker_config_dir())
                    .masked_by(secret_values.clone()),
            );
        if !spec.secrets.is_empty() {
            session = session
                .with_secrets(SecretsService::new(&spec.secrets).masked_by(secret_values.clone()));
        }
        if !stores.is_empty() {
            session = session.with_content_store(stores.service());
        }
        if !spec.ssh.is_empty() {
            let ssh =
                super::sshforward::SshForwardService::new(&spec.ssh).map_err(BuildkitError::Ssh)?;
            session = session.with_ssh(ssh);
        }
        let mut loader = None;
        if let Some(dest) = exports.iter().find_map(export_dest) {
            session = session.with_file_send(FileSendService::new(dest));
        } else if exports.iter().any(is_engine_load) {
            let Some(engine) = engine else {
                return Err(BuildkitError::Unsupported(
                    "--load needs a Docker Engine to load the image into, and none is reachable"
                        .into(),
                ));
            };
            let (sink, chunks) = StreamSink::channel();
            session = session.with_file_send(FileSendService::new(ExportDest::Stream(sink)));
            let engine = engine.clone();
            let events = events.clone();
            let task = tokio::spawn(async move {
                use futures::StreamExt;
                let mut chunks = chunks;
                // Report the load once the exporter starts sending, not before.
                let Some(first) = chunks.recv().await else {
                    return Err(BuildkitError::LoadedNothing);
                };
                let chunks = futures::stream::once(async move { first })
                    .chain(tokio_stream::wrappers::ReceiverStream::new(chunks));
                let vertex = "load:docker".to_string();
                let mut v = super::progress::VertexEvent {
                    digest: vertex.clone(),
                    name: "loading the image into docker".into(),
                    cached: false,
                    started: Some(std::time::SystemTime::now()),
                    completed: None,
                    error: None,
                };
                let _ = events.send(ProgressEvent::Vertex(v.clone()));
                let r = load_into_engine(&engine, chunks, |line| {
                    let _ = events.send(ProgressEvent::Log {
                        vertex: vertex.clone(),
                        stream: 1,
                        data: format!("{line}\n").into_bytes(),
                        at: Some(std::time::SystemTime::now()),
                    });
                })
                .await;
                v.completed = Some(std::time::SystemTime::now());
                v.error = r.as_ref().err().map(|e| e.to_string());
                let _ = events.send(ProgressEvent::Vertex(v));
                r
            });
            loader = Some(AbortTask(task));
        }
        let mut request = request;
        request.session = session.id().to_string();
        let ref_id = request.r#ref.clone();
        let endpoint = self.driver.endpoint();
        let _session = session.start(&*self.driver, self.control.clone()).await?;

        // Status first, so no early event is missed; it ends when the job does.
        let (tx, mut rx) = mpsc::unbounded_channel::<ProgressEvent>();
        let mut status_client = self.control.clone();
        let status_task = tokio::spawn(async move {
            let Ok(resp) = status_client.status(StatusRequest { r#ref: ref_id }).await else {
                return;
            };
            let mut stream = resp.into_inner();
            while let Ok(Some(msg)) = stream.message().await {
                for ev in decode(&msg) {
                    if tx.send(ev).is_err() {
                        return;
                    }
                }
            }
        });
        let _abort_status = AbortOnDrop(status_task);

        let mut tail = LogTail::default();
        let mut last_failed: Option<String> = None;
        let mut redactor = Redactor::new(secret_values.clone());
        // `None`: the end, release what the redactor holds back.
        let mut observe = |ev: Option<ProgressEvent>| {
            let masked = match ev {
                Some(ev) => redactor.redact(ev),
                None => redactor.flush(),
            };
            for ev in masked {
                tail.observe(&ev);
                if let ProgressEvent::Vertex(v) = &ev {
                    if v.error.is_some() {
                        last_failed = Some(v.digest.clone());
                    }
                }
                let _ = events.send(ev);
            }
        };
        let mut control = self.control.clone();
        let solve = control.solve(request);
        tokio::pin!(solve);
        let result = loop {
            tokio::select! {
                r = &mut solve => break r,
                Some(ev) = rx.recv() => observe(Some(ev)),
            }
        };
        // Let the status stream deliver its last events (the failed vertex,
        // the final logs); it closes right after the solve.
        let drain = async {
            while let Some(ev) = rx.recv().await {
                observe(Some(ev));
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        observe(None);

        match result {
            Ok(resp) => {
                let loaded = match loader.as_mut() {
                    // The exporter's stream has ended with the solve; the
                    // engine finishes reading the tarball now.
                    Some(task) => match (&mut task.0).await {
                        Ok(Ok(lines)) => lines,
                        Ok(Err(e)) => return Err(BuildkitError::Session(e.to_string())),
                        Err(e) => return Err(BuildkitError::Session(e.to_string())),
                    },
                    None => Vec::new(),
                };
                let exporter_response = resp.into_inner().exporter_response;
                stores.finish(&exporter_response)?;
                Ok(BuildOutcome {
                    exporter_response,
                    transfer,
                    loaded,
                })
            }
            Err(status) => {
                if is_transport_failure(&status) {
                    return Err(BuildkitError::rpc(&endpoint, "Solve", &status));
                }
                let mut failure = decode_solve_status(&status);
                failure.message = secret_values.mask_str(&failure.message);
                let vertex = failure.vertex.clone().or(last_failed);
                if let Some(v) = &vertex {
                    failure.vertex_name = tail.name(v).map(str::to_string);
                    failure.log_tail = tail.tail(v, 10);
                }
                failure.vertex = vertex;
                if failure.source.is_none() {
                    // Older daemons attach no source: find the step's lines
                    // in the Dockerfile we sent.
                    let text = std::fs::read_to_string(&dockerfile).unwrap_or_default();
                    let filename = dockerfile
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    failure.source = failure
                        .vertex_name
                        .as_deref()
                        .and_then(|name| locate_step(name, &filename, &text));
                }
                Err(BuildkitError::Solve(Box::new(failure)))
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Aborts a spawned task when dropped (a failed or cancelled build stops
/// the engine load).
struct AbortTask<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortTask<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The build's context and Dockerfile (absolute), and the directories its
/// file sync serves: the context, the Dockerfile's, and each local named
/// context.
/// The build's context and Dockerfile (absolute), and the directories its
/// file sync serves by name.
type SyncedDirs = (
    std::path::PathBuf,
    std::path::PathBuf,
    Vec<(String, SyncedDir)>,
);

fn synced_dirs(spec: &BuildSpec) -> Result<SyncedDirs, BuildkitError> {
    let context = std::path::absolute(&spec.context).map_err(|source| BuildkitError::Io {
        what: "cannot resolve the build context",
        path: spec.context.display().to_string(),
        source,
    })?;
    let dockerfile = if spec.dockerfile.is_some() {
        std::path::absolute(spec.dockerfile_path()).map_err(|source| BuildkitError::Io {
            what: "cannot resolve the Dockerfile",
            path: spec.dockerfile_path().display().to_string(),
            source,
        })?
    } else {
        context.join("Dockerfile")
    };
    let sync_err = |e: BuildkitError| BuildkitError::Session(e.to_string());
    let mut dirs = vec![
        (
            "context".to_string(),
            SyncedDir::context(&context, &dockerfile).map_err(sync_err)?,
        ),
        (
            "dockerfile".to_string(),
            SyncedDir::dockerfile(&dockerfile).map_err(sync_err)?,
        ),
    ];
    for (name, source) in &spec.contexts {
        if let ContextSource::Local(dir) = source {
            // A named directory is sent like the context: filtered by its
            // own `.dockerignore`.
            let synced = SyncedDir::context(dir, Path::new("")).map_err(|e| {
                BuildkitError::Session(format!("failed to get build context {name}: {e}"))
            })?;
            dirs.push((local_context_dir_name(name), synced));
        }
    }
    Ok((context, dockerfile, dirs))
}

/// The `docker` exporter without `dest`: `--load` on a non-docker driver.
fn is_engine_load(e: &Export) -> bool {
    e.kind == "docker" && e.dest.is_none()
}

fn export_dest(e: &Export) -> Option<ExportDest> {
    let dest = e.dest.as_ref()?;
    if e.is_layout() {
        // Written through the content store, not the file send.
        return None;
    }
    match e.kind.as_str() {
        "local" => Some(ExportDest::Dir(dest.clone())),
        "tar" | "docker" | "oci" if dest.as_os_str() == "-" => {
            Some(ExportDest::Tar(TarDest::Stdout))
        }
        "tar" | "docker" | "oci" => Some(ExportDest::Tar(TarDest::File(dest.clone()))),
        _ => None,
    }
}

/// A status tonic made up for a broken connection, as opposed to one the
/// daemon sent (those carry BuildKit's message and details).
fn is_transport_failure(status: &tonic::Status) -> bool {
    if !status.details().is_empty() {
        return false;
    }
    let m = status.message().to_ascii_lowercase();
    status.code() == tonic::Code::Unavailable
        || m.contains("transport error")
        || m.contains("h2 protocol error")
        || m.contains("connection reset")
        || m.contains("broken pipe")
        || m.contains("error reading a body from connection")
        || m.contains("connection closed")
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// The daemon's BuildKit takes the `Exporters` list from v0.13 on; older
/// ones read only the single deprecated exporter fields.
fn supports_exporter_list(version: Option<&BuildkitVersion>) -> bool {
    at_least(version, 13)
}

/// Attestations (`attest:*` frontend attributes, the image exporter's
/// attestation manifests: buildx's `exporter.image.attestations` cap) came
/// with BuildKit v0.11, as did `Control.Info`: a daemon that answers `Info`
/// has them, whatever version it reports (the Docker Engine's embedded
/// BuildKit says `v0.0.0+unknown`), one without `Info` has none.
fn supports_attestations(version: Option<&BuildkitVersion>) -> bool {
    version.is_some()
}

/// Whether the daemon's BuildKit is v0.`minor` or newer.
fn at_least(version: Option<&BuildkitVersion>, minor: u32) -> bool {
    let Some(v) = version else {
        return false;
    };
    let digits: Vec<u32> = v
        .version
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .take(2)
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    matches!(digits.as_slice(), [major, m] if *major > 0 || *m >= minor)
}

/// Builds the `SolveRequest` for a spec (without the session id).
pub fn solve_request(
    spec: &BuildSpec,
    exports: &[Export],
    _features: &Features,
    version: Option<&BuildkitVersion>,
) -> Result<SolveRequest, BuildkitError> {
    for (name, source) in &spec.contexts {
        if let ContextSource::Passthrough(v) = source {
            if let Some(target) = v.strip_prefix("target:") {
                // buildx solves the named bake target first and hands its
                // result to the frontend; this client does not yet.
                return Err(BuildkitError::Unsupported(format!(
                    "context {name}={v}: linking a bake target is not supported by this client yet; build {target} first and use its image through docker-image:// or an oci-layout:// directory"
                )));
            }
        }
    }
    let file_sends = exports
        .iter()
        .filter(|e| export_dest(e).is_some() || is_engine_load(e))
        .count();
    if file_sends > 1 {
        // One FileSend per session: BuildKit would send both exports to it.
        return Err(BuildkitError::Unsupported(
            "only one of --load, type=local, type=tar, type=docker and type=oci (with dest) per build; build once per output"
                .into(),
        ));
    }
    if spec.attests.iter().any(|a| !a.disabled) && !supports_attestations(version) {
        // buildx's words; BuildKit before v0.11 would ignore the attributes
        // and build without the attestations.
        return Err(BuildkitError::Unsupported(
            "Attestations are not supported by the current BuildKit daemon".into(),
        ));
    }
    let new_api = supports_exporter_list(version);
    if !new_api && exports.len() > 1 {
        return Err(BuildkitError::Unsupported(
            "this BuildKit accepts one output per build (it predates v0.13); build once per output"
                .into(),
        ));
    }
    let proto_exports: Vec<Exporter> = exports
        .iter()
        .map(|e| Exporter {
            r#type: e.kind.clone(),
            attrs: e.attrs.clone().into_iter().collect(),
        })
        .collect();
    let entry = |c: &crate::build::CacheSpec| CacheOptionsEntry {
        r#type: c.kind.clone(),
        attrs: c.attrs.clone().into_iter().collect(),
    };
    let mut req = SolveRequest {
        r#ref: super::session_ref(),
        frontend: "dockerfile.v0".to_string(),
        frontend_attrs: spec.frontend_attrs().into_iter().collect(),
        cache: Some(CacheOptions {
            exports: spec.cache_to.iter().map(entry).collect(),
            imports: spec.cache_from.iter().map(entry).collect(),
            ..CacheOptions::default()
        }),
        ..SolveRequest::default()
    };
    if spec.network.as_deref() == Some("host") {
        // BuildKit refuses host networking unless the request asks for it.
        req.entitlements.push("network.host".to_string());
    }
    if let Some(first) = proto_exports.first() {
        req.exporter_deprecated = first.r#type.clone();
        req.exporter_attrs_deprecated = first.attrs.clone();
    }
    if new_api {
        req.exporters = proto_exports;
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::CacheSpec;
    use crate::driver::DriverKind;

    #[test]
    fn old_daemon_gets_the_single_exporter_fields() {
        let mut spec = BuildSpec::new("/ctx");
        spec.tags = vec!["app:1".into()];
        spec.cache_from = vec![CacheSpec::parse("--cache-from", "reg/app:cache").unwrap()];
        spec.cache_to = vec![CacheSpec::parse("--cache-to", "type=inline").unwrap()];
        let f = Features::of(DriverKind::Docker);
        let exports = spec.exports(&f);
        let req = solve_request(&spec, &exports, &f, None).unwrap();
        assert_eq!(req.frontend, "dockerfile.v0");
        assert_eq!(req.exporter_deprecated, "moby");
        assert_eq!(req.exporter_attrs_deprecated["name"], "app:1");
        assert!(req.exporters.is_empty());
        let cache = req.cache.unwrap();
        assert_eq!(cache.exports[0].r#type, "inline");
        assert_eq!(cache.imports[0].r#type, "registry");
        assert_eq!(cache.imports[0].attrs["ref"], "reg/app:cache");
        assert_eq!(req.frontend_attrs["filename"], "Dockerfile");
        assert_eq!(
            req.frontend_attrs["cache-imports"],
            r#"[{"Type":"registry","Attrs":{"ref":"reg/app:cache"}}]"#
        );
    }

    #[test]
    fn new_daemon_gets_the_exporter_list_too() {
        let v = BuildkitVersion {
            package: "github.com/moby/buildkit".into(),
            version: "v0.17.2".into(),
            revision: String::new(),
        };
        let mut spec = BuildSpec::new("/ctx");
        spec.outputs = vec![
            crate::build::OutputSpec::parse("type=local,dest=a").unwrap(),
            crate::build::OutputSpec::parse("type=registry,name=r/x").unwrap(),
        ];
        let f = Features::of(DriverKind::Remote);
        let exports = spec.exports(&f);
        let req = solve_request(&spec, &exports, &f, Some(&v)).unwrap();
        assert_eq!(req.exporters.len(), 2);
        assert_eq!(req.exporters[1].r#type, "image");
        // The old daemon refuses two outputs with a clear message.
        let e = solve_request(&spec, &exports, &f, None).unwrap_err();
        assert!(e.to_string().contains("one output per build"), "{e}");
    }

    #[test]
    fn two_file_exports_are_refused() {
        let v = BuildkitVersion {
            version: "v0.17.2".into(),
            ..BuildkitVersion::default()
        };
        let mut spec = BuildSpec::new("/ctx");
        spec.load = true;
        spec.outputs = vec![crate::build::OutputSpec::parse("type=tar,dest=b.tar").unwrap()];
        let f = Features::of(DriverKind::Remote);
        let e = solve_request(&spec, &spec.exports(&f), &f, Some(&v)).unwrap_err();
        assert!(e.to_string().starts_with("only one of --load"), "{e}");
        spec.outputs = vec![crate::build::OutputSpec::parse("type=registry").unwrap()];
        assert!(solve_request(&spec, &spec.exports(&f), &f, Some(&v)).is_ok());
    }

    #[test]
    fn exporter_list_version_gate() {
        let v = |s: &str| BuildkitVersion {
            version: s.into(),
            ..BuildkitVersion::default()
        };
        assert!(!supports_exporter_list(None));
        assert!(!supports_exporter_list(Some(&v("v0.12.5"))));
        assert!(supports_exporter_list(Some(&v("v0.13.0"))));
        assert!(supports_exporter_list(Some(&v("v1.0.0-rc1"))));
    }

    #[test]
    fn attestations_need_a_daemon_that_has_them() {
        let v = |s: &str| BuildkitVersion {
            version: s.into(),
            ..BuildkitVersion::default()
        };
        let mut spec = BuildSpec::new("/ctx");
        spec.attests =
            crate::build::attest::parse_attests(&["type=provenance,mode=max".into()], None, None)
                .unwrap();
        let f = Features::of(DriverKind::Remote);
        let exports = spec.exports(&f);
        let e = solve_request(&spec, &exports, &f, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Attestations are not supported by the current BuildKit daemon"
        );
        // Engine 26's embedded BuildKit (v0.13) reports no version.
        let req = solve_request(&spec, &exports, &f, Some(&v("v0.0.0+unknown"))).unwrap();
        assert_eq!(
            req.frontend_attrs["attest:provenance"],
            "type=provenance,mode=max"
        );
        // a disabled attestation asks nothing of the daemon
        spec.attests[0].disabled = true;
        assert!(solve_request(&spec, &exports, &f, None).is_ok());
    }
}
