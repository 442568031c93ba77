//! Go's `time.Time` as Helm parses and prints it. Helm is written in Go: its release times are RFC 3339
//! strings in storage, `time.Time.String()` in `helm list`, `time.ANSIC` in `helm history`, and any Go
//! layout with `--time-format`. This module reproduces those forms exactly: [`GoTime`] for printing,
//! [`parse_rfc3339_nano`]/[`format_rfc3339_nano`] for the stored form.

use std::fmt::Write as _;

use jiff::{Timestamp, civil::DateTime, tz::Offset};

/// A wall-clock time with the UTC offset it was written with (Go keeps the offset when parsing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoTime {
    /// Seconds since the Unix epoch, UTC.
    pub unix: i64,
    pub nanos: u32,
    /// Offset east of UTC in seconds; `None` means UTC written as `Z`.
    pub offset: Option<i32>,
}

const MONTHS: [&str; 12] =
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Broken-down local time.
#[derive(Debug, Clone, Copy)]
struct Civil {
    year: i64,
    month: u32, // 1..=12
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    weekday: usize, // 0 = Sunday
    yday: u32,      // 1..=366
}

// Days from 1970-01-01 to the given civil date (proleptic Gregorian), after H. Hinnant's method.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

impl GoTime {
    /// Go's zero time (`0001-01-01T00:00:00Z`), which Helm treats as "not set".
    pub const ZERO_UNIX: i64 = -62135596800;

    pub fn is_go_zero(&self) -> bool {
        self.unix == Self::ZERO_UNIX && self.nanos == 0
    }

    /// Parse RFC 3339 as Go's `time.Parse(time.RFC3339Nano, s)` accepts it.
    pub fn parse_rfc3339(s: &str) -> Option<GoTime> {
        let b = s.as_bytes();
        let num = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = b.get(range)?;
            if part.iter().all(u8::is_ascii_digit) { std::str::from_utf8(part).ok()?.parse().ok() } else { None }
        };
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't') || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let year = num(0..4)? as i64;
        let month = num(5..7)?;
        let day = num(8..10)?;
        let hour = num(11..13)?;
        let minute = num(14..16)?;
        let second = num(17..19)?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut i = 19;
        let mut nanos = 0u32;
        if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &s[start..i];
            if digits.is_empty() || digits.len() > 9 {
                return None;
            }
            nanos = digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32);
        }
        let offset = match b.get(i)? {
            b'Z' | b'z' if i + 1 == b.len() => None,
            sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
                let h = num(i + 1..i + 3)? as i32;
                let m = num(i + 4..i + 6)? as i32;
                if h > 23 || m > 59 {
                    return None;
                }
                let secs = h * 3600 + m * 60;
                Some(if *sign == b'-' { -secs } else { secs })
            }
            _ => return None,
        };
        let local = days_from_civil(year, month, day) * 86400 + (hour * 3600 + minute * 60 + second) as i64;
        Some(GoTime { unix: local - offset.unwrap_or(0) as i64, nanos, offset })
    }

    fn offset_secs(&self) -> i32 {
        self.offset.unwrap_or(0)
    }

    fn civil(&self) -> Civil {
        let local = self.unix + self.offset_secs() as i64;
        let days = local.div_euclid(86400);
        let secs = local.rem_euclid(86400) as u32;
        let (year, month, day) = civil_from_days(days);
        let weekday = (days + 4).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
        let yday = (days - days_from_civil(year, 1, 1) + 1) as u32;
        Civil { year, month, day, hour: secs / 3600, minute: secs / 60 % 60, second: secs % 60, weekday, yday }
    }

    /// The zone abbreviation Go prints for `MST`: `UTC` for UTC, otherwise the numeric offset (a time
    /// parsed from RFC 3339 with an offset carries a zone without a name).
    fn zone_name(&self) -> String {
        match self.offset {
            None => "UTC".into(),
            Some(_) => format_offset(self.offset_secs(), false, false),
        }
    }

    /// `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
    pub fn to_go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// `time.ANSIC`, which `helm history` prints: `Mon Jan _2 15:04:05 2006`.
    pub fn to_ansic(&self) -> String {
        self.format("Mon Jan _2 15:04:05 2006")
    }

    /// RFC 3339 with nanoseconds as Go's JSON encoding writes it (trailing zeros trimmed).
    pub fn to_rfc3339_nano(&self) -> String {
        self.format("2006-01-02T15:04:05.999999999Z07:00")
    }

    /// Format with a Go layout string (the reference time is Mon Jan 2 15:04:05 MST 2006).
    pub fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::with_capacity(layout.len() + 10);
        let mut rest = layout;
        while !rest.is_empty() {
            let (token, len) = next_token(rest);
            match token {
                Token::Literal => out.push_str(&rest[..len]),
                Token::LongMonth => out.push_str(MONTHS[c.month as usize - 1]),
                Token::Month => out.push_str(&MONTHS[c.month as usize - 1][..3]),
                Token::NumMonth => write!(out, "{}", c.month).unwrap(),
                Token::ZeroMonth => write!(out, "{:02}", c.month).unwrap(),
                Token::LongWeekDay => out.push_str(DAYS[c.weekday]),
                Token::WeekDay => out.push_str(&DAYS[c.weekday][..3]),
                Token::Day => write!(out, "{}", c.day).unwrap(),
                Token::UnderDay => write!(out, "{:>2}", c.day).unwrap(),
                Token::ZeroDay => write!(out, "{:02}", c.day).unwrap(),
                Token::UnderYearDay => write!(out, "{:>3}", c.yday).unwrap(),
                Token::ZeroYearDay => write!(out, "{:03}", c.yday).unwrap(),
                Token::Hour => write!(out, "{:02}", c.hour).unwrap(),
                Token::Hour12 => write!(out, "{}", if c.hour.is_multiple_of(12) { 12 } else { c.hour % 12 }).unwrap(),
                Token::ZeroHour12 => write!(out, "{:02}", if c.hour.is_multiple_of(12) { 12 } else { c.hour % 12 }).unwrap(),
                Token::Minute => write!(out, "{}", c.minute).unwrap(),
                Token::ZeroMinute => write!(out, "{:02}", c.minute).unwrap(),
                Token::Second => write!(out, "{}", c.second).unwrap(),
                Token::ZeroSecond => write!(out, "{:02}", c.second).unwrap(),
                Token::LongYear => {
                    if (0..10000).contains(&c.year) {
                        write!(out, "{:04}", c.year).unwrap()
                    } else {
                        write!(out, "{}", c.year).unwrap()
                    }
                }
                Token::Year => write!(out, "{:02}", c.year.rem_euclid(100)).unwrap(),
                Token::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
                Token::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
                Token::TZ => out.push_str(&self.zone_name()),
                Token::NumTZ { colon, seconds, short, iso } => {
                    if iso && self.offset_secs() == 0 {
                        out.push('Z');
                    } else if short {
                        let off = self.offset_secs();
                        write!(out, "{}{:02}", if off < 0 { '-' } else { '+' }, off.abs() / 3600).unwrap();
                    } else {
                        out.push_str(&format_offset(self.offset_secs(), colon, seconds));
                    }
                }
                Token::Frac { digits, trim } => {
                    let frac = format!("{:09}", self.nanos);
                    let mut f = &frac[..digits];
                    if trim {
                        f = f.trim_end_matches('0');
                        if !f.is_empty() {
                            out.push_str(&rest[..1]);
                            out.push_str(f);
                        }
                    } else {
                        out.push_str(&rest[..1]);
                        out.push_str(f);
                    }
                }
            }
            rest = &rest[len..];
        }
        out
    }
}

fn format_offset(off: i32, colon: bool, seconds: bool) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    match (colon, seconds) {
        (true, true) => format!("{sign}{h:02}:{m:02}:{s:02}"),
        (true, false) => format!("{sign}{h:02}:{m:02}"),
        (false, true) => format!("{sign}{h:02}{m:02}{s:02}"),
        (false, false) => format!("{sign}{h:02}{m:02}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal,
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TZ,
    NumTZ { colon: bool, seconds: bool, short: bool, iso: bool },
    Frac { digits: usize, trim: bool },
}

/// The next layout element and its byte length, following Go's `nextStdChunk`.
fn next_token(s: &str) -> (Token, usize) {
    // Go reads `_2006` as a literal underscore followed by the year.
    if s.starts_with("_2006") {
        return (Token::Literal, 1);
    }
    let table: &[(&str, Token)] = &[
        ("January", Token::LongMonth),
        ("Jan", Token::Month),
        ("Monday", Token::LongWeekDay),
        ("Mon", Token::WeekDay),
        ("MST", Token::TZ),
        ("01", Token::ZeroMonth),
        ("02", Token::ZeroDay),
        ("03", Token::ZeroHour12),
        ("04", Token::ZeroMinute),
        ("05", Token::ZeroSecond),
        ("06", Token::Year),
        ("002", Token::ZeroYearDay),
        ("2006", Token::LongYear),
        ("15", Token::Hour),
        ("PM", Token::PM),
        ("pm", Token::Pm),
        ("Z070000", Token::NumTZ { colon: false, seconds: true, short: false, iso: true }),
        ("Z07:00:00", Token::NumTZ { colon: true, seconds: true, short: false, iso: true }),
        ("Z0700", Token::NumTZ { colon: false, seconds: false, short: false, iso: true }),
        ("Z07:00", Token::NumTZ { colon: true, seconds: false, short: false, iso: true }),
        ("Z07", Token::NumTZ { colon: false, seconds: false, short: true, iso: true }),
        ("-070000", Token::NumTZ { colon: false, seconds: true, short: false, iso: false }),
        ("-07:00:00", Token::NumTZ { colon: true, seconds: true, short: false, iso: false }),
        ("-0700", Token::NumTZ { colon: false, seconds: false, short: false, iso: false }),
        ("-07:00", Token::NumTZ { colon: true, seconds: false, short: false, iso: false }),
        ("-07", Token::NumTZ { colon: false, seconds: false, short: true, iso: false }),
        ("__2", Token::UnderYearDay),
        ("_2", Token::UnderDay),
    ];
    // Longest match first among tokens starting here; Go checks specific prefixes in a fixed order,
    // which amounts to the same for these tokens.
    let mut best: Option<(Token, usize)> = None;
    for (pat, tok) in table {
        if s.starts_with(pat) && best.is_none_or(|(_, l)| pat.len() > l) {
            best = Some((*tok, pat.len()));
        }
    }
    if let Some(found) = best {
        return found;
    }
    let b = s.as_bytes();
    match b[0] {
        b'1' => return (Token::NumMonth, 1),
        b'2' => return (Token::Day, 1),
        b'3' => return (Token::Hour12, 1),
        b'4' => return (Token::Minute, 1),
        b'5' => return (Token::Second, 1),
        b'.' | b',' if b.len() > 1 && (b[1] == b'0' || b[1] == b'9') => {
            let ch = b[1];
            let n = b[1..].iter().take_while(|&&c| c == ch).count();
            // Go only treats it as fractional seconds when not followed by another digit.
            if !b.get(1 + n).is_some_and(u8::is_ascii_digit) {
                return (Token::Frac { digits: n.min(9), trim: ch == b'9' }, 1 + n);
            }
        }
        _ => {}
    }
    // One literal character (whole UTF-8 sequence).
    let len = s.chars().next().map(char::len_utf8).unwrap_or(1);
    (Token::Literal, len)
}

// ---------------------------------------------------------------------------------------------
// RFC 3339 over jiff's types, for release times as Helm stores them (`release::Time`)

fn digits(b: &[u8]) -> Option<i32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i32, |acc, d| acc * 10 + i32::from(d - b'0')))
}

/// Parses Go's RFC 3339 text as `time.Time.UnmarshalJSON` accepts it, into the instant and the offset
/// it was written with (jiff's types, which release times are held in).
pub fn parse_rfc3339_nano(s: &str) -> Option<(Timestamp, Offset)> {
    let b = s.as_bytes();
    // YYYY-MM-DDTHH:MM:SS
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    let mut rest = &b[19..];
    let mut nanos = 0i32;
    if let Some((b'.', frac)) = rest.split_first() {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        nanos = digits(&frac[..n])? * 10i32.pow(9 - n as u32);
        rest = &frac[n..];
    }
    let offset_seconds = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2])?;
            let m = digits(&[*m1, *m2])?;
            if h > 23 || m > 59 {
                return None;
            }
            let v = h * 3600 + m * 60;
            if *sign == b'-' { -v } else { v }
        }
        _ => return None,
    };
    let dt = DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    let offset = Offset::from_seconds(offset_seconds).ok()?;
    let instant = offset.to_timestamp(dt).ok()?;
    Some((instant, offset))
}

/// Formats as Go's `time.RFC3339Nano` (fraction without trailing zeros, `Z` for UTC, offset seconds
/// dropped).
pub fn format_rfc3339_nano(instant: Timestamp, offset: Offset) -> String {
    let dt = offset.to_datetime(instant);
    let mut s = String::with_capacity(35);
    let year = dt.year();
    if year < 0 {
        // Go refuses to marshal these; write something parseable rather than fail.
        let _ = write!(s, "-{:04}", -i32::from(year));
    } else {
        let _ = write!(s, "{year:04}");
    }
    let _ = write!(s, "-{:02}-{:02}T{:02}:{:02}:{:02}", dt.month(), dt.day(), dt.hour(), dt.minute(), dt.second());
    let ns = dt.subsec_nanosecond();
    if ns != 0 {
        let frac = format!("{ns:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    let off = offset.seconds();
    if off == 0 {
        s.push('Z');
    } else {
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.unsigned_abs();
        // Go's "Z07:00" drops offset seconds.
        let _ = write!(s, "{sign}{:02}:{:02}", a / 3600, (a / 60) % 60);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_helm_list_times() {
        // fixtures/helm3: status JSON last_deployed vs. helm list's "updated".
        let t = GoTime::parse_rfc3339("2026-11-21T22:34:46.806313336Z").unwrap();
        assert_eq!(t.to_go_string(), "2026-11-21 22:34:46.806313336 +0000 UTC");
        assert_eq!(t.to_rfc3339_nano(), "2026-11-21T22:34:46.806313336Z");
        let t = GoTime::parse_rfc3339("2026-11-21T22:34:58.39788433Z").unwrap();
        assert_eq!(t.to_go_string(), "2026-11-21 22:34:58.39788433 +0000 UTC");
        let t = GoTime::parse_rfc3339("2026-11-21T22:34:58Z").unwrap();
        assert_eq!(t.to_go_string(), "2026-11-21 22:34:58 +0000 UTC");
        assert_eq!(t.to_ansic(), "Sat Nov 21 22:34:58 2026");
    }

    #[test]
    fn offsets_are_kept() {
        let t = GoTime::parse_rfc3339("2020-03-01T01:02:03.5+05:30").unwrap();
        assert_eq!(t.unix, GoTime::parse_rfc3339("2020-02-29T19:32:03.5Z").unwrap().unix);
        assert_eq!(t.to_go_string(), "2020-03-01 01:02:03.5 +0530 +0530");
        assert_eq!(t.to_rfc3339_nano(), "2020-03-01T01:02:03.5+05:30");
        assert_eq!(t.format(time_layout::KITCHEN), "1:02AM");
        let t = GoTime::parse_rfc3339("2019-12-31T23:00:00-01:00").unwrap();
        assert_eq!(t.format("2006-01-02T15:04:05Z07:00"), "2019-12-31T23:00:00-01:00");
        assert_eq!(t.format("Z0700 -07 Z07"), "-0100 -01 -01");
    }

    mod time_layout {
        pub const KITCHEN: &str = "3:04PM";
    }

    #[test]
    fn go_layouts() {
        let t = GoTime::parse_rfc3339("2006-01-02T15:04:05.123456789Z").unwrap();
        assert_eq!(t.format("2006-01-02 15:04:05Z07:00"), "2006-01-02 15:04:05Z");
        assert_eq!(t.format("Monday, 02-Jan-06 15:04:05 MST"), "Monday, 02-Jan-06 15:04:05 UTC");
        assert_eq!(t.format("Mon Jan _2 15:04:05.000 2006"), "Mon Jan  2 15:04:05.123 2006");
        assert_eq!(t.format("January 2, 2006 3:04:05 pm"), "January 2, 2006 3:04:05 pm");
        assert_eq!(t.format("002 __2 .999 ,000000"), "002   2 .123 ,123456");
        assert_eq!(t.format("literal: x"), "literal: x");
        assert_eq!(t.format("_2006"), "_2006");
        let t = GoTime::parse_rfc3339("2024-12-31T00:00:00Z").unwrap();
        assert_eq!(t.format("002 Jan 06 3PM"), "366 Dec 24 12AM");
    }

    #[test]
    fn zero_and_bad_times() {
        let zero = GoTime::parse_rfc3339("0001-01-01T00:00:00Z").unwrap();
        assert!(zero.is_go_zero());
        for bad in [
            "",
            "2020-13-01T00:00:00Z",
            "2021-02-29T00:00:00Z",
            "2020-01-01 00:00:00Z",
            "2020-01-01T00:00:00",
            "2020-01-01T00:00:00.Z",
            "2020-01-01T00:00:00+0100",
            "2020-01-01T24:00:00Z",
            "x020-01-01T00:00:00Z",
            "2020-01-01T00:00:00Zjunk",
        ] {
            assert!(GoTime::parse_rfc3339(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn civil_round_trip_over_many_days() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
