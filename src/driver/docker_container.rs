//! The `docker-container` driver: BuildKit in a container that we create on
//! a Docker Engine, as buildx does it. The container is
//! `buildx_buildkit_<node>` from `moby/buildkit:buildx-stable-1` (or the
//! `image` driver option), its state lives in the volume
//! `buildx_buildkit_<node>_state` at `/var/lib/buildkit`, a `buildkitd.toml`
//! goes to `/etc/buildkit/` with `--config` added to the daemon's flags.
//!
//! The connection to BuildKit is an exec of `buildctl dial-stdio` in the
//! container: gRPC runs over the exec's stdin and (demultiplexed) stdout;
//! the session travels inside it (`Control.Session`).
//!
//! The container is privileged by default, like buildx's. Hosts that forbid
//! privileged containers (Docker answers `unable to apply caps`) can use
//! `privileged=false`, optionally with `cap-add=CAP_A:CAP_B`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, LogsOptions, RemoveContainerOptions,
    RemoveVolumeOptions, StopContainerOptions, UploadToContainerOptions,
};
use futures::future::BoxFuture;
use futures::StreamExt;

use super::{BoxStream, DaemonState, Driver, DriverError, DriverKind, Features, Progress};
use crate::options::{parse_bool, parse_int, ram_in_bytes};

const DRIVER: &str = "docker-container";

/// buildx's default BuildKit image for this driver.
pub const DEFAULT_IMAGE: &str = "moby/buildkit:buildx-stable-1";

/// Where buildkitd reads its configuration in the container.
pub const CONFIG_PATH: &str = "/etc/buildkit/buildkitd.toml";

/// How long bootstrap waits for `buildctl debug workers` to succeed.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The container options, from the node's driver options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerOptions {
    pub image: String,
    /// `KEY=value` from `env.KEY=value`.
    pub env: Vec<String>,
    pub network: Option<String>,
    pub cgroup_parent: Option<String>,
    pub restart_policy: (String, i64),
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub default_load: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
}

impl ContainerOptions {
    /// Reads the driver options with buildx's names, defaults, checks and
    /// words (`driver/docker-container/factory.go`); the error is the bare
    /// message, for `create` to wrap as buildx does.
    pub fn from_opts(opts: &BTreeMap<String, String>) -> Result<ContainerOptions, String> {
        let mut o = ContainerOptions {
            image: DEFAULT_IMAGE.to_string(),
            env: Vec::new(),
            network: None,
            cgroup_parent: None,
            restart_policy: ("unless-stopped".to_string(), 0),
            memory: None,
            memory_swap: None,
            cpu_period: None,
            cpu_quota: None,
            cpu_shares: None,
            cpuset_cpus: None,
            cpuset_mems: None,
            default_load: false,
            privileged: true,
            cap_add: Vec::new(),
        };
        for (k, v) in opts {
            match k.as_str() {
                "image" => o.image = v.clone(),
                "network" => o.network = Some(v.clone()),
                "cgroup-parent" => o.cgroup_parent = Some(v.clone()),
                "restart-policy" => o.restart_policy = restart_policy(v)?,
                "memory" => o.memory = Some(ram_in_bytes(v)?),
                // Docker's `MemSwapBytes`: -1 is unlimited swap.
                "memory-swap" if v == "-1" => o.memory_swap = Some(-1),
                "memory-swap" => o.memory_swap = Some(ram_in_bytes(v)?),
                "cpu-period" => o.cpu_period = Some(parse_int(v)?),
                "cpu-quota" => o.cpu_quota = Some(parse_int(v)?),
                "cpu-shares" => o.cpu_shares = Some(parse_int(v)?),
                "cpuset-cpus" => o.cpuset_cpus = Some(v.clone()),
                "cpuset-mems" => o.cpuset_mems = Some(v.clone()),
                "default-load" => o.default_load = parse_bool(v)?,
                // privileged, cap-add: ours, for hosts that forbid
                // privileged containers
                "privileged" => o.privileged = parse_bool(v)?,
                "cap-add" => {
                    o.cap_add = v
                        .split(':')
                        .filter(|c| !c.is_empty())
                        .map(str::to_string)
                        .collect()
                }
                // buildx's own options that change nothing here
                "provenance-add-gha" | "allow-untrusted-image" => {
                    parse_bool(v)?;
                }
                _ => match k.strip_prefix("env.") {
                    Some(name) if !name.is_empty() => o.env.push(format!("{name}={v}")),
                    Some(_) => {
                        return Err(format!("invalid env option {k:?}, expecting env.FOO=bar"))
                    }
                    None => {
                        return Err(format!(
                            "invalid driver option {k} for docker-container driver"
                        ))
                    }
                },
            }
        }
        Ok(o)
    }
}

/// Docker's restart policy syntax: `no`, `always`, `unless-stopped`,
/// `on-failure[:N]`; empty is the engine's default (`no`).
fn restart_policy(v: &str) -> Result<(String, i64), String> {
    let (name, count) = match v.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (v, None),
    };
    match (name, count) {
        ("", None) => Ok(("no".to_string(), 0)),
        ("no" | "always" | "unless-stopped" | "on-failure", None) => Ok((name.to_string(), 0)),
        ("on-failure", Some(c)) => match c.parse::<u32>() {
            Ok(n) => Ok((name.to_string(), i64::from(n))),
            Err(_) => Err(format!(
                "invalid restart policy format: maximum retry count must be an integer: {c}"
            )),
        },
        (_, Some(_)) => Err(format!("invalid restart policy format: {v}")),
        _ => Err(format!("invalid restart policy: {v}")),
    }
}

/// Whether the container exists and runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Missing,
    Stopped,
    Running,
}

/// The docker-container driver for one node.
#[derive(Clone)]
pub struct DockerContainerDriver {
    engine: bollard::Docker,
    engine_endpoint: String,
    node: String,
    opts: ContainerOptions,
    flags: Vec<String>,
    config: Option<Vec<u8>>,
}

impl std::fmt::Debug for DockerContainerDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerContainerDriver")
            .field("engine", &self.engine_endpoint)
            .field("node", &self.node)
            .field("opts", &self.opts)
            .finish()
    }
}

impl DockerContainerDriver {
    /// A driver for node `node` on `engine`; `flags` are the buildkitd
    /// flags, `files` the node's files (`buildkitd.toml`).
    pub fn new(
        engine: bollard::Docker,
        engine_endpoint: &str,
        node: &str,
        opts: &BTreeMap<String, String>,
        flags: &[String],
        files: Option<&BTreeMap<String, Vec<u8>>>,
    ) -> Result<DockerContainerDriver, DriverError> {
        Ok(DockerContainerDriver {
            engine,
            engine_endpoint: engine_endpoint.to_string(),
            node: node.to_string(),
            opts: ContainerOptions::from_opts(opts).map_err(|detail| DriverError::Config {
                driver: DRIVER,
                detail,
            })?,
            flags: flags.to_vec(),
            config: files.and_then(|f| f.get("buildkitd.toml").cloned()),
        })
    }

    /// `buildx_buildkit_<node>`.
    pub fn container_name(&self) -> String {
        format!("buildx_buildkit_{}", self.node)
    }

    /// `buildx_buildkit_<node>_state`.
    pub fn volume_name(&self) -> String {
        format!("buildx_buildkit_{}_state", self.node)
    }

    /// The container's options.
    pub fn options(&self) -> &ContainerOptions {
        &self.opts
    }

    fn engine_err(&self) -> impl Fn(bollard::errors::Error) -> DriverError + '_ {
        move |source| DriverError::Engine {
            endpoint: self.engine_endpoint.clone(),
            source,
        }
    }

    /// The daemon's command line: the buildkitd flags, then `--config`.
    pub fn command(&self) -> Vec<String> {
        let mut cmd = self.flags.clone();
        if self.config.is_some() {
            cmd.push("--config".into());
            cmd.push(CONFIG_PATH.into());
        }
        cmd
    }

    /// Whether the container exists and runs.
    pub async fn state(&self) -> Result<ContainerState, DriverError> {
        match self
            .engine
            .inspect_container(&self.container_name(), None)
            .await
        {
            Ok(c) => Ok(if c.state.and_then(|s| s.running).unwrap_or(false) {
                ContainerState::Running
            } else {
                ContainerState::Stopped
            }),
            Err(e) if is_not_found(&e) => Ok(ContainerState::Missing),
            Err(e) => Err((self.engine_err())(e)),
        }
    }

    /// Brings the node up as buildx does: start an existing container, or
    /// find the image (local first, else pull), create the state volume and
    /// the container, copy the config in, start it; then wait until
    /// `buildctl debug workers` succeeds. `progress` gets one line per step.
    pub async fn bootstrap(
        &self,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), DriverError> {
        let name = self.container_name();
        match self.state().await? {
            ContainerState::Running => {}
            ContainerState::Stopped => {
                progress(&format!("starting container {name}"));
                self.start(false).await?;
            }
            ContainerState::Missing => {
                self.ensure_image(progress).await?;
                progress(&format!("creating container {name}"));
                self.create().await?;
                progress(&format!("starting container {name}"));
                self.start(true).await?;
            }
        }
        progress("waiting for buildkitd");
        self.wait_ready().await
    }

    async fn ensure_image(
        &self,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), DriverError> {
        let image = &self.opts.image;
        if self.engine.inspect_image(image).await.is_ok() {
            return Ok(());
        }
        progress(&format!("pulling image {image}"));
        let opts = CreateImageOptions {
            from_image: Some(image.clone()),
            ..Default::default()
        };
        let mut pull = self.engine.create_image(Some(opts), None, None);
        while let Some(item) = pull.next().await {
            let failure = match item {
                Ok(info) => info.error_detail.and_then(|d| d.message),
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = failure {
                return Err(DriverError::Config {
                    driver: DRIVER,
                    detail: format!(
                        "image {image} is not in the engine at {} and cannot be pulled: {why}. Load it into the engine (docker load), or choose an image it has with --driver-opt image=NAME",
                        self.engine_endpoint
                    ),
                });
            }
        }
        Ok(())
    }

    async fn create(&self) -> Result<(), DriverError> {
        let name = self.container_name();
        let engine_err = self.engine_err();
        self.engine
            .create_volume(bollard::models::VolumeCreateRequest {
                name: Some(self.volume_name()),
                ..Default::default()
            })
            .await
            .map_err(&engine_err)?;
        let o = &self.opts;
        let restart = match o.restart_policy.0.as_str() {
            "no" => RestartPolicyNameEnum::NO,
            "always" => RestartPolicyNameEnum::ALWAYS,
            "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
            _ => RestartPolicyNameEnum::UNLESS_STOPPED,
        };
        let host = HostConfig {
            privileged: Some(o.privileged),
            cap_add: (!o.cap_add.is_empty()).then(|| o.cap_add.clone()),
            binds: Some(vec![format!("{}:/var/lib/buildkit", self.volume_name())]),
            network_mode: o.network.clone(),
            cgroup_parent: o.cgroup_parent.clone(),
            restart_policy: Some(RestartPolicy {
                name: Some(restart),
                maximum_retry_count: (o.restart_policy.1 > 0).then_some(o.restart_policy.1),
            }),
            memory: o.memory,
            memory_swap: o.memory_swap,
            cpu_period: o.cpu_period,
            cpu_quota: o.cpu_quota,
            cpu_shares: o.cpu_shares,
            cpuset_cpus: o.cpuset_cpus.clone(),
            cpuset_mems: o.cpuset_mems.clone(),
            init: Some(true),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(o.image.clone()),
            cmd: Some(self.command()),
            env: (!o.env.is_empty()).then(|| o.env.clone()),
            host_config: Some(host),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        self.engine
            .create_container(Some(opts), body)
            .await
            .map_err(&engine_err)?;
        if let Some(config) = &self.config {
            let tar = config_tar(config);
            let opts = UploadToContainerOptions {
                path: "/".into(),
                ..Default::default()
            };
            self.engine
                .upload_to_container(&name, Some(opts), bollard::body_full(tar.into()))
                .await
                .map_err(&engine_err)?;
        }
        Ok(())
    }

    /// Starts the container; a fresh one that cannot start is removed
    /// again, so the next bootstrap can create it with other options.
    async fn start(&self, fresh: bool) -> Result<(), DriverError> {
        let name = self.container_name();
        let Err(e) = self.engine.start_container(&name, None).await else {
            return Ok(());
        };
        if fresh {
            let _ = self
                .engine
                .remove_container(
                    &name,
                    Some(RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await;
        }
        let text = e.to_string();
        if text.contains("unable to apply caps") && self.opts.privileged {
            return Err(DriverError::Config {
                driver: DRIVER,
                detail: format!(
                    "the engine at {} cannot start the privileged container {name} ({text}). This host forbids privileged containers: recreate the builder with --driver-opt privileged=false (and --driver-opt cap-add=CAP_A:CAP_B for the capabilities your BuildKit needs)",
                    self.engine_endpoint
                ),
            });
        }
        Err((self.engine_err())(e))
    }

    /// Runs `cmd` in the container; its exit code and combined output.
    async fn exec_output(&self, cmd: &[&str]) -> Result<(i64, String), DriverError> {
        let engine_err = self.engine_err();
        let exec = self
            .engine
            .create_exec(
                &self.container_name(),
                CreateExecOptions::<String> {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(&engine_err)?;
        let mut text = String::new();
        if let StartExecResults::Attached { mut output, .. } = self
            .engine
            .start_exec(&exec.id, None::<StartExecOptions>)
            .await
            .map_err(&engine_err)?
        {
            while let Some(chunk) = output.next().await {
                match chunk {
                    Ok(c) => text.push_str(&String::from_utf8_lossy(&c.into_bytes())),
                    Err(e) => return Err(engine_err(e)),
                }
            }
        }
        let code = self
            .engine
            .inspect_exec(&exec.id)
            .await
            .map_err(&engine_err)?
            .exit_code
            .unwrap_or(-1);
        Ok((code, text))
    }

    async fn wait_ready(&self) -> Result<(), DriverError> {
        let start = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let last = match self.exec_output(&["buildctl", "debug", "workers"]).await {
                Ok((0, _)) => return Ok(()),
                Ok((code, out)) => {
                    format!("buildctl debug workers exited with {code}: {}", out.trim())
                }
                Err(e) => e.to_string(),
            };
            if start.elapsed() >= READY_TIMEOUT {
                let logs = self.logs_tail(40).await;
                return Err(DriverError::Unreachable {
                    endpoint: self.endpoint(),
                    detail: format!(
                        "buildkitd did not become ready within {} s ({last}); container logs:\n{logs}",
                        READY_TIMEOUT.as_secs()
                    ),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
    }

    /// The last `n` lines of the container's logs (for error messages).
    pub async fn logs_tail(&self, n: usize) -> String {
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            tail: n.to_string(),
            ..Default::default()
        };
        let mut out = String::new();
        let mut logs = self.engine.logs(&self.container_name(), Some(opts));
        while let Some(Ok(chunk)) = logs.next().await {
            out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        out
    }

    /// Stops the container (`builder stop`); a missing one is fine.
    pub async fn stop(&self) -> Result<(), DriverError> {
        let opts = StopContainerOptions {
            t: Some(10),
            ..Default::default()
        };
        match self
            .engine
            .stop_container(&self.container_name(), Some(opts))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) || is_not_modified(&e) => Ok(()),
            Err(e) => Err((self.engine_err())(e)),
        }
    }

    /// Removes the container and, unless `keep_state`, its state volume.
    pub async fn remove(&self, keep_state: bool) -> Result<(), DriverError> {
        let engine_err = self.engine_err();
        let opts = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        match self
            .engine
            .remove_container(&self.container_name(), Some(opts))
            .await
        {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(engine_err(e)),
        }
        if !keep_state {
            match self
                .engine
                .remove_volume(
                    &self.volume_name(),
                    Some(RemoveVolumeOptions { force: true }),
                )
                .await
            {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(engine_err(e)),
            }
        }
        Ok(())
    }

    /// Opens `buildctl dial-stdio` in the container as a byte stream.
    async fn dial(&self) -> Result<BoxStream, DriverError> {
        let engine_err = self.engine_err();
        let exec = self
            .engine
            .create_exec(
                &self.container_name(),
                CreateExecOptions::<String> {
                    cmd: Some(vec!["buildctl".into(), "dial-stdio".into()]),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(
                |e| match is_not_found(&e) || e.to_string().contains("is not running") {
                    true => DriverError::Unreachable {
                        endpoint: self.endpoint(),
                        detail: format!(
                            "{e}; bootstrap the builder first (builder inspect --bootstrap)"
                        ),
                    },
                    false => engine_err(e),
                },
            )?;
        let started = self
            .engine
            .start_exec(&exec.id, None::<StartExecOptions>)
            .await
            .map_err(&engine_err)?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(DriverError::Unreachable {
                endpoint: self.endpoint(),
                detail: "the engine started buildctl dial-stdio detached".into(),
            });
        };
        // stdout carries gRPC; stderr is kept for nothing but must not mix in.
        let stderr = Arc::new(Mutex::new(Vec::<u8>::new()));
        let err_buf = stderr.clone();
        let stdout = output.filter_map(move |item| {
            let err_buf = err_buf.clone();
            async move {
                match item {
                    Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                        Some(Ok(message))
                    }
                    Ok(LogOutput::StdErr { message }) => {
                        if let Ok(mut b) = err_buf.lock() {
                            if b.len() < 64 * 1024 {
                                b.extend_from_slice(&message);
                            }
                        }
                        None
                    }
                    Ok(LogOutput::StdIn { .. }) => None,
                    Err(e) => Some(Err(std::io::Error::other(e))),
                }
            }
        });
        let reader = tokio_util::io::StreamReader::new(Box::pin(stdout));
        Ok(Box::new(tokio::io::join(reader, input)))
    }
}

impl Driver for DockerContainerDriver {
    fn features(&self) -> Features {
        Features {
            default_load: self.opts.default_load,
            ..Features::of(DriverKind::DockerContainer)
        }
    }

    fn endpoint(&self) -> String {
        format!("docker-container://{}", self.container_name())
    }

    fn state(&self) -> BoxFuture<'_, Result<DaemonState, DriverError>> {
        Box::pin(async move {
            Ok(match DockerContainerDriver::state(self).await? {
                ContainerState::Missing => DaemonState::Inactive,
                ContainerState::Stopped => DaemonState::Stopped,
                ContainerState::Running => DaemonState::Running,
            })
        })
    }

    fn bootstrap<'a>(&'a self, progress: Progress<'a>) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(DockerContainerDriver::bootstrap(self, progress))
    }

    fn stop(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(DockerContainerDriver::stop(self))
    }

    fn remove(&self, keep_state: bool) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(DockerContainerDriver::remove(self, keep_state))
    }

    fn connect(&self) -> BoxFuture<'_, Result<BoxStream, DriverError>> {
        Box::pin(self.dial())
    }
}

/// The docker-container driver's factory: its options are
/// [`ContainerOptions`]; its container lives on the engine the node's
/// endpoint names (a docker host or context).
#[derive(Debug)]
pub struct Factory;

impl super::factory::Factory for Factory {
    fn kind(&self) -> DriverKind {
        DriverKind::DockerContainer
    }

    fn validate(&self, cfg: &super::InitConfig) -> Result<(), String> {
        ContainerOptions::from_opts(&cfg.driver_opts).map(|_| ())
    }

    fn new_driver<'a>(
        &'a self,
        cfg: &'a super::InitConfig,
    ) -> BoxFuture<'a, Result<std::sync::Arc<dyn Driver>, DriverError>> {
        Box::pin(async move {
            let engine = super::docker::DockerDriver::for_node(&cfg.endpoint).await?;
            let d = DockerContainerDriver::new(
                engine.engine().clone(),
                &engine.endpoint(),
                &cfg.name,
                &cfg.driver_opts,
                &cfg.buildkitd_flags,
                cfg.files.as_ref(),
            )?;
            Ok(std::sync::Arc::new(d) as std::sync::Arc<dyn Driver>)
        })
    }

    fn isolated_network(&self) -> bool {
        true
    }

    fn host_network(&self, driver_opts: Option<&BTreeMap<String, String>>) -> bool {
        driver_opts
            .and_then(|o| o.get("network"))
            .is_some_and(|v| v == "host")
    }
}

fn status_code(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    status_code(e) == Some(404)
}

fn is_not_modified(e: &bollard::errors::Error) -> bool {
    status_code(e) == Some(304)
}

/// A tar with `etc/buildkit/buildkitd.toml` (and its directories), to be
/// unpacked at `/` in the container.
pub fn config_tar(config: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    tar_entry(&mut out, "etc/", b'5', 0o755, &[]);
    tar_entry(&mut out, "etc/buildkit/", b'5', 0o755, &[]);
    tar_entry(&mut out, "etc/buildkit/buildkitd.toml", b'0', 0o644, config);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn tar_entry(out: &mut Vec<u8>, name: &str, kind: u8, mode: u32, data: &[u8]) {
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, bytes: &[u8]| {
        h[at..at + bytes.len()].copy_from_slice(bytes);
    };
    put(&mut h, 0, name.as_bytes());
    put(&mut h, 100, format!("{mode:07o}\0").as_bytes());
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    put(&mut h, 124, format!("{:011o}\0", data.len()).as_bytes());
    put(&mut h, 136, b"00000000000\0");
    h[156] = kind;
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    // the checksum is computed with its own field as spaces
    put(&mut h, 148, b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, pad));
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::driver::test_opts as opts;

    #[test]
    fn defaults_are_buildx_defaults() {
        let o = ContainerOptions::from_opts(&BTreeMap::new()).unwrap();
        assert_eq!(o.image, "moby/buildkit:buildx-stable-1");
        assert!(o.privileged);
        assert_eq!(o.restart_policy, ("unless-stopped".to_string(), 0));
        assert!(!o.default_load);
    }

    #[test]
    fn options_are_read() {
        let o = ContainerOptions::from_opts(&opts(&[
            ("image", "my/bk:1"),
            ("env.HTTP_PROXY", "http://p:3128"),
            ("network", "host"),
            ("memory", "1g"),
            ("memory-swap", "-1"),
            ("cpu-quota", "50000"),
            ("restart-policy", "on-failure:3"),
            ("privileged", "false"),
            ("cap-add", "SYS_ADMIN:NET_ADMIN"),
            ("default-load", "true"),
        ]))
        .unwrap();
        assert_eq!(o.image, "my/bk:1");
        assert_eq!(o.env, ["HTTP_PROXY=http://p:3128"]);
        assert_eq!(o.network.as_deref(), Some("host"));
        assert_eq!(o.memory, Some(1 << 30));
        assert_eq!(o.memory_swap, Some(-1));
        assert_eq!(o.cpu_quota, Some(50000));
        assert_eq!(o.restart_policy, ("on-failure".to_string(), 3));
        assert!(!o.privileged);
        assert_eq!(o.cap_add, ["SYS_ADMIN", "NET_ADMIN"]);
        assert!(o.default_load);
    }

    #[test]
    fn bad_options_are_named() {
        let e = ContainerOptions::from_opts(&opts(&[("bogus", "1")])).unwrap_err();
        assert_eq!(e, "invalid driver option bogus for docker-container driver");
        let e = ContainerOptions::from_opts(&opts(&[("env.", "1")])).unwrap_err();
        assert_eq!(e, "invalid env option \"env.\", expecting env.FOO=bar");
        let e = ContainerOptions::from_opts(&opts(&[("memory", "lots")])).unwrap_err();
        assert_eq!(e, "invalid size: 'lots'");
        let e = ContainerOptions::from_opts(&opts(&[("restart-policy", "sometimes")])).unwrap_err();
        assert_eq!(e, "invalid restart policy: sometimes");
        let e = ContainerOptions::from_opts(&opts(&[("default-load", "yes")])).unwrap_err();
        assert_eq!(e, "strconv.ParseBool: parsing \"yes\": invalid syntax");
    }

    #[test]
    fn default_load_takes_every_go_bool() {
        for v in ["t", "T", "1", "TRUE", "True", "true"] {
            let o = ContainerOptions::from_opts(&opts(&[("default-load", v)])).unwrap();
            assert!(o.default_load, "{v}");
        }
    }

    #[test]
    fn config_tar_has_the_file_at_etc_buildkit() {
        let t = config_tar(b"debug = true\n");
        // three headers + one data block + two end blocks
        assert_eq!(t.len(), 512 * 6);
        assert_eq!(&t[1024..1024 + 27], b"etc/buildkit/buildkitd.toml");
        // size field: 13 bytes in octal
        assert_eq!(&t[1024 + 124..1024 + 136], b"00000000015\0");
        assert_eq!(&t[1536..1536 + 13], b"debug = true\n");
        // checksum: recompute over the header with the field as spaces
        let mut h = t[1024..1536].to_vec();
        let field = String::from_utf8(h[148..154].to_vec()).unwrap();
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        assert_eq!(u32::from_str_radix(&field, 8).unwrap(), sum);
    }
}
