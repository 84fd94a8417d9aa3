//! Line records and the Myers diff the way git's xdiff computes it.
//!
//! * [`Interner`] splits a file into records (a line with its `\n`; the last
//!   line may lack one) and gives equal records equal `u32` ids. Equality is
//!   byte equality, as in git with no whitespace options.
//! * [`diff`] runs git's preparation (trimming the common head and tail,
//!   then dropping from the search the records that cannot match or that
//!   match too often), the divide-and-conquer Myers search with its cost
//!   heuristics, the change compaction of [`super::compact`], and returns the
//!   edit script.

use super::compact::compact;
use super::scratch::Buf;

/// One change of an edit script: `chg1` records of file A at `i1` became
/// `chg2` records of file B at `i2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Change {
    pub i1: usize,
    pub i2: usize,
    pub chg1: usize,
    pub chg2: usize,
}

// ---------------------------------------------------------------------------
// Records and interning
// ---------------------------------------------------------------------------

/// A file split into records, each with its interned id.
pub(super) struct Lines<'a> {
    data: &'a [u8],
    /// Start offset of each record, then `data.len()`: record `i` is
    /// `data[bounds[i]..bounds[i + 1]]`.
    bounds: Buf<u32>,
    /// The id of each record.
    pub ids: Buf<u32>,
}

impl<'a> Lines<'a> {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Record `i`, with its line ending.
    pub fn line(&self, i: usize) -> &'a [u8] {
        &self.data[self.bounds[i] as usize..self.bounds[i + 1] as usize]
    }

    /// Records `start..start + count` as one contiguous slice.
    pub fn span(&self, start: usize, count: usize) -> &'a [u8] {
        &self.data[self.bounds[start] as usize..self.bounds[start + count] as usize]
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }
}

const MUL: u64 = 0x9E37_79B9_7F4A_7C15;
const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);
const LOW_BITS: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
/// Marks an id that does not occur in the guide file.
const NOWHERE: u32 = u32::MAX;

#[inline]
fn mix(h: u64, word: u64) -> u64 {
    (h.rotate_left(23) ^ word).wrapping_mul(MUL)
}

/// Gives every distinct record of the files it has seen a dense `u32` id.
///
/// An open-addressing table of ids keyed by a 32-bit tag of each record's
/// hash; the bytes of an id's first occurrence settle equality.
pub(super) struct Interner<'a> {
    /// `id + 1` per slot, 0 when free; the length is a power of two.
    slots: Buf<u32>,
    /// log2 of `slots.len()`.
    bits: u32,
    /// Per id: the tag of its hash (its top bits pick the home slot).
    tags: Buf<u32>,
    /// Per id: the bytes of its first occurrence.
    first: Vec<&'a [u8]>,
    /// Per id: its first record in the guide file (the first file
    /// interned with [`Interner::lines`]), or `NOWHERE`.
    in_guide: Buf<u32>,
}

impl<'a> Interner<'a> {
    /// An interner sized for about `lines` distinct records.
    pub fn with_capacity(lines: usize) -> Self {
        let bits = (lines.max(16) * 2).next_power_of_two().trailing_zeros();
        Interner {
            slots: Buf::zeroed(1 << bits),
            bits,
            tags: Buf::with_capacity(lines),
            first: Vec::with_capacity(lines),
            in_guide: Buf::with_capacity(lines),
        }
    }

    /// Number of distinct records so far (ids are `0..count`).
    pub fn count(&self) -> usize {
        self.tags.len()
    }

    /// The id of `bytes` (with `hash`), a new one if unseen; a new id's
    /// position in the guide is `guide_pos`.
    #[inline]
    fn intern(&mut self, bytes: &'a [u8], hash: u64, guide_pos: u32) -> u32 {
        let tag = (hash >> 32) as u32;
        let mask = self.slots.len() - 1;
        let mut i = (tag >> (32 - self.bits)) as usize;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                break;
            }
            let id = slot - 1;
            if self.tags[id as usize] == tag && self.first[id as usize] == bytes {
                return id;
            }
            i = (i + 1) & mask;
        }
        let id = self.tags.len() as u32;
        self.slots[i] = id + 1;
        self.tags.push(tag);
        self.first.push(bytes);
        self.in_guide.push(guide_pos);
        if self.tags.len() * 2 > self.slots.len() {
            self.grow();
        }
        id
    }

    /// Double the table (keeping it at most half full).
    fn grow(&mut self) {
        self.bits += 1;
        self.slots = Buf::zeroed(1 << self.bits);
        let mask = self.slots.len() - 1;
        for (id, &tag) in self.tags.iter().enumerate() {
            let mut i = (tag >> (32 - self.bits)) as usize;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = id as u32 + 1;
        }
    }

    /// Split `data` into records and intern each one; `data` becomes the
    /// guide for [`Interner::lines_like`]. `data` must be shorter than 4 GiB
    /// (the caller refuses larger input).
    pub fn lines(&mut self, data: &'a [u8]) -> Lines<'a> {
        let guess = data.len() / 32 + 1;
        let mut bounds = Buf::with_capacity(guess + 1);
        let mut ids = Buf::with_capacity(guess);
        let mut pos = 0usize;
        while pos < data.len() {
            let (end, hash) = scan_record(data, pos);
            let id = self.intern(&data[pos..end], hash, ids.len() as u32);
            bounds.push(pos as u32);
            ids.push(id);
            pos = end;
        }
        bounds.push(data.len() as u32);
        Lines { data, bounds, ids }
    }

    /// Like [`Interner::lines`] for a file that is mostly the guide file
    /// with edits: a record that repeats the guide's next expected record
    /// is recognised by one comparison, without scanning or hashing it.
    pub fn lines_like(&mut self, data: &'a [u8], guide: &Lines<'a>) -> Lines<'a> {
        let guess = guide.len() + guide.len() / 8 + 1;
        let mut bounds = Buf::with_capacity(guess + 1);
        let mut ids = Buf::with_capacity(guess);
        let mut pos = 0usize;
        // The guide record expected next.
        let mut next = 0usize;
        while pos < data.len() {
            if next < guide.len() {
                let expected = guide.line(next);
                let rest = &data[pos..];
                // A guide record ends in '\n' or ends its file: either way
                // the same bytes here are one whole record.
                if rest.starts_with(expected)
                    && (expected.last() == Some(&b'\n') || rest.len() == expected.len())
                {
                    bounds.push(pos as u32);
                    ids.push(guide.ids[next]);
                    pos += expected.len();
                    next += 1;
                    continue;
                }
            }
            let (end, hash) = scan_record(data, pos);
            let id = self.intern(&data[pos..end], hash, NOWHERE);
            let at = self.in_guide[id as usize];
            if at != NOWHERE {
                next = at as usize + 1;
            }
            bounds.push(pos as u32);
            ids.push(id);
            pos = end;
        }
        bounds.push(data.len() as u32);
        Lines { data, bounds, ids }
    }
}

/// Find the end of the record starting at `pos` (just past its `\n`, or the
/// end of `data`) and hash its bytes, eight at a time.
#[inline]
fn scan_record(data: &[u8], pos: usize) -> (usize, u64) {
    let mut h = 0u64;
    let mut at = pos;
    while at + 8 <= data.len() {
        let word = u64::from_le_bytes(data[at..at + 8].try_into().unwrap_or([0; 8]));
        let x = word ^ NEWLINES;
        let found = x.wrapping_sub(LOW_BITS) & !x & HIGH_BITS;
        if found != 0 {
            // The lowest flagged byte is exact (later flags may be borrows).
            let k = (found.trailing_zeros() / 8) as usize;
            let kept = if k == 7 {
                word
            } else {
                word & ((1u64 << (8 * (k + 1))) - 1)
            };
            let end = at + k + 1;
            return (end, mix(mix(h, kept), (end - pos) as u64));
        }
        h = mix(h, word);
        at += 8;
    }
    let mut tail = [0u8; 8];
    let mut n = 0;
    while at < data.len() {
        let b = data[at];
        tail[n] = b;
        n += 1;
        at += 1;
        if b == b'\n' {
            break;
        }
    }
    if n > 0 {
        h = mix(h, u64::from_le_bytes(tail));
    }
    (at, mix(h, (at - pos) as u64))
}

/// How many times each id occurs in `ids`, indexed by id (`ids < count`).
pub(super) fn occurrences(ids: &[u32], count: usize) -> Buf<u32> {
    let mut n = Buf::zeroed(count);
    for &id in ids {
        n[id as usize] += 1;
    }
    n
}

// ---------------------------------------------------------------------------
// Preparation
// ---------------------------------------------------------------------------

/// Above this many candidate matches a record is "too common" (see `cleanup`).
const MAX_EQ_LIMIT: u32 = 1024;
/// How far `too_common_in_run` looks on each side of a record.
const SIMILAR_SCAN_WINDOW: isize = 100;
/// A too-common record is dropped when the run around it has more than
/// this many times as many unmatched records as too-common ones.
const KEEP_RUN_FACTOR: isize = 4;

/// git's integer "square root": 2 to the power of half the bit length.
pub(super) fn rough_sqrt(mut n: usize) -> usize {
    let mut r = 1;
    while n > 0 {
        r <<= 1;
        n >>= 2;
    }
    r
}

/// What the preparation decided for one record.
const NO_MATCH: u8 = 0;
const MATCHES: u8 = 1;
const TOO_COMMON: u8 = 2;

/// One side's view after preparation: the records the search still looks
/// at (`ids` with their positions `index` in the file), and the `changed`
/// flags of all records, with a `false` guard before the first and after
/// the last (record `i` is `changed[i + 1]`).
struct Prepared {
    ids: Buf<u32>,
    index: Buf<u32>,
    changed: Vec<bool>,
}

/// Classify the records `start..=end` of one file by how often they occur
/// in the other file (`other_count`), then keep the ones the search needs
/// and mark the rest changed.
fn cleanup(
    file: &[u32],
    start: usize,
    end_excl: usize,
    other_count: &[u32],
    changed: &mut [bool],
) -> (Buf<u32>, Buf<u32>) {
    let limit = (rough_sqrt(file.len()) as u32).min(MAX_EQ_LIMIT);
    let mut kind = vec![NO_MATCH; end_excl.saturating_sub(start)];
    for (k, &id) in kind.iter_mut().zip(&file[start..end_excl]) {
        let n = other_count[id as usize];
        *k = if n == 0 {
            NO_MATCH
        } else if n >= limit {
            TOO_COMMON
        } else {
            MATCHES
        };
    }
    let mut ids = Buf::with_capacity(kind.len());
    let mut index = Buf::with_capacity(kind.len());
    let last = kind.len() as isize - 1;
    for (k, &kd) in kind.iter().enumerate() {
        let keep =
            kd == MATCHES || (kd == TOO_COMMON && !too_common_in_run(&kind, k as isize, 0, last));
        let i = start + k;
        if keep {
            ids.push(file[i]);
            index.push(i as u32);
        } else {
            changed[i + 1] = true;
        }
    }
    (ids, index)
}

/// Whether the too-common record `i` sits inside a run made mostly of
/// records without any match (it is then left out of the search).
/// `lo..=hi` bounds the scan, which is also limited to a window around `i`.
fn too_common_in_run(kind: &[u8], i: isize, mut lo: isize, mut hi: isize) -> bool {
    if i - lo > SIMILAR_SCAN_WINDOW {
        lo = i - SIMILAR_SCAN_WINDOW;
    }
    if hi - i > SIMILAR_SCAN_WINDOW {
        hi = i + SIMILAR_SCAN_WINDOW;
    }
    let run = |step: isize| {
        let (mut unmatched, mut common) = (0isize, 1isize);
        let mut j = i + step;
        while (lo..=hi).contains(&j) {
            match kind[j as usize] {
                NO_MATCH => unmatched += 1,
                TOO_COMMON => common += 1,
                _ => break,
            }
            j += step;
        }
        (unmatched, common)
    };
    let (before_unmatched, before_common) = run(-1);
    if before_unmatched == 0 {
        return false;
    }
    let (after_unmatched, after_common) = run(1);
    if after_unmatched == 0 {
        return false;
    }
    let common = before_common + after_common;
    let unmatched = before_unmatched + after_unmatched;
    common * KEEP_RUN_FACTOR < common + unmatched
}

/// git's preparation of a pair of files: skip the common head and tail,
/// then prune what the search does not need to see.
fn prepare(a: &[u32], b: &[u32], count_a: &[u32], count_b: &[u32]) -> (Prepared, Prepared) {
    let shorter = a.len().min(b.len());
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take(shorter - head)
        .take_while(|(x, y)| x == y)
        .count();
    let mut changed_a = vec![false; a.len() + 2];
    let mut changed_b = vec![false; b.len() + 2];
    let (ids_a, index_a) = cleanup(a, head, a.len() - tail, count_b, &mut changed_a);
    let (ids_b, index_b) = cleanup(b, head, b.len() - tail, count_a, &mut changed_b);
    (
        Prepared {
            ids: ids_a,
            index: index_a,
            changed: changed_a,
        },
        Prepared {
            ids: ids_b,
            index: index_b,
            changed: changed_b,
        },
    )
}

// ---------------------------------------------------------------------------
// Myers
// ---------------------------------------------------------------------------

/// Lowest cost at which the search gives up and takes the furthest path.
const MIN_COST_LIMIT: usize = 256;
/// Cost above which a long diagonal ("snake") may be taken as a split.
const HEURISTIC_MIN_COST: isize = 256;
/// Length of a diagonal that counts as a good snake.
const SNAKE_LEN: isize = 20;
/// How much further than the cost a path must reach to be "interesting".
const HEURISTIC_FACTOR: isize = 4;
/// Guard value of the backward vector.
const FAR: isize = isize::MAX;

/// Where a box is cut, and whether each half must be searched exactly.
struct Cut {
    i1: isize,
    i2: isize,
    exact_lo: bool,
    exact_hi: bool,
}

/// The forward and backward furthest-reaching vectors, indexed by
/// diagonal `d = i1 - i2` plus `offset`.
struct Vectors {
    fwd: Buf<isize>,
    bwd: Buf<isize>,
    offset: isize,
    cost_limit: isize,
}

impl Vectors {
    #[inline]
    fn f(&self, d: isize) -> isize {
        self.fwd[(d + self.offset) as usize]
    }
    #[inline]
    fn set_f(&mut self, d: isize, v: isize) {
        self.fwd[(d + self.offset) as usize] = v;
    }
    #[inline]
    fn b(&self, d: isize) -> isize {
        self.bwd[(d + self.offset) as usize]
    }
    #[inline]
    fn set_b(&mut self, d: isize, v: isize) {
        self.bwd[(d + self.offset) as usize] = v;
    }
}

#[inline]
fn at(s: &[u32], i: isize) -> u32 {
    s[i as usize]
}

/// Find where to cut the box `a[off1..lim1]` x `b[off2..lim2]` (both ends
/// already differ): the middle snake, or with `exact` false and a large
/// cost, a good-enough point found by git's heuristics.
#[allow(clippy::too_many_arguments)]
fn find_cut(
    a: &[u32],
    off1: isize,
    lim1: isize,
    b: &[u32],
    off2: isize,
    lim2: isize,
    v: &mut Vectors,
    exact: bool,
) -> Cut {
    let (dmin, dmax) = (off1 - lim2, lim1 - off2);
    let (fmid, bmid) = (off1 - off2, lim1 - lim2);
    let odd = (fmid - bmid) & 1 != 0;
    let (mut fmin, mut fmax) = (fmid, fmid);
    let (mut bmin, mut bmax) = (bmid, bmid);
    v.set_f(fmid, off1);
    v.set_b(bmid, lim1);

    let mut cost: isize = 1;
    loop {
        let mut got_snake = false;

        // Forward: widen the diagonal range by one (or narrow it at the
        // box's edge), guarding the new outer diagonals.
        if fmin > dmin {
            fmin -= 1;
            v.set_f(fmin - 1, -1);
        } else {
            fmin += 1;
        }
        if fmax < dmax {
            fmax += 1;
            v.set_f(fmax + 1, -1);
        } else {
            fmax -= 1;
        }
        let mut d = fmax;
        while d >= fmin {
            let mut i1 = if v.f(d - 1) >= v.f(d + 1) {
                v.f(d - 1) + 1
            } else {
                v.f(d + 1)
            };
            let start = i1;
            let mut i2 = i1 - d;
            while i1 < lim1 && i2 < lim2 && at(a, i1) == at(b, i2) {
                i1 += 1;
                i2 += 1;
            }
            if i1 - start > SNAKE_LEN {
                got_snake = true;
            }
            v.set_f(d, i1);
            if odd && bmin <= d && d <= bmax && v.b(d) <= i1 {
                return Cut {
                    i1,
                    i2,
                    exact_lo: true,
                    exact_hi: true,
                };
            }
            d -= 2;
        }

        // Backward, the same from the other corner.
        if bmin > dmin {
            bmin -= 1;
            v.set_b(bmin - 1, FAR);
        } else {
            bmin += 1;
        }
        if bmax < dmax {
            bmax += 1;
            v.set_b(bmax + 1, FAR);
        } else {
            bmax -= 1;
        }
        let mut d = bmax;
        while d >= bmin {
            let mut i1 = if v.b(d - 1) < v.b(d + 1) {
                v.b(d - 1)
            } else {
                v.b(d + 1) - 1
            };
            let start = i1;
            let mut i2 = i1 - d;
            while i1 > off1 && i2 > off2 && at(a, i1 - 1) == at(b, i2 - 1) {
                i1 -= 1;
                i2 -= 1;
            }
            if start - i1 > SNAKE_LEN {
                got_snake = true;
            }
            v.set_b(d, i1);
            if !odd && fmin <= d && d <= fmax && i1 <= v.f(d) {
                return Cut {
                    i1,
                    i2,
                    exact_lo: true,
                    exact_hi: true,
                };
            }
            d -= 2;
        }

        if exact {
            cost += 1;
            continue;
        }

        // Past the heuristic threshold, with a long snake seen: take the
        // diagonal that got furthest from its corner (less its distance from
        // the middle diagonal) if it is far enough and ends in a snake.
        if got_snake && cost > HEURISTIC_MIN_COST {
            let mut best = 0;
            let mut cut = (0, 0);
            let mut d = fmax;
            while d >= fmin {
                let i1 = v.f(d);
                let i2 = i1 - d;
                let reach = (i1 - off1) + (i2 - off2) - (d - fmid).abs();
                if reach > HEURISTIC_FACTOR * cost
                    && reach > best
                    && off1 + SNAKE_LEN <= i1
                    && i1 < lim1
                    && off2 + SNAKE_LEN <= i2
                    && i2 < lim2
                {
                    let mut k = 1;
                    while at(a, i1 - k) == at(b, i2 - k) {
                        if k == SNAKE_LEN {
                            best = reach;
                            cut = (i1, i2);
                            break;
                        }
                        k += 1;
                    }
                }
                d -= 2;
            }
            if best > 0 {
                return Cut {
                    i1: cut.0,
                    i2: cut.1,
                    exact_lo: true,
                    exact_hi: false,
                };
            }

            let mut best = 0;
            let mut d = bmax;
            while d >= bmin {
                let i1 = v.b(d);
                let i2 = i1 - d;
                let reach = (lim1 - i1) + (lim2 - i2) - (d - bmid).abs();
                if reach > HEURISTIC_FACTOR * cost
                    && reach > best
                    && off1 < i1
                    && i1 <= lim1 - SNAKE_LEN
                    && off2 < i2
                    && i2 <= lim2 - SNAKE_LEN
                {
                    let mut k = 0;
                    while at(a, i1 + k) == at(b, i2 + k) {
                        if k == SNAKE_LEN - 1 {
                            best = reach;
                            cut = (i1, i2);
                            break;
                        }
                        k += 1;
                    }
                }
                d -= 2;
            }
            if best > 0 {
                return Cut {
                    i1: cut.0,
                    i2: cut.1,
                    exact_lo: false,
                    exact_hi: true,
                };
            }
        }

        // Too expensive: cut at whichever of the forward and backward
        // fronts got furthest.
        if cost >= v.cost_limit {
            let (mut fbest, mut fbest1) = (-1, -1);
            let mut d = fmax;
            while d >= fmin {
                let mut i1 = v.f(d).min(lim1);
                let mut i2 = i1 - d;
                if lim2 < i2 {
                    i1 = lim2 + d;
                    i2 = lim2;
                }
                if fbest < i1 + i2 {
                    fbest = i1 + i2;
                    fbest1 = i1;
                }
                d -= 2;
            }
            let (mut bbest, mut bbest1) = (FAR, FAR);
            let mut d = bmax;
            while d >= bmin {
                let mut i1 = off1.max(v.b(d));
                let mut i2 = i1 - d;
                if i2 < off2 {
                    i1 = off2 + d;
                    i2 = off2;
                }
                if i1 + i2 < bbest {
                    bbest = i1 + i2;
                    bbest1 = i1;
                }
                d -= 2;
            }
            return if (lim1 + lim2) - bbest < fbest - (off1 + off2) {
                Cut {
                    i1: fbest1,
                    i2: fbest - fbest1,
                    exact_lo: true,
                    exact_hi: false,
                }
            } else {
                Cut {
                    i1: bbest1,
                    i2: bbest - bbest1,
                    exact_lo: false,
                    exact_hi: true,
                }
            };
        }
        cost += 1;
    }
}

/// Mark the changed records of the pruned sequences by dividing the
/// problem at cut points until each box is a pure insertion or deletion.
fn myers(pa: &mut Prepared, pb: &mut Prepared) {
    let (n1, n2) = (pa.ids.len(), pb.ids.len());
    let diagonals = n1 + n2 + 3;
    // Allocated on the first real search: often the pruned files only
    // differ by plain insertions and deletions.
    let mut v = Vectors {
        fwd: Buf::new(),
        bwd: Buf::new(),
        offset: n2 as isize + 1,
        cost_limit: rough_sqrt(diagonals).max(MIN_COST_LIMIT) as isize,
    };
    let (a, b) = (&pa.ids[..], &pb.ids[..]);
    // The boxes are independent: the order they are handled in does not matter.
    let mut boxes = vec![(0isize, n1 as isize, 0isize, n2 as isize, false)];
    while let Some((mut off1, mut lim1, mut off2, mut lim2, exact)) = boxes.pop() {
        while off1 < lim1 && off2 < lim2 && at(a, off1) == at(b, off2) {
            off1 += 1;
            off2 += 1;
        }
        while off1 < lim1 && off2 < lim2 && at(a, lim1 - 1) == at(b, lim2 - 1) {
            lim1 -= 1;
            lim2 -= 1;
        }
        if off1 == lim1 {
            for k in off2..lim2 {
                pb.changed[pb.index[k as usize] as usize + 1] = true;
            }
        } else if off2 == lim2 {
            for k in off1..lim1 {
                pa.changed[pa.index[k as usize] as usize + 1] = true;
            }
        } else {
            if v.fwd.is_empty() {
                v.fwd = Buf::zeroed(diagonals);
                v.bwd = Buf::zeroed(diagonals);
            }
            let cut = find_cut(a, off1, lim1, b, off2, lim2, &mut v, exact);
            boxes.push((off1, cut.i1, off2, cut.i2, cut.exact_lo));
            boxes.push((cut.i1, lim1, cut.i2, lim2, cut.exact_hi));
        }
    }
}

/// The edit script of two change maps (guarded as in [`Prepared`]), in
/// file order.
fn script(changed_a: &[bool], changed_b: &[bool]) -> Vec<Change> {
    let (na, nb) = (changed_a.len() - 2, changed_b.len() - 2);
    let mut out = Vec::new();
    let (mut i1, mut i2) = (0, 0);
    loop {
        while i1 < na && i2 < nb && !changed_a[i1 + 1] && !changed_b[i2 + 1] {
            i1 += 1;
            i2 += 1;
        }
        let (s1, s2) = (i1, i2);
        while changed_a[i1 + 1] {
            i1 += 1;
        }
        while changed_b[i2 + 1] {
            i2 += 1;
        }
        if i1 == s1 && i2 == s2 {
            debug_assert!(i1 == na && i2 == nb, "unchanged records must pair up");
            return out;
        }
        out.push(Change {
            i1: s1,
            i2: s2,
            chg1: i1 - s1,
            chg2: i2 - s2,
        });
    }
}

/// git's diff of `a` and `b` (record ids) with its default options: the
/// edit script after change compaction. `count_a[id]` / `count_b[id]` are
/// how often each id occurs in the whole of `a` / `b`.
pub(super) fn diff(a: &[u32], b: &[u32], count_a: &[u32], count_b: &[u32]) -> Vec<Change> {
    let (mut pa, mut pb) = prepare(a, b, count_a, count_b);
    myers(&mut pa, &mut pb);
    compact(a, &mut pa.changed, &pb.changed);
    compact(b, &mut pb.changed, &pa.changed);
    script(&pa.changed, &pb.changed)
}
