//! RFC 822/2822 dates of `Date:` headers (lib-mail's `message-date.c`),
//! and the calendar arithmetic of lib's `utc-mktime.c`.
//!
//! [`parse`] accepts what Dovecot accepts, which is more than RFC 5322:
//! a missing weekday, one- or two-digit hours, `.` as time separator,
//! two-digit years (below 70 meaning 20xx), missing seconds and missing
//! zones. An unknown zone counts as UTC, and the single-letter military
//! zones get the signs RFC 822 meant, not the ones it wrote, exactly as
//! Dovecot computes them (lowercase and 8-bit letters included). The
//! result feeds `date.sent` and SORT DATE.
//!
//! What it does not do: Dovecot's index keeps the sent date as an
//! unsigned 32-bit number; that truncation belongs to the index layer
//! (see [`MessageDate::index_time`]).

use super::rfc822_parser::{Next, Rfc822Parser};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// A parsed date: the moment in UTC seconds and the zone it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageDate {
    pub timestamp: i64,
    /// Minutes east of UTC, as written (0 for unknown zones).
    pub tz_offset: i32,
}

impl MessageDate {
    /// The value Dovecot's index stores and `date.sent` shows: the
    /// timestamp cut to an unsigned 32-bit number (`mail_sent_date`).
    pub fn index_time(self) -> u32 {
        self.timestamp as u32
    }
}

/// A broken-down UTC time; `month` is 0-11 like `struct tm`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CivilTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl CivilTime {
    /// Seconds since the epoch, or `None` when a field is out of range
    /// (`utc_mktime()`: a leap second 60 counts as 59, anything
    /// `timegm()` would have to normalize is invalid, and so is the
    /// result -1, which Dovecot cannot tell from an error).
    pub fn to_unix(self) -> Option<i64> {
        let second = if self.second == 60 { 59 } else { self.second };
        let valid = self.month < 12
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && second < 60;
        if !valid {
            return None;
        }
        let days = days_from_civil(self.year, self.month + 1, self.day);
        let t = days * 86400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(second);
        (t != -1).then_some(t)
    }

    /// The UTC calendar time of `timestamp` (`gmtime()`).
    pub fn from_unix(timestamp: i64) -> CivilTime {
        let days = timestamp.div_euclid(86400);
        let secs = timestamp.rem_euclid(86400) as u32;
        let (year, month, day) = civil_from_days(days);
        CivilTime {
            year,
            month: month - 1,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
        }
    }

    /// Day of the week, 0 being Sunday.
    pub fn weekday(self) -> usize {
        let days = days_from_civil(self.year, self.month + 1, self.day);
        (days + 4).rem_euclid(7) as usize
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 if is_leap(year) => 29,
        1 => 28,
        3 | 5 | 8 | 10 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date (month 1-12) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parse a `Date:` value (`message_date_parse()`); `None` when Dovecot
/// would fail (it then stores 0 with zone +0000).
pub fn parse(value: &[u8]) -> Option<MessageDate> {
    let mut tokens = Tokens::new(value);
    let mut tm = CivilTime::default();

    // [weekday ","] dd month [yy]yy hh:mm[:ss] [zone]
    tokens.skip_lwsp();
    let mut token = tokens.next()?;
    if token.len() == 3 {
        if !tokens.take(b',') {
            return None;
        }
        tokens.skip_lwsp();
        token = tokens.next()?;
    }
    tm.day = digits(&token, 1, 2)?;
    tm.month = month_number(&tokens.next()?)?;
    tm.year = year(&tokens.next()?)?;
    tm.hour = digits(&tokens.next()?, 1, 2)?;

    // :mm, the separator being ':' or '.'
    if !tokens.take_time_separator() {
        return None;
    }
    tokens.skip_lwsp();
    tm.minute = digits(&tokens.next_or_empty()?, 2, 2)?;
    if tokens.take_time_separator() {
        tokens.skip_lwsp();
        tm.second = digits(&tokens.next()?, 2, 2)?;
    }

    let zone = tokens.next_or_empty()?;
    let tz_offset = if zone.is_empty() {
        0
    } else {
        zone_offset(&zone)
    };
    let timestamp = tm.to_unix()? - i64::from(tz_offset) * 60;
    Some(MessageDate {
        timestamp,
        tz_offset,
    })
}

/// Atoms of a date, read with the RFC 822 tokenizer.
struct Tokens<'a> {
    parser: Rfc822Parser<'a>,
}

impl<'a> Tokens<'a> {
    fn new(value: &'a [u8]) -> Self {
        Tokens {
            parser: Rfc822Parser::new(value),
        }
    }

    fn skip_lwsp(&mut self) {
        // A broken comment ends the input for the next token anyway.
        let _ = self.parser.skip_lwsp();
    }

    /// The next atom, `Some(empty)` at the end, `None` on anything else
    /// (Dovecot's `next_token()` returning 0 or -1).
    fn next_or_empty(&mut self) -> Option<Vec<u8>> {
        let mut atom = Vec::new();
        if self.parser.at_end() {
            return Some(atom);
        }
        let next: Result<Next, _> = self.parser.parse_atom(&mut atom);
        next.ok().map(|_| atom)
    }

    /// The next atom; `None` at the end too.
    fn next(&mut self) -> Option<Vec<u8>> {
        self.next_or_empty().filter(|atom| !atom.is_empty())
    }

    fn take(&mut self, c: u8) -> bool {
        let found = self.parser.peek() == Some(c);
        if found {
            self.parser.advance(1);
        }
        found
    }

    fn take_time_separator(&mut self) -> bool {
        self.take(b':') || self.take(b'.')
    }
}

/// A number of `min..=max` ASCII digits.
fn digits(token: &[u8], min: usize, max: usize) -> Option<u32> {
    if token.len() < min || token.len() > max || !token.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(token.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// The month of a token whose first three letters name one.
fn month_number(token: &[u8]) -> Option<u32> {
    let prefix = token.get(..3)?;
    MONTHS
        .iter()
        .position(|m| m.as_bytes().eq_ignore_ascii_case(prefix))
        .map(|i| i as u32)
}

/// A four-digit year from 1900, or a two-digit one (00-69 are 20xx).
fn year(token: &[u8]) -> Option<i64> {
    if token.len() != 2 && token.len() != 4 {
        return None;
    }
    let year = i64::from(digits(token, 2, 4)?);
    match token.len() {
        2 if year < 70 => Some(2000 + year),
        2 => Some(1900 + year),
        _ => (year >= 1900).then_some(year),
    }
}

/// Minutes east of UTC for a zone token (`parse_timezone()`); unknown
/// zones are 0.
fn zone_offset(zone: &[u8]) -> i32 {
    match zone {
        [sign @ (b'+' | b'-'), rest @ ..] if rest.len() == 4 => {
            let Some(hhmm) = digits(rest, 4, 4) else {
                return 0;
            };
            let minutes = (hhmm / 100 * 60 + hhmm % 100) as i32;
            if *sign == b'+' { minutes } else { -minutes }
        }
        [letter] => military_zone(*letter),
        [u, t] if u.eq_ignore_ascii_case(&b'U') && t.eq_ignore_ascii_case(&b'T') => 0,
        [first, second, b'T'] => north_american_zone(*first, *second),
        _ => 0,
    }
}

/// RFC 822's military zones with the signs corrected, computed the way
/// Dovecot does: the letter is uppercased for the comparisons (as a
/// signed C char) but not for the arithmetic.
fn military_zone(letter: u8) -> i32 {
    let upper = letter.to_ascii_uppercase() as i8 as i32;
    let raw = i32::from(letter);
    if upper < i32::from(b'J') {
        (raw - i32::from(b'A') + 1) * 60
    } else if upper == i32::from(b'J') {
        0
    } else if upper <= i32::from(b'M') {
        (raw - i32::from(b'A')) * 60
    } else if upper < i32::from(b'Z') {
        (i32::from(b'M') - raw) * 60
    } else {
        0
    }
}

/// EST, EDT, CST, CDT, MST, MDT, PST, PDT; GMT and the rest are 0.
fn north_american_zone(first: u8, second: u8) -> i32 {
    let standard = match first.to_ascii_uppercase() {
        b'E' => -5 * 60,
        b'C' => -6 * 60,
        b'M' => -7 * 60,
        b'P' => -8 * 60,
        _ => return 0,
    };
    match second.to_ascii_uppercase() {
        b'D' => standard + 60,
        b'S' => standard,
        _ => 0,
    }
}

/// An RFC 5322 date for `timestamp` shown in a zone `tz_offset` minutes
/// east of UTC (`message_date_create()`, which uses the local zone).
pub fn create(timestamp: i64, tz_offset: i32) -> String {
    let tm = CivilTime::from_unix(timestamp + i64::from(tz_offset) * 60);
    let sign = if tz_offset < 0 { '-' } else { '+' };
    let offset = tz_offset.unsigned_abs();
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        WEEKDAYS[tm.weekday()],
        tm.day,
        MONTHS[tm.month as usize],
        tm.year,
        tm.hour,
        tm.minute,
        tm.second,
        offset / 60,
        offset % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(value: &str) -> Option<(i64, i32)> {
        parse(value.as_bytes()).map(|d| (d.timestamp, d.tz_offset))
    }

    #[test]
    fn rfc5322_appendix_a_dates() {
        // RFC 5322 A.1.1, A.1.2 and A.3 examples.
        assert_eq!(
            parsed("Fri, 21 Nov 1997 09:55:06 -0600"),
            Some((880127706, -360))
        );
        assert_eq!(
            parsed("Tue, 1 Jul 2003 10:52:37 +0200"),
            Some((1057049557, 120))
        );
        assert_eq!(
            parsed(
                "Thu,\r\n  13\r\n    Feb\r\n      1969\r\n  23:32\r\n   -0330 (Newfoundland Time)"
            ),
            Some((-27723480, -210))
        );
    }

    #[test]
    fn rfc5322_obsolete_forms() {
        // RFC 5322 A.6.2: two-digit years, obsolete zones, comments.
        assert_eq!(parsed("21 Nov 97 09:55:06 GMT"), Some((880106106, 0)));
        assert_eq!(
            parsed("Fri, 21 Nov 1997 09:55:06 EST"),
            Some((880124106, -300))
        );
        assert_eq!(
            parsed("Fri, 21 Nov 1997 09:55:06 PDT"),
            Some((880131306, -420))
        );
        assert_eq!(parsed("1 Jan 69 00:00 UT"), Some((3124224000, 0)));
        assert_eq!(parsed("1 Jan 70 00:00"), Some((0, 0)));
    }

    #[test]
    fn military_zones_as_dovecot_computes_them() {
        assert_eq!(zone_offset(b"A"), 60);
        assert_eq!(zone_offset(b"M"), 12 * 60);
        assert_eq!(zone_offset(b"N"), -60);
        assert_eq!(zone_offset(b"Y"), -12 * 60);
        assert_eq!(zone_offset(b"Z"), 0);
        // Dovecot does arithmetic on the original lowercase letter.
        assert_eq!(zone_offset(b"a"), 33 * 60);
    }

    #[test]
    fn invalid_dates_fail() {
        for bad in [
            "",
            "Fri 21 Nov 1997 09:55:06",
            "31 Feb 2000 00:00",
            "21 Nov 1899 09:55",
            "21 Nox 1997 09:55",
            "21 Nov 1997 24:00",
            "21 Nov 1997 09",
            "21 Nov 1997 09:5",
        ] {
            assert_eq!(parsed(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn lenient_forms() {
        assert_eq!(parsed("21 november 1997 9.55 +0000"), Some((880106100, 0)));
        // Leap second 60 counts as 59.
        assert_eq!(parsed("31 Dec 1998 23:59:60 +0000"), Some((915148799, 0)));
        // Unknown zones are UTC.
        assert_eq!(parsed("21 Nov 1997 09:55:06 XYZ"), Some((880106106, 0)));
    }

    #[test]
    fn the_index_keeps_32_bits() {
        let before_epoch = parse(b"31 Dec 1969 23:00:00 +0000").unwrap();
        assert_eq!(before_epoch.index_time(), (-3600i64) as u32);
    }

    #[test]
    fn create_writes_rfc5322() {
        assert_eq!(create(880127706, -360), "Fri, 21 Nov 1997 09:55:06 -0600");
        assert_eq!(create(0, 0), "Thu, 01 Jan 1970 00:00:00 +0000");
    }

    #[test]
    fn civil_round_trip() {
        for t in [-86400 * 365 * 300, -1, 0, 951782400, 4102444800] {
            assert_eq!(CivilTime::from_unix(t).to_unix().unwrap_or(-1), t);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail(
            value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)
        ) {
            if let Some(date) = parse(&value) {
                proptest::prop_assert!(date.tz_offset.abs() <= 99 * 60 + 99 + 60 * 200);
            }
        }

        #[test]
        fn created_dates_parse_back(t in -2_208_988_800i64..253_402_300_799, tz in -720i32..840) {
            let date = parse(create(t, tz).as_bytes());
            proptest::prop_assert_eq!(date, Some(MessageDate { timestamp: t, tz_offset: tz }));
        }
    }
}
