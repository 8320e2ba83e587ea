//! lib-index: Dovecot's `dovecot.index`, `dovecot.index.log` and
//! `dovecot.index.cache` files.
//!
//! [`format`] holds the byte codecs (no I/O). The engine (map, views,
//! transactions, sync, locking) is built on top of it.

pub mod format;
pub mod map;
