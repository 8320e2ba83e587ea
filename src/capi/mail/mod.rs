//! lib-mail's C ABI (`capi-mail`): one file per original header.

pub mod message_date;
pub mod quoted_printable;
pub mod rfc822_parser;
