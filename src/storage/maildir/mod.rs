//! Maildir, the storage format where a message is a file and Dovecot's
//! state lives in three places: the file names, `dovecot-uidlist` and the
//! index.
//!
//! So far: the codecs of the Maildir-specific files ([`uidlist`],
//! [`keywords`]) and of message file names ([`filename`]).
//!
//! TODO(maildir): the mailbox itself (scan of new/ and cur/, sync with
//! the uidlist and the index, saves, flag renames, expunges) is not
//! built yet.

pub mod filename;
pub mod keywords;
pub mod uidlist;
