//! The Dockerfile layer's one error type. Syntax errors are not here: they
//! are part of the parsed tree ([`super::SyntaxError`]), since a Dockerfile
//! with errors still parses; this type is for input the layer refuses.

/// Input the Dockerfile layer refuses: bytes that are not UTF-8, or a
/// malformed `# check=` value (BuildKit refuses to build with it:
/// `failed to parse check options: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(
        "the Dockerfile is not valid UTF-8: invalid byte 0x{byte:02x} at byte offset {offset}"
    )]
    InvalidUtf8 { offset: usize, byte: u8 },
    /// A `# check=` part without `=`, or a key other than
    /// skip/experimental/error.
    #[error("invalid check option {0:?}")]
    InvalidCheckOption(String),
    /// `# check=` `error=` with something `strconv.ParseBool` rejects.
    #[error("failed to parse check option {part:?}: strconv.ParseBool: parsing {value:?}: invalid syntax")]
    InvalidCheckBool { part: String, value: String },
}
