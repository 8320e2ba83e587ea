//! lib-storage: users, mailbox lists and mailbox formats.
//!
//! So far: mail locations ([`mail_user`]), mailbox lists ([`list`]),
//! read-only Maildir mailboxes ([`maildir`]) and doveadm search queries
//! ([`search`]).
//!
//! TODO(storage): userdb lookups, namespaces, writing mailboxes and the
//! generic mailbox API are not built yet.

pub mod index_mail;
pub mod list;
pub mod mail_user;
pub mod maildir;
pub mod search;
