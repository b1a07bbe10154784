//! Allocator tuning for a long-running server that holds many document
//! texts. glibc raises its mmap threshold dynamically once a large block is
//! freed, so after the first big message every document text (often > 100
//! kB) and every transient message buffer lands in the main heap; the texts
//! then pin freed holes between them and the heap never shrinks. A fixed
//! 64 KiB threshold keeps large blocks in their own mappings, returned to the
//! system as soon as they are freed. Measured figures: docs/lsp.md.

/// Threshold above which glibc serves an allocation with its own mapping.
pub const MMAP_THRESHOLD: i32 = 64 * 1024;

/// Applies the tuning, unless the user set `MALLOC_MMAP_THRESHOLD_` (glibc
/// reads it at start-up; theirs wins). No-op off glibc.
pub fn tune_allocator() {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() {
        return;
    }
    set_mmap_threshold(MMAP_THRESHOLD);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_mmap_threshold(bytes: i32) {
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    /// glibc's `M_MMAP_THRESHOLD` (malloc.h).
    const M_MMAP_THRESHOLD: i32 = -3;
    // SAFETY: `mallopt` only changes allocator parameters and is safe to call
    // at any time; it takes plain integers.
    let ok = unsafe { mallopt(M_MMAP_THRESHOLD, bytes) };
    if ok != 1 {
        tracing::debug!("mallopt(M_MMAP_THRESHOLD, {bytes}) refused");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_mmap_threshold(_bytes: i32) {}
