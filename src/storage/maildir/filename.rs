//! Maildir file names (maildir-filename.c, maildir-filename-flags.c):
//! `BASE[,S=SIZE][,W=VSIZE][:2,FLAGS]`.
//!
//! The flag letters are Maildir's: `D`raft, `F`lagged, `R`eplied (IMAP
//! `\Answered`), `S`een, `T`rashed (IMAP `\Deleted`); `a`..`z` are
//! keywords, indexes into `dovecot-keywords`.

use bitflags::bitflags;

/// The separator before the info part (`MAILDIR_INFO_SEP`).
pub const INFO_SEP: u8 = b':';
/// The separator before extra fields such as `,S=` (`MAILDIR_EXTRA_SEP`).
pub const EXTRA_SEP: u8 = b',';

bitflags! {
    /// IMAP system flags as the index stores them (`enum mail_flags`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
    pub struct MailFlags: u8 {
        const ANSWERED = 0x01;
        const FLAGGED = 0x02;
        const DELETED = 0x04;
        const SEEN = 0x08;
        const DRAFT = 0x10;
    }
}

/// The flags and keyword letters of a file name's `:2,` info part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilenameFlags {
    pub flags: MailFlags,
    /// Keyword indexes (`a` = 0), in the order the name lists them.
    pub keywords: Vec<u8>,
}

/// The number in `,S=` (`type` b'S') or `,W=` (b'W'), if the name has a
/// well-formed one.
pub fn get_size(fname: &[u8], kind: u8) -> Option<u64> {
    let start = fname
        .windows(3)
        .position(|w| w[0] == EXTRA_SEP && w[1] == kind && w[2] == b'=')?
        + 3;
    let digits = fname[start..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    let end = start + digits;

    match fname.get(end) {
        None | Some(&INFO_SEP) | Some(&EXTRA_SEP) => {}
        Some(_) => return None,
    }
    fname[start..end].iter().try_fold(0u64, |size, &c| {
        size.checked_mul(10)?.checked_add(u64::from(c - b'0'))
    })
}

/// The flags of a name: after its last `:`, when that starts `2,`.
/// Unknown letters are ignored, as Dovecot ignores them.
pub fn get_flags(fname: &[u8]) -> FilenameFlags {
    let mut out = FilenameFlags::default();
    let Some(info) = fname.iter().rposition(|&c| c == INFO_SEP) else {
        return out;
    };
    let Some(letters) = fname[info + 1..].strip_prefix(b"2,") else {
        return out;
    };

    for &c in letters.iter().take_while(|&&c| c != EXTRA_SEP) {
        match c {
            b'R' => out.flags |= MailFlags::ANSWERED,
            b'S' => out.flags |= MailFlags::SEEN,
            b'T' => out.flags |= MailFlags::DELETED,
            b'D' => out.flags |= MailFlags::DRAFT,
            b'F' => out.flags |= MailFlags::FLAGGED,
            b'a'..=b'z' => out.keywords.push(c - b'a'),
            _ => {}
        }
    }
    out
}

/// The name without its info part (what `dovecot-uidlist` stores).
pub fn base(fname: &[u8]) -> &[u8] {
    match fname.iter().position(|&c| c == INFO_SEP) {
        Some(at) => &fname[..at],
        None => fname,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Names as the real Dovecot wrote them in tests/fixtures/demo.
    const SEEN_FLAGGED_KW: &[u8] = b"1796321365.M829412P17560.vm,S=254,W=263:2,FSa";

    #[test]
    fn sizes_come_from_s_and_w() {
        assert_eq!(get_size(SEEN_FLAGGED_KW, b'S'), Some(254));
        assert_eq!(get_size(SEEN_FLAGGED_KW, b'W'), Some(263));
        assert_eq!(get_size(b"1.M2P3.host", b'S'), None);
        assert_eq!(get_size(b"1.M2P3.host,S=12x", b'S'), None);
        assert_eq!(get_size(b"1,S=99999999999999999999999", b'S'), None);
    }

    #[test]
    fn flags_and_keywords_come_from_the_info_part() {
        let got = get_flags(SEEN_FLAGGED_KW);
        assert_eq!(got.flags, MailFlags::FLAGGED | MailFlags::SEEN);
        assert_eq!(got.keywords, vec![0]);

        let all = get_flags(b"x:2,DFRST");
        assert_eq!(all.flags, MailFlags::all());
        assert_eq!(get_flags(b"x:1,S").flags, MailFlags::empty());
        assert_eq!(
            base(SEEN_FLAGGED_KW),
            b"1796321365.M829412P17560.vm,S=254,W=263"
        );
    }
}
