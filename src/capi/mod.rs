//! The C ABI: Dovecot 2.3.19's names, prototypes and struct layouts.
//!
//! One file per original header, under the directory of its C module
//! (`mail/` for lib-mail, behind the `capi-mail` feature, and so on).
//! This is the only module with `extern "C"` items. Every export follows
//! the rules in [`boundary`]; `docs/CAPI.md` explains the whole scheme.

pub mod boundary;
pub mod istream;
pub mod localtime;
pub mod log;
pub mod sys;

#[cfg(feature = "capi-mail")]
pub mod mail;

/// Dovecot's lib needs `lib_init()` before its data stack, pools and
/// logging work; C programs call it in `main()`. Tests call this.
#[doc(hidden)]
pub mod test_support {
    use std::sync::Once;

    use super::sys;

    /// Initialize Dovecot's lib once for this process.
    pub fn lib_init() {
        static INIT: Once = Once::new();

        // SAFETY: lib_init() is called once, before any other Dovecot call
        // made by this process's tests.
        INIT.call_once(|| unsafe { sys::lib_init() });
    }
}
