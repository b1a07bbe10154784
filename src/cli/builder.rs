//! `buildkit-lsp builder ls|create|use|rm|inspect|stop`: the builders in the
//! buildx store, managed the way `docker buildx` does it (same store, same
//! messages). Status, version, bootstrap, stop and daemon removal come from
//! the drivers through `builder::status`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;

use crate::builder::manage::{self, CreateOptions};
use crate::builder::status::{self, driver_kind, NodeStatus};
use crate::builder::{self, selection, BuilderError, Env, NodeGroup, Store, Txn};
use crate::driver::features::{DriverKind, Feature, Features};

#[derive(Debug, clap::Args)]
pub struct BuilderArgs {
    /// Builder to act on when NAME is not given (else `BUILDX_BUILDER`, else
    /// the current builder).
    #[arg(long, global = true, value_name = "NAME")]
    pub builder: Option<String>,
    #[command(subcommand)]
    pub command: BuilderCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BuilderCommand {
    /// List builders: name, driver, endpoint, status, BuildKit version, platforms.
    Ls {
        /// `table` (default) or `json` (one JSON object per line).
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Create a builder (or change one with --append / --node / --leave).
    Create(CreateArgs),
    /// Make a builder the current one for this docker endpoint.
    Use {
        /// Keep this builder when the docker context changes.
        #[arg(long)]
        global: bool,
        /// Make it the default for the current docker context.
        #[arg(long)]
        default: bool,
        name: String,
    },
    /// Remove a builder from the store (and its daemon, through its driver).
    Rm {
        /// Keep BuildKit's state (cache) volume.
        #[arg(long)]
        keep_state: bool,
        /// Keep the BuildKit daemon running; only forget the builder.
        #[arg(long)]
        keep_daemon: bool,
        name: Option<String>,
    },
    /// Show a builder's configuration and status.
    Inspect {
        /// Start the builder first.
        #[arg(long)]
        bootstrap: bool,
        name: Option<String>,
    },
    /// Stop a builder's daemons.
    Stop { name: Option<String> },
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Builder name (random if not given).
    #[arg(long)]
    pub name: Option<String>,
    /// docker-container, kubernetes or remote (docker-container if not given).
    #[arg(long)]
    pub driver: Option<String>,
    /// Node to create or change.
    #[arg(long)]
    pub node: Option<String>,
    /// Driver option `key=value` (repeatable, comma-separated allowed).
    #[arg(long = "driver-opt", value_name = "KEY=VALUE")]
    pub driver_opts: Vec<String>,
    /// Flags for buildkitd, as one shell-quoted string.
    #[arg(long = "buildkitd-flags", allow_hyphen_values = true)]
    pub buildkitd_flags: Option<String>,
    /// BuildKit daemon config file (buildkitd.toml).
    #[arg(long = "config", visible_alias = "buildkitd-config")]
    pub config: Option<PathBuf>,
    /// Fixed platforms for the node (repeatable, comma-separated allowed).
    #[arg(long = "platform")]
    pub platforms: Vec<String>,
    /// Make it the current builder.
    #[arg(long = "use")]
    pub use_builder: bool,
    /// Start the builder after creating it.
    #[arg(long)]
    pub bootstrap: bool,
    /// Add a node to an existing builder.
    #[arg(long)]
    pub append: bool,
    /// Remove a node (--node) from a builder (--name).
    #[arg(long)]
    pub leave: bool,
    /// Docker context, docker host, or BuildKit address (remote driver).
    pub endpoint: Option<String>,
}

pub fn run(args: BuilderArgs) -> ExitCode {
    let env = Env::from_process();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("ERROR: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(args, &env)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ERROR: {err:#}");
            let io = err.chain().any(|e| {
                matches!(
                    e.downcast_ref::<BuilderError>(),
                    Some(BuilderError::Io { .. } | BuilderError::Lock { .. })
                )
            });
            ExitCode::from(if io { 2 } else { 1 })
        }
    }
}

/// A bootstrap step as buildx prints it while booting a builder.
fn print_bootstrap_step(node: &str, step: &str) {
    eprintln!("#1 [{node}] {step}");
}

fn print_warnings(txn: &Txn<'_>) {
    for w in &txn.warnings {
        eprintln!("WARNING: {w}");
    }
}

/// The builder a command without NAME acts on: `--builder`, then
/// `BUILDX_BUILDER`, then the current one.
fn target(
    txn: &mut Txn<'_>,
    env: &Env,
    flag: Option<&str>,
    name: Option<&str>,
) -> Result<NodeGroup, BuilderError> {
    match name {
        Some(name) => selection::node_group(txn, env, name),
        None => Ok(builder::select(txn, env, flag)?.group),
    }
}

async fn dispatch(args: BuilderArgs, env: &Env) -> anyhow::Result<()> {
    let store = builder::open_store(env)?;
    let flag = args.builder.as_deref();
    match args.command {
        BuilderCommand::Ls { format } => ls(&store, env, &format).await,
        BuilderCommand::Create(c) => create(&store, env, c).await,
        BuilderCommand::Use {
            global,
            default,
            name,
        } => {
            let mut txn = store.txn()?;
            manage::use_builder(&mut txn, env, &name, global, default)?;
            print_warnings(&txn);
            Ok(())
        }
        BuilderCommand::Rm {
            keep_state,
            keep_daemon,
            name,
        } => {
            // One transaction from lookup to removal, daemon teardown
            // included, as buildx holds its lock through `rm`.
            let mut txn = store.txn()?;
            let ng = target(&mut txn, env, flag, name.as_deref())?;
            if ng.docker_context {
                // refused by the store with buildx's message
                manage::remove(&mut txn, env, &ng.name)?;
            }
            if !keep_daemon {
                status::teardown(&ng, keep_state).await.map_err(|e| {
                    anyhow::anyhow!("{e}; run with --keep-daemon to only remove it from the store")
                })?;
            }
            manage::remove(&mut txn, env, &ng.name)?;
            print_warnings(&txn);
            eprintln!("{} removed", ng.name);
            Ok(())
        }
        BuilderCommand::Inspect { bootstrap, name } => {
            let ng = {
                let mut txn = store.txn()?;
                let ng = target(&mut txn, env, flag, name.as_deref())?;
                print_warnings(&txn);
                ng
            };
            if bootstrap {
                status::bootstrap(&ng, &mut print_bootstrap_step).await?;
            }
            let statuses = status::status(&ng).await;
            print!("{}", inspect_text(&ng, &statuses));
            Ok(())
        }
        BuilderCommand::Stop { name } => {
            let ng = {
                let mut txn = store.txn()?;
                target(&mut txn, env, flag, name.as_deref())?
            };
            status::stop(&ng).await?;
            Ok(())
        }
    }
}

async fn create(store: &Store, env: &Env, c: CreateArgs) -> anyhow::Result<()> {
    let ng = {
        let mut txn = store.txn()?;
        if c.leave {
            let ng = manage::leave(&mut txn, c.name.as_deref(), c.node.as_deref())?;
            print_warnings(&txn);
            println!("{}", ng.name);
            return Ok(());
        }
        let opts = CreateOptions {
            name: c.name,
            driver: c.driver,
            node: c.node,
            platforms: c.platforms,
            driver_opts: c.driver_opts,
            buildkitd_flags: c.buildkitd_flags,
            config: c.config,
            use_builder: c.use_builder,
            append: c.append,
            endpoint: c.endpoint,
        };
        if c.bootstrap {
            // Refuse before storing anything rather than leave a builder
            // the user asked to start but that cannot be started.
            let kind = opts
                .driver
                .clone()
                .or_else(|| {
                    opts.name
                        .as_deref()
                        .and_then(|n| txn.node_group_by_name(n).ok().flatten())
                        .map(|ng| ng.driver)
                })
                .unwrap_or_else(|| "docker-container".into());
            if !status::can_bootstrap(&kind) {
                anyhow::bail!(
                    "--bootstrap: the {kind} driver cannot bootstrap builders yet in this build of buildkit-lsp; create without --bootstrap (the builder starts on first use once its driver is available)"
                );
            }
        }
        let ng = manage::create(&mut txn, env, &opts)?;
        print_warnings(&txn);
        ng
        // the lock is released here, before any bootstrap (as buildx does)
    };
    if c.bootstrap {
        status::bootstrap(&ng, &mut print_bootstrap_step).await?;
    }
    println!("{}", ng.name);
    Ok(())
}

/// One row of `ls`: a builder and its nodes' statuses.
struct Row {
    group: NodeGroup,
    statuses: Vec<NodeStatus>,
    current: bool,
    /// Kubernetes nodes: the running pods of each stored node, listed in
    /// its place as buildx lists its dynamic nodes (empty: show the node).
    pods: Vec<Vec<String>>,
}

impl Row {
    /// The rows to print: (node name, stored node, its status), one per
    /// running pod for kubernetes nodes, else one per stored node.
    fn node_rows(&self) -> Vec<(String, &builder::Node, Option<&NodeStatus>)> {
        let mut out = Vec::new();
        for (i, node) in self.group.nodes.iter().enumerate() {
            let st = self.statuses.get(i);
            match self.pods.get(i) {
                Some(pods) if !pods.is_empty() => {
                    out.extend(pods.iter().map(|pod| (pod.clone(), node, st)));
                }
                _ => out.push((node.name.clone(), node, st)),
            }
        }
        out
    }
}

async fn ls(store: &Store, env: &Env, format: &str) -> anyhow::Result<()> {
    let (groups, current) = {
        let mut txn = store.txn()?;
        let groups = selection::all_builders(&mut txn, env)?;
        let current = match selection::current_builder(&mut txn, env) {
            Ok(g) => Some(g.name),
            Err(err) => {
                // still list the builders; only the `*` is unknown
                eprintln!("WARNING: cannot tell the current builder: {err}");
                None
            }
        };
        print_warnings(&txn);
        (groups, current)
    };
    let mut rows = Vec::new();
    for group in groups {
        let statuses = status::status(&group).await;
        let pods = status::instances(&group)
            .await
            .into_iter()
            .map(|(_, pods)| pods.unwrap_or_default())
            .collect();
        rows.push(Row {
            current: current.as_deref() == Some(group.name.as_str()),
            group,
            statuses,
            pods,
        });
    }
    let out = match format {
        "json" => ls_json(&rows),
        "table" => ls_table(&rows),
        other => anyhow::bail!("unknown format {other:?}: use table or json"),
    };
    std::io::stdout()
        .write_all(out.as_bytes())
        .context("writing to stdout")?;
    Ok(())
}

/// Pinned platforms first with `*`, then those the driver reports (buildx's
/// `FormatInGroups`).
fn platforms(node: &builder::Node, status: Option<&NodeStatus>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in node.platforms.iter().flatten() {
        let f = p.format();
        if !out.iter().any(|o| o.trim_end_matches('*') == f) {
            out.push(format!("{f}*"));
        }
    }
    if let Some(NodeStatus::Running { platforms, .. }) = status {
        for p in platforms {
            let f = p.format();
            if !out.iter().any(|o| o.trim_end_matches('*') == f) {
                out.push(f);
            }
        }
    }
    out
}

fn version(status: Option<&NodeStatus>) -> String {
    match status {
        Some(NodeStatus::Running { version, .. }) => version.clone(),
        _ => String::new(),
    }
}

fn ls_table(rows: &[Row]) -> String {
    const INDENT: &str = " \\_ ";
    let mut lines: Vec<[String; 5]> = vec![[
        "NAME/NODE".into(),
        "DRIVER/ENDPOINT".into(),
        "STATUS".into(),
        "BUILDKIT".into(),
        "PLATFORMS".into(),
    ]];
    for row in rows {
        let g = &row.group;
        let mut name = g.name.clone();
        if row.current {
            name.push('*');
        }
        lines.push([
            name,
            driver_kind(g).to_string(),
            String::new(),
            String::new(),
            String::new(),
        ]);
        for (name, node, st) in row.node_rows() {
            lines.push([
                format!("{INDENT}{name}"),
                format!("{INDENT}{}", node.endpoint),
                st.map(NodeStatus::label).unwrap_or_default(),
                version(st),
                platforms(node, st).join(", "),
            ]);
        }
    }
    // tabwriter layout as docker's formatter: min width 10, padding 3
    let mut widths = [0usize; 4];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line.iter()) {
            *w = (*w).max(cell.chars().count() + 3).max(10);
        }
    }
    let mut out = String::new();
    for line in &lines {
        let mut s = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i < 4 {
                s.push_str(cell);
                s.extend(std::iter::repeat_n(' ', widths[i] - cell.chars().count()));
            } else {
                s.push_str(cell);
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    }
    out
}

fn ls_json(rows: &[Row]) -> String {
    let mut out = String::new();
    for row in rows {
        let g = &row.group;
        let nodes: Vec<serde_json::Value> = row
            .node_rows()
            .into_iter()
            .map(|(name, n, st)| {
                json!({
                    "Name": name,
                    "Endpoint": n.endpoint,
                    "Status": st.map(NodeStatus::label).unwrap_or_default(),
                    "Version": version(st),
                    "Platforms": platforms(n, st),
                    "DriverOpts": n.driver_opts,
                    "Flags": n.buildkitd_flags,
                })
            })
            .collect();
        let v = json!({
            "Name": g.name,
            "Driver": driver_kind(g),
            "LastActivity": g.last_activity,
            "Dynamic": g.dynamic,
            "Current": row.current,
            "Nodes": nodes,
        });
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

fn inspect_text(ng: &NodeGroup, statuses: &[NodeStatus]) -> String {
    let mut rows: Vec<(String, String)> = vec![
        ("Name:".into(), ng.name.clone()),
        ("Driver:".into(), driver_kind(ng).to_string()),
    ];
    if let Some(la) = &ng.last_activity {
        rows.push(("Last Activity:".into(), la.clone()));
    }
    let mut out = align(&rows);
    out.push_str("\nNodes:\n");
    for (i, node) in ng.nodes.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let st = statuses.get(i);
        let mut rows: Vec<(String, String)> = vec![
            ("Name:".into(), node.name.clone()),
            ("Endpoint:".into(), node.endpoint.clone()),
        ];
        if let Some(opts) = node.driver_opts.as_ref().filter(|o| !o.is_empty()) {
            let list: Vec<String> = opts.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            rows.push(("Driver Options:".into(), list.join(" ")));
        }
        match st {
            Some(NodeStatus::Error(e)) => rows.push(("Error:".into(), e.clone())),
            Some(s) => rows.push(("Status:".into(), s.label())),
            None => {}
        }
        if let Some(flags) = node.buildkitd_flags.as_ref().filter(|f| !f.is_empty()) {
            rows.push(("BuildKit daemon flags:".into(), flags.join(" ")));
        }
        let v = version(st);
        if !v.is_empty() {
            rows.push(("BuildKit version:".into(), v));
        }
        let p = platforms(node, st);
        if !p.is_empty() {
            rows.push(("Platforms:".into(), p.join(", ")));
        }
        out.push_str(&align(&rows));
        for (file, data) in node.files.iter().flatten() {
            out.push_str(&format!("File#{file}:\n"));
            for line in String::from_utf8_lossy(data).lines() {
                out.push_str(&format!(" > {line}\n"));
            }
        }
    }
    out.push_str(&features_text(driver_kind(ng)));
    out
}

fn align(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}{v}\n"))
        .collect()
}

/// The capability table's column for this driver kind (crate::driver::features).
/// For docker it is the classic image store's column: telling whether the
/// engine uses the containerd store needs the running driver.
fn features_text(kind: &str) -> String {
    let Some(kind) = DriverKind::from_name(kind) else {
        return String::new();
    };
    let features = Features::of(kind);
    let mut out = String::from("\nFeatures");
    let best = Features::best_of(kind);
    if Feature::ALL
        .iter()
        .any(|f| features.support(*f) != best.support(*f))
    {
        // the column depends on the engine's image store
        out.push_str(" (engine without the containerd image store)");
    }
    out.push_str(":\n");
    let width = Feature::ALL
        .iter()
        .map(|f| f.title().len())
        .max()
        .unwrap_or(0)
        + 2;
    for feature in Feature::ALL {
        let title = format!("{}:", feature.title());
        out.push_str(&format!(
            " {title:<width$}{}\n",
            features.support(feature).label()
        ));
    }
    out
}
