//! The vocabulary every export uses at the C boundary.
//!
//! Panic policy, decided once: every `extern "C"` function runs its body
//! inside [`guard`]. A Rust panic (a bug, or a caller breaking a
//! function's contract, such as passing NULL where Dovecot would
//! `i_assert()`) is caught there and handed to Dovecot's `i_panic()`,
//! which logs it through the process's own log and aborts, exactly like
//! a failed `i_assert()` in the C original. Nothing unwinds into C.
//! Release builds use `panic = "abort"`, where the panic aborts at once.
//! `tests/capi_boundary.rs` checks that every export starts with `guard`.
//!
//! Pointer helpers: [`non_null`]/[`non_null_mut`] for pointers the C
//! contract says are valid, [`write_out`] for `_r` out-parameters,
//! [`bytes`] for `(ptr, len)` pairs, [`DovecotString`] for `string_t *`
//! outputs (appended through Dovecot's own `str_*` functions) and
//! [`t_strndup`] for results returned on Dovecot's data stack.

use std::any::Any;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::sys;

/// Run an export's body; a panic becomes Dovecot's `i_panic()`.
///
/// `function` names the export in the panic message.
pub fn guard<R>(function: &str, body: impl FnOnce() -> R) -> R {
    super::log::install();

    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => dovecot_panic(function, payload.as_ref()),
    }
}

fn dovecot_panic(function: &str, payload: &(dyn Any + Send)) -> ! {
    let reason = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic payload");
    let message = c_string(&format!("dovecot-rs: {function}(): {reason}"));

    // SAFETY: i_panic is Dovecot's printf-style panic; the format is a
    // literal "%s" and its one argument a NUL-terminated string.
    unsafe { sys::i_panic(c"%s".as_ptr(), message.as_ptr()) }
}

/// A C string for a message; interior NULs (never expected) are replaced.
pub fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).expect("NULs were replaced")
}

/// A pointer the C contract says is valid, as a shared reference.
///
/// # Safety
/// If non-NULL, `ptr` must point to a valid, initialized `T` that nothing
/// mutates while the returned reference lives.
pub unsafe fn non_null<'a, T>(ptr: *const T, what: &str) -> &'a T {
    // SAFETY: the caller guarantees validity when non-NULL.
    match unsafe { ptr.as_ref() } {
        Some(value) => value,
        None => panic!("{what} is NULL"),
    }
}

/// A pointer the C contract says is valid, as an exclusive reference.
///
/// # Safety
/// If non-NULL, `ptr` must point to a valid, initialized `T` that nothing
/// else accesses while the returned reference lives.
pub unsafe fn non_null_mut<'a, T>(ptr: *mut T, what: &str) -> &'a mut T {
    // SAFETY: the caller guarantees validity and exclusivity when non-NULL.
    match unsafe { ptr.as_mut() } {
        Some(value) => value,
        None => panic!("{what} is NULL"),
    }
}

/// Store `value` through an `_r` out-parameter, which must not be NULL.
///
/// # Safety
/// If non-NULL, `ptr` must be valid for writing a `T`.
pub unsafe fn write_out<T>(ptr: *mut T, what: &str, value: T) {
    assert!(!ptr.is_null(), "{what} is NULL");

    // SAFETY: non-NULL, and the caller guarantees it is writable; write()
    // does not drop whatever uninitialized bytes were there.
    unsafe { ptr.write(value) }
}

/// The bytes of a C `(data, size)` pair; NULL is allowed when `size` is 0.
///
/// # Safety
/// If `size` is non-zero, `data` must point to `size` readable bytes that
/// stay unchanged while the returned slice lives.
pub unsafe fn bytes<'a>(data: *const u8, size: usize, what: &str) -> &'a [u8] {
    if size == 0 {
        return &[];
    }
    assert!(!data.is_null(), "{what} is NULL with size {size}");

    // SAFETY: non-NULL, and the caller guarantees `size` readable bytes.
    unsafe { std::slice::from_raw_parts(data, size) }
}

/// The bytes between two pointers into one buffer (`data`, `end`), as
/// Dovecot's parsers keep them.
///
/// # Safety
/// `start..end` must lie inside one readable allocation, unchanged while
/// the returned slice lives.
pub unsafe fn bytes_between<'a>(start: *const u8, end: *const u8) -> &'a [u8] {
    assert!(start <= end, "data pointer is past the end pointer");
    let len = end as usize - start as usize;

    // SAFETY: the caller guarantees start..end is one readable range.
    unsafe { bytes(start, len, "data") }
}

/// A caller's `string_t *` or `buffer_t *` (both Dovecot's `struct
/// buffer`), written through Dovecot's own `str_*` functions so its pool
/// and limits are honoured.
#[derive(Debug)]
pub struct DovecotString(*mut sys::string_t);

impl DovecotString {
    /// # Safety
    /// If non-NULL, `ptr` must be a valid, writable Dovecot string for as
    /// long as the returned value is used.
    pub unsafe fn new(ptr: *mut sys::string_t, what: &str) -> DovecotString {
        assert!(!ptr.is_null(), "{what} is NULL");
        DovecotString(ptr)
    }

    /// Like [`DovecotString::new`], but NULL means "no string".
    ///
    /// # Safety
    /// As for [`DovecotString::new`].
    pub unsafe fn optional(ptr: *mut sys::string_t) -> Option<DovecotString> {
        (!ptr.is_null()).then_some(DovecotString(ptr))
    }

    pub fn as_ptr(&self) -> *mut sys::string_t {
        self.0
    }

    pub fn append(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        // SAFETY: self.0 is a valid string (constructor contract); data
        // is a live slice of data.len() bytes.
        unsafe { sys::str_append_data(self.0, data.as_ptr().cast(), data.len()) }
    }

    pub fn len(&self) -> usize {
        // SAFETY: self.0 is a valid string (constructor contract).
        unsafe { sys::str_len(self.0) }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn truncate(&mut self, len: usize) {
        // SAFETY: self.0 is a valid string (constructor contract).
        unsafe { sys::str_truncate(self.0, len) }
    }

    /// The string's current bytes, copied.
    pub fn to_vec(&self) -> Vec<u8> {
        let len = self.len();
        // SAFETY: self.0 is a valid string; str_data points to len bytes.
        let data = unsafe { sys::str_data(self.0) };
        // SAFETY: as above; the copy ends the borrow at once.
        unsafe { bytes(data, len, "str_data()") }.to_vec()
    }
}

/// Copy `data` to Dovecot's data stack as a NUL-terminated string, the
/// way Dovecot returns `const char *` results valid until the current
/// data stack frame ends. Bytes after an interior NUL are cut, as C
/// would see them.
pub fn t_strndup(data: &[u8]) -> *const c_char {
    // SAFETY: t_strndup reads at most data.len() bytes from a live slice
    // and allocates from the data stack, which lib_init() set up for any
    // process that calls into Dovecot's lib.
    unsafe { sys::t_strndup(data.as_ptr().cast(), data.len()) }
}

/// Read a NUL-terminated C string (for tests and checks).
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that outlives
/// the returned slice.
pub unsafe fn c_str_bytes<'a>(ptr: *const c_char) -> Option<&'a [u8]> {
    // SAFETY: the caller guarantees a valid C string when non-NULL.
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) }.to_bytes())
}

/// Compile-time proof that our `#[repr(C)]` struct has the layout of
/// Dovecot's (as bindgen read it from the installed header): same size,
/// alignment, and offset of every named field.
#[macro_export]
macro_rules! assert_same_layout {
    ($ours:ty, $theirs:ty, $($field:ident),+ $(,)?) => {
        const _: () = {
            use ::std::mem::{align_of, offset_of, size_of};
            assert!(size_of::<$ours>() == size_of::<$theirs>());
            assert!(align_of::<$ours>() == align_of::<$theirs>());
            $(assert!(offset_of!($ours, $field) == offset_of!($theirs, $field));)+
        };
    };
}
