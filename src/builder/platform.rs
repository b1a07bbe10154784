//! OCI platforms as buildx stores them on a node
//! (`{"architecture":…,"os":…}`, Go's field order and `omitempty`); the
//! platform itself and its syntax live in `crate::platform`.

use serde_json::Value;

use super::gojson;
pub use crate::platform::{parse_list, Platform};

impl Platform {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::parse;

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
