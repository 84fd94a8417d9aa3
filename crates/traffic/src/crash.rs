//! Injected crash points for the crash-safety tests.
//!
//! Only with the `crash-points` feature (enabled by this crate's own tests,
//! never by dxforge's release builds): when `DXFORGE_TEST_CRASH_AT=<n>` is set,
//! the process SIGKILLs itself when it reaches the n-th point (1-based).

#[cfg(feature = "crash-points")]
static REACHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Mark a crash point.
#[inline]
pub fn point(_label: &str) {
    #[cfg(feature = "crash-points")]
    {
        let n = REACHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if let Ok(at) = std::env::var("DXFORGE_TEST_CRASH_AT")
            && at.trim().parse::<usize>().ok() == Some(n)
        {
            eprintln!("dxforge-traffic: crash point {n} ({_label}): SIGKILL");
            // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}
