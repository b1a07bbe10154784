//! buildx's attestation flags: `--attest type=T[,k=v…]` and its
//! shorthands `--provenance` and `--sbom`, parsed as buildx parses them
//! (`util/buildflags/attests.go`), and the frontend attributes they become
//! (`attest:provenance`, `attest:sbom`, as buildx's `build/opt.go` sends
//! them).

use std::collections::BTreeMap;

use super::options::invalid;
use super::Error;
use crate::options::{csv_fields, parse_bool};

/// One `--attest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestSpec {
    /// `type=`: `provenance`, `sbom`, or any type the frontend knows.
    pub kind: String,
    /// `disabled=true` (or `--provenance=false`): the attestation is not
    /// asked for.
    pub disabled: bool,
    /// Every other `k=v` (keys lower-cased, as buildx does).
    pub attrs: BTreeMap<String, String>,
}

impl AttestSpec {
    /// Parses one `--attest` value. buildx's errors: a field without `=` is
    /// "invalid value FIELD", no `type=` is "attestation type not specified".
    pub fn parse(value: &str) -> Result<AttestSpec, Error> {
        Self::parse_flag("--attest", value)
    }

    fn parse_flag(flag: &'static str, value: &str) -> Result<AttestSpec, Error> {
        let fields = csv_fields(value).map_err(|r| invalid(flag, value, r))?;
        let mut spec = AttestSpec {
            kind: String::new(),
            disabled: false,
            attrs: BTreeMap::new(),
        };
        for field in fields {
            let Some((key, v)) = field.split_once('=') else {
                return Err(invalid(flag, value, format!("invalid value {field}")));
            };
            match key.trim().to_ascii_lowercase().as_str() {
                "type" => spec.kind = v.to_string(),
                "disabled" => {
                    spec.disabled = parse_bool(v)
                        .map_err(|e| invalid(flag, value, format!("invalid value {field}: {e}")))?
                }
                k => {
                    spec.attrs.insert(k.to_string(), v.to_string());
                }
            }
        }
        if spec.kind.is_empty() {
            return Err(invalid(flag, value, "attestation type not specified"));
        }
        Ok(spec)
    }

    /// `--provenance VALUE` / `--sbom VALUE` (`kind` is `provenance` or
    /// `sbom`): buildx's `CanonicalizeAttest` — a boolean turns the
    /// attestation on or off, anything else is more attributes.
    pub fn shorthand(kind: &str, value: &str) -> Result<AttestSpec, Error> {
        let flag = match kind {
            "sbom" => "--sbom",
            _ => "--provenance",
        };
        let canonical = match parse_bool(value) {
            Ok(on) => format!("type={kind},disabled={}", !on),
            Err(_) => format!("type={kind},{value}"),
        };
        Self::parse_flag(flag, &canonical)
    }

    /// The value of the `attest:TYPE` frontend attribute, as buildx writes
    /// it (`Attests.ToMap`): `type=` first, then the attributes sorted by
    /// key, each CSV-quoted when it holds a comma or a quote.
    pub fn frontend_value(&self) -> String {
        let mut fields = vec![csv_pair("type", &self.kind)];
        fields.extend(self.attrs.iter().map(|(k, v)| csv_pair(k, v)));
        fields.join(",")
    }
}

fn csv_pair(key: &str, value: &str) -> String {
    let pair = format!("{key}={value}");
    if pair.contains([',', '"']) {
        format!("\"{}\"", pair.replace('"', "\"\""))
    } else {
        pair
    }
}

/// Parses every `--attest` value, then the shorthands (`--provenance`,
/// `--sbom`, after the `--attest` values, as buildx appends them). A later
/// entry of the same type replaces an earlier one in its place (buildx's
/// `Normalize`).
pub fn parse_attests(
    attests: &[String],
    provenance: Option<&str>,
    sbom: Option<&str>,
) -> Result<Vec<AttestSpec>, Error> {
    let mut out: Vec<AttestSpec> = Vec::new();
    let mut parsed = attests
        .iter()
        .map(|a| AttestSpec::parse(a))
        .collect::<Result<Vec<_>, _>>()?;
    for (kind, value) in [("provenance", provenance), ("sbom", sbom)] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            parsed.push(AttestSpec::shorthand(kind, v)?);
        }
    }
    for a in parsed {
        merge(&mut out, a);
    }
    Ok(out)
}

/// Adds `a`, replacing an earlier entry of its type in place.
pub fn merge(list: &mut Vec<AttestSpec>, a: AttestSpec) {
    match list.iter_mut().find(|x| x.kind == a.kind) {
        Some(slot) => *slot = a,
        None => list.push(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attest_values_parse_as_buildx_parses_them() {
        let a = AttestSpec::parse("type=provenance,mode=max").unwrap();
        assert_eq!(a.kind, "provenance");
        assert!(!a.disabled);
        assert_eq!(a.attrs["mode"], "max");
        assert_eq!(a.frontend_value(), "type=provenance,mode=max");
        let a = AttestSpec::parse("Type=sbom,GENERATOR=img:1,disabled=false").unwrap();
        assert_eq!(a.kind, "sbom");
        assert_eq!(a.frontend_value(), "type=sbom,generator=img:1");
        let a = AttestSpec::parse("type=sbom,\"scan=a,b\"").unwrap();
        assert_eq!(a.frontend_value(), "type=sbom,\"scan=a,b\"");
    }

    #[test]
    fn attest_errors_use_buildx_words() {
        assert_eq!(
            AttestSpec::parse("mode=max").unwrap_err().to_string(),
            "invalid --attest value \"mode=max\": attestation type not specified"
        );
        assert_eq!(
            AttestSpec::parse("type=sbom,max").unwrap_err().to_string(),
            "invalid --attest value \"type=sbom,max\": invalid value max"
        );
        let e = AttestSpec::parse("type=sbom,disabled=maybe")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid value disabled=maybe"), "{e}");
    }

    #[test]
    fn shorthands_are_canonicalized_like_buildx() {
        let p = AttestSpec::shorthand("provenance", "mode=max").unwrap();
        assert_eq!(
            (p.kind.as_str(), p.attrs["mode"].as_str()),
            ("provenance", "max")
        );
        assert!(
            AttestSpec::shorthand("provenance", "false")
                .unwrap()
                .disabled
        );
        let s = AttestSpec::shorthand("sbom", "true").unwrap();
        assert!(!s.disabled && s.attrs.is_empty());
        assert_eq!(s.frontend_value(), "type=sbom");
    }

    #[test]
    fn later_entries_of_a_type_replace_earlier_ones() {
        let list = parse_attests(
            &["type=sbom".into(), "type=provenance,mode=min".into()],
            Some("mode=max"),
            Some("false"),
        )
        .unwrap();
        let kinds: Vec<(&str, bool)> = list.iter().map(|a| (a.kind.as_str(), a.disabled)).collect();
        assert_eq!(kinds, vec![("sbom", true), ("provenance", false)]);
        assert_eq!(list[1].attrs["mode"], "max");
    }
}
