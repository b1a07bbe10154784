//! The docker-container driver against the real engine: create, bootstrap,
//! build, stop, bootstrap again, rm — through the CLI and the buildx store —
//! with a stand-in BuildKit image (`scripts/buildkit-test-image`, built here
//! through our own docker-driver build) whose `buildctl dial-stdio` relays to
//! the engine's BuildKit through `support::relay`. The container runs
//! unprivileged with host networking, as this machine forbids privileged
//! containers; that refusal itself is tested for its message.

mod support;

use std::path::PathBuf;
use std::process::Output;

use bollard::query_parameters::{InspectContainerOptions, LogsOptions};
use futures::StreamExt;
use support::relay::{Relay, RelayTls};
use support::TempContext;

const IMAGE: &str = support::STAND_IN_BUILDKIT_IMAGE;

/// Builds the stand-in image with the docker driver (cached after the first
/// time).
use support::home::Home;

impl Home {
    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        support::expect_success(args, self.run(args))
    }

    /// Runs and expects failure with exit code 1; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        support::expect_failure(args, self.run(args))
    }

    fn node_status(&self, builder: &str) -> serde_json::Value {
        let text = self.ok(&["builder", "ls", "--format", "json"]);
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|r| r["Name"] == builder)
            .unwrap_or_else(|| panic!("{builder} not listed: {text}"))["Nodes"][0]
            .clone()
    }
}

/// Removes a test builder's container and volume whatever happened.
struct Cleanup {
    docker: bollard::Docker,
    node: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let docker = self.docker.clone();
        let container = format!("buildx_buildkit_{}", self.node);
        let volume = format!("{container}_state");
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let _ = docker
                    .remove_container(
                        &container,
                        Some(bollard::query_parameters::RemoveContainerOptions {
                            force: true,
                            ..Default::default()
                        }),
                    )
                    .await;
                let _ = docker
                    .remove_volume(
                        &volume,
                        Some(bollard::query_parameters::RemoveVolumeOptions { force: true }),
                    )
                    .await;
            });
        })
        .join();
    }
}

async fn logs(docker: &bollard::Docker, container: &str) -> String {
    let mut out = String::new();
    let mut s = docker.logs(
        container,
        Some(LogsOptions {
            stdout: true,
            stderr: true,
            ..Default::default()
        }),
    );
    while let Some(Ok(chunk)) = s.next().await {
        out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_bootstrap_build_stop_restart_and_remove() {
    let Some(engine) = support::docker_or_skip("create_bootstrap_build_stop_restart_and_remove")
    else {
        return;
    };
    support::build_stand_in_buildkit_image(&engine).await;
    let docker = engine.bollard();
    let relay = Relay::tcp(&engine, RelayTls::None);
    let relay_addr = relay.endpoint().trim_start_matches("tcp://").to_string();
    let home = Home::with_engine(&engine);
    let name = support::unique_name("dc").replace('-', "_");
    let node = format!("{name}0");
    let container = format!("buildx_buildkit_{node}");
    let _cleanup = Cleanup {
        docker: docker.clone(),
        node: node.clone(),
    };
    let config: PathBuf = home.dir.path().join("buildkitd.toml");
    std::fs::write(
        &config,
        "debug = true\n[worker.oci]\n  max-parallelism = 2\n",
    )
    .unwrap();
    let env_opt = format!("env.BUILDKIT_RELAY={relay_addr}");
    let config_arg = config.display().to_string();

    // create + bootstrap through the CLI
    let out = home.run(&[
        "builder",
        "create",
        "--name",
        &name,
        "--driver",
        "docker-container",
        "--driver-opt",
        &format!("image={IMAGE}"),
        "--driver-opt",
        "network=host",
        "--driver-opt",
        &env_opt,
        "--driver-opt",
        "privileged=false",
        "--driver-opt",
        "memory=256m",
        "--buildkitd-flags",
        "--debug --oci-worker-gc=false",
        "--config",
        &config_arg,
        "--bootstrap",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "create failed: {stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{name}\n"));
    assert!(
        stderr.contains(&format!("creating container {container}"))
            && stderr.contains("waiting for buildkitd"),
        "{stderr}"
    );

    // the container as buildx would have made it
    let c = docker
        .inspect_container(&container, None::<InspectContainerOptions>)
        .await
        .expect("the container exists");
    assert_eq!(c.state.as_ref().and_then(|s| s.running), Some(true));
    let cfg = c.config.clone().unwrap();
    assert_eq!(cfg.image.as_deref(), Some(IMAGE));
    assert_eq!(
        cfg.cmd.clone().unwrap(),
        // network=host adds the entitlement, as buildx does
        [
            "--debug",
            "--oci-worker-gc=false",
            "--allow-insecure-entitlement=network.host",
            "--config",
            "/etc/buildkit/buildkitd.toml"
        ]
    );
    assert!(cfg
        .env
        .clone()
        .unwrap()
        .contains(&format!("BUILDKIT_RELAY={relay_addr}")));
    let host = c.host_config.clone().unwrap();
    assert_eq!(host.network_mode.as_deref(), Some("host"));
    assert_eq!(host.privileged, Some(false));
    assert_eq!(host.memory, Some(256 << 20));
    assert_eq!(
        host.binds.clone().unwrap(),
        [format!("{container}_state:/var/lib/buildkit")]
    );
    // buildkitd (the stand-in) printed its flags and the copied config
    let log = logs(&docker, &container).await;
    assert!(
        log.contains("buildkitd --debug --oci-worker-gc=false --allow-insecure-entitlement=network.host --config /etc/buildkit/buildkitd.toml\ndebug = true\n[worker.oci]\n  max-parallelism = 2\n"),
        "{log}"
    );

    // ls: running, with the platforms of the BuildKit behind dial-stdio
    let st = home.node_status(&name);
    assert_eq!(st["Status"], "running", "{st}");
    let platforms: Vec<String> = st["Platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert!(
        platforms.contains(&"linux/amd64".to_string()),
        "{platforms:?}"
    );

    // a real build through `buildctl dial-stdio`
    let marker = support::unique_name("through-container");
    let ctx = TempContext::new()
        .file(
            "Dockerfile",
            "FROM busybox:test AS b\nCOPY m.txt /m.txt\nRUN cat /m.txt > /copy\nFROM scratch\nCOPY --from=b /copy /copy\n",
        )
        .file("m.txt", &marker);
    let dest = ctx.path().join("out");
    let output = format!("type=local,dest={}", dest.display());
    let ctx_arg = ctx.path().display().to_string();
    home.ok(&["build", "--builder", &name, "--output", &output, &ctx_arg]);
    assert_eq!(std::fs::read_to_string(dest.join("copy")).unwrap(), marker);

    // stop: the container stays, stopped
    home.ok(&["builder", "stop", &name]);
    assert_eq!(home.node_status(&name)["Status"], "stopped");
    // a build on a stopped builder says what to do
    let err = home.fails(&["build", "--builder", &name, &ctx_arg]);
    assert!(err.contains("bootstrap the builder first"), "{err}");

    // inspect --bootstrap starts the same container again
    let id_before = c.id.clone();
    let text = home.ok(&["builder", "inspect", "--bootstrap", &name]);
    assert!(text.contains("running"), "{text}");
    let c2 = docker
        .inspect_container(&container, None::<InspectContainerOptions>)
        .await
        .unwrap();
    assert_eq!(c2.id, id_before);

    // rm --keep-state: container gone, state volume kept
    home.ok(&["builder", "rm", "--keep-state", &name]);
    assert!(docker
        .inspect_container(&container, None::<InspectContainerOptions>)
        .await
        .is_err());
    docker
        .inspect_volume(&format!("{container}_state"))
        .await
        .expect("the state volume is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_refusal_names_the_unprivileged_option() {
    let Some(engine) = support::docker_or_skip("privileged_refusal_names_the_unprivileged_option")
    else {
        return;
    };
    support::build_stand_in_buildkit_image(&engine).await;
    let home = Home::with_engine(&engine);
    let name = support::unique_name("dcpriv").replace('-', "_");
    let _cleanup = Cleanup {
        docker: engine.bollard(),
        node: format!("{name}0"),
    };
    let args = [
        "builder",
        "create",
        "--name",
        &name,
        "--driver",
        "docker-container",
        "--driver-opt",
        &format!("image={IMAGE}"),
        "--bootstrap",
    ];
    if support::privileged_containers_allowed(&engine) {
        // An engine that allows it gets the privileged container buildx
        // creates by default (the stand-in then fails without its relay,
        // which is not what this test is about).
        let _ = home.run(&args);
        let c = engine
            .bollard()
            .inspect_container(
                &format!("buildx_buildkit_{name}0"),
                None::<InspectContainerOptions>,
            )
            .await
            .expect("the builder's container exists");
        assert_eq!(c.host_config.and_then(|h| h.privileged), Some(true));
        return;
    }
    let err = home.fails(&args);
    assert!(
        err.contains("unable to apply caps")
            && err.contains("This host forbids privileged containers: recreate the builder with --driver-opt privileged=false"),
        "{err}"
    );
    // the half-made container was removed again
    assert!(engine
        .bollard()
        .inspect_container(
            &format!("buildx_buildkit_{name}0"),
            None::<InspectContainerOptions>
        )
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_that_cannot_be_pulled_is_explained() {
    let Some(engine) = support::docker_or_skip("missing_image_that_cannot_be_pulled_is_explained")
    else {
        return;
    };
    let home = Home::with_engine(&engine);
    let name = support::unique_name("dcimg").replace('-', "_");
    let _cleanup = Cleanup {
        docker: engine.bollard(),
        node: format!("{name}0"),
    };
    let err = home.fails(&[
        "builder",
        "create",
        "--name",
        &name,
        "--driver",
        "docker-container",
        "--driver-opt",
        "image=127.0.0.1:1/absent/buildkit:none",
        "--driver-opt",
        "privileged=false",
        "--bootstrap",
    ]);
    assert!(
        err.contains("image 127.0.0.1:1/absent/buildkit:none is not in the engine at ")
            && err.contains("and cannot be pulled: ")
            && err.contains("choose an image it has with --driver-opt image=NAME"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buildkitd_that_never_answers_fails_with_its_logs() {
    let Some(engine) = support::docker_or_skip("buildkitd_that_never_answers_fails_with_its_logs")
    else {
        return;
    };
    support::build_stand_in_buildkit_image(&engine).await;
    let home = Home::with_engine(&engine);
    let name = support::unique_name("dcdead").replace('-', "_");
    let _cleanup = Cleanup {
        docker: engine.bollard(),
        node: format!("{name}0"),
    };
    // a port nothing listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = std::time::Instant::now();
    let err = home.fails(&[
        "builder",
        "create",
        "--name",
        &name,
        "--driver",
        "docker-container",
        "--driver-opt",
        &format!("image={IMAGE}"),
        "--driver-opt",
        "network=host",
        "--driver-opt",
        &format!("env.BUILDKIT_RELAY=127.0.0.1:{port}"),
        "--driver-opt",
        "privileged=false",
        "--bootstrap",
    ]);
    let took = started.elapsed().as_secs();
    assert!((20..40).contains(&took), "took {took} s");
    assert!(
        err.contains(
            "buildkitd did not become ready within 20 s (buildctl debug workers exited with 1"
        ) && err.contains("container logs:\nbuildkitd --allow-insecure-entitlement=network.host"),
        "{err}"
    );
}
