//! Gives back the memory `dxforge up` used only to start.
//!
//! Why: a long-lived `up` is mostly idle, but its resident set still holds
//! everything start-up touched: the code of argument parsing, configuration
//! loading, registration and the first spawns (and, through the kernel's
//! fault-around, up to 15 neighbouring pages of each page it ran), plus heap
//! pages freed since. Profiled with 10 idle tools, about half of its 8.4 MB
//! were such code pages of the binary and of libc.
//!
//! When: once every tool has started, and again after each burst of control
//! requests (`status`, `logs`, ...), as soon as [`QUIET`] has passed without
//! one: answering a request runs code that start-up did not, and that code
//! is idle again afterwards. Restarting a crashed tool runs a little code
//! too; it is given back with the next trim.
//!
//! What: each read-only mapping of a file (`r-xp` code, `r--p` read-only
//! data) that the process never wrote to is dropped from the page tables
//! (`MADV_DONTNEED`; the pages stay in the page cache, so running them again
//! costs a minor fault, not a read) and marked `MADV_RANDOM`, so that a later
//! fault maps the one page it needs instead of 16. Then `malloc_trim` returns
//! freed heap pages. Writable or written mappings (data, relocated read-only
//! data, anything a debugger patched) are never touched: dropping their
//! pages would lose their contents.
//!
//! Linux only and best effort: any failure leaves the mapping as it was.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// Keeps every thread's allocations in the main heap: glibc gives each new
/// thread an arena of its own (a resident chunk of 100–200 kB each, for a
/// process that allocates little). Call before `up` starts its threads.
pub(crate) fn one_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Time without a control request before memory is given back.
pub(crate) const QUIET: Duration = Duration::from_secs(1);

/// Gives memory back after start-up and after each burst of requests
/// (`activity` is notified per request); runs until `up`'s runtime ends.
pub(crate) async fn when_quiet(activity: Arc<Notify>) {
    loop {
        // Wait until QUIET passes without a request, then trim once.
        while tokio::time::timeout(QUIET, activity.notified())
            .await
            .is_ok()
        {}
        give_back();
        activity.notified().await;
    }
}

/// Drops idle code pages and free heap pages from the resident set (see the
/// module docs).
pub(crate) fn give_back() {
    #[cfg(target_os = "linux")]
    {
        let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
            return;
        };
        let exe = std::env::current_exe().unwrap_or_default();
        for (start, end) in clean_code_mappings(&smaps, &exe.to_string_lossy()) {
            let Some(len) = end.checked_sub(start) else {
                continue;
            };
            let addr = start as *mut libc::c_void;
            for advice in [libc::MADV_RANDOM, libc::MADV_DONTNEED] {
                // SAFETY: [start, end) is a whole private, read-only mapping of this
                // binary or of a shared library whose pages were never written
                // (`Anonymous: 0`); the kernel refuses writes to a running binary
                // (ETXTBSY) and libraries are replaced by rename, so dropping the
                // pages only makes the next access fault the same bytes back in
                // from the page cache. Nothing is unmapped.
                let _ = unsafe { libc::madvise(addr, len, advice) };
            }
        }
        #[cfg(target_env = "gnu")]
        // SAFETY: `malloc_trim` only releases free heap memory; it is thread-safe.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// Address ranges of private, read-only mappings (code, read-only data) of
/// the binary `exe` or of shared libraries with no written page (none
/// anonymous, none swapped out), from `/proc/self/smaps`. The relocated
/// read-only data (RELRO) is written by the loader before it is made
/// read-only, so it has anonymous pages and is never chosen. Other files
/// (anything a library maps read-only) are left alone: one truncated
/// meanwhile would fault with SIGBUS.
fn clean_code_mappings(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    // The candidate being read, and how many of its written-page counters
    // (`Anonymous`, `Swap`: a written page may have been swapped out) were 0.
    let mut current: Option<((usize, usize), u8)> = None;
    let mut finish = |current: Option<((usize, usize), u8)>| {
        if let Some((range, 2)) = current {
            out.push(range);
        }
    };
    for line in smaps.lines() {
        if let Some((range, rest)) = line.split_once(' ')
            && let Some((start, end)) = range.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            finish(current.take());
            let mut fields = rest.split_whitespace();
            let perms = fields.next().unwrap_or("");
            // offset, device, inode, then the path (absent for anonymous memory).
            let inode = fields.nth(2).unwrap_or("0");
            let path = fields.next().unwrap_or("");
            let read_only = perms == "r-xp" || perms == "r--p";
            let file_name = path.rsplit('/').next().unwrap_or("");
            let code = path == exe || file_name.contains(".so");
            current = (read_only && inode != "0" && path.starts_with('/') && code)
                .then_some(((start, end), 0));
        } else if let Some((key, value)) = line.split_once(':')
            && matches!(key, "Anonymous" | "Swap")
            && let Some((_, zeros)) = &mut current
        {
            if value.trim() == "0 kB" {
                *zeros += 1;
            } else {
                current = None;
            }
        }
    }
    finish(current);
    out
}

#[cfg(test)]
mod tests {
    use super::clean_code_mappings;

    #[test]
    fn only_unwritten_executable_file_mappings_are_chosen() {
        let smaps = "\
55d0a0000000-55d0a0400000 r-xp 00001000 fd:01 123 /usr/bin/dxforge
Size:               4096 kB
Anonymous:             0 kB
Swap:                  0 kB
55d0a0400000-55d0a0500000 r--p 00401000 fd:01 123 /usr/bin/dxforge
Anonymous:             0 kB
Swap:                  0 kB
55d0a0500000-55d0a0600000 rw-p 00501000 fd:01 123 /usr/bin/dxforge
Anonymous:            64 kB
Swap:                  0 kB
7f0000000000-7f0000100000 r-xp 00028000 fd:01 456 /usr/lib/libc.so.6
Anonymous:             4 kB
Swap:                  0 kB
7f0000100000-7f0000200000 r--p 00128000 fd:01 456 /usr/lib/libc.so.6
Anonymous:             0 kB
Swap:                  8 kB
7f0000200000-7f0000300000 r-xp 00000000 00:00 0
Anonymous:             0 kB
Swap:                  0 kB
7f0000400000-7f0000500000 r--p 00000000 fd:01 789 /home/me/project/data.bin
Anonymous:             0 kB
Swap:                  0 kB
7f0000500000-7f0000600000 r--p 00000000 fd:01 790 /usr/lib/libm.so.6
Anonymous:             0 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
";
        assert_eq!(
            clean_code_mappings(smaps, "/usr/bin/dxforge"),
            vec![
                (0x55d0a0000000, 0x55d0a0400000),
                (0x55d0a0400000, 0x55d0a0500000)
            ],
            "written or swapped pages, data, anonymous code, other files and mappings \
             whose counters are missing are left alone"
        );
    }
}
