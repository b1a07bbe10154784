//! `buildkit-lsp bake [-f FILE]… [TARGET]…`: builds bake targets and
//! Compose services the way `docker buildx bake` names them. Without `-f`,
//! the Compose and bake files of the current folder (`build::files`: the
//! Compose services first, a bake target of the same name overriding them;
//! `.env` feeds Compose interpolation); with `-f`, the files given, YAML as
//! Compose. Without a target, the `default` group (every Compose service
//! with a `build` section). Targets build one after the other through the
//! same path as `build`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::build::bake::BakeSource;
use crate::build::{config, files};
use crate::buildkit::ProgressMode;

/// Build bake targets or Compose services (`docker buildx bake` naming).
#[derive(Debug, Args)]
pub struct BakeArgs {
    /// Targets or Compose services to build (default: the `default` group).
    pub targets: Vec<String>,
    /// A bake or Compose file; repeatable (default: the folder's files).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Load the images into the docker engine (`--set *.output=type=docker`).
    #[arg(long)]
    pub load: bool,
    /// Push the images to their registry.
    #[arg(long)]
    pub push: bool,
    /// Do not use the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Progress output: plain, rawjson or quiet.
    #[arg(long, default_value = "plain")]
    pub progress: String,
    /// Builder to use (a builder of the buildx store).
    #[arg(long, env = "BUILDX_BUILDER")]
    pub builder: Option<String>,
    /// Print the resolved specs instead of building.
    #[arg(long)]
    pub print: bool,
}

fn read(path: PathBuf) -> anyhow::Result<Option<BakeSource>> {
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(BakeSource { path, text })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
    }
}

/// The specs of the named targets, in order.
fn specs(args: &BakeArgs) -> anyhow::Result<Vec<(String, crate::build::BuildSpec)>> {
    let cwd = std::env::current_dir()?;
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let dotenv = read(files::dotenv_path(&cwd))?.map(|s| s.text);
    let bake = if args.files.is_empty() {
        let mut sources = Vec::new();
        for p in files::definition_file_paths(&cwd) {
            sources.extend(read(p)?);
        }
        if sources.is_empty() {
            anyhow::bail!("couldn't find a bake definition to use");
        }
        if let Some(text) = dotenv {
            sources.push(BakeSource {
                path: files::dotenv_path(&cwd),
                text,
            });
        }
        files::parse(&sources, Some(&env))?
    } else {
        let mut sources = Vec::new();
        for p in &args.files {
            let p = cwd.join(p);
            match read(p.clone())? {
                Some(s) => sources.push(s),
                None => anyhow::bail!("failed to read {}: no such file", p.display()),
            }
        }
        files::parse_explicit(&sources, dotenv.as_deref(), Some(&env))?
    };
    let mut names = Vec::new();
    let asked = match args.targets.is_empty() {
        true => vec!["default".to_string()],
        false => args.targets.clone(),
    };
    for t in &asked {
        for n in bake.expand(t)? {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let mut out = Vec::new();
    for n in names {
        let mut spec = config::bake_target_spec(&bake, &n)?.spec;
        spec.load |= args.load;
        spec.push |= args.push;
        spec.no_cache |= args.no_cache;
        out.push((n, spec));
    }
    Ok(out)
}

/// Runs `bake`; exit codes as `build`.
pub fn run(args: BakeArgs) -> ExitCode {
    let mode: ProgressMode = match args.progress.parse() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: --progress: {e}");
            return ExitCode::from(2);
        }
    };
    let specs = match specs(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            return ExitCode::from(2);
        }
    };
    if args.print {
        for (name, spec) in &specs {
            println!("{name}: {spec:?}");
        }
        return ExitCode::SUCCESS;
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
    for (name, spec) in specs {
        if mode != ProgressMode::Quiet {
            eprintln!("#0 building target {name}");
        }
        let code = runtime.block_on(super::build::run_async(
            spec,
            mode,
            args.builder.clone(),
            false,
        ));
        if code != ExitCode::SUCCESS {
            return code;
        }
    }
    ExitCode::SUCCESS
}
