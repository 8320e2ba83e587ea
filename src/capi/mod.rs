//! The C ABI: Dovecot 2.3.19's names, prototypes and struct layouts.
//!
//! One file per original header. This is the only module with
//! `extern "C"` items.
