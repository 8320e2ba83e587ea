//! lib-index: Dovecot's `dovecot.index`, `dovecot.index.log` and
//! `dovecot.index.cache` files.
//!
//! [`format`] holds the byte codecs (no I/O). The engine (map, views,
//! transactions, sync, locking) is built on top of it.

pub mod cache;
pub mod format;
pub mod fsck;
pub mod mail_index;
pub mod map;
pub mod sync;
pub mod transaction;
pub mod transaction_log;
pub mod view;
pub mod view_sync;
pub mod write;
