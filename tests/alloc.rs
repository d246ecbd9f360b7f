//! The allocator settings of `stagehand::alloc`, measured through glibc's own counters
//! (`mallinfo2`). Alone in its binary: the counters are process-wide, and another test
//! allocating on a second thread would move them.

#![cfg(all(target_os = "linux", target_env = "gnu"))]

/// Bytes in blocks that malloc mapped on their own (`hblkhd`) and bytes free inside the arenas
/// (`fordblks`).
fn mapped_and_free() -> (usize, usize) {
    // SAFETY: mallinfo2 only reads malloc's statistics (glibc 2.33 and later).
    let info = unsafe { libc::mallinfo2() };
    (info.hblkhd, info.fordblks)
}

fn rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// One test, so nothing else in this process allocates while it measures.
#[test]
fn settings_keep_large_blocks_mapped_and_release_free_returns_holes() {
    assert!(stagehand::alloc::tune(), "glibc accepts the settings");

    // Left to itself, glibc raises its mmap threshold to the size of a mapped block that was
    // freed, so the next blocks of that size come from an arena and stay resident. With the fixed
    // threshold a block above it is still mapped on its own after that.
    drop(std::hint::black_box(vec![1u8; 4 << 20]));
    let (mapped_before, _) = mapped_and_free();
    let big = std::hint::black_box(vec![0u8; stagehand::alloc::MMAP_THRESHOLD as usize * 4]);
    let (mapped_after, _) = mapped_and_free();
    assert!(
        mapped_after >= mapped_before + big.len(),
        "a {} byte block is mapped on its own (mapped bytes {mapped_before} -> {mapped_after})",
        big.len()
    );
    let small = std::hint::black_box(vec![0u8; 1024]);
    assert_eq!(
        mapped_and_free().0,
        mapped_after,
        "a small block comes from an arena"
    );
    drop((big, small));

    // 64 MB of small blocks, like a poll's rows, then one block above them that stays: when the
    // rows are freed, malloc keeps their pages (they are not at the top of the heap) until
    // `release_free` hands them back.
    let rows: Vec<Vec<u8>> = (0..65_536).map(|i| vec![i as u8; 1000]).collect();
    let stays = std::hint::black_box(vec![1u8; 1000]);
    drop(rows);
    let (_, free_in_arenas) = mapped_and_free();
    assert!(
        free_in_arenas > 60_000_000,
        "the rows' blocks are free in the arena: {free_in_arenas}"
    );
    let before = rss_kib();
    stagehand::alloc::release_free();
    let after = rss_kib();
    assert!(
        before - after > 32_000,
        "RSS {before} kB before, {after} kB after releasing"
    );
    assert_eq!(stays[0], 1);
}
