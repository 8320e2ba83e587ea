//! dovecot-rs: Dovecot's lib-index, lib-mail and lib-storage in Rust.
//!
//! The crate is layered the way Dovecot's libraries are, and dependencies
//! only point downwards:
//!
//! - [`index`]: lib-index, the `dovecot.index*` files and their engine;
//! - [`mail`]: lib-mail, message parsing and the IMAP views of a message;
//! - [`storage`]: lib-storage, mailboxes on top of the two above;
//! - [`doveadm`]: the logic behind the `doveadm-rs` command;
//! - [`util`]: the file locks of Dovecot's `src/lib` the formats rely on;
//! - `capi`: the C ABI with Dovecot's names, behind the `capi-*` features.
//!
//! Only `capi` contains `extern "C"` items. See `docs/ARCHITECTURE.md`.

pub mod doveadm;
pub mod index;
pub mod mail;
pub mod storage;
pub mod util;

#[cfg(any(
    feature = "capi-mail",
    feature = "capi-index",
    feature = "capi-storage"
))]
pub mod capi;
