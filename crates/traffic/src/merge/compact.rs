//! git's change compaction (xdiff's `xdl_change_compact`) without the
//! indent heuristic, which `git merge-file` does not enable.
//!
//! A run of changed records whose first record equals the record after it
//! can slide down by one (and up, symmetrically), giving an equally short
//! diff. Each run is slid as far up as it goes, then as far down, merging
//! with runs it bumps into, until its size is stable. If some position
//! lines it up with a run of changes in the other file, it is moved back up
//! to the last such position; otherwise it stays at the bottom.

/// A run of changed records `start..end` of one file (possibly empty: then
/// it sits just above record `start`). The change map is guarded: record
/// `i` is `changed[i + 1]`, and `changed[0]` and `changed[n + 1]` are false.
#[derive(Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
}

impl Run {
    /// The first run of the file.
    fn first(changed: &[bool]) -> Run {
        let mut end = 0;
        while changed[end + 1] {
            end += 1;
        }
        Run { start: 0, end }
    }

    /// Move to the next run; false at the end of the file.
    fn next(&mut self, changed: &[bool]) -> bool {
        let n = changed.len() - 2;
        if self.end == n {
            return false;
        }
        self.start = self.end + 1;
        self.end = self.start;
        while changed[self.end + 1] {
            self.end += 1;
        }
        true
    }

    /// Move to the previous run; false at the start of the file.
    fn previous(&mut self, changed: &[bool]) -> bool {
        if self.start == 0 {
            return false;
        }
        self.end = self.start - 1;
        self.start = self.end;
        while changed[self.start] {
            self.start -= 1;
        }
        true
    }

    /// Slide one record down if the run's first record equals the record
    /// after it, absorbing a run it then touches.
    fn slide_down(&mut self, ids: &[u32], changed: &mut [bool]) -> bool {
        if self.end < ids.len() && ids[self.start] == ids[self.end] {
            changed[self.start + 1] = false;
            self.start += 1;
            changed[self.end + 1] = true;
            self.end += 1;
            while changed[self.end + 1] {
                self.end += 1;
            }
            true
        } else {
            false
        }
    }

    /// Slide one record up if the run's last record equals the record
    /// before it, absorbing a run it then touches.
    fn slide_up(&mut self, ids: &[u32], changed: &mut [bool]) -> bool {
        if self.start > 0 && ids[self.start - 1] == ids[self.end - 1] {
            self.start -= 1;
            changed[self.start + 1] = true;
            self.end -= 1;
            changed[self.end + 1] = false;
            while changed[self.start] {
                self.start -= 1;
            }
            true
        } else {
            false
        }
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// Compact the changes of one file (`ids`, `changed`) of a diff, keeping
/// the other file's runs (`other`) in step.
pub(super) fn compact(ids: &[u32], changed: &mut [bool], other: &[bool]) {
    debug_assert_eq!(changed.len(), ids.len() + 2);
    let mut run = Run::first(changed);
    let mut other_run = Run::first(other);
    loop {
        if !run.is_empty() {
            let mut earliest_end;
            let mut aligned;
            loop {
                let size = run.end - run.start;
                aligned = false;
                while run.slide_up(ids, changed) {
                    let moved = other_run.previous(other);
                    debug_assert!(moved, "runs out of step sliding up");
                }
                earliest_end = run.end;
                if !other_run.is_empty() {
                    aligned = true;
                }
                while run.slide_down(ids, changed) {
                    let moved = other_run.next(other);
                    debug_assert!(moved, "runs out of step sliding down");
                    if !other_run.is_empty() {
                        aligned = true;
                    }
                }
                if size == run.end - run.start {
                    break;
                }
            }
            if run.end != earliest_end && aligned {
                // Back up to the lowest position facing a change in the other file.
                while other_run.is_empty() {
                    if !run.slide_up(ids, changed) {
                        debug_assert!(false, "aligned position lost");
                        break;
                    }
                    let moved = other_run.previous(other);
                    debug_assert!(moved, "runs out of step aligning");
                }
            }
        }
        if !run.next(changed) {
            break;
        }
        let moved = other_run.next(other);
        debug_assert!(moved, "runs out of step moving on");
    }
}
