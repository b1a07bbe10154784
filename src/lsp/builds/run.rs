//! Builds started from the editor: the `buildkit.build` command, work-done
//! progress, the build log, cancellation, failed-step diagnostics and build
//! on save.
