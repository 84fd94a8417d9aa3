//! Every size and count Traffic Branching accepts from disk. Registries,
//! projects and `.dxforge/` state are not trusted: each file is read with a
//! size cap (the filesystem layer refuses a larger file before reading it)
//! and each count is checked while parsing, so hostile input gets a clear
//! error naming the file instead of exhausting memory.

/// Largest `dxpkg.toml` (1 MiB).
pub const MAX_PACKAGE_MANIFEST_BYTES: u64 = 1 << 20;

/// Largest single file of a package (64 MiB).
pub const MAX_PACKAGE_FILE_BYTES: u64 = 64 << 20;

/// Largest total content of one package version (1 GiB): packages are held
/// in memory while an operation is planned.
pub const MAX_PACKAGE_BYTES: u64 = 1 << 30;

/// Most files in one package version.
pub const MAX_PACKAGE_FILES: usize = 100_000;

/// Most dependencies, and most detect patterns, one `dxpkg.toml` may declare.
pub const MAX_MANIFEST_ENTRIES: usize = 1_000;

/// Longest string value in `dxpkg.toml` (description, requirement, pattern).
pub const MAX_MANIFEST_STRING: usize = 4_096;

/// Largest `dxforge.lock` (64 MiB).
pub const MAX_LOCK_BYTES: u64 = 64 << 20;

/// Most packages in `dxforge.lock`.
pub const MAX_LOCKED_PACKAGES: usize = 10_000;

/// Largest project `dxforge.toml` that `add`/`remove` edit (4 MiB).
pub const MAX_PROJECT_MANIFEST_BYTES: u64 = 4 << 20;

/// Largest project file read to classify or merge it (256 MiB).
pub const MAX_PROJECT_FILE_BYTES: u64 = 256 << 20;

/// Largest transaction journal, `.dxforge/txn/journal.json` (64 MiB). A
/// transaction whose journal would be larger is refused before it starts.
pub const MAX_JOURNAL_BYTES: u64 = 64 << 20;

/// Most entries in each list of a journal (renames, deletions, directories).
pub const MAX_JOURNAL_ENTRIES: usize = 1_000_000;

/// Largest pack index `.dxforge/base/packs/<id>.idx` (64 MiB).
pub const MAX_PACK_INDEX_BYTES: u64 = 64 << 20;

/// Most objects one pack index may list.
pub const MAX_PACK_ENTRIES: usize = 1_000_000;

/// Largest object of the base store: the same as a package file.
pub const MAX_OBJECT_BYTES: u64 = MAX_PACKAGE_FILE_BYTES;

/// Largest `hashes.json` of a cached package (32 MiB).
pub const MAX_CACHE_HASHES_BYTES: u64 = 32 << 20;

/// Deepest directory nesting walked in a package's `files/` (a path is at
/// most 4096 bytes anyway).
pub const MAX_TREE_DEPTH: usize = 256;

/// Most `<file>.new.N` names tried for one Red file's side file.
pub const MAX_SIDE_FILE_TRIES: usize = 1_000;

/// Largest registry-item JSON accepted from a remote registry or file (8 MiB);
/// a larger answer is cut off and refused.
pub const MAX_ITEM_BYTES: u64 = 8 << 20;

/// Most files one registry item may ship.
pub const MAX_ITEM_FILES: usize = 1_000;

/// Most registry items one `add`/`update` may fetch (the transitive closure).
pub const MAX_ITEMS: usize = 1_000;

/// Largest `components.json` / `tsconfig.json` read to place items (1 MiB).
pub const MAX_PROJECT_JSON_BYTES: u64 = 1 << 20;
