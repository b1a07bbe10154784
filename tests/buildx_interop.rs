//! The builder store shared with a real `docker buildx`: Debian 13's
//! docker-buildx 0.13.1, which `scripts/test-env` installs in the Engine 26
//! tree and which runs on the host as a CLI plugin. Each test gets a home of
//! its own (`HOME`, `DOCKER_CONFIG` with the plugin linked in), so neither
//! binary ever touches the machine's own store.
//!
//! What is proven: a builder created, used or removed by one binary is seen
//! the same way by the other; each binary builds on a builder the other
//! created (remote builders that reach the test engine's BuildKit through a
//! loopback relay); and create/use/rm loops run by both binaries at once
//! leave a store both can read, with every builder that should be there.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::home::Home;
use support::relay::{Relay, RelayTls};
use support::TempContext;

/// Where `scripts/test-env` leaves Debian 13's buildx plugin.
const BUILDX_PLUGIN: &str =
    "/var/lib/buildkit-lsp/trixie/usr/libexec/docker/cli-plugins/docker-buildx";

/// A shared test home with the buildx plugin linked into its docker
/// config, or `None` after a loud skip (a panic under CI) when the engine or
/// the plugin is missing.
fn home(test: &str) -> Option<Home> {
    let engine = support::docker_or_skip(test)?;
    if !Path::new(BUILDX_PLUGIN).exists() {
        let msg = format!(
            "SKIPPED (no docker buildx): {test}: {BUILDX_PLUGIN} is missing. Run scripts/test-env (as root on Debian) to install it."
        );
        if std::env::var_os("CI").is_some() {
            panic!("{msg} CI is set, so skipping is an error.");
        }
        eprintln!("\n!!!!!!!! {msg}\n");
        return None;
    }
    let home = Home::with_engine(&engine);
    let plugins = home.docker_config().join("cli-plugins");
    std::fs::create_dir_all(&plugins).expect("the cli-plugins folder");
    std::os::unix::fs::symlink(BUILDX_PLUGIN, plugins.join("docker-buildx"))
        .expect("link the buildx plugin");
    Some(home)
}

impl Home {
    fn engine(&self) -> support::DockerEndpoint {
        support::docker_endpoint()
    }

    fn buildx_dir(&self) -> PathBuf {
        self.buildx()
    }

    /// `docker buildx ARGS` in this home.
    fn run_buildx(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .arg("buildx")
            .args(args)
            .envs(self.envs())
            .output()
            .expect("the docker CLI runs")
    }

    fn buildx_ok(&self, args: &[&str]) -> String {
        let out = self.run_buildx(args);
        assert!(
            out.status.success(),
            "docker buildx {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `buildkit-lsp ARGS` in this home.
    fn ours(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .expect("the buildkit-lsp binary runs")
    }

    fn ours_ok(&self, args: &[&str]) -> String {
        let out = self.ours(args);
        assert!(
            out.status.success(),
            "buildkit-lsp {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The builder names our `builder ls --format json` lists, and the one
    /// marked current.
    fn our_list(&self) -> (Vec<String>, Option<String>) {
        let out = self.ours_ok(&["builder", "ls", "--format", "json"]);
        let mut names = Vec::new();
        let mut current = None;
        for line in out.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).expect("one JSON object a line");
            let name = v["Name"].as_str().expect("Name").to_string();
            if v["Current"] == true {
                current = Some(name.clone());
            }
            names.push(name);
        }
        (names, current)
    }

    /// The builder names `docker buildx ls` lists, and the one marked `*`.
    fn buildx_list(&self) -> (Vec<String>, Option<String>) {
        let out = self.buildx_ok(&["ls"]);
        let mut names = Vec::new();
        let mut current = None;
        // buildx 0.13 prints a header, then a builder line (name first,
        // `*` after the current one's name) followed by indented node lines.
        for line in out.lines().skip(1) {
            if line.starts_with(' ') || line.starts_with('\\') || line.trim().is_empty() {
                continue;
            }
            let Some(first) = line.split_whitespace().next() else {
                continue;
            };
            let name = first.trim_end_matches('*').to_string();
            if first.ends_with('*') || line.split_whitespace().nth(1) == Some("*") {
                current = Some(name.clone());
            }
            names.push(name);
        }
        (names, current)
    }
}

/// A remote builder endpoint: a loopback relay to the engine's BuildKit.
fn relay(home: &Home) -> Relay {
    Relay::tcp(&home.engine(), RelayTls::None)
}

fn field<'a>(inspect: &'a str, key: &str) -> Option<&'a str> {
    inspect
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|rest| rest.trim_start_matches(':').trim())
}

#[test]
fn builders_created_by_buildx_are_seen_by_us_and_ours_by_buildx() {
    let Some(home) = home("builders_created_by_buildx_are_seen_by_us_and_ours_by_buildx") else {
        return;
    };
    let r = relay(&home);
    home.buildx_ok(&[
        "create",
        "--name",
        "frombuildx",
        "--driver",
        "remote",
        "--platform",
        "linux/amd64,linux/arm64",
        r.endpoint(),
    ]);
    home.ours_ok(&[
        "builder",
        "create",
        "--name",
        "fromus",
        "--driver",
        "remote",
        "--platform",
        "linux/amd64,linux/arm64",
        r.endpoint(),
    ]);

    let (ours, _) = home.our_list();
    let (theirs, _) = home.buildx_list();
    for name in ["frombuildx", "fromus", "default"] {
        assert!(ours.iter().any(|n| n == name), "{name} not in {ours:?}");
        assert!(theirs.iter().any(|n| n == name), "{name} not in {theirs:?}");
    }

    // Both inspect each builder alike: driver, endpoint, the platforms set
    // at creation.
    for name in ["frombuildx", "fromus"] {
        let ours = home.ours_ok(&["builder", "inspect", name]);
        let theirs = home.buildx_ok(&["inspect", name]);
        assert_eq!(field(&ours, "Driver"), Some("remote"), "{ours}");
        assert_eq!(field(&theirs, "Driver"), Some("remote"), "{theirs}");
        assert_eq!(field(&ours, "Endpoint"), Some(r.endpoint()), "{ours}");
        assert_eq!(field(&theirs, "Endpoint"), Some(r.endpoint()), "{theirs}");
        assert!(ours.contains("linux/amd64*"), "{ours}");
        assert!(theirs.contains("linux/amd64*"), "{theirs}");
    }

    // Removed by one, gone for both.
    home.buildx_ok(&["rm", "fromus"]);
    home.ours_ok(&["builder", "rm", "frombuildx"]);
    let (ours, _) = home.our_list();
    let (theirs, _) = home.buildx_list();
    for name in ["frombuildx", "fromus"] {
        assert!(!ours.iter().any(|n| n == name), "{name} still in {ours:?}");
        assert!(
            !theirs.iter().any(|n| n == name),
            "{name} still in {theirs:?}"
        );
    }
    assert!(!home.buildx_dir().join("instances/fromus").exists());
    assert!(!home.buildx_dir().join("instances/frombuildx").exists());
}

#[test]
fn use_by_either_binary_is_the_current_builder_for_both() {
    let Some(home) = home("use_by_either_binary_is_the_current_builder_for_both") else {
        return;
    };
    let r = relay(&home);
    for name in ["one", "two"] {
        home.ours_ok(&[
            "builder",
            "create",
            "--name",
            name,
            "--driver",
            "remote",
            r.endpoint(),
        ]);
    }
    home.buildx_ok(&["use", "one"]);
    assert_eq!(home.our_list().1.as_deref(), Some("one"));
    assert_eq!(home.buildx_list().1.as_deref(), Some("one"));
    home.ours_ok(&["builder", "use", "two"]);
    assert_eq!(home.buildx_list().1.as_deref(), Some("two"));
    assert_eq!(home.our_list().1.as_deref(), Some("two"));
}

#[test]
fn each_binary_builds_on_the_builder_the_other_created() {
    let Some(home) = home("each_binary_builds_on_the_builder_the_other_created") else {
        return;
    };
    let r = relay(&home);
    home.buildx_ok(&["create", "--name", "bx", "--driver", "remote", r.endpoint()]);
    home.ours_ok(&[
        "builder",
        "create",
        "--name",
        "us",
        "--driver",
        "remote",
        r.endpoint(),
    ]);
    let marker = support::unique_name("interop");
    let ctx = TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY m.txt /m.txt\n")
        .file("m.txt", &marker);
    let ctx_arg = ctx.path().display().to_string();

    // We build on buildx's builder; buildx builds on ours. Both export the
    // files, so the result is checked on disk.
    let ours_out = home.path().join("ours-out");
    home.ours_ok(&[
        "build",
        "--builder",
        "bx",
        "--output",
        &format!("type=local,dest={}", ours_out.display()),
        &ctx_arg,
    ]);
    assert_eq!(
        std::fs::read_to_string(ours_out.join("m.txt")).unwrap(),
        marker
    );
    let theirs_out = home.path().join("theirs-out");
    home.buildx_ok(&[
        "build",
        "--builder",
        "us",
        "--output",
        &format!("type=local,dest={}", theirs_out.display()),
        &ctx_arg,
    ]);
    assert_eq!(
        std::fs::read_to_string(theirs_out.join("m.txt")).unwrap(),
        marker
    );
}

#[test]
fn concurrent_create_use_rm_from_both_binaries_loses_nothing() {
    let Some(home) = home("concurrent_create_use_rm_from_both_binaries_loses_nothing") else {
        return;
    };
    let r = relay(&home);
    let endpoint = r.endpoint().to_string();
    const ROUNDS: usize = 8;
    std::thread::scope(|s| {
        let ours = s.spawn(|| {
            for i in 0..ROUNDS {
                let name = format!("ours{i}");
                let args = [
                    "builder", "create", "--name", &name, "--driver", "remote", &endpoint,
                ];
                home.ours_ok(&args);
                home.ours_ok(&["builder", "use", &name]);
                if i % 2 == 1 {
                    home.ours_ok(&["builder", "rm", &name]);
                }
            }
        });
        let theirs = s.spawn(|| {
            for i in 0..ROUNDS {
                let name = format!("theirs{i}");
                home.buildx_ok(&["create", "--name", &name, "--driver", "remote", &endpoint]);
                home.buildx_ok(&["use", &name]);
                if i % 2 == 1 {
                    home.buildx_ok(&["rm", &name]);
                }
            }
        });
        ours.join().expect("our loop");
        theirs.join().expect("buildx's loop");
    });

    // The even rounds' builders remain, the odd ones are gone, for both.
    let expected: Vec<String> = (0..ROUNDS)
        .filter(|i| i % 2 == 0)
        .flat_map(|i| [format!("ours{i}"), format!("theirs{i}")])
        .collect();
    let removed: Vec<String> = (0..ROUNDS)
        .filter(|i| i % 2 == 1)
        .flat_map(|i| [format!("ours{i}"), format!("theirs{i}")])
        .collect();
    let (ours, _) = home.our_list();
    let (theirs, _) = home.buildx_list();
    for name in &expected {
        assert!(ours.contains(name), "{name} lost for us: {ours:?}");
        assert!(theirs.contains(name), "{name} lost for buildx: {theirs:?}");
    }
    for name in &removed {
        assert!(!ours.contains(name), "{name} back for us: {ours:?}");
        assert!(!theirs.contains(name), "{name} back for buildx: {theirs:?}");
    }
    // Every instance file is whole JSON naming its own builder.
    for entry in std::fs::read_dir(home.buildx_dir().join("instances")).unwrap() {
        let entry = entry.unwrap();
        let bytes = std::fs::read(entry.path()).unwrap();
        let v: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{} is torn: {e}", entry.path().display()));
        assert_eq!(v["Name"], entry.file_name().to_string_lossy().as_ref());
    }
}
