//! Builder and node name rules, as buildx's `store.ValidateName`: a letter
//! first, then letters, digits, `.`, `-`, `_`; names are case-insensitive
//! (the instance file is the lower-cased name). Also random names for
//! `create` without `--name`, in the `adjective_surname` style buildx uses.

use super::BuilderError;

/// The name buildx reserves for the docker context's own builder.
pub const DEFAULT_BUILDER: &str = "default";

/// Validates a builder or node name and returns the lower-cased form used as
/// the file name in `instances/`.
pub fn validate_name(name: &str) -> Result<String, BuilderError> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !ok {
        return Err(BuilderError::InvalidName(name.to_string()));
    }
    Ok(name.to_ascii_lowercase())
}

const ADJECTIVES: &[&str] = &[
    "admiring",
    "brave",
    "busy",
    "calm",
    "clever",
    "cool",
    "dazzling",
    "eager",
    "elastic",
    "festive",
    "focused",
    "gallant",
    "happy",
    "hopeful",
    "jolly",
    "keen",
    "kind",
    "lucid",
    "magical",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "sharp",
    "stoic",
    "tender",
    "upbeat",
    "vibrant",
    "wizardly",
    "zealous",
];

const SURNAMES: &[&str] = &[
    "albattani",
    "babbage",
    "bohr",
    "curie",
    "darwin",
    "euclid",
    "fermi",
    "galileo",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "lamarr",
    "lovelace",
    "mayer",
    "meitner",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "tesla",
    "thompson",
    "turing",
    "wing",
];

/// A random `adjective_surname` name; from the second try on a digit is
/// appended, as Docker's name generator does on retries.
pub fn random_name(retry: usize) -> String {
    use rand::Rng as _;
    let mut rng = rand::rng();
    let adjective = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
    let surname = SURNAMES[rng.random_range(0..SURNAMES.len())];
    if retry > 0 {
        format!("{adjective}_{surname}{}", rng.random_range(0..10))
    } else {
        format!("{adjective}_{surname}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_lowercases() {
        assert_eq!(validate_name("My.Builder-1_x").unwrap(), "my.builder-1_x");
        assert_eq!(validate_name("a").unwrap(), "a");
    }

    #[test]
    fn rejects_with_buildx_message() {
        for bad in ["", "1abc", "_x", "a b", "a/b", "a:b", "é"] {
            let err = validate_name(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid name {bad}, name needs to start with a letter and may not contain symbols, except ._-"
                )
            );
        }
    }

    #[test]
    fn random_names_are_valid() {
        for retry in 0..20 {
            let name = random_name(retry);
            assert_eq!(validate_name(&name).unwrap(), name);
            assert_eq!(name.chars().last().unwrap().is_ascii_digit(), retry > 0);
        }
    }
}
