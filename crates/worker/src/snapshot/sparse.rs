//! Copying and hashing files without materialising their holes.
//!
//! A source is read with positional reads; its holes are found with `SEEK_DATA` (where
//! the file system supports it) and not read at all, and every [`BLOCK`]-sized run of
//! zeros in its data is treated like a hole. The destination gets the data blocks
//! written at their offsets and its length set at the end, so every zero run stays a
//! hole. The hash is of the full content (holes hashed as the zeros they read as).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Granularity of zero detection: a zero run shorter than this, or not aligned to it, is
/// written as data.
pub(crate) const BLOCK: usize = 64 * 1024;

/// Bytes read per system call.
const READ_SIZE: usize = 16 * BLOCK;

static ZEROS: [u8; BLOCK] = [0; BLOCK];

/// Which side of a copy failed.
#[derive(Debug)]
pub(crate) enum CopyError {
    /// Reading the source.
    Read(io::Error),
    /// Writing the destination.
    Write(io::Error),
}

/// A piece of the content: zeros (not stored) or data.
enum Piece<'a> {
    Zeros(u64),
    Data(&'a [u8]),
}

/// Copies `src` into the empty file `dst` sparsely, hashing the content. Returns its size.
pub(crate) fn copy(src: &File, dst: &File, hasher: &mut blake3::Hasher) -> Result<u64, CopyError> {
    let size = walk(src, |offset, piece| {
        match piece {
            Piece::Zeros(len) => hash_zeros(hasher, len),
            Piece::Data(bytes) => {
                hasher.update(bytes);
                dst.write_all_at(bytes, offset).map_err(CopyError::Write)?;
            }
        }
        Ok(())
    })?;
    // Trailing zeros become a hole of the right length.
    dst.set_len(size).map_err(CopyError::Write)?;
    Ok(size)
}

/// Hashes `src` (holes are not read). Returns its size.
pub(crate) fn hash(src: &File, hasher: &mut blake3::Hasher) -> io::Result<u64> {
    walk(src, |_, piece| {
        match piece {
            Piece::Zeros(len) => hash_zeros(hasher, len),
            Piece::Data(bytes) => {
                hasher.update(bytes);
            }
        }
        Ok(())
    })
    .map_err(|e| match e {
        CopyError::Read(e) | CopyError::Write(e) => e,
    })
}

fn hash_zeros(hasher: &mut blake3::Hasher, mut len: u64) {
    while len > 0 {
        let n = len.min(BLOCK as u64) as usize;
        hasher.update(&ZEROS[..n]);
        len -= n as u64;
    }
}

/// Feeds `src`'s content to `f` in order, as zero runs and data, until end of file.
fn walk<E: From<CopyError>>(
    src: &File,
    mut f: impl FnMut(u64, Piece<'_>) -> Result<(), E>,
) -> Result<u64, E> {
    let mut end = src.metadata().map_err(CopyError::Read)?.len();
    let mut seek_works = true;
    let mut buf = vec![0u8; READ_SIZE];
    let mut pos = 0u64;
    loop {
        if seek_works && pos < end {
            match next_data(src, pos) {
                Ok(Some(data)) if data > pos => {
                    let data = data.min(end);
                    f(pos, Piece::Zeros(data - pos))?;
                    pos = data;
                    continue;
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    // No data up to the end: the rest is a hole. (The file may have shrunk.)
                    end = end.min(src.metadata().map_err(CopyError::Read)?.len());
                    if end > pos {
                        f(pos, Piece::Zeros(end - pos))?;
                        pos = end;
                    }
                }
                Err(_) => seek_works = false,
            }
        }
        let n = match src.read_at(&mut buf, pos) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e).into()),
        };
        let mut offset = pos;
        for block in buf[..n].chunks(BLOCK) {
            if block.len() == BLOCK && block == &ZEROS[..] {
                f(offset, Piece::Zeros(BLOCK as u64))?;
            } else {
                f(offset, Piece::Data(block))?;
            }
            offset += block.len() as u64;
        }
        pos += n as u64;
    }
    Ok(pos)
}

/// Writes a stream into an empty file, leaving every aligned zero block as a hole.
pub(crate) struct SparseWriter<'a> {
    file: &'a File,
    block: Vec<u8>,
    offset: u64,
}

impl<'a> SparseWriter<'a> {
    pub(crate) fn new(file: &'a File) -> Self {
        SparseWriter {
            file,
            block: Vec::with_capacity(BLOCK),
            offset: 0,
        }
    }

    /// Appends `data`.
    pub(crate) fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = (BLOCK - self.block.len()).min(data.len());
            self.block.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.block.len() == BLOCK {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    fn flush_block(&mut self) -> io::Result<()> {
        if self.block[..] != ZEROS[..self.block.len()] {
            self.file.write_all_at(&self.block, self.offset)?;
        }
        self.offset += self.block.len() as u64;
        self.block.clear();
        Ok(())
    }

    /// Writes what is pending and sets the file's length; returns it.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        if !self.block.is_empty() {
            self.flush_block()?;
        }
        self.file.set_len(self.offset)?;
        Ok(self.offset)
    }
}

impl From<CopyError> for io::Error {
    fn from(e: CopyError) -> io::Error {
        match e {
            CopyError::Read(e) | CopyError::Write(e) => e,
        }
    }
}

/// The offset of the first data at or after `pos`; `None` when only a hole follows.
fn next_data(file: &File, pos: u64) -> io::Result<Option<u64>> {
    match rustix::fs::seek(file, rustix::fs::SeekFrom::Data(pos)) {
        Ok(off) => Ok(Some(off)),
        Err(rustix::io::Errno::NXIO) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn copies_content_exactly_and_keeps_zero_runs_as_holes() {
        let dir = tempfile::tempdir().unwrap();
        let src_path = dir.path().join("src");
        let src = File::create(&src_path).unwrap();
        src.set_len(64 * 1024 * 1024).unwrap();
        src.write_all_at(b"head", 0).unwrap();
        src.write_all_at(b"middle", 20 * 1024 * 1024 + 3).unwrap();
        src.write_all_at(&[0u8; 3 * BLOCK], 30 * 1024 * 1024)
            .unwrap(); // zeros as data
        src.write_all_at(b"tail", 64 * 1024 * 1024 - 4).unwrap();
        drop(src);
        let expected = std::fs::read(&src_path).unwrap();

        let src = File::open(&src_path).unwrap();
        let dst_path = dir.path().join("dst");
        let dst = File::create(&dst_path).unwrap();
        let mut hasher = blake3::Hasher::new();
        let size = copy(&src, &dst, &mut hasher).unwrap();
        drop(dst);
        assert_eq!(size, expected.len() as u64);
        assert_eq!(hasher.finalize(), blake3::hash(&expected));
        assert_eq!(std::fs::read(&dst_path).unwrap(), expected);
        let blocks = std::fs::metadata(&dst_path).unwrap().blocks() * 512;
        assert!(blocks < 1024 * 1024, "{blocks} bytes allocated");

        let mut again = blake3::Hasher::new();
        assert_eq!(
            hash(&File::open(&dst_path).unwrap(), &mut again).unwrap(),
            size
        );
        assert_eq!(again.finalize(), blake3::hash(&expected));
    }

    #[test]
    fn short_and_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        for content in [&b""[..], b"x", &[0u8; 10][..]] {
            let p = dir.path().join("f");
            std::fs::write(&p, content).unwrap();
            let mut hasher = blake3::Hasher::new();
            let out = dir.path().join("o");
            let dst = File::create(&out).unwrap();
            copy(&File::open(&p).unwrap(), &dst, &mut hasher).unwrap();
            assert_eq!(std::fs::read(&out).unwrap(), content);
            assert_eq!(hasher.finalize(), blake3::hash(content));
        }
    }
}
