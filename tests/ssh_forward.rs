//! SSH forwarding (`--ssh`), held against OpenSSH's own tools: the session's
//! `moby.sshforward.v1.SSH` service, reached through its gRPC
//! `ForwardAgent` stream as BuildKit reaches it, serves key files to
//! `ssh-add -l` and `ssh-keygen -Y sign` (signatures verified by
//! `ssh-keygen -Y verify`); and on the real engine, `RUN --mount=type=ssh`
//! runs the host's `ssh-add`/`ssh-keygen` (copied into the build with their
//! libraries, since busybox has no agent client) against the forwarded
//! socket: a real `ssh-agent` from `SSH_AUTH_SOCK` (listed, and read-only:
//! `ssh-add -D` inside the build fails and the key stays), and key files
//! (listed, and a signature made inside the build verifies on the host).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bollard_buildkit_proto::moby::sshforward::v1::ssh_client::SshClient;
use bollard_buildkit_proto::moby::sshforward::v1::BytesMessage;
use buildkit_lsp::build::SshSpec;
use buildkit_lsp::buildkit::sshforward::SshForwardService;
use support::home::Home;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Runs a host command, panicking with its stderr when it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// OpenSSH's client tools, or `None` after a loud skip (a panic under CI).
fn openssh_or_skip(test: &str) -> Option<()> {
    let ok = Command::new("ssh-keygen")
        .arg("-?")
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if ok {
        return Some(());
    }
    let msg = format!("SKIPPED (no openssh-client): {test}: run scripts/test-env.");
    if std::env::var_os("CI").is_some() {
        panic!("{msg} CI is set, so skipping is an error.");
    }
    eprintln!("\n!!!!!!!! {msg}\n");
    None
}

/// A new key without a passphrase; returns the private key's path.
fn keygen(dir: &Path, name: &str, kind: &str) -> PathBuf {
    let path = dir.join(name);
    run(Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", kind, "-C"])
        .arg(format!("{name}@test"))
        .arg("-f")
        .arg(&path));
    path
}

/// The `SHA256:…` fingerprint of a key, as `ssh-add -l` prints it.
fn fingerprint(key: &Path) -> String {
    let out = run(Command::new("ssh-keygen").arg("-lf").arg(pub_of(key)));
    out.split_whitespace()
        .nth(1)
        .expect("ssh-keygen -l prints BITS FINGERPRINT COMMENT (TYPE)")
        .to_string()
}

fn pub_of(key: &Path) -> PathBuf {
    PathBuf::from(format!("{}.pub", key.display()))
}

/// `ssh-keygen -Y verify` of `data` and its signature by `key`.
fn verify(key: &Path, data: &Path, sig: &Path) -> String {
    let public = std::fs::read_to_string(pub_of(key)).unwrap();
    let allowed = data.with_extension("allowed");
    std::fs::write(&allowed, format!("me {public}")).unwrap();
    run(Command::new("ssh-keygen")
        .args(["-Y", "verify", "-I", "me", "-n", "file", "-f"])
        .arg(&allowed)
        .arg("-s")
        .arg(sig)
        .stdin(std::fs::File::open(data).unwrap()))
}

/// Serves `svc` over gRPC on a unix socket, and a plain agent socket whose
/// every connection is one `ForwardAgent` stream for `id`, as BuildKit's
/// side opens them. Returns the agent socket's path.
async fn forward_through_grpc(svc: SshForwardService, dir: &Path, id: &str) -> PathBuf {
    let grpc = dir.join("grpc.sock");
    let listener = tokio::net::UnixListener::bind(&grpc).unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(svc.into_server())
            .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener)),
    );
    let channel = tonic::transport::Endpoint::try_from("http://session")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_| {
            let grpc = grpc.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(grpc).await?,
                ))
            }
        }))
        .await
        .unwrap();
    let agent = dir.join("agent.sock");
    let agents = tokio::net::UnixListener::bind(&agent).unwrap();
    let id = id.to_string();
    tokio::spawn(async move {
        while let Ok((conn, _)) = agents.accept().await {
            let mut client = SshClient::new(channel.clone());
            let id = id.clone();
            tokio::spawn(async move {
                let (mut rd, mut wr) = conn.into_split();
                let (tx, rx) = tokio::sync::mpsc::channel::<BytesMessage>(16);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 32 * 1024];
                    while let Ok(n) = rd.read(&mut buf).await {
                        if n == 0
                            || tx
                                .send(BytesMessage {
                                    data: buf[..n].to_vec(),
                                })
                                .await
                                .is_err()
                        {
                            break;
                        }
                    }
                });
                let mut req = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
                req.metadata_mut()
                    .insert("buildkit.ssh.id", id.parse().unwrap());
                let Ok(resp) = client.forward_agent(req).await else {
                    return;
                };
                let mut inbound = resp.into_inner();
                while let Ok(Some(msg)) = inbound.message().await {
                    if wr.write_all(&msg.data).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    agent
}

#[tokio::test]
async fn forwarded_key_files_are_listed_and_sign_for_openssh() {
    if openssh_or_skip("forwarded_key_files_are_listed_and_sign_for_openssh").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = [
        keygen(dir.path(), "ed", "ed25519"),
        keygen(dir.path(), "rsa", "rsa"),
        keygen(dir.path(), "ec", "ecdsa"),
    ];
    let svc = SshForwardService::with_auth_sock(
        &[SshSpec {
            id: "deploy".into(),
            paths: keys.to_vec(),
        }],
        None,
    )
    .unwrap();
    let agent = forward_through_grpc(svc, dir.path(), "deploy").await;
    let agent2 = agent.clone();
    let listed = tokio::task::spawn_blocking(move || {
        run(Command::new("ssh-add")
            .arg("-l")
            .env("SSH_AUTH_SOCK", &agent2))
    })
    .await
    .unwrap();
    for k in &keys {
        assert!(listed.contains(&fingerprint(k)), "{k:?} not in {listed}");
    }
    assert!(listed.contains("ed@test (ED25519)"), "{listed}");
    // A signature by each key, made through the forwarded agent.
    for k in &keys {
        let data = dir
            .path()
            .join(format!("{}.data", k.file_name().unwrap().to_string_lossy()));
        std::fs::write(&data, b"signed through the session").unwrap();
        let (agent, k2, d2) = (agent.clone(), k.clone(), data.clone());
        tokio::task::spawn_blocking(move || {
            run(Command::new("ssh-keygen")
                .args(["-Y", "sign", "-U", "-n", "file", "-f"])
                .arg(pub_of(&k2))
                .arg(&d2)
                .env("SSH_AUTH_SOCK", &agent))
        })
        .await
        .unwrap();
        let sig = PathBuf::from(format!("{}.sig", data.display()));
        verify(k, &data, &sig);
    }
}

#[tokio::test]
async fn an_unknown_id_is_refused_with_buildkits_words() {
    use bollard_buildkit_proto::moby::sshforward::v1::ssh_server::Ssh;
    use bollard_buildkit_proto::moby::sshforward::v1::CheckAgentRequest;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s");
    let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let svc = SshForwardService::with_auth_sock(
        &[SshSpec::parse("default")],
        Some(sock.into_os_string()),
    )
    .unwrap();
    assert!(svc
        .check_agent(tonic::Request::new(CheckAgentRequest { id: String::new() }))
        .await
        .is_ok());
    let e = svc
        .check_agent(tonic::Request::new(CheckAgentRequest { id: "git".into() }))
        .await
        .unwrap_err();
    assert_eq!(e.message(), "unset ssh forward key git");
}

/// A running `ssh-agent -D` on its own socket, killed on drop.
struct Agent {
    child: Child,
    sock: PathBuf,
}

impl Agent {
    fn start(dir: &Path) -> Agent {
        let sock = dir.join("host-agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .spawn()
            .expect("ssh-agent runs");
        for _ in 0..100 {
            if sock.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Agent { child, sock }
    }

    fn add(&self, key: &Path) {
        run(Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.sock));
    }

    fn list(&self) -> String {
        run(Command::new("ssh-add")
            .arg("-l")
            .env("SSH_AUTH_SOCK", &self.sock))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A context with the host's `ssh-add` and `ssh-keygen` and the libraries
/// they load under `tools/`; `TOOL` in a RUN line runs one of them.
fn context_with_openssh(dockerfile: &str) -> support::TempContext {
    let mut ctx = support::TempContext::new().dir("tools");
    let mut files: Vec<PathBuf> = vec!["/usr/bin/ssh-add".into(), "/usr/bin/ssh-keygen".into()];
    let ldd = run(Command::new("ldd")
        .arg("/usr/bin/ssh-keygen")
        .arg("/usr/bin/ssh-add"));
    for word in ldd.split_whitespace() {
        if word.starts_with('/') && word.contains(".so") {
            files.push(word.into());
        }
    }
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&f).unwrap();
        ctx = ctx.file(&format!("tools/{name}"), bytes);
        use std::os::unix::fs::PermissionsExt;
        let copied = ctx.path().join("tools").join(&name);
        std::fs::set_permissions(copied, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    ctx.file(
        "Dockerfile",
        dockerfile.replace(
            "TOOL ",
            "/tools/ld-linux-x86-64.so.2 --library-path /tools /tools/",
        ),
    )
}

/// `buildkit-lsp build` on the test engine's docker driver, results to `out`.
fn build(
    home: &Home,
    ctx: &Path,
    out: &Path,
    extra: &[&str],
    agent: Option<&Path>,
) -> std::process::Output {
    let mut cmd = home.command();
    cmd.args(["build", "--no-cache", "--progress", "plain", "--output"])
        .arg(format!("type=local,dest={}", out.display()))
        .args(extra)
        .arg(ctx);
    match agent {
        Some(a) => cmd.env("SSH_AUTH_SOCK", a),
        None => cmd.env_remove("SSH_AUTH_SOCK"),
    };
    cmd.output().expect("the binary runs")
}

#[test]
fn run_mount_ssh_reaches_the_agent_of_ssh_auth_sock_read_only() {
    let test = "run_mount_ssh_reaches_the_agent_of_ssh_auth_sock_read_only";
    let Some(engine) = support::docker_or_skip(test) else {
        return;
    };
    if openssh_or_skip(test).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "agentkey", "ed25519");
    let agent = Agent::start(dir.path());
    agent.add(&key);
    let ctx = context_with_openssh(&format!(
        "FROM {base} AS run\nCOPY tools /tools\n\
         RUN --mount=type=ssh mkdir /out && (test -S \"$SSH_AUTH_SOCK\" && echo socket) > /out/sock.txt && \
         TOOL ssh-add -l > /out/list.txt 2>&1; \
         TOOL ssh-add -D > /out/remove.txt 2>&1; echo \"exit $?\" >> /out/remove.txt\n\
         FROM scratch\nCOPY --from=run /out/ /\n",
        base = support::BASE_IMAGE
    ));
    let home = Home::with_engine(&engine);
    let out = dir.path().join("out");
    let res = build(
        &home,
        ctx.path(),
        &out,
        &["--ssh", "default"],
        Some(&agent.sock),
    );
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    assert_eq!(read("sock.txt"), "socket\n");
    let listed = read("list.txt");
    assert!(listed.contains(&fingerprint(&key)), "{listed}");
    // BuildKit's readOnlyAgent: the build cannot empty the user's agent.
    let removed = read("remove.txt");
    assert!(!removed.ends_with("exit 0\n"), "{removed}");
    assert!(agent.list().contains(&fingerprint(&key)));
}

#[test]
fn run_mount_ssh_lists_and_signs_with_key_files() {
    let test = "run_mount_ssh_lists_and_signs_with_key_files";
    let Some(engine) = support::docker_or_skip(test) else {
        return;
    };
    if openssh_or_skip(test).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ed = keygen(dir.path(), "deploy_ed", "ed25519");
    let rsa = keygen(dir.path(), "deploy_rsa", "rsa");
    let public = std::fs::read(pub_of(&rsa)).unwrap();
    let ctx = context_with_openssh(&format!(
        "FROM {base} AS run\nCOPY tools /tools\nCOPY key.pub /key.pub\n\
         RUN --mount=type=ssh,id=deploy mkdir /out && TOOL ssh-add -l > /out/list.txt 2>&1 && \
         echo made-in-the-build > /out/data && TOOL ssh-keygen -Y sign -U -n file -f /key.pub /out/data\n\
         FROM scratch\nCOPY --from=run /out/ /\n",
        base = support::BASE_IMAGE
    ))
    .file("key.pub", public);
    let home = Home::with_engine(&engine);
    let out = dir.path().join("out");
    let spec = format!("deploy={},{}", ed.display(), rsa.display());
    // No agent in the environment: the keys are all there is.
    let res = build(&home, ctx.path(), &out, &["--ssh", &spec], None);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let listed = std::fs::read_to_string(out.join("list.txt")).unwrap();
    assert!(listed.contains(&fingerprint(&ed)), "{listed}");
    assert!(listed.contains(&fingerprint(&rsa)), "{listed}");
    let verified = verify(&rsa, &out.join("data"), &out.join("data.sig"));
    assert!(
        verified.contains("Good \"file\" signature for me"),
        "{verified}"
    );
}

#[test]
fn a_mount_of_an_id_not_forwarded_fails_with_the_providers_words() {
    let test = "a_mount_of_an_id_not_forwarded_fails_with_the_providers_words";
    let Some(engine) = support::docker_or_skip(test) else {
        return;
    };
    if openssh_or_skip(test).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "k", "ed25519");
    let ctx = support::TempContext::new().file(
        "Dockerfile",
        format!(
            "FROM {}\nRUN --mount=type=ssh,id=other,required=true true\n",
            support::BASE_IMAGE
        ),
    );
    let home = Home::with_engine(&engine);
    let spec = format!("deploy={}", key.display());
    let res = build(
        &home,
        ctx.path(),
        &dir.path().join("out"),
        &["--ssh", &spec],
        None,
    );
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("unset ssh forward key other"), "{stderr}");
    // A bad key file is refused before anything is built, in buildx's words.
    let res = build(
        &home,
        ctx.path(),
        &dir.path().join("out"),
        &["--ssh", "x=/nonexistent/key"],
        None,
    );
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(
        stderr.contains(
            "ERROR: failed to convert agent config {x [/nonexistent/key] false}: failed to convert agent config for ID: \"x\": stat /nonexistent/key: no such file or directory\n"
        ),
        "{stderr}"
    );
}

/// The remote driver carries the session inside `Control.Session` (not the
/// engine's `/session` upgrade): the SSH service answers there too.
#[tokio::test]
async fn key_files_reach_a_run_mount_through_the_remote_driver() {
    use buildkit_lsp::build::{BuildSpec, OutputSpec};
    use buildkit_lsp::buildkit::Client;
    use buildkit_lsp::driver::remote::RemoteDriver;
    use buildkit_lsp::driver::Driver;
    use support::relay::{Relay, RelayTls};
    let test = "key_files_reach_a_run_mount_through_the_remote_driver";
    let Some(engine) = support::docker_or_skip(test) else {
        return;
    };
    if openssh_or_skip(test).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "remote_ed", "ed25519");
    let ctx = context_with_openssh(&format!(
        "FROM {base} AS run\nCOPY tools /tools\n\
         RUN --mount=type=ssh mkdir /out && TOOL ssh-add -l > /out/list.txt 2>&1\n\
         FROM scratch\nCOPY --from=run /out/ /\n",
        base = support::BASE_IMAGE
    ));
    let relay = Relay::tcp(&engine, RelayTls::None);
    let driver = RemoteDriver::new(Some(relay.endpoint()), &Default::default()).unwrap();
    let out = dir.path().join("out");
    let mut spec = BuildSpec::new(ctx.path());
    spec.no_cache = true;
    spec.outputs = vec![OutputSpec::parse(&format!("type=local,dest={}", out.display())).unwrap()];
    spec.ssh = vec![SshSpec {
        id: "default".into(),
        paths: vec![key.clone()],
    }];
    let client = Client::connect(std::sync::Arc::new(driver) as std::sync::Arc<dyn Driver>)
        .await
        .unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    client.build(&spec, tx).await.expect("the build succeeds");
    let listed = std::fs::read_to_string(out.join("list.txt")).unwrap();
    assert!(listed.contains(&fingerprint(&key)), "{listed}");
}
