//! IMAP ENVELOPE (lib-imap's `imap-envelope.c`, fed the way lib-mail's
//! `message-part-data.c` collects the envelope headers).
//!
//! [`Envelope::add_header`] takes the envelope headers one by one, with
//! Dovecot's rules: the last Date, Subject, In-Reply-To and Message-ID
//! win, while repeated address headers are merged as if they were one
//! comma-separated list (so a forged second From: is not hidden).
//! [`Envelope::write`] writes the ENVELOPE text `doveadm fetch
//! imap.envelope` prints, byte for byte.
//!
//! Debian's 2.3.19.1 bounds the addresses one message may add to its
//! envelope ([`MAX_TOTAL_ADDRESSES`], from the CVE-2024-23184 fix);
//! addresses past the bound are dropped. One deliberate difference: the
//! bound counts addresses, a group counting as one, while each group
//! adds several entries; Debian's Dovecot then fails an assertion and
//! aborts (seen with two 60,000-member groups), where we keep the first
//! entries up to the bound.
//!
//! Not done yet: TODO(envelope-parse): reading an ENVELOPE back
//! (`imap_envelope_parse()`), which needs lib-imap's parser.

use super::imap_quote::{append_nstring, append_nstring_nolf, append_string_for_humans};
use super::message_address::{self, MessageAddress, ParseFlags};
use super::message_header_parser::{HeaderParser, HeaderParserFlags, header_value_without_nuls};

/// The headers ENVELOPE is made of (`message_part_envelope_headers`).
pub const ENVELOPE_HEADERS: [&str; 10] = [
    "Date",
    "Subject",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "In-Reply-To",
    "Message-ID",
];

/// Debian's `MESSAGE_PART_DATA_MAX_TOTAL_ADDRESSES`.
pub const MAX_TOTAL_ADDRESSES: usize = 100_000;

/// The envelope of a message (`struct message_part_envelope`).
/// An empty address list is written as NIL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub date: Option<Vec<u8>>,
    pub subject: Option<Vec<u8>>,
    pub from: Vec<MessageAddress>,
    pub sender: Vec<MessageAddress>,
    pub reply_to: Vec<MessageAddress>,
    pub to: Vec<MessageAddress>,
    pub cc: Vec<MessageAddress>,
    pub bcc: Vec<MessageAddress>,
    pub in_reply_to: Option<Vec<u8>>,
    pub message_id: Option<Vec<u8>>,
    /// How many more addresses the message may add.
    remaining_addresses: usize,
}

impl Default for Envelope {
    fn default() -> Self {
        Envelope {
            date: None,
            subject: None,
            from: Vec::new(),
            sender: Vec::new(),
            reply_to: Vec::new(),
            to: Vec::new(),
            cc: Vec::new(),
            bcc: Vec::new(),
            in_reply_to: None,
            message_id: None,
            remaining_addresses: MAX_TOTAL_ADDRESSES,
        }
    }
}

enum Field<'e> {
    Text(&'e mut Option<Vec<u8>>),
    Addresses(&'e mut Vec<MessageAddress>),
}

impl Envelope {
    /// The envelope of the header block at the start of `message`.
    pub fn from_message(message: &[u8]) -> Envelope {
        let flags = HeaderParserFlags::SKIP_INITIAL_LWSP | HeaderParserFlags::DROP_CR;
        let mut parser = HeaderParser::new(message, 0, flags);
        let mut envelope = Envelope::default();
        while let Some(line) = parser.next_line() {
            if line.eoh {
                break;
            }
            if !line.continues {
                envelope.add_header(line.c_name(), &line.full_value);
            }
        }
        envelope
    }

    /// Add one header with its unfolded value
    /// (`message_part_envelope_parse_from_header()`); other headers are
    /// ignored.
    pub fn add_header(&mut self, name: &[u8], value: &[u8]) {
        let remaining = self.remaining_addresses;
        match self.field(name) {
            Some(Field::Text(slot)) => {
                *slot = Some(header_value_without_nuls(value).into_owned());
            }
            Some(Field::Addresses(list)) => {
                let flags = ParseFlags::FILL_MISSING;
                let added = message_address::parse(value, remaining, flags);
                let added_count = added.len().min(remaining);
                list.extend(added.into_iter().take(added_count));
                self.remaining_addresses -= added_count;
            }
            None => {}
        }
    }

    fn field(&mut self, name: &[u8]) -> Option<Field<'_>> {
        let name = std::str::from_utf8(name).ok()?;
        let is = |h: &str| h.eq_ignore_ascii_case(name);
        Some(match () {
            _ if is("Date") => Field::Text(&mut self.date),
            _ if is("Subject") => Field::Text(&mut self.subject),
            _ if is("In-Reply-To") => Field::Text(&mut self.in_reply_to),
            _ if is("Message-ID") => Field::Text(&mut self.message_id),
            _ if is("From") => Field::Addresses(&mut self.from),
            _ if is("Sender") => Field::Addresses(&mut self.sender),
            _ if is("Reply-To") => Field::Addresses(&mut self.reply_to),
            _ if is("To") => Field::Addresses(&mut self.to),
            _ if is("Cc") => Field::Addresses(&mut self.cc),
            _ if is("Bcc") => Field::Addresses(&mut self.bcc),
            _ => return None,
        })
    }

    /// The ENVELOPE text without its outer parentheses
    /// (`imap_envelope_write()`); Sender and Reply-To default to From.
    pub fn write<'a>(&'a self, out: &mut Vec<u8>) {
        append_nstring_nolf(out, self.date.as_deref());
        out.push(b' ');
        match &self.subject {
            None => out.extend_from_slice(b"NIL"),
            Some(subject) => append_string_for_humans(out, subject),
        }
        let or_from = |list: &'a [MessageAddress]| {
            if list.is_empty() {
                &self.from[..]
            } else {
                list
            }
        };
        for list in [
            &self.from[..],
            or_from(&self.sender),
            or_from(&self.reply_to),
            &self.to,
            &self.cc,
            &self.bcc,
        ] {
            out.push(b' ');
            write_addresses(out, list);
        }
        out.push(b' ');
        append_nstring_nolf(out, self.in_reply_to.as_deref());
        out.push(b' ');
        append_nstring_nolf(out, self.message_id.as_deref());
    }

    /// [`Envelope::write`] into a new buffer.
    pub fn to_imap(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.write(&mut out);
        out
    }
}

/// `((name route mailbox domain) ...)` or NIL (`imap_write_address()`).
fn write_addresses(out: &mut Vec<u8>, list: &[MessageAddress]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for addr in list {
        out.push(b'(');
        match &addr.name {
            None => out.extend_from_slice(b"NIL"),
            Some(name) => append_string_for_humans(out, name),
        }
        for part in [&addr.route, &addr.mailbox, &addr.domain] {
            out.push(b' ');
            append_nstring(out, part.as_deref());
        }
        out.push(b')');
    }
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(message: &str) -> String {
        String::from_utf8(Envelope::from_message(message.as_bytes()).to_imap()).unwrap()
    }

    #[test]
    fn rfc3501_envelope_shape() {
        // RFC 3501 7.4.2: date, subject, from, sender, reply-to, to, cc,
        // bcc, in-reply-to, message-id; sender and reply-to default to
        // from.
        assert_eq!(
            envelope(
                "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n\
                 From: Terry Gray <gray@cac.washington.edu>\n\
                 Subject: IMAP4rev1 WG mtg summary and minutes\n\
                 To: imap@cac.washington.edu\n\
                 Cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\n\
                 Message-Id: <B27397-0100000@cac.washington.edu>\n\n"
            ),
            "\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \
             \"IMAP4rev1 WG mtg summary and minutes\" \
             ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
             ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
             ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
             ((NIL NIL \"imap\" \"cac.washington.edu\")) \
             ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")\
             (\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \
             \"<B27397-0100000@cac.washington.edu>\""
        );
    }

    #[test]
    fn empty_header_gives_all_nil() {
        assert_eq!(envelope("\n"), "NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL");
    }

    #[test]
    fn address_headers_merge_and_text_headers_replace() {
        let mut e = Envelope::default();
        e.add_header(b"To", b"a@b.c");
        e.add_header(b"to", b"d@e.f");
        e.add_header(b"Subject", b"one");
        e.add_header(b"SUBJECT", b"two");
        assert_eq!(e.to.len(), 2);
        assert_eq!(e.subject.as_deref(), Some(&b"two"[..]));
    }

    #[test]
    fn huge_headers_stay_bounded() {
        // A 10 MB subject and 500,000 recipients: Debian's cap applies.
        let to: String = (0..500_000).map(|i| format!("u{i}@d, ")).collect();
        let subject = "s".repeat(10 * 1024 * 1024);
        let message = format!("From: f@x\nTo: {to}\nCc: c@x\nSubject: {subject}\n\nbody\n");
        let e = Envelope::from_message(message.as_bytes());
        assert_eq!(e.from.len() + e.to.len(), MAX_TOTAL_ADDRESSES);
        assert!(e.cc.is_empty());
        // The header block's values may add up to 10 MB: the subject is
        // cut one byte short of that (as Debian's doveadm does).
        let limit = crate::mail::message_header_parser::HEADER_BLOCK_DEFAULT_MAX_SIZE;
        let used = "f@x".len() + to.len() + "c@x".len();
        assert_eq!(e.subject.as_ref().map(Vec::len), Some(limit - used - 1));
        let _ = e.to_imap();
    }
}
