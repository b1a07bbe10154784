//! The buildx-compatible builder store, end to end: buildx-format files
//! (hand-written from buildx's `store` package into tests/fixtures/buildx)
//! read and rewritten byte for byte, builders created by the real binary
//! compared with what buildx writes, the file lock under concurrent writers,
//! corrupt files, name rules and selection order. Every run points
//! `BUILDX_CONFIG`, `DOCKER_CONFIG` and `HOME` at temporary directories.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use buildkit_lsp::builder::nodegroup::NodeUpdate;
use buildkit_lsp::builder::{NodeGroup, Store};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/buildx")
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(rel)).unwrap()
}

use support::home::Home;

impl Home {
    /// A home whose buildx store is a copy of the fixture store.
    fn with_fixture_store() -> Home {
        let home = Home::new();
        copy_dir(&fixtures().join("store"), &home.buildx());
        home
    }

    fn instance(&self, name: &str) -> PathBuf {
        self.buildx().join("instances").join(name)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.command();
        cmd.arg("builder").args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        support::expect_success(args, self.run(args))
    }

    /// Runs and expects failure with exit code 1; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        support::expect_failure(args, self.run(args))
    }

    /// Adds a docker context named `name` the way the Docker CLI stores it.
    fn add_context(&self, name: &str, host: &str) {
        use sha2::Digest as _;
        let dir = self
            .docker_config()
            .join("contexts/meta")
            .join(hex::encode(sha2::Sha256::digest(name.as_bytes())));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("meta.json"),
            format!(
                r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
            ),
        )
        .unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The `Name:` line of `builder inspect`.
fn inspected_name(out: &str) -> String {
    out.lines()
        .next()
        .and_then(|l| l.strip_prefix("Name:"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn buildx_instance_files_round_trip_byte_for_byte() {
    for name in ["mybuilder", "remote-tls", "multi", "k8s", "future"] {
        let bytes = fixture(&format!("store/instances/{name}"));
        let ng = NodeGroup::from_json(&bytes).unwrap();
        assert_eq!(
            ng.to_json(),
            String::from_utf8(bytes).unwrap(),
            "rewrite of {name} differs"
        );
    }
    let multi = NodeGroup::from_json(&fixture("store/instances/multi")).unwrap();
    assert_eq!(multi.nodes.len(), 2);
    assert_eq!(multi.nodes[1].name, "arm");
    assert_eq!(
        multi.nodes[1].platforms.as_ref().unwrap()[1].format(),
        "linux/arm/v7"
    );
    // []byte in Go is base64 in the file; decoded here
    assert_eq!(
        multi.nodes[0].files.as_ref().unwrap()["buildkitd.toml"],
        b"debug = true\n"
    );
    // `&` is written as \u0026 by Go and read back as `&`
    let k8s = NodeGroup::from_json(&fixture("store/instances/k8s")).unwrap();
    assert!(k8s.nodes[0].endpoint.contains("&kubeconfig="));
}

#[test]
fn unknown_fields_survive_a_change_made_through_the_cli() {
    let home = Home::with_fixture_store();
    home.ok(&[
        "create",
        "--append",
        "--name",
        "future",
        "--node",
        "future1",
        "tcp://10.1.1.1:2376",
    ]);
    let after = std::fs::read_to_string(home.instance("future")).unwrap();
    assert_eq!(
        after,
        concat!(
            r#"{"Name":"future","Driver":"docker-container","Nodes":["#,
            r#"{"Name":"future0","Endpoint":"unix:///var/run/docker.sock","Platforms":[{"architecture":"amd64","os":"linux","variant":"v3","x-cpu-features":["avx2"]}],"DriverOpts":null,"Flags":null,"Files":null,"Labels":{"team":"web"}},"#,
            r#"{"Name":"future1","Endpoint":"tcp://10.1.1.1:2376","Platforms":null,"DriverOpts":null,"Flags":["--allow-insecure-entitlement=network.host"],"Files":null}],"#,
            r#""Dynamic":false,"CreatedBy":"buildx v9","Quota":{"cpus":2,"memory":"4g"}}"#
        )
    );
}

#[test]
fn created_builders_are_written_exactly_as_buildx_writes_them() {
    let home = Home::new();
    assert_eq!(
        home.ok(&[
            "create",
            "--name",
            "fresh",
            "--driver",
            "docker-container",
            "--use"
        ]),
        "fresh\n"
    );
    assert_eq!(
        std::fs::read(home.instance("fresh")).unwrap(),
        fixture("expected/create-docker-container")
    );
    assert_eq!(
        std::fs::read(home.buildx().join("current")).unwrap(),
        fixture("expected/current-after-use")
    );
    // activity is RFC 3339 UTC, like 2026-11-27T03:28:35Z
    let activity = std::fs::read_to_string(home.buildx().join("activity/fresh")).unwrap();
    assert_eq!(activity.len(), 20, "{activity}");
    assert!(
        activity.ends_with('Z') && activity.as_bytes()[10] == b'T',
        "{activity}"
    );

    home.ok(&[
        "create",
        "--name",
        "rem",
        "--driver",
        "remote",
        "--driver-opt",
        "cacert=/certs/ca.pem,servername=bk",
        "tcp://127.0.0.1:1234",
    ]);
    assert_eq!(
        std::fs::read(home.instance("rem")).unwrap(),
        fixture("expected/create-remote")
    );

    let config = fixtures().join("buildkitd.toml");
    home.ok(&[
        "create",
        "--name",
        "Cfg",
        "--driver",
        "docker-container",
        "--driver-opt",
        "image=moby/buildkit:v0.20.0",
        "--driver-opt",
        "env.http_proxy=http://proxy:3128",
        "--platform",
        "linux/amd64,linux/arm",
        "--buildkitd-flags",
        "--debug",
        "--config",
        config.to_str().unwrap(),
        "tcp://10.0.0.5",
    ]);
    // the instance file name is the lower-cased builder name
    assert_eq!(
        std::fs::read(home.instance("cfg")).unwrap(),
        fixture("expected/create-configured")
    );
    // files are private, as buildx makes them
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(home.instance("cfg"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let mode = std::fs::metadata(home.buildx().join("instances"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn ls_lists_a_buildx_store_with_contexts_and_the_current_builder() {
    let home = Home::with_fixture_store();
    home.add_context("work", "ssh://me@work-box");
    let out = home.ok(&["ls", "--format", "json"]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r["Name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "future",
            "k8s",
            "multi",
            "mybuilder",
            "remote-tls",
            "default",
            "work"
        ]
    );
    let current: Vec<&str> = rows
        .iter()
        .filter(|r| r["Current"] == true)
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert_eq!(current, ["mybuilder"]);
    let multi = &rows[2];
    assert_eq!(multi["Driver"], "docker-container");
    assert_eq!(multi["Nodes"][1]["Endpoint"], "ssh://me@arm-box");
    assert_eq!(
        multi["Nodes"][1]["Platforms"],
        serde_json::json!(["linux/arm64*", "linux/arm/v7*"])
    );
    assert_eq!(rows[3]["LastActivity"], "2026-11-20T10:00:00Z");
    assert_eq!(rows[6]["Driver"], "docker");
    assert_eq!(rows[6]["Nodes"][0]["Endpoint"], "work");
    // the remote node's host does not resolve: its status is an error and
    // no version is known
    assert_eq!(rows[4]["Nodes"][0]["Status"], "error");
    assert_eq!(rows[4]["Nodes"][0]["Version"], "");

    let table = home.ok(&["ls"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAME/NODE"), "{table}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("mybuilder*") && l.contains("docker-container")),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(" \\_ arm") && l.contains("ssh://me@arm-box")),
        "{table}"
    );
    // ls only reads: the fixture files are unchanged
    for name in ["mybuilder", "multi", "future"] {
        assert_eq!(
            std::fs::read(home.instance(name)).unwrap(),
            fixture(&format!("store/instances/{name}"))
        );
    }
}

#[test]
fn corrupt_instance_file_is_skipped_with_a_warning_and_kept() {
    let home = Home::with_fixture_store();
    let torn = br#"{"Name":"broken","Driver":"docker-cont"#;
    std::fs::write(home.instance("broken"), torn).unwrap();
    std::fs::write(
        home.instance("wrongtype"),
        br#"{"Name":"wrongtype","Nodes":{}}"#,
    )
    .unwrap();
    let out = home.run(&["ls", "--format", "json"]);
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("WARNING: skipping builder \"broken\""),
        "{stderr}"
    );
    assert!(stderr.contains("EOF while parsing"), "{stderr}");
    assert!(
        stderr.contains("WARNING: skipping builder \"wrongtype\"")
            && stderr.contains("Nodes: expected a list, found an object"),
        "{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        6,
        "5 stored builders and the default context: {stdout}"
    );
    assert_eq!(std::fs::read(home.instance("broken")).unwrap(), torn);
    // asking for it by name is an error that names the file, and still keeps it
    let err = home.fails(&["inspect", "broken"]);
    assert!(
        err.contains("instances/broken is not valid buildx JSON"),
        "{err}"
    );
    assert!(home.instance("broken").exists());
    // a corrupt `current` loses only the `*`, and is left for the user to see
    std::fs::write(home.buildx().join("current"), b"{\"Key\":").unwrap();
    let out = home.run(&["ls", "--format", "json"]);
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("WARNING: cannot tell the current builder: builder file")
            && stderr.contains("current is not valid buildx JSON"),
        "{stderr}"
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 6);
    assert_eq!(
        std::fs::read(home.buildx().join("current")).unwrap(),
        b"{\"Key\":"
    );
}

#[test]
fn concurrent_writers_lose_no_update_and_never_tear_a_file() {
    let home = Home::new();
    let store = Store::open(home.buildx()).unwrap();
    {
        let txn = store.txn().unwrap();
        let mut ng = NodeGroup {
            name: "shared".into(),
            driver: "remote".into(),
            ..NodeGroup::default()
        };
        ng.update(NodeUpdate {
            endpoint: "tcp://node:0".into(),
            ..NodeUpdate::default()
        })
        .unwrap();
        txn.save(&ng).unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    // a reader that parses the file over and over while writers replace it
    let reader = {
        let path = home.instance("shared");
        let done = done.clone();
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                let bytes = std::fs::read(&path).unwrap();
                NodeGroup::from_json(&bytes).expect("a reader saw a torn file");
                reads += 1;
            }
            reads
        })
    };
    // 8 threads x 10 read-modify-write transactions, each appending a node
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let dir = home.buildx();
            std::thread::spawn(move || {
                let store = Store::open(dir).unwrap();
                for i in 0..10 {
                    let txn = store.txn().unwrap();
                    let mut ng = txn.node_group_by_name("shared").unwrap().unwrap();
                    ng.update(NodeUpdate {
                        endpoint: format!("tcp://node-{t}-{i}:1234"),
                        append: true,
                        ..NodeUpdate::default()
                    })
                    .unwrap();
                    txn.save(&ng).unwrap();
                }
            })
        })
        .collect();
    // and 6 processes of the real binary creating and removing builders at the same time
    let procs: Vec<_> = (0..6)
        .map(|p| {
            let name = format!("proc{p}");
            let create = home
                .cmd(&[
                    "create",
                    "--name",
                    &name,
                    "--driver",
                    "remote",
                    "tcp://127.0.0.1:1",
                ])
                .spawn()
                .unwrap();
            (name, create)
        })
        .collect();
    for (_, mut child) in procs {
        assert!(child.wait().unwrap().success());
    }
    let removers: Vec<_> = (0..3)
        .map(|p| home.cmd(&["rm", &format!("proc{p}")]).spawn().unwrap())
        .collect();
    for mut child in removers {
        assert!(child.wait().unwrap().success());
    }
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert!(reads > 0);

    let txn = store.txn().unwrap();
    let ng = txn.node_group_by_name("shared").unwrap().unwrap();
    assert_eq!(
        ng.nodes.len(),
        81,
        "1 first node + 80 appended: no lost update"
    );
    let names: BTreeSet<&str> = ng.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names.len(), 81, "node names stay unique: shared0..shared80");
    assert!(names.contains("shared80"));
    let mut left: Vec<String> = std::fs::read_dir(home.buildx().join("instances"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    // no temporary file is left behind either
    assert_eq!(left, ["proc3", "proc4", "proc5", "shared"]);
}

#[test]
fn names_follow_buildx_rules() {
    let home = Home::new();
    let err = home.fails(&["create", "--name", "1st", "--driver", "remote", "tcp://h:1"]);
    assert_eq!(
        err,
        "ERROR: invalid name 1st, name needs to start with a letter and may not contain symbols, except ._-\n"
    );
    let err = home.fails(&[
        "create",
        "--name",
        "default",
        "--driver",
        "remote",
        "tcp://h:1",
    ]);
    assert_eq!(
        err,
        "ERROR: default is a reserved name and cannot be used to identify builder instance\n"
    );
    // random name when none is given: adjective_surname, valid and stored
    let name = home.ok(&["create", "--driver", "remote", "tcp://h:1"]);
    let name = name.trim();
    assert!(
        name.contains('_') && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "{name}"
    );
    assert!(home.instance(name).exists());
    // case-insensitive: MixedCase is found as mixedcase
    home.ok(&[
        "create",
        "--name",
        "MixedCase",
        "--driver",
        "remote",
        "tcp://h:2",
    ]);
    assert_eq!(
        inspected_name(&home.ok(&["inspect", "mixedcase"])),
        "MixedCase"
    );
    let err = home.fails(&[
        "create",
        "--name",
        "mixedcase",
        "--driver",
        "remote",
        "tcp://h:3",
    ]);
    assert_eq!(
        err,
        "ERROR: existing instance for \"mixedcase\" but no append mode, specify the node name to make changes for existing instances\n"
    );
}

#[test]
fn create_refuses_what_buildx_refuses_and_stores_nothing() {
    let home = Home::new();
    home.add_context("work", "ssh://me@work-box");
    let cases: &[(&[&str], &str)] = &[
        (
            &["create", "--name", "x", "--driver", "docker-container", "--driver-opt", "foo=bar"],
            "failed to initialize builder x (x0): invalid driver option foo for docker-container driver",
        ),
        (
            &["create", "--name", "x", "--driver", "remote", "--driver-opt", "cacert=ca.pem", "tcp://h:1"],
            "failed to initialize builder x (x0): non-absolute path 'ca.pem' provided for cacert",
        ),
        (
            &["create", "--name", "x", "--driver", "remote", "--buildkitd-flags", "--debug", "tcp://h:1"],
            "failed to initialize builder x (x0): setting buildkit flags is not supported for remote driver",
        ),
        (&["create", "--name", "x", "--driver", "remote"], "no remote endpoint provided"),
        (&["create", "--name", "x", "--driver", "remote", "http://h:1"], "unrecognized url scheme http"),
        (&["create", "--name", "x", "--driver", "docker"], "additional instances of driver \"docker\" cannot be created"),
        (&["create", "--name", "x", "--driver", "lxc"], "failed to find driver \"lxc\""),
        (&["create", "--name", "x", "--driver-opt", "novalue"], "invalid value \"novalue\", expecting k=v"),
        (&["create", "--name", "work"], "instance name \"work\" already exists as context builder"),
        (&["create", "--append", "--name", "nope"], "failed to find instance \"nope\" for append"),
        (&["create", "--append"], "append requires a builder name"),
        (
            &["create", "--name", "x", "--platform", "linux/*"],
            "invalid platform linux/*: wildcards not yet supported",
        ),
    ];
    for (args, message) in cases {
        let err = home.fails(args);
        assert_eq!(err, format!("ERROR: {message}\n"), "{args:?}");
    }
    let out = home
        .cmd(&["create", "--name", "x"])
        .env("DOCKER_TLS_VERIFY", "1")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR: could not create a builder instance with TLS data loaded from environment. Please use `docker context create <context-name>` to create a context for current environment and then create a builder instance with context set to <context-name>\n"
    );
    let left = std::fs::read_dir(home.buildx().join("instances"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "a refused create stores nothing");

    // --bootstrap runs the driver: the default image is not in the engine
    // and cannot be pulled here, and the error says how to get past that
    let err = home.fails(&["create", "--name", "x", "--bootstrap"]);
    assert!(
        err.contains("ERROR: builder \"x\": docker-container driver: image moby/buildkit:buildx-stable-1 is not in the engine at unix:///var/run/docker.sock and cannot be pulled"),
        "{err}"
    );
    assert!(
        err.ends_with("Load it into the engine (docker load), or choose an image it has with --driver-opt image=NAME\n"),
        "{err}"
    );
}

#[test]
fn append_and_leave_nodes() {
    let home = Home::new();
    home.ok(&[
        "create",
        "--name",
        "farm",
        "--driver",
        "docker-container",
        "--platform",
        "linux/amd64",
        "unix:///a.sock",
    ]);
    home.ok(&[
        "create",
        "--append",
        "--name",
        "farm",
        "--platform",
        "linux/arm64",
        "tcp://arm:2376",
    ]);
    let ng = NodeGroup::from_json(&std::fs::read(home.instance("farm")).unwrap()).unwrap();
    let nodes: Vec<(&str, &str)> = ng
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.endpoint.as_str()))
        .collect();
    assert_eq!(
        nodes,
        [("farm0", "unix:///a.sock"), ("farm1", "tcp://arm:2376")]
    );
    let err = home.fails(&["create", "--append", "--name", "farm", "tcp://arm:2376"]);
    assert_eq!(err, "ERROR: invalid duplicate endpoint tcp://arm:2376\n");
    home.ok(&["create", "--leave", "--name", "farm", "--node", "farm0"]);
    let ng = NodeGroup::from_json(&std::fs::read(home.instance("farm")).unwrap()).unwrap();
    assert_eq!(ng.nodes.len(), 1);
    assert_eq!(ng.nodes[0].name, "farm1");
    let err = home.fails(&["create", "--leave", "--name", "farm", "--node", "farm1"]);
    assert_eq!(
        err,
        "ERROR: can not leave last node, do you want to rm instance instead?\n"
    );
}

#[test]
fn selection_order_is_flag_then_env_then_current_then_context() {
    let home = Home::new();
    home.ok(&[
        "create",
        "--name",
        "alpha",
        "--driver",
        "remote",
        "tcp://a:1",
    ]);
    home.ok(&[
        "create",
        "--name",
        "beta",
        "--driver",
        "remote",
        "tcp://b:1",
    ]);
    // nothing selected yet: the docker context's own builder
    assert_eq!(inspected_name(&home.ok(&["inspect"])), "default");
    home.ok(&["use", "alpha"]);
    assert_eq!(inspected_name(&home.ok(&["inspect"])), "alpha");
    // BUILDX_BUILDER beats current
    let out = home
        .cmd(&["inspect"])
        .env("BUILDX_BUILDER", "beta")
        .output()
        .unwrap();
    assert_eq!(
        inspected_name(&String::from_utf8_lossy(&out.stdout)),
        "beta"
    );
    // --builder beats BUILDX_BUILDER
    let out = home
        .cmd(&["--builder", "alpha", "inspect"])
        .env("BUILDX_BUILDER", "beta")
        .output()
        .unwrap();
    assert_eq!(
        inspected_name(&String::from_utf8_lossy(&out.stdout)),
        "alpha"
    );
    // an unknown name is an error, not a fallback
    let out = home
        .cmd(&["inspect"])
        .env("BUILDX_BUILDER", "gamma")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR: no builder \"gamma\" found\n"
    );

    // current is per docker endpoint: another DOCKER_HOST has its own
    let out = home
        .cmd(&["inspect"])
        .env("DOCKER_HOST", "tcp://other:2375")
        .output()
        .unwrap();
    assert_eq!(
        inspected_name(&String::from_utf8_lossy(&out.stdout)),
        "default"
    );
    // ... unless the choice is global
    home.ok(&["use", "--global", "beta"]);
    let out = home
        .cmd(&["inspect"])
        .env("DOCKER_HOST", "tcp://other:2375")
        .output()
        .unwrap();
    assert_eq!(
        inspected_name(&String::from_utf8_lossy(&out.stdout)),
        "beta"
    );
    assert_eq!(
        std::fs::read_to_string(home.buildx().join("current")).unwrap(),
        r#"{"Key":"unix:///var/run/docker.sock","Name":"beta","Global":true}"#
    );

    // `use --default` remembers the builder for that endpoint in defaults/
    let out = home
        .cmd(&["use", "--default", "alpha"])
        .env("DOCKER_HOST", "tcp://other:2375")
        .output()
        .unwrap();
    assert!(out.status.success());
    // sha256("tcp://other:2375")[..20], computed with sha256sum
    let hash = {
        use sha2::Digest as _;
        let mut h = hex::encode(sha2::Sha256::digest(b"tcp://other:2375"));
        h.truncate(20);
        h
    };
    assert_eq!(
        std::fs::read_to_string(home.buildx().join("defaults").join(hash)).unwrap(),
        "alpha"
    );
    home.ok(&["use", "beta"]);
    let out = home
        .cmd(&["inspect"])
        .env("DOCKER_HOST", "tcp://other:2375")
        .output()
        .unwrap();
    assert_eq!(
        inspected_name(&String::from_utf8_lossy(&out.stdout)),
        "alpha"
    );
    // ... and buildx's Current() rewrote `current` for that endpoint
    assert_eq!(
        std::fs::read_to_string(home.buildx().join("current")).unwrap(),
        r#"{"Key":"tcp://other:2375","Name":"alpha","Global":false}"#
    );

    // `use default` goes back to the context's builder
    home.ok(&["use", "default"]);
    assert_eq!(inspected_name(&home.ok(&["inspect"])), "default");

    // BUILDX_CONFIG moves the whole store
    let elsewhere = tempfile::tempdir().unwrap();
    let out = home
        .cmd(&[
            "create",
            "--name",
            "moved",
            "--driver",
            "remote",
            "tcp://m:1",
        ])
        .env("BUILDX_CONFIG", elsewhere.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(elsewhere.path().join("instances/moved").exists());
    assert!(!home.instance("moved").exists());
}

#[test]
fn use_follows_docker_contexts() {
    let home = Home::new();
    home.add_context("work", "ssh://me@work-box");
    assert_eq!(
        home.fails(&["use", "work"]),
        "ERROR: run `docker context use work` to switch to context work\n"
    );
    // in context `work`, `default` is not the current context
    let out = home
        .cmd(&["use", "default"])
        .env("DOCKER_CONTEXT", "work")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR: run `docker context use default` to switch to default context\n"
    );
    // the current builder is keyed by the context name there
    home.ok(&["create", "--name", "wb", "--driver", "remote", "tcp://w:1"]);
    let out = home
        .cmd(&["use", "wb"])
        .env("DOCKER_CONTEXT", "work")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(home.buildx().join("current")).unwrap(),
        r#"{"Key":"work","Name":"wb","Global":false}"#
    );
    let out = home
        .cmd(&["inspect"])
        .env("DOCKER_CONTEXT", "work")
        .output()
        .unwrap();
    assert_eq!(inspected_name(&String::from_utf8_lossy(&out.stdout)), "wb");
    let err = home.fails(&["use", "nothere"]);
    assert!(
        err.starts_with("ERROR: failed to find instance \"nothere\""),
        "{err}"
    );
}

#[test]
fn rm_removes_the_store_side_and_leaves_daemons_to_drivers() {
    let home = Home::with_fixture_store();
    std::fs::create_dir_all(home.buildx().join("refs/remote-tls/remote-tls0")).unwrap();
    std::fs::write(
        home.buildx().join("activity/remote-tls"),
        "2026-11-20T10:00:00Z",
    )
    .unwrap();
    // remote: buildx's driver has no daemon to remove, so rm is complete
    let out = home.run(&["rm", "remote-tls"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "remote-tls removed\n");
    assert!(!home.instance("remote-tls").exists());
    assert!(!home.buildx().join("activity/remote-tls").exists());
    assert!(!home.buildx().join("refs/remote-tls").exists());
    // docker-container: the driver removes the (absent) container, then the
    // store side goes
    let out = home.run(&["rm", "mybuilder"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "mybuilder removed\n");
    assert!(!home.instance("mybuilder").exists());
    // with the current builder gone, selection falls back to the context's
    assert_eq!(inspected_name(&home.ok(&["inspect"])), "default");
    assert_eq!(
        home.fails(&["rm", "default"]),
        "ERROR: context builder cannot be removed, run `docker context rm default` to remove this context\n"
    );
    assert_eq!(
        home.fails(&["rm", "nope"]),
        "ERROR: no builder \"nope\" found\n"
    );
    // stop: remote has nothing to stop; a docker-container node on an ssh://
    // engine cannot be reached, and the error names the endpoint
    home.ok(&["create", "--name", "r", "--driver", "remote", "tcp://r:1"]);
    home.ok(&["stop", "r"]);
    let err = home.fails(&["stop", "multi"]);
    assert_eq!(
        err,
        "ERROR: builder \"multi\": invalid docker endpoint \"ssh://me@arm-box\": ssh:// and npipe:// endpoints are not supported; use unix:// or tcp://\n"
    );
}

#[test]
fn inspect_shows_the_stored_configuration() {
    let home = Home::with_fixture_store();
    let out = home.ok(&["inspect", "multi"]);
    let expected = "\
Name:   multi
Driver: docker-container

Nodes:
Name:                  multi0
Endpoint:              unix:///var/run/docker.sock
Driver Options:        image=\"moby/buildkit:v0.20.0\" network=\"host\"
Status:                inactive
BuildKit daemon flags: --debug --allow-insecure-entitlement=network.host
File#buildkitd.toml:
 > debug = true

Name:                  arm
Endpoint:              ssh://me@arm-box
Error:                 invalid docker endpoint \"ssh://me@arm-box\": ssh:// and npipe:// endpoints are not supported; use unix:// or tcp://
BuildKit daemon flags: --allow-insecure-entitlement=network.host
Platforms:             linux/arm64*, linux/arm/v7*

Features:
 Automatic --load:          no
 Cache export:              yes
 Docker/OCI tarball output: yes
 Multi-platform build:      yes
 BuildKit configuration:    yes
 Attestation:               yes
";
    assert_eq!(out, expected);
}

#[test]
fn docker_container_endpoint_may_name_a_docker_context() {
    let home = Home::new();
    home.add_context("work", "ssh://me@work-box");
    // a context name is stored as the name; `default` as its host
    home.ok(&[
        "create",
        "--name",
        "onwork",
        "--driver",
        "docker-container",
        "work",
    ]);
    home.ok(&[
        "create",
        "--name",
        "ondefault",
        "--driver",
        "docker-container",
        "default",
    ]);
    let endpoint = |name: &str| {
        NodeGroup::from_json(&std::fs::read(home.instance(name)).unwrap())
            .unwrap()
            .nodes[0]
            .endpoint
            .clone()
    };
    assert_eq!(endpoint("onwork"), "work");
    assert_eq!(endpoint("ondefault"), "unix:///var/run/docker.sock");
    // without ENDPOINT, in context `work`, the node's endpoint is the context
    let out = home
        .cmd(&["create", "--name", "inwork", "--driver", "docker-container"])
        .env("DOCKER_CONTEXT", "work")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(endpoint("inwork"), "work");
    let err = home.fails(&[
        "create",
        "--name",
        "bad",
        "--driver",
        "docker-container",
        "http://x",
    ]);
    assert_eq!(
        err,
        "ERROR: failed to parse endpoint http://x: Invalid bind address format: http://x\n"
    );
}
