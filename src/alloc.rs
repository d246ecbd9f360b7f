//! Process-wide allocator settings, applied once at start, before the runtime starts threads.
//!
//! glibc's malloc gives each thread that allocates its own arena (up to eight per core) and
//! raises its mmap threshold after the first large block is freed, so large buffers (a page of
//! 1,000 devices, a hash table of 10,000 rows) then come from the arenas and stay resident after
//! they are freed. The console is a long-running process whose feeds allocate on tokio's worker
//! threads; with these settings its resident memory follows what it actually holds (measured in
//! `benches/status.rs`: see the README). Other platforms and C libraries are left as they are.

/// Arenas shared by all threads (the runtime has two workers plus the blocking pool).
pub const ARENA_MAX: i32 = 2;
/// Blocks from this size up are mapped on their own and returned to the system when freed.
pub const MMAP_THRESHOLD: i32 = 128 * 1024;
/// Free memory above this at the top of the heap is returned to the system.
pub const TRIM_THRESHOLD: i32 = 128 * 1024;

/// Applies the settings; returns whether the C library accepted all of them. Call first thing in
/// `main`, before any thread exists.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune() -> bool {
    // SAFETY: `mallopt` only changes malloc's parameters; it is safe to call at any time, and
    // is called here before other threads allocate.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX) == 1
            && libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    }
}

/// Nothing to tune with this C library.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() -> bool {
    false
}

/// Gives free memory inside the arenas back to the system. A poll replaces most of its rows, and
/// the generation it replaced leaves holes that malloc keeps resident; the status feed calls this
/// once per poll (a few milliseconds at most, every 30 s or more).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free() {
    // SAFETY: malloc_trim only returns free pages; it takes malloc's own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Nothing to release with this C library.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free() {}
