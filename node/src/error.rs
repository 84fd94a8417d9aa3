//! Errors: every `dxforge::Error` becomes a JavaScript `Error` whose `code`
//! property is the core's stable code (`'NOT_FOUND'`, `'CLOSED'`, …).
//!
//! The conversion happens once, from [`dxforge::Error::code`]; no variant is
//! matched here. Synchronous methods throw, Promise methods reject. A Rust
//! panic anywhere in the glue or the core becomes an error with code
//! `'INTERNAL'` rather than crossing into Node.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use napi::Env;
use napi::bindgen_prelude::JsError;

/// The `code` of a thrown error: one of the core's stable codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode(&'static str);

impl ErrorCode {
    /// napi's status for "a JavaScript exception is already pending": an
    /// error with this code is not thrown again.
    const PENDING: ErrorCode = ErrorCode("PendingException");
}

impl AsRef<str> for ErrorCode {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// Result of a synchronous method: `Err` is thrown with its code.
pub type JsResult<T> = napi::Result<T, ErrorCode>;

fn coded(e: &dxforge::Error) -> napi::Error<ErrorCode> {
    napi::Error::new(ErrorCode(e.code()), e.to_string())
}

/// Runs a synchronous entry point: converts its error and contains panics.
pub(crate) fn sync<T>(f: impl FnOnce() -> dxforge::Result<T>) -> JsResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(coded(&e)),
        Err(payload) => Err(coded(&panic_error(payload))),
    }
}

/// Throws a `RangeError` (with the same `code` and message as the `Error` it
/// replaces) and returns the marker that tells napi the exception is already
/// pending, so it is not replaced by a plain `Error`.
pub(crate) fn throw_range_error(env: &Env, e: &dxforge::Error) -> napi::Error<ErrorCode> {
    match env.throw_range_error(&e.to_string(), Some(e.code())) {
        Ok(()) => napi::Error::new(ErrorCode::PENDING, e.to_string()),
        // The environment is tearing down: nothing can be thrown into it anyway.
        Err(_) => coded(e),
    }
}

/// Builds the JavaScript error object on the JS thread and wraps it so that
/// napi rejects the Promise with exactly that object (code included).
pub(crate) fn js_error(env: &Env, e: &dxforge::Error) -> napi::Error {
    napi::Error::from(JsError::from(coded(e)).into_unknown(*env))
}

/// The error a caught panic is reported as (the core's conversion).
pub(crate) fn panic_error(payload: Box<dyn Any + Send>) -> dxforge::Error {
    dxforge::Error::from_panic(&*payload)
}

/// An `INVALID_ARGUMENT` error naming the parameter (or field) and what is wrong.
pub(crate) fn invalid_argument(name: &str, reason: impl Into<String>) -> dxforge::Error {
    dxforge::Error::InvalidArgument {
        name: name.to_owned(),
        reason: reason.into(),
    }
}

/// Every error `code` this package can produce, in the core's numeric order
/// (the C binding's `dxforge_error_code` of the code at index `i` is `-(i + 1)`).
#[napi_derive::napi]
pub fn error_codes() -> Vec<&'static str> {
    dxforge::ErrorKind::ALL.iter().map(|k| k.code()).collect()
}
