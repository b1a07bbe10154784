//! Which builders exist: the store `docker buildx` uses, selection, bootstrap
//! and status.
