//! lib-storage: users, mailbox lists and mailbox formats.
//!
//! TODO(storage): nothing is implemented yet; Maildir comes first.
