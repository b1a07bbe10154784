//! OCI platforms as buildx stores them on a node (`{"architecture":…,"os":…}`)
//! and parses them from `--platform` (containerd's `platforms.Parse` followed
//! by `platforms.Normalize`, as buildx's `platformutil.Parse` does).

use std::collections::BTreeMap;

use serde_json::Value;

use super::gojson;
use super::BuilderError;
use crate::platform::{normalize_arch, normalize_os, KNOWN_ARCH, KNOWN_OS};

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

    pub(crate) fn write_json(&self, out: &mut String) {
        out.push_str("{\"architecture\":");
        gojson::string(out, &self.architecture);
        out.push_str(",\"os\":");
        gojson::string(out, &self.os);
        if !self.os_version.is_empty() {
            out.push_str(",\"os.version\":");
            gojson::string(out, &self.os_version);
        }
        if !self.os_features.is_empty() {
            out.push_str(",\"os.features\":");
            gojson::string_list(out, Some(&self.os_features));
        }
        if !self.variant.is_empty() {
            out.push_str(",\"variant\":");
            gojson::string(out, &self.variant);
        }
        gojson::extra_fields(out, &self.extra);
        out.push('}');
    }

    pub(crate) fn from_json(v: Value) -> Result<Platform, String> {
        let mut obj = match v {
            Value::Object(obj) => obj,
            other => return Err(format!("platform must be an object, found {other}")),
        };
        let mut p = Platform {
            architecture: take_string(&mut obj, "architecture")?,
            os: take_string(&mut obj, "os")?,
            os_version: take_string(&mut obj, "os.version")?,
            ..Platform::default()
        };
        match gojson::take_field(&mut obj, "os.features") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::String(s) => p.os_features.push(s),
                        other => {
                            return Err(format!("os.features: expected string, found {other}"))
                        }
                    }
                }
            }
            Some(other) => return Err(format!("os.features: expected list, found {other}")),
        }
        p.variant = take_string(&mut obj, "variant")?;
        p.extra = obj.into_iter().collect();
        Ok(p)
    }
}

fn take_string(obj: &mut serde_json::Map<String, Value>, key: &str) -> Result<String, String> {
    match gojson::take_field(obj, key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("{key}: expected string, found {other}")),
    }
}

/// Parses `--platform` values: each may hold several comma-separated
/// platforms; `local` is this machine's platform. Empty input is Go's nil.
pub fn parse_list(values: &[String]) -> Result<Option<Vec<Platform>>, BuilderError> {
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

fn invalid(spec: &str, why: String) -> BuilderError {
    BuilderError::InvalidPlatform {
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
pub fn parse(spec: &str) -> Result<Platform, BuilderError> {
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
            let (arch, variant) = normalize_arch(parts[0], "");
            p.architecture = arch;
            p.variant = if p.architecture == "arm" && variant == "v7" {
                String::new()
            } else {
                variant
            };
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
            let (arch, variant) = normalize_arch(parts[1], "");
            p.architecture = arch;
            p.variant = if p.architecture == "arm" && variant == "v7" {
                String::new()
            } else {
                variant
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> String {
        let list = parse_list(&[spec.to_string()]).unwrap().unwrap();
        let mut out = String::new();
        for p in list {
            p.write_json(&mut out);
        }
        out
    }

    #[test]
    fn parses_and_normalises_like_buildx() {
        assert_eq!(
            one("linux/amd64"),
            r#"{"architecture":"amd64","os":"linux"}"#
        );
        // arm without variant is normalised to v7 (Parse drops it, Normalize adds it back).
        assert_eq!(
            one("linux/arm"),
            r#"{"architecture":"arm","os":"linux","variant":"v7"}"#
        );
        assert_eq!(
            one("linux/arm64/v8"),
            r#"{"architecture":"arm64","os":"linux"}"#
        );
        assert_eq!(
            one("Linux/x86_64"),
            r#"{"architecture":"amd64","os":"linux"}"#
        );
        assert_eq!(
            one("linux/armel"),
            r#"{"architecture":"arm","os":"linux","variant":"v6"}"#
        );
        assert_eq!(
            one("windows(10.0.17763+win32k)/amd64"),
            r#"{"architecture":"amd64","os":"windows","os.version":"10.0.17763","os.features":["win32k"]}"#
        );
    }

    #[test]
    fn comma_lists_expand() {
        let list = parse_list(&["linux/amd64,linux/arm64".to_string()])
            .unwrap()
            .unwrap();
        let names: Vec<String> = list.iter().map(Platform::format).collect();
        assert_eq!(names, ["linux/amd64", "linux/arm64"]);
    }

    #[test]
    fn rejects_bad_specifiers() {
        assert!(parse("linux/*").is_err());
        assert!(parse("linux/am d64").is_err());
        assert!(parse("nosuchthing").is_err());
        assert!(parse("a/b/c/d").is_err());
    }
}
