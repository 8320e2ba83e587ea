//! lib-mail: parsing messages and computing what IMAP shows of them.

pub mod base64;
pub mod charset;
pub mod html_entities;
pub mod imap_base_subject;
pub mod imap_bodystructure;
pub mod imap_envelope;
pub mod imap_quote;
pub mod mail_html2text;
pub mod mbox_from;
pub mod message_address;
pub mod message_date;
pub mod message_decoder;
pub mod message_header_decode;
pub mod message_header_parser;
pub mod message_id;
pub mod message_parser;
pub mod message_part;
pub mod message_part_data;
pub mod message_part_serialize;
pub mod message_search;
pub mod message_size;
pub mod message_snippet;
pub mod quoted_printable;
pub mod rfc2231_parser;
pub mod rfc822_parser;
mod unicode_map;
