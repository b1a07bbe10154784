//! Builder selection in the editor, through the real server binary over
//! stdio against the real test Docker Engine: listBuilders, selectBuilder
//! (the test client answers `window/showMessageRequest`), useBuilder (per
//! workspace, the store untouched) and useBuilderGlobally (the store's
//! `current`), `buildkit/builderChanged`, the build code lenses and their
//! refresh, and a builder that does not answer. Every test has its own
//! temporary `DOCKER_CONFIG`/`BUILDX_CONFIG` store.

mod lsp_support;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use lsp_support::{full_capabilities, pos, range, Lsp};
use serde_json::{json, Value};

use support::home::Home;

impl Home {
    /// Runs the CLI on this store; expects success.
    fn cli(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
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
        self.server_in(init_options, None)
    }

    /// A server with `folder` as its workspace folder.
    fn server_in(&self, init_options: Value, folder: Option<&Path>) -> Lsp {
        self.server_with(full_capabilities(), init_options, folder)
    }

    /// [`Home::server_in`] for a client with these capabilities.
    fn server_with(&self, capabilities: Value, init_options: Value, folder: Option<&Path>) -> Lsp {
        let folders = match folder {
            Some(f) => json!([{"uri": file_uri(f), "name": "work"}]),
            None => Value::Null,
        };
        let mut lsp = Lsp::spawn_env(&[], &self.envs());
        let mut options = json!({"buildkit": {"diagnostics": {"debounceMs": 0}}});
        if let (Some(o), Some(extra)) = (options.as_object_mut(), init_options.as_object()) {
            for (k, v) in extra {
                o.insert(k.clone(), v.clone());
            }
        }
        lsp.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": capabilities,
                   "initializationOptions": options, "workspaceFolders": folders}),
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
    let home = Home::with_engine(&engine);
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
    assert_eq!(dc["endpoint"], home.docker_host.as_deref().unwrap());
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
    let home = Home::with_engine(&engine);
    home.container_builder("dc1");
    let mut lsp = home.server(json!({}));
    // Reading the selection may write buildx's empty `current` (as buildx's
    // own Txn.Current does): take the store as it is once the server knows
    // its builder.
    lsp.notification_where("buildkit/builderChanged", 0, |p| p["name"] == "default");
    let before = home.current_file();
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
        json!({"Key": home.docker_host.as_deref().unwrap(), "Name": "dc1", "Global": false})
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
    let home = Home::with_engine(&engine);
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
    let home = Home::with_engine(&engine);
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
    let home = Home::with_engine(&engine);
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
    let home = Home::with_engine(&engine);
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
    let home = Home::with_engine(&engine);
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

const BAKE: &str = "target \"app\" {\n  tags = [\"app:dev\"]\n  cache-to = [\"type=registry,ref=127.0.0.1:5000/cache\"]\n}\n";
const SIMPLE: &str = "FROM busybox:test\nRUN echo hi\n";

/// Opens a bake file in the editor (`languageId` hcl).
fn open_bake(lsp: &Lsp, uri: &str, text: &str) {
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "hcl", "version": 1, "text": text}}),
    );
}

/// A workspace with a Dockerfile and a bake file whose target builds it.
fn bake_workspace() -> (tempfile::TempDir, String, String) {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("Dockerfile"), SIMPLE).unwrap();
    std::fs::write(work.path().join("docker-bake.hcl"), BAKE).unwrap();
    let df = file_uri(&work.path().join("Dockerfile"));
    let bake = file_uri(&work.path().join("docker-bake.hcl"));
    (work, df, bake)
}

/// The builder findings (codes `Builder*`) of the latest publish for `uri`.
fn builder_findings(lsp: &Lsp, uri: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    coded(lsp, uri, "Builder", pred)
}

fn codes(found: &[Value]) -> Vec<&str> {
    found.iter().map(|d| d["code"].as_str().unwrap()).collect()
}

const CACHE_MESSAGE: &str = "Cache export (type=registry) is not supported for the docker driver: only inline cache. Switch to a docker-container, kubernetes or remote builder. (bake target \"app\")";

#[test]
fn bake_cache_export_is_flagged_on_docker_and_not_after_switching_to_docker_container() {
    let Some(engine) = support::docker_or_skip("bake_cache_export") else {
        return;
    };
    let home = Home::with_engine(&engine);
    home.container_builder("dc1");
    let (work, df, bake) = bake_workspace();
    let mut lsp = home.server_in(json!({}), Some(work.path()));
    lsp.notification_where("buildkit/builderChanged", 0, |p| p["name"] == "default");
    lsp.open(&df, SIMPLE);
    open_bake(&lsp, &bake, BAKE);
    let on_df = builder_findings(&lsp, &df, |f| !f.is_empty());
    assert_eq!(codes(&on_df), ["BuilderCacheExport"]);
    let d = &on_df[0];
    assert_eq!(d["range"], range(0, 0, 0, 17)); // the FROM line
    assert_eq!(d["severity"], 1);
    assert_eq!(d["source"], "buildkit-lsp");
    assert_eq!(d["message"], CACHE_MESSAGE);
    // `cache-to = [...]` on line 2 of the bake file.
    assert_eq!(
        d["relatedInformation"],
        json!([{"location": {"uri": bake, "range": range(2, 2, 2, 55)}, "message": "set in docker-bake.hcl"}])
    );
    let on_bake = builder_findings(&lsp, &bake, |f| !f.is_empty());
    assert_eq!(codes(&on_bake), ["BuilderCacheExport"]);
    assert_eq!(on_bake[0]["range"], range(2, 2, 2, 55));
    assert_eq!(on_bake[0]["message"], CACHE_MESSAGE);
    assert_eq!(
        on_bake[0]["relatedInformation"],
        json!([{"location": {"uri": df, "range": range(0, 0, 0, 17)}, "message": "the Dockerfile this target builds"}])
    );
    // A bake file is not a Dockerfile: no parse errors or checks on it.
    let all_on_bake = lsp
        .notifications("textDocument/publishDiagnostics")
        .into_iter()
        .rfind(|p| p["uri"] == bake)
        .unwrap();
    assert_eq!(all_on_bake["diagnostics"].as_array().unwrap().len(), 1);

    command(&mut lsp, "buildkit.useBuilder", json!(["dc1"]));
    // Both documents re-validated at once: no cache finding, and the
    // docker-container driver's no-output warning instead.
    let on_df = builder_findings(&lsp, &df, |f| codes(f) != ["BuilderCacheExport"]);
    assert_eq!(codes(&on_df), ["BuilderLoadMissing"]);
    assert_eq!(on_df[0]["severity"], 2);
    assert_eq!(
        on_df[0]["message"],
        "No output specified with docker-container driver. Build result will only remain in the build cache. To push result image into registry use --push or to load image into docker use --load (bake target \"app\")"
    );
    let on_bake = builder_findings(&lsp, &bake, |f| codes(f) != ["BuilderCacheExport"]);
    assert_eq!(codes(&on_bake), ["BuilderLoadMissing"]);
    // On the target's name (there is no output attribute to point at).
    assert_eq!(on_bake[0]["range"], range(0, 7, 0, 12));
}

#[test]
fn bake_file_lenses_and_tags_on_the_build_lens() {
    let Some(engine) = support::docker_or_skip("bake_lenses") else {
        return;
    };
    let home = Home::with_engine(&engine);
    let (work, df, bake) = bake_workspace();
    let mut lsp = home.server_in(json!({}), Some(work.path()));
    lsp.open(&df, SIMPLE);
    open_bake(&lsp, &bake, BAKE);
    builder_findings(&lsp, &bake, |f| !f.is_empty());
    let lenses = lsp.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": bake}}),
    );
    assert_eq!(
        lens_summary(&lenses),
        vec![(
            range(0, 7, 0, 12),
            "▶ Bake target app".to_string(),
            "buildkit.build".to_string(),
            json!([{"uri": bake, "bakeTarget": "app"}])
        )]
    );
    let lenses = lsp.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": df}}),
    );
    assert_eq!(lenses[0]["command"]["title"], "▶ Build (app:dev)");
}

/// A client that chose UTF-8 positions gets bake ranges in bytes: on a line
/// with `é` (2 bytes, 1 UTF-16 unit) before the attribute, the columns
/// differ from the UTF-16 ones by one.
#[test]
fn bake_ranges_follow_the_clients_position_encoding() {
    let Some(engine) = support::docker_or_skip("bake_utf8") else {
        return;
    };
    let home = Home::with_engine(&engine);
    let line = "  /* é */ cache-to = [\"type=registry,ref=127.0.0.1:5000/cache\"]";
    let text = format!("target \"app\" {{\n  tags = [\"app:dev\"]\n{line}\n}}\n");
    let (work, df, bake) = bake_workspace();
    std::fs::write(work.path().join("docker-bake.hcl"), &text).unwrap();
    let mut caps = full_capabilities();
    caps["general"]["positionEncodings"] = json!(["utf-8"]);
    let lsp = home.server_with(caps, json!({}), Some(work.path()));
    lsp.open(&df, SIMPLE);
    open_bake(&lsp, &bake, &text);
    let start = line.find("cache-to").unwrap() as u32;
    let end = line.len() as u32;
    assert_eq!(start, 11, "byte column, one more than the UTF-16 one");
    let on_bake = builder_findings(&lsp, &bake, |f| !f.is_empty());
    assert_eq!(codes(&on_bake), ["BuilderCacheExport"]);
    assert_eq!(on_bake[0]["range"], range(2, start, 2, end));
    let on_df = builder_findings(&lsp, &df, |f| !f.is_empty());
    assert_eq!(
        on_df[0]["relatedInformation"][0]["location"]["range"],
        range(2, start, 2, end)
    );
}

fn code_actions(lsp: &mut Lsp, uri: &str, r: Value) -> Vec<Value> {
    let actions = lsp.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": r, "context": {"diagnostics": []}}),
    );
    actions.as_array().unwrap().clone()
}

fn titled<'a>(actions: &'a [Value], title: &str) -> &'a Value {
    actions
        .iter()
        .find(|a| a["title"] == title)
        .unwrap_or_else(|| panic!("no action {title:?} in {actions:?}"))
}

#[test]
fn capability_quick_fixes_switch_create_inline_and_load() {
    let Some(engine) = support::docker_or_skip("quick_fixes") else {
        return;
    };
    let home = Home::with_engine(&engine);
    home.container_builder("dc1");
    let (work, df, bake) = bake_workspace();
    let mut lsp = home.server_in(json!({}), Some(work.path()));
    lsp.notification_where("buildkit/builderChanged", 0, |p| p["name"] == "default");
    // listBuilders fills the builder list the fixes offer.
    command(&mut lsp, "buildkit.listBuilders", json!([]));
    lsp.open(&df, SIMPLE);
    builder_findings(&lsp, &df, |f| !f.is_empty());
    let actions = code_actions(&mut lsp, &df, range(0, 3, 0, 3));
    let switch = titled(&actions, "Switch to builder dc1 (docker-container)");
    assert_eq!(
        switch["command"],
        json!({"title": "Switch to builder dc1 (docker-container)", "command": "buildkit.useBuilder", "arguments": ["dc1"]})
    );
    assert_eq!(switch["diagnostics"][0]["code"], "BuilderCacheExport");
    let create = titled(&actions, "Create a docker-container builder and use it");
    assert_eq!(create["command"]["command"], "buildkit.createBuilder");
    assert_eq!(create["command"]["arguments"], json!([{"use": true}]));
    let inline = titled(
        &actions,
        "Export the cache inline (cache-to = [\"type=inline\"])",
    );
    assert_eq!(
        inline["edit"]["changes"][bake.as_str()],
        json!([{"range": range(2, 2, 2, 55), "newText": "cache-to = [\"type=inline\"]"}])
    );

    // On docker-container: the bake target gets the load fix as an edit.
    command(&mut lsp, "buildkit.useBuilder", json!(["dc1"]));
    builder_findings(&lsp, &df, |f| codes(f) == ["BuilderLoadMissing"]);
    let actions = code_actions(&mut lsp, &df, range(0, 0, 0, 0));
    let load = titled(
        &actions,
        "Load the image into Docker: add output type=docker to bake target \"app\"",
    );
    let edits = load["edit"]["changes"][bake.as_str()].as_array().unwrap();
    assert_eq!(edits.len(), 1);
    let applied = apply(BAKE, &edits[0]);
    assert_eq!(
        applied,
        "target \"app\" {\n  tags = [\"app:dev\"]\n  cache-to = [\"type=registry,ref=127.0.0.1:5000/cache\"]\n  output = [\"type=docker\"]\n}\n"
    );
    // The default docker builder (automatic load) is offered too.
    titled(&actions, "Switch to builder default (docker)");
}

#[test]
fn load_fix_for_settings_builds_is_the_enable_load_command() {
    let Some(engine) = support::docker_or_skip("enable_load") else {
        return;
    };
    let home = Home::with_engine(&engine);
    home.container_builder("dc1");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("Dockerfile"), SIMPLE).unwrap();
    let df = file_uri(&work.path().join("Dockerfile"));
    let mut lsp = home.server_in(json!({"builder": "dc1"}), Some(work.path()));
    lsp.open(&df, SIMPLE);
    let found = builder_findings(&lsp, &df, |f| !f.is_empty());
    assert_eq!(codes(&found), ["BuilderLoadMissing"]);
    assert_eq!(
        found[0]["message"],
        "No output specified with docker-container driver. Build result will only remain in the build cache. To push result image into registry use --push or to load image into docker use --load"
    );
    let actions = code_actions(&mut lsp, &df, range(0, 0, 0, 0));
    let load = titled(
        &actions,
        "Load the image into Docker (set buildkit.build.load)",
    );
    assert_eq!(load["command"]["command"], "buildkit.enableLoad");
    let r = command(&mut lsp, "buildkit.enableLoad", json!([]));
    assert_eq!(r, json!({"setting": "buildkit.build.load", "value": true}));
    builder_findings(&lsp, &df, |f| f.is_empty());
}

/// Applies one LSP text edit (single-line or multi-line range) to `text`.
fn apply(text: &str, edit: &Value) -> String {
    let offset = |p: &Value| {
        let line = p["line"].as_u64().unwrap() as usize;
        let ch = p["character"].as_u64().unwrap() as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        start + ch
    };
    let a = offset(&edit["range"]["start"]);
    let b = offset(&edit["range"]["end"]);
    format!(
        "{}{}{}",
        &text[..a],
        edit["newText"].as_str().unwrap(),
        &text[b..]
    )
}

const IMAGE: &str = support::STAND_IN_BUILDKIT_IMAGE;

#[test]
fn create_builder_bootstraps_with_progress_and_remove_builder_falls_back() {
    let Some(engine) = support::docker_or_skip("create_builder") else {
        return;
    };
    support::build_stand_in_buildkit_image_blocking(&engine);
    let relay = support::relay::Relay::tcp(&engine, support::relay::RelayTls::None);
    let relay_addr = relay.endpoint().trim_start_matches("tcp://").to_string();
    let home = Home::with_engine(&engine);
    let name = support::unique_name("made").replace('-', "_");
    let _cleanup = support::RemoveBuilderContainer(format!("{name}0"));
    let mut lsp = home.server(json!({}));
    let r = command(
        &mut lsp,
        "buildkit.createBuilder",
        json!([{"name": name, "use": true, "driverOpts": {
            "image": IMAGE, "network": "host", "privileged": "false",
            "env.BUILDKIT_RELAY": relay_addr}}]),
    );
    assert_eq!(r, json!({"name": name, "driver": "docker-container"}));
    // Work-done progress: the token is created first, then begin … end.
    let created = lsp.wait_server_request("window/workDoneProgress/create");
    let token = created["token"].clone();
    let progress: Vec<Value> = lsp
        .notifications("$/progress")
        .into_iter()
        .filter(|p| p["token"] == token)
        .map(|p| p["value"].clone())
        .collect();
    assert_eq!(
        progress.first().unwrap(),
        &json!({"kind": "begin", "cancellable": false,
                "title": format!("Starting builder {name} (docker-container)")})
    );
    assert_eq!(
        progress.last().unwrap(),
        &json!({"kind": "end", "message": "running"})
    );
    // The driver's steps in between, e.g. "[made…0] creating container …".
    assert!(
        progress.iter().any(|p| p["kind"] == "report"
            && p["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(&format!("[{name}0] creating container")))),
        "{progress:?}"
    );
    let rows = command(&mut lsp, "buildkit.listBuilders", json!([]));
    assert_eq!(by_name(&rows, &name)["status"], "running");
    assert_eq!(by_name(&rows, &name)["selected"], true);
    // `use` selects for the workspace only.
    let current = home.current_file().unwrap_or_default();
    assert!(!current.contains(&name), "{current}");

    let r = command(&mut lsp, "buildkit.stopBuilder", json!([]));
    assert_eq!(r, json!({"name": name, "status": "stopped"}));
    let r = command(&mut lsp, "buildkit.removeBuilder", json!([name]));
    assert_eq!(r, json!({"name": name, "status": "removed"}));
    let rows = command(&mut lsp, "buildkit.listBuilders", json!([]));
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default"]);
    assert_eq!(by_name(&rows, "default")["selected"], true);
    lsp.notification_where("buildkit/builderChanged", 0, |p| {
        p["name"] == "default" && p["status"] == "running"
    });
}

#[test]
fn editing_the_open_bake_file_revalidates_the_dockerfile() {
    let Some(engine) = support::docker_or_skip("bake_edit") else {
        return;
    };
    let home = Home::with_engine(&engine);
    let (work, df, bake) = bake_workspace();
    let lsp = home.server_in(json!({}), Some(work.path()));
    lsp.notification_where("buildkit/builderChanged", 0, |p| p["name"] == "default");
    lsp.open(&df, SIMPLE);
    open_bake(&lsp, &bake, BAKE);
    builder_findings(&lsp, &df, |f| codes(f) == ["BuilderCacheExport"]);
    // Unsaved edit: the cache goes inline, which the docker driver can do.
    let inline = BAKE.replace("type=registry,ref=127.0.0.1:5000/cache", "type=inline");
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": bake, "version": 2}, "contentChanges": [{"text": inline}]}),
    );
    builder_findings(&lsp, &df, |f| f.is_empty());
    builder_findings(&lsp, &bake, |f| f.is_empty());
    // The file on disk still says registry; a watched-file event alone does
    // not override the open document.
    lsp.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": bake, "type": 2}]}),
    );
    std::thread::sleep(Duration::from_millis(300));
    builder_findings(&lsp, &df, |f| f.is_empty());
}

/// The diagnostics of the latest publish for `uri` whose code starts with
/// `prefix`, once `pred` holds for them.
fn coded(lsp: &Lsp, uri: &str, prefix: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(p) = lsp
            .notifications("textDocument/publishDiagnostics")
            .into_iter()
            .rfind(|p| p["uri"] == uri)
        {
            let found: Vec<Value> = p["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["code"].as_str().is_some_and(|c| c.starts_with(prefix)))
                .cloned()
                .collect();
            if pred(&found) {
                return found;
            }
        }
        assert!(Instant::now() < end, "no matching diagnostics for {uri}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_broken_bake_file_shows_its_error_where_it_is() {
    let Some(engine) = support::docker_or_skip("bake_errors") else {
        return;
    };
    let home = Home::with_engine(&engine);
    let (work, _df, bake) = bake_workspace();
    let lsp = home.server_in(json!({}), Some(work.path()));
    // Line 1 is missing its closing bracket: HCL syntax error.
    let broken = "target \"app\" {\n  tags = [\"app:dev\"\n}\n";
    open_bake(&lsp, &bake, broken);
    let errors = coded(&lsp, &bake, "Bake", |f| !f.is_empty());
    assert_eq!(codes(&errors), ["BakeSyntax"], "{errors:?}");
    assert_eq!(errors[0]["severity"], 1);
    assert_eq!(errors[0]["source"], "buildkit-lsp");
    // Reported inside the unterminated list, not on the first line.
    let line = errors[0]["range"]["start"]["line"].as_u64().unwrap();
    assert!((1..=2).contains(&line), "{errors:?}");
    // Fixing the file clears it and the target's findings come back.
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": bake, "version": 2}, "contentChanges": [{"text": BAKE}]}),
    );
    coded(&lsp, &bake, "Bake", |f| f.is_empty());
    let on_bake = builder_findings(&lsp, &bake, |f| !f.is_empty());
    assert_eq!(codes(&on_bake), ["BuilderCacheExport"]);
    assert_eq!(lsp.shutdown(), Some(0));
}

/// The docker driver's limits follow the engine's image store, read as buildx
/// reads it (`driver-type` in `/info`'s DriverStatus): the same bake file is
/// flagged for cache export, two platforms and an OCI tarball on a classic
/// store, and only for its missing stage on the containerd store.
/// `scripts/test` runs this on Engine 20.10 and on Engine 26 with each store.
#[test]
fn bake_findings_on_the_docker_driver_follow_the_engines_image_store() {
    let Some(engine) = support::docker_or_skip("bake_findings_follow_the_image_store") else {
        return;
    };
    let containerd = support::engine_facts(&engine).containerd_store;
    let home = Home::with_engine(&engine);
    let work = tempfile::tempdir().unwrap();
    let bake_text = "target \"app\" {\n  target = \"nope\"\n  platforms = [\"linux/amd64\", \"linux/386\"]\n  cache-to = [\"type=registry,ref=127.0.0.1:5000/cache\"]\n  output = [\"type=oci,dest=out.tar\"]\n}\n";
    std::fs::write(work.path().join("Dockerfile"), SIMPLE).unwrap();
    std::fs::write(work.path().join("docker-bake.hcl"), bake_text).unwrap();
    let df = file_uri(&work.path().join("Dockerfile"));
    let bake = file_uri(&work.path().join("docker-bake.hcl"));
    let lsp = home.server_in(json!({}), Some(work.path()));
    lsp.notification_where("buildkit/builderChanged", 0, |p| p["name"] == "default");
    lsp.open(&df, SIMPLE);
    open_bake(&lsp, &bake, bake_text);
    let mut expected = vec!["BuilderTargetMissing"];
    if !containerd {
        expected.extend([
            "BuilderCacheExport",
            "BuilderMultiPlatform",
            "BuilderTarballOutput",
        ]);
    }
    expected.sort();
    // The nodes' platforms differ between the engines' workers (the
    // containerd worker has no linux/386): BuilderPlatform is not what this
    // test is about.
    fn sorted(f: &[Value]) -> Vec<&str> {
        let mut c: Vec<&str> = codes(f)
            .into_iter()
            .filter(|c| *c != "BuilderPlatform")
            .collect();
        c.sort();
        c
    }
    let on_bake = builder_findings(&lsp, &bake, |f| sorted(f) == expected);
    assert_eq!(sorted(&on_bake), expected, "containerd store: {containerd}");
}
