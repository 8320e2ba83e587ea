//! Maildir, the storage format where a message is a file and Dovecot's
//! state lives in three places: the file names, `dovecot-uidlist` and the
//! index.
//!
//! So far: the codecs of the Maildir-specific files ([`uidlist`],
//! [`keywords`]) and of message file names ([`filename`]), and the
//! mailbox opened read-only ([`mailbox`]).
//!
//! TODO(maildir): syncing (new UIDs, the index kept up to date), saves,
//! flag renames and expunges are not built yet.

pub mod filename;
pub mod keywords;
pub mod mailbox;
pub mod uidlist;
