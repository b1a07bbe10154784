//! Outputs and caches: the exact Solve requests each driver sends for every
//! `--output`, `--load`, `--push`, `--cache-to/--cache-from` and several
//! `--platform`s (pure, checked against BuildKit's and buildx's published
//! behaviour), the refusals, and on the real Docker Engine: the `--load`
//! step fed through the session's FileSend exactly as BuildKit's `docker`
//! exporter feeds it, and an inline cache pushed to the test registry and
//! imported again.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bollard_buildkit_proto::moby::buildkit::v1::types::BuildkitVersion;
use bollard_buildkit_proto::moby::buildkit::v1::SolveRequest;
use bollard_buildkit_proto::moby::filesync::v1::file_send_client::FileSendClient;
use bollard_buildkit_proto::moby::filesync::v1::BytesMessage;
use buildkit_lsp::build::{BuildSpec, CacheSpec, OutputSpec};
use buildkit_lsp::buildkit::client::solve_request;
use buildkit_lsp::buildkit::filesend::{load_into_engine, ExportDest, FileSendService, StreamSink};
use buildkit_lsp::buildkit::{BuildkitError, Client, ProgressEvent};
use buildkit_lsp::driver::docker::{DockerDriver, DockerEndpoint};
use buildkit_lsp::driver::{DriverKind, Features};
use futures::StreamExt;
use support::{TempContext, BASE_IMAGE};

fn current() -> BuildkitVersion {
    BuildkitVersion {
        package: "github.com/moby/buildkit".into(),
        version: "v0.18.1".into(),
        revision: String::new(),
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The request a current BuildKit receives for `spec` on `kind`.
fn request(spec: &BuildSpec, kind: DriverKind) -> Result<SolveRequest, String> {
    let f = Features::of(kind);
    spec.check(&f).map_err(|r| r.to_string())?;
    let exports = spec.exports(&f);
    solve_request(spec, &exports, &f, Some(&current())).map_err(|e| e.to_string())
}

/// (type, attrs) of every exporter in the new list; the deprecated single
/// fields must name the first one.
fn exporters(req: &SolveRequest) -> Vec<(String, BTreeMap<String, String>)> {
    let list: Vec<_> = req
        .exporters
        .iter()
        .map(|e| {
            (
                e.r#type.clone(),
                e.attrs.clone().into_iter().collect::<BTreeMap<_, _>>(),
            )
        })
        .collect();
    if let Some((t, a)) = list.first() {
        assert_eq!(&req.exporter_deprecated, t);
        let old: BTreeMap<_, _> = req.exporter_attrs_deprecated.clone().into_iter().collect();
        assert_eq!(&old, a);
    } else {
        assert_eq!(req.exporter_deprecated, "");
    }
    list
}

fn spec_with(outputs: &[&str]) -> BuildSpec {
    let mut s = BuildSpec::new("/ctx");
    s.tags = vec!["reg.example/app:1".into(), "reg.example/app:latest".into()];
    s.outputs = outputs
        .iter()
        .map(|o| OutputSpec::parse(o).unwrap())
        .collect();
    s
}

const NAMES: &str = "reg.example/app:1,reg.example/app:latest";

#[test]
fn load_on_non_docker_drivers_asks_for_the_docker_exporter_with_the_tags() {
    for kind in [
        DriverKind::DockerContainer,
        DriverKind::Kubernetes,
        DriverKind::Remote,
    ] {
        let mut s = spec_with(&[]);
        s.load = true;
        let req = request(&s, kind).unwrap();
        assert_eq!(
            exporters(&req),
            vec![("docker".to_string(), map(&[("name", NAMES)]))],
            "{kind}"
        );
        assert_eq!(s.no_output_warning(&Features::of(kind)), None);
    }
    // The docker driver loads by itself: `moby`, never a tarball.
    let mut s = spec_with(&[]);
    s.load = true;
    let req = request(&s, DriverKind::Docker).unwrap();
    assert_eq!(
        exporters(&req),
        vec![("moby".to_string(), map(&[("name", NAMES)]))]
    );
}

#[test]
fn every_output_type_maps_to_its_exporter() {
    let remote = DriverKind::DockerContainer;
    let cases: Vec<(&str, &str, BTreeMap<String, String>)> = vec![
        (
            "type=docker,dest=out.tar",
            "docker",
            map(&[("name", NAMES)]),
        ),
        ("type=oci,dest=-", "oci", map(&[("name", NAMES)])),
        ("type=local,dest=dir", "local", map(&[])),
        ("type=tar,dest=out.tar", "tar", map(&[])),
        (
            "type=image,push=true",
            "image",
            map(&[("name", NAMES), ("push", "true")]),
        ),
        (
            "type=registry",
            "image",
            map(&[("name", NAMES), ("push", "true")]),
        ),
        (
            "type=image,name=other/x:2,compression=zstd",
            "image",
            map(&[("name", "other/x:2"), ("compression", "zstd")]),
        ),
    ];
    for (out, kind, attrs) in cases {
        let req = request(&spec_with(&[out]), remote).unwrap();
        assert_eq!(exporters(&req), vec![(kind.to_string(), attrs)], "{out}");
    }
    // cacheonly: no exporter at all, and no warning (an output was given).
    let s = spec_with(&["type=cacheonly"]);
    assert!(exporters(&request(&s, remote).unwrap()).is_empty());
    assert_eq!(s.no_output_warning(&Features::of(remote)), None);
    // The dest never travels to the daemon: the session's FileSend has it.
    let s = spec_with(&["type=oci,dest=/tmp/o.tar"]);
    let e = s.exports(&Features::of(remote));
    assert_eq!(
        e[0].dest.as_deref(),
        Some(std::path::Path::new("/tmp/o.tar"))
    );
    assert!(!e[0].attrs.contains_key("dest"));
}

#[test]
fn push_flag_on_every_driver() {
    let mut s = spec_with(&[]);
    s.push = true;
    let req = request(&s, DriverKind::Remote).unwrap();
    assert_eq!(
        exporters(&req),
        vec![(
            "image".to_string(),
            map(&[("name", NAMES), ("push", "true")])
        )]
    );
    let req = request(&s, DriverKind::Docker).unwrap();
    assert_eq!(
        exporters(&req),
        vec![(
            "moby".to_string(),
            map(&[("name", NAMES), ("push", "true")])
        )]
    );
    // --push with an explicit image output adds push=true to it.
    let mut s = spec_with(&["type=image,name=r/y"]);
    s.push = true;
    let req = request(&s, DriverKind::Remote).unwrap();
    assert_eq!(
        exporters(&req),
        vec![(
            "image".to_string(),
            map(&[("name", "r/y"), ("push", "true")])
        )]
    );
}

#[test]
fn old_daemons_get_one_exporter_in_the_deprecated_fields_only() {
    let s = spec_with(&["type=tar,dest=o.tar"]);
    let f = Features::of(DriverKind::Remote);
    let v = BuildkitVersion {
        version: "v0.12.5".into(),
        ..BuildkitVersion::default()
    };
    let req = solve_request(&s, &s.exports(&f), &f, Some(&v)).unwrap();
    assert!(req.exporters.is_empty());
    assert_eq!(req.exporter_deprecated, "tar");
    assert!(req.exporter_attrs_deprecated.is_empty());
    let two = spec_with(&["type=tar,dest=o.tar", "type=registry"]);
    let e = solve_request(&two, &two.exports(&f), &f, Some(&v)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "this BuildKit accepts one output per build (it predates v0.13); build once per output"
    );
    let req = solve_request(&two, &two.exports(&f), &f, Some(&current())).unwrap();
    assert_eq!(req.exporters.len(), 2);
}

#[test]
fn docker_driver_refuses_with_buildx_messages() {
    // buildx 0.13.1's three lines, word for word.
    let tail =
        "Switch to a different driver, or turn on the containerd image store, and try again.";
    let more = "Learn more at https://docs.docker.com/go/";
    let s = spec_with(&["type=oci,dest=o.tar"]);
    assert_eq!(
        request(&s, DriverKind::Docker).unwrap_err(),
        format!(
            "OCI exporter is not supported for the docker driver.\n{tail}\n{more}build-exporters/"
        )
    );
    let s = spec_with(&["type=docker,dest=o.tar"]);
    assert_eq!(
        request(&s, DriverKind::Docker).unwrap_err(),
        format!(
            "Docker exporter is not supported for the docker driver.\n{tail}\n{more}build-exporters/"
        )
    );
    let mut s = spec_with(&[]);
    s.cache_to = vec![CacheSpec::parse("--cache-to", "type=registry,ref=r/c").unwrap()];
    assert_eq!(
        request(&s, DriverKind::Docker).unwrap_err(),
        format!(
            "Cache export is not supported for the docker driver.\n{tail}\n{more}build-cache-backends/"
        )
    );
    let mut s = spec_with(&[]);
    s.platforms = vec!["linux/amd64".into(), "linux/arm64".into()];
    assert_eq!(
        request(&s, DriverKind::Docker).unwrap_err(),
        format!(
            "Multi-platform build is not supported for the docker driver.\n{tail}\n{more}build-multi-platform/"
        )
    );
    // The containerd image store lifts all three.
    let f = Features {
        containerd_store: true,
        ..Features::of(DriverKind::Docker)
    };
    s.outputs = vec![OutputSpec::parse("type=oci,dest=o.tar").unwrap()];
    assert_eq!(s.check(&f), Ok(()));
}

#[test]
fn several_platforms_are_one_solve() {
    let mut s = spec_with(&["type=registry"]);
    s.platforms = vec!["linux/amd64".into(), "linux/arm64".into()];
    let req = request(&s, DriverKind::Remote).unwrap();
    assert_eq!(req.frontend_attrs["platform"], "linux/amd64,linux/arm64");
    assert_eq!(exporters(&req).len(), 1);
}

#[test]
fn cache_options_as_buildx_sends_them() {
    let mut s = spec_with(&["type=registry"]);
    s.cache_to = vec![
        CacheSpec::parse(
            "--cache-to",
            "type=registry,ref=reg.example/app:cache,mode=max,compression=zstd,oci-mediatypes=true,ignore-error=true,image-manifest=true",
        )
        .unwrap(),
        CacheSpec::parse("--cache-to", "type=inline").unwrap(),
    ];
    s.cache_from = vec![
        CacheSpec::parse("--cache-from", "reg.example/app:cache").unwrap(),
        CacheSpec::parse("--cache-from", "type=registry,ref=reg.example/app:1").unwrap(),
    ];
    let req = request(&s, DriverKind::DockerContainer).unwrap();
    let cache = req.cache.expect("cache options");
    let entries = |v: &[bollard_buildkit_proto::moby::buildkit::v1::CacheOptionsEntry]| {
        v.iter()
            .map(|e| {
                (
                    e.r#type.clone(),
                    e.attrs.clone().into_iter().collect::<BTreeMap<_, _>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        entries(&cache.exports),
        vec![
            (
                "registry".to_string(),
                map(&[
                    ("ref", "reg.example/app:cache"),
                    ("mode", "max"),
                    ("compression", "zstd"),
                    ("oci-mediatypes", "true"),
                    ("ignore-error", "true"),
                    ("image-manifest", "true"),
                ])
            ),
            ("inline".to_string(), map(&[])),
        ]
    );
    assert_eq!(
        entries(&cache.imports),
        vec![
            (
                "registry".to_string(),
                map(&[("ref", "reg.example/app:cache")])
            ),
            ("registry".to_string(), map(&[("ref", "reg.example/app:1")])),
        ]
    );
    // BuildKit's client hands the imports to the frontend as JSON.
    assert_eq!(
        req.frontend_attrs["cache-imports"],
        r#"[{"Type":"registry","Attrs":{"ref":"reg.example/app:cache"}},{"Type":"registry","Attrs":{"ref":"reg.example/app:1"}}]"#
    );
    // Inline cache alone is fine on the docker driver.
    let mut s = spec_with(&[]);
    s.cache_to = vec![CacheSpec::parse("--cache-to", "type=inline").unwrap()];
    let req = request(&s, DriverKind::Docker).unwrap();
    assert_eq!(req.cache.unwrap().exports[0].r#type, "inline");
}

/// The `local` cache backends go to BuildKit as buildx sends them (their
/// directories are served by the session content store, which the
/// `content_store` suite exercises); the client adds only the digest it
/// reads from the cache's index.json.
#[test]
fn local_cache_attributes_pass_through() {
    let mut s = spec_with(&["type=registry"]);
    s.cache_to = vec![CacheSpec::parse(
        "--cache-to",
        "type=local,dest=/tmp/c,mode=max,tag=v1,oci-mediatypes=false,compression=zstd,ignore-error=true",
    )
    .unwrap()];
    let req = request(&s, DriverKind::Remote).unwrap();
    let cache = req.cache.unwrap();
    assert_eq!(cache.exports[0].r#type, "local");
    assert_eq!(
        cache.exports[0]
            .attrs
            .clone()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        map(&[
            ("dest", "/tmp/c"),
            ("mode", "max"),
            ("tag", "v1"),
            ("oci-mediatypes", "false"),
            ("compression", "zstd"),
            ("ignore-error", "true"),
        ])
    );
}

#[test]
fn no_output_warning_reads_like_buildx() {
    let s = spec_with(&[]);
    assert_eq!(
        s.no_output_warning(&Features::of(DriverKind::DockerContainer))
            .as_deref(),
        Some("No output specified with docker-container driver. Build result will only remain in the build cache. To push result image into registry use --push or to load image into docker use --load")
    );
    assert!(s
        .no_output_warning(&Features::of(DriverKind::Remote))
        .unwrap()
        .starts_with("No output specified with remote driver."));
    assert_eq!(s.no_output_warning(&Features::of(DriverKind::Docker)), None);
    let mut p = spec_with(&[]);
    p.push = true;
    assert_eq!(p.no_output_warning(&Features::of(DriverKind::Remote)), None);
}

/// Serves a FileSend with `dest` on loopback and streams `data` to it in
/// `chunk`-byte BytesMessages, as BuildKit's tarball exporters do.
async fn send_through_filesend(
    dest: ExportDest,
    data: &[u8],
    chunk: usize,
) -> (u64, Result<(), tonic::Status>) {
    let svc = FileSendService::new(dest);
    let written = svc.written();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let msgs: Vec<BytesMessage> = data
        .chunks(chunk)
        .map(|c| BytesMessage { data: c.to_vec() })
        .collect();
    let mut client = FileSendClient::new(channel).max_encoding_message_size(usize::MAX);
    let r = match client.diff_copy(futures::stream::iter(msgs)).await {
        Ok(resp) => {
            let mut s = resp.into_inner();
            let mut r = Ok(());
            while let Some(m) = s.next().await {
                if let Err(e) = m {
                    r = Err(e);
                    break;
                }
            }
            r
        }
        Err(e) => Err(e),
    };
    server.abort();
    (written.load(Ordering::Relaxed), r)
}

#[tokio::test]
async fn load_streams_a_docker_tarball_from_filesend_into_the_engine() {
    let Some(ep) =
        support::docker_or_skip("load_streams_a_docker_tarball_from_filesend_into_the_engine")
    else {
        return;
    };
    let engine = ep.bollard();
    let name = support::unique_name("outputs-load");
    let tag = format!("{name}:1");
    // A real docker-format tarball: the engine's `docker save` of a tag of
    // the base image, which is then removed so only the load can bring it back.
    engine
        .tag_image(
            BASE_IMAGE,
            Some(
                bollard::query_parameters::TagImageOptionsBuilder::new()
                    .repo(&name)
                    .tag("1")
                    .build(),
            ),
        )
        .await
        .expect("tag the base image");
    let mut tarball = Vec::new();
    let mut export = std::pin::pin!(engine.export_image(&tag));
    while let Some(chunk) = export.next().await {
        tarball.extend_from_slice(&chunk.expect("export chunk"));
    }
    let base_id = engine
        .inspect_image(BASE_IMAGE)
        .await
        .expect("inspect base")
        .id
        .expect("base id");
    engine
        .remove_image(
            &tag,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .expect("untag");
    assert!(
        engine.inspect_image(&tag).await.is_err(),
        "{tag} still exists"
    );

    let (sink, chunks) = StreamSink::channel();
    let e2 = engine.clone();
    let loader = tokio::spawn(async move {
        let mut progress = Vec::new();
        let r = load_into_engine(
            &e2,
            tokio_stream::wrappers::ReceiverStream::new(chunks),
            |l| progress.push(l.to_string()),
        )
        .await;
        (r, progress)
    });
    let started = std::time::Instant::now();
    // 32 KiB messages: BuildKit's exporters send chunks of that order.
    let (written, sent) = send_through_filesend(ExportDest::Stream(sink), &tarball, 32 << 10).await;
    sent.expect("DiffCopy accepted the stream");
    assert_eq!(written, tarball.len() as u64);
    let (loaded, progress) = loader.await.unwrap();
    eprintln!(
        "load: {} B through FileSend into the engine in {:.3} s",
        tarball.len(),
        started.elapsed().as_secs_f64()
    );
    let loaded = loaded.expect("the engine loaded the tarball");
    assert_eq!(loaded, vec![format!("Loaded image: {tag}")]);
    assert!(
        progress.contains(&format!("Loaded image: {tag}")),
        "{progress:?}"
    );
    let id = engine.inspect_image(&tag).await.expect("loaded").id;
    assert_eq!(id.as_deref(), Some(base_id.as_str()));
    let _ = engine
        .remove_image(
            &tag,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;

    // A truncated tarball fails with the engine's reason, not silently.
    let (sink, chunks) = StreamSink::channel();
    let e3 = engine.clone();
    let loader = tokio::spawn(async move {
        load_into_engine(
            &e3,
            tokio_stream::wrappers::ReceiverStream::new(chunks),
            |_| {},
        )
        .await
    });
    let (_, sent) = send_through_filesend(ExportDest::Stream(sink), &tarball[..1024], 512).await;
    sent.expect("DiffCopy accepted the stream");
    let err = loader.await.unwrap().unwrap_err().to_string();
    assert!(
        err.starts_with("loading the image into the docker engine failed")
            || err == "the docker engine loaded nothing from the exported tarball",
        "{err}"
    );
}

#[tokio::test]
async fn inline_cache_pushed_then_imported_on_the_real_engine() {
    let Some(ep) = support::docker_or_skip("inline_cache_pushed_then_imported_on_the_real_engine")
    else {
        return;
    };
    let Some(registry) =
        support::registry_or_skip("inline_cache_pushed_then_imported_on_the_real_engine")
    else {
        return;
    };
    let name = support::unique_name("outputs-cache");
    let ctx = TempContext::new().file(
        "Dockerfile",
        format!("FROM {BASE_IMAGE}\nRUN echo {name} > /marker\n"),
    );
    let driver = DockerDriver::connect_to(DockerEndpoint::parse(&ep.docker_host()).unwrap())
        .await
        .expect("docker driver");
    let engine = driver.clone();
    let client = Client::connect(Arc::new(driver)).await.expect("connect");
    let image = format!("{registry}/{name}:1");
    let mut spec = BuildSpec::new(ctx.path());
    spec.tags = vec![image.clone()];
    spec.cache_to = vec![CacheSpec::parse("--cache-to", "type=inline").unwrap()];
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel::<ProgressEvent>();
    client
        .build(&spec, tx)
        .await
        .expect("build with inline cache");
    engine
        .push_image(&image, (String::new(), String::new()))
        .await
        .expect("push to the test registry");

    // The pushed image as --cache-from (a bare ref = type=registry,ref=…):
    // the engine's frontend must accept the JSON cache-imports.
    let mut spec = BuildSpec::new(ctx.path());
    spec.tags = vec![format!("{name}:2")];
    spec.cache_from = vec![CacheSpec::parse("--cache-from", &image).unwrap()];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ProgressEvent>();
    let out = client.build(&spec, tx).await;
    let out = match out {
        Ok(o) => o,
        Err(BuildkitError::Solve(f)) => panic!("{}", buildkit_lsp::buildkit::render_failure(&f)),
        Err(e) => panic!("{e}"),
    };
    let mut run_cached = false;
    while let Ok(ev) = rx.try_recv() {
        if let ProgressEvent::Vertex(v) = ev {
            if v.name.contains(&format!("RUN echo {name}")) && v.cached {
                run_cached = true;
            }
        }
    }
    assert!(run_cached, "the RUN step was not served from cache");
    assert!(out.image_id().is_some());
    let e = ep.bollard();
    for t in [image, format!("{name}:2")] {
        let _ = e
            .remove_image(
                &t,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await;
    }
}

#[test]
fn cli_warns_without_output_and_default_load_asks_for_the_docker_exporter() {
    let Some(engine) = support::docker_or_skip(
        "cli_warns_without_output_and_default_load_asks_for_the_docker_exporter",
    ) else {
        return;
    };
    let relay = support::relay::Relay::unix(&engine, support::relay::RelayTls::None);
    let home = tempfile::tempdir().unwrap();
    for (name, opts) in [("plain", None), ("loads", Some("default-load=true"))] {
        let mut args = vec!["builder", "create", "--name", name, "--driver", "remote"];
        if let Some(o) = opts {
            args.extend(["--driver-opt", o]);
        }
        args.push(relay.endpoint());
        let out = support::cli(home.path(), &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let marker = support::unique_name("cli-outputs");
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY m.txt /m.txt\n")
        .file("m.txt", &marker);
    let ctx_arg = ctx.path().display().to_string();

    let out = support::cli(home.path(), &["build", "--builder", "plain", &ctx_arg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.lines().any(|l| l == "WARNING: No output specified with remote driver. Build result will only remain in the build cache. To push result image into registry use --push or to load image into docker use --load"),
        "{stderr}"
    );

    // default-load=true: no warning, and the daemon is asked for the
    // `docker` exporter (Engine 20.10's BuildKit 0.8 does not have it, so it
    // refuses the request by that name; Engine 26's loads the image).
    let out = support::cli(home.path(), &["build", "--builder", "loads", &ctx_arg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("No output specified"), "{stderr}");
    if support::relayed_buildkit_has_docker_exporter(&engine) {
        // A newer BuildKit has the exporter: the image streams back through
        // the session and the engine loads it.
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("loading the image into docker"), "{stderr}");
    } else {
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr
                .lines()
                .any(|l| l == r#"ERROR: failed to solve: exporter "docker" could not be found"#),
            "{stderr}"
        );
        assert!(
            !stderr.contains("loading the image into docker"),
            "{stderr}"
        );
    }
    // With an explicit output, default-load stays off and the build works.
    let dest = ctx.path().join("out");
    let output = format!("type=local,dest={}", dest.display());
    let out = support::cli(
        home.path(),
        &["build", "--builder", "loads", "--output", &output, &ctx_arg],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(dest.join("m.txt")).unwrap(), marker);
}

#[test]
fn tar_without_dest_goes_to_stdout_but_never_to_a_terminal() {
    let Some(_engine) =
        support::docker_or_skip("tar_without_dest_goes_to_stdout_but_never_to_a_terminal")
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let marker = support::unique_name("stdout-tar");
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY m.txt /m.txt\n")
        .file("m.txt", &marker);
    let ctx_arg = ctx.path().display().to_string();
    // stdout is a pipe here: the tarball comes out on it (docker driver).
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"));
    cmd.args([
        "build",
        "--progress",
        "quiet",
        "--output",
        "type=tar",
        &ctx_arg,
    ])
    .env("DOCKER_CONFIG", home.path().join("docker"))
    .env_remove("BUILDX_CONFIG")
    .env_remove("BUILDX_BUILDER");
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ustar: the name at 0, the size (octal) at 124, the data at 512.
    let tar = &out.stdout;
    assert!(tar.len() >= 1024, "{} bytes", tar.len());
    let name = String::from_utf8_lossy(&tar[..100]);
    assert_eq!(name.trim_end_matches('\0'), "m.txt");
    assert_eq!(&tar[512..512 + marker.len()], marker.as_bytes());

    // On a terminal (a pty from util-linux `script`) it is refused as buildx does.
    let bin = env!("CARGO_BIN_EXE_buildkit-lsp");
    let line = format!("{bin} build --output type=oci {ctx_arg}");
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .expect("util-linux script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "ERROR: dest file is required for oci exporter. refusing to write to console"
        ),
        "{text}"
    );
    assert!(!out.status.success());
}

/// The status line of `GET /v2/<repo>/manifests/<tag>` on the test registry.
fn manifest_status(registry: &str, repo: &str, tag: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(registry).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "HEAD /v2/{repo}/manifests/{tag} HTTP/1.1\r\nHost: {registry}\r\nAccept: application/vnd.docker.distribution.manifest.v2+json\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn cli_output_type_registry_pushes_on_the_docker_driver() {
    let Some(ep) = support::docker_or_skip("cli_output_type_registry_pushes_on_the_docker_driver")
    else {
        return;
    };
    let Some(registry) =
        support::registry_or_skip("cli_output_type_registry_pushes_on_the_docker_driver")
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let repo = support::unique_name("outputs-registry");
    let ctx = TempContext::new().file(
        "Dockerfile",
        format!("FROM {BASE_IMAGE}\nRUN echo {repo} > /m\n"),
    );
    let ctx_arg = ctx.path().display().to_string();
    let image = format!("{registry}/{repo}:1");
    assert_eq!(
        manifest_status(&registry, &repo, "1"),
        "HTTP/1.1 404 Not Found"
    );
    let output = format!("type=registry,name={image}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
        .args(["build", "--output", &output, &ctx_arg])
        .env("DOCKER_CONFIG", home.path().join("docker"))
        .env("DOCKER_HOST", ep.docker_host())
        .env_remove("BUILDX_CONFIG")
        .env_remove("BUILDX_BUILDER")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.lines().any(|l| l == format!("pushing {image}")),
        "{stderr}"
    );
    assert_eq!(manifest_status(&registry, &repo, "1"), "HTTP/1.1 200 OK");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _ = rt.block_on(ep.bollard().remove_image(
        &image,
        None::<bollard::query_parameters::RemoveImageOptions>,
        None,
    ));
}

/// Two platforms are one solve: through the remote driver (the relay to the
/// engine's BuildKit) a `FROM scratch` build for linux/amd64 and linux/arm64
/// needs no emulation, and the `local` exporter writes one directory per
/// platform.
#[tokio::test]
async fn two_platforms_in_one_solve_through_the_remote_driver() {
    let Some(engine) =
        support::docker_or_skip("two_platforms_in_one_solve_through_the_remote_driver")
    else {
        return;
    };
    let relay = support::relay::Relay::unix(&engine, support::relay::RelayTls::None);
    let driver =
        buildkit_lsp::driver::remote::RemoteDriver::new(Some(relay.endpoint()), &BTreeMap::new())
            .unwrap();
    let marker = support::unique_name("multi");
    let ctx = TempContext::new()
        .file(
            "Dockerfile",
            "FROM scratch\nARG TARGETPLATFORM\nCOPY m.txt /m.txt\n",
        )
        .file("m.txt", &marker);
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("export");
    let mut spec = BuildSpec::new(ctx.path());
    spec.platforms = vec!["linux/amd64".into(), "linux/arm64".into()];
    spec.outputs = vec![OutputSpec::parse(&format!("type=local,dest={}", dest.display())).unwrap()];
    let client = Client::connect(Arc::new(driver) as Arc<dyn buildkit_lsp::driver::Driver>)
        .await
        .expect("connects through the relay");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    client.build(&spec, tx).await.expect("the build succeeds");
    for p in ["linux_amd64", "linux_arm64"] {
        assert_eq!(
            std::fs::read_to_string(dest.join(p).join("m.txt")).unwrap(),
            marker,
            "{p}"
        );
    }
}
