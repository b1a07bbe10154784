//! The builder a workspace builds with: selection commands, status watch,
//! capability diagnostics against its driver, and the build code lenses.
