//! The `kubernetes` driver: BuildKit pods in an existing cluster, reached
//! through the Kubernetes API with `kube` (no `kubectl`), as buildx's
//! `driver/kubernetes`.
//!
//! A node is one workload named after the node: a Deployment, or a
//! StatefulSet with a volume claim when the node asks for persistent
//! storage, plus ConfigMaps for its `buildkitd.toml` (see `manifest`).
//! Bootstrap creates what is missing and waits for the ready replicas.
//! The connection is an exec of `buildctl dial-stdio` in a running pod,
//! chosen sticky (consistent hash of the context path) or at random (see
//! `exec`); gRPC and the session travel over the exec's stdio.
//!
//! Which cluster and credentials: `config`.

pub mod config;
pub mod exec;
pub mod manifest;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Pod};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::Api;

use super::{BoxStream, DaemonState, Driver, DriverError, DriverKind, Features, Progress};
pub use config::{KubeEnv, Resolved, Source};
pub use exec::Backoff;
pub use manifest::{LoadBalance, Objects, Options};

const DRIVER: &str = "kubernetes";

/// How often bootstrap asks for the workload's status (buildx: 100 ms).
const POLL: Duration = Duration::from_millis(100);

/// What the cluster holds for a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadState {
    /// No Deployment / StatefulSet of that name.
    Missing,
    /// It exists, but no replica is ready.
    NotReady,
    /// Ready replicas; the running pods, in name order.
    Running { pods: Vec<String> },
}

/// The kubernetes driver for one node.
#[derive(Clone)]
pub struct KubernetesDriver {
    client: kube::Client,
    server: String,
    namespace: String,
    source: Source,
    opts: Options,
    objects: Objects,
    sticky_key: String,
    backoff: Backoff,
}

impl std::fmt::Debug for KubernetesDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesDriver")
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .field("name", &self.opts.name)
            .finish()
    }
}

fn config_err(detail: String) -> DriverError {
    DriverError::Config {
        driver: DRIVER,
        detail,
    }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// A kube error as one line: the API's own message and code where there is one.
fn api_text(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            let reason = if s.reason.is_empty() {
                String::new()
            } else {
                format!(", {}", s.reason)
            };
            format!("{} ({}{reason})", s.message, s.code)
        }
        other => other.to_string(),
    }
}

impl KubernetesDriver {
    /// The driver for a stored node: the cluster from its endpoint and the
    /// environment (`config::resolve`), the workload from its options.
    pub async fn new(
        endpoint: &str,
        node: &str,
        driver_opts: &BTreeMap<String, String>,
        buildkitd_flags: &[String],
        files: Option<&BTreeMap<String, Vec<u8>>>,
        platforms: &[String],
    ) -> Result<KubernetesDriver, DriverError> {
        let opts = Options::from_driver_opts(node, driver_opts, buildkitd_flags, files, platforms)
            .map_err(config_err)?;
        let resolved = config::resolve(endpoint, &KubeEnv::from_process())
            .await
            .map_err(config_err)?;
        KubernetesDriver::with_config(resolved, opts)
    }

    /// The driver for a resolved cluster and parsed options.
    pub fn with_config(resolved: Resolved, opts: Options) -> Result<KubernetesDriver, DriverError> {
        let server = resolved.config.cluster_url.to_string();
        let namespace = opts
            .namespace
            .clone()
            .unwrap_or_else(|| resolved.namespace.clone());
        let client = kube::Client::try_from(resolved.config).map_err(|e| {
            config_err(format!(
                "cannot set up a client for {server} (from {}): {e}",
                resolved.source
            ))
        })?;
        let objects = opts.objects().map_err(config_err)?;
        Ok(KubernetesDriver {
            client,
            server,
            namespace,
            source: resolved.source,
            opts,
            objects,
            sticky_key: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            backoff: Backoff::default(),
        })
    }

    /// The key sticky pod choice hashes: buildx uses the absolute build
    /// context path (the working directory until a build says otherwise).
    pub fn with_sticky_key(mut self, key: &str) -> KubernetesDriver {
        self.sticky_key = key.to_string();
        self
    }

    /// Changes the exec retry policy (tests shorten it).
    pub fn with_backoff(mut self, backoff: Backoff) -> KubernetesDriver {
        self.backoff = backoff;
        self
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Where the cluster configuration came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// `deployment` or `statefulset`.
    fn kind(&self) -> &'static str {
        if self.objects.stateful_set.is_some() {
            "statefulset"
        } else {
            "deployment"
        }
    }

    fn what(&self) -> String {
        format!("{} {}/{}", self.kind(), self.namespace, self.opts.name)
    }

    fn api_err<'a>(&'a self, action: &'a str) -> impl Fn(kube::Error) -> DriverError + 'a {
        move |e| {
            config_err(format!(
                "{action} failed on the Kubernetes API at {}: {}",
                self.server,
                api_text(&e)
            ))
        }
    }

    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn stateful_sets(&self) -> Api<StatefulSet> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn config_maps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The ready replicas of the workload; `None` when it does not exist.
    async fn ready_replicas(&self) -> Result<Option<i32>, DriverError> {
        let name = &self.opts.name;
        let got = if self.objects.stateful_set.is_some() {
            self.stateful_sets()
                .get_opt(name)
                .await
                .map(|s| s.map(|s| s.status.and_then(|st| st.ready_replicas).unwrap_or(0)))
        } else {
            self.deployments()
                .get_opt(name)
                .await
                .map(|d| d.map(|d| d.status.and_then(|st| st.ready_replicas).unwrap_or(0)))
        };
        got.map_err(self.api_err(&format!("reading {}", self.what())))
    }

    /// Whether the workload exists and has ready pods (buildx's `Info`).
    pub async fn state(&self) -> Result<WorkloadState, DriverError> {
        match self.ready_replicas().await? {
            None => Ok(WorkloadState::Missing),
            Some(n) if n <= 0 => Ok(WorkloadState::NotReady),
            Some(_) => Ok(WorkloadState::Running {
                pods: self.running_pods().await?,
            }),
        }
    }

    /// The names of the running, not terminating pods, in name order.
    pub async fn running_pods(&self) -> Result<Vec<String>, DriverError> {
        let list = self
            .pods()
            .list(&ListParams::default().labels(&self.opts.label_selector()))
            .await
            .map_err(self.api_err("listing the builder's pods"))?;
        Ok(exec::running_pod_names(&list.items))
    }

    /// Creates what is missing (ConfigMaps first, then the workload) and
    /// waits until `replicas` pods are ready, at most `timeout`. On timeout
    /// the error names each pod that is not ready and why.
    pub async fn bootstrap(
        &self,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), DriverError> {
        if self.ready_replicas().await?.is_none() {
            for cm in &self.objects.config_maps {
                let name = cm.metadata.name.clone().unwrap_or_default();
                progress(&format!("creating configmap {}/{name}", self.namespace));
                match self.config_maps().create(&PostParams::default(), cm).await {
                    Ok(_) => {}
                    Err(e) if is_status(&e, 409) => {
                        self.config_maps()
                            .replace(&name, &PostParams::default(), cm)
                            .await
                            .map_err(self.api_err(&format!("updating configmap {name}")))?;
                    }
                    Err(e) => return Err(self.api_err(&format!("creating configmap {name}"))(e)),
                }
            }
            progress(&format!("creating {}", self.what()));
            let pp = PostParams::default();
            let created = match (&self.objects.deployment, &self.objects.stateful_set) {
                (_, Some(s)) => self.stateful_sets().create(&pp, s).await.map(|_| ()),
                (Some(d), None) => self.deployments().create(&pp, d).await.map(|_| ()),
                (None, None) => Ok(()),
            };
            match created {
                Ok(()) => {}
                // created meanwhile by someone else: wait for it like ours
                Err(e) if is_status(&e, 409) => {}
                Err(e) => return Err(self.api_err(&format!("creating {}", self.what()))(e)),
            }
        }
        let want = self.opts.replicas;
        progress(&format!(
            "waiting for {want} pods to be ready, timeout: {}",
            human_duration(self.opts.timeout)
        ));
        let start = Instant::now();
        loop {
            let ready = self.ready_replicas().await?.unwrap_or(0);
            if ready >= want {
                return Ok(());
            }
            if start.elapsed() >= self.opts.timeout {
                let why = self.not_ready_report().await;
                return Err(config_err(format!(
                    "timed out after {} waiting for {} to have {want} ready pods ({ready} ready){why}",
                    human_duration(self.opts.timeout),
                    self.what(),
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// For a timeout message: each pod of the workload that is not ready,
    /// with its phase, the waiting/terminated reason of its containers or
    /// its failing conditions, and its latest Warning events.
    async fn not_ready_report(&self) -> String {
        let list = match self
            .pods()
            .list(&ListParams::default().labels(&self.opts.label_selector()))
            .await
        {
            Ok(l) => l.items,
            Err(e) => return format!("; the pods could not be listed: {}", api_text(&e)),
        };
        if list.is_empty() {
            return format!(
                "; no pod of {} exists: check its events (kubectl -n {} describe {} {})",
                self.what(),
                self.namespace,
                self.kind(),
                self.opts.name
            );
        }
        let mut out = String::new();
        for pod in &list {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let status = pod.status.clone().unwrap_or_default();
            let ready = status
                .conditions
                .as_ref()
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            if ready {
                continue;
            }
            let phase = status.phase.clone().unwrap_or_else(|| "Unknown".into());
            let mut reasons: Vec<String> = Vec::new();
            let containers = status
                .init_container_statuses
                .iter()
                .flatten()
                .chain(status.container_statuses.iter().flatten());
            for c in containers {
                let st = c.state.clone().unwrap_or_default();
                if let Some(w) = st.waiting {
                    reasons.push(reason_text(&c.name, "waiting", w.reason, w.message));
                } else if let Some(t) = st.terminated {
                    reasons.push(reason_text(&c.name, "terminated", t.reason, t.message));
                } else if !c.ready {
                    reasons.push(format!("container {} not ready", c.name));
                }
            }
            if reasons.is_empty() {
                for c in status.conditions.iter().flatten() {
                    if c.status != "True" && (c.reason.is_some() || c.message.is_some()) {
                        reasons.push(reason_text(
                            &c.type_,
                            "condition false",
                            c.reason.clone(),
                            c.message.clone(),
                        ));
                    }
                }
            }
            out.push_str(&format!("\n  pod {name} ({phase})"));
            if !reasons.is_empty() {
                out.push_str(": ");
                out.push_str(&reasons.join("; "));
            }
            for ev in self.warning_events(&name).await {
                out.push_str(&format!("\n    event: {ev}"));
            }
        }
        out
    }

    /// The last three Warning events about pod `name`.
    async fn warning_events(&self, name: &str) -> Vec<String> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), &self.namespace);
        let lp = ListParams::default().fields(&format!("involvedObject.name={name}"));
        let Ok(list) = events.list(&lp).await else {
            return Vec::new();
        };
        let mut out: Vec<String> = list
            .items
            .iter()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
            .map(|e| {
                format!(
                    "{}: {}",
                    e.reason.clone().unwrap_or_default(),
                    e.message.clone().unwrap_or_default()
                )
            })
            .collect();
        out.dedup();
        let skip = out.len().saturating_sub(3);
        out.split_off(skip)
    }

    /// Deletes the workload and the ConfigMaps (`builder rm`); what is
    /// already gone is fine. Volume claims of a StatefulSet stay, as with
    /// buildx.
    pub async fn remove(&self) -> Result<(), DriverError> {
        let dp = DeleteParams::default();
        let name = &self.opts.name;
        let gone = if self.objects.stateful_set.is_some() {
            self.stateful_sets().delete(name, &dp).await.map(|_| ())
        } else {
            self.deployments().delete(name, &dp).await.map(|_| ())
        };
        match gone {
            Ok(()) => {}
            Err(e) if is_status(&e, 404) => {}
            Err(e) => return Err(self.api_err(&format!("deleting {}", self.what()))(e)),
        }
        for cm in &self.objects.config_maps {
            let cm_name = cm.metadata.name.clone().unwrap_or_default();
            match self.config_maps().delete(&cm_name, &dp).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) => {}
                Err(e) => return Err(self.api_err(&format!("deleting configmap {cm_name}"))(e)),
            }
        }
        Ok(())
    }

    /// The pod a new connection goes to.
    pub async fn choose_pod(&self) -> Result<String, DriverError> {
        let pods = self.running_pods().await?;
        let chosen = match self.opts.load_balance {
            LoadBalance::Sticky => exec::sticky_choice(&pods, &self.sticky_key),
            LoadBalance::Random => exec::random_choice(&pods),
        };
        chosen.cloned().ok_or_else(|| DriverError::Unreachable {
            endpoint: self.endpoint(),
            detail: format!(
                "no running buildkit pods found for {}; bootstrap the builder first (builder inspect --bootstrap)",
                self.what()
            ),
        })
    }

    /// `buildctl dial-stdio` in `pod`, retried on transient failures.
    pub async fn dial_pod(&self, pod: &str) -> Result<BoxStream, DriverError> {
        let endpoint = self.endpoint();
        let mut on_retry = |attempt: u32, e: &kube::Error, delay: Duration| {
            tracing::warn!(
                "transient error executing buildctl dial-stdio in pod {pod} (attempt {attempt}/{}): {}; retrying in {delay:?}",
                self.backoff.attempts,
                api_text(e)
            );
        };
        let stream = exec::dial_stdio(
            &self.pods(),
            pod,
            manifest::CONTAINER,
            self.backoff,
            &mut on_retry,
        )
        .await
        .map_err(|e| DriverError::Unreachable {
            endpoint,
            detail: format!(
                "exec of buildctl dial-stdio in pod {}/{pod} failed: {}",
                self.namespace,
                api_text(&e)
            ),
        })?;
        Ok(Box::new(stream))
    }

    async fn dial(&self) -> Result<BoxStream, DriverError> {
        let pod = self.choose_pod().await?;
        self.dial_pod(&pod).await
    }
}

fn reason_text(who: &str, state: &str, reason: Option<String>, message: Option<String>) -> String {
    let mut s = format!("{who} {state}");
    if let Some(r) = reason.filter(|r| !r.is_empty()) {
        s.push_str(&format!(": {r}"));
    }
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        s.push_str(&format!(" ({m})"));
    }
    s
}

/// go-units' `HumanDuration`, as buildx prints the bootstrap timeout.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s / 60 == 1 => "About a minute".into(),
        s if s / 60 < 60 => format!("{} minutes", s / 60),
        s if (s as f64 / 3600.0).round() as u64 == 1 => "About an hour".into(),
        s => format!("{} hours", (s as f64 / 3600.0).round() as u64),
    }
}

impl Driver for KubernetesDriver {
    fn features(&self) -> Features {
        Features {
            default_load: self.opts.default_load,
            ..Features::of(DriverKind::Kubernetes)
        }
    }

    fn endpoint(&self) -> String {
        format!("{} ({} at {})", self.opts.name, self.kind(), self.server)
    }

    /// No workload → inactive, no ready replica → stopped (buildx's words).
    fn state(&self) -> BoxFuture<'_, Result<DaemonState, DriverError>> {
        Box::pin(async move {
            Ok(match KubernetesDriver::state(self).await? {
                WorkloadState::Missing => DaemonState::Inactive,
                WorkloadState::NotReady => DaemonState::Stopped,
                WorkloadState::Running { .. } => DaemonState::Running,
            })
        })
    }

    fn bootstrap<'a>(&'a self, progress: Progress<'a>) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(KubernetesDriver::bootstrap(self, progress))
    }

    /// The workload and its ConfigMaps; volume claims stay whatever
    /// `keep_state` says, as in buildx.
    fn remove(&self, _keep_state: bool) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(KubernetesDriver::remove(self))
    }

    /// The running pods: buildx lists them as the builder's nodes.
    fn instances(&self) -> BoxFuture<'_, Result<Option<Vec<String>>, DriverError>> {
        Box::pin(async move { self.running_pods().await.map(Some) })
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream, DriverError>> {
        Box::pin(self.dial())
    }
}

/// The kubernetes driver's factory: the workload's options are
/// [`Options`] (buildx's driver-opts); a node's endpoint names the
/// deployment and the kubeconfig; pods run BuildKit in their own network.
#[derive(Debug)]
pub struct Factory;

impl super::factory::Factory for Factory {
    fn kind(&self) -> DriverKind {
        DriverKind::Kubernetes
    }

    fn validate(&self, cfg: &super::InitConfig) -> Result<(), String> {
        Options::from_driver_opts(
            &cfg.name,
            &cfg.driver_opts,
            &cfg.buildkitd_flags,
            cfg.files.as_ref(),
            &[],
        )
        .map(|_| ())
    }

    fn new_driver<'a>(
        &'a self,
        cfg: &'a super::InitConfig,
    ) -> BoxFuture<'a, Result<std::sync::Arc<dyn Driver>, DriverError>> {
        Box::pin(async move {
            let d = KubernetesDriver::new(
                &cfg.endpoint,
                &cfg.name,
                &cfg.driver_opts,
                &cfg.buildkitd_flags,
                cfg.files.as_ref(),
                &cfg.platforms,
            )
            .await?;
            // Sticky pod choice hashes the absolute context path.
            let d = match cfg
                .context_path
                .as_deref()
                .and_then(|c| std::path::absolute(c).ok())
            {
                Some(abs) => d.with_sticky_key(&abs.display().to_string()),
                None => d,
            };
            Ok(std::sync::Arc::new(d) as std::sync::Arc<dyn Driver>)
        })
    }

    fn endpoint_rule(&self) -> super::factory::EndpointRule {
        super::factory::EndpointRule::Own
    }

    /// `kubernetes:///<builder>?deployment=<node>&kubeconfig=<$KUBECONFIG>`.
    fn own_endpoint(&self, builder: &str, node: &str) -> String {
        let kubeconfig = std::env::var("KUBECONFIG").unwrap_or_default();
        format!(
            "kubernetes:///{builder}?deployment={}&kubeconfig={}",
            query_escape(node),
            query_escape(&kubeconfig)
        )
    }

    /// buildx's node name: `buildkit-<uuid>-<5 hex>`, unique in the group.
    fn new_node_name(&self, taken: &[&str]) -> Option<String> {
        loop {
            let b: [u8; 16] = rand::random();
            let uuid = format!(
                "{}-{}-{}-{}-{}",
                hex::encode(&b[0..4]),
                hex::encode(&b[4..6]),
                hex::encode(&b[6..8]),
                hex::encode(&b[8..10]),
                hex::encode(&b[10..16])
            );
            let suffix: [u8; 3] = rand::random();
            let mut suffix = hex::encode(suffix);
            suffix.truncate(5);
            let name = format!("buildkit-{uuid}-{suffix}");
            if !taken.contains(&name.as_str()) {
                return Some(name);
            }
        }
    }

    fn isolated_network(&self) -> bool {
        true
    }
}

/// Go's `url.QueryEscape` for the few characters a path or name holds.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_like_go_units() {
        assert_eq!(human_duration(Duration::from_secs(120)), "2 minutes");
        assert_eq!(human_duration(Duration::from_secs(2)), "2 seconds");
        assert_eq!(human_duration(Duration::from_secs(90)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(3600)), "About an hour");
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
    }
}
