//! Buffers kept from one merge to the next on the same thread.
//!
//! A 10,000-line merge needs about 2 MB of index buffers. Freed, they sit
//! at the top of glibc's heap, which hands them back to the kernel, and the
//! next merge faults every page in again: a quarter or more of the merge's
//! time in a profile. [`Buf`] returns its storage to a small per-thread
//! pool instead (at most [`MAX_KEPT`] buffers, none larger than
//! [`MAX_KEPT_BYTES`], so a huge merge does not pin its memory).

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::thread::LocalKey;

/// Most buffers of one element type kept per thread.
const MAX_KEPT: usize = 16;

/// Largest buffer kept, in bytes.
const MAX_KEPT_BYTES: usize = 4 << 20;

/// An element type with a pool.
pub(super) trait Pooled: Copy + Default + 'static {
    /// This type's pool.
    fn pool() -> &'static LocalKey<RefCell<Vec<Vec<Self>>>>;
}

thread_local! {
    static U32: RefCell<Vec<Vec<u32>>> = const { RefCell::new(Vec::new()) };
    static ISIZE: RefCell<Vec<Vec<isize>>> = const { RefCell::new(Vec::new()) };
}

impl Pooled for u32 {
    fn pool() -> &'static LocalKey<RefCell<Vec<Vec<Self>>>> {
        &U32
    }
}

impl Pooled for isize {
    fn pool() -> &'static LocalKey<RefCell<Vec<Vec<Self>>>> {
        &ISIZE
    }
}

/// A `Vec` whose storage goes back to its thread's pool when dropped.
pub(super) struct Buf<T: Pooled>(Vec<T>);

impl<T: Pooled> Buf<T> {
    /// An empty buffer that allocates nothing.
    pub fn new() -> Self {
        Buf(Vec::new())
    }

    /// An empty buffer with room for at least `n` elements, reused when
    /// the pool has one large enough.
    pub fn with_capacity(n: usize) -> Self {
        let reused = T::pool()
            .try_with(|pool| {
                let mut pool = pool.try_borrow_mut().ok()?;
                let i = pool.iter().position(|v| v.capacity() >= n)?;
                Some(pool.swap_remove(i))
            })
            .ok()
            .flatten();
        Buf(reused.unwrap_or_else(|| Vec::with_capacity(n)))
    }

    /// `n` default (zero) elements.
    pub fn zeroed(n: usize) -> Self {
        let mut b = Self::with_capacity(n);
        b.0.resize(n, T::default());
        b
    }
}

impl<T: Pooled> Deref for Buf<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: Pooled> DerefMut for Buf<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T: Pooled> Drop for Buf<T> {
    fn drop(&mut self) {
        let cap = self.0.capacity();
        if cap == 0 || cap.saturating_mul(size_of::<T>()) > MAX_KEPT_BYTES {
            return;
        }
        let mut v = std::mem::take(&mut self.0);
        v.clear();
        // During thread teardown the pool may be gone: the buffer is then freed.
        let _ = T::pool().try_with(|pool| {
            if let Ok(mut pool) = pool.try_borrow_mut() {
                if pool.len() < MAX_KEPT {
                    pool.push(v);
                } else if let Some(smallest) = pool.iter_mut().min_by_key(|p| p.capacity())
                    && smallest.capacity() < cap
                {
                    *smallest = v;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_is_reused_and_zeroed() {
        let mut a: Buf<u32> = Buf::zeroed(1000);
        a[10] = 7;
        let ptr = a.as_ptr();
        drop(a);
        let b: Buf<u32> = Buf::zeroed(900);
        assert_eq!(b.as_ptr(), ptr, "the pooled storage is taken again");
        assert!(b.iter().all(|&x| x == 0));
        assert_eq!(b.len(), 900);
    }

    #[test]
    fn huge_buffers_are_not_kept() {
        let big: Buf<isize> = Buf::zeroed(MAX_KEPT_BYTES / size_of::<isize>() + 1);
        drop(big);
        let kept = ISIZE.with(|p| p.borrow().iter().map(Vec::capacity).max().unwrap_or(0));
        assert!(kept * size_of::<isize>() <= MAX_KEPT_BYTES);
    }
}
