//! The FileSync DiffCopy server, driven in-process by a real tonic client
//! over an in-memory duplex, the way BuildKit's receiver drives it: STATs
//! until an empty STAT, REQs by STAT index, DATA until an empty DATA, FIN.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bollard_buildkit_proto::fsutil::types::{packet::PacketType, Packet, Stat};
use bollard_buildkit_proto::moby::filesync::v1::file_sync_client::FileSyncClient;
use buildkit_lsp::buildkit::filesync::{
    find_dockerignore, FileSyncService, SyncedDir, TransferStats, DATA_CHUNK_SIZE,
};
use hyper_util::rt::TokioIo;
use support::TempContext;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Endpoint, Server};

/// Serves `svc` on one end of a duplex pipe and returns a client on the other.
async fn connect(svc: FileSyncService) -> FileSyncClient<tonic::transport::Channel> {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(
        Server::builder()
            .add_service(svc.into_server())
            .serve_with_incoming(tokio_stream::iter(vec![Ok::<_, std::io::Error>(server_io)])),
    );
    let slot = Arc::new(Mutex::new(Some(client_io)));
    let channel = Endpoint::from_static("http://filesync.test")
        .connect_with_connector(tower::service_fn(move |_| {
            let io = slot.lock().ok().and_then(|mut s| s.take());
            async move {
                io.map(TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("the duplex pipe was already used"))
            }
        }))
        .await
        .expect("connect over the duplex pipe");
    FileSyncClient::new(channel)
}

/// What the receiver saw.
struct Transfer {
    stats: Vec<Stat>,
    /// STAT index -> DATA payload sizes, the empty terminator included.
    chunks: HashMap<u32, Vec<usize>>,
    /// STAT index -> content.
    data: HashMap<u32, Vec<u8>>,
    fin: bool,
}

fn packet(t: PacketType, id: u32) -> Packet {
    Packet {
        r#type: t as i32,
        id,
        ..Packet::default()
    }
}

/// One DiffCopy as BuildKit runs it; `want(stat)` decides which files to request.
async fn diff_copy(
    client: &mut FileSyncClient<tonic::transport::Channel>,
    metadata: &[(&'static str, &str)],
    want: impl Fn(&Stat) -> bool,
) -> Result<Transfer, tonic::Status> {
    let (tx, rx) = mpsc::channel::<Packet>(16);
    let mut req = tonic::Request::new(ReceiverStream::new(rx));
    for (k, v) in metadata {
        req.metadata_mut()
            .append(*k, v.parse().expect("ascii metadata"));
    }
    let mut resp = client.diff_copy(req).await?.into_inner();
    let mut t = Transfer {
        stats: Vec::new(),
        chunks: HashMap::new(),
        data: HashMap::new(),
        fin: false,
    };
    // listing
    loop {
        let p = resp.message().await?.expect("stream ended during listing");
        match PacketType::try_from(p.r#type) {
            Ok(PacketType::PacketStat) => match p.stat {
                Some(s) => t.stats.push(s),
                None => break,
            },
            Ok(PacketType::PacketErr) => {
                return Err(tonic::Status::internal(String::from_utf8_lossy(&p.data)))
            }
            other => panic!("unexpected packet during listing: {other:?}"),
        }
    }
    // requests
    let mut pending = 0;
    for (i, s) in t.stats.iter().enumerate() {
        if s.mode & 0xfff8_0000 == 0 && want(s) {
            tx.send(packet(PacketType::PacketReq, i as u32))
                .await
                .expect("send REQ");
            pending += 1;
        }
    }
    while pending > 0 {
        let p = resp.message().await?.expect("stream ended during data");
        assert_eq!(
            p.r#type,
            PacketType::PacketData as i32,
            "only DATA expected"
        );
        t.chunks.entry(p.id).or_default().push(p.data.len());
        if p.data.is_empty() {
            pending -= 1;
        } else {
            t.data.entry(p.id).or_default().extend_from_slice(&p.data);
        }
    }
    tx.send(packet(PacketType::PacketFin, 0))
        .await
        .expect("send FIN");
    while let Some(p) = resp.message().await? {
        if p.r#type == PacketType::PacketFin as i32 {
            t.fin = true;
        }
    }
    Ok(t)
}

fn paths(t: &Transfer) -> Vec<&str> {
    t.stats.iter().map(|s| s.path.as_str()).collect()
}

fn index_of(t: &Transfer, path: &str) -> u32 {
    t.stats
        .iter()
        .position(|s| s.path == path)
        .unwrap_or_else(|| panic!("{path} not listed")) as u32
}

fn context_service(dir: &Path) -> (FileSyncService, Arc<TransferStats>) {
    let ctx = SyncedDir::context(dir, Path::new("Dockerfile")).expect("context dir");
    let df = SyncedDir::new(dir).expect("dockerfile dir");
    let svc = FileSyncService::new([("context".to_string(), ctx), ("dockerfile".to_string(), df)]);
    let stats = svc.stats();
    (svc, stats)
}

/// 70,000 bytes: two full 32 KiB chunks and 4,464 bytes.
fn big_content() -> Vec<u8> {
    (0..70_000u32).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn context_listing_and_data_follow_fsutil() {
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY . /\n")
        .file(".dockerignore", "secret.txt\nlogs\n!logs/keep.log\n")
        .file("secret.txt", "password")
        .file("src/a.txt", "hello")
        .file("src/b.bin", big_content())
        .file("logs/x.log", "noise")
        .file("logs/keep.log", "kept")
        .dir("empty")
        .symlink("link", "src/a.txt")
        .mtime("src/a.txt", 1_700_000_000, 123_456_789);
    std::fs::set_permissions(
        ctx.path().join("src/b.bin"),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .expect("chmod");
    std::fs::set_permissions(
        ctx.path().join("empty"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    let (svc, stats) = context_service(ctx.path());
    let mut client = connect(svc).await;

    let t = diff_copy(&mut client, &[("dir-name", "context")], |_| true)
        .await
        .expect("diff copy");

    // secret.txt and logs/x.log never listed; logs listed lazily for keep.log
    assert_eq!(
        paths(&t),
        vec![
            ".dockerignore",
            "Dockerfile",
            "empty",
            "link",
            "logs",
            "logs/keep.log",
            "src",
            "src/a.txt",
            "src/b.bin",
        ]
    );
    let by_path: HashMap<&str, &Stat> = t.stats.iter().map(|s| (s.path.as_str(), s)).collect();
    // Go os.FileMode: ModeDir is 1<<31, ModeSymlink 1<<27, permission bits low
    assert_eq!(by_path["empty"].mode, 0x8000_0000 | 0o700);
    assert_eq!(by_path["empty"].size, 0);
    assert_eq!(by_path["link"].mode & 0x0800_0000, 0x0800_0000);
    assert_eq!(by_path["link"].linkname, "src/a.txt");
    assert_eq!(by_path["link"].size, "src/a.txt".len() as i64);
    assert_eq!(by_path["src/b.bin"].mode, 0o750);
    assert_eq!(by_path["src/b.bin"].size, 70_000);
    assert_eq!(by_path["src/a.txt"].mod_time, 1_700_000_000_123_456_789);
    assert_eq!(by_path["src/a.txt"].size, 5);
    // we run as the owner of the files we just made
    let me = std::fs::metadata(ctx.path().join("src/a.txt")).expect("stat");
    assert_eq!(
        by_path["src/a.txt"].uid,
        std::os::unix::fs::MetadataExt::uid(&me)
    );

    let big = index_of(&t, "src/b.bin");
    assert_eq!(
        t.chunks[&big],
        vec![DATA_CHUNK_SIZE, DATA_CHUNK_SIZE, 4_464, 0]
    );
    assert_eq!(t.data[&big], big_content());
    assert_eq!(t.data[&index_of(&t, "src/a.txt")], b"hello");
    assert_eq!(t.data[&index_of(&t, "logs/keep.log")], b"kept");
    // no data for directories or symlinks
    assert!(!t.chunks.contains_key(&index_of(&t, "link")));
    assert!(t.fin, "our FIN answers BuildKit's FIN");

    let content_bytes = 70_000
        + 5
        + 4
        + "FROM scratch\nCOPY . /\n".len() as u64
        + "secret.txt\nlogs\n!logs/keep.log\n".len() as u64;
    assert_eq!(stats.data_bytes(), content_bytes);
    assert!(!stats.was_sent("context", "secret.txt"));
    assert!(stats.was_sent("context", "src/b.bin"));
    assert_eq!(stats.sent_files().len(), 5);
    assert_eq!(stats.stats_sent(), 9);
    assert_eq!(stats.calls(), 1);
    assert!(stats.wire_bytes() > content_bytes);
}

#[tokio::test]
async fn unchanged_rebuild_requests_nothing_and_sends_no_data() {
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\n")
        .many_files("data", 300, 1000);
    let (svc, stats) = context_service(ctx.path());
    let mut client = connect(svc).await;
    let t = diff_copy(&mut client, &[("dir-name", "context")], |_| false)
        .await
        .expect("diff copy");
    // 1 Dockerfile + "data" + 3 subdirectories + 300 files
    assert_eq!(t.stats.len(), 305);
    assert_eq!(stats.data_bytes(), 0);
    assert!(stats.sent_files().is_empty());
    // only STATs and FIN went over: about a hundred bytes per entry
    assert!(stats.wire_bytes() < 305 * 200, "{}", stats.wire_bytes());
}

#[tokio::test]
async fn buildkit_patterns_and_followpaths_filter_the_listing() {
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\n")
        .file("Dockerfile.dockerignore", "**/*.tmp\n")
        .file("app/main.go", "package main")
        .file("app/main_test.go", "package main")
        .file("app/x.tmp", "t")
        .file("docs/readme.md", "docs");
    let (svc, _) = context_service(ctx.path());
    let mut client = connect(svc).await;

    // the Dockerfile directory, as BuildKit's dockerfile frontend asks for it
    let t = diff_copy(
        &mut client,
        &[
            ("dir-name", "dockerfile"),
            ("followpaths", "Dockerfile"),
            ("followpaths", "Dockerfile.dockerignore"),
            ("followpaths", "dockerfile"),
        ],
        |_| true,
    )
    .await
    .expect("diff copy");
    assert_eq!(paths(&t), vec!["Dockerfile", "Dockerfile.dockerignore"]);

    // include + exclude from BuildKit, and Dockerfile.dockerignore (**/*.tmp) on top
    let t = diff_copy(
        &mut client,
        &[
            ("dir-name", "context"),
            ("include-patterns", "app"),
            ("exclude-patterns", "**/*_test.go"),
        ],
        |_| false,
    )
    .await
    .expect("diff copy");
    assert_eq!(paths(&t), vec!["app", "app/main.go"]);
}

#[tokio::test]
async fn protocol_errors_are_statuses() {
    let ctx = TempContext::new().file("a", "x").dir("d");
    let (svc, _) = context_service(ctx.path());
    let mut client = connect(svc).await;

    let err = diff_copy(&mut client, &[("dir-name", "nope")], |_| false)
        .await
        .err()
        .expect("unknown dir");
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert_eq!(err.message(), "no access allowed to dir \"nope\"");

    let err = diff_copy(
        &mut client,
        &[("dir-name", "context"), ("exclude-patterns", "[")],
        |_| false,
    )
    .await
    .err()
    .expect("bad pattern");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().starts_with("invalid excludepatterns"),
        "{}",
        err.message()
    );

    // REQ for a directory's index: not a file we offered
    let (tx, rx) = mpsc::channel::<Packet>(4);
    let mut req = tonic::Request::new(ReceiverStream::new(rx));
    req.metadata_mut()
        .insert("dir-name", "context".parse().expect("ascii"));
    let mut resp = client.diff_copy(req).await.expect("call").into_inner();
    let mut listed = Vec::new();
    while let Some(p) = resp.message().await.expect("listing") {
        match p.stat {
            Some(s) => listed.push(s.path),
            None => break,
        }
    }
    assert_eq!(listed, vec!["a", "d"]);
    tx.send(packet(PacketType::PacketReq, 1))
        .await
        .expect("REQ");
    let err = loop {
        match resp.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("stream ended without an error"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.message(), "invalid file id 1");

    let err = client
        .tar_stream(tokio_stream::iter(Vec::<Packet>::new()))
        .await
        .expect_err("TarStream refused");
    assert_eq!(err.code(), tonic::Code::Unimplemented);
}

#[tokio::test]
async fn hardlinks_are_sent_once() {
    let ctx = TempContext::new().file("a", "same inode");
    std::fs::hard_link(ctx.path().join("a"), ctx.path().join("b")).expect("hard link");
    let (svc, stats) = context_service(ctx.path());
    let mut client = connect(svc).await;
    let t = diff_copy(&mut client, &[("dir-name", "context")], |s| {
        s.linkname.is_empty()
    })
    .await
    .expect("diff copy");
    assert_eq!(paths(&t), vec!["a", "b"]);
    assert_eq!(t.stats[1].linkname, "a");
    assert_eq!(t.stats[1].size, 0);
    assert_eq!(stats.data_bytes(), "same inode".len() as u64);
}

#[test]
fn dockerfile_specific_ignore_file_wins() {
    let ctx = TempContext::new()
        .file(".dockerignore", "a\n")
        .file("build/app.Dockerfile", "FROM scratch\n")
        .file("build/app.Dockerfile.dockerignore", "b\n");
    let (file, ig) = find_dockerignore(ctx.path(), Path::new("build/app.Dockerfile"))
        .expect("read")
        .expect("found");
    assert_eq!(file, ctx.path().join("build/app.Dockerfile.dockerignore"));
    assert!(ig.is_excluded("b"));
    assert!(!ig.is_excluded("a"));

    let (file, ig) = find_dockerignore(ctx.path(), &ctx.path().join("Dockerfile"))
        .expect("read")
        .expect("found");
    assert_eq!(file, ctx.path().join(".dockerignore"));
    assert!(ig.is_excluded("a"));
}

#[test]
fn invalid_dockerignore_refuses_the_context() {
    let ctx = TempContext::new().file(".dockerignore", "ok\n[bad\n");
    let err = SyncedDir::context(ctx.path(), Path::new("Dockerfile")).expect_err("refused");
    assert!(matches!(
        err,
        buildkit_lsp::buildkit::BuildkitError::Ignore { .. }
    ));
    let msg = err.to_string();
    assert!(
        msg.ends_with(".dockerignore: line 2: invalid .dockerignore pattern \"[bad\": syntax error in pattern (fix or remove the pattern; Docker refuses it too)"),
        "{msg}"
    );
}

/// Figures for docs/filesync.md, not a timed test:
/// `cargo test --release --test filesync_diffcopy -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run by hand"]
async fn measure_5000_files_100_mb() {
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY . /\n")
        .many_files("data", 5_000, 20_000);
    let (svc, stats) = context_service(ctx.path());
    let mut client = connect(svc).await;

    let start = std::time::Instant::now();
    let t = diff_copy(&mut client, &[("dir-name", "context")], |_| true)
        .await
        .expect("full copy");
    let full = start.elapsed();
    let (full_data, full_wire) = (stats.data_bytes(), stats.wire_bytes());
    assert_eq!(full_data, 5_000 * 20_000 + 22);

    let start = std::time::Instant::now();
    let again = diff_copy(&mut client, &[("dir-name", "context")], |_| false)
        .await
        .expect("listing only");
    let listing = start.elapsed();
    let listing_wire = stats.wire_bytes() - full_wire;
    assert_eq!(stats.data_bytes(), full_data, "no data on the second pass");
    assert_eq!(again.stats.len(), t.stats.len());
    eprintln!(
        "entries={} full: {:?} data={} B wire={} B ({:.0} MB/s) | unchanged: {:?} wire={} B",
        t.stats.len(),
        full,
        full_data,
        full_wire,
        full_data as f64 / 1e6 / full.as_secs_f64(),
        listing,
        listing_wire
    );
    assert!(listing_wire < 1_000_000);
}

/// Go's gRPC (BuildKit) sends every REQ in its own small HTTP/2 DATA frame;
/// h2 closes the whole connection ("too_many_data_frames") if too many of
/// them sit unread. The server must keep draining REQs while it sends data.
#[tokio::test]
async fn a_burst_of_requests_in_separate_frames_is_drained() {
    let ctx = TempContext::new().many_files("data", 3_000, 10_000);
    let (svc, stats) = context_service(ctx.path());
    let mut client = connect(svc).await;
    let (tx, rx) = mpsc::channel::<Packet>(1);
    let mut req = tonic::Request::new(ReceiverStream::new(rx));
    req.metadata_mut()
        .insert("dir-name", "context".parse().expect("ascii"));
    let mut resp = client.diff_copy(req).await.expect("call").into_inner();
    let mut files = Vec::new();
    let mut index = 0u32;
    while let Some(p) = resp.message().await.expect("listing") {
        match p.stat {
            Some(s) if s.mode & 0xfff8_0000 == 0 => {
                files.push(index);
                index += 1;
            }
            Some(_) => index += 1,
            None => break,
        }
    }
    assert_eq!(files.len(), 3_000);
    // one REQ per frame: give the client time to flush each one alone,
    // and read nothing meanwhile, as a receiver busy writing files would
    for id in &files {
        tx.send(packet(PacketType::PacketReq, *id))
            .await
            .expect("REQ");
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    }
    let mut done = 0;
    while done < files.len() {
        let p = resp
            .message()
            .await
            .expect("data after the burst")
            .expect("stream open");
        if p.data.is_empty() {
            done += 1;
        }
    }
    tx.send(packet(PacketType::PacketFin, 0))
        .await
        .expect("FIN");
    let fin = resp.message().await.expect("FIN").expect("FIN packet");
    assert_eq!(fin.r#type, PacketType::PacketFin as i32);
    assert_eq!(stats.data_bytes(), 3_000 * 10_000);
}

/// The Dockerfile's directory is often the context itself: under the
/// `dockerfile` name only the Dockerfile and its ignore file may leave, even
/// if the receiver asks for everything.
#[tokio::test]
async fn dockerfile_dir_sends_only_the_dockerfile_and_its_ignore_file() {
    let ctx = TempContext::new()
        .file("app[1].Dockerfile", "FROM scratch\n")
        .file("app[1].Dockerfile.dockerignore", "secret.txt\n")
        .file("app1.Dockerfile", "not this one")
        .file("secret.txt", "password")
        .file("real/Dockerfile", "FROM scratch\n")
        .symlink("Dockerfile", "real/Dockerfile");
    let bracketed = SyncedDir::dockerfile(&ctx.path().join("app[1].Dockerfile")).expect("dir");
    let linked = SyncedDir::dockerfile(&ctx.path().join("Dockerfile")).expect("dir");
    let svc = FileSyncService::new([
        ("bracketed".to_string(), bracketed),
        ("linked".to_string(), linked),
    ]);
    let stats = svc.stats();
    let mut client = connect(svc).await;

    // no include patterns at all: still only the allowed names
    let t = diff_copy(&mut client, &[("dir-name", "bracketed")], |_| true)
        .await
        .expect("diff copy");
    assert_eq!(
        paths(&t),
        vec!["app[1].Dockerfile", "app[1].Dockerfile.dockerignore"]
    );
    let t = diff_copy(&mut client, &[("dir-name", "linked")], |_| true)
        .await
        .expect("diff copy");
    assert_eq!(paths(&t), vec!["Dockerfile", "real", "real/Dockerfile"]);
    assert!(!stats.was_sent("bracketed", "secret.txt"));
    assert!(!stats.was_sent("bracketed", "app1.Dockerfile"));
    assert_eq!(stats.sent_files().len(), 3);
}
