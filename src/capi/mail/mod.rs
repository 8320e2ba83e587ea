//! lib-mail's C ABI (`capi-mail`): one file per original header.

pub mod rfc822_parser;
