//! lib-storage: users, mailbox lists and mailbox formats.
//!
//! So far only [`maildir`]'s file formats exist.
//!
//! TODO(storage): users, mail locations, mailbox lists and the mailbox
//! API are not built yet.

pub mod maildir;
