//! Error codes, the thread-local last error, and the entry-point guard.
//!
//! Every fallible function returns `int`: `DXFORGE_OK` (0) or a negative
//! `dxforge_error_code`, `-(ErrorKind as i32)`. As in libgit2, the message and
//! code of the last *failure* on the calling thread stay readable through
//! [`dxforge_last_error_message`] / [`dxforge_last_error_code`] until the next
//! failure on that thread (or [`dxforge_clear_last_error`]); a successful call
//! leaves them alone, which keeps the success path free of thread-local
//! accesses (about 30 instructions per call in a shared library).

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use dxforge_core::{Error, ErrorKind};

use crate::convert::c_string;

/// Error codes returned by every fallible dxforge function (0 or negative).
///
/// The value is the negated number of the core's error kind; the stable name
/// of a code (e.g. `"NOT_FOUND"`, the `code` string of the Python and Node
/// bindings) comes from `dxforge_error_code_name`.
///
/// cbindgen:prefix-with-name=false
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dxforge_error_code {
    /// Success.
    DXFORGE_OK = 0,
    /// Catch-all for errors without a more precise kind.
    DXFORGE_ERROR_OTHER = -1,
    /// A command string was malformed (`dxforge_run_pipeline`).
    DXFORGE_ERROR_USAGE = -2,
    /// An argument is invalid: NULL, not UTF-8, empty, wrong options version…
    DXFORGE_ERROR_INVALID_ARGUMENT = -3,
    /// The named thing (tool, package, snapshot, task) does not exist.
    DXFORGE_ERROR_NOT_FOUND = -4,
    /// `dxforge.toml`, `dxpkg.toml` or another configuration is malformed.
    DXFORGE_ERROR_CONFIG = -5,
    /// Unknown dependency or dependency cycle.
    DXFORGE_ERROR_DEPENDENCY = -6,
    /// A tool could not be started or never became ready.
    DXFORGE_ERROR_TOOL_FAILED = -7,
    /// An I/O error.
    DXFORGE_ERROR_IO = -8,
    /// A lock is held by another process.
    DXFORGE_ERROR_BUSY = -9,
    /// A path would escape the project root.
    DXFORGE_ERROR_UNSAFE_PATH = -10,
    /// Remote object storage failed (unreachable, credentials, server error).
    DXFORGE_ERROR_REMOTE = -11,
    /// Stored data failed its hash check.
    DXFORGE_ERROR_INTEGRITY = -12,
    /// A wait ran out of time.
    DXFORGE_ERROR_TIMEOUT = -13,
    /// The handle was closed (`dxforge_close`).
    DXFORGE_ERROR_CLOSED = -14,
    /// The handle was created in another process (before `fork()`).
    DXFORGE_ERROR_FORKED = -15,
    /// The feature is not built yet.
    DXFORGE_ERROR_NOT_IMPLEMENTED = -16,
    /// Internal error: a panic was caught at the boundary (a bug; please report it).
    DXFORGE_ERROR_INTERNAL = -17,
}

/// The C code of an error: `-(kind as i32)`, the one conversion of this binding.
pub(crate) fn code_of(kind: ErrorKind) -> c_int {
    -(kind as i32)
}

thread_local! {
    /// The last error's code; a `const`-initialised `Cell` without a destructor,
    /// so the check on every call's entry costs a few instructions.
    static LAST_CODE: Cell<c_int> = const { Cell::new(0) };
    /// The last error's message, touched only when a call fails (or after one).
    static LAST_MESSAGE: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(code: c_int, message: String) -> c_int {
    // An interior NUL would cut the message; replace it rather than lose it.
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_MESSAGE.with(|cell| *cell.borrow_mut() = message);
    LAST_CODE.with(|c| c.set(code));
    code
}

/// Records `err` as the thread's last error and returns its code.
#[cold]
pub(crate) fn fail(err: &Error) -> c_int {
    set_last_error(code_of(err.kind()), err.to_string())
}

/// An `InvalidArgument` error naming the parameter.
pub(crate) fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        name: name.into(),
        reason: reason.into(),
    }
}

/// Runs the body of a fallible entry point: catches panics (-> `DXFORGE_ERROR_INTERNAL`) and converts errors once, by kind.
/// Inlined so the success path of each entry point stays one function.
#[inline(always)]
pub(crate) fn guard(body: impl FnOnce() -> dxforge_core::Result<()>) -> c_int {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => 0,
        Ok(Err(err)) => fail(&err),
        Err(payload) => panic_to_error(payload),
    }
}

#[cold]
fn panic_to_error(payload: Box<dyn std::any::Any + Send>) -> c_int {
    fail(&Error::from_panic(&*payload))
}

/// Runs an infallible accessor or free function: a panic is swallowed and
/// `fallback` returned, so nothing unwinds into C.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The message of the last failed dxforge call on this thread, or `""` when
/// none failed since the thread started (or since `dxforge_clear_last_error`).
/// Successful calls do not change it: read it right after a call returned a
/// negative code. Never NULL.
///
/// Ownership: the string belongs to the library and stays valid until the
/// next failing dxforge call (or `dxforge_clear_last_error`) on the same
/// thread; copy it to keep it.
#[unsafe(no_mangle)]
pub extern "C" fn dxforge_last_error_message() -> *const c_char {
    static EMPTY: &[u8] = b"\0";
    guard_value(EMPTY.as_ptr().cast(), || {
        LAST_MESSAGE.with(|cell| cell.borrow().as_ptr())
    })
}

/// The code of the last failed dxforge call on this thread (a negative
/// `dxforge_error_code`), or `DXFORGE_OK` when none failed since the thread
/// started (or since `dxforge_clear_last_error`). Successful calls do not
/// change it.
#[unsafe(no_mangle)]
pub extern "C" fn dxforge_last_error_code() -> c_int {
    guard_value(0, || LAST_CODE.with(Cell::get))
}

/// Forgets this thread's last error: afterwards `dxforge_last_error_code()`
/// is `DXFORGE_OK` and the message `""` (the old message pointer becomes invalid).
#[unsafe(no_mangle)]
pub extern "C" fn dxforge_clear_last_error() {
    guard_value((), || {
        LAST_CODE.with(|c| c.set(0));
        LAST_MESSAGE.with(|cell| *cell.borrow_mut() = CString::default());
    });
}

/// The stable name of an error code: `"OK"` for 0, `"NOT_FOUND"` for
/// `DXFORGE_ERROR_NOT_FOUND`, …, `"UNKNOWN"` for a value that is no code.
/// These are the `code` strings of the Python and Node bindings.
///
/// Ownership: a static string; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn dxforge_error_code_name(code: c_int) -> *const c_char {
    // The names are the core's `ErrorKind::code`s, NUL-terminated once.
    static NAMES: OnceLock<Vec<(c_int, CString)>> = OnceLock::new();
    static OK: &CStr = c"OK";
    static UNKNOWN: &CStr = c"UNKNOWN";
    guard_value(UNKNOWN.as_ptr(), || {
        if code == 0 {
            return OK.as_ptr();
        }
        let names = NAMES.get_or_init(|| {
            ErrorKind::ALL
                .iter()
                .map(|&k| (code_of(k), c_string(k.code())))
                .collect()
        });
        names
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(UNKNOWN.as_ptr(), |(_, name)| name.as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    #[test]
    fn every_core_kind_has_its_c_code_and_name() {
        for kind in ErrorKind::ALL {
            let code = code_of(kind);
            assert!(code < 0);
            // SAFETY: `dxforge_error_code_name` returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(dxforge_error_code_name(code)) };
            assert_eq!(name.to_str().unwrap(), kind.code(), "{kind:?}");
        }
        assert_eq!(
            code_of(ErrorKind::Internal),
            dxforge_error_code::DXFORGE_ERROR_INTERNAL as c_int
        );
        assert_eq!(
            code_of(ErrorKind::NotFound),
            dxforge_error_code::DXFORGE_ERROR_NOT_FOUND as c_int
        );
        assert_eq!(
            code_of(ErrorKind::Other),
            dxforge_error_code::DXFORGE_ERROR_OTHER as c_int
        );
        // SAFETY: `dxforge_error_code_name` returns a static NUL-terminated string.
        let unknown = unsafe { CStr::from_ptr(dxforge_error_code_name(-18)) };
        assert_eq!(unknown.to_str().unwrap(), "UNKNOWN");
    }

    #[test]
    fn a_panic_becomes_internal_with_its_message_until_cleared() {
        let code = guard(|| panic!("boom in test"));
        assert_eq!(code, dxforge_error_code::DXFORGE_ERROR_INTERNAL as c_int);
        assert_eq!(dxforge_last_error_code(), code);
        // SAFETY: `dxforge_last_error_message` returns a NUL-terminated string valid until the next
        // failure on this thread.
        let message = unsafe { CStr::from_ptr(dxforge_last_error_message()) };
        assert!(message.to_str().unwrap().contains("boom in test"));
        assert_eq!(guard(|| Ok(())), 0);
        assert_eq!(
            dxforge_last_error_code(),
            code,
            "a success keeps the last failure"
        );
        dxforge_clear_last_error();
        assert_eq!(dxforge_last_error_code(), 0);
        assert_eq!(
            // SAFETY: `dxforge_last_error_message` returns a NUL-terminated string valid until the
            // next failure on this thread.
            unsafe { CStr::from_ptr(dxforge_last_error_message()) }.to_bytes(),
            b""
        );
    }
}
