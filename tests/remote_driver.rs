//! The remote driver against a real BuildKit: the test engine's embedded
//! BuildKit behind a loopback relay (`support::relay`), over TCP, a Unix
//! socket, server-only TLS and mutual TLS; the usual TLS set-up mistakes fail
//! at connect time with messages that say what to change; and the CLI's
//! `builder create --driver remote` + `builder ls` report it running.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use buildkit_lsp::build::{BuildSpec, OutputSpec};
use buildkit_lsp::buildkit::Client;
use buildkit_lsp::driver::remote::RemoteDriver;
use buildkit_lsp::driver::{Driver, DriverKind};
use support::relay::{Relay, RelayTls, TestPki};
use support::TempContext;

fn opts(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn tls_opts(pki: &TestPki, client_cert: bool) -> BTreeMap<String, String> {
    let mut o = opts(&[("cacert", pki.path("ca.pem").display().to_string())]);
    if client_cert {
        o.insert("cert".into(), pki.path("client.pem").display().to_string());
        o.insert(
            "key".into(),
            pki.path("client-key.pem").display().to_string(),
        );
    }
    o
}

/// Builds `FROM scratch` + `COPY` of a file with unique content through the
/// driver, exported with `type=local`, and checks the exported bytes.
async fn build_and_check(driver: RemoteDriver) {
    assert_eq!(driver.features().kind, DriverKind::Remote);
    let marker = support::unique_name("remote");
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n")
        .file("a.txt", format!("{marker}\n"));
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("export");
    let mut spec = BuildSpec::new(ctx.path());
    spec.outputs = vec![OutputSpec::parse(&format!("type=local,dest={}", dest.display())).unwrap()];
    let client = Client::connect(Arc::new(driver) as Arc<dyn Driver>)
        .await
        .expect("connects through the relay");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = client.build(&spec, tx).await.expect("the build succeeds");
    assert_eq!(
        std::fs::read_to_string(dest.join("a.txt")).unwrap(),
        format!("{marker}\n")
    );
    assert!(outcome.transfer.was_sent("context", "a.txt"));
}

async fn connect_error(driver: RemoteDriver) -> String {
    match Client::connect(Arc::new(driver) as Arc<dyn Driver>).await {
        Ok(_) => panic!("the connection should have been refused"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn builds_over_tcp() {
    let Some(engine) = support::docker_or_skip("builds_over_tcp") else {
        return;
    };
    let relay = Relay::tcp(&engine, RelayTls::None);
    assert!(relay.endpoint().starts_with("tcp://127.0.0.1:"));
    let driver = RemoteDriver::new(Some(relay.endpoint()), &BTreeMap::new()).unwrap();
    assert!(!driver.uses_tls());
    build_and_check(driver).await;
    // the probe connection, then the control connection
    assert_eq!(relay.accepted(), 2);
}

#[tokio::test]
async fn builds_over_a_unix_socket_with_run_steps() {
    let Some(engine) = support::docker_or_skip("builds_over_a_unix_socket_with_run_steps") else {
        return;
    };
    let relay = Relay::unix(&engine, RelayTls::None);
    assert!(relay.endpoint().starts_with("unix:///"));
    let driver = RemoteDriver::new(Some(relay.endpoint()), &BTreeMap::new()).unwrap();
    let ctx = TempContext::new().file(
        "Dockerfile",
        "FROM busybox:test AS b\nRUN printf 'via unix' > /o\nFROM scratch\nCOPY --from=b /o /o\n",
    );
    let out = tempfile::tempdir().unwrap();
    let mut spec = BuildSpec::new(ctx.path());
    spec.outputs = vec![OutputSpec::parse(&format!(
        "type=local,dest={}",
        out.path().join("x").display()
    ))
    .unwrap()];
    let client = Client::connect(Arc::new(driver) as Arc<dyn Driver>)
        .await
        .unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    client.build(&spec, tx).await.expect("the build succeeds");
    assert_eq!(
        std::fs::read(out.path().join("x/o")).unwrap(),
        b"via unix".to_vec()
    );
}

#[tokio::test]
async fn builds_over_server_only_tls() {
    let Some(engine) = support::docker_or_skip("builds_over_server_only_tls") else {
        return;
    };
    let pki = TestPki::new();
    let relay = Relay::tcp(&engine, RelayTls::Server(&pki));
    let driver = RemoteDriver::new(Some(relay.endpoint()), &tls_opts(&pki, false)).unwrap();
    assert!(driver.uses_tls());
    build_and_check(driver).await;
}

#[tokio::test]
async fn builds_over_mutual_tls() {
    let Some(engine) = support::docker_or_skip("builds_over_mutual_tls") else {
        return;
    };
    let pki = TestPki::new();
    let relay = Relay::tcp(&engine, RelayTls::Mutual(&pki));
    let driver = RemoteDriver::new(Some(relay.endpoint()), &tls_opts(&pki, true)).unwrap();
    build_and_check(driver).await;
}

#[tokio::test]
async fn mutual_tls_over_a_unix_socket_with_servername() {
    let Some(engine) = support::docker_or_skip("mutual_tls_over_a_unix_socket_with_servername")
    else {
        return;
    };
    let pki = TestPki::new();
    let relay = Relay::unix(&engine, RelayTls::Mutual(&pki));
    // no host to verify on a socket: servername is required, and used
    let e = RemoteDriver::new(Some(relay.endpoint()), &tls_opts(&pki, true)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "remote driver: TLS over a unix socket needs the driver option servername (the name in the server's certificate)"
    );
    let mut o = tls_opts(&pki, true);
    o.insert("servername".into(), "localhost".into());
    build_and_check(RemoteDriver::new(Some(relay.endpoint()), &o).unwrap()).await;
    // a name the certificate does not carry is refused
    o.insert("servername".into(), "elsewhere.example".into());
    let e = connect_error(RemoteDriver::new(Some(relay.endpoint()), &o).unwrap()).await;
    assert!(
        e.contains(
            "the server's certificate does not name this host; set the driver option servername"
        ),
        "{e}"
    );
}

#[tokio::test]
async fn wrong_ca_is_refused_naming_the_cacert_file() {
    let Some(engine) = support::docker_or_skip("wrong_ca_is_refused_naming_the_cacert_file") else {
        return;
    };
    let pki = TestPki::new();
    let other = TestPki::new();
    let relay = Relay::tcp(&engine, RelayTls::Server(&pki));
    let ca = other.path("ca.pem");
    let driver = RemoteDriver::new(
        Some(relay.endpoint()),
        &opts(&[("cacert", ca.display().to_string())]),
    )
    .unwrap();
    let e = connect_error(driver).await;
    assert_eq!(
        e,
        format!(
            "cannot connect to BuildKit at {}: TLS: the server's certificate is not signed by the CA in cacert {}; point cacert at the CA that issued it (invalid peer certificate: UnknownIssuer)",
            relay.endpoint(),
            ca.display()
        )
    );
}

#[tokio::test]
async fn missing_client_certificate_is_explained() {
    let Some(engine) = support::docker_or_skip("missing_client_certificate_is_explained") else {
        return;
    };
    let pki = TestPki::new();
    let relay = Relay::tcp(&engine, RelayTls::Mutual(&pki));
    let driver = RemoteDriver::new(Some(relay.endpoint()), &tls_opts(&pki, false)).unwrap();
    let e = connect_error(driver).await;
    assert!(
        e.starts_with(&format!(
            "cannot connect to BuildKit at {}: TLS: the server requires a client certificate (mutual TLS); set the driver options cert and key (",
            relay.endpoint()
        )),
        "{e}"
    );
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_rejected() {
    let Some(engine) = support::docker_or_skip("client_certificate_from_another_ca_is_rejected")
    else {
        return;
    };
    let pki = TestPki::new();
    let other = TestPki::new();
    let relay = Relay::tcp(&engine, RelayTls::Mutual(&pki));
    let mut o = tls_opts(&pki, false);
    o.insert(
        "cert".into(),
        other.path("client.pem").display().to_string(),
    );
    o.insert(
        "key".into(),
        other.path("client-key.pem").display().to_string(),
    );
    let e = connect_error(RemoteDriver::new(Some(relay.endpoint()), &o).unwrap()).await;
    assert!(
        e.contains("TLS: the server rejected our client certificate (cert, key); use one signed by the CA the server trusts"),
        "{e}"
    );
}

#[tokio::test]
async fn plaintext_to_a_tls_endpoint_is_explained() {
    let Some(engine) = support::docker_or_skip("plaintext_to_a_tls_endpoint_is_explained") else {
        return;
    };
    let pki = TestPki::new();
    let relay = Relay::tcp(&engine, RelayTls::Server(&pki));
    let driver = RemoteDriver::new(Some(relay.endpoint()), &BTreeMap::new()).unwrap();
    let e = connect_error(driver).await;
    assert!(
        e.starts_with(&format!(
            "cannot connect to BuildKit at {}: ",
            relay.endpoint()
        )) && e.contains("set the driver options cacert (and cert, key for mutual TLS)"),
        "{e}"
    );
}

#[tokio::test]
async fn tls_to_a_plaintext_endpoint_is_explained() {
    let Some(engine) = support::docker_or_skip("tls_to_a_plaintext_endpoint_is_explained") else {
        return;
    };
    let pki = TestPki::new();
    let relay = Relay::tcp(&engine, RelayTls::None);
    let driver = RemoteDriver::new(Some(relay.endpoint()), &tls_opts(&pki, false)).unwrap();
    let e = connect_error(driver).await;
    assert!(
        e.contains("TLS: the server does not speak TLS; remove the driver options cacert, cert, key and servername"),
        "{e}"
    );
}

#[tokio::test]
async fn nothing_listening_is_a_clear_error() {
    // a port just released: nothing listens there
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let driver = RemoteDriver::new(Some(&ep), &BTreeMap::new()).unwrap();
    let e = connect_error(driver).await;
    assert!(
        e.starts_with(&format!(
            "cannot connect to BuildKit at {ep}: Connection refused"
        )) && e.ends_with("is BuildKit listening there?"),
        "{e}"
    );
}

#[test]
fn builder_create_remote_then_ls_shows_it_running_with_platforms() {
    let Some(engine) =
        support::docker_or_skip("builder_create_remote_then_ls_shows_it_running_with_platforms")
    else {
        return;
    };
    let pki = TestPki::new();
    let relay = Relay::tcp(&engine, RelayTls::Mutual(&pki));
    let home = tempfile::tempdir().unwrap();
    let cacert = format!("cacert={}", pki.path("ca.pem").display());
    let cert = format!("cert={}", pki.path("client.pem").display());
    let key = format!("key={}", pki.path("client-key.pem").display());
    let out = support::cli(
        home.path(),
        &[
            "builder",
            "create",
            "--name",
            "rem",
            "--driver",
            "remote",
            "--driver-opt",
            &cacert,
            "--driver-opt",
            &cert,
            "--driver-opt",
            &key,
            "--bootstrap",
            relay.endpoint(),
        ],
    );
    assert!(
        out.status.success(),
        "create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "rem\n");

    let out = support::cli(home.path(), &["builder", "ls", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rem = rows
        .iter()
        .find(|r| r["Name"] == "rem")
        .expect("rem is listed");
    assert_eq!(rem["Driver"], "remote");
    let node = &rem["Nodes"][0];
    assert_eq!(node["Endpoint"], relay.endpoint());
    assert_eq!(node["Status"], "running");
    // The engine's BuildKit offers linux/amd64 (and 386) on this machine.
    let platforms: Vec<&str> = node["Platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(platforms.contains(&"linux/amd64"), "{platforms:?}");

    // Without the client certificate the same builder is not running, and
    // ls says why.
    let relay_plain = Relay::tcp(&engine, RelayTls::Mutual(&pki));
    let out = support::cli(
        home.path(),
        &[
            "builder",
            "create",
            "--name",
            "nocert",
            "--driver",
            "remote",
            "--driver-opt",
            &cacert,
            relay_plain.endpoint(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = support::cli(home.path(), &["builder", "ls", "--format", "json"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let row: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["Name"] == "nocert")
        .expect("nocert is listed");
    assert_eq!(row["Nodes"][0]["Status"], "error", "{text}");
}

#[test]
fn cli_build_with_a_remote_builder_from_the_store() {
    let Some(engine) = support::docker_or_skip("cli_build_with_a_remote_builder_from_the_store")
    else {
        return;
    };
    let relay = Relay::unix(&engine, RelayTls::None);
    let home = tempfile::tempdir().unwrap();
    let out = support::cli(
        home.path(),
        &[
            "builder",
            "create",
            "--name",
            "rb",
            "--driver",
            "remote",
            relay.endpoint(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let marker = support::unique_name("cli-remote");
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY m.txt /m.txt\n")
        .file("m.txt", &marker);
    let dest = ctx.path().join("out");
    let output = format!("type=local,dest={}", dest.display());
    let ctx_arg = ctx.path().display().to_string();
    let out = support::cli(
        home.path(),
        &["build", "--builder", "rb", "--output", &output, &ctx_arg],
    );
    assert!(
        out.status.success(),
        "build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(dest.join("m.txt")).unwrap(), marker);
    // an unknown builder is named
    let out = support::cli(home.path(), &["build", "--builder", "nope", &ctx_arg]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR: no builder \"nope\" found\n"
    );
}

#[test]
fn buildkit_host_names_the_endpoint_when_none_is_given() {
    let Some(engine) =
        support::docker_or_skip("buildkit_host_names_the_endpoint_when_none_is_given")
    else {
        return;
    };
    let relay = Relay::unix(&engine, RelayTls::None);
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
        .args([
            "builder",
            "create",
            "--name",
            "fromenv",
            "--driver",
            "remote",
            "--bootstrap",
        ])
        .env("HOME", home.path())
        .env("DOCKER_CONFIG", home.path().join("docker"))
        .env("BUILDKIT_HOST", relay.endpoint())
        .env_remove("BUILDX_CONFIG")
        .env_remove("BUILDX_BUILDER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = support::cli(home.path(), &["builder", "inspect", "fromenv"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
    };
    assert_eq!(
        field("Endpoint:").as_deref(),
        Some(relay.endpoint()),
        "{text}"
    );
    assert_eq!(field("Status:").as_deref(), Some("running"), "{text}");
    // the remote row of the capability table
    assert!(
        text.contains(" BuildKit configuration:    managed externally\n"),
        "{text}"
    );
}

#[test]
fn bootstrap_waits_for_a_daemon_that_comes_up_late() {
    let Some(engine) = support::docker_or_skip("bootstrap_waits_for_a_daemon_that_comes_up_late")
    else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let sock = home.path().join("late.sock");
    let endpoint = format!("unix://{}", sock.display());
    // BuildKit "starts" 3 s after the create command
    let late = Relay::unix_later(&engine, &sock, std::time::Duration::from_secs(3));
    let started = std::time::Instant::now();
    let out = support::cli(
        home.path(),
        &[
            "builder",
            "create",
            "--name",
            "late",
            "--driver",
            "remote",
            "--bootstrap",
            &endpoint,
        ],
    );
    let took = started.elapsed();
    let relay = late.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        took >= std::time::Duration::from_secs(3) && took < std::time::Duration::from_secs(10),
        "{took:?}"
    );
    assert!(relay.accepted() >= 1);

    // nobody ever listening: gives up after 20 s, naming the endpoint
    let never = format!("unix://{}", home.path().join("never.sock").display());
    let started = std::time::Instant::now();
    let out = support::cli(
        home.path(),
        &[
            "builder",
            "create",
            "--name",
            "never",
            "--driver",
            "remote",
            "--bootstrap",
            &never,
        ],
    );
    let took = started.elapsed().as_secs();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!((20..30).contains(&took), "took {took} s");
    assert!(
        stderr.starts_with(&format!(
            "ERROR: builder \"never\": BuildKit at {never} did not answer within 20 s: cannot connect to BuildKit at {never}: No such file or directory"
        )),
        "{stderr}"
    );
}
