//! Bake files and build configuration: HCL and JSON fixtures under
//! `tests/fixtures/bake/` with variables, groups, `inherits` and override
//! files; the byte span and LSP range of every attribute; errors with their
//! place; and the precedence bake file > settings > defaults.

#[path = "support/bake.rs"]
mod bake_files;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use buildkit_lsp::build::bake::{Bake, BakeErrorKind, BakeSource, BakeValue, Origin};
use buildkit_lsp::build::config::{
    bake_target_spec, configured_builds, BuildSettings, ConfigSource,
};
use buildkit_lsp::build::{CacheSpec, Error, OutputSpec};
use buildkit_lsp::dockerfile::{Position, PositionEncoding, Range};

/// The parts of a bake error, as the editor shows them.
struct Located<'a> {
    origin: &'a Origin,
    message: &'a str,
}

/// A bake error's place and message; any other error fails the test.
fn located(e: &Error) -> Located<'_> {
    match e {
        Error::Bake {
            origin, message, ..
        } => Located { origin, message },
        other => panic!("not a bake error: {other}"),
    }
}

fn fixture(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bake")
        .join(dir)
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn range(l1: u32, c1: u32, l2: u32, c2: u32) -> Range {
    Range::new(Position::new(l1, c1), Position::new(l2, c2))
}

/// The text an origin covers, read back from its file.
fn text_at(origin: &Origin) -> String {
    let text = std::fs::read_to_string(&origin.file).unwrap();
    text[origin.span.start..origin.span.end].to_string()
}

fn in_memory(name: &str, text: &str) -> Vec<BakeSource> {
    vec![BakeSource {
        path: PathBuf::from("/ws").join(name),
        text: text.to_string(),
    }]
}

#[test]
fn finds_bake_files_in_buildx_order() {
    let hcl = fixture("hcl");
    assert_eq!(
        bake_files::find_bake_files(&hcl),
        vec![
            hcl.join("docker-bake.hcl"),
            hcl.join("docker-bake.override.hcl")
        ]
    );
    let json = fixture("json");
    assert_eq!(
        bake_files::find_bake_files(&json),
        vec![
            json.join("docker-bake.json"),
            json.join("docker-bake.override.json")
        ]
    );
    assert!(buildkit_lsp::build::bake::is_bake_file(Path::new(
        "/x/docker-bake.override.json"
    )));
    assert!(!buildkit_lsp::build::bake::is_bake_file(Path::new(
        "/x/compose.yaml"
    )));
}

#[test]
fn hcl_inherits_variables_groups_and_override_file() {
    let dir = fixture("hcl");
    let bake = bake_files::load_folder(&dir, &BTreeMap::new()).unwrap();
    assert_eq!(bake.default_targets().unwrap(), vec!["app", "tools"]);
    assert_eq!(bake.target_names(), vec!["_common", "base", "app", "tools"]);
    // The override file's default wins over the first file's.
    assert_eq!(bake.variables["TAG"], "override");

    let app = bake.resolve("app").unwrap();
    assert_eq!(app.context_dir().unwrap(), dir);
    assert_eq!(app.dockerfile_path().unwrap(), dir.join("app/Dockerfile"));
    assert_eq!(
        app.list("tags").unwrap(),
        vec!["127.0.0.1:5000/app:override"]
    );
    // Two levels of inherits: _common's args merge under app's own.
    assert_eq!(
        app.map("args").unwrap(),
        BTreeMap::from([
            ("BASE".to_string(), "busybox:test".to_string()),
            ("MODE".to_string(), "release".to_string()),
        ])
    );
    assert_eq!(
        app.map("labels").unwrap(),
        BTreeMap::from([(
            "org.opencontainers.image.vendor".to_string(),
            "example".to_string()
        )])
    );
    assert_eq!(app.list("platforms").unwrap(), vec!["linux/amd64"]);
    assert_eq!(
        app.list("cache-to").unwrap(),
        vec!["type=registry,ref=127.0.0.1:5000/app:cache"]
    );

    // Attribute origins: file, bytes and UTF-16 range, checked by hand.
    let cache_to = app.attr("cache-to").unwrap();
    assert_eq!(cache_to.origin.file, dir.join("docker-bake.hcl"));
    assert_eq!(cache_to.origin.range, range(36, 2, 36, 56));
    assert_eq!(
        text_at(&cache_to.origin),
        r#"cache-to = ["type=registry,ref=${REGISTRY}/app:cache"]"#
    );
    // Inherited attributes point where they were written: base's platforms.
    assert_eq!(
        app.attr("platforms").unwrap().origin.range,
        range(25, 2, 25, 29)
    );
    // The map attribute spans its lines.
    assert_eq!(app.attr("args").unwrap().origin.range, range(33, 2, 35, 3));
    // The target block, for the `▶ Bake target` lens.
    assert_eq!(app.block.range, range(28, 0, 38, 1));
    let blocks: Vec<(String, Range)> = bake
        .target_blocks_in(&dir.join("docker-bake.override.hcl"))
        .map(|b| (b.name.clone(), b.origin.range))
        .collect();
    assert_eq!(blocks, vec![("tools".to_string(), range(4, 0, 6, 1))]);

    // tools: attributes from both files.
    let tools = bake.resolve("tools").unwrap();
    assert_eq!(tools.context_dir().unwrap(), dir.join("tools"));
    assert_eq!(
        tools.dockerfile_path().unwrap(),
        dir.join("tools/Dockerfile")
    );
    assert_eq!(
        tools.list("platforms").unwrap(),
        vec!["linux/amd64", "linux/arm64"]
    );
    assert_eq!(
        tools.attr("platforms").unwrap().origin.file,
        dir.join("docker-bake.override.hcl")
    );
    assert_eq!(tools.bool("no-cache").unwrap(), Some(true));
}

#[test]
fn environment_overrides_variable_defaults() {
    let dir = fixture("hcl");
    let bake =
        bake_files::load_folder(&dir, &env(&[("TAG", "ci"), ("REGISTRY", "r.example")])).unwrap();
    let app = bake.resolve("app").unwrap();
    assert_eq!(app.list("tags").unwrap(), vec!["r.example/app:ci"]);
    assert_eq!(app.list("cache-from").unwrap(), vec!["r.example/app:cache"]);
}

#[test]
fn json_inherits_variables_and_override_file() {
    let dir = fixture("json");
    let bake = bake_files::load_folder(&dir, &BTreeMap::new()).unwrap();
    assert_eq!(bake.default_targets().unwrap(), vec!["web"]);
    let web = bake.resolve("web").unwrap();
    assert_eq!(web.context_dir().unwrap(), dir.join("web"));
    assert_eq!(web.list("tags").unwrap(), vec!["web:1.0"]);
    assert_eq!(
        web.map("args").unwrap(),
        BTreeMap::from([
            ("A".to_string(), "1".to_string()),
            ("DEBUG".to_string(), "false".to_string()),
        ])
    );
    assert_eq!(web.list("platforms").unwrap(), vec!["linux/arm64"]);
    let cache_to = web.attr("cache-to").unwrap();
    assert_eq!(cache_to.origin.file, dir.join("docker-bake.json"));
    assert_eq!(cache_to.origin.range, range(16, 6, 16, 48));
    assert_eq!(
        text_at(&cache_to.origin),
        r#""cache-to": ["type=local,dest=/tmp/cache"]"#
    );
    // The last block of web is the override file's.
    assert_eq!(web.block.file, dir.join("docker-bake.override.json"));
    assert_eq!(web.block.range, range(2, 4, 4, 5));

    // A bool default parses the environment value as a bool.
    let bake = bake_files::load_folder(&dir, &env(&[("DEBUG", "1"), ("VERSION", "2.0")])).unwrap();
    let web = bake.resolve("web").unwrap();
    assert_eq!(web.map("args").unwrap()["DEBUG"], "true");
    assert_eq!(web.list("tags").unwrap(), vec!["web:2.0"]);
    // A bad value is an error of the variable, and of the targets using it.
    let bake = bake_files::load_folder(&dir, &env(&[("DEBUG", "yes")])).unwrap();
    // Listed twice: the variable, and web-base's args that use it.
    assert_eq!(bake.errors.len(), 2);
    let err = &bake.errors[0];
    assert_eq!(err.bake_kind(), Some(BakeErrorKind::Invalid));
    assert_eq!(located(err).origin.range, range(3, 4, 3, 33));
    assert_eq!(
        located(err).message,
        r#"variable "DEBUG": failed to parse "yes" as bool"#
    );
    let err = bake.resolve("web").unwrap_err();
    assert_eq!(err.bake_kind(), Some(BakeErrorKind::Invalid));
    // web-base's args use DEBUG.
    assert_eq!(located(&err).origin.range, range(11, 6, 11, 47));
    assert_eq!(
        located(&err).message,
        r#"args: variable "DEBUG": failed to parse "yes" as bool"#
    );
}

#[test]
fn inherits_cycle_and_unknown_targets_are_errors_with_ranges() {
    let dir = fixture("cycle");
    let file = dir.join("docker-bake.hcl");
    let bake = bake_files::load_folder(&dir, &BTreeMap::new()).unwrap();

    let err = bake.resolve("a").unwrap_err();
    assert_eq!(err.bake_kind(), Some(BakeErrorKind::Cycle));
    assert_eq!(located(&err).message, "inherits cycle: a -> b -> c -> a");
    assert_eq!(located(&err).origin.file, file);
    // c's `inherits = ["a"]` closes the cycle.
    assert_eq!(located(&err).origin.range, range(9, 2, 9, 18));

    let err = bake.resolve("orphan").unwrap_err();
    assert_eq!(err.bake_kind(), Some(BakeErrorKind::UnknownTarget));
    assert_eq!(
        located(&err).message,
        r#"inherits unknown target "missing""#
    );
    assert_eq!(located(&err).origin.range, range(13, 2, 13, 24));
    assert_eq!(
        err.to_string(),
        format!(
            r#"{}:14:3: inherits unknown target "missing""#,
            file.display()
        )
    );

    let err = bake.resolve("nope").unwrap_err();
    assert_eq!(err.bake_kind(), Some(BakeErrorKind::UnknownTarget));
    assert_eq!(located(&err).message, r#"failed to find target "nope""#);
    assert_eq!(located(&err).origin.range, range(0, 0, 0, 0));
    // No default group or target here.
    assert_eq!(
        located(&bake.default_targets().unwrap_err()).message,
        r#"failed to find target "default""#
    );
}

#[test]
fn group_cycles_and_unknown_group_members() {
    let text = "group \"g\" {\n  targets = [\"h\"]\n}\ngroup \"h\" {\n  targets = [\"g\", \"t\"]\n}\ntarget \"t\" {}\ngroup \"bad\" {\n  targets = [\"t\", \"zz\"]\n}\n";
    let bake = Bake::parse(&in_memory("docker-bake.hcl", text), &BTreeMap::new()).unwrap();
    let err = bake.expand("g").unwrap_err();
    assert_eq!(err.bake_kind(), Some(BakeErrorKind::Cycle));
    assert_eq!(located(&err).message, "group cycle: g -> h -> g");
    // h's targets attribute names g again.
    assert_eq!(located(&err).origin.range, range(4, 2, 4, 22));
    let err = bake.expand("bad").unwrap_err();
    assert_eq!(err.bake_kind(), Some(BakeErrorKind::UnknownTarget));
    assert_eq!(located(&err).message, r#"failed to find target "zz""#);
    assert_eq!(located(&err).origin.range, range(8, 2, 8, 23));
    assert_eq!(bake.expand("t").unwrap(), vec!["t"]);
}

#[test]
fn syntax_errors_carry_file_and_position() {
    let err = Bake::parse(
        &in_memory("docker-bake.hcl", "target \"x\" {\n  tags = [\"a\"\n}\n"),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(err.bake_kind(), Some(BakeErrorKind::Syntax));
    assert_eq!(
        located(&err).origin.file,
        PathBuf::from("/ws/docker-bake.hcl")
    );
    assert_eq!(located(&err).origin.range.start.line, 2);

    let err = Bake::parse(
        &in_memory(
            "docker-bake.json",
            "{\n  \"target\": {\n    \"x\": {\"tags\": [\"a\",]}\n  }\n}\n",
        ),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(err.bake_kind(), Some(BakeErrorKind::Syntax));
    assert_eq!(
        located(&err).origin.file,
        PathBuf::from("/ws/docker-bake.json")
    );
    assert_eq!(located(&err).origin.range.start.line, 2);
}

#[test]
fn evaluation_errors_spoil_only_the_targets_that_use_them() {
    let text = "variable \"STAMP\" {\n  default = timestamp()\n}\ntarget \"x\" {\n  tags = [\"a:${NOPE}\"]\n}\ntarget \"y\" {\n  tags = [upper(\"a\")]\n}\ntarget \"z\" {\n  tags = [\"z:${STAMP}\"]\n}\ntarget \"ok\" {\n  tags = [\"ok:1\"]\n}\n";
    let bake = Bake::parse(&in_memory("docker-bake.hcl", text), &BTreeMap::new()).unwrap();
    assert_eq!(
        bake.resolve("ok").unwrap().list("tags").unwrap(),
        vec!["ok:1"]
    );
    let messages: Vec<(String, Range)> = bake
        .errors
        .iter()
        .map(|e| (located(e).message.to_string(), located(e).origin.range))
        .collect();
    assert_eq!(
        messages,
        vec![
            (
                "variable \"STAMP\": undefined function `timestamp`".to_string(),
                range(0, 0, 2, 1)
            ),
            (
                "tags: undefined variable `NOPE`".to_string(),
                range(4, 2, 4, 22)
            ),
            (
                "tags: undefined function `upper`".to_string(),
                range(7, 2, 7, 21)
            ),
            (
                "tags: variable \"STAMP\": undefined function `timestamp`".to_string(),
                range(10, 2, 10, 23)
            ),
        ]
    );
    for (name, line) in [("x", 4), ("y", 7), ("z", 10)] {
        let err = bake.resolve(name).unwrap_err();
        assert_eq!(err.bake_kind(), Some(BakeErrorKind::Eval));
        assert_eq!(located(&err).origin.range.start, Position::new(line, 2));
    }
    // The environment's value stands in for a default we cannot evaluate.
    let bake = Bake::parse(
        &in_memory("docker-bake.hcl", text),
        &env(&[("STAMP", "2026")]),
    )
    .unwrap();
    assert_eq!(
        bake.resolve("z").unwrap().list("tags").unwrap(),
        vec!["z:2026"]
    );
}

#[test]
fn variables_may_use_variables_declared_later() {
    let text = "variable \"A\" {\n  default = \"${B}-x\"\n}\nvariable \"B\" {\n  default = \"b\"\n}\nvariable \"EMPTY\" {}\ntarget \"t\" {\n  tags = [\"${A}\", \"e${EMPTY}\"]\n  cache-to = [{ type = \"registry\", ref = \"r/x:cache\", mode = \"max\" }]\n  args = { X = null, Y = 2 }\n}\n";
    let bake = Bake::parse(&in_memory("docker-bake.hcl", text), &BTreeMap::new()).unwrap();
    let t = bake.resolve("t").unwrap();
    assert_eq!(t.list("tags").unwrap(), vec!["b-x", "e"]);
    // Cache entries written as objects become buildx's CSV form.
    assert_eq!(
        t.list("cache-to").unwrap(),
        vec!["type=registry,mode=max,ref=r/x:cache"]
    );
    // A null arg is left out; numbers become their text.
    assert_eq!(
        t.attr("args").unwrap().value,
        BakeValue::Map(BTreeMap::from([("Y".to_string(), "2".to_string())]))
    );
    // Wrong types are errors at the attribute.
    let bake = Bake::parse(
        &in_memory(
            "docker-bake.hcl",
            "target \"t\" {\n  tags = \"a\"\n  args = [\"x\"]\n}\n",
        ),
        &BTreeMap::new(),
    )
    .unwrap();
    let t = bake.resolve("t").unwrap();
    assert_eq!(t.list("tags").unwrap(), vec!["a"]);
    let err = t.map("args").unwrap_err();
    assert_eq!(
        located(&err).message,
        r#"attribute "args" must be a map, not a list"#
    );
    assert_eq!(located(&err).origin.range, range(2, 2, 2, 14));
}

#[test]
fn insertion_edits_keep_the_file_valid() {
    let dir = fixture("hcl");
    let bake = bake_files::load_folder(&dir, &BTreeMap::new()).unwrap();
    let app = bake.resolve("app").unwrap();
    let edit = app.insertion.attribute("output", "[\"type=docker\"]");
    assert_eq!(edit.origin.range, range(38, 0, 38, 0));
    assert_eq!(edit.new_text, "  output = [\"type=docker\"]\n");
    let mut text = std::fs::read_to_string(dir.join("docker-bake.hcl")).unwrap();
    text.insert_str(edit.origin.span.start, &edit.new_text);
    let edited = Bake::parse(
        &[BakeSource {
            path: dir.join("docker-bake.hcl"),
            text,
        }],
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(
        edited.resolve("app").unwrap().list("output").unwrap(),
        vec!["type=docker"]
    );

    // A one-line block gets the attribute on a line of its own.
    let source = in_memory("docker-bake.hcl", "target \"t\" {}\n");
    let bake = Bake::parse(&source, &BTreeMap::new()).unwrap();
    let edit = bake
        .resolve("t")
        .unwrap()
        .insertion
        .attribute("output", "[\"type=docker\"]");
    let mut text = source[0].text.clone();
    text.insert_str(edit.origin.span.start, &edit.new_text);
    assert_eq!(text, "target \"t\" {\n  output = [\"type=docker\"]\n}\n");

    // JSON: first property of the target object.
    let dir = fixture("json");
    let bake = bake_files::load_folder(&dir, &BTreeMap::new()).unwrap();
    let edit = bake
        .resolve("web")
        .unwrap()
        .insertion
        .attribute("output", "[\"type=docker\"]");
    assert_eq!(edit.origin.file, dir.join("docker-bake.override.json"));
    assert_eq!(edit.origin.range, range(2, 12, 2, 12));
    assert_eq!(edit.new_text, "\"output\": [\"type=docker\"], ");
    let mut text = std::fs::read_to_string(dir.join("docker-bake.override.json")).unwrap();
    text.insert_str(edit.origin.span.start, &edit.new_text);
    let edited = Bake::parse(
        &[
            BakeSource {
                path: dir.join("docker-bake.json"),
                text: std::fs::read_to_string(dir.join("docker-bake.json")).unwrap(),
            },
            BakeSource {
                path: dir.join("docker-bake.override.json"),
                text,
            },
        ],
        &BTreeMap::new(),
    )
    .unwrap();
    let web = edited.resolve("web").unwrap();
    assert_eq!(web.list("output").unwrap(), vec!["type=docker"]);
    assert_eq!(web.list("platforms").unwrap(), vec!["linux/arm64"]);
}

#[test]
fn bake_target_builds_its_dockerfile_and_beats_settings() {
    let dir = fixture("hcl");
    let bake = bake_files::load_folder(&dir, &BTreeMap::new()).unwrap();
    let settings = BuildSettings {
        tags: vec!["from-settings:1".into()],
        load: true,
        ..BuildSettings::default()
    };
    let builds =
        configured_builds(&dir.join("app/Dockerfile"), &dir, Some(&bake), &settings).unwrap();
    assert_eq!(builds.len(), 1);
    let app = &builds[0];
    assert_eq!(app.label, "app");
    assert_eq!(app.bake_target.as_deref(), Some("app"));
    assert_eq!(app.source, ConfigSource::Bake);
    assert_eq!(app.spec.context, dir);
    assert_eq!(app.spec.dockerfile, Some(dir.join("app/Dockerfile")));
    assert_eq!(app.spec.target.as_deref(), Some("runtime"));
    assert_eq!(app.spec.tags, vec!["127.0.0.1:5000/app:override"]);
    assert!(!app.spec.load, "settings do not apply to bake targets");
    assert_eq!(app.spec.platforms, vec!["linux/amd64"]);
    assert_eq!(
        app.spec.cache_to,
        vec![CacheSpec::parse("--cache-to", "type=registry,ref=127.0.0.1:5000/app:cache").unwrap()]
    );
    assert_eq!(
        app.spec.cache_from,
        vec![
            CacheSpec::parse("--cache-from", "type=registry,ref=127.0.0.1:5000/app:cache").unwrap()
        ]
    );
    assert_eq!(app.spec.build_args["MODE"], "release");
    assert_eq!(
        app.spec.labels["org.opencontainers.image.vendor"],
        "example"
    );
    assert_eq!(app.origin("cache-to").unwrap().range, range(36, 2, 36, 56));
    assert_eq!(app.origin("target").unwrap().range, range(31, 2, 31, 20));
    assert_eq!(
        app.origins.keys().cloned().collect::<Vec<_>>(),
        vec![
            "args",
            "cache-from",
            "cache-to",
            "context",
            "dockerfile",
            "labels",
            "platforms",
            "tags",
            "target"
        ]
    );

    // tools: `output = ["type=docker"]` is --load; context/Dockerfile default.
    let tools =
        &configured_builds(&dir.join("tools/Dockerfile"), &dir, Some(&bake), &settings).unwrap()[0];
    assert_eq!(tools.label, "tools");
    assert_eq!(tools.spec.context, dir.join("tools"));
    assert_eq!(tools.spec.dockerfile, None);
    assert!(tools.spec.load);
    assert!(tools.spec.outputs.is_empty());
    assert!(tools.spec.no_cache);
    assert_eq!(tools.spec.platforms, vec!["linux/amd64", "linux/arm64"]);

    // `base` and `_common` are templates (inherited, in no group): the
    // folder's own Dockerfile falls back to the settings.
    let root =
        &configured_builds(&dir.join("Dockerfile"), &dir, Some(&bake), &settings).unwrap()[0];
    assert_eq!(root.source, ConfigSource::Settings);
    assert_eq!(root.bake_target, None);
    assert_eq!(root.spec.tags, vec!["from-settings:1"]);
    assert!(root.spec.load);
    assert!(root.origins.is_empty());

    // The build command's bakeTarget, templates included.
    let base = bake_target_spec(&bake, "base").unwrap();
    assert_eq!(base.spec.dockerfile, None);
    assert_eq!(base.spec.build_args["MODE"], "common");
    let err = bake_target_spec(&bake, "nope").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            r#"{}:1:1: failed to find target "nope""#,
            dir.join("docker-bake.hcl").display()
        )
    );
}

#[test]
fn settings_then_defaults() {
    let ws = Path::new("/ws");
    let section = serde_json::json!({
        "buildOnSave": true,
        "build": {
            "context": "sub/..",
            "tags": ["a:1", "b:2"],
            "platforms": ["linux/amd64,linux/arm64", "linux/arm/v7"],
            "args": {"X": "1"},
            "outputs": ["type=local,dest=out"],
            "cacheTo": ["type=inline"],
            "cacheFrom": ["r/x:cache"],
            "load": true
        }
    });
    let settings = BuildSettings::from_section(&section).unwrap();
    let b = configured_builds(&ws.join("sub/Dockerfile"), ws, None, &settings).unwrap();
    assert_eq!(b.len(), 1);
    let s = &b[0].spec;
    assert_eq!(b[0].label, "sub/Dockerfile");
    assert_eq!(s.context, PathBuf::from("/ws"));
    assert_eq!(s.dockerfile, Some(PathBuf::from("/ws/sub/Dockerfile")));
    assert_eq!(s.tags, vec!["a:1", "b:2"]);
    assert_eq!(
        s.platforms,
        vec!["linux/amd64", "linux/arm64", "linux/arm/v7"]
    );
    assert_eq!(s.build_args["X"], "1");
    assert_eq!(
        s.outputs,
        vec![OutputSpec::parse("type=local,dest=out").unwrap()]
    );
    assert_eq!(s.cache_to[0].kind, "inline");
    assert_eq!(s.cache_from[0].attrs["ref"], "r/x:cache");
    assert!(s.load);

    // Defaults: the Dockerfile's folder is the context.
    let none = BuildSettings::from_section(&serde_json::json!({})).unwrap();
    assert_eq!(none, BuildSettings::default());
    // Editors send null for unset settings.
    let nulls = serde_json::json!({"build": {"context": null, "tags": null, "platforms": null,
        "args": null, "outputs": null, "cacheTo": null, "cacheFrom": null, "load": null}});
    assert_eq!(BuildSettings::from_section(&nulls).unwrap(), none);
    let d = &configured_builds(&ws.join("sub/Dockerfile"), ws, None, &none).unwrap()[0];
    assert_eq!(d.spec.context, PathBuf::from("/ws/sub"));
    assert_eq!(d.spec.dockerfile, None);
    assert!(!d.spec.load);
    let d = &configured_builds(&ws.join("sub/App.Dockerfile"), ws, None, &none).unwrap()[0];
    assert_eq!(
        d.spec.dockerfile,
        Some(PathBuf::from("/ws/sub/App.Dockerfile"))
    );
    assert_eq!(d.label, "sub/App.Dockerfile");
    // An empty bake definition changes nothing.
    let d2 = configured_builds(
        &ws.join("sub/App.Dockerfile"),
        ws,
        Some(&Bake::default()),
        &none,
    )
    .unwrap();
    assert_eq!(&d2[0], d);
}

#[test]
fn invalid_settings_name_the_setting() {
    let bad = BuildSettings {
        platforms: vec!["amd64".into()],
        ..BuildSettings::default()
    };
    let err =
        configured_builds(Path::new("/ws/Dockerfile"), Path::new("/ws"), None, &bad).unwrap_err();
    assert!(matches!(
        err,
        Error::Setting {
            setting: "platforms",
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        r#"buildkit.build.platforms: invalid --platform value "amd64": "amd64" is not of the form os/arch[/variant]"#
    );
    let err =
        BuildSettings::from_section(&serde_json::json!({"build": {"tags": "a:1"}})).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "buildkit.build settings: invalid type: string \"a:1\", expected a sequence"
        ),
        "{err}"
    );
}

#[test]
fn merges_like_buildx_and_knows_its_builtin_variables() {
    let text = r#"target "parent" {
  cache-from = ["r/a:cache", "r/b:cache"]
  tags = ["p:1"]
  platforms = ["linux/amd64"]
}
target "child" {
  inherits = ["parent"]
  context = BAKE_CMD_CONTEXT
  dockerfile = "cwd://docker/Child.Dockerfile"
  cache-from = ["r/b:cache", "r/c:cache"]
  tags = ["c:1"]
  args = { PLATFORM = BAKE_LOCAL_PLATFORM }
}
"#;
    let bake = Bake::parse(&in_memory("docker-bake.hcl", text), &BTreeMap::new()).unwrap();
    let child = bake.resolve("child").unwrap();
    // cache-from appends without repeats; tags are replaced; platforms inherited.
    assert_eq!(
        child.list("cache-from").unwrap(),
        vec!["r/a:cache", "r/b:cache", "r/c:cache"]
    );
    assert_eq!(child.list("tags").unwrap(), vec!["c:1"]);
    assert_eq!(child.list("platforms").unwrap(), vec!["linux/amd64"]);
    // cwd:// is the bake file's folder, for the context and the Dockerfile.
    assert_eq!(child.context_dir().unwrap(), PathBuf::from("/ws"));
    assert_eq!(
        child.dockerfile_path().unwrap(),
        PathBuf::from("/ws/docker/Child.Dockerfile")
    );
    let expected = match std::env::consts::ARCH {
        "x86_64" => "linux/amd64",
        "aarch64" => "linux/arm64",
        other => panic!("add the platform of {other} to this test"),
    };
    assert_eq!(child.map("args").unwrap()["PLATFORM"], expected);
}

#[test]
fn a_broken_target_hides_only_when_nothing_else_builds_the_dockerfile() {
    let text = "target \"good\" {\n  tags = [\"g:1\"]\n}\ntarget \"broken\" {\n  inherits = [\"nowhere\"]\n  dockerfile = \"Other.Dockerfile\"\n}\n";
    let bake = Bake::parse(&in_memory("docker-bake.hcl", text), &BTreeMap::new()).unwrap();
    let ws = Path::new("/ws");
    let none = BuildSettings::default();
    let builds = configured_builds(&ws.join("Dockerfile"), ws, Some(&bake), &none).unwrap();
    assert_eq!(builds.len(), 1);
    assert_eq!(builds[0].spec.tags, vec!["g:1"]);
    let err = configured_builds(&ws.join("Other.Dockerfile"), ws, Some(&bake), &none).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/ws/docker-bake.hcl:5:3: inherits unknown target \"nowhere\""
    );
}

/// A figure for docs/bake.md, not a check: parsing a 200-target bake file
/// (each inheriting a common parent, with variables) and resolving the
/// builds of one Dockerfile. Run with
/// `cargo test --test build_bake -- --ignored --nocapture parse_time`.
#[test]
#[ignore]
fn parse_time_of_a_large_bake_file() {
    let mut text = String::from(
        "variable \"TAG\" {\n  default = \"dev\"\n}\ntarget \"_common\" {\n  args = { A = \"1\" }\n  platforms = [\"linux/amd64\"]\n}\n",
    );
    for i in 0..200 {
        text.push_str(&format!(
            "target \"t{i}\" {{\n  inherits = [\"_common\"]\n  context = \"svc{i}\"\n  tags = [\"r/t{i}:${{TAG}}\"]\n  cache-to = [\"type=registry,ref=r/t{i}:cache\"]\n}}\n"
        ));
    }
    let sources = in_memory("docker-bake.hcl", &text);
    let runs = 20;
    let start = std::time::Instant::now();
    let mut bake = Bake::default();
    for _ in 0..runs {
        bake = Bake::parse(&sources, &BTreeMap::new()).unwrap();
    }
    let parse = start.elapsed() / runs;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        let builds = configured_builds(
            Path::new("/ws/svc7/Dockerfile"),
            Path::new("/ws"),
            Some(&bake),
            &BuildSettings::default(),
        )
        .unwrap();
        assert_eq!(builds.len(), 1);
    }
    let resolve = start.elapsed() / runs;
    println!(
        "bake file of {} bytes, 201 targets: parse {parse:?}, builds of one Dockerfile {resolve:?}",
        text.len()
    );
}

#[test]
fn ranges_count_utf16_units_and_spans_bytes() {
    // 🐳 is 4 bytes and 2 UTF-16 units; é is 2 bytes and 1 unit.
    let text = "target \"🐳\" { tags = [\"é\"] }\n";
    let bake = Bake::parse(&in_memory("docker-bake.hcl", text), &BTreeMap::new()).unwrap();
    let t = bake.resolve("🐳").unwrap();
    let tags = t.attr("tags").unwrap();
    assert_eq!(tags.origin.span.start, 16);
    assert_eq!(tags.origin.span.end, 29);
    assert_eq!(tags.origin.range, range(0, 14, 0, 26));
    // For clients that chose UTF-8 positions the columns are bytes.
    assert_eq!(tags.origin.range_utf8, range(0, 16, 0, 29));
    assert_eq!(
        tags.origin.range_in(PositionEncoding::Utf8),
        tags.origin.range_utf8
    );
    assert_eq!(
        tags.origin.range_in(PositionEncoding::Utf16),
        tags.origin.range
    );
    assert_eq!(t.list("tags").unwrap(), vec!["é"]);
}

#[test]
fn hostile_nesting_is_a_syntax_error_not_a_crash() {
    let deep = format!(
        "target \"x\" {{\n  tags = {}{}\n}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let err = Bake::parse(&in_memory("docker-bake.hcl", &deep), &BTreeMap::new()).unwrap_err();
    assert_eq!(err.bake_kind(), Some(BakeErrorKind::Syntax));
    let deep = format!(
        "{{\"target\": {{\"x\": {{\"tags\": {}{}}}}}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let err = Bake::parse(&in_memory("docker-bake.json", &deep), &BTreeMap::new()).unwrap_err();
    assert_eq!(err.bake_kind(), Some(BakeErrorKind::Syntax));
}
