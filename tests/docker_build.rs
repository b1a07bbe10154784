//! Builds through BuildKit's API against the real Docker Engine (the docker
//! driver): images, targets, args, labels, tags, `.dockerignore`, tarball
//! export through the session's file send, failures with source ranges,
//! cancellation, and the session inside `Control.Session`.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use buildkit_lsp::build::{BuildSpec, OutputSpec};
use buildkit_lsp::buildkit::{BuildkitError, Client, ProgressEvent};
use buildkit_lsp::driver::docker::{DockerDriver, DockerEndpoint};
use buildkit_lsp::driver::{BoxStream, Driver, DriverError, Features, SessionInfo};
use futures::future::BoxFuture;
use support::{TempContext, BASE_IMAGE};
use tokio::sync::mpsc;

async fn driver(ep: &support::DockerEndpoint) -> DockerDriver {
    let ep = DockerEndpoint::parse(&ep.docker_host()).expect("endpoint");
    DockerDriver::connect_to(ep).await.expect("docker driver")
}

async fn client(ep: &support::DockerEndpoint) -> Client {
    Client::connect(Arc::new(driver(ep).await))
        .await
        .expect("connect to BuildKit")
}

fn events() -> (
    mpsc::UnboundedSender<ProgressEvent>,
    mpsc::UnboundedReceiver<ProgressEvent>,
) {
    mpsc::unbounded_channel()
}

/// The regular files of a tar archive: (path without leading "./" or "/", content).
fn tar_files(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 512 <= data.len() {
        let h = &data[off..off + 512];
        if h.iter().all(|b| *b == 0) {
            break;
        }
        let cstr = |b: &[u8]| {
            let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).into_owned()
        };
        let name = cstr(&h[0..100]);
        let prefix = cstr(&h[345..500]);
        let size = usize::from_str_radix(cstr(&h[124..136]).trim(), 8).unwrap_or(0);
        let kind = h[156];
        let full = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let body = &data[off + 512..(off + 512 + size).min(data.len())];
        if kind == b'0' || kind == 0 {
            let path = full.trim_start_matches("./").trim_start_matches('/');
            out.push((path.to_string(), body.to_vec()));
        }
        off += 512 + size.div_ceil(512) * 512;
    }
    out
}

async fn image_tags(engine: &bollard::Docker, id: &str) -> Vec<String> {
    let img = engine
        .inspect_image(id)
        .await
        .expect("the built image is in the engine");
    let mut tags = img.repo_tags.unwrap_or_default();
    tags.sort();
    tags
}

#[tokio::test]
async fn scratch_copy_lands_in_the_image_store_under_its_tags() {
    let Some(ep) = support::docker_or_skip("scratch_copy_lands_in_the_image_store_under_its_tags")
    else {
        return;
    };
    let name = support::unique_name("bkl-scratch");
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n")
        .file("a.txt", "hello\n");
    let mut spec = BuildSpec::new(ctx.path());
    spec.tags = vec![format!("{name}:1"), format!("{name}:2")];
    let (tx, _rx) = events();
    let c = client(&ep).await;
    let out = c.build(&spec, tx).await.expect("build succeeds");
    let id = out
        .image_id()
        .expect("the moby exporter reports the image id");
    assert!(id.starts_with("sha256:"), "{id}");
    let engine = ep.bollard();
    // Other runs' images of the same content share the id: only this run's
    // tags are ours to check.
    let ours: Vec<String> = image_tags(&engine, id)
        .await
        .into_iter()
        .filter(|t| t.starts_with(&format!("{name}:")))
        .collect();
    assert_eq!(ours, vec![format!("{name}:1"), format!("{name}:2")]);
    // The listing (`docker image ls`) shows the tags too.
    let listed = engine
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
        .expect("list images");
    assert!(listed
        .iter()
        .any(|i| i.repo_tags.contains(&format!("{name}:1"))));
    // One 6-byte file is the whole image. The containerd store counts the
    // image's content (the compressed layer, its config and manifest) instead.
    let img = engine.inspect_image(id).await.unwrap();
    if support::engine_facts(&ep).containerd_store {
        let size = img.size.unwrap_or_default();
        assert!((6..4096).contains(&size), "{size}");
    } else {
        assert_eq!(img.size, Some(6));
    }
    let _ = engine
        .remove_image(
            &format!("{name}:1"),
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
    let _ = engine
        .remove_image(
            &format!("{name}:2"),
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
}

const MULTI_STAGE: &str = "FROM busybox:test AS base
ARG GREETING=default
RUN echo \"$GREETING\" > /greeting
FROM base AS final
LABEL stage=final
RUN cat /greeting > /out && echo from-final >> /out
FROM scratch AS other
COPY --from=base /greeting /other
";

#[tokio::test]
async fn multi_stage_target_build_args_and_labels() {
    let Some(ep) = support::docker_or_skip("multi_stage_target_build_args_and_labels") else {
        return;
    };
    assert!(MULTI_STAGE.contains(BASE_IMAGE));
    let name = support::unique_name("bkl-multi");
    let ctx = TempContext::new().file("Dockerfile", MULTI_STAGE);
    let mut spec = BuildSpec::new(ctx.path());
    spec.tags = vec![format!("{name}:latest")];
    spec.target = Some("final".into());
    spec.build_args.insert("GREETING".into(), name.clone());
    spec.labels
        .insert("org.test.by".into(), "buildkit-lsp".into());
    let c = client(&ep).await;
    let (tx, mut rx) = events();
    let out = c.build(&spec, tx).await.expect("build succeeds");
    let engine = ep.bollard();
    let img = engine.inspect_image(out.image_id().unwrap()).await.unwrap();
    let labels = img.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(labels.get("stage").map(String::as_str), Some("final"));
    assert_eq!(
        labels.get("org.test.by").map(String::as_str),
        Some("buildkit-lsp")
    );
    // The `other` stage was not built: no vertex named after it ran.
    let mut names = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let ProgressEvent::Vertex(v) = ev {
            names.push(v.name);
        }
    }
    assert!(
        names
            .iter()
            .any(|n| n.contains("[final 1/1] RUN cat /greeting")),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains("[other")), "{names:?}");

    // The same build exported as a tarball: /out has the build arg's value.
    let dest = ctx.path().join("out/final.tar");
    spec.outputs = vec![OutputSpec::parse(&format!("type=tar,dest={}", dest.display())).unwrap()];
    let (tx, _rx) = events();
    c.build(&spec, tx).await.expect("tar export succeeds");
    let files = tar_files(&std::fs::read(&dest).expect("the tarball was written"));
    let out_file = files
        .iter()
        .find(|(p, _)| p == "out")
        .expect("/out in the tarball");
    assert_eq!(out_file.1, format!("{name}\nfrom-final\n").into_bytes());
    let _ = engine
        .remove_image(
            &format!("{name}:latest"),
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
}

#[tokio::test]
async fn dockerignored_file_never_leaves_the_machine() {
    let Some(ep) = support::docker_or_skip("dockerignored_file_never_leaves_the_machine") else {
        return;
    };
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY . /\n")
        .file(".dockerignore", "secret.txt\n")
        .file("secret.txt", "do not send\n")
        .file("keep.txt", "keep\n");
    let mut spec = BuildSpec::new(ctx.path());
    let dest = ctx.path().join("image.tar");
    spec.outputs = vec![OutputSpec::parse(&format!("type=tar,dest={}", dest.display())).unwrap()];
    let (tx, _rx) = events();
    let out = client(&ep)
        .await
        .build(&spec, tx)
        .await
        .expect("build succeeds");
    let files = tar_files(&std::fs::read(&dest).unwrap());
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert!(paths.contains(&"keep.txt"), "{paths:?}");
    assert!(!paths.contains(&"secret.txt"), "{paths:?}");
    assert!(out.transfer.was_sent("context", "keep.txt"));
    assert!(!out.transfer.was_sent("context", "secret.txt"));
}

#[tokio::test]
async fn failing_run_reports_its_lines_exit_code_and_log_tail() {
    let Some(ep) = support::docker_or_skip("failing_run_reports_its_lines_exit_code_and_log_tail")
    else {
        return;
    };
    let marker = support::unique_name("fail");
    let ctx = TempContext::new().file(
        "Dockerfile",
        format!("FROM busybox:test\nRUN true\nRUN echo {marker} && \\\n  exit 3\nRUN echo never\n"),
    );
    let spec = BuildSpec::new(ctx.path());
    let (tx, _rx) = events();
    let err = client(&ep).await.build(&spec, tx).await.unwrap_err();
    let BuildkitError::Solve(f) = err else {
        panic!("expected a solve failure, got {err}");
    };
    assert_eq!(f.exit_code, Some(3), "{}", f.message);
    let src = f.source.as_ref().expect("BuildKit attaches the source");
    assert_eq!(src.filename, "Dockerfile");
    let lines: Vec<(u32, u32)> = src.ranges.iter().map(|r| (r.start, r.end)).collect();
    assert_eq!(lines, vec![(3, 4)]);
    assert_eq!(f.log_tail.last().map(String::as_str), Some(marker.as_str()));
    assert!(
        f.vertex_name
            .as_deref()
            .unwrap_or_default()
            .contains("RUN echo"),
        "{:?}",
        f.vertex_name
    );
    let rendered = buildkit_lsp::buildkit::render_failure(&f);
    assert!(rendered.contains("   3 | >>> RUN echo"), "{rendered}");
    assert!(rendered.contains("   4 | >>>   exit 3"), "{rendered}");
    assert!(rendered.contains("   5 |     RUN echo never"), "{rendered}");
}

/// Processes on this machine whose command line contains `needle`.
fn processes_with(needle: &str) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| {
            String::from_utf8_lossy(c)
                .replace('\0', " ")
                .contains(needle)
        })
        .count()
}

#[tokio::test]
async fn cancelling_a_build_stops_the_run_within_two_seconds() {
    let Some(ep) = support::docker_or_skip("cancelling_a_build_stops_the_run_within_two_seconds")
    else {
        return;
    };
    // An unusual duration identifies the RUN's process in /proc.
    let secs = 700 + (std::process::id() % 200);
    let needle = format!("sleep {secs}");
    let ctx = TempContext::new().file("Dockerfile", format!("FROM busybox:test\nRUN {needle}\n"));
    let spec = BuildSpec::new(ctx.path());
    let c = client(&ep).await;
    let (tx, mut rx) = events();
    let build = tokio::spawn({
        let c = c.clone();
        async move { c.build(&spec, tx).await }
    });
    // Wait until the RUN has started on the daemon.
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the RUN never started"
        );
        if processes_with(&needle) > 0 {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            Ok(None) => panic!("the build ended before the RUN started"),
            _ => continue,
        }
    }
    let cancelled = Instant::now();
    build.abort();
    let _ = build.await;
    loop {
        if processes_with(&needle) == 0 {
            break;
        }
        assert!(
            cancelled.elapsed() < Duration::from_secs(2),
            "`{needle}` still runs 2 s after the cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The daemon is fine afterwards.
    assert!(!c.list_workers().await.expect("workers").is_empty());
}

/// The docker driver without its `/session` endpoint: the session has to
/// travel inside `Control.Session`, as it does for every other driver.
struct ControlSessionOnly(DockerDriver);

impl Driver for ControlSessionOnly {
    fn features(&self) -> Features {
        self.0.features()
    }
    fn endpoint(&self) -> String {
        self.0.endpoint()
    }
    fn connect(&self) -> BoxFuture<'_, Result<BoxStream, DriverError>> {
        self.0.connect()
    }
    fn connect_session<'a>(
        &'a self,
        _session: &'a SessionInfo,
    ) -> BoxFuture<'a, Result<Option<BoxStream>, DriverError>> {
        Box::pin(async { Ok(None) })
    }
}

#[tokio::test]
async fn session_inside_control_session_serves_file_sync_and_file_send() {
    let Some(ep) =
        support::docker_or_skip("session_inside_control_session_serves_file_sync_and_file_send")
    else {
        return;
    };
    let marker = support::unique_name("ctl");
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY m.txt /m.txt\n")
        .file("m.txt", &marker);
    let mut spec = BuildSpec::new(ctx.path());
    let dest = ctx.path().join("o.tar");
    spec.outputs = vec![OutputSpec::parse(&format!("type=tar,dest={}", dest.display())).unwrap()];
    let d = ControlSessionOnly(driver(&ep).await);
    let c = Client::connect(Arc::new(d)).await.unwrap();
    let (tx, _rx) = events();
    let out = c
        .build(&spec, tx)
        .await
        .expect("build through Control.Session");
    assert!(out.transfer.was_sent("context", "m.txt"));
    let files = tar_files(&std::fs::read(&dest).unwrap());
    assert_eq!(files, vec![("m.txt".to_string(), marker.into_bytes())]);
}

#[tokio::test]
async fn unreachable_daemon_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("absent.sock");
    let ep = DockerEndpoint::parse(&format!("unix://{}", sock.display())).unwrap();
    let started = Instant::now();
    let err = DockerDriver::connect_to(ep).await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        err.starts_with(&format!(
            "cannot connect to the Docker daemon at unix://{}",
            sock.display()
        )),
        "{err}"
    );
    assert!(err.contains("Is the docker daemon running?"), "{err}");
}

#[tokio::test]
async fn local_output_writes_files_dirs_and_symlinks_into_a_directory() {
    let Some(ep) =
        support::docker_or_skip("local_output_writes_files_dirs_and_symlinks_into_a_directory")
    else {
        return;
    };
    let ctx = TempContext::new()
        .file(
            "Dockerfile",
            "FROM busybox:test AS b\nRUN mkdir -p /o/sub && printf 1234 > /o/sub/n && ln -s sub/n /o/link && chmod 0750 /o/sub/n\nFROM scratch\nCOPY --from=b /o /\nCOPY a.txt /a.txt\n",
        )
        .file("a.txt", "alpha\n");
    let out_dir = tempfile::tempdir().unwrap();
    let dest = out_dir.path().join("export");
    let mut spec = BuildSpec::new(ctx.path());
    spec.outputs = vec![OutputSpec::parse(&format!("type=local,dest={}", dest.display())).unwrap()];
    let (tx, _rx) = events();
    client(&ep)
        .await
        .build(&spec, tx)
        .await
        .expect("local export succeeds");
    assert_eq!(std::fs::read(dest.join("a.txt")).unwrap(), b"alpha\n");
    assert_eq!(std::fs::read(dest.join("sub/n")).unwrap(), b"1234");
    assert_eq!(
        std::fs::read_link(dest.join("link")).unwrap(),
        std::path::PathBuf::from("sub/n")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dest.join("sub/n"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750);
}

#[tokio::test]
async fn secrets_reach_the_run_from_a_file_and_from_the_environment() {
    let Some(ep) =
        support::docker_or_skip("secrets_reach_the_run_from_a_file_and_from_the_environment")
    else {
        return;
    };
    let file_value = support::unique_name("file-secret");
    let env_var = format!("BKL_TEST_SECRET_{}", std::process::id());
    let env_value = support::unique_name("env-secret");
    std::env::set_var(&env_var, &env_value);
    let ctx = TempContext::new()
        .file(
            "Dockerfile",
            // Secrets are not part of the cache key: a unique command keeps
            // an earlier run's layer from being reused.
            format!("FROM busybox:test AS b\nRUN --mount=type=secret,id=f --mount=type=secret,id=e echo {file_value} >/dev/null && cat /run/secrets/f /run/secrets/e > /out\nFROM scratch\nCOPY --from=b /out /out\n"),
        )
        .file("ignored/secret", &file_value);
    let mut spec = BuildSpec::new(ctx.path());
    spec.secrets = vec![
        buildkit_lsp::build::SecretSpec::parse(&format!(
            "id=f,src={}",
            ctx.path().join("ignored/secret").display()
        ))
        .unwrap(),
        buildkit_lsp::build::SecretSpec::parse(&format!("id=e,env={env_var}")).unwrap(),
    ];
    let dest = ctx.path().join("out");
    spec.outputs = vec![OutputSpec::parse(&format!("type=local,dest={}", dest.display())).unwrap()];
    let (tx, _rx) = events();
    client(&ep)
        .await
        .build(&spec, tx)
        .await
        .expect("build with secrets");
    assert_eq!(
        std::fs::read_to_string(dest.join("out")).unwrap(),
        format!("{file_value}{env_value}")
    );
}

#[tokio::test]
async fn engine_lists_its_moby_worker_and_has_no_info_call() {
    let Some(ep) = support::docker_or_skip("engine_lists_its_moby_worker_and_has_no_info_call")
    else {
        return;
    };
    let c = client(&ep).await;
    let workers = c.list_workers().await.expect("ListWorkers");
    let platforms: Vec<String> = workers
        .iter()
        .flat_map(|w| w.platforms.iter())
        .map(|p| format!("{}/{}", p.os, p.architecture))
        .collect();
    assert!(
        platforms.contains(&"linux/amd64".to_string()),
        "{platforms:?}"
    );
    // Docker Engine 20.10's BuildKit answers Info with Unimplemented: that is
    // "no version known", not an error. A newer engine reports a version.
    match c.info().await.expect("Info falls back cleanly") {
        None => {}
        Some(v) => assert!(v.version.starts_with('v'), "{v:?}"),
    }
}
