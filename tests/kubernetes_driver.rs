//! The kubernetes driver against the Kubernetes API simulator
//! (`tests/k8s_sim`), whose pod exec of `buildctl dial-stdio` is bridged to
//! the test Docker Engine's BuildKit: create → bootstrap → real build → rm
//! through the CLI and the buildx store; readiness timeouts; replicas with
//! sticky and random pod choice; exec retries; the manifests the API server
//! receives for buildx's driver options; token and client-certificate auth.

#[path = "k8s_sim/mod.rs"]
mod k8s_sim;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use buildkit_lsp::builder::status::{instances, query, NodeStatus};
use buildkit_lsp::builder::{Node, NodeGroup};
use buildkit_lsp::driver::kubernetes::{config, exec, Backoff, KubeEnv, KubernetesDriver, Options};
use buildkit_lsp::driver::Driver;
use k8s_sim::{Auth, K8sSim, Readiness, SimOptions};
use serde_json::{json, Value};

/// A temporary HOME with the simulator's kubeconfig; runs the real binary
/// with `KUBECONFIG` pointing at it.
use support::home::Home;

impl Home {
    /// A home with the simulator's kubeconfig at [`Home::kubeconfig`].
    fn with_sim(sim: &K8sSim, engine: &support::DockerEndpoint) -> Home {
        let home = Home::with_engine(engine);
        sim.write_kubeconfig(&home.kubeconfig(), "sim");
        home
    }

    fn kubeconfig(&self) -> PathBuf {
        self.path().join("kube").join("config.yaml")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .current_dir(self.path())
            .env("KUBECONFIG", self.kubeconfig())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (support::expect_success(args, out), stderr)
    }

    fn fails(&self, args: &[&str]) -> String {
        support::expect_failure(args, self.run(args))
    }

    fn instance(&self, name: &str) -> Option<Value> {
        let p = self.dir.path().join("docker/buildx/instances").join(name);
        std::fs::read_to_string(p)
            .ok()
            .map(|t| serde_json::from_str(&t).unwrap())
    }
}

/// A plain-HTTP simulator with bearer-token auth whose pods are ready after
/// `ready_after` (what most tests need).
async fn token_sim(ready_after: Duration) -> K8sSim {
    sim(false, Auth::Token("test-token".into()), ready_after).await
}

/// A simulator with the given auth, pods ready `ready_after` after creation.
async fn sim(tls: bool, auth: Auth, ready_after: Duration) -> K8sSim {
    let sim = K8sSim::start(SimOptions {
        tls,
        auth,
        ..SimOptions::new()
    })
    .await;
    sim.set_readiness(Readiness::After(ready_after));
    sim
}

/// The library driver for node `node` with `opts`, configured from the
/// simulator's kubeconfig as a stored node endpoint would name it.
async fn driver(sim: &K8sSim, dir: &Path, node: &str, opts: &[(&str, &str)]) -> KubernetesDriver {
    let kubeconfig = dir.join(format!("{node}.kubeconfig"));
    sim.write_kubeconfig(&kubeconfig, "sim");
    let endpoint = format!(
        "kubernetes:///b?deployment={node}&kubeconfig={}",
        kubeconfig.display()
    );
    let resolved = config::resolve(&endpoint, &KubeEnv::default())
        .await
        .expect("the simulator's kubeconfig resolves");
    let opts: BTreeMap<String, String> = opts
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let options = Options::from_driver_opts(node, &opts, &[], None, &[]).unwrap();
    KubernetesDriver::with_config(resolved, options).unwrap()
}

fn no_progress() -> impl FnMut(&str) + Send {
    |_: &str| {}
}

fn posts(sim: &K8sSim, resource: &str) -> Vec<Value> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(&format!("/{resource}")))
        .map(|r| r.body)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_bootstrap_build_load_and_rm_through_the_cli() {
    let Some(engine) = support::docker_or_skip("kubernetes create/bootstrap/build/rm") else {
        return;
    };
    let sim = token_sim(Duration::from_millis(300)).await;
    let home = Home::with_sim(&sim, &engine);
    let image = support::unique_name("k8s-default-load");
    let tag = format!("{image}:1");

    let start = Instant::now();
    let (_, stderr) = home.ok(&[
        "builder",
        "create",
        "--name",
        "kube",
        "--driver",
        "kubernetes",
        "--driver-opt",
        "replicas=2,timeout=30s,default-load=true",
        "--bootstrap",
    ]);
    let bootstrap = start.elapsed();
    eprintln!("create --bootstrap (2 replicas ready after 0.3 s): {bootstrap:?}");

    // the store has buildx's kubernetes endpoint for the node
    let inst = home.instance("kube").expect("instance stored");
    let node = inst["Nodes"][0]["Name"].as_str().unwrap().to_string();
    assert!(
        node.starts_with("buildkit-") && node.len() == "buildkit-".len() + 36 + 6,
        "{node}"
    );
    assert_eq!(
        inst["Nodes"][0]["Endpoint"],
        format!(
            "kubernetes:///kube?deployment={node}&kubeconfig={}",
            home.kubeconfig().display().to_string().replace('/', "%2F")
        )
    );
    assert!(
        stderr.contains(&format!("#1 [{node}] creating deployment buildkit/{node}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "#1 [{node}] waiting for 2 pods to be ready, timeout: 30 seconds"
        )),
        "{stderr}"
    );
    let deployments = sim.objects("deployments");
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0]["metadata"]["name"], node.as_str());
    assert_eq!(deployments[0]["metadata"]["namespace"], "buildkit");
    assert_eq!(deployments[0]["status"]["readyReplicas"], 2);

    // ls: the node runs, BuildKit answered through a pod exec
    let (ls, _) = home.ok(&["builder", "ls", "--format", "json"]);
    let row: Value = ls
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["Name"] == "kube")
        .unwrap();
    assert_eq!(row["Driver"], "kubernetes");
    // each running pod is listed as a node, as buildx lists dynamic nodes
    let mut pods: Vec<String> = sim
        .objects("pods")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    pods.sort();
    assert_eq!(pods.len(), 2);
    let mut listed: Vec<String> = row["Nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Name"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, pods, "{ls}");
    assert!(pods[0].starts_with(&format!("{node}-")), "{pods:?}");
    assert_eq!(row["Nodes"][0]["Status"], "running", "{ls}");
    assert_eq!(row["Nodes"][1]["Status"], "running", "{ls}");
    assert!(
        row["Nodes"][0]["Platforms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "linux/amd64"),
        "{ls}"
    );

    // a real build with a RUN step, exported to a local directory
    let ctx = support::TempContext::new().file(
        "Dockerfile",
        // the unique comment keeps the RUN step out of BuildKit's cache
        format!(
            "FROM {}\nRUN echo built in a pod > /out.txt # {image}\n",
            support::BASE_IMAGE
        ),
    );
    let out_dir = home.dir.path().join("out");
    let dest = format!("type=local,dest={}", out_dir.display());
    let start = Instant::now();
    home.ok(&[
        "build",
        "--builder",
        "kube",
        "--progress",
        "plain",
        "--output",
        &dest,
        ctx.path().to_str().unwrap(),
    ]);
    eprintln!(
        "build with an uncached RUN step through pod exec: {:?}",
        start.elapsed()
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("out.txt")).unwrap(),
        "built in a pod\n"
    );
    let execs = sim.execs();
    assert!(!execs.is_empty());
    for e in &execs {
        assert_eq!(e.container, "buildkitd");
        assert_eq!(e.command, ["buildctl", "dial-stdio"]);
        assert!(e.pod.starts_with(&format!("{node}-")), "{e:?}");
    }

    // default-load=true: a build without output asks BuildKit for the docker
    // exporter, whose tarball the session streams into the engine. The
    // embedded BuildKit of Engine 20.10, or of Engine 26 on the classic store
    // (the `moby` worker the simulator bridges to), has no such exporter,
    // unlike a moby/buildkit pod, so it refuses by name; Engine 26's
    // containerd worker has it, and the engine loads the image under its tag.
    let args = [
        "build",
        "--builder",
        "kube",
        "--progress",
        "plain",
        "-t",
        &tag,
        ctx.path().to_str().unwrap(),
    ];
    if support::relayed_buildkit_has_docker_exporter(&engine) {
        let (_, err) = home.ok(&args);
        assert!(err.contains("loading the image into docker"), "{err}");
        let listed = std::process::Command::new("docker")
            .args(["image", "inspect", "--format", "{{.Id}}", &tag])
            .env("DOCKER_HOST", engine.docker_host())
            .output()
            .expect("docker image inspect runs");
        assert!(listed.status.success(), "{tag} was not loaded");
        let _ = std::process::Command::new("docker")
            .args(["image", "rm", &tag])
            .env("DOCKER_HOST", engine.docker_host())
            .output();
    } else {
        let err = home.fails(&args);
        assert!(
            err.contains("exporter \"docker\" could not be found"),
            "{err}"
        );
    }

    // inspect shows the node running with the driver's capabilities; stop
    // leaves the pods alone, as buildx's kubernetes driver does
    let (inspect, _) = home.ok(&["builder", "inspect", "kube"]);
    assert!(inspect.contains("Driver:        kubernetes\n"), "{inspect}");
    assert!(
        inspect.contains("Status:                running\n"),
        "{inspect}"
    );
    assert!(
        inspect.contains(
            "Driver Options:        default-load=\"true\" replicas=\"2\" timeout=\"30s\"\n"
        ),
        "{inspect}"
    );
    assert!(
        inspect.contains(" Automatic --load:          no\n"),
        "{inspect}"
    );
    assert!(
        inspect.contains(" Docker/OCI tarball output: yes\n"),
        "{inspect}"
    );
    home.ok(&["builder", "stop", "kube"]);
    assert_eq!(sim.objects("deployments").len(), 1);

    // --load with no engine to load into: refused with a clear message
    let mut load = Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"));
    let out = load
        .args(["build", "--builder", "kube", "--load", "-t", &tag])
        .arg(ctx.path())
        .current_dir(home.dir.path())
        .env("HOME", home.dir.path())
        .env("DOCKER_CONFIG", home.dir.path().join("docker"))
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("KUBECONFIG", home.kubeconfig())
        .env_remove("BUILDX_BUILDER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "ERROR: --load needs a Docker Engine to load the image into, and none is reachable"
    );

    // rm deletes the workload (and keeps nothing in the store)
    let (_, stderr) = home.ok(&["builder", "rm", "kube"]);
    assert!(stderr.contains("kube removed"), "{stderr}");
    assert!(home.instance("kube").is_none());
    assert_eq!(sim.objects("deployments"), Vec::<Value>::new());
    let deletes: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path)
        .collect();
    assert_eq!(
        deletes,
        [format!(
            "/apis/apps/v1/namespaces/buildkit/deployments/{node}"
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_timeout_names_the_pod_and_its_reason() {
    let sim = token_sim(Duration::ZERO).await;
    sim.set_readiness(Readiness::Never {
        reason: "ImagePullBackOff".into(),
        message: "Back-off pulling image \"moby/buildkit:buildx-stable-1\"".into(),
    });
    let dir = tempfile::tempdir().unwrap();
    let d = driver(&sim, dir.path(), "stuck0", &[("timeout", "1500ms")]).await;
    let start = Instant::now();
    let err = d
        .bootstrap(&mut no_progress())
        .await
        .unwrap_err()
        .to_string();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(10),
        "{took:?}"
    );
    let pods = sim.objects("pods");
    assert_eq!(pods.len(), 1);
    let pod = pods[0]["metadata"]["name"].as_str().unwrap();
    let first = err.lines().next().unwrap();
    assert_eq!(
        first,
        "kubernetes driver: timed out after 1 second waiting for deployment buildkit/stuck0 to have 1 ready pods (0 ready)"
    );
    assert!(
        err.contains(&format!(
            "\n  pod {pod} (Pending): buildkitd waiting: ImagePullBackOff (Back-off pulling image \"moby/buildkit:buildx-stable-1\")"
        )),
        "{err}"
    );
    assert!(
        err.contains("event: Failed: Error: ImagePullBackOff"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_sticky_keeps_a_context_on_one_pod_random_spreads() {
    let sim = token_sim(Duration::from_millis(100)).await;
    let dir = tempfile::tempdir().unwrap();
    let d = driver(&sim, dir.path(), "three0", &[("replicas", "3")]).await;
    d.bootstrap(&mut no_progress()).await.unwrap();
    let pods = d.running_pods().await.unwrap();
    assert_eq!(pods.len(), 3, "{pods:?}");
    assert!(pods.iter().all(|p| p.starts_with("three0-")), "{pods:?}");
    // the store's view: the node's running pods, as `ls` can show them
    let group = NodeGroup {
        name: "three".into(),
        driver: "kubernetes".into(),
        nodes: vec![Node {
            name: "three0".into(),
            endpoint: format!(
                "kubernetes:///three?deployment=three0&kubeconfig={}",
                dir.path().join("three0.kubeconfig").display()
            ),
            driver_opts: Some([("replicas".to_string(), "3".to_string())].into()),
            ..Node::default()
        }],
        ..NodeGroup::default()
    };
    assert_eq!(
        instances(&group).await,
        [("three0".to_string(), Ok(pods.clone()))]
    );

    // At least 8 context paths, and enough that buildx's hashring puts them
    // on two pods or more: pod names are random, so a fixed set of 8 keys
    // can land on one pod (it did, once in CI).
    let mut keys = Vec::new();
    let mut expected = BTreeSet::new();
    for i in 0..1000 {
        let key = format!("/work/project-{i}");
        expected.extend(exec::sticky_choice(&pods, &key).cloned());
        keys.push(key);
        if keys.len() >= 8 && expected.len() >= 2 {
            break;
        }
    }
    assert!(
        expected.len() >= 2,
        "the hashring used one pod for 1000 keys"
    );
    let mut used = BTreeSet::new();
    for key in &keys {
        let sticky = d.clone().with_sticky_key(key);
        let before = sim.execs().len();
        for _ in 0..3 {
            drop(sticky.connect().await.unwrap());
        }
        let chosen: Vec<String> = sim.execs()[before..]
            .iter()
            .map(|e| e.pod.clone())
            .collect();
        assert_eq!(chosen.len(), 3);
        assert!(chosen.iter().all(|p| p == &chosen[0]), "{key}: {chosen:?}");
        // the pod buildx's hashring gives for this key
        assert_eq!(Some(&chosen[0]), exec::sticky_choice(&pods, key), "{key}");
        used.insert(chosen[0].clone());
    }
    // Different contexts really went to different pods.
    assert_eq!(used, expected);

    let random = driver(
        &sim,
        dir.path(),
        "three0",
        &[("replicas", "3"), ("loadbalance", "random")],
    )
    .await;
    let before = sim.execs().len();
    for _ in 0..30 {
        drop(random.connect().await.unwrap());
    }
    let spread: BTreeSet<String> = sim.execs()[before..]
        .iter()
        .map(|e| e.pod.clone())
        .collect();
    assert!(spread.len() >= 2, "30 random choices used {spread:?}");

    // a connection is a working BuildKit endpoint
    match query(Arc::new(d) as Arc<dyn Driver>).await {
        NodeStatus::Running { platforms, .. } => {
            assert!(platforms
                .iter()
                .any(|p| p.os == "linux" && p.architecture == "amd64"))
        }
        other => panic!("status through a pod: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_failing_twice_is_retried_with_backoff_and_a_403_is_not() {
    let sim = token_sim(Duration::from_millis(50)).await;
    let dir = tempfile::tempdir().unwrap();
    let backoff = Backoff {
        attempts: 5,
        base: Duration::from_millis(200),
        max: Duration::from_secs(10),
    };
    let d = driver(&sim, dir.path(), "retry0", &[])
        .await
        .with_backoff(backoff);
    d.bootstrap(&mut no_progress()).await.unwrap();

    sim.fail_next_execs(2, 500);
    let start = Instant::now();
    let stream = d.connect().await.expect("the third exec works");
    let took = start.elapsed();
    drop(stream);
    // waits 200 ms, then 400 ms
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(sim.execs().len(), 3);

    sim.fail_next_execs(1, 403);
    let err = d.connect().await.err().expect("403 is final").to_string();
    assert_eq!(sim.execs().len(), 4, "a 403 is not retried");
    assert!(
        err.contains("exec of buildctl dial-stdio in pod buildkit/retry0-"),
        "{err}"
    );
    assert!(err.contains("(403, Forbidden)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_options_become_buildx_manifests() {
    let sim = token_sim(Duration::from_millis(50)).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig, "sim");
    let endpoint = format!(
        "kubernetes:///m?deployment=opts0&kubeconfig={}",
        kubeconfig.display()
    );
    let opts: BTreeMap<String, String> = [
        ("image", "registry.local/buildkit:v0.20"),
        ("namespace", "buildkit"),
        ("replicas", "2"),
        ("requests.cpu", "500m"),
        ("requests.memory", "1Gi"),
        ("limits.cpu", "2"),
        ("limits.memory", "4Gi"),
        ("nodeselector", "kubernetes.io/arch=amd64,pool=build"),
        (
            "tolerations",
            "key=build,operator=Equal,value=true,effect=NoSchedule",
        ),
        ("annotations", "team=infra"),
        ("labels", "tier=ci"),
        ("serviceaccount", "builder"),
        ("schedulername", "fast"),
        ("env.HTTP_PROXY", "http://proxy:3128"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let files: BTreeMap<String, Vec<u8>> =
        [("buildkitd.toml".to_string(), b"debug = true\n".to_vec())].into();
    let flags = vec!["--allow-insecure-entitlement=network.host".to_string()];
    let platforms = vec!["linux/amd64".to_string()];
    let options =
        Options::from_driver_opts("opts0", &opts, &flags, Some(&files), &platforms).unwrap();
    let resolved = config::resolve(&endpoint, &KubeEnv::default())
        .await
        .unwrap();
    let d = KubernetesDriver::with_config(resolved, options).unwrap();
    d.bootstrap(&mut no_progress()).await.unwrap();

    let cms = posts(&sim, "configmaps");
    assert_eq!(cms.len(), 1);
    assert_eq!(cms[0]["metadata"]["name"], "opts0-config");
    assert_eq!(cms[0]["data"], json!({"buildkitd.toml": "debug = true\n"}));
    let deps = posts(&sim, "deployments");
    assert_eq!(deps.len(), 1);
    let dep = &deps[0];
    let labels = json!({"app": "opts0", "tier": "ci"});
    let annotations = json!({"buildx.docker.com/platform": "linux/amd64", "team": "infra"});
    assert_eq!(dep["apiVersion"], "apps/v1");
    assert_eq!(dep["kind"], "Deployment");
    assert_eq!(
        dep["metadata"],
        json!({"name": "opts0", "labels": labels, "annotations": annotations})
    );
    assert_eq!(dep["spec"]["replicas"], 2);
    assert_eq!(dep["spec"]["selector"], json!({"matchLabels": labels}));
    let tpl = &dep["spec"]["template"];
    assert_eq!(
        tpl["metadata"],
        json!({"labels": labels, "annotations": annotations})
    );
    let spec = &tpl["spec"];
    assert_eq!(spec["serviceAccountName"], "builder");
    assert_eq!(spec["schedulerName"], "fast");
    assert_eq!(
        spec["nodeSelector"],
        json!({"kubernetes.io/arch": "amd64", "pool": "build"})
    );
    assert_eq!(
        spec["tolerations"],
        json!([{"key": "build", "operator": "Equal", "value": "true", "effect": "NoSchedule"}])
    );
    assert_eq!(
        spec["volumes"],
        json!([{"name": "config", "configMap": {"name": "opts0-config"}}])
    );
    let c = &spec["containers"][0];
    assert_eq!(c["name"], "buildkitd");
    assert_eq!(c["image"], "registry.local/buildkit:v0.20");
    assert_eq!(
        c["args"],
        json!(["--allow-insecure-entitlement=network.host"])
    );
    assert_eq!(c["securityContext"], json!({"privileged": true}));
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}})
    );
    assert_eq!(
        c["env"],
        json!([{"name": "HTTP_PROXY", "value": "http://proxy:3128"}])
    );
    assert_eq!(
        c["volumeMounts"],
        json!([{"name": "config", "mountPath": "/etc/buildkit"}])
    );
    assert_eq!(
        c["readinessProbe"]["exec"]["command"],
        json!(["buildctl", "debug", "workers"])
    );
    assert_eq!(c["livenessProbe"]["periodSeconds"], 30);

    // rootless + persistent storage: a StatefulSet with a volume claim
    let d2 = driver(
        &sim,
        dir.path(),
        "pvc0",
        &[
            ("rootless", "true"),
            ("persistent-volume-claim.requests.storage", "20Gi"),
            ("replicas", "1"),
        ],
    )
    .await;
    d2.bootstrap(&mut no_progress()).await.unwrap();
    let sts = posts(&sim, "statefulsets");
    assert_eq!(sts.len(), 1);
    let s = &sts[0];
    assert_eq!(s["kind"], "StatefulSet");
    assert_eq!(s["spec"]["serviceName"], "buildkitd");
    assert_eq!(s["spec"]["podManagementPolicy"], "Parallel");
    assert_eq!(
        s["spec"]["volumeClaimTemplates"],
        // k8s-openapi writes apiVersion/kind even in a template; the API accepts it
        json!([{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "buildkitd"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}}])
    );
    assert_eq!(
        s["metadata"]["annotations"],
        json!({"container.apparmor.security.beta.kubernetes.io/buildkitd": "unconfined"})
    );
    let c = &s["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "moby/buildkit:buildx-stable-1-rootless");
    assert_eq!(c["args"], json!(["--oci-worker-no-process-sandbox"]));
    assert_eq!(
        c["securityContext"],
        json!({"seccompProfile": {"type": "Unconfined"}})
    );
    assert_eq!(posts(&sim, "deployments").len(), 1, "no second deployment");

    // rm of the StatefulSet builder deletes it; the ConfigMap of the first goes with its rm
    d2.remove().await.unwrap();
    d.remove().await.unwrap();
    assert_eq!(sim.objects("statefulsets"), Vec::<Value>::new());
    assert_eq!(sim.objects("deployments"), Vec::<Value>::new());
    assert_eq!(
        sim.objects("configmaps")
            .iter()
            .filter(|c| c["metadata"]["name"] == "opts0-config")
            .count(),
        0
    );
}

#[test]
fn unknown_driver_option_is_refused_in_buildx_wording_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "builder",
        "create",
        "--name",
        "k",
        "--driver",
        "kubernetes",
        "--driver-opt",
        "colour=blue",
    ];
    let err = support::expect_failure(&args, support::cli(dir.path(), &args));
    let err = err.trim_end();
    assert!(
        err.starts_with("ERROR: failed to initialize builder k (buildkit-"),
        "{err}"
    );
    assert!(
        err.ends_with("): invalid driver option colour for driver kubernetes"),
        "{err}"
    );
    assert!(!dir.path().join("docker/buildx/instances/k").exists());

    let args = [
        "builder",
        "create",
        "--name",
        "k",
        "--driver",
        "kubernetes",
        "--driver-opt",
        "loadbalance=roundrobin",
    ];
    let err = support::expect_failure(&args, support::cli(dir.path(), &args));
    assert!(
        err.trim_end()
            .ends_with(": invalid loadbalance \"roundrobin\""),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_auth_over_http_and_a_wrong_token_is_refused() {
    let sim = sim(
        false,
        Auth::Token("s3cr3t".into()),
        Duration::from_millis(50),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = driver(&sim, dir.path(), "tok0", &[]).await;
    d.bootstrap(&mut no_progress()).await.unwrap();
    assert_eq!(d.running_pods().await.unwrap().len(), 1);

    // the same cluster with another token
    let kubeconfig = dir.path().join("bad.kubeconfig");
    sim.write_kubeconfig(&kubeconfig, "sim");
    let text = std::fs::read_to_string(&kubeconfig)
        .unwrap()
        .replace("s3cr3t", "wrong");
    std::fs::write(&kubeconfig, text).unwrap();
    let ep = format!("kubernetes:///b?kubeconfig={}", kubeconfig.display());
    let resolved = config::resolve(&ep, &KubeEnv::default()).await.unwrap();
    let opts = Options::from_driver_opts("tok0", &BTreeMap::new(), &[], None, &[]).unwrap();
    let bad = KubernetesDriver::with_config(resolved, opts).unwrap();
    let err = bad.state().await.unwrap_err().to_string();
    assert!(err.starts_with("kubernetes driver: reading deployment buildkit/tok0 failed on the Kubernetes API at http://127.0.0.1:"), "{err}");
    assert!(err.contains("(401, Unauthorized)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_over_tls() {
    let Some(_engine) = support::docker_or_skip("kubernetes client certificates over TLS") else {
        return;
    };
    let sim = sim(true, Auth::ClientCert, Duration::from_millis(50)).await;
    assert!(sim.url().starts_with("https://127.0.0.1:"));
    let dir = tempfile::tempdir().unwrap();
    let d = driver(&sim, dir.path(), "tls0", &[]).await;
    d.bootstrap(&mut no_progress()).await.unwrap();
    match query(Arc::new(d) as Arc<dyn Driver>).await {
        NodeStatus::Running { platforms, .. } => assert!(!platforms.is_empty()),
        other => panic!("BuildKit through an exec over TLS: {other:?}"),
    }
    assert_eq!(sim.execs().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_deleted_mid_build_fails_the_build_instead_of_hanging() {
    let Some(_engine) = support::docker_or_skip("kubernetes pod deleted mid-build") else {
        return;
    };
    let sim = token_sim(Duration::from_millis(50)).await;
    let dir = tempfile::tempdir().unwrap();
    let d = driver(&sim, dir.path(), "gone0", &[]).await;
    d.bootstrap(&mut no_progress()).await.unwrap();
    let pod = d.running_pods().await.unwrap().remove(0);

    let ctx = support::TempContext::new().file(
        "Dockerfile",
        format!(
            "FROM {}\nRUN sleep 20 # {}\n",
            support::BASE_IMAGE,
            support::unique_name("gone")
        ),
    );
    let client = buildkit_lsp::buildkit::Client::connect(Arc::new(d.clone()) as Arc<dyn Driver>)
        .await
        .unwrap();
    let spec = buildkit_lsp::build::BuildSpec::new(ctx.path());
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let build = tokio::spawn(async move { client.build(&spec, tx).await });

    // delete the pod through the API once the build runs
    tokio::time::sleep(Duration::from_secs(2)).await;
    let kubeconfig = dir.path().join("gone0.kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(kube::Client::try_from(cfg).unwrap(), "buildkit");
    let deleted = Instant::now();
    pods.delete(&pod, &Default::default()).await.unwrap();

    let result = tokio::time::timeout(Duration::from_secs(15), build)
        .await
        .expect("the build ends once its pod is gone")
        .unwrap();
    let took = deleted.elapsed();
    eprintln!("build ended {took:?} after its pod was deleted");
    let err = result
        .expect_err("the build cannot succeed without its pod")
        .to_string();
    assert!(
        err.contains("gone0 (deployment at http://127.0.0.1:"),
        "{err}"
    );
    assert!(
        err.contains("The connection to the daemon was lost"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}
