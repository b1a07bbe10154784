//! The session content store: containerd's content API as we serve it
//! (atomic, digest-verified writes; reads; the errors containerd's client
//! expects), and on the real daemons what it makes work: `type=local` cache
//! export then import (the imported step shows CACHED after the daemon's
//! own cache of it is pruned), a cache directory `docker buildx` 0.13.1
//! reads and one it wrote that we read, and OCI layout directories
//! (`type=oci|docker,tar=false`) whose blobs match their digests.
//!
//! Each engine's real behaviour is asserted: the docker driver exports a
//! cache only where the engine stores images in containerd (elsewhere it
//! refuses with buildx's words, and so does buildx); the remote driver
//! (relayed to the same daemon) exports everywhere the daemon's BuildKit can.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use buildkit_lsp::build::{BuildSpec, CacheSpec, OutputSpec};
use buildkit_lsp::buildkit::content::{api, ContentStoreService, LocalStore, STORE_ID_HEADER};
use buildkit_lsp::buildkit::ocilayout::StoreIndex;
use buildkit_lsp::buildkit::{BuildkitError, Client, ProgressEvent};
use buildkit_lsp::driver::docker::{DockerDriver, DockerEndpoint as DriverEndpoint};
use buildkit_lsp::driver::{Driver, Feature};
use sha2::{Digest as _, Sha256};
use support::{DockerEndpoint, TempContext, BASE_IMAGE};
use tonic::transport::Channel;

// ---------------------------------------------------------------------------
// The protocol, against a hand-made client speaking containerd's messages.

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Serves one store (`local:test`) on a loopback port; returns a channel.
async fn serve(dir: &Path) -> Channel {
    let store = Arc::new(LocalStore::open(dir).unwrap());
    let svc = ContentStoreService::new(BTreeMap::from([("local:test".to_string(), store)]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn with_store<T>(msg: T, store: Option<&str>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Some(s) = store {
        r.metadata_mut().insert(STORE_ID_HEADER, s.parse().unwrap());
    }
    r
}

async fn unary<Req, Resp>(
    ch: &Channel,
    method: &'static str,
    req: tonic::Request<Req>,
) -> Result<Resp, tonic::Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut g = tonic::client::Grpc::new(ch.clone());
    g.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static(method);
    g.unary(req, path, tonic_prost::ProstCodec::<Req, Resp>::default())
        .await
        .map(|r| r.into_inner())
}

async fn read_all(
    ch: &Channel,
    store: &str,
    req: api::ReadContentRequest,
) -> Result<Vec<u8>, tonic::Status> {
    let mut g = tonic::client::Grpc::new(ch.clone());
    g.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/containerd.services.content.v1.Content/Read");
    let mut stream = g
        .server_streaming(
            with_store(req, Some(store)),
            path,
            tonic_prost::ProstCodec::<api::ReadContentRequest, api::ReadContentResponse>::default(),
        )
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(m) = stream.message().await? {
        out.extend_from_slice(&m.data);
    }
    Ok(out)
}

/// One `Write` stream: sends `msgs` one at a time, each answered before the
/// next, as containerd's client does; returns the answers or the error.
async fn write(
    ch: &Channel,
    msgs: Vec<api::WriteContentRequest>,
) -> Result<Vec<api::WriteContentResponse>, tonic::Status> {
    let mut g = tonic::client::Grpc::new(ch.clone());
    g.ready().await.unwrap();
    let path =
        http::uri::PathAndQuery::from_static("/containerd.services.content.v1.Content/Write");
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let responses = g.streaming(
        with_store(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            Some("local:test"),
        ),
        path,
        tonic_prost::ProstCodec::<api::WriteContentRequest, api::WriteContentResponse>::default(),
    );
    let mut msgs = msgs.into_iter();
    tx.send(msgs.next().unwrap()).await.unwrap();
    let mut stream = responses.await?.into_inner();
    let mut out = Vec::new();
    loop {
        match stream.message().await? {
            Some(m) => out.push(m),
            None => return Ok(out),
        }
        match msgs.next() {
            Some(m) => tx.send(m).await.unwrap(),
            None => return Ok(out),
        }
    }
}

fn stat(r#ref: &str, total: i64, expected: &str) -> api::WriteContentRequest {
    api::WriteContentRequest {
        action: api::STAT,
        r#ref: r#ref.into(),
        total,
        expected: expected.into(),
        ..Default::default()
    }
}

fn data(offset: i64, bytes: &[u8]) -> api::WriteContentRequest {
    api::WriteContentRequest {
        action: api::WRITE,
        offset,
        data: bytes.to_vec(),
        ..Default::default()
    }
}

fn commit(offset: i64, total: i64, expected: &str) -> api::WriteContentRequest {
    api::WriteContentRequest {
        action: api::COMMIT,
        offset,
        total,
        expected: expected.into(),
        ..Default::default()
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn a_blob_is_written_in_chunks_committed_by_digest_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let ch = serve(dir.path()).await;
    let blob: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let d = sha(&blob);
    let (a, b) = blob.split_at(1_000_000);
    let answers = write(
        &ch,
        vec![
            stat("layer-1", blob.len() as i64, &d),
            data(0, a),
            data(a.len() as i64, b),
            commit(blob.len() as i64, blob.len() as i64, &d),
        ],
    )
    .await
    .expect("the write succeeds");
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[0].offset, 0);
    assert_eq!(answers[0].total, blob.len() as i64);
    assert_eq!(answers[1].offset, a.len() as i64);
    assert_eq!(answers[3].digest, d);
    // The blob is where containerd and buildx look, named by its digest,
    // read-only; nothing is left in ingest/.
    let path = dir.path().join("blobs/sha256").join(&d[7..]);
    assert_eq!(std::fs::read(&path).unwrap(), blob);
    assert!(std::fs::metadata(&path).unwrap().permissions().readonly());
    assert!(entries(&dir.path().join("ingest")).is_empty());

    let info: api::InfoResponse = unary(
        &ch,
        "/containerd.services.content.v1.Content/Info",
        with_store(api::InfoRequest { digest: d.clone() }, Some("local:test")),
    )
    .await
    .unwrap();
    assert_eq!(info.info.unwrap().size, blob.len() as i64);
    let whole = read_all(
        &ch,
        "local:test",
        api::ReadContentRequest {
            digest: d.clone(),
            offset: 0,
            size: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!(whole, blob);
    let part = read_all(
        &ch,
        "local:test",
        api::ReadContentRequest {
            digest: d.clone(),
            offset: 2_999_990,
            size: 100,
        },
    )
    .await
    .unwrap();
    assert_eq!(part, &blob[2_999_990..]);

    // A second writer of the same content is told it exists (BuildKit
    // then skips the blob).
    let e = write(&ch, vec![stat("layer-2", blob.len() as i64, &d)])
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::AlreadyExists, "{e:?}");
}

#[tokio::test]
async fn a_write_that_does_not_match_its_digest_or_size_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ch = serve(dir.path()).await;
    let good = sha(b"hello");
    let e = write(
        &ch,
        vec![stat("r1", 0, ""), data(0, b"hellO"), commit(5, 5, &good)],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    assert!(
        e.message().starts_with(&format!(
            "unexpected commit digest {}, expected {good}",
            sha(b"hellO")
        )),
        "{}",
        e.message()
    );
    let e = write(
        &ch,
        vec![stat("r2", 0, ""), data(0, b"hello"), commit(5, 6, "")],
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    assert!(e
        .message()
        .starts_with("unexpected commit size 5, expected 6"));
    // A write at the wrong offset is refused.
    let e = write(&ch, vec![stat("r3", 0, ""), data(3, b"x")])
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::OutOfRange);
    assert!(entries(&dir.path().join("blobs/sha256")).is_empty());
    // Every ingest is gone once its stream is.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(entries(&dir.path().join("ingest")).is_empty());
}

#[tokio::test]
async fn calls_name_a_known_store_and_a_valid_digest() {
    let dir = tempfile::tempdir().unwrap();
    let ch = serve(dir.path()).await;
    let info = |store: Option<&'static str>, digest: &str| {
        let ch = ch.clone();
        let digest = digest.to_string();
        async move {
            unary::<_, api::InfoResponse>(
                &ch,
                "/containerd.services.content.v1.Content/Info",
                with_store(api::InfoRequest { digest }, store),
            )
            .await
            .unwrap_err()
        }
    };
    let d = sha(b"absent");
    let e = info(None, &d).await;
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains(STORE_ID_HEADER), "{}", e.message());
    let e = info(Some("local:other"), &d).await;
    assert_eq!(e.code(), tonic::Code::NotFound);
    assert!(e.message().starts_with("unknown store local:other"));
    let e = info(Some("local:test"), &d).await;
    assert_eq!(e.code(), tonic::Code::NotFound);
    assert_eq!(e.message(), format!("content digest {d}: not found"));
    // A digest is never a path.
    let e = info(Some("local:test"), "sha256:../../../etc/passwd").await;
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let e = info(Some("local:test"), "md5:d41d8cd98f00b204e9800998ecf8427e").await;
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn two_writers_of_one_ref_are_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let ch = serve(dir.path()).await;
    // The first writer holds the ref open (its stream is not closed).
    let mut g = tonic::client::Grpc::new(ch.clone());
    g.ready().await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(stat("same", 0, "")).await.unwrap();
    let mut first = g
        .streaming(
            with_store(
                tokio_stream::wrappers::ReceiverStream::new(rx),
                Some("local:test"),
            ),
            http::uri::PathAndQuery::from_static("/containerd.services.content.v1.Content/Write"),
            tonic_prost::ProstCodec::<api::WriteContentRequest, api::WriteContentResponse>::default(
            ),
        )
        .await
        .unwrap()
        .into_inner();
    first.message().await.unwrap().unwrap();
    let e = write(&ch, vec![stat("same", 0, "")]).await.unwrap_err();
    // containerd's "locked": BuildKit's writer retries on Unavailable.
    assert_eq!(e.code(), tonic::Code::Unavailable);
    drop(tx);
    drop(first);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let ok = write(
        &ch,
        vec![stat("same", 0, ""), data(0, b"x"), commit(1, 1, "")],
    )
    .await
    .unwrap();
    assert_eq!(ok[2].digest, sha(b"x"));
}

// ---------------------------------------------------------------------------
// On the real daemons.

/// One HTTP/1.0 request to the Engine API; the body of the answer.
fn engine_request(ep: &DockerEndpoint, method: &str, path: &str) -> String {
    fn go<S: Read + Write>(mut s: S, method: &str, path: &str) -> std::io::Result<String> {
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n\r\n"
        )?;
        let mut buf = String::new();
        s.read_to_string(&mut buf)?;
        Ok(buf
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default())
    }
    let r = match ep {
        DockerEndpoint::Unix(p) => {
            std::os::unix::net::UnixStream::connect(p).and_then(|s| go(s, method, path))
        }
        DockerEndpoint::Tcp(a) => std::net::TcpStream::connect(a).and_then(|s| go(s, method, path)),
    };
    r.unwrap_or_else(|e| panic!("{method} {path} on {}: {e}", ep.docker_host()))
}

/// Held by every test here that builds on the daemon. Pruning a record
/// makes the engine collect unreferenced content, which can take blobs
/// from under a cache export running at the same time in the same daemon
/// ("failed to solve: not found" on Engine 26): the daemon tests of this
/// file run one at a time.
static DAEMON: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Removes from the daemon's build cache every record whose description
/// holds `marker` (the RUN steps of this test only, by id: other tests run
/// beside this one); returns how many went. Without this, a second build
/// would be CACHED from the daemon's own cache, proving nothing about the
/// import.
fn prune_records_of(ep: &DockerEndpoint, marker: &str) -> usize {
    let df: serde_json::Value =
        serde_json::from_str(&engine_request(ep, "GET", "/system/df?type=build-cache"))
            .expect("/system/df is JSON");
    let ids: Vec<String> = df["BuildCache"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .filter(|r| {
                    r["Description"]
                        .as_str()
                        .is_some_and(|d| d.contains(marker))
                })
                .filter_map(|r| r["ID"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut pruned = 0;
    for id in &ids {
        let filters = format!("{{\"id\":[\"{id}\"]}}");
        let q: String = filters
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let out = engine_request(ep, "POST", &format!("/build/prune?all=1&filters={q}"));
        if out.contains(id.as_str()) {
            pruned += 1;
        }
    }
    pruned
}

/// Builds `spec`; the names of the vertices that were CACHED, or the error.
async fn build(client: &Client, spec: &BuildSpec) -> Result<(Vec<String>, Vec<String>), String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ProgressEvent>();
    let r = client.build(spec, tx).await;
    let mut cached = Vec::new();
    let mut warnings = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        match ev {
            ProgressEvent::Vertex(v) if v.cached => cached.push(v.name),
            ProgressEvent::Warning { message, .. } => warnings.push(message),
            _ => {}
        }
    }
    match r {
        Ok(_) => Ok((cached, warnings)),
        Err(BuildkitError::Solve(f)) => Err(buildkit_lsp::buildkit::render_failure(&f)),
        Err(e) => Err(e.to_string()),
    }
}

async fn docker_driver(ep: &DockerEndpoint) -> DockerDriver {
    DockerDriver::connect_to(DriverEndpoint::parse(&ep.docker_host()).unwrap())
        .await
        .expect("docker driver")
}

/// The export/prune/import round trip through `client`, asserted.
async fn cache_round_trip(ep: &DockerEndpoint, client: &Client, what: &str) {
    let marker = support::unique_name("localcache");
    let ctx = TempContext::new().file(
        "Dockerfile",
        format!("FROM {BASE_IMAGE}\nRUN echo {marker} > /marker\n"),
    );
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let run = format!("RUN echo {marker} > /marker");

    let mut spec = BuildSpec::new(ctx.path());
    spec.cache_to = vec![CacheSpec::parse(
        "--cache-to",
        &format!("type=local,dest={},mode=max", cache.display()),
    )
    .unwrap()];
    build(client, &spec)
        .await
        .unwrap_or_else(|e| panic!("{what}: export: {e}"));
    // The layout BuildKit's client leaves: index.json naming the cache
    // manifest under `latest`, every blob named by its digest.
    let desc = StoreIndex::new(&cache)
        .get("latest")
        .unwrap()
        .expect("index.json names the cache under latest");
    assert_blobs_match_their_digests(&cache);
    assert!(cache.join("blobs/sha256").join(&desc.digest[7..]).is_file());

    // Without the import, the step runs again once its record is pruned...
    assert!(
        prune_records_of(ep, &marker) > 0,
        "{what}: nothing to prune"
    );
    let (cached, _) = build(client, &BuildSpec::new(ctx.path()))
        .await
        .unwrap_or_else(|e| panic!("{what}: plain rebuild: {e}"));
    assert!(
        !cached.iter().any(|n| n.contains(&run)),
        "{what}: the prune left the step cached: {cached:?}"
    );
    // ...and with it, the step comes from the directory.
    prune_records_of(ep, &marker);
    let mut spec = BuildSpec::new(ctx.path());
    spec.cache_from = vec![CacheSpec::parse(
        "--cache-from",
        &format!("type=local,src={}", cache.display()),
    )
    .unwrap()];
    let (cached, warnings) = build(client, &spec)
        .await
        .unwrap_or_else(|e| panic!("{what}: import: {e}"));
    assert!(warnings.is_empty(), "{what}: {warnings:?}");
    assert!(
        cached.iter().any(|n| n.contains(&run)),
        "{what}: the imported step was not CACHED: {cached:?}"
    );
}

fn assert_blobs_match_their_digests(layout: &Path) {
    let blobs = layout.join("blobs/sha256");
    let names = entries(&blobs);
    assert!(!names.is_empty(), "no blobs in {}", blobs.display());
    for name in names {
        let bytes = std::fs::read(blobs.join(&name)).unwrap();
        assert_eq!(
            sha(&bytes),
            format!("sha256:{name}"),
            "{}",
            layout.display()
        );
    }
}

#[tokio::test]
async fn local_cache_round_trip_through_the_docker_driver_where_the_engine_can_export() {
    let Some(ep) = support::docker_or_skip("local_cache_round_trip_through_the_docker_driver")
    else {
        return;
    };
    let _daemon = DAEMON.lock().await;
    let facts = support::engine_facts(&ep);
    let driver = docker_driver(&ep).await;
    let features = driver.features();
    assert_eq!(features.containerd_store, facts.containerd_store);
    let mut spec = BuildSpec::new(".");
    spec.cache_to = vec![CacheSpec::parse("--cache-to", "type=local,dest=/tmp/x").unwrap()];
    if !facts.containerd_store {
        // The classic image store: buildx's refusal, before any byte is sent.
        let refusal = spec.check(&features).unwrap_err();
        assert_eq!(refusal.feature, Feature::CacheExport);
        assert!(refusal
            .to_string()
            .starts_with("Cache export is not supported for the docker driver."));
        return;
    }
    assert_eq!(spec.check(&features), Ok(()));
    let client = Client::connect(Arc::new(driver)).await.expect("connect");
    cache_round_trip(&ep, &client, "docker driver").await;
}

#[tokio::test]
async fn local_cache_round_trip_through_the_remote_driver() {
    let Some(ep) = support::docker_or_skip("local_cache_round_trip_through_the_remote_driver")
    else {
        return;
    };
    let _daemon = DAEMON.lock().await;
    let relay = support::relay::Relay::unix(&ep, support::relay::RelayTls::None);
    let driver =
        buildkit_lsp::driver::remote::RemoteDriver::new(Some(relay.endpoint()), &BTreeMap::new())
            .unwrap();
    let client = Client::connect(Arc::new(driver) as Arc<dyn Driver>)
        .await
        .expect("connects through the relay");
    if !support::engine_facts(&ep).containerd_store {
        // An engine's BuildKit registers the local cache backend only with
        // its containerd worker (Engine 20.10, and 26 on the classic store):
        // the daemon's own refusal comes back.
        let ctx = TempContext::new().file("Dockerfile", "FROM scratch\nCOPY Dockerfile /\n");
        let dir = tempfile::tempdir().unwrap();
        let mut spec = BuildSpec::new(ctx.path());
        spec.cache_to = vec![CacheSpec::parse(
            "--cache-to",
            &format!("type=local,dest={}", dir.path().display()),
        )
        .unwrap()];
        let e = build(&client, &spec).await.unwrap_err();
        assert!(e.contains("unknown cache exporter: \"local\""), "{e}");
        return;
    }
    cache_round_trip(&ep, &client, "remote driver").await;
}

#[tokio::test]
async fn a_missing_local_cache_is_skipped_with_buildkits_warning() {
    let Some(ep) = support::docker_or_skip("a_missing_local_cache_is_skipped") else {
        return;
    };
    let _daemon = DAEMON.lock().await;
    let relay = support::relay::Relay::unix(&ep, support::relay::RelayTls::None);
    let driver =
        buildkit_lsp::driver::remote::RemoteDriver::new(Some(relay.endpoint()), &BTreeMap::new())
            .unwrap();
    let client = Client::connect(Arc::new(driver) as Arc<dyn Driver>)
        .await
        .unwrap();
    let ctx = TempContext::new().file("Dockerfile", "FROM scratch\nCOPY Dockerfile /\n");
    let dir = tempfile::tempdir().unwrap();
    let mut spec = BuildSpec::new(ctx.path());
    spec.cache_from = vec![CacheSpec::parse(
        "--cache-from",
        &format!("type=local,src={}", dir.path().join("none").display()),
    )
    .unwrap()];
    let (_, warnings) = build(&client, &spec).await.expect("the build still runs");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&format!(
            "local cache import at {} skipped due to err: could not read ",
            dir.path().join("none").display()
        )),
        "{warnings:?}"
    );
}

/// Where `scripts/test-env` leaves Debian 13's buildx plugin.
const BUILDX_PLUGIN: &str =
    "/var/lib/buildkit-lsp/trixie/usr/libexec/docker/cli-plugins/docker-buildx";

fn buildx(ep: &DockerEndpoint, config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("docker")
        .arg("buildx")
        .args(args)
        .env("DOCKER_CONFIG", config)
        .env("DOCKER_HOST", ep.docker_host())
        .env_remove("BUILDX_BUILDER")
        .output()
        .expect("the docker CLI runs")
}

#[tokio::test]
async fn buildx_reads_our_local_cache_and_we_read_the_one_it_writes() {
    let Some(ep) = support::docker_or_skip("buildx_reads_our_local_cache") else {
        return;
    };
    let _daemon = DAEMON.lock().await;
    if !Path::new(BUILDX_PLUGIN).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{BUILDX_PLUGIN} is missing under CI: run scripts/test-env"
        );
        eprintln!("SKIPPED (no docker buildx): {BUILDX_PLUGIN} is missing");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("docker");
    std::fs::create_dir_all(config.join("cli-plugins")).unwrap();
    std::os::unix::fs::symlink(BUILDX_PLUGIN, config.join("cli-plugins/docker-buildx")).unwrap();
    let facts = support::engine_facts(&ep);
    let dir = tempfile::tempdir().unwrap();

    if !facts.containerd_store {
        // buildx refuses the export on this engine as we do, in the same words.
        let ctx = TempContext::new().file("Dockerfile", "FROM scratch\n");
        let dest = format!("type=local,dest={}", dir.path().join("c").display());
        let out = buildx(
            &ep,
            &config,
            &[
                "build",
                "--cache-to",
                &dest,
                &ctx.path().display().to_string(),
            ],
        );
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("Cache export is not supported for the docker driver."),
            "{stderr}"
        );
        return;
    }
    let client = Client::connect(Arc::new(docker_driver(&ep).await))
        .await
        .unwrap();

    // Ours, read by buildx.
    let marker = support::unique_name("ours");
    let ctx = TempContext::new().file(
        "Dockerfile",
        format!("FROM {BASE_IMAGE}\nRUN echo {marker} > /m\n"),
    );
    let ours = dir.path().join("ours");
    let mut spec = BuildSpec::new(ctx.path());
    spec.cache_to =
        vec![
            CacheSpec::parse("--cache-to", &format!("type=local,dest={}", ours.display())).unwrap(),
        ];
    build(&client, &spec).await.expect("our export");
    assert!(prune_records_of(&ep, &marker) > 0);
    let src = format!("type=local,src={}", ours.display());
    let out = buildx(
        &ep,
        &config,
        &[
            "build",
            "--progress",
            "plain",
            "--cache-from",
            &src,
            &ctx.path().display().to_string(),
        ],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let run_then_cached = log
        .lines()
        .skip_while(|l| !l.contains(&format!("RUN echo {marker}")))
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(run_then_cached.ends_with("CACHED"), "{log}");

    // buildx's, read by us.
    let marker = support::unique_name("theirs");
    let ctx = TempContext::new().file(
        "Dockerfile",
        format!("FROM {BASE_IMAGE}\nRUN echo {marker} > /m\n"),
    );
    let theirs = dir.path().join("theirs");
    let dest = format!("type=local,dest={},mode=max", theirs.display());
    let out = buildx(
        &ep,
        &config,
        &[
            "build",
            "--cache-to",
            &dest,
            &ctx.path().display().to_string(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(prune_records_of(&ep, &marker) > 0);
    let mut spec = BuildSpec::new(ctx.path());
    spec.cache_from = vec![CacheSpec::parse(
        "--cache-from",
        &format!("type=local,src={}", theirs.display()),
    )
    .unwrap()];
    let (cached, warnings) = build(&client, &spec).await.expect("our import");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(
        cached
            .iter()
            .any(|n| n.contains(&format!("RUN echo {marker}"))),
        "{cached:?}"
    );
}

/// Builds a small image into an OCI layout directory through `client`.
async fn layout_export(client: &Client, kind: &str, dest: &Path, tag: &str) -> Result<(), String> {
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY m.txt /m.txt\n")
        .file("m.txt", support::unique_name("layout"));
    let mut spec = BuildSpec::new(ctx.path());
    spec.tags = vec![tag.to_string()];
    spec.outputs =
        vec![OutputSpec::parse(&format!("type={kind},tar=false,dest={}", dest.display())).unwrap()];
    build(client, &spec).await.map(|_| ())
}

fn check_layout(dest: &Path, manifest_media_type: &str) -> HashMap<String, String> {
    assert_eq!(
        std::fs::read_to_string(dest.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let idx = StoreIndex::new(dest).read().unwrap();
    assert_eq!(idx.schema_version, 2);
    assert_eq!(idx.manifests.len(), 1, "{idx:?}");
    let m = &idx.manifests[0];
    assert_eq!(m.media_type, manifest_media_type);
    assert_blobs_match_their_digests(dest);
    let manifest = std::fs::read(dest.join("blobs/sha256").join(&m.digest[7..])).unwrap();
    assert_eq!(manifest.len() as i64, m.size);
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    // Every blob the manifest names is in the layout.
    for d in
        std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap().iter())
    {
        let digest = d["digest"].as_str().unwrap();
        assert!(
            dest.join("blobs/sha256").join(&digest[7..]).is_file(),
            "{digest} missing"
        );
    }
    m.annotations.clone().into_iter().collect()
}

#[tokio::test]
async fn oci_and_docker_layout_directories_through_the_remote_driver() {
    let Some(ep) = support::docker_or_skip("oci_layout_directories") else {
        return;
    };
    let _daemon = DAEMON.lock().await;
    let relay = support::relay::Relay::unix(&ep, support::relay::RelayTls::None);
    let driver =
        buildkit_lsp::driver::remote::RemoteDriver::new(Some(relay.endpoint()), &BTreeMap::new())
            .unwrap();
    let client = Client::connect(Arc::new(driver) as Arc<dyn Driver>)
        .await
        .unwrap();
    let facts = support::engine_facts(&ep);
    let dir = tempfile::tempdir().unwrap();
    let oci = dir.path().join("oci");
    let r = layout_export(&client, "oci", &oci, "app:1").await;
    if !facts.buildkit_has_docker_exporter() {
        // Only the engine's containerd worker has the oci/docker exporters.
        let e = r.unwrap_err();
        assert!(e.contains("exporter \"oci\" could not be found"), "{e}");
        return;
    }
    r.expect("oci layout export");
    let a = check_layout(&oci, "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(a["io.containerd.image.name"], "docker.io/library/app:1");
    assert_eq!(a["org.opencontainers.image.ref.name"], "1");
    let docker = dir.path().join("docker");
    layout_export(&client, "docker", &docker, "app:2")
        .await
        .expect("docker layout export");
    check_layout(
        &docker,
        "application/vnd.docker.distribution.manifest.v2+json",
    );
}

#[tokio::test]
async fn oci_layout_directory_through_the_docker_driver_where_the_engine_can_export() {
    let Some(ep) = support::docker_or_skip("oci_layout_directory_docker_driver") else {
        return;
    };
    let _daemon = DAEMON.lock().await;
    let facts = support::engine_facts(&ep);
    let driver = docker_driver(&ep).await;
    let dir = tempfile::tempdir().unwrap();
    let dest: PathBuf = dir.path().join("oci");
    let mut spec = BuildSpec::new(".");
    spec.outputs =
        vec![OutputSpec::parse(&format!("type=oci,tar=false,dest={}", dest.display())).unwrap()];
    if !facts.containerd_store {
        assert_eq!(
            spec.check(&driver.features()).unwrap_err().to_string(),
            "OCI exporter is not supported for the docker driver.\nSwitch to a different driver, or turn on the containerd image store, and try again.\nLearn more at https://docs.docker.com/go/build-exporters/"
        );
        return;
    }
    let client = Client::connect(Arc::new(driver)).await.unwrap();
    layout_export(&client, "oci", &dest, "app:1")
        .await
        .expect("oci layout export");
    check_layout(&dest, "application/vnd.oci.image.manifest.v1+json");
}
