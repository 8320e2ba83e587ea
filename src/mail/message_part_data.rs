//! What each MIME part's Content-* headers say, as Dovecot keeps it for
//! BODYSTRUCTURE (`message-part-data.c`).
//!
//! [`MessagePartData::add_header`] takes a part's header lines as the
//! parser yields them: the first Content-Type (split into type, subtype
//! and parameters), Content-Transfer-Encoding, -ID, -Description,
//! -Disposition (with parameters), -MD5, -Language and -Location; and,
//! for the message inside a message/rfc822 part, the envelope headers.
//! [`MessagePartData::end_of_header`] forgets the Content-* headers of a
//! part that is not MIME, as Dovecot does.
//!
//! [`MessagePartData::is_attachment`] and its helpers decide what
//! `mail_attachment_detection_options` counts as an attachment.
//!
//! TODO(part-data-limits): Debian's 2.3.19.1 caps the language tags and
//! parameters one message may add (100,000 and 200,000); not enforced.

use crate::mail::imap_envelope::Envelope;
use crate::mail::message_header_parser::{HeaderLine, header_value_without_nuls};
use crate::mail::message_part::MessagePartFlags;
use crate::mail::rfc822_parser::{Next, Rfc822Parser};
use crate::mail::rfc2231_parser;

/// The charset a text part has when it names none
/// (`MESSAGE_PART_DEFAULT_CHARSET`).
pub const DEFAULT_CHARSET: &[u8] = b"us-ascii";

/// A MIME parameter (`struct message_part_param`).
pub type Param = (Vec<u8>, Vec<u8>);

/// `struct message_part_data`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagePartData {
    pub content_type: Option<Vec<u8>>,
    /// Set whenever `content_type` is (empty if there was no `/`).
    pub content_subtype: Option<Vec<u8>>,
    pub content_type_params: Vec<Param>,
    pub content_transfer_encoding: Option<Vec<u8>>,
    pub content_id: Option<Vec<u8>>,
    pub content_description: Option<Vec<u8>>,
    pub content_disposition: Option<Vec<u8>>,
    pub content_disposition_params: Vec<Param>,
    pub content_md5: Option<Vec<u8>>,
    pub content_language: Option<Vec<Vec<u8>>>,
    pub content_location: Option<Vec<u8>>,
    /// For the message inside a message/rfc822 part: its envelope.
    pub envelope: Option<Box<Envelope>>,
}

fn strip_prefix_icase<'n>(name: &'n [u8], prefix: &[u8]) -> Option<&'n [u8]> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &name[prefix.len()..])
}

/// A header value as Dovecot stores it: NULs replaced.
fn header_string(value: &[u8]) -> Option<Vec<u8>> {
    Some(header_value_without_nuls(value).into_owned())
}

impl MessagePartData {
    /// One header line of the part (`message_part_data_parse_from_header()`);
    /// `parent_rfc822` says whether the part is the message inside a
    /// message/rfc822 part.
    pub fn add_header(&mut self, line: &HeaderLine<'_>, parent_rfc822: bool) {
        if line.eoh || line.continues {
            return;
        }
        let name = line.c_name();
        if let Some(rest) = strip_prefix_icase(name, b"Content-") {
            self.content_header(rest, &line.full_value);
        }
        if parent_rfc822 {
            let envelope = self.envelope.get_or_insert_with(Default::default);
            envelope.add_header(name, &line.full_value);
        }
    }

    /// The part's header ended: without MIME, Content-* headers do not
    /// count (the envelope stays).
    pub fn end_of_header(&mut self, flags: MessagePartFlags) {
        if !flags.contains(MessagePartFlags::IS_MIME) {
            let envelope = self.envelope.take();
            *self = MessagePartData {
                envelope,
                ..Default::default()
            };
        }
    }

    fn content_header(&mut self, rest: &[u8], value: &[u8]) {
        let is = |h: &[u8]| rest.eq_ignore_ascii_case(h);
        if is(b"ID") && self.content_id.is_none() {
            self.content_id = header_string(value);
        } else if is(b"MD5") && self.content_md5.is_none() {
            self.content_md5 = header_string(value);
        } else if is(b"Type") && self.content_type.is_none() {
            self.parse_content_type(value);
        } else if is(b"Transfer-Encoding") && self.content_transfer_encoding.is_none() {
            self.content_transfer_encoding = parse_transfer_encoding(value);
        } else if is(b"Language") && self.content_language.is_none() {
            self.content_language = parse_language(value);
        } else if is(b"Location") && self.content_location.is_none() {
            self.content_location = header_string(value);
        } else if is(b"Description") && self.content_description.is_none() {
            self.content_description = header_string(value);
        } else if is(b"Disposition") && self.content_disposition_params.is_empty() {
            self.parse_disposition(value);
        }
    }

    fn parse_content_type(&mut self, value: &[u8]) {
        let mut parser = Rfc822Parser::new(value);
        let _ = parser.skip_lwsp();
        let mut content_type = Vec::new();
        let parsed = parser.parse_content_type(&mut content_type);

        // What was read of it counts, even when it is broken.
        let (main, sub) = match memchr::memchr(b'/', &content_type) {
            Some(slash) => (&content_type[..slash], &content_type[slash + 1..]),
            None => (&content_type[..], &b""[..]),
        };
        self.content_type = Some(main.to_vec());
        self.content_subtype = Some(sub.to_vec());
        if parsed.is_ok() {
            self.content_type_params = rfc2231_parser::parse(&mut parser).params;
        }
    }

    fn parse_disposition(&mut self, value: &[u8]) {
        let mut parser = Rfc822Parser::new(value);
        let _ = parser.skip_lwsp();
        let mut disposition = Vec::new();
        if parser.parse_mime_token(&mut disposition).is_err() {
            return;
        }
        self.content_disposition = Some(disposition);
        self.content_disposition_params = rfc2231_parser::parse(&mut parser).params;
    }
}

/// One token and nothing after it, or nothing at all.
fn parse_transfer_encoding(value: &[u8]) -> Option<Vec<u8>> {
    let mut parser = Rfc822Parser::new(value);
    let _ = parser.skip_lwsp();
    let mut token = Vec::new();
    let ok = parser.parse_mime_token(&mut token).is_ok()
        && parser.skip_lwsp() == Ok(Next::End)
        && !token.is_empty();
    ok.then_some(token)
}

/// A comma-separated list of atoms (RFC 3282 language tags).
fn parse_language(value: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut parser = Rfc822Parser::new(value);
    let _ = parser.skip_lwsp();
    let mut langs = Vec::new();
    let mut lang = Vec::new();
    while parser.parse_atom(&mut lang).is_ok() {
        langs.push(std::mem::take(&mut lang));
        if parser.peek() != Some(b',') {
            break;
        }
        parser.advance(1);
        let _ = parser.skip_lwsp();
    }
    (!langs.is_empty()).then_some(langs)
}

/// Which parts count as attachments
/// (`struct message_part_attachment_settings`, from
/// `mail_attachment_detection_options`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachmentSettings {
    /// `content-type=` masks (`*` and `?` wildcards); a leading `!`
    /// excludes. `None` when no detection options are set at all.
    pub content_type_filter: Option<Vec<Vec<u8>>>,
    /// `exclude-inlined`: inline parts never count.
    pub exclude_inlined: bool,
}

/// `*` and `?` glob matching, ASCII case-insensitive
/// (`wildcard_match_icase()`).
pub fn wildcard_match_icase(data: &[u8], mask: &[u8]) -> bool {
    let (mut d, mut m) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while d < data.len() {
        match mask.get(m) {
            Some(b'*') => {
                star = Some((m, d));
                m += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&data[d]) => {
                m += 1;
                d += 1;
            }
            _ => match star {
                Some((sm, sd)) => {
                    star = Some((sm, sd + 1));
                    m = sm + 1;
                    d = sd + 1;
                }
                None => return false,
            },
        }
    }
    mask[m..].iter().all(|&c| c == b'*')
}

impl MessagePartData {
    /// Does `type/subtype` pass the filter? The last mask matching it
    /// decides (`message_part_has_content_types()`).
    pub fn has_content_types(&self, types: &[Vec<u8>]) -> bool {
        let Some(content_type) = &self.content_type else {
            return false;
        };
        let subtype = self.content_subtype.as_deref().unwrap_or(b"");
        let full = [&content_type[..], b"/", subtype].concat();
        let mut ret = true;
        for mask in types {
            let (exclude, mask) = match mask.strip_prefix(b"!") {
                Some(rest) => (true, rest),
                None => (false, &mask[..]),
            };
            if wildcard_match_icase(&full, mask) {
                ret = !exclude;
            }
        }
        ret
    }

    /// Is there a disposition parameter `name` (with a non-empty value
    /// if `has_value`)? (`message_part_has_parameter()`)
    pub fn has_parameter(&self, name: &[u8], has_value: bool) -> bool {
        self.content_disposition_params
            .iter()
            .any(|(key, value)| key.eq_ignore_ascii_case(name) && (!has_value || !value.is_empty()))
    }

    /// `Content-Disposition: attachment`, or inline with a filename
    /// unless inline parts are excluded (`message_part_is_attachment()`).
    pub fn is_attachment(&self, settings: &AttachmentSettings) -> bool {
        if let Some(filter) = &settings.content_type_filter {
            if !self.has_content_types(filter) {
                return false;
            }
        }
        let disposition = |what: &[u8]| {
            self.content_disposition
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(what))
        };
        disposition(b"attachment")
            || (!settings.exclude_inlined
                && disposition(b"inline")
                && self.has_parameter(b"filename", false))
    }

    /// The filename of an attachment (`message_part_data_get_filename()`).
    pub fn filename(&self) -> Option<&[u8]> {
        let disposition = self.content_disposition.as_deref();
        if disposition.is_some_and(|d| !d.eq_ignore_ascii_case(b"attachment")) {
            return None;
        }
        self.content_disposition_params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(b"filename"))
            .map(|(_, value)| &value[..])
    }
}
