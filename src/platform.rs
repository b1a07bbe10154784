//! OCI platforms, the one home of their syntax: containerd's vocabulary
//! (known OS and architecture names, their normalisation), its
//! `platforms.Parse` and `Normalize`, and this machine's platform. Used by
//! the builder store (`--platform` of `builder create`), build options and
//! settings (`--platform`, `buildkit.build.platforms`), bake
//! (`BAKE_LOCAL_PLATFORM`) and the build checks (platform flags in a
//! Dockerfile). Pure: no I/O.

use std::collections::BTreeMap;

use serde_json::Value;

/// A platform specifier containerd refuses; buildx's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {spec}: {reason}")]
pub struct PlatformError {
    pub spec: String,
    pub reason: String,
}

/// One OCI image-spec platform. Field order and `omitempty` follow the Go
/// struct `ocispecs.Platform`, so it serialises the way buildx writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    pub os_version: String,
    pub os_features: Vec<String>,
    pub variant: String,
    /// Fields we do not know, kept as read.
    pub extra: BTreeMap<String, Value>,
}

impl Platform {
    /// `os/arch[/variant]`, as containerd's `platforms.Format`.
    pub fn format(&self) -> String {
        if self.os.is_empty() {
            return "unknown".to_string();
        }
        let mut s = self.os.clone();
        for part in [&self.architecture, &self.variant] {
            if !part.is_empty() {
                s.push('/');
                s.push_str(part);
            }
        }
        s
    }
}

/// Operating systems containerd's `platforms` package knows (Go's GOOS list).
pub const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "windows",
    "zos",
];

/// Architectures containerd's `platforms` package knows (Go's GOARCH list).
pub const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "ppc64",
    "ppc64le",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// containerd's OS normalisation: lower case, `macos` is `darwin`, an empty
/// OS is this machine's.
pub fn normalize_os(os: &str) -> String {
    if os.is_empty() {
        return std::env::consts::OS.to_string();
    }
    let os = os.to_ascii_lowercase();
    if os == "macos" {
        "darwin".to_string()
    } else {
        os
    }
}

/// containerd's architecture and variant normalisation (`x86_64` → `amd64`,
/// `aarch64` → `arm64`, `armhf` → `arm`/`v7`, default variants dropped).
pub fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    match arch.as_str() {
        "i386" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let v = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".into(), v)
        }
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".into(),
                _ => variant,
            };
            ("arm64".into(), v)
        }
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".into(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".into(), v)
        }
        _ => (arch, variant),
    }
}

/// Parses `--platform` values: each may hold several comma-separated
/// platforms; `local` is this machine's platform. Empty input is Go's nil.
pub fn parse_list(values: &[String]) -> Result<Option<Vec<Platform>>, PlatformError> {
    if values.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for value in values {
        for spec in value.split(',') {
            let p = if spec.eq_ignore_ascii_case("local") {
                host()
            } else {
                parse(spec)?
            };
            out.push(normalize(p));
        }
    }
    Ok(Some(out))
}

/// This machine's platform (containerd's `DefaultSpec`).
pub fn host() -> Platform {
    let (arch, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", ""),
        "x86" => ("386", ""),
        "aarch64" => ("arm64", ""),
        "arm" => ("arm", "v7"),
        "powerpc64" => ("ppc64le", ""),
        "s390x" => ("s390x", ""),
        "riscv64" => ("riscv64", ""),
        other => (other, ""),
    };
    Platform {
        architecture: arch.to_string(),
        os: std::env::consts::OS.to_string(),
        variant: variant.to_string(),
        ..Platform::default()
    }
}

fn invalid(spec: &str, why: String) -> PlatformError {
    PlatformError {
        spec: spec.to_string(),
        reason: why,
    }
}

fn is_component(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// containerd's `platforms.Parse` (without `Normalize`).
pub fn parse(spec: &str) -> Result<Platform, PlatformError> {
    if spec.contains('*') {
        return Err(invalid(spec, "wildcards not yet supported".to_string()));
    }
    let parts: Vec<&str> = spec.splitn(4, '/').collect();
    let mut p = Platform::default();
    // First part: <os>[(<version>[+<feature>]*)]
    let first = parts[0];
    let (os, options) = match first.find('(') {
        Some(i) if first.ends_with(')') => (&first[..i], Some(&first[i + 1..first.len() - 1])),
        _ => (first, None),
    };
    if os.is_empty()
        || !os
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    {
        return Err(invalid(
            spec,
            format!("{first:?} is an invalid OS component of {spec:?}"),
        ));
    }
    p.os = normalize_os(os);
    if let Some(options) = options {
        let mut it = options.split('+');
        p.os_version = it.next().unwrap_or_default().to_string();
        for feature in it {
            if feature.trim().is_empty() {
                return Err(invalid(spec, "empty os feature".to_string()));
            }
            p.os_features.push(feature.to_string());
        }
    }
    for part in &parts[1..] {
        if !is_component(part) {
            return Err(invalid(
                spec,
                format!("{part:?} is an invalid component of {spec:?}"),
            ));
        }
    }
    match parts.len() {
        1 => {
            if KNOWN_OS.contains(&p.os.as_str()) {
                let h = host();
                p.architecture = h.architecture;
                if p.architecture == "arm" && h.variant != "v7" {
                    p.variant = h.variant;
                }
                return Ok(p);
            }
            (p.architecture, p.variant) = arch_without_variant(parts[0]);
            if KNOWN_ARCH.contains(&p.architecture.as_str()) {
                p.os = std::env::consts::OS.to_string();
                p.os_version.clear();
                p.os_features.clear();
                return Ok(p);
            }
            Err(invalid(
                spec,
                "unknown operating system or architecture".to_string(),
            ))
        }
        2 => {
            (p.architecture, p.variant) = arch_without_variant(parts[1]);
            Ok(p)
        }
        3 => {
            let (arch, variant) = normalize_arch(parts[1], parts[2]);
            p.architecture = arch;
            p.variant = if p.architecture == "arm64" && variant.is_empty() {
                "v8".to_string()
            } else {
                variant
            };
            Ok(p)
        }
        _ => Err(invalid(spec, "cannot parse platform specifier".to_string())),
    }
}

/// An architecture written without a variant, as `Parse` normalises it:
/// `arm` keeps no variant (`Parse` drops the `v7` it implies; `Normalize`
/// adds it back), other architectures keep the one they imply (`armel`:
/// `arm` `v6`).
fn arch_without_variant(arch: &str) -> (String, String) {
    let (arch, variant) = normalize_arch(arch, "");
    if arch == "arm" && variant == "v7" {
        (arch, String::new())
    } else {
        (arch, variant)
    }
}

/// containerd's `platforms.Normalize`.
pub fn normalize(mut p: Platform) -> Platform {
    p.os = normalize_os(&p.os);
    let (arch, variant) = normalize_arch(&p.architecture, &p.variant);
    p.architecture = arch;
    p.variant = variant;
    p.os_features.sort();
    p.os_features.dedup();
    p
}
