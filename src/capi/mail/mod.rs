//! lib-mail's C ABI (`capi-mail`): one file per original header.

pub mod mbox_from;
pub mod message_address;
pub mod message_date;
pub mod message_id;
pub mod message_snippet;
pub mod quoted_printable;
pub mod rfc2231_parser;
pub mod rfc822_parser;
