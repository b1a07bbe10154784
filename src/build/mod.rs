//! What to build: a `BuildSpec` (context, dockerfile, target, platforms, args,
//! outputs, cache, load) from CLI flags, settings or bake files, checked
//! against a driver's features. Pure and synchronous.

pub mod attest;
pub mod bake;
pub mod capability;
pub mod config;
pub mod options;
pub mod spec;
pub mod ssh;

pub use attest::AttestSpec;
pub use options::{CacheSpec, OptionError, OutputSpec, SecretSource, SecretSpec};
pub use spec::{BuildSpec, Export};
pub use ssh::SshSpec;
