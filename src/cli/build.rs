//! `buildkit-lsp build`: a build through BuildKit's API with buildx's option
//! syntax. The request is checked against the driver's features before any
//! connection is made; progress goes to stderr (`plain`, `rawjson`), the
//! image id to stdout with `quiet`; Ctrl-C cancels the build on the daemon.
//! The build itself is `builder::run`, shared with the editor.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::build::attest::parse_attests;
use crate::build::ssh::parse_ssh_specs;
use crate::build::{options, BuildSpec, CacheSpec, OutputSpec, SecretSpec};
use crate::builder::insight::Key;
use crate::builder::run::RunEvent;
use crate::builder::BuilderError;
use crate::buildkit::progress::render_json;
use crate::buildkit::{render_failure, BuildkitError, PlainRenderer, ProgressMode};
use crate::insight::Explained;

/// Build an image from a Dockerfile through BuildKit's API.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Build context directory.
    pub context: PathBuf,
    /// Name of the Dockerfile (default: CONTEXT/Dockerfile).
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Name and optionally a tag (name:tag); repeatable.
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Target build stage.
    #[arg(long)]
    pub target: Option<String>,
    /// Target platform(s), comma-separated or repeated.
    #[arg(long)]
    pub platform: Vec<String>,
    /// Build-time variable KEY=VALUE (or KEY to take it from the environment).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Image label KEY=VALUE.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Secret to expose: id=ID,src=PATH or id=ID,env=VAR.
    #[arg(long)]
    pub secret: Vec<String>,
    /// Do not use the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Output destination (type=local,dest=DIR | type=tar,dest=FILE | …).
    #[arg(short = 'o', long = "output")]
    pub outputs: Vec<String>,
    /// Cache export destination (type=inline | type=registry,ref=… | …).
    #[arg(long = "cache-to")]
    pub cache_to: Vec<String>,
    /// Cache import source (type=registry,ref=… | REF).
    #[arg(long = "cache-from")]
    pub cache_from: Vec<String>,
    /// Additional build context NAME=VALUE (a directory, docker-image://REF,
    /// oci-layout://DIR[:TAG][@DIGEST], or a git/https URL); repeatable.
    #[arg(long = "build-context")]
    pub build_contexts: Vec<String>,
    /// Load the image into the docker engine.
    #[arg(long)]
    pub load: bool,
    /// Push the image to its registry.
    #[arg(long)]
    pub push: bool,
    /// SSH agent socket or keys to expose to the build: default|ID[=SOCKET|KEY[,KEY]].
    #[arg(long)]
    pub ssh: Vec<String>,
    /// Attestation parameters (format: "type=sbom,generator=image").
    #[arg(long)]
    pub attest: Vec<String>,
    /// Shorthand for "--attest=type=provenance" (true, false, or attributes like mode=max).
    #[arg(long)]
    pub provenance: Option<String>,
    /// Shorthand for "--attest=type=sbom".
    #[arg(long)]
    pub sbom: Option<String>,
    /// Network mode of RUN instructions: default, none or host.
    #[arg(long)]
    pub network: Option<String>,
    /// Progress output: plain, rawjson or quiet.
    #[arg(long, default_value = "plain")]
    pub progress: String,
    /// At the end, each step's result and why the steps that ran missed the
    /// cache, as a table (`rawjson` carries it as one `insight` event
    /// either way).
    #[arg(long)]
    pub explain: bool,
    /// Builder to use (a builder of the buildx store; `default` is the
    /// docker engine's own).
    #[arg(long, env = "BUILDX_BUILDER")]
    pub builder: Option<String>,
}

impl BuildArgs {
    /// Turns the flags into a spec (pure, no I/O beyond the environment).
    pub fn spec(&self) -> anyhow::Result<BuildSpec> {
        let mut spec = BuildSpec::new(&self.context);
        spec.dockerfile = self.file.clone();
        spec.tags = self.tags.clone();
        spec.target = self.target.clone();
        for p in &self.platform {
            spec.platforms.extend(options::parse_platforms(p)?);
        }
        let mut args = BTreeMap::new();
        for a in &self.build_args {
            if let Some((k, v)) = options::parse_build_arg(a, |k| std::env::var(k).ok())? {
                args.insert(k, v);
            }
        }
        spec.build_args = args;
        for l in &self.labels {
            let (k, v) = options::parse_label(l)?;
            spec.labels.insert(k, v);
        }
        spec.secrets = self
            .secret
            .iter()
            .map(|s| SecretSpec::parse(s))
            .collect::<Result<_, _>>()?;
        spec.no_cache = self.no_cache;
        spec.outputs = self
            .outputs
            .iter()
            .map(|o| OutputSpec::parse(o))
            .collect::<Result<_, _>>()?;
        spec.cache_to = self
            .cache_to
            .iter()
            .map(|c| CacheSpec::parse("--cache-to", c))
            .collect::<Result<_, _>>()?;
        spec.cache_from = self
            .cache_from
            .iter()
            .map(|c| CacheSpec::parse("--cache-from", c))
            .collect::<Result<_, _>>()?;
        spec.network = match self.network.as_deref() {
            None => None,
            Some(n @ ("default" | "none" | "host")) => Some(n.to_string()),
            Some(other) => {
                anyhow::bail!("invalid --network value {other:?}: expected default, none or host")
            }
        };
        for c in &self.build_contexts {
            let (name, source) = options::parse_build_context(c)?;
            spec.contexts.insert(name, source);
        }
        spec.load = self.load;
        spec.push = self.push;
        spec.ssh = parse_ssh_specs(&self.ssh);
        spec.attests = parse_attests(
            &self.attest,
            self.provenance.as_deref(),
            self.sbom.as_deref(),
        )?;
        Ok(spec)
    }
}

/// Runs `build`; exit 0 on success, 1 for a failed or refused build, 2 for
/// usage and I/O errors.
pub fn run(args: BuildArgs) -> ExitCode {
    let mode: ProgressMode = match args.progress.parse() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: --progress: {e}");
            return ExitCode::from(2);
        }
    };
    let spec = match args.spec() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Some(kind) = spec.stdout_output() {
        use std::io::IsTerminal;
        if std::io::stdout().is_terminal() {
            // buildx's wording: a tarball never goes to a terminal.
            eprintln!(
                "ERROR: dest file is required for {kind} exporter. refusing to write to console"
            );
            return ExitCode::from(1);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run_async(spec, mode, args.builder, args.explain))
}

/// Runs the build through `builder::run`, rendering its events as `mode`
/// says; Ctrl-C cancels the build on the daemon.
pub(super) async fn run_async(
    spec: BuildSpec,
    mode: ProgressMode,
    builder: Option<String>,
    explain: bool,
) -> ExitCode {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let printer = tokio::spawn(async move {
        let mut plain = PlainRenderer::new();
        let mut err = std::io::stderr();
        let mut table = None;
        while let Some(ev) = rx.recv().await {
            match ev {
                RunEvent::Warning(w) => eprintln!("WARNING: {w}"),
                RunEvent::Pushing(tag) if mode != ProgressMode::Quiet => {
                    eprintln!("pushing {tag}")
                }
                RunEvent::Progress(ev) => match mode {
                    ProgressMode::Plain => plain.write(&ev, &mut err),
                    ProgressMode::RawJson => {
                        let _ = err.write_all(render_json(&ev).as_bytes());
                    }
                    ProgressMode::Quiet => {}
                },
                RunEvent::Insight(insight) => {
                    let Some(last) = insight.last() else {
                        continue;
                    };
                    if mode == ProgressMode::RawJson {
                        let _ = err.write_all(insight_json(&insight.key, last).as_bytes());
                    } else if explain {
                        table = Some(last.table());
                    }
                }
                RunEvent::Pushing(_) | RunEvent::Started { .. } => {}
            }
        }
        table
    });
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    // `tx` goes into the run (or is dropped) so the printer ends.
    let result = match crate::builder::run::resolve(builder.as_deref()) {
        Ok(group) => crate::builder::run::run(spec, &group, tx, cancel).await,
        Err(e) => {
            drop(tx);
            Err(e)
        }
    };
    watcher.abort();
    if let Ok(Some(table)) = printer.await {
        eprint!("\n{table}");
    }
    match result {
        Ok(report) => {
            if mode != ProgressMode::Quiet {
                for line in &report.loaded {
                    eprintln!("{line}");
                }
            }
            let id = report.digest.unwrap_or_default();
            if mode == ProgressMode::Quiet {
                println!("{id}");
            } else if !id.is_empty() {
                eprintln!("image: {id}");
            }
            ExitCode::SUCCESS
        }
        Err(BuilderError::Build(BuildkitError::Solve(f))) => {
            eprint!("{}", render_failure(&f));
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            ExitCode::from(1)
        }
    }
}

/// The `rawjson` event of the build insight: one line,
/// `{"event":"insight","builder":…,"dockerfile":…,"target":…,` and the
/// explained build's fields.
fn insight_json(key: &Key, build: &Explained) -> String {
    let mut v = serde_json::to_value(build).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("event".into(), "insight".into());
        obj.insert("builder".into(), key.builder.clone().into());
        obj.insert(
            "dockerfile".into(),
            key.dockerfile.display().to_string().into(),
        );
        obj.insert("target".into(), key.target.clone().into());
    }
    let mut s = v.to_string();
    s.push('\n');
    s
}
