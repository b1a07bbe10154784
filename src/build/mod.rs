//! What to build: a `BuildSpec` (context, dockerfile, target, platforms, args,
//! outputs, cache, load) from CLI flags, settings, bake files or Compose files, checked
//! against a driver's features. Pure and synchronous.

pub mod attest;
pub mod bake;
pub mod bake_check;
pub mod bake_fmt;
pub mod bake_schema;
pub mod bake_syntax;
pub mod capability;
pub mod compose;
pub mod config;
mod error;
pub mod files;
pub mod options;
pub mod spec;
pub mod ssh;

pub use attest::AttestSpec;
pub use error::Error;
pub use options::{CacheSpec, OutputSpec, SecretSource, SecretSpec};
pub use spec::{BuildSpec, Export};
pub use ssh::SshSpec;
