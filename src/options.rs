//! The syntax of option values as buildx and Docker read them, written once
//! for every caller (build flags and settings, bake variables, driver
//! options, kubernetes manifests, build checks): Go's `strconv.ParseBool`
//! and `ParseInt`, Go's `time.ParseDuration`, docker/go-units sizes,
//! go-digest digests, google/shlex words. Errors are Go's words, so a
//! message reads as buildx's. Pure: no I/O.

use std::collections::BTreeMap;
use std::time::Duration;

/// Go's `strconv.ParseBool`: `1 t T TRUE true True` and
/// `0 f F FALSE false False`, nothing else.
pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {v:?}: invalid syntax")),
    }
}

/// go-digest's `Parse`: `<alg>:<lower-case hex>` with an algorithm it
/// knows (sha256, sha384, sha512) and the hex length that algorithm
/// requires.
pub fn parse_digest(s: &str) -> Result<(), String> {
    let Some((alg, hex)) = s.split_once(':') else {
        return Err(format!(
            "invalid digest {s:?}: invalid checksum digest format"
        ));
    };
    let len = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(format!(
                "invalid digest {s:?}: unsupported digest algorithm"
            ))
        }
    };
    let lower_hex = hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hex.len() != len || !lower_hex {
        return Err(format!(
            "invalid digest {s:?}: invalid checksum digest length"
        ));
    }
    Ok(())
}

/// Go's `strconv.ParseInt(v, 10, 64)`.
pub fn parse_int(v: &str) -> Result<i64, String> {
    v.parse::<i64>()
        .map_err(|_| format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))
}

/// Go's `strconv.ParseInt(v, 10, 32)`: a number that [`parse_int`] reads
/// but that does not fit in 32 bits is out of range.
pub fn parse_int32(v: &str) -> Result<i32, String> {
    i32::try_from(parse_int(v)?)
        .map_err(|_| format!("strconv.ParseInt: parsing {v:?}: value out of range"))
}

/// Go's `time.ParseDuration`: a sequence of decimal numbers with units
/// `ns`, `us`/`µs`, `ms`, `s`, `m`, `h` (`90s`, `1m30s`, `1.5h`).
pub fn parse_go_duration(v: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {v:?}");
    let s = v.strip_prefix('+').unwrap_or(v);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return Err(invalid());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {v:?}"))?;
        let n: f64 = rest[..n_end].parse().map_err(|_| invalid())?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            u => return Err(format!("time: unknown unit {u:?} in duration {v:?}")),
        };
        total += n * unit;
        rest = &rest[u_end..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

/// docker/go-units `RAMInBytes`: a decimal number, an optional blank, an
/// optional binary unit `k m g t p` (any case), optionally followed by `i`
/// and `b` (`512`, `64k`, `1.5m`, `2GB`, `1 GiB`).
pub fn ram_in_bytes(v: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: '{v}'");
    let num_end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, rest) = v.split_at(num_end);
    // go-units' pattern: ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$
    if num.is_empty()
        || !num
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let mut unit = rest.strip_prefix(' ').unwrap_or(rest);
    let mult: f64 = match unit.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some(c @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            unit = &unit[1..];
            1024f64.powi(match c {
                'k' => 1,
                'm' => 2,
                'g' => 3,
                't' => 4,
                _ => 5,
            })
        }
        _ => 1.0,
    };
    unit = unit.strip_prefix(['i', 'I']).unwrap_or(unit);
    unit = unit.strip_prefix(['b', 'B']).unwrap_or(unit);
    if !unit.is_empty() {
        return Err(bad());
    }
    // go-units parses the number as a float ("1.2.3" is its own error).
    let n: f64 = num.parse().map_err(|_| bad())?;
    Ok((n * mult) as i64)
}

/// Splits one CSV record as buildx does (go-csvvalue, Go's
/// `encoding/csv` rules): commas separate fields; a field that starts with
/// `"` is quoted, may hold commas, and writes a quote as `""`; a quote
/// anywhere else is an error. The error is csvvalue's message.
pub fn csv_fields(s: &str) -> Result<Vec<String>, &'static str> {
    const BARE_QUOTE: &str = "bare \" in non-quoted-field";
    const QUOTE: &str = "extraneous or missing \" in quoted-field";
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err(QUOTE),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err(QUOTE),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err(BARE_QUOTE),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

/// buildx's `csvToMap` for `--driver-opt`: `k=v` fields; no values is Go's
/// nil map.
pub fn csv_to_map(values: &[String]) -> Result<Option<BTreeMap<String, String>>, String> {
    if values.is_empty() {
        return Ok(None);
    }
    let mut map = BTreeMap::new();
    for value in values {
        let fields = csv_fields(value).map_err(|e| format!("invalid value {value:?}: {e}"))?;
        for field in fields {
            match field.split_once('=') {
                Some((k, v)) => {
                    map.insert(k.to_string(), v.to_string());
                }
                None => return Err(format!("invalid value {field:?}, expecting k=v")),
            }
        }
    }
    Ok(Some(map))
}

/// Shell-like word splitting (google/shlex, as buildx uses for
/// `--buildkitd-flags`): blanks separate words, quotes and `\` escape, `#`
/// at a word start comments out the rest.
pub fn shell_words(input: &str) -> Result<Vec<String>, String> {
    const EOF_ESCAPE: &str = "EOF found after escape character";
    const EOF_QUOTE: &str = "EOF found when expecting closing quote";
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\\' => {
                let next = chars.next().ok_or(EOF_ESCAPE)?;
                word.get_or_insert_with(String::new).push(next);
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(EOF_QUOTE.into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(EOF_ESCAPE.into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err(EOF_QUOTE.into()),
                    }
                }
            }
            '#' if word.is_none() => break,
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = word {
        words.push(w);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_go_duration("10").unwrap_err(),
            "time: missing unit in duration \"10\""
        );
        assert_eq!(
            parse_go_duration("3d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"3d\""
        );
    }

    #[test]
    fn int32_is_go_parse_int_with_32_bits() {
        assert_eq!(parse_int32("-7"), Ok(-7));
        assert_eq!(
            parse_int32("2147483648").unwrap_err(),
            "strconv.ParseInt: parsing \"2147483648\": value out of range"
        );
        assert_eq!(
            parse_int32("x").unwrap_err(),
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
    }

    #[test]
    fn bools_are_go_parse_bool() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        for bad in ["yes", "tRUE", "", " true", "2"] {
            assert_eq!(
                parse_bool(bad),
                Err(format!(
                    "strconv.ParseBool: parsing {bad:?}: invalid syntax"
                ))
            );
        }
    }

    #[test]
    fn sizes_are_go_units_ram_in_bytes() {
        assert_eq!(ram_in_bytes("512"), Ok(512));
        assert_eq!(ram_in_bytes("64k"), Ok(65536));
        assert_eq!(ram_in_bytes("1.5m"), Ok(1572864));
        assert_eq!(ram_in_bytes("2GB"), Ok(2147483648));
        assert_eq!(ram_in_bytes("1 GiB"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("512mb"), Ok(512 << 20));
        for bad in ["lots", "2x", "-1", "", "1..2", "1kk", "1  k"] {
            assert_eq!(ram_in_bytes(bad), Err(format!("invalid size: '{bad}'")));
        }
    }

    #[test]
    fn ints_are_go_parse_int() {
        assert_eq!(parse_int("-5"), Ok(-5));
        assert_eq!(
            parse_int("5s"),
            Err("strconv.ParseInt: parsing \"5s\": invalid syntax".into())
        );
    }

    #[test]
    fn shell_words_handle_quotes() {
        assert_eq!(
            shell_words(r#"--debug --oci-worker-gc-keepstorage "10 GB" 'a b' c\ d"#).unwrap(),
            [
                "--debug",
                "--oci-worker-gc-keepstorage",
                "10 GB",
                "a b",
                "c d"
            ]
        );
        assert!(shell_words("\"open").is_err());
        assert_eq!(shell_words("a # b").unwrap(), ["a"]);
    }

    #[test]
    fn driver_opts_parse_like_buildx() {
        let m = csv_to_map(&[
            "image=moby/buildkit:v0.20.0,network=host".into(),
            "\"env.A=1,2\"".into(),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(m.get("image").unwrap(), "moby/buildkit:v0.20.0");
        assert_eq!(m.get("network").unwrap(), "host");
        assert_eq!(m.get("env.A").unwrap(), "1,2");
        assert_eq!(
            csv_to_map(&["foo".into()]).unwrap_err(),
            "invalid value \"foo\", expecting k=v"
        );
        assert!(csv_to_map(&[]).unwrap().is_none());
    }

    #[test]
    fn csv_quotes_as_go_encoding_csv() {
        assert_eq!(
            csv_fields("\"a=x,y\",\"b=q\"\"q\",c").unwrap(),
            ["a=x,y", "b=q\"q", "c"]
        );
        assert_eq!(csv_fields("").unwrap(), [""]);
        assert_eq!(csv_fields("a,,b").unwrap(), ["a", "", "b"]);
        assert_eq!(
            csv_fields("\"open").unwrap_err(),
            "extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            csv_fields("\"a\"b").unwrap_err(),
            "extraneous or missing \" in quoted-field"
        );
        // buildx refuses a quote inside an unquoted field: quote the field.
        assert_eq!(
            csv_fields("a=\"x,y\"").unwrap_err(),
            "bare \" in non-quoted-field"
        );
    }
}
