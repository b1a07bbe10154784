//! Docker's `.dockerignore` semantics (patterns, `!` exceptions, `**`), shared
//! by the build checks (CopyIgnoredFile) and the file sync of the build context.
//! Pure: the caller reads the file.
