use super::*;
use crate::build::bake::Bake;
use crate::build::config::{bake_target_spec, configured_builds, BuildSettings};
use crate::build::files;

fn src(name: &str, text: &str) -> BakeSource {
    BakeSource {
        path: PathBuf::from("/w").join(name),
        text: text.to_string(),
    }
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn definition(sources: &[BakeSource], e: Option<&BTreeMap<String, String>>) -> Bake {
    files::parse(sources, e).unwrap()
}

const LONG: &str = include_str!("testdata/long.yaml");

#[test]
fn long_form_attributes_map_as_buildx_maps_them() {
    let bake = definition(&[src("compose.yaml", LONG)], Some(&env(&[("TAG", "1.2")])));
    let build = bake_target_spec(&bake, "web").unwrap();
    let spec = &build.spec;
    assert_eq!(spec.context, PathBuf::from("/w/app"));
    assert_eq!(
        spec.dockerfile,
        Some(PathBuf::from("/w/app/build/Dockerfile.web"))
    );
    assert_eq!(spec.target.as_deref(), Some("prod"));
    assert_eq!(spec.platforms, vec!["linux/amd64", "linux/arm64"]);
    assert_eq!(spec.build_args.get("A").map(String::as_str), Some("1"));
    assert_eq!(spec.build_args.get("B").map(String::as_str), Some("two"));
    assert_eq!(spec.labels.get("org.x").map(String::as_str), Some("y"));
    // `tags` wins over `image`; x-bake adds to them.
    assert_eq!(spec.tags, vec!["web:1.2", "web:extra"]);
    assert_eq!(spec.cache_to.len(), 1);
    assert_eq!(spec.cache_to[0].kind, "local");
    assert_eq!(spec.cache_from[0].kind, "registry");
    assert!(spec.no_cache);
    assert_eq!(spec.network.as_deref(), Some("host"));
    assert_eq!(spec.secrets.len(), 1);
    let t = bake.resolve("web").unwrap();
    assert_eq!(
        t.attr("contexts").map(|a| &a.value),
        Some(&BakeValue::Map(env(&[("base", "target:api_v2")])))
    );
    assert_eq!(
        t.attr("ulimits").map(|a| &a.value),
        Some(&BakeValue::List(vec!["nofile=1024:2048".to_string()]))
    );
    assert_eq!(
        t.attr("ssh").map(|a| &a.value),
        Some(&BakeValue::List(vec!["default".to_string()]))
    );
    assert_eq!(
        t.attr("shm-size").map(|a| &a.value),
        Some(&BakeValue::Str("2gb".into()))
    );
}

#[test]
fn origins_are_the_yaml_values() {
    let bake = definition(&[src("compose.yaml", LONG)], Some(&env(&[])));
    let build = bake_target_spec(&bake, "web").unwrap();
    let o = build.origin("cache-to").unwrap();
    assert_eq!(o.file, PathBuf::from("/w/compose.yaml"));
    assert_eq!(o.span.slice(LONG), "[\"type=local,dest=/tmp/c\"]");
    let o = build.origin("platforms").unwrap();
    assert_eq!(o.span.slice(LONG), "- linux/amd64\n        - linux/arm64");
    assert_eq!(build.block_name.as_ref().unwrap().span.slice(LONG), "web");
}

#[test]
fn short_form_is_the_context_and_image_the_tag() {
    let text = "services:\n  api.v2:\n    image: reg/api:${V:-dev}\n    build: ./api\n  db:\n    image: postgres\n";
    let bake = definition(&[src("compose.yaml", text)], Some(&env(&[])));
    assert_eq!(bake.target_names(), vec!["api_v2"]);
    let b = bake_target_spec(&bake, "api_v2").unwrap();
    assert_eq!(b.spec.context, PathBuf::from("/w/api"));
    assert_eq!(b.spec.tags, vec!["reg/api:dev"]);
    assert_eq!(bake.default_targets().unwrap(), vec!["api_v2"]);
}

#[test]
fn the_process_environment_wins_over_dotenv() {
    let text = "services:\n  a:\n    build:\n      context: .\n      args:\n        X: ${X}\n        Y: ${Y}\n        Z:\n";
    let sources = [
        src("compose.yaml", text),
        src(".env", "X=fromfile\nY=\"quoted\" \n# c\nZ=zz\n"),
    ];
    let bake = definition(&sources, Some(&env(&[("X", "proc")])));
    let b = bake_target_spec(&bake, "a").unwrap();
    assert_eq!(
        b.spec.build_args,
        env(&[("X", "proc"), ("Y", "quoted"), ("Z", "zz")])
    );
}

#[test]
fn a_required_variable_fails_its_target_with_composes_message() {
    let text = "services:\n  a:\n    build:\n      context: .\n      target: ${T?set T}\n";
    let bake = definition(&[src("compose.yaml", text)], Some(&env(&[])));
    let e = bake.resolve("a").unwrap_err();
    assert!(
        e.to_string()
            .contains("required variable T is missing a value: set T"),
        "{e}"
    );
    assert_eq!(e.origin().unwrap().span.slice(text), "${T?set T}");
}

#[test]
fn static_reads_leave_variables_out() {
    let text = "services:\n  a:\n    build:\n      context: .\n      target: ${T:-x}\n      platforms: [linux/amd64]\n";
    let sources = [src("compose.yaml", text), src(".env", "T=y\n")];
    let bake = definition(&sources, None);
    let t = bake.resolve("a").unwrap();
    assert!(t.attr("target").is_none());
    assert!(t.attr("platforms").is_some());
    assert_eq!(bake.errors.len(), 1);
    assert_eq!(
        bake.errors[0].bake_kind(),
        Some(BakeErrorKind::NotEvaluated)
    );
}

#[test]
fn the_override_file_merges_as_compose_merges() {
    let main = "services:\n  a:\n    build:\n      context: .\n      args: {A: '1', B: '2'}\n      cache_from: ['type=registry,ref=r/a']\n";
    let over = "services:\n  a:\n    build:\n      target: dev\n      args: {B: '3'}\n      cache_from: ['type=registry,ref=r/b']\n";
    // docker-compose.yml is not read: compose.yaml comes first.
    let other = "services:\n  zzz:\n    build: .\n";
    let sources = [
        src("compose.override.yaml", over),
        src("docker-compose.yml", other),
        src("compose.yaml", main),
    ];
    let bake = definition(&sources, Some(&env(&[])));
    assert_eq!(bake.target_names(), vec!["a"]);
    let b = bake_target_spec(&bake, "a").unwrap();
    assert_eq!(b.spec.target.as_deref(), Some("dev"));
    assert_eq!(b.spec.build_args, env(&[("A", "1"), ("B", "3")]));
    assert_eq!(b.spec.cache_from.len(), 2);
    assert_eq!(
        b.origin("target").unwrap().file,
        PathBuf::from("/w/compose.override.yaml")
    );
}

#[test]
fn a_bake_target_of_the_same_name_overrides_the_service() {
    let compose = "services:\n  web:\n    build:\n      context: .\n      target: a\n      platforms: [linux/amd64]\n";
    let hcl = "target \"web\" {\n  target = \"b\"\n}\n";
    let sources = [src("compose.yaml", compose), src("docker-bake.hcl", hcl)];
    let bake = definition(&sources, Some(&env(&[])));
    let b = bake_target_spec(&bake, "web").unwrap();
    assert_eq!(b.spec.target.as_deref(), Some("b"));
    assert_eq!(b.spec.platforms, vec!["linux/amd64"]);
    assert!(b
        .origin("target")
        .unwrap()
        .file
        .ends_with("docker-bake.hcl"));
    assert!(b
        .origin("platforms")
        .unwrap()
        .file
        .ends_with("compose.yaml"));
}

#[test]
fn services_configure_the_builds_of_their_dockerfile() {
    let compose = "services:\n  web:\n    build: .\n  worker:\n    build:\n      context: .\n      target: worker\n  other:\n    build: ./other\n";
    let bake = definition(&[src("compose.yaml", compose)], Some(&env(&[])));
    let builds = configured_builds(
        Path::new("/w/Dockerfile"),
        Path::new("/w"),
        Some(&bake),
        &BuildSettings::default(),
    )
    .unwrap();
    let labels: Vec<&str> = builds.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(labels, vec!["web", "worker"]);
}

fn apply(text: &str, edit: &crate::build::bake::BakeEdit) -> String {
    let mut out = text.to_string();
    out.replace_range(edit.origin.span.start..edit.origin.span.end, &edit.new_text);
    out
}

#[test]
fn quick_fix_edits_are_yaml() {
    let text = "services:\n  a:\n    build:\n      context: .\n      cache_to:\n        - type=local,dest=x\n";
    let bake = definition(&[src("compose.yaml", text)], Some(&env(&[])));
    let b = bake_target_spec(&bake, "a").unwrap();
    let replace = crate::build::bake::replace_attribute(
        b.origin("cache-to").unwrap(),
        "cache-to",
        "[\"type=inline\"]",
    );
    let fixed = apply(text, &replace);
    let reread = definition(&[src("compose.yaml", &fixed)], Some(&env(&[])));
    assert_eq!(
        bake_target_spec(&reread, "a").unwrap().spec.cache_to[0].kind,
        "inline"
    );
    let add = b
        .insertion
        .unwrap()
        .attribute("output", "[\"type=docker\"]");
    let fixed = apply(text, &add);
    let reread = definition(&[src("compose.yaml", &fixed)], Some(&env(&[])));
    assert!(bake_target_spec(&reread, "a").unwrap().spec.load, "{fixed}");
}

#[test]
fn the_load_fix_turns_a_short_form_into_a_mapping() {
    let text = "services:\n  a:\n    build: .   # here\n    image: x\n";
    let bake = definition(&[src("compose.yaml", text)], Some(&env(&[])));
    let b = bake_target_spec(&bake, "a").unwrap();
    let fixed = apply(
        text,
        &b.insertion
            .unwrap()
            .attribute("output", "[\"type=docker\"]"),
    );
    let reread = definition(&[src("compose.yaml", &fixed)], Some(&env(&[])));
    let spec = bake_target_spec(&reread, "a").unwrap().spec;
    assert!(spec.load, "{fixed}");
    assert_eq!(spec.context, PathBuf::from("/w"));
}

#[test]
fn a_syntax_error_is_located() {
    let text = "services:\n  a:\n    build: [\n";
    let e = files::parse(&[src("compose.yaml", text)], None).unwrap_err();
    assert_eq!(e.bake_kind(), Some(BakeErrorKind::Syntax));
    assert!(e.origin().unwrap().file.ends_with("compose.yaml"));
}
