//! The `From ` separator lines of mbox files (lib-mail's `mbox-from.c`).
//!
//! [`parse`] reads what follows `From ` on such a line: the envelope
//! sender and an asctime()-style date, with the variants Dovecot copes
//! with (zone before or after the year, named zones, no seconds, no
//! zone, and the "Thu, 9 Nov 2002 22:33:52" form). [`create`] writes the
//! line Dovecot writes.
//!
//! A line without a numeric zone is in the local time of whoever wrote
//! it; we return its calendar time and let the caller pick the zone,
//! where Dovecot calls `mktime()`.
//!
//! Dovecot reads the minutes of a numeric zone as seconds
//! (`+0130` is 3630 seconds east, reported as a 60-minute offset). We do
//! the same, on purpose: mbox received dates must match what Dovecot put
//! in the index for the same mailbox.

use super::message_date::CivilTime;

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Why a From_ line was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid mbox From_ line at offset {offset}: {reason}")]
pub struct MboxFromError {
    pub offset: usize,
    pub reason: &'static str,
}

/// When the message was received, as the line says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MboxTime {
    /// The line had a numeric zone.
    Zoned { timestamp: i64, tz_offset: i32 },
    /// No zone: a calendar time in the writer's local zone.
    Local(CivilTime),
}

/// A parsed From_ line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MboxFrom {
    pub sender: Vec<u8>,
    pub time: MboxTime,
}

/// A cursor that reads NUL past the end, as Dovecot reads the
/// terminating NUL of its buffer.
struct Line<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Line<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(self.pos + i).copied().unwrap_or(0)
    }

    fn digit(&self, i: usize) -> Option<u32> {
        let c = self.at(i);
        c.is_ascii_digit().then(|| u32::from(c - b'0'))
    }

    fn two_digits(&self, i: usize) -> Option<u32> {
        Some(self.digit(i)? * 10 + self.digit(i + 1)?)
    }

    fn fail<T>(&self, reason: &'static str) -> Result<T, MboxFromError> {
        Err(MboxFromError {
            offset: self.pos,
            reason,
        })
    }
}

/// Parse the part of a From_ line after `From ` (`mbox_from_parse()`).
pub fn parse(line: &[u8]) -> Result<MboxFrom, MboxFromError> {
    let mut l = Line { data: line, pos: 0 };
    let sender_end = skip_sender(&mut l)?;
    while l.at(0) == b' ' && l.pos < line.len() {
        l.pos += 1;
    }
    // asctime() is 24 bytes; seconds and zone may be missing.
    if l.pos + 29 - 3 - 5 > line.len() {
        return l.fail("date too short");
    }

    let mut tm = CivilTime::default();
    l.pos += 4; // weekday
    let alt_stamp = match month(&l) {
        Some(m) => {
            tm.month = m;
            l.pos += 4;
            tm.day = asctime_day(&mut l)?;
            false
        }
        None => {
            alt_date(&mut l, &mut tm)?;
            true
        }
    };
    if tm.day == 0 {
        tm.day = 1;
    }
    time_of_day(&mut l, &mut tm, alt_stamp)?;
    let zone = zone_and_year(&mut l, &mut tm, alt_stamp)?;

    let time = match zone {
        Some(secs) => {
            let Some(t) = tm.to_unix() else {
                return l.fail("invalid date");
            };
            MboxTime::Zoned {
                timestamp: t - i64::from(secs),
                tz_offset: secs / 60,
            }
        }
        None => MboxTime::Local(tm),
    };
    Ok(MboxFrom {
        sender: line[..sender_end].to_vec(),
        time,
    })
}

/// Skip the sender (a leading quoted part may contain spaces); returns
/// where it ends.
fn skip_sender(l: &mut Line<'_>) -> Result<usize, MboxFromError> {
    let len = l.data.len();
    if l.at(0) == b'"' {
        let mut escaped = false;
        l.pos += 1;
        while l.pos < len && (l.at(0) != b'"' || escaped) {
            if matches!(l.at(0), b'\r' | b'\n') {
                return l.fail("line break in sender");
            }
            escaped = l.at(0) == b'\\';
            l.pos += 1;
        }
        l.pos += 1;
    }
    while l.pos < len && l.at(0) != b' ' {
        if matches!(l.at(0), b'\r' | b'\n') {
            return l.fail("line break in sender");
        }
        l.pos += 1;
    }
    l.pos = l.pos.min(len);
    Ok(l.pos)
}

/// A month name followed by a space ("???" counts as January).
fn month(l: &Line<'_>) -> Option<u32> {
    let name = [l.at(0), l.at(1), l.at(2)];
    let found = MONTHS
        .iter()
        .position(|m| m.as_bytes().eq_ignore_ascii_case(&name))
        .or((&name == b"???").then_some(0))?;
    (l.at(3) == b' ').then_some(found as u32)
}

/// asctime()'s day: " 9" or "09" or "9", then a space.
fn asctime_day(l: &mut Line<'_>) -> Result<u32, MboxFromError> {
    if l.at(0) == b' ' {
        l.pos += 1;
    }
    if l.at(1) == b' ' {
        let Some(day) = l.digit(0) else {
            return l.fail("day expected");
        };
        l.pos += 2;
        return Ok(day);
    }
    match l.two_digits(0) {
        Some(day) if l.at(2) == b' ' => {
            l.pos += 3;
            Ok(day)
        }
        _ => l.fail("day expected"),
    }
}

/// The "Thu, 9 Nov 2002" form: the cursor is one byte before the day.
fn alt_date(l: &mut Line<'_>, tm: &mut CivilTime) -> Result<(), MboxFromError> {
    l.pos += 1;
    let Some(mut day) = l.digit(0) else {
        return l.fail("month or day expected");
    };
    l.pos += 1;
    if let Some(d) = l.digit(0) {
        day = day * 10 + d;
        l.pos += 1;
    }
    if l.at(0) != b' ' {
        return l.fail("space after day expected");
    }
    l.pos += 1;
    let Some(m) = month(l) else {
        return l.fail("month expected");
    };
    l.pos += 4;
    tm.year = year(l)?;
    l.pos += 5;
    tm.day = day;
    tm.month = m;
    Ok(())
}

fn year(l: &Line<'_>) -> Result<i64, MboxFromError> {
    match (l.two_digits(0), l.two_digits(2)) {
        (Some(high), Some(low)) => Ok(i64::from(high * 100 + low)),
        _ => l.fail("year expected"),
    }
}

/// hh:mm[:ss] and the space after it (none in the alternative form).
fn time_of_day(l: &mut Line<'_>, tm: &mut CivilTime, alt: bool) -> Result<(), MboxFromError> {
    match l.two_digits(0) {
        Some(hour) if l.at(2) == b':' => tm.hour = hour,
        _ => return l.fail("hour expected"),
    }
    l.pos += 3;
    let Some(minute) = l.two_digits(0) else {
        return l.fail("minute expected");
    };
    tm.minute = minute;
    l.pos += 2;

    if l.at(0) == b':' {
        l.pos += 1;
        let Some(second) = l.two_digits(0) else {
            return l.fail("second expected");
        };
        tm.second = second;
        l.pos += 2;
    }
    if !alt {
        if l.at(0) != b' ' {
            return l.fail("space after time expected");
        }
        l.pos += 1;
    }
    Ok(())
}

/// The year (asctime form) and a numeric zone after it. A zone before
/// the year is skipped like a named one: Dovecot's branch for a numeric
/// zone there is never reached, so such a line is in local time.
fn zone_and_year(
    l: &mut Line<'_>,
    tm: &mut CivilTime,
    alt: bool,
) -> Result<Option<i32>, MboxFromError> {
    if !alt {
        if !(0..4).all(|i| l.digit(i).is_some()) {
            skip_named_zone(l)?;
        }
        tm.year = year(l)?;
        l.pos += 4;
    }
    if l.pos < l.data.len() && l.at(0) == b' ' {
        return Ok(numeric_zone(l, 1));
    }
    Ok(None)
}

/// `+hhmm` at `at`, in seconds east of UTC, with Dovecot's arithmetic
/// (see the module documentation).
fn numeric_zone(l: &Line<'_>, at: usize) -> Option<i32> {
    let sign = l.at(at);
    if sign != b'+' && sign != b'-' {
        return None;
    }
    let digits: Vec<i32> = (1..5)
        .map(|i| l.digit(at + i).map(|d| d as i32))
        .collect::<Option<_>>()?;
    let secs = digits[0] * 36000 + digits[1] * 3600 + digits[2] * 10 + digits[3];
    Some(if sign == b'-' { -secs } else { secs })
}

/// Skip a named zone up to the next space.
fn skip_named_zone(l: &mut Line<'_>) -> Result<(), MboxFromError> {
    let len = l.data.len();
    while l.pos < len && l.at(0) != b' ' {
        if matches!(l.at(0), b'\r' | b'\n') {
            return l.fail("line break in zone");
        }
        l.pos += 1;
    }
    if l.pos + 5 > len {
        return l.fail("year expected after zone");
    }
    l.pos += 1;
    Ok(())
}

/// The From_ line Dovecot writes, newline included (`mbox_from_create()`),
/// the time shown `tz_offset` minutes east of UTC (Dovecot: local time).
pub fn create(sender: &str, timestamp: i64, tz_offset: i32) -> String {
    let tm = CivilTime::from_unix(timestamp + i64::from(tz_offset) * 60);
    format!(
        "From {sender}  {} {} {:02} {:02}:{:02}:{:02} {:04}\n",
        WEEKDAYS[tm.weekday()],
        MONTHS[tm.month as usize],
        tm.day,
        tm.hour,
        tm.minute,
        tm.second,
        tm.year
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zoned(line: &str) -> (Vec<u8>, i64, i32) {
        let from = parse(line.as_bytes()).expect("valid From_ line");
        match from.time {
            MboxTime::Zoned {
                timestamp,
                tz_offset,
            } => (from.sender, timestamp, tz_offset),
            MboxTime::Local(tm) => panic!("no zone found: {tm:?}"),
        }
    }

    #[test]
    fn asctime_with_zone_after_the_year() {
        // 2001-11-09 22:33:52 +0300 is 19:33:52 UTC.
        assert_eq!(
            zoned("user@example.com Fri Nov  9 22:33:52 2001 +0300"),
            (b"user@example.com".to_vec(), 1005334432, 180)
        );
    }

    #[test]
    fn zone_before_the_year_is_skipped_and_quoted_sender() {
        let from = parse(b"\"a b\"@example.com Fri Nov  9 22:33:52 -0100 2001").unwrap();
        assert_eq!(from.sender, b"\"a b\"@example.com");
        assert!(matches!(from.time, MboxTime::Local(tm) if tm.hour == 22));
    }

    #[test]
    fn zone_minutes_count_as_seconds_like_dovecot() {
        let (_, t, tz) = zoned("u Fri Nov  9 22:33:52 2001 +0130");
        assert_eq!((t, tz), (1005345232 - 3630, 60));
    }

    #[test]
    fn local_time_without_zone() {
        let from = parse(b"MAILER-DAEMON Thu Nov 29 22:33 2001").unwrap();
        let tm = CivilTime {
            year: 2001,
            month: 10,
            day: 29,
            hour: 22,
            minute: 33,
            second: 0,
        };
        assert_eq!(from.time, MboxTime::Local(tm));
        // A named zone is skipped.
        let from = parse(b"u Thu Nov 29 22:33:00 EET 2001").unwrap();
        assert_eq!(from.time, MboxTime::Local(tm));
    }

    #[test]
    fn alternative_stamp() {
        let from = parse(b"u Sat, 9 Nov 2002 22:33:52 +0000").unwrap();
        assert_eq!(
            from.time,
            MboxTime::Zoned {
                timestamp: 1036881232,
                tz_offset: 0
            }
        );
    }

    #[test]
    fn broken_lines_are_errors() {
        for bad in [
            &b""[..],
            b"user",
            b"u Fri Xyz  9 22:33:52 2001",
            b"u\n Fri Nov  9 22:33:52 2001",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn create_round_trips() {
        let line = create("user@example.com", 1005334432, 0);
        assert_eq!(line, "From user@example.com  Fri Nov 09 19:33:52 2001\n");
        let from = parse(&line.as_bytes()[5..line.len() - 1]).unwrap();
        assert_eq!(from.sender, b"user@example.com");
    }

    proptest::proptest! {
        #[test]
        fn any_line_parses_or_fails(
            line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)
        ) {
            let _ = parse(&line);
        }
    }
}
