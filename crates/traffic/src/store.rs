//! Content primitives: BLAKE3 hashing and binary detection. File access
//! goes through `dxforge_fs` (root-confined, unique temp files, explicit
//! durability); this crate has no write-then-rename helper of its own.

/// BLAKE3 hex digest of `data`.
pub fn hash_hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Whether `hex` looks like a BLAKE3 hex digest (and so is safe as a file name).
pub fn is_hash(hex: &str) -> bool {
    hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Git's rule: a NUL byte in the first 8 KiB makes a file binary.
pub fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(8000)].contains(&0)
}
