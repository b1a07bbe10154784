//! Builder selection in the editor, through the real server binary over
//! stdio against the real test Docker Engine: listBuilders, selectBuilder
//! (the test client answers `window/showMessageRequest`), useBuilder (per
//! workspace, the store untouched) and useBuilderGlobally (the store's
//! `current`), `buildkit/builderChanged`, the build code lenses and their
//! refresh, and a builder that does not answer. Every test has its own
//! temporary `DOCKER_CONFIG`/`BUILDX_CONFIG` store.

mod lsp_support;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lsp_support::{full_capabilities, pos, range, Lsp};
use serde_json::{json, Value};

/// A temporary home with its own docker config dir and buildx store.
struct Home {
    dir: tempfile::TempDir,
    docker_host: String,
}

impl Home {
    fn new(engine: &support::DockerEndpoint) -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
            docker_host: engine.docker_host(),
        }
    }

    fn buildx(&self) -> PathBuf {
        self.dir.path().join("docker/buildx")
    }

    fn envs(&self) -> Vec<(&'static str, String)> {
        let home = self.dir.path();
        vec![
            ("HOME", home.display().to_string()),
            ("DOCKER_CONFIG", home.join("docker").display().to_string()),
            ("BUILDX_CONFIG", self.buildx().display().to_string()),
            ("DOCKER_HOST", self.docker_host.clone()),
            // Empty counts as unset: the caller's selection must not leak in.
            ("BUILDX_BUILDER", String::new()),
            ("DOCKER_CONTEXT", String::new()),
            ("BUILDKIT_HOST", String::new()),
        ]
    }

    /// Runs the CLI on this store; expects success.
    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
            .args(args)
            .envs(self.envs())
            .output()
            .unwrap();
        support::expect_success(args, out)
    }

    /// A docker-container builder that is created but never started.
    fn container_builder(&self, name: &str) {
        self.cli(&[
            "builder",
            "create",
            "--name",
            name,
            "--driver",
            "docker-container",
            "--driver-opt",
            "network=host",
        ]);
    }

    /// The store's `current` file, if any.
    fn current_file(&self) -> Option<String> {
        std::fs::read_to_string(self.buildx().join("current")).ok()
    }

    /// A server on this store, initialized like VS Code.
    fn server(&self, init_options: Value) -> Lsp {
        let mut lsp = Lsp::spawn_env(&[], &self.envs());
        let mut options = json!({"buildkit": {"diagnostics": {"debounceMs": 0}}});
        if let (Some(o), Some(extra)) = (options.as_object_mut(), init_options.as_object()) {
            for (k, v) in extra {
                o.insert(k.clone(), v.clone());
            }
        }
        lsp.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": full_capabilities(),
                   "initializationOptions": options}),
        );
        lsp.notify("initialized", json!({}));
        lsp
    }
}

fn command(lsp: &mut Lsp, name: &str, args: Value) -> Value {
    lsp.request(
        "workspace/executeCommand",
        json!({"command": name, "arguments": args}),
    )
}

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn by_name<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {rows}"))
}

#[test]
fn list_builders_shows_the_default_docker_builder_and_a_container_builder() {
    let Some(engine) = support::docker_or_skip("list_builders") else {
        return;
    };
    let home = Home::new(&engine);
    home.container_builder("dc1");
    let mut lsp = home.server(json!({}));
    let rows = command(&mut lsp, "buildkit.listBuilders", json!([]));
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    // Stored builders first, then the docker contexts' own (as `buildx ls`).
    assert_eq!(names, ["dc1", "default"]);
    let dc = by_name(&rows, "dc1");
    assert_eq!(dc["driver"], "docker-container");
    // Created, never bootstrapped: no container yet.
    assert_eq!(dc["status"], "inactive");
    assert_eq!(dc["selected"], false);
    assert_eq!(dc["globalDefault"], false);
    assert_eq!(dc["endpoint"], home.docker_host.as_str());
    assert_eq!(dc["error"], Value::Null);
    let default = by_name(&rows, "default");
    assert_eq!(default["driver"], "docker");
    assert_eq!(default["status"], "running");
    assert_eq!(default["selected"], true);
    assert_eq!(default["globalDefault"], true);
    assert_eq!(default["endpoint"], "default");
    assert_eq!(default["error"], Value::Null);
    // The Debian engine's BuildKit worker offers linux/amd64 (and 386).
    assert!(
        default["platforms"]
            .as_array()
            .unwrap()
            .contains(&json!("linux/amd64")),
        "{default}"
    );
}

#[test]
fn use_builder_is_per_workspace_and_use_builder_globally_writes_the_store() {
    let Some(engine) = support::docker_or_skip("use_builder") else {
        return;
    };
    let home = Home::new(&engine);
    home.container_builder("dc1");
    let before = home.current_file();
    let mut lsp = home.server(json!({}));
    let r = command(&mut lsp, "buildkit.useBuilder", json!(["dc1"]));
    assert_eq!(r, json!({"name": "dc1", "driver": "docker-container"}));
    assert_eq!(
        home.current_file(),
        before,
        "useBuilder must not touch the store"
    );
    let rows = command(&mut lsp, "buildkit.listBuilders", json!([]));
    assert_eq!(by_name(&rows, "dc1")["selected"], true);
    assert_eq!(by_name(&rows, "dc1")["globalDefault"], false);
    assert_eq!(by_name(&rows, "default")["selected"], false);
    assert_eq!(by_name(&rows, "default")["globalDefault"], true);

    let r = command(&mut lsp, "buildkit.useBuilderGlobally", json!(["dc1"]));
    assert_eq!(r, json!({"name": "dc1", "driver": "docker-container"}));
    // buildx's `current`: the docker endpoint as key, not global.
    let current: Value = serde_json::from_str(&home.current_file().unwrap()).unwrap();
    assert_eq!(
        current,
        json!({"Key": home.docker_host, "Name": "dc1", "Global": false})
    );
    let rows = command(&mut lsp, "buildkit.listBuilders", json!([]));
    assert_eq!(by_name(&rows, "dc1")["globalDefault"], true);
    assert_eq!(by_name(&rows, "default")["globalDefault"], false);
}

#[test]
fn unknown_builder_name_is_an_error_naming_the_known_builders() {
    let Some(engine) = support::docker_or_skip("unknown_builder") else {
        return;
    };
    let home = Home::new(&engine);
    home.container_builder("dc1");
    let mut lsp = home.server(json!({}));
    let err = lsp.request_error(
        "workspace/executeCommand",
        json!({"command": "buildkit.useBuilder", "arguments": ["nope"]}),
    );
    assert_eq!(err["code"], -32602);
    assert_eq!(
        err["message"],
        "command `buildkit.useBuilder`: no builder \"nope\" found; the builders are: dc1, default"
    );
    let err = lsp.request_error(
        "workspace/executeCommand",
        json!({"command": "buildkit.useBuilder", "arguments": []}),
    );
    assert_eq!(
        err["message"],
        "command `buildkit.useBuilder`: expected one argument: the builder name"
    );
}

#[test]
fn select_builder_asks_with_show_message_request_and_uses_the_answer() {
    let Some(engine) = support::docker_or_skip("select_builder") else {
        return;
    };
    let home = Home::new(&engine);
    home.container_builder("dc1");
    let mut lsp = home.server(json!({}));
    *lsp.message_action.lock().unwrap() = json!("dc1 (docker-container, inactive)");
    let r = command(&mut lsp, "buildkit.selectBuilder", json!([]));
    assert_eq!(r, json!({"name": "dc1", "driver": "docker-container"}));
    let asked = lsp.wait_server_request("window/showMessageRequest");
    let titles: Vec<&str> = asked["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "dc1 (docker-container, inactive)",
            "default (docker, running)"
        ]
    );
    assert_eq!(
        asked["message"],
        "Select the builder for this workspace (now: default (docker, running))"
    );
    let changed = lsp.notification_where("buildkit/builderChanged", 0, |p| p["name"] == "dc1");
    assert_eq!(changed["driver"], "docker-container");

    // Dismissed: null, and the selection stays.
    *lsp.message_action.lock().unwrap() = Value::Null;
    let r = command(&mut lsp, "buildkit.selectBuilder", json!([]));
    assert_eq!(r, Value::Null);
    let rows = command(&mut lsp, "buildkit.listBuilders", json!([]));
    assert_eq!(by_name(&rows, "dc1")["selected"], true);
}

const MULTI_STAGE: &str = "FROM busybox:test AS build\nRUN echo hi > /out\nFROM busybox:test\nCOPY --from=build /out /out\nFROM build AS test\n";

fn lens_summary(lenses: &Value) -> Vec<(Value, String, String, Value)> {
    lenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["range"].clone(),
                l["command"]["title"].as_str().unwrap().to_string(),
                l["command"]["command"].as_str().unwrap().to_string(),
                l["command"]["arguments"].clone(),
            )
        })
        .collect()
}

#[test]
fn code_lenses_of_a_multi_stage_dockerfile_follow_the_selected_builder() {
    let Some(engine) = support::docker_or_skip("code_lenses") else {
        return;
    };
    let home = Home::new(&engine);
    home.container_builder("dc1");
    let work = tempfile::tempdir().unwrap();
    let df = work.path().join("Dockerfile");
    std::fs::write(&df, MULTI_STAGE).unwrap();
    let uri = file_uri(&df);
    let mut lsp = home.server(json!({}));
    lsp.open(&uri, MULTI_STAGE);
    // The watch resolves the builder right after `initialized`.
    lsp.notification_where("buildkit/builderChanged", 0, |p| p["name"] == "default");
    let lenses = lsp.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    let top = range(0, 0, 0, 0);
    assert_eq!(
        lens_summary(&lenses),
        vec![
            (
                top.clone(),
                "▶ Build".to_string(),
                "buildkit.build".to_string(),
                json!([{"uri": uri}])
            ),
            (
                top.clone(),
                "⚒ default (docker)".to_string(),
                "buildkit.selectBuilder".to_string(),
                json!([])
            ),
            (
                range(0, 0, 0, 26),
                "▶ Build stage build".to_string(),
                "buildkit.build".to_string(),
                json!([{"uri": uri, "target": "build"}])
            ),
            (
                range(4, 0, 4, 18),
                "▶ Build stage test".to_string(),
                "buildkit.build".to_string(),
                json!([{"uri": uri, "target": "test"}])
            ),
        ]
    );

    let refreshes = lsp.server_requests("workspace/codeLens/refresh").len();
    command(&mut lsp, "buildkit.useBuilder", json!(["dc1"]));
    let changed = lsp.notification_where("buildkit/builderChanged", 0, |p| p["name"] == "dc1");
    assert_eq!(changed["driver"], "docker-container");
    let end = Instant::now() + Duration::from_secs(10);
    while lsp.server_requests("workspace/codeLens/refresh").len() <= refreshes {
        assert!(
            Instant::now() < end,
            "no workspace/codeLens/refresh after useBuilder"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let lenses = lsp.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    assert_eq!(lenses[1]["command"]["title"], "⚒ dc1 (docker-container)");
}

#[test]
fn remembered_builder_from_initialization_options_is_used() {
    let Some(engine) = support::docker_or_skip("remembered_builder") else {
        return;
    };
    let home = Home::new(&engine);
    home.container_builder("dc1");
    let mut lsp = home.server(json!({"builder": "dc1"}));
    let rows = command(&mut lsp, "buildkit.listBuilders", json!([]));
    assert_eq!(by_name(&rows, "dc1")["selected"], true);
    drop(lsp);
    // A remembered builder that no longer exists: buildx's choice.
    let mut lsp = home.server(json!({"builder": "gone"}));
    let rows = command(&mut lsp, "buildkit.listBuilders", json!([]));
    assert_eq!(by_name(&rows, "default")["selected"], true);
}

#[test]
fn unreachable_builder_is_reported_once_and_hover_still_answers() {
    let Some(engine) = support::docker_or_skip("unreachable_builder") else {
        return;
    };
    let home = Home::new(&engine);
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let endpoint = format!("tcp://127.0.0.1:{port}");
    home.cli(&[
        "builder", "create", "--name", "far", "--driver", "remote", &endpoint,
    ]);
    let mut lsp = home.server(json!({}));
    let text = "FROM busybox:test\nRUN echo hi\n";
    let uri = "file:///tmp/lsp-builders-unreachable/Dockerfile";
    lsp.open(uri, text);
    command(&mut lsp, "buildkit.useBuilder", json!(["far"]));
    let down = lsp.notification_where("buildkit/builderChanged", 0, |p| {
        p["name"] == "far" && p["reachable"] == false
    });
    assert_eq!(down["driver"], "remote");
    assert_eq!(down["status"], "error");
    let message = down["message"].as_str().unwrap();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    let shown = lsp.notification_where("window/showMessage", 0, |p| {
        p["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Builder far stopped answering: "))
    });
    assert_eq!(shown["type"], 2); // warning

    let started = Instant::now();
    let hover = lsp.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": pos(1, 1)}),
    );
    assert!(hover["contents"]["value"].as_str().unwrap().contains("RUN"));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "hover took {:?}",
        started.elapsed()
    );
    // The next poll (10 s later) finds the same outage: no second message,
    // no second notification.
    std::thread::sleep(Duration::from_secs(11));
    let outages = lsp
        .notifications("window/showMessage")
        .iter()
        .filter(|p| {
            p["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Builder far stopped answering"))
        })
        .count();
    assert_eq!(outages, 1);
    let downs = lsp
        .notifications("buildkit/builderChanged")
        .iter()
        .filter(|p| p["name"] == "far" && p["reachable"] == false)
        .count();
    assert_eq!(downs, 1);
}
