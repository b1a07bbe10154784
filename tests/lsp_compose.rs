//! Compose files as a build configuration source, through the real server
//! binary against the real test Docker Engine (the engine's own `default`
//! builder, docker driver): a service builds with `buildkit.build
//! {service}`, each service with a `build:` gets a lens, and a capability
//! finding sits on the exact YAML value, links the Dockerfile, offers a
//! YAML quick fix, and clears once the fix is applied.

mod lsp_support;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use lsp_support::{full_capabilities, range, Lsp};
use serde_json::{json, Value};
use support::home::Home;

const BUILD_LIMIT: Duration = Duration::from_secs(240);

fn uri_of(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// A server on `home`'s store with `folder` as the workspace folder.
fn server(home: &Home, folder: &Path) -> Lsp {
    let mut lsp = Lsp::spawn_env(&[], &home.envs());
    let settings = json!({"diagnostics": {"debounceMs": 0}});
    *lsp.configuration.lock().unwrap() = settings.clone();
    lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": full_capabilities(),
               "initializationOptions": {"buildkit": settings},
               "workspaceFolders": [{"uri": uri_of(folder), "name": "work"}]}),
    );
    lsp.notify("initialized", json!({}));
    lsp
}

fn open_compose(lsp: &Lsp, uri: &str, text: &str) {
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "dockercompose", "version": 1, "text": text}}),
    );
}

/// The latest published `Builder*` diagnostics of `uri` that satisfy `pred`.
fn builder_findings(lsp: &Lsp, uri: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let end = Instant::now() + Duration::from_secs(20);
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
                .filter(|d| d["code"].as_str().is_some_and(|c| c.starts_with("Builder")))
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

fn codes(found: &[Value]) -> Vec<&str> {
    found.iter().map(|d| d["code"].as_str().unwrap()).collect()
}

/// Applies one LSP text edit to `text`.
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

const DOCKERFILE: &str = "FROM busybox:test AS base\nARG GREETING\nRUN echo hi\n";

const COMPOSE: &str = "services:
  web:
    build:
      context: .
      target: base
      cache_to:
        - type=local,dest=/tmp/compose-cache
  db:
    image: postgres
  other:
    build: ./other
";

#[test]
fn compose_cache_export_is_flagged_at_the_yaml_value_and_clears_after_the_quick_fix() {
    let Some(engine) = support::docker_or_skip("compose_cache_export") else {
        return;
    };
    let home = Home::with_engine(&engine);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(work.path().join("compose.yaml"), COMPOSE).unwrap();
    let df = uri_of(&work.path().join("Dockerfile"));
    let compose = uri_of(&work.path().join("compose.yaml"));
    let mut lsp = server(&home, work.path());
    lsp.notification_where("buildkit/builderChanged", 0, |p| p["name"] == "default");
    lsp.open(&df, DOCKERFILE);
    open_compose(&lsp, &compose, COMPOSE);

    let message = "Cache export (type=local) is not supported for the docker driver: only inline cache. Switch to a docker-container, kubernetes or remote builder. (Compose service \"web\")";
    // The block sequence under `cache_to:` (line 6, from the dash).
    let value = range(6, 8, 6, 44);
    let on_compose = builder_findings(&lsp, &compose, |f| !f.is_empty());
    assert_eq!(codes(&on_compose), ["BuilderCacheExport"]);
    assert_eq!(on_compose[0]["range"], value);
    assert_eq!(on_compose[0]["message"], message);
    assert_eq!(
        on_compose[0]["relatedInformation"],
        json!([{"location": {"uri": df, "range": range(0, 0, 0, 25)}, "message": "the Dockerfile this target builds"}])
    );
    let on_df = builder_findings(&lsp, &df, |f| !f.is_empty());
    assert_eq!(codes(&on_df), ["BuilderCacheExport"]);
    assert_eq!(
        on_df[0]["relatedInformation"],
        json!([{"location": {"uri": compose, "range": value}, "message": "set in compose.yaml"}])
    );

    // The lenses: one per service with a build section.
    let lenses = lsp.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": compose}}),
    );
    let titles: Vec<(&Value, &str, &Value)> = lenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                &l["range"],
                l["command"]["title"].as_str().unwrap(),
                &l["command"]["arguments"],
            )
        })
        .collect();
    assert_eq!(
        titles,
        vec![
            (
                &range(1, 2, 1, 5),
                "▶ Build service web",
                &json!([{"uri": compose, "bakeTarget": "web"}])
            ),
            (
                &range(9, 2, 9, 7),
                "▶ Build service other",
                &json!([{"uri": compose, "bakeTarget": "other"}])
            ),
        ]
    );

    // The inline quick fix is a YAML edit of the value.
    let actions = lsp.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": compose}, "range": range(6, 10, 6, 10), "context": {"diagnostics": []}}),
    );
    let inline = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Export the cache inline (cache_to: [\"type=inline\"])")
        .unwrap_or_else(|| panic!("no inline fix in {actions}"))
        .clone();
    let edits = inline["edit"]["changes"][compose.as_str()]
        .as_array()
        .unwrap();
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0]["range"], value);
    let fixed = apply(COMPOSE, &edits[0]);
    assert!(
        fixed.contains("      cache_to:\n        [\"type=inline\"]\n"),
        "{fixed}"
    );
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": compose, "version": 2},
               "contentChanges": [{"text": fixed}]}),
    );
    assert!(builder_findings(&lsp, &compose, |f| f.is_empty()).is_empty());
    assert!(builder_findings(&lsp, &df, |f| f.is_empty()).is_empty());
}

#[test]
fn compose_service_builds_through_the_driver_layer() {
    if support::docker_or_skip("compose_service_builds").is_none() {
        return;
    }
    let home = Home::new();
    let n = support::unique_name("c").replace(['-', '_'], "");
    let dockerfile = format!(
        "FROM busybox:test AS base\nARG GREETING\nRUN echo \"$GREETING-$((2*21))-{n}\"\nFROM base\nRUN echo never-{n}\n"
    );
    let compose = format!(
        "services:\n  app.v1:\n    image: lsp-compose:{n}\n    build:\n      context: .\n      target: ${{STAGE:-base}}\n      args:\n        GREETING: ${{GREETING}}\n"
    );
    let ctx = support::TempContext::new()
        .file("Dockerfile", &dockerfile)
        .file("compose.yaml", &compose)
        .file(".env", "GREETING=composed\n");
    // The engine's own builder: DOCKER_HOST as the test run gives it.
    let mut envs = home.envs();
    envs.retain(|(k, _)| *k != "DOCKER_HOST");
    let mut lsp = Lsp::spawn_env(&[], &envs);
    lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": full_capabilities(),
               "initializationOptions": {"buildkit": {"diagnostics": {"debounceMs": 0}}}}),
    );
    lsp.notify("initialized", json!({}));
    let uri = uri_of(&ctx.path().join("compose.yaml"));
    let id = lsp.send_request(
        "workspace/executeCommand",
        json!({"command": "buildkit.build", "arguments": [{"uri": uri, "service": "app_v1"}]}),
    );
    let r = lsp
        .response_within(id, BUILD_LIMIT)
        .expect("buildkit.build answers");
    assert!(r.get("error").is_none(), "{r}");
    let r = &r["result"];
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["target"], "app_v1");
    assert_eq!(r["tags"], json!([format!("lsp-compose:{n}")]));
    let log: String = lsp
        .notifications("buildkit/buildLog")
        .iter()
        .filter(|p| p["buildId"] == r["buildId"])
        .map(|p| p["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(log.contains(&format!(" composed-42-{n}\n")), "{log}");
    assert!(!log.contains("never-"), "{log}");
    let inspect = std::process::Command::new("docker")
        .args(["image", "inspect", &format!("lsp-compose:{n}")])
        .output()
        .unwrap();
    assert!(inspect.status.success(), "the image was not loaded");
    let _ = std::process::Command::new("docker")
        .args(["image", "rm", &format!("lsp-compose:{n}")])
        .output();
}

const EDITING: &str = "services:
  web:
    build:
      context: ./app
      dockerfile: Dockerfile.dev
      
    depends_on:
      db:
        condition: service_healthy
    env_file: [.env.web]
    image: web:${TAG:-dev}
  db:
    image: postgres
    buld: x
";

#[test]
fn compose_language_features_follow_the_schema_and_the_names() {
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("compose.yaml");
    std::fs::write(&path, EDITING).unwrap();
    let uri = uri_of(&path);
    let home = Home::new();
    let mut lsp = server(&home, work.path());
    open_compose(&lsp, &uri, EDITING);
    let at = |line: u32, ch: u32| json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": ch}});

    // Keys of `build`, with the schema's descriptions.
    let items = lsp.request("textDocument/completion", at(5, 6));
    let items = items.as_array().unwrap();
    let cache_to = items
        .iter()
        .find(|i| i["label"] == "cache_to")
        .expect("cache_to offered");
    assert!(cache_to["documentation"]["value"]
        .as_str()
        .unwrap()
        .contains("cache"));
    assert!(items.iter().any(|i| i["label"] == "dockerfile_inline"));
    assert!(
        !items.iter().any(|i| i["label"] == "image"),
        "a service key is not a build key"
    );
    // Enum values of `condition`.
    let items = lsp.request("textDocument/completion", at(8, 19));
    let labels: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"service_completed_successfully"),
        "{labels:?}"
    );

    // Hover on a key.
    let hover = lsp.request("textDocument/hover", at(4, 8));
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .starts_with("**dockerfile**"),
        "{hover}"
    );
    assert_eq!(hover["range"], range(4, 6, 4, 16));

    // The schema error at the key.
    let p = lsp.notification_where("textDocument/publishDiagnostics", 0, |p| {
        p["uri"] == uri && p["diagnostics"].as_array().is_some_and(|d| !d.is_empty())
    });
    let d = &p["diagnostics"][0];
    assert_eq!(d["code"], "ComposeSchema");
    assert_eq!(d["range"], range(13, 4, 13, 8));
    assert_eq!(
        d["message"],
        "services.db additional properties 'buld' not allowed"
    );

    // depends_on: db -> the service; references; rename.
    let def = lsp.request("textDocument/definition", at(7, 7));
    assert_eq!(def["range"], range(11, 2, 11, 4));
    let refs = lsp.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": {"line": 11, "character": 3}, "context": {"includeDeclaration": true}}),
    );
    assert_eq!(refs.as_array().unwrap().len(), 2);
    let edit = lsp.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": {"line": 11, "character": 3}, "newName": "database"}),
    );
    let edits = edit["changes"][uri.as_str()].as_array().unwrap();
    let mut renamed = EDITING.to_string();
    let mut sorted = edits.clone();
    sorted.sort_by_key(|e| std::cmp::Reverse(e["range"]["start"]["line"].as_u64()));
    for e in &sorted {
        renamed = apply(&renamed, e);
    }
    assert!(
        renamed.contains("      database:\n        condition"),
        "{renamed}"
    );
    assert!(
        renamed.contains("  database:\n    image: postgres"),
        "{renamed}"
    );

    // Outline, links and inlay hints.
    let symbols = lsp.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri}}),
    );
    let services = &symbols[0];
    assert_eq!(services["name"], "services");
    let names: Vec<&str> = services["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "db"]);
    let links = lsp.request(
        "textDocument/documentLink",
        json!({"textDocument": {"uri": uri}}),
    );
    let links = links.as_array().unwrap();
    let targets: Vec<&str> = links
        .iter()
        .filter_map(|l| l["target"].as_str())
        .map(|t| t.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(targets, ["app", "Dockerfile.dev", ".env.web"]);
    // Images link to their registry page on resolve, as a FROM does.
    let images: Vec<&Value> = links
        .iter()
        .filter(|l| l["target"].is_null())
        .map(|l| &l["data"])
        .collect();
    assert_eq!(images, [&json!("web"), &json!("postgres")]);
    let hints = lsp.request(
        "textDocument/inlayHint",
        json!({"textDocument": {"uri": uri}, "range": range(0, 0, 14, 0)}),
    );
    assert_eq!(hints[0]["label"], "= web:dev");
    assert_eq!(hints[0]["position"], json!({"line": 10, "character": 26}));
}
