//! A rebuild of an unchanged 5,000-file / 100 MB context sends (almost)
//! nothing: the session's shared key lets the daemon keep its copy, and the
//! file sync sends only the files whose metadata changed.

mod support;

use std::sync::Arc;
use std::time::Instant;

use buildkit_lsp::build::{BuildSpec, OutputSpec};
use buildkit_lsp::buildkit::Client;
use buildkit_lsp::driver::docker::{DockerDriver, DockerEndpoint};
use support::TempContext;

#[tokio::test]
async fn rebuild_of_unchanged_large_context_sends_under_one_megabyte() {
    let Some(ep) =
        support::docker_or_skip("rebuild_of_unchanged_large_context_sends_under_one_megabyte")
    else {
        return;
    };
    if std::env::var_os("BKL_TRACE").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("BKL_TRACE").unwrap_or_default())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY . /ctx/\n")
        .many_files("data", 5_000, 20_000);
    let driver = DockerDriver::connect_to(DockerEndpoint::parse(&ep.docker_host()).unwrap())
        .await
        .unwrap();
    let client = Client::connect(Arc::new(driver)).await.unwrap();
    let mut spec = BuildSpec::new(ctx.path());
    // No export: the 100 MB layer is built and cached, not written to the
    // image store, so the timings measure the transfer and the solve.
    spec.outputs = vec![OutputSpec::parse("type=cacheonly").unwrap()];

    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let t0 = Instant::now();
    let first = client.build(&spec, tx).await.expect("first build");
    let cold = t0.elapsed();
    assert!(
        first.transfer.data_bytes() >= 100_000_000,
        "the first build sends the whole context, sent {}",
        first.transfer.data_bytes()
    );

    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let t1 = Instant::now();
    let second = client.build(&spec, tx).await.expect("second build");
    let warm = t1.elapsed();
    let sent = second.transfer.data_bytes();
    eprintln!(
        "cold {cold:?} ({} B), warm {warm:?} ({sent} B data, {} B on the wire)",
        first.transfer.data_bytes(),
        second.transfer.wire_bytes()
    );
    assert!(
        sent < 1_000_000,
        "the rebuild sent {sent} bytes of file data"
    );
    assert!(
        second.transfer.wire_bytes() < 1_000_000,
        "the rebuild sent {} bytes on the wire",
        second.transfer.wire_bytes()
    );
    assert!(warm < cold, "rebuild {warm:?} not faster than {cold:?}");
}
