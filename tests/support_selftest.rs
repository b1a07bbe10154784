//! The shared test helpers themselves: the engine probe, unique names and
//! temporary contexts behave as the tests that rely on them assume.

mod support;

use support::{DockerEndpoint, TempContext};

#[test]
fn a_missing_socket_is_reported_with_its_address() {
    let ep = DockerEndpoint::Unix("/nonexistent/docker.sock".into());
    let err = support::engine_answers(&ep).expect_err("nothing listens there");
    assert!(
        err.starts_with("unix:///nonexistent/docker.sock: "),
        "{err}"
    );
}

#[test]
fn unique_names_differ_and_are_lower_case() {
    let a = support::unique_name("BkLsp");
    let b = support::unique_name("BkLsp");
    assert_ne!(a, b);
    assert!(
        a.starts_with(&format!("bklsp-{}-", std::process::id())),
        "{a}"
    );
    assert_eq!(a, a.to_ascii_lowercase());
}

#[test]
fn temp_context_writes_what_it_is_told() {
    let ctx = TempContext::new()
        .file("a/b.txt", "hi")
        .dir("empty")
        .symlink("l", "a/b.txt")
        .mtime("a/b.txt", 1_600_000_000, 5)
        .many_files("m", 150, 7);
    let p = ctx.path();
    assert_eq!(std::fs::read(p.join("a/b.txt")).expect("read"), b"hi");
    assert!(p.join("empty").is_dir());
    assert_eq!(
        std::fs::read_link(p.join("l")).expect("link"),
        std::path::Path::new("a/b.txt")
    );
    let mtime = std::fs::metadata(p.join("a/b.txt"))
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(
        mtime
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after epoch"),
        std::time::Duration::new(1_600_000_000, 5)
    );
    // 150 files in directories of 100: d000 (100) and d001 (50)
    let count = |d: &str| std::fs::read_dir(p.join("m").join(d)).expect("dir").count();
    assert_eq!((count("d000"), count("d001")), (100, 50));
    assert_eq!(
        std::fs::metadata(p.join("m/d001/f00149.bin"))
            .expect("file")
            .len(),
        7
    );
}

#[tokio::test]
async fn the_engine_scripts_test_env_provides_answers() {
    let Some(engine) = support::docker_or_skip("the_engine_scripts_test_env_provides_answers")
    else {
        return;
    };
    let docker = engine.bollard();
    let ping = docker.ping().await.expect("ping over bollard");
    assert_eq!(ping, "OK");
    let image = docker
        .inspect_image(support::BASE_IMAGE)
        .await
        .expect("scripts/test-env imports busybox:test");
    let env = image.config.and_then(|c| c.env).unwrap_or_default();
    assert!(env.iter().any(|e| e == "PATH=/bin"), "{env:?}");
}
