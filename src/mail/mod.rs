//! lib-mail: parsing messages and computing what IMAP shows of them.

pub mod message_header_parser;
pub mod message_part;
pub mod rfc822_parser;
