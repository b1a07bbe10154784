//! Builds from the editor against the real test Docker Engine (docker
//! driver): `buildkit.build` results, work-done progress, the build log,
//! `BuildFailed` diagnostics, cancellation (progress cancel and
//! `buildkit.cancelBuild`), responsiveness during a build, build on save.
//!
//! Each test has its own HOME and an empty buildx store, so the builder is
//! the engine's own (`default`, docker driver). Dockerfiles carry a nonce so
//! BuildKit's cache never hides the step output a test looks for.

mod lsp_support;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use lsp_support::{full_capabilities, pos, Lsp};
use serde_json::{json, Value};

/// A build of busybox steps takes a few seconds; a loaded machine more.
const BUILD_LIMIT: Duration = Duration::from_secs(240);

fn nonce() -> String {
    support::unique_name("n").replace(['-', '_'], "")
}

/// Starts the server with a private HOME/buildx store and `settings` as the
/// `buildkit` section (sent both ways a client can).
fn start(home: &Path, settings: Value) -> Lsp {
    let envs = [
        ("HOME", home.display().to_string()),
        ("DOCKER_CONFIG", home.join("docker").display().to_string()),
        ("BUILDX_CONFIG", home.join("buildx").display().to_string()),
        ("BUILDX_BUILDER", String::new()),
        ("BUILDKIT_HOST", String::new()),
    ];
    let mut lsp = Lsp::spawn_env(&[], &envs);
    *lsp.configuration.lock().unwrap() = settings.clone();
    lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": full_capabilities(),
               "initializationOptions": {"buildkit": settings}}),
    );
    lsp.notify("initialized", json!({}));
    lsp
}

fn uri_of(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn send_build(lsp: &mut Lsp, args: Value) -> i64 {
    lsp.send_request(
        "workspace/executeCommand",
        json!({"command": "buildkit.build", "arguments": [args]}),
    )
}

fn build_result(lsp: &Lsp, id: i64, limit: Duration) -> Value {
    let r = lsp
        .response_within(id, limit)
        .unwrap_or_else(|| panic!("buildkit.build (request {id}) did not answer in {limit:?}"));
    assert!(r.get("error").is_none(), "buildkit.build failed: {r}");
    r["result"].clone()
}

/// The build log of one build, in order.
fn log_of(lsp: &Lsp, build_id: &str) -> String {
    lsp.notifications("buildkit/buildLog")
        .iter()
        .filter(|p| p["buildId"] == build_id)
        .map(|p| p["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `$/progress` values sent for `token`, in order.
fn progress_of(lsp: &Lsp, token: &Value) -> Vec<Value> {
    lsp.notifications("$/progress")
        .into_iter()
        .filter(|p| &p["token"] == token)
        .map(|p| p["value"].clone())
        .collect()
}

/// Processes whose command line is exactly `args` (the RUN step's own
/// process, which runs on this host's process table under runc).
fn processes(args: &str) -> usize {
    let out = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.trim() == args)
        .count()
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

fn build_failed(diags: &[Value]) -> Vec<Value> {
    diags
        .iter()
        .filter(|d| d["code"] == "BuildFailed")
        .cloned()
        .collect()
}

/// The `BuildFailed` diagnostics of the first publish for `uri`, after the
/// first `skip` publishes, with `count` of them (other parts of the server
/// may publish in between).
fn failures_after(lsp: &Lsp, uri: &str, skip: usize, count: usize) -> Vec<Value> {
    let p = lsp.notification_where("textDocument/publishDiagnostics", skip, |p| {
        p["uri"] == uri
            && build_failed(p["diagnostics"].as_array().map_or(&[][..], Vec::as_slice)).len()
                == count
    });
    build_failed(p["diagnostics"].as_array().map_or(&[][..], Vec::as_slice))
}

#[test]
fn target_and_full_builds_stream_progress_and_log_and_answer_with_the_image() {
    if support::docker_or_skip("target_and_full_builds").is_none() {
        return;
    }
    let n = nonce();
    let dockerfile = format!(
        "FROM busybox:test AS base\n\
         RUN echo base-$((40+2))-{n} > /base.txt && cat /base.txt\n\
         \n\
         FROM busybox:test\n\
         COPY --from=base /base.txt /base.txt\n\
         RUN echo final-$((50+5))-{n}\n"
    );
    let ctx = support::TempContext::new().file("Dockerfile", &dockerfile);
    let home = tempfile::tempdir().unwrap();
    let tag = format!("lsp-build-run:{n}");
    let mut lsp = start(
        home.path(),
        json!({"diagnostics": {"debounceMs": 0}, "build": {"tags": [tag]}}),
    );
    let uri = uri_of(&ctx.path().join("Dockerfile"));
    lsp.open(&uri, &dockerfile);

    // Only the `base` stage.
    let id = send_build(&mut lsp, json!({"uri": uri, "target": "base"}));
    let base = build_result(&lsp, id, BUILD_LIMIT);
    assert_eq!(base["ok"], true, "{base}");
    assert_eq!(base["target"], "base");
    let base_log = log_of(&lsp, base["buildId"].as_str().unwrap());
    assert!(base_log.contains(&format!(" base-42-{n}\n")), "{base_log}");
    assert!(!base_log.contains("final-"), "{base_log}");

    // The whole Dockerfile: `base` comes from the cache now.
    let id = send_build(&mut lsp, json!({"uri": uri}));
    let full = build_result(&lsp, id, BUILD_LIMIT);
    assert_eq!(full["ok"], true, "{full}");
    assert_eq!(full["cancelled"], false);
    assert_eq!(full["error"], Value::Null);
    assert_eq!(full["target"], Value::Null);
    assert_eq!(full["builder"], "default");
    assert_eq!(full["driver"], "docker");
    assert_eq!(full["tags"], json!([tag]));
    let image = full["imageId"].as_str().unwrap_or_default();
    assert!(image.starts_with("sha256:") && image.len() == 71, "{full}");
    // The engine has the image under the tag of the settings.
    let inspect = std::process::Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &tag])
        .output()
        .expect("docker image inspect runs");
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), image);
    let _ = std::process::Command::new("docker")
        .args(["image", "rm", &tag])
        .output();
    let total = full["totalSteps"].as_u64().unwrap();
    let cached = full["cachedSteps"].as_u64().unwrap();
    // FROM, the base RUN, COPY, the final RUN at least; the base RUN cached.
    assert!(total >= 4, "{full}");
    assert!(cached >= 1 && cached < total, "{full}");
    assert_ne!(full["buildId"], base["buildId"]);

    let build_id = full["buildId"].as_str().unwrap();
    let log = log_of(&lsp, build_id);
    assert!(log.contains(&format!(" final-55-{n}\n")), "{log}");
    assert!(log.contains("CACHED"), "{log}");
    for p in lsp.notifications("buildkit/buildLog") {
        let text = p["text"].as_str().unwrap();
        assert!(text.ends_with('\n'), "incomplete line in {p}");
        assert_eq!(p["uri"], uri);
        assert_eq!(p["builder"], "default");
    }
    let log_messages: String = lsp
        .notifications("window/logMessage")
        .iter()
        .filter(|p| p["type"] == 4)
        .map(|p| p["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(log_messages.contains(&format!("final-55-{n}")));

    // Work-done progress: created by the server, begin → reports → end.
    let tokens: Vec<Value> = lsp
        .server_requests("window/workDoneProgress/create")
        .iter()
        .map(|p| p["token"].clone())
        .collect();
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    let values = progress_of(&lsp, &tokens[1]);
    assert_eq!(values[0]["kind"], "begin", "{values:?}");
    assert_eq!(
        values[0]["title"],
        "Building Dockerfile on default (docker)"
    );
    assert_eq!(values[0]["cancellable"], true);
    let end = values.last().unwrap();
    assert_eq!(end["kind"], "end");
    let end_message = end["message"].as_str().unwrap();
    assert!(
        end_message.starts_with("done in ") && end_message.ends_with(&format!("({cached} cached)")),
        "{end_message}"
    );
    let reports: Vec<&Value> = values.iter().filter(|v| v["kind"] == "report").collect();
    assert!(!reports.is_empty());
    let percentages: Vec<u64> = reports
        .iter()
        .map(|r| r["percentage"].as_u64().unwrap())
        .collect();
    assert!(
        percentages.windows(2).all(|w| w[0] <= w[1]),
        "{percentages:?}"
    );
    assert_eq!(percentages.last(), Some(&100));
    for r in &reports {
        let m = r["message"].as_str().unwrap();
        assert!(m.starts_with('[') && m.contains("] "), "{m}");
    }
    // At most 10 reports a second (one per 100 ms tick, plus the final one).
    let duration_ms = full["durationMs"].as_u64().unwrap();
    assert!(
        reports.len() as u64 <= duration_ms / 100 + 2,
        "{} reports in {duration_ms} ms",
        reports.len()
    );
    let shown: Vec<String> = lsp
        .notifications("window/showMessage")
        .iter()
        .map(|p| p["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        shown
            .iter()
            .any(|m| m.starts_with("Built Dockerfile on default in ") && m.contains(image)),
        "{shown:?}"
    );
    assert!(shown
        .iter()
        .any(|m| m.starts_with("Built base on default in ")));
}

#[test]
fn failing_run_is_a_diagnostic_on_its_line_until_a_successful_build_or_an_edit() {
    if support::docker_or_skip("failing_run_is_a_diagnostic").is_none() {
        return;
    }
    let n = nonce();
    let failing = format!("RUN echo checking-{n} && test \"$(cat /flag)\" = ok || exit 3");
    let dockerfile = format!("FROM busybox:test\nCOPY flag /flag\n{failing}\nCMD [\"true\"]\n");
    let ctx = support::TempContext::new()
        .file("Dockerfile", &dockerfile)
        .file("flag", "no");
    let home = tempfile::tempdir().unwrap();
    let mut lsp = start(home.path(), json!({"diagnostics": {"debounceMs": 0}}));
    let uri = uri_of(&ctx.path().join("Dockerfile"));
    lsp.open(&uri, &dockerfile);
    assert_eq!(build_failed(&lsp.diagnostics(&uri, 1)), Vec::<Value>::new());

    let publishes = lsp.count("textDocument/publishDiagnostics");
    let id = send_build(&mut lsp, json!({"uri": uri}));
    let r = build_result(&lsp, id, BUILD_LIMIT);
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["cancelled"], false);
    let error = r["error"].as_str().unwrap();
    assert!(error.contains("exit code: 3"), "{error}");
    let diags = failures_after(&lsp, &uri, publishes, 1);
    let d = &diags[0];
    // The RUN line, whole (ASCII: UTF-16 units = bytes).
    assert_eq!(
        d["range"],
        json!({"start": pos(2, 0), "end": pos(2, failing.len() as u32)})
    );
    assert_eq!(d["source"], "buildkit");
    assert_eq!(d["severity"], 1);
    let message = d["message"].as_str().unwrap();
    assert!(message.contains("\nexit code 3"), "{message}");
    assert!(message.contains(&format!("checking-{n}")), "{message}");
    let shown = lsp.notifications("window/showMessage");
    assert!(shown.iter().any(|p| p["type"] == 1
        && p["message"]
            .as_str()
            .unwrap()
            .starts_with("Build of Dockerfile on default failed: ")));

    // A line inserted above: the diagnostic moves with its instruction.
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [{"range": lsp_support::range(0, 0, 0, 0), "text": "# note\n"}]}),
    );
    let moved = build_failed(&lsp.diagnostics(&uri, 2));
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0]["range"]["start"], pos(3, 0));

    // A successful build of the same target clears it.
    std::fs::write(ctx.path().join("flag"), "ok").unwrap();
    let publishes = lsp.count("textDocument/publishDiagnostics");
    let id = send_build(&mut lsp, json!({"uri": uri}));
    let r = build_result(&lsp, id, BUILD_LIMIT);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        failures_after(&lsp, &uri, publishes, 0),
        Vec::<Value>::new()
    );

    // Failing again, then an edit inside the instruction clears it.
    std::fs::write(ctx.path().join("flag"), "again no").unwrap();
    let publishes = lsp.count("textDocument/publishDiagnostics");
    let id = send_build(&mut lsp, json!({"uri": uri}));
    assert_eq!(build_result(&lsp, id, BUILD_LIMIT)["ok"], false);
    let again = failures_after(&lsp, &uri, publishes, 1);
    assert_eq!(again[0]["range"]["start"], pos(3, 0));
    let col = failing.find("exit 3").unwrap() as u32;
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3},
               "contentChanges": [{"range": lsp_support::range(3, col + 5, 3, col + 6), "text": "4"}]}),
    );
    assert_eq!(build_failed(&lsp.diagnostics(&uri, 3)), Vec::<Value>::new());
}

/// Starts a build whose RUN sleeps `secs` and waits until its process runs.
fn start_sleeping_build(lsp: &mut Lsp, dir: &Path, secs: u32) -> (String, i64) {
    let n = nonce();
    let dockerfile = format!("FROM busybox:test\nRUN echo start-{n} && sleep {secs}\n");
    std::fs::write(dir.join("Dockerfile"), &dockerfile).unwrap();
    let uri = uri_of(&dir.join("Dockerfile"));
    lsp.open(&uri, &dockerfile);
    let id = send_build(lsp, json!({"uri": uri}));
    let started = lsp.notification_within("buildkit/buildLog", BUILD_LIMIT, |p| {
        p["text"]
            .as_str()
            .is_some_and(|t| t.contains(&format!(" start-{n}\n")))
    });
    assert!(started.is_some(), "the RUN step never started");
    let sleep = format!("sleep {secs}");
    assert!(
        wait_until(Duration::from_secs(10), || processes(&sleep) >= 1),
        "no `{sleep}` process while the step runs"
    );
    (uri, id)
}

#[test]
fn progress_cancel_stops_the_run_step_on_the_daemon_and_hover_answers_meanwhile() {
    if support::docker_or_skip("progress_cancel").is_none() {
        return;
    }
    let ctx = support::TempContext::new();
    let home = tempfile::tempdir().unwrap();
    let mut lsp = start(home.path(), json!({"diagnostics": {"debounceMs": 0}}));
    let (uri, id) = start_sleeping_build(&mut lsp, ctx.path(), 67);

    // The server answers while the build runs.
    let asked = Instant::now();
    let hover = lsp.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": pos(0, 1)}),
    );
    let hover_ms = asked.elapsed().as_millis();
    assert!(hover["contents"].is_object(), "{hover}");
    assert!(hover_ms < 500, "hover took {hover_ms} ms during a build");

    let token = lsp.wait_server_request("window/workDoneProgress/create")["token"].clone();
    let cancelled_at = Instant::now();
    lsp.notify("window/workDoneProgress/cancel", json!({"token": token}));
    let r = build_result(&lsp, id, Duration::from_secs(5));
    let took = cancelled_at.elapsed();
    assert!(took < Duration::from_secs(2), "cancel took {took:?}");
    let gone = wait_until(Duration::from_secs(2), || processes("sleep 67") == 0);
    // Figures for docs/lsp-builds.md (`--nocapture`).
    eprintln!(
        "figure: hover during a build {hover_ms} ms; cancel -> result {} ms; -> RUN process gone {} ms",
        took.as_millis(),
        cancelled_at.elapsed().as_millis()
    );
    assert_eq!(r["ok"], false);
    assert_eq!(r["cancelled"], true);
    assert_eq!(r["error"], "the build was cancelled");
    assert!(gone, "the RUN step still runs after the cancel");
    let values = progress_of(&lsp, &token);
    assert_eq!(
        values.last().unwrap(),
        &json!({"kind": "end", "message": "cancelled"})
    );
}

#[test]
fn cancel_build_command_stops_the_documents_build() {
    if support::docker_or_skip("cancel_build_command").is_none() {
        return;
    }
    let ctx = support::TempContext::new();
    let home = tempfile::tempdir().unwrap();
    let mut lsp = start(home.path(), json!({"diagnostics": {"debounceMs": 0}}));
    let (uri, id) = start_sleeping_build(&mut lsp, ctx.path(), 71);

    let none = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.cancelBuild", "arguments": [{"buildId": "build-0-0"}]}),
    );
    assert_eq!(none, json!({"cancelled": 0}));
    let cancelled_at = Instant::now();
    let n = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.cancelBuild", "arguments": [{"uri": uri}]}),
    );
    assert_eq!(n, json!({"cancelled": 1}));
    let r = build_result(&lsp, id, Duration::from_secs(5));
    assert!(cancelled_at.elapsed() < Duration::from_secs(2));
    assert_eq!(r["cancelled"], true, "{r}");
    assert!(
        wait_until(Duration::from_secs(2), || processes("sleep 71") == 0),
        "the RUN step still runs after the cancel"
    );
    let err = lsp.request_error(
        "workspace/executeCommand",
        json!({"command": "buildkit.cancelBuild", "arguments": []}),
    );
    assert_eq!(err["code"], -32602);
}

#[test]
fn three_rapid_saves_run_one_build_to_completion() {
    if support::docker_or_skip("three_rapid_saves").is_none() {
        return;
    }
    let n = nonce();
    let dockerfile = format!("FROM busybox:test\nRUN echo saved-$((6*7))-{n}\n");
    let ctx = support::TempContext::new().file("Dockerfile", &dockerfile);
    let home = tempfile::tempdir().unwrap();
    let mut lsp = start(
        home.path(),
        json!({"buildOnSave": true, "diagnostics": {"debounceMs": 0}}),
    );
    let uri = uri_of(&ctx.path().join("Dockerfile"));
    lsp.open(&uri, &dockerfile);
    // Settings are pulled after `initialized`: wait for them.
    lsp.wait_server_request("workspace/configuration");
    let info = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.serverInfo", "arguments": []}),
    );
    assert_eq!(info["openDocuments"][0]["uri"], uri);
    for _ in 0..3 {
        lsp.notify(
            "textDocument/didSave",
            json!({"textDocument": {"uri": uri}}),
        );
        std::thread::sleep(Duration::from_millis(60));
    }
    let done = lsp.notification_within("window/showMessage", BUILD_LIMIT, |p| {
        p["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Built "))
    });
    assert!(done.is_some(), "no build finished after the saves");
    // Nothing else starts afterwards.
    std::thread::sleep(Duration::from_millis(1500));
    let mut ids: Vec<String> = lsp
        .notifications("buildkit/buildLog")
        .iter()
        .map(|p| p["buildId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let ends: Vec<Value> = lsp
        .notifications("window/showMessage")
        .into_iter()
        .filter(|p| {
            p["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Built ") || m.starts_with("Build of "))
        })
        .collect();
    assert_eq!(ends.len(), 1, "{ends:?}");
    assert!(log_of(&lsp, &ids[0]).contains(&format!(" saved-42-{n}\n")));
}

#[test]
fn bake_target_builds_with_the_bake_files_configuration() {
    if support::docker_or_skip("bake_target_builds").is_none() {
        return;
    }
    let n = nonce();
    let dockerfile = format!(
        "FROM busybox:test AS base\nRUN echo baked-$((2*21))-{n}\nFROM base\nRUN echo never-$((1+1))-{n}\n"
    );
    let bake = format!(
        "target \"app\" {{\n  dockerfile = \"Dockerfile\"\n  target = \"base\"\n  tags = [\"lsp-bake:{n}\"]\n}}\n"
    );
    let ctx = support::TempContext::new()
        .file("Dockerfile", &dockerfile)
        .file("docker-bake.hcl", &bake);
    let home = tempfile::tempdir().unwrap();
    let mut lsp = start(home.path(), json!({"diagnostics": {"debounceMs": 0}}));
    let bake_uri = uri_of(&ctx.path().join("docker-bake.hcl"));
    let id = send_build(&mut lsp, json!({"uri": bake_uri, "bakeTarget": "app"}));
    let r = build_result(&lsp, id, BUILD_LIMIT);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["target"], "app");
    assert_eq!(r["tags"], json!([format!("lsp-bake:{n}")]));
    let log = log_of(&lsp, r["buildId"].as_str().unwrap());
    assert!(log.contains(&format!(" baked-42-{n}\n")), "{log}");
    assert!(!log.contains("never-"), "{log}");
    let _ = std::process::Command::new("docker")
        .args(["image", "rm", &format!("lsp-bake:{n}")])
        .output();

    let err = lsp.request_error(
        "workspace/executeCommand",
        json!({"command": "buildkit.build", "arguments": [{"uri": bake_uri, "bakeTarget": "nope"}]}),
    );
    assert_eq!(err["code"], -32602);
    assert!(err["message"].as_str().unwrap().contains("nope"), "{err}");
}

/// The stand-in BuildKit image of `tests/docker_container_driver.rs`
/// (`scripts/buildkit-test-image`), built with the docker driver.
const CONTAINER_IMAGE: &str = support::STAND_IN_BUILDKIT_IMAGE;

#[test]
fn docker_container_builder_builds_warns_without_output_and_cancels() {
    let Some(engine) = support::docker_or_skip("docker_container_builder_builds") else {
        return;
    };
    support::build_stand_in_buildkit_image_blocking(&engine);
    let relay = support::relay::Relay::tcp(&engine, support::relay::RelayTls::None);
    let relay_addr = relay.endpoint().trim_start_matches("tcp://").to_string();
    let home = tempfile::tempdir().unwrap();
    let name = support::unique_name("lspdc").replace('-', "_");
    let _cleanup = support::RemoveBuilderContainer(format!("{name}0"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
        .args([
            "builder",
            "create",
            "--name",
            &name,
            "--driver",
            "docker-container",
            "--driver-opt",
            &format!("image={CONTAINER_IMAGE}"),
            "--driver-opt",
            "network=host",
            "--driver-opt",
            &format!("env.BUILDKIT_RELAY={relay_addr}"),
            "--driver-opt",
            "privileged=false",
            "--bootstrap",
        ])
        .env("HOME", home.path())
        .env("DOCKER_CONFIG", home.path().join("docker"))
        .env("BUILDX_CONFIG", home.path().join("buildx"))
        .env_remove("BUILDX_BUILDER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let n = nonce();
    let dockerfile = format!("FROM busybox:test\nRUN echo container-$((3*3))-{n}\n");
    let ctx = support::TempContext::new().file("Dockerfile", &dockerfile);
    let mut lsp = start(home.path(), json!({"diagnostics": {"debounceMs": 0}}));
    let used = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.useBuilder", "arguments": [name]}),
    );
    assert_eq!(used["driver"], "docker-container", "{used}");
    let uri = uri_of(&ctx.path().join("Dockerfile"));
    lsp.open(&uri, &dockerfile);
    let id = send_build(&mut lsp, json!({"uri": uri}));
    let r = build_result(&lsp, id, BUILD_LIMIT);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["builder"], name.as_str());
    assert_eq!(r["driver"], "docker-container");
    // Nothing exported: no image id, and buildx's warning in the log.
    assert_eq!(r["imageId"], Value::Null, "{r}");
    let log = log_of(&lsp, r["buildId"].as_str().unwrap());
    assert!(log.starts_with("WARNING: No output specified with docker-container driver. Build result will only remain in the build cache."), "{log}");
    assert!(log.contains(&format!(" container-9-{n}\n")), "{log}");
    let token = lsp.server_requests("window/workDoneProgress/create")[0]["token"].clone();
    assert_eq!(
        progress_of(&lsp, &token)[0]["title"],
        format!("Building Dockerfile on {name} (docker-container)")
    );

    // Cancel through the container's dial-stdio: the step stops too.
    let (_, id) = start_sleeping_build(&mut lsp, ctx.path(), 73);
    let cancelled_at = Instant::now();
    let n = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.cancelBuild", "arguments": [{"uri": uri, "target": null}]}),
    );
    assert_eq!(n, json!({"cancelled": 1}));
    let r = build_result(&lsp, id, Duration::from_secs(5));
    assert!(cancelled_at.elapsed() < Duration::from_secs(2));
    assert_eq!(r["cancelled"], true, "{r}");
    assert!(
        wait_until(Duration::from_secs(3), || processes("sleep 73") == 0),
        "the RUN step still runs after the cancel"
    );
}

#[test]
fn a_save_during_a_build_cancels_it_and_builds_again() {
    if support::docker_or_skip("a_save_during_a_build").is_none() {
        return;
    }
    let n = nonce();
    let dockerfile = format!("FROM busybox:test\nRUN echo again-{n} && sleep 3\n");
    let ctx = support::TempContext::new().file("Dockerfile", &dockerfile);
    let home = tempfile::tempdir().unwrap();
    let lsp = start(
        home.path(),
        json!({"buildOnSave": true, "diagnostics": {"debounceMs": 0}}),
    );
    let uri = uri_of(&ctx.path().join("Dockerfile"));
    lsp.open(&uri, &dockerfile);
    lsp.wait_server_request("workspace/configuration");
    let save = || {
        lsp.notify(
            "textDocument/didSave",
            json!({"textDocument": {"uri": uri}}),
        )
    };
    save();
    let first = lsp
        .notification_within("buildkit/buildLog", BUILD_LIMIT, |p| {
            p["text"]
                .as_str()
                .is_some_and(|t| t.contains(&format!(" again-{n}\n")))
        })
        .expect("the first build's step started");
    save();
    let cancelled = lsp.notification_within("window/showMessage", Duration::from_secs(5), |p| {
        p["message"]
            .as_str()
            .is_some_and(|m| m.ends_with(" cancelled"))
    });
    assert_eq!(
        cancelled.map(|p| p["message"].clone()),
        Some(json!("Build of Dockerfile on default cancelled"))
    );
    let built = lsp.notification_within("window/showMessage", BUILD_LIMIT, |p| {
        p["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Built "))
    });
    assert!(built.is_some(), "the second build did not finish");
    let mut ids: Vec<String> = lsp
        .notifications("buildkit/buildLog")
        .iter()
        .map(|p| p["buildId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&first["buildId"].as_str().unwrap().to_string()));
}
