//! What to build: a `BuildSpec` (context, dockerfile, target, platforms, args,
//! outputs, cache, load) from CLI flags, settings, bake files or Compose files, checked
//! against a driver's features. Pure and synchronous.

pub mod bake;
pub mod capability;
pub mod compose;
pub mod config;
pub mod files;
pub mod options;
pub mod spec;

pub use options::{CacheSpec, OptionError, OutputSpec, SecretSource, SecretSpec};
pub use spec::{BuildSpec, Export};
