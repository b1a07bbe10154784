//! buildx's option syntax: the comma-separated `key=value` lists of
//! `--output`, `--cache-to`, `--cache-from` and `--secret` (CSV, so a value
//! may be double-quoted to hold a comma), and `--build-arg`/`--platform`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Error;
use crate::options::csv_fields;

pub(super) fn invalid(flag: &'static str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidOption {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Parses `k=v,k=v` into a map; keys are lower-cased like buildx does.
fn parse_kv(flag: &'static str, value: &str) -> Result<BTreeMap<String, String>, Error> {
    let fields = csv_fields(value).map_err(|r| invalid(flag, value, r))?;
    let mut map = BTreeMap::new();
    for field in fields {
        let field = field.trim();
        if field.is_empty() {
            continue;
        }
        let Some((k, v)) = field.split_once('=') else {
            return Err(invalid(
                flag,
                value,
                format!("{field:?} is not of the form key=value"),
            ));
        };
        map.insert(k.trim().to_ascii_lowercase(), v.to_string());
    }
    Ok(map)
}

/// One `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    /// `type=`: image, registry, docker, oci, local, tar, cacheonly.
    pub kind: String,
    /// The other attributes (`dest`, `name`, `push`, …), `type` removed.
    pub attrs: BTreeMap<String, String>,
}

impl OutputSpec {
    /// Parses buildx's `--output` syntax, including its shorthands: a bare
    /// path is `type=local,dest=PATH`, and `-` is `type=tar,dest=-`.
    pub fn parse(value: &str) -> Result<OutputSpec, Error> {
        let flag = "--output";
        if value.is_empty() {
            return Err(invalid(flag, value, "empty value"));
        }
        if value == "-" {
            return Ok(OutputSpec {
                kind: "tar".into(),
                attrs: BTreeMap::from([("dest".into(), "-".into())]),
            });
        }
        if !value.contains('=') {
            return Ok(OutputSpec {
                kind: "local".into(),
                attrs: BTreeMap::from([("dest".into(), value.into())]),
            });
        }
        let mut attrs = parse_kv(flag, value)?;
        let Some(kind) = attrs.remove("type") else {
            return Err(invalid(flag, value, "type= is required"));
        };
        match kind.as_str() {
            "image" | "registry" | "docker" | "oci" | "local" | "tar" | "cacheonly" => {}
            other => {
                return Err(invalid(
                    flag,
                    value,
                    format!("unknown output type {other:?} (expected image, registry, docker, oci, local, tar or cacheonly)"),
                ))
            }
        }
        // buildx: `tar`/`oci` without dest write to stdout; `local` needs one.
        if kind == "local" && !attrs.contains_key("dest") {
            return Err(invalid(flag, value, "type=local needs dest=PATH"));
        }
        Ok(OutputSpec { kind, attrs })
    }

    /// Where a local/tar/docker/oci output is written, if anywhere.
    pub fn dest(&self) -> Option<&str> {
        self.attrs.get("dest").map(String::as_str)
    }

    /// Whether this output is an OCI layout directory (`type=oci|docker,tar=false`).
    pub fn is_layout(&self) -> bool {
        writes_layout(&self.kind, &self.attrs)
    }
}

/// Whether an `oci`/`docker` exporter writes an OCI layout directory
/// (`tar=false`) rather than a tarball. buildx reads `tar` with Go's
/// `ParseBool` and takes anything unparsable as `true`.
pub fn writes_layout(kind: &str, attrs: &BTreeMap<String, String>) -> bool {
    matches!(kind, "oci" | "docker")
        && attrs
            .get("tar")
            .is_some_and(|t| crate::options::parse_bool(t) == Ok(false))
}

/// One `--cache-to` or `--cache-from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSpec {
    /// `type=`: inline, registry, local, gha, s3, azblob.
    pub kind: String,
    pub attrs: BTreeMap<String, String>,
}

impl CacheSpec {
    /// Parses buildx's cache syntax; a bare value is a registry ref
    /// (`type=registry,ref=VALUE`).
    pub fn parse(flag: &'static str, value: &str) -> Result<CacheSpec, Error> {
        if value.is_empty() {
            return Err(invalid(flag, value, "empty value"));
        }
        if !value.contains('=') {
            return Ok(CacheSpec {
                kind: "registry".into(),
                attrs: BTreeMap::from([("ref".into(), value.into())]),
            });
        }
        let mut attrs = parse_kv(flag, value)?;
        let kind = attrs.remove("type").unwrap_or_else(|| "registry".into());
        match kind.as_str() {
            "registry" if !attrs.contains_key("ref") => {
                Err(invalid(flag, value, "type=registry needs ref="))
            }
            "local" if flag == "--cache-to" && !attrs.contains_key("dest") => {
                Err(invalid(flag, value, "type=local needs dest="))
            }
            "local" if flag == "--cache-from" && !attrs.contains_key("src") => {
                Err(invalid(flag, value, "type=local needs src="))
            }
            _ => Ok(CacheSpec { kind, attrs }),
        }
    }
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

/// One `--secret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    pub id: String,
    pub source: SecretSource,
}

impl SecretSpec {
    /// Parses `id=ID[,src=PATH|,env=VAR][,type=file|env]` (`source=` is an
    /// alias of `src=`). With only an id, buildx reads the environment
    /// variable of that name.
    pub fn parse(value: &str) -> Result<SecretSpec, Error> {
        let flag = "--secret";
        let attrs = parse_kv(flag, value)?;
        let Some(id) = attrs.get("id").filter(|i| !i.is_empty()).cloned() else {
            return Err(invalid(flag, value, "id= is required"));
        };
        let src = attrs.get("src").or_else(|| attrs.get("source")).cloned();
        let env = attrs.get("env").cloned();
        let source = match (attrs.get("type").map(String::as_str), src, env) {
            (Some("env"), src, env) => SecretSource::Env(env.or(src).unwrap_or_else(|| id.clone())),
            (Some("file") | None, Some(src), None) => SecretSource::File(PathBuf::from(src)),
            (None, None, Some(env)) => SecretSource::Env(env),
            (None, None, None) => SecretSource::Env(id.clone()),
            (Some("file"), None, _) => {
                return Err(invalid(flag, value, "type=file needs src=PATH"))
            }
            (None, Some(_), Some(_)) | (Some("file"), Some(_), Some(_)) => {
                return Err(invalid(flag, value, "give either src= or env=, not both"))
            }
            (Some(other), _, _) => {
                return Err(invalid(
                    flag,
                    value,
                    format!("unknown secret type {other:?} (expected file or env)"),
                ))
            }
        };
        Ok(SecretSpec { id, source })
    }
}

/// Parses `--build-arg K=V`; a bare `K` takes its value from the
/// environment, and is dropped when the variable is unset (as buildx does).
pub fn parse_build_arg(
    value: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<(String, String)>, Error> {
    match value.split_once('=') {
        Some(("", _)) => Err(invalid("--build-arg", value, "the name is empty")),
        Some((k, v)) => Ok(Some((k.to_string(), v.to_string()))),
        None if value.is_empty() => Err(invalid("--build-arg", value, "empty value")),
        None => Ok(env(value).map(|v| (value.to_string(), v))),
    }
}

/// Parses `--label K=V`.
pub fn parse_label(value: &str) -> Result<(String, String), Error> {
    match value.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(invalid("--label", value, "expected KEY=VALUE")),
    }
}

/// Parses `--platform a,b` (repeatable); each entry must be a platform
/// containerd parses (`crate::platform`) written as `os/arch[/variant]`.
pub fn parse_platforms(value: &str) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parts = p.split('/').count();
        if !(2..=3).contains(&parts) || crate::platform::parse(p).is_err() {
            return Err(invalid(
                "--platform",
                value,
                format!("{p:?} is not of the form os/arch[/variant]"),
            ));
        }
        out.push(p.to_ascii_lowercase());
    }
    Ok(out)
}

/// Where a named build context (`--build-context NAME=VALUE`, bake
/// `contexts`) comes from, classified as buildx classifies the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextSource {
    /// Handed to the frontend as written: `docker-image://REF`, a git or
    /// `http(s)://` URL, or bake's `target:NAME`.
    Passthrough(String),
    /// `oci-layout://PATH[:TAG][@DIGEST]`: an image in an OCI layout
    /// directory, served through the session content store. With neither
    /// tag nor digest the tag is `latest`.
    OciLayout {
        path: PathBuf,
        tag: Option<String>,
        digest: Option<String>,
    },
    /// Any other value: a local directory, sent by the file sync.
    Local(PathBuf),
}

impl ContextSource {
    /// Classifies a context value (buildx's `build/opt.go`: remote URLs,
    /// `docker-image://` and `target:` pass through; `oci-layout://` is a
    /// layout; the rest is a directory).
    pub fn parse(value: &str) -> Result<ContextSource, Error> {
        let flag = "--build-context";
        if value.is_empty() {
            return Err(invalid(flag, value, "empty value"));
        }
        let passthrough = [
            "docker-image://",
            "target:",
            "http://",
            "https://",
            "git://",
            "ssh://",
            "git@",
            "github.com/",
        ];
        if passthrough.iter().any(|p| value.starts_with(p)) {
            return Ok(ContextSource::Passthrough(value.to_string()));
        }
        if let Some(rest) = value.strip_prefix("oci-layout://") {
            return parse_oci_layout(rest).map_err(|r| invalid(flag, value, r));
        }
        Ok(ContextSource::Local(PathBuf::from(value)))
    }

    /// The value as buildx would show it.
    pub fn display(&self) -> String {
        match self {
            ContextSource::Passthrough(v) => v.clone(),
            ContextSource::Local(p) => p.display().to_string(),
            ContextSource::OciLayout { path, tag, digest } => {
                let mut s = format!("oci-layout://{}", path.display());
                if let Some(t) = tag {
                    s.push(':');
                    s.push_str(t);
                }
                if let Some(d) = digest {
                    s.push('@');
                    s.push_str(d);
                }
                s
            }
        }
    }
}

/// buildx's `ocilayout.Parse`: a trailing `@DIGEST`, then a trailing
/// `:TAG`, each only when it has the form of one.
fn parse_oci_layout(rest: &str) -> Result<ContextSource, String> {
    let mut path = rest;
    let mut digest = None;
    if let Some((p, d)) = rest.rsplit_once('@') {
        if d.contains(':') {
            crate::options::parse_digest(d)?;
            path = p;
            digest = Some(d.to_string());
        }
    }
    let mut tag = None;
    if let Some((p, t)) = path.rsplit_once(':') {
        let is_tag = !t.is_empty()
            && t.len() <= 128
            && t.as_bytes()[0] != b'.'
            && t.as_bytes()[0] != b'-'
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if is_tag {
            path = p;
            tag = Some(t.to_string());
        }
    }
    if path.is_empty() {
        return Err("the layout directory is empty".into());
    }
    if tag.is_none() && digest.is_none() {
        tag = Some("latest".to_string());
    }
    Ok(ContextSource::OciLayout {
        path: PathBuf::from(path),
        tag,
        digest,
    })
}

/// Parses `--build-context NAME=VALUE`. The name is an image reference as
/// buildx normalises it (`docker.io/library/alpine:latest` is `alpine`).
pub fn parse_build_context(value: &str) -> Result<(String, ContextSource), Error> {
    let flag = "--build-context";
    let Some((name, source)) = value.split_once('=') else {
        return Err(invalid(
            flag,
            value,
            format!("invalid context value: {value}, expected key=value"),
        ));
    };
    let name = context_name(name).map_err(|r| invalid(flag, value, r))?;
    Ok((name, ContextSource::parse(source)?))
}

/// A context name as buildx keys it: `reference.FamiliarString` of the
/// normalised name, without `:latest`.
pub fn context_name(name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:@".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !valid {
        let reason = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            "repository name must be lowercase"
        } else {
            "invalid reference format"
        };
        return Err(format!("invalid context name {name}: {reason}"));
    }
    let familiar = name
        .strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name);
    Ok(familiar
        .strip_suffix(":latest")
        .unwrap_or(familiar)
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_full_and_shorthands() {
        let o = OutputSpec::parse("type=local,dest=out").unwrap();
        assert_eq!(o.kind, "local");
        assert_eq!(o.dest(), Some("out"));
        let o = OutputSpec::parse("dist").unwrap();
        assert_eq!((o.kind.as_str(), o.dest()), ("local", Some("dist")));
        let o = OutputSpec::parse("-").unwrap();
        assert_eq!((o.kind.as_str(), o.dest()), ("tar", Some("-")));
        let o = OutputSpec::parse("type=image,\"name=a:1,b:2\",push=true").unwrap();
        assert_eq!(o.attrs["name"], "a:1,b:2");
        assert_eq!(o.attrs["push"], "true");
    }

    #[test]
    fn output_errors_name_the_problem() {
        let e = OutputSpec::parse("type=zip,dest=x")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "invalid --output value \"type=zip,dest=x\": unknown output type \"zip\""
            ),
            "{e}"
        );
        let e = OutputSpec::parse("type=local").unwrap_err().to_string();
        assert!(e.ends_with("type=local needs dest=PATH"), "{e}");
        let e = OutputSpec::parse("dest=x").unwrap_err().to_string();
        assert!(e.ends_with("type= is required"), "{e}");
    }

    #[test]
    fn cache_syntax() {
        let c = CacheSpec::parse("--cache-from", "reg/img:cache").unwrap();
        assert_eq!(c.kind, "registry");
        assert_eq!(c.attrs["ref"], "reg/img:cache");
        let c = CacheSpec::parse("--cache-to", "type=local,dest=/tmp/c,mode=max").unwrap();
        assert_eq!(c.kind, "local");
        assert_eq!(c.attrs["mode"], "max");
        assert!(CacheSpec::parse("--cache-to", "type=local").is_err());
        let c = CacheSpec::parse("--cache-to", "type=inline").unwrap();
        assert!(c.attrs.is_empty());
    }

    #[test]
    fn secret_sources() {
        assert_eq!(
            SecretSpec::parse("id=tok,src=/run/tok").unwrap(),
            SecretSpec {
                id: "tok".into(),
                source: SecretSource::File("/run/tok".into())
            }
        );
        assert_eq!(
            SecretSpec::parse("id=tok,env=TOKEN").unwrap().source,
            SecretSource::Env("TOKEN".into())
        );
        assert_eq!(
            SecretSpec::parse("id=TOKEN").unwrap().source,
            SecretSource::Env("TOKEN".into())
        );
        assert_eq!(
            SecretSpec::parse("type=file,id=a,source=f").unwrap().source,
            SecretSource::File("f".into())
        );
        assert!(SecretSpec::parse("src=/x").is_err());
        assert!(SecretSpec::parse("id=a,src=f,env=E").is_err());
    }

    #[test]
    fn build_args_and_platforms() {
        let env = |k: &str| (k == "HOME").then(|| "/root".to_string());
        assert_eq!(
            parse_build_arg("A=b=c", env).unwrap(),
            Some(("A".into(), "b=c".into()))
        );
        assert_eq!(
            parse_build_arg("HOME", env).unwrap(),
            Some(("HOME".into(), "/root".into()))
        );
        assert_eq!(parse_build_arg("UNSET", env).unwrap(), None);
        assert!(parse_build_arg("=x", env).is_err());
        assert_eq!(
            parse_platforms("linux/amd64, linux/arm64/v8").unwrap(),
            vec!["linux/amd64", "linux/arm64/v8"]
        );
        assert!(parse_platforms("linux").is_err());
    }

    #[test]
    fn csv_quotes_are_buildx_quotes() {
        let o = OutputSpec::parse("type=local,\"dest=a,b\"").unwrap();
        assert_eq!(o.dest(), Some("a,b"));
        assert_eq!(
            OutputSpec::parse("type=local,dest=\"a,b\"")
                .unwrap_err()
                .to_string(),
            "invalid --output value \"type=local,dest=\\\"a,b\\\"\": bare \" in non-quoted-field"
        );
    }
}
