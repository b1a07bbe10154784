//! Compose requests on a 3,000-line Compose file, server side (the work
//! each handler does, without the JSON-RPC transport): completion of keys
//! under a service's `build:` in the middle of the file, hover on a key
//! there, and the diagnostics of the file (YAML parse, schema validation,
//! and the build configuration read from it: every service's build as a
//! bake target). Run with `cargo bench --bench compose`; the target is
//! < 5 ms each (issue 16).

use std::hint::black_box;
use std::path::PathBuf;

use buildkit_lsp::build::bake::BakeSource;
use buildkit_lsp::build::compose::parse_yaml;
use buildkit_lsp::build::files;
use buildkit_lsp::lsp::compose::{context, schema, validate};
use criterion::{criterion_group, criterion_main, Criterion};

/// Services of 19 lines (about 158): builds (long form with every common
/// attribute), images, depends_on, ports, volumes, environment, comments.
fn compose(lines: usize) -> String {
    let mut out = String::from("# generated\nname: bench\nservices:\n");
    let mut i: usize = 0;
    while out.lines().count() + 2 < lines {
        out.push_str(&format!(
            "  svc{i}:
    # service {i}
    image: registry.example/app/svc{i}:${{TAG:-dev}}
    build:
      context: ./svc{i}
      dockerfile: Dockerfile
      target: prod
      args:
        VERSION: \"{i}\"
      cache_from: [\"type=registry,ref=reg/svc{i}\"]
      platforms: [linux/amd64]
    depends_on: [svc{prev}]
    ports: [\"{port}:80\"]
    environment:
      LOG: debug
    volumes:
      - data:/var/lib/svc{i}
    restart: unless-stopped
    pull_policy: always
",
            prev = i.saturating_sub(1),
            port = 8000 + i
        ));
        i += 1;
    }
    out.push_str("volumes:\n  data: {}\n");
    out
}

fn bench(c: &mut Criterion) {
    let text = compose(3000);
    assert!(text.lines().count() >= 3000, "{}", text.lines().count());
    // The cursor on an empty key position under svc75's build.
    let anchor = text.find("  svc75:\n").unwrap();
    let at = anchor + text[anchor..].find("      target: prod\n").unwrap();
    let offset = at + "      ".len();
    let hover_at = at + "      targ".len();
    c.bench_function("compose_completion_3000_lines", |b| {
        b.iter(|| {
            let ctx = context::at(black_box(&text), offset);
            let schemas = schema::at(&ctx.path);
            let keys = schema::keys(&schemas);
            assert!(keys.iter().any(|k| k.name == "cache_to"));
            keys.len()
        })
    });
    c.bench_function("compose_hover_3000_lines", |b| {
        b.iter(|| {
            let ctx = context::at(black_box(&text), hover_at);
            let mut path = ctx.path.clone();
            path.push(schema::Seg::Key(ctx.key.clone().unwrap()));
            schema::description(&schema::at(&path)).unwrap().len()
        })
    });
    let sources = vec![BakeSource {
        path: PathBuf::from("/bench/compose.yaml"),
        text: text.clone(),
    }];
    let env = std::collections::BTreeMap::new();
    c.bench_function("compose_diagnostics_3000_lines", |b| {
        b.iter(|| {
            let root = parse_yaml(black_box(&text)).unwrap();
            let errors = validate::validate(&root);
            assert!(errors.is_empty(), "{:?}", errors.first());
            let bake = files::parse(&sources, Some(&env)).unwrap();
            bake.targets.len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
