//! A small work queue over the machine's cores for the per-file loops of restore.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::error::Result;

/// Most threads a loop uses (beyond this the file system, not the CPU, is the limit).
const MAX_THREADS: usize = 8;

/// Runs `f` on every item, spread over the available cores (items are taken in order
/// from a shared counter, so uneven items balance out). Stops taking items after the
/// first error, which is returned; items already started finish. Runs inline when
/// there is one core or one item.
pub(crate) fn for_each<T: Sync>(items: &[T], f: impl Fn(&T) -> Result<()> + Sync) -> Result<()> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(MAX_THREADS)
        .min(items.len());
    if threads <= 1 {
        return items.iter().try_for_each(f);
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let error = Mutex::new(None);
    let work = || {
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { return };
            if let Err(e) = f(item) {
                failed.store(true, Ordering::Relaxed);
                error.lock().get_or_insert(e);
                return;
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    match error.into_inner() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
