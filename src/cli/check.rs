//! `buildkit-lsp check`: BuildKit's build checks for terminals, CI and
//! pre-commit. Finds Dockerfiles under the given paths, checks them in
//! parallel, prints `file:line:col: severity [Rule] message` (or JSON) in
//! path order, and exits 0 (clean), 1 (findings at or above `--error-on`)
//! or 2 (usage or I/O error).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use crate::dockerfile::checks::{self, CheckOptions, Experimental, Finding, Severity};
use crate::dockerfile::{parse_bytes, Dockerfile, PositionEncoding};
use crate::dockerignore::DockerIgnore;

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The least severe finding that makes `check` exit with 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Threshold {
    Warning,
    Error,
}

/// Options of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Dockerfiles, or directories to search for `Dockerfile`, `*.Dockerfile`,
    /// `Dockerfile.*` and `Containerfile` (skipping `.git`, `node_modules`,
    /// `target`).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Exit with 1 when a finding is at least this severe.
    #[arg(long, value_enum, default_value = "warning")]
    pub error_on: Threshold,
    /// Rules to skip, comma-separated (added to the files' `# check=skip=`).
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    pub skip: Vec<String>,
    /// Experimental rules to run, comma-separated, or `all`.
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    pub experimental: Vec<String>,
    /// Replaces every file's `# check=` directive, like the build argument
    /// `BUILDKIT_DOCKERFILE_CHECK` (e.g. `skip=JSONArgsRecommended;error=true`).
    #[arg(long, value_name = "CHECK")]
    pub check: Option<String>,
    /// Build context for `.dockerignore` (default: each Dockerfile's directory).
    #[arg(long, value_name = "DIR")]
    pub context: Option<PathBuf>,
    /// Worker threads (default: the number of CPUs).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
}

pub fn run(args: CheckArgs) -> ExitCode {
    match run_inner(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("buildkit-lsp check: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// What checking one file produced.
struct FileResult {
    path: PathBuf,
    /// The parsed file (for line/column conversion) and its findings.
    checked: Result<(Dockerfile, Vec<Finding>), String>,
}

fn run_inner(args: &CheckArgs) -> Result<ExitCode> {
    let mut files = Vec::new();
    for p in &args.paths {
        collect(p, &mut files).with_context(|| format!("cannot read {}", p.display()))?;
    }
    files.sort();
    files.dedup();

    let base = CheckOptions {
        skip: args.skip.clone(),
        experimental: match args.experimental.as_slice() {
            [] => Experimental::None,
            list if list.iter().any(|r| r == "all") => Experimental::All,
            list => Experimental::Rules(list.to_vec()),
        },
        check_override: args.check.clone(),
        ..CheckOptions::default()
    };
    let context_ignore = match &args.context {
        Some(dir) => read_ignore(&dir.join(".dockerignore"))?,
        None => None,
    };

    let results = check_all(&files, &base, args, context_ignore);

    let mut io_error = false;
    let mut over = false;
    let (mut errors, mut warnings) = (0usize, 0usize);
    let threshold = match args.error_on {
        Threshold::Warning => Severity::Warning,
        Threshold::Error => Severity::Error,
    };
    let mut json_out: Vec<Value> = Vec::new();
    let mut text = String::new();
    for r in &results {
        let display = r.path.display().to_string();
        match &r.checked {
            Err(e) => {
                io_error = true;
                eprintln!("buildkit-lsp check: {display}: {e}");
            }
            Ok((df, findings)) => {
                for f in findings {
                    match f.severity {
                        Severity::Error => errors += 1,
                        Severity::Warning => warnings += 1,
                        _ => {}
                    }
                    over |= f.severity <= threshold;
                    match args.format {
                        Format::Text => {
                            text.push_str(&text_line(&display, df, f));
                            text.push('\n');
                        }
                        Format::Json => json_out.push(json_finding(&display, df, f)),
                    }
                }
            }
        }
    }
    match args.format {
        Format::Text => {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            eprintln!(
                "{} file{} checked: {errors} error{}, {warnings} warning{}",
                results.len(),
                plural(results.len()),
                plural(errors),
                plural(warnings)
            );
        }
        Format::Json => {
            let _ = writeln!(std::io::stdout().lock(), "{}", Value::Array(json_out));
        }
    }
    Ok(if io_error {
        ExitCode::from(2)
    } else if over {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Checks `files` on a pool of scoped threads; results come back in order.
fn check_all(
    files: &[PathBuf],
    base: &CheckOptions,
    args: &CheckArgs,
    context_ignore: Option<Arc<DockerIgnore>>,
) -> Vec<FileResult> {
    let slots: Vec<Mutex<Option<FileResult>>> = files.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 64)
        .min(files.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                let checked = check_file(path, base, args.context.is_some(), &context_ignore);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(FileResult {
                        path: path.clone(),
                        checked,
                    });
                }
            });
        }
    });
    slots
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect()
}

fn check_file(
    path: &Path,
    base: &CheckOptions,
    fixed_context: bool,
    context_ignore: &Option<Arc<DockerIgnore>>,
) -> Result<(Dockerfile, Vec<Finding>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let df = match parse_bytes(&bytes) {
        Ok(df) => df,
        Err(e) => {
            // Not a text file we can check: one error finding at the top.
            let df = crate::dockerfile::parse("");
            let finding = Finding {
                rule: None,
                severity: Severity::Error,
                message: e.to_string(),
                span: crate::dockerfile::Span::empty(0),
                url: None,
                fix: None,
            };
            return Ok((df, vec![finding]));
        }
    };
    // BuildKit prefers `<Dockerfile>.dockerignore` next to the Dockerfile
    // over the context's `.dockerignore`.
    let own = PathBuf::from(format!("{}.dockerignore", path.display()));
    let ignore = match read_ignore(&own).map_err(|e| format!("{e:#}"))? {
        Some(i) => Some(i),
        None if fixed_context => context_ignore.clone(),
        None => {
            let dir = path.parent().unwrap_or(Path::new("."));
            read_ignore(&dir.join(".dockerignore")).map_err(|e| format!("{e:#}"))?
        }
    };
    let opts = CheckOptions {
        dockerignore: ignore,
        ..base.clone()
    };
    let findings = checks::run(&df, &opts);
    Ok((df, findings))
}

/// Reads a `.dockerignore` if it exists.
fn read_ignore(path: &Path) -> Result<Option<Arc<DockerIgnore>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(Arc::new(DockerIgnore::parse(
            &String::from_utf8_lossy(&bytes),
        )))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Whether a file name is a Dockerfile by convention.
pub fn is_dockerfile_name(name: &str) -> bool {
    if name.ends_with(".dockerignore") {
        return false;
    }
    name == "Dockerfile"
        || name == "dockerfile"
        || name == "Containerfile"
        || name.starts_with("Dockerfile.")
        || name.starts_with("Containerfile.")
        || (name.ends_with(".Dockerfile") && name.len() > ".Dockerfile".len())
        || (name.ends_with(".dockerfile") && name.len() > ".dockerfile".len())
}

/// Adds `path` (a file, taken whatever its name) or the Dockerfiles under a
/// directory. Symbolic links to directories are not followed (no cycles).
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ft = entry.file_type()?;
            if ft.is_dir() {
                if !matches!(name.as_ref(), ".git" | "node_modules" | "target") {
                    stack.push(entry.path());
                }
            } else if is_dockerfile_name(&name) {
                let p = entry.path();
                // A symlink to a directory named like a Dockerfile is skipped.
                if ft.is_file() || p.is_file() {
                    out.push(p);
                }
            }
        }
    }
    Ok(())
}

/// `file:line:col: severity [Rule] message`, 1-based line and column
/// (UTF-16 units, as editors count).
fn text_line(file: &str, df: &Dockerfile, f: &Finding) -> String {
    let r = df.range_in(f.span, PositionEncoding::Utf16);
    let rule = f.code().map(|c| format!(" [{c}]")).unwrap_or_default();
    format!(
        "{file}:{}:{}: {}{rule} {}",
        r.start.line + 1,
        r.start.character + 1,
        f.severity.as_str(),
        f.message
    )
}

fn json_range(df: &Dockerfile, span: crate::dockerfile::Span) -> Value {
    let r = df.range_in(span, PositionEncoding::Utf16);
    json!({
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    })
}

fn json_finding(file: &str, df: &Dockerfile, f: &Finding) -> Value {
    let r = df.range_in(f.span, PositionEncoding::Utf16);
    json!({
        "file": file,
        "line": r.start.line + 1,
        "column": r.start.character + 1,
        "range": json_range(df, f.span),
        "severity": f.severity.as_str(),
        "rule": f.code(),
        "message": f.message,
        "url": f.url,
        "fix": f.fix.as_ref().map(|fix| json!({
            "title": fix.title,
            "edits": fix.edits.iter().map(|e| json!({
                "range": json_range(df, e.span),
                "newText": e.new_text,
            })).collect::<Vec<_>>(),
        })),
    })
}
