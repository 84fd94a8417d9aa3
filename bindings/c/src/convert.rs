//! Checked conversions at the boundary: C strings and arrays in, owned
//! strings and lists out.
//!
//! Every pointer from C is checked for NULL and every string for UTF-8
//! before anything else happens, so bad input fails with
//! `DXFORGE_ERROR_INVALID_ARGUMENT` naming the parameter and changes nothing.

use std::ffi::{CStr, CString, c_char};
use std::sync::OnceLock;

use dxforge_core::Result;

use crate::error::invalid;

/// A required string parameter.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for `'a`.
#[inline]
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(invalid(name, "is NULL"));
    }
    // One pass for the common case, an ASCII name: find the NUL and check
    // that no byte is >= 0x80 (then the bytes are valid UTF-8).
    let start = ptr.cast::<u8>();
    let mut len = 0usize;
    loop {
        // SAFETY: NUL-terminated per the caller's contract; we stop at the NUL.
        let byte = unsafe { *start.add(len) };
        if byte == 0 {
            // SAFETY: `len` bytes before the NUL, all ASCII.
            return Ok(unsafe {
                std::str::from_utf8_unchecked(std::slice::from_raw_parts(start, len))
            });
        }
        if byte >= 0x80 {
            break;
        }
        len += 1;
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|e| {
        invalid(
            name,
            format!(
                "is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// An optional string parameter (NULL means "not given").
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: `ptr` is non-NULL here and NUL-terminated per this function's contract.
        unsafe { str_arg(ptr, name) }.map(Some)
    }
}

/// An array of `count` strings; NULL is allowed only when `count` is 0.
///
/// # Safety
/// `ptr` is NULL or points to `count` readable string pointers (each as in [`str_arg`]).
pub(crate) unsafe fn str_array_arg(
    ptr: *const *const c_char,
    count: usize,
    name: &str,
) -> Result<Vec<String>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        return Err(invalid(name, format!("is NULL but its count is {count}")));
    }
    // SAFETY: `count` readable elements per the caller's contract.
    let items = unsafe { std::slice::from_raw_parts(ptr, count) };
    items
        .iter()
        .enumerate()
        // SAFETY: each element is NULL or NUL-terminated per this function's contract; `str_arg`
        // checks NULL.
        .map(|(i, &p)| unsafe { str_arg(p, &format!("{name}[{i}]")) }.map(str::to_owned))
        .collect()
}

/// A required output pointer; it is set to its empty value at once so that
/// a failed call leaves NULL/0 behind.
///
/// # Safety
/// `ptr` is NULL or valid for writes of `T`.
pub(crate) unsafe fn out_arg<'a, T>(ptr: *mut T, name: &str, empty: T) -> Result<&'a mut T> {
    if ptr.is_null() {
        return Err(invalid(name, "is NULL"));
    }
    // SAFETY: non-NULL and writable per the caller's contract.
    unsafe {
        ptr.write(empty);
        Ok(&mut *ptr)
    }
}

/// A library-owned C string (interior NULs, which C strings cannot carry,
/// are removed).
pub(crate) fn c_string(text: impl Into<Vec<u8>>) -> CString {
    let bytes: Vec<u8> = text.into();
    CString::new(bytes).unwrap_or_else(|e| {
        let cleaned: Vec<u8> = e.into_vec().into_iter().filter(|&b| b != 0).collect();
        CString::new(cleaned).unwrap_or_default()
    })
}

/// Hands a string to C; free it with `dxforge_string_free`.
pub(crate) fn string_out(text: impl Into<Vec<u8>>) -> *mut c_char {
    c_string(text).into_raw()
}

/// Frees a string returned by dxforge (`char **out` parameters). NULL is a no-op.
///
/// Ownership: takes ownership of `s`; do not use it afterwards, and never pass
/// a string that dxforge did not allocate.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_string_free(s: *mut c_char) {
    if !s.is_null() {
        crate::error::guard_value((), || {
            // SAFETY: `s` came from `CString::into_raw` in `string_out`.
            drop(unsafe { CString::from_raw(s) });
        });
    }
}

/// A list of strings owned by the library (e.g. tool names).
///
/// Read `count` and `items` freely; never modify them. Free with
/// `dxforge_string_list_free`.
#[repr(C)]
pub struct dxforge_string_list {
    /// Number of strings.
    pub count: usize,
    /// `count` NUL-terminated UTF-8 strings.
    pub items: *const *const c_char,
}

/// The public list followed by the storage it points into; the public part
/// comes first so that a `dxforge_string_list *` is a pointer to this box.
#[repr(C)]
struct StringListBox {
    public: dxforge_string_list,
    pointers: Vec<*const c_char>,
    strings: Vec<CString>,
}

pub(crate) fn string_list_out(items: impl IntoIterator<Item = String>) -> *mut dxforge_string_list {
    let strings: Vec<CString> = items.into_iter().map(c_string).collect();
    let pointers: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
    let mut boxed = Box::new(StringListBox {
        public: dxforge_string_list {
            count: pointers.len(),
            items: std::ptr::null(),
        },
        pointers,
        strings,
    });
    boxed.public.items = boxed.pointers.as_ptr();
    Box::into_raw(boxed).cast()
}

/// Frees a list returned by dxforge. NULL is a no-op.
///
/// Ownership: takes ownership of `list` and of every string in it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_string_list_free(list: *mut dxforge_string_list) {
    if !list.is_null() {
        crate::error::guard_value((), || {
            // SAFETY: `list` is the first field of a `StringListBox` made by `string_list_out`.
            drop(unsafe { Box::from_raw(list.cast::<StringListBox>()) });
        });
    }
}

/// NUL-terminated copies of one of the core's name tables (`ToolStatus::NAMES`,
/// ...), made on first use, so this binding spells no name itself.
pub(crate) fn c_names(cell: &'static OnceLock<Vec<CString>>, names: &[&str]) -> &'static [CString] {
    cell.get_or_init(|| names.iter().map(|&n| c_string(n)).collect())
}

/// The one check of an options struct's `version` field: `known` is the
/// version this library knows, `constant` the name of its C macro.
pub(crate) fn check_options_version(version: u32, known: u32, constant: &str) -> Result<()> {
    if version == known {
        Ok(())
    } else {
        Err(invalid(
            "opts.version",
            format!("is {version}; this library knows version {known} ({constant})"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(bytes: &[u8]) -> Result<String> {
        let owned = CString::new(bytes).unwrap();
        // SAFETY: `owned` is a live NUL-terminated `CString`.
        unsafe { str_arg(owned.as_ptr(), "p") }.map(str::to_owned)
    }

    #[test]
    fn str_arg_accepts_ascii_and_utf8_and_names_the_parameter_otherwise() {
        assert_eq!(arg(b"").unwrap(), "");
        assert_eq!(arg(b"db").unwrap(), "db");
        assert_eq!(arg("café-日本".as_bytes()).unwrap(), "café-日本");
        let err = arg(b"ab\xffcd").unwrap_err();
        assert_eq!(err.kind(), dxforge_core::ErrorKind::InvalidArgument);
        assert!(
            err.to_string().contains("`p`") && err.to_string().contains("offset 2"),
            "{err}"
        );
        assert!(arg(b"caf\xc3").is_err(), "truncated sequence");
        // SAFETY: NULL is allowed; `str_arg` checks it before reading.
        let null = unsafe { str_arg(std::ptr::null(), "name") }.unwrap_err();
        assert!(null.to_string().contains("`name`: is NULL"), "{null}");
    }

    #[test]
    fn str_array_arg_names_the_bad_element_and_allows_null_when_empty() {
        let a = CString::new("a").unwrap();
        let items = [a.as_ptr(), std::ptr::null()];
        // SAFETY: `items` holds 2 pointers: a live `CString` and NULL (which `str_arg` rejects).
        let err = unsafe { str_array_arg(items.as_ptr(), 2, "args") }.unwrap_err();
        assert!(err.to_string().contains("args[1]"), "{err}");
        assert!(
            // SAFETY: count 0: the pointer is never read.
            unsafe { str_array_arg(std::ptr::null(), 0, "args") }
                .unwrap()
                .is_empty()
        );
        // SAFETY: NULL with count 1 is rejected before any read.
        assert!(unsafe { str_array_arg(std::ptr::null(), 1, "args") }.is_err());
        assert_eq!(
            // SAFETY: `items` holds at least 1 pointer, the first a live `CString`.
            unsafe { str_array_arg(items.as_ptr(), 1, "args") }.unwrap(),
            vec!["a".to_owned()]
        );
    }

    #[test]
    fn lists_and_strings_round_trip_through_their_free_functions() {
        let list = string_list_out(vec!["x".to_owned(), "y\0z".to_owned()]);
        // SAFETY: `list` is a live list from `string_list_out`: `items` points to `count` pointers.
        let items = unsafe { std::slice::from_raw_parts((*list).items, (*list).count) };
        let strings: Vec<_> = items
            .iter()
            // SAFETY: each item is a live NUL-terminated string owned by `list`.
            .map(|&p| unsafe { CStr::from_ptr(p) }.to_str().unwrap())
            .collect();
        assert_eq!(strings, ["x", "yz"]);
        // SAFETY: `list` came from `string_list_out` and is not used afterwards.
        unsafe { dxforge_string_list_free(list) };
        let s = string_out("hello");
        // SAFETY: `s` is a live NUL-terminated string from `string_out`.
        assert_eq!(unsafe { CStr::from_ptr(s) }.to_str().unwrap(), "hello");
        // SAFETY: `s` came from `string_out` and is not used afterwards.
        unsafe { dxforge_string_free(s) };
    }
}
