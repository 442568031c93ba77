//! Release times as Helm stores them.
//!
//! Helm writes Go `time.Time` values as RFC 3339 with nanoseconds (`time.RFC3339Nano`, trailing zeros
//! of the fraction trimmed, `Z` for a zero offset) and keeps the writer's UTC offset. The zero time is
//! written three ways depending on the Helm version: Helm 3 writes `""`, Helm 4 omits the key
//! (`omitzero`), and a `null` may appear from other writers. [`Time`] keeps which form it was read in
//! so that decode → encode gives back the same JSON; new values use Helm 3's `""`.

use std::fmt;

use jiff::{Timestamp, tz::Offset};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::golang::time::{format_rfc3339_nano, parse_rfc3339_nano};

/// How a zero time was (or will be) written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ZeroForm {
    /// `""` — what Helm 3 writes (and what we write for new records).
    #[default]
    EmptyString,
    /// `null`.
    Null,
    /// The key is left out — what Helm 4 writes.
    Absent,
}

/// A Helm time: either the zero time (in one of its written forms) or an instant with the UTC offset
/// it was written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Time {
    /// Go's zero `time.Time`.
    Zero(ZeroForm),
    /// An instant; `offset` is the writer's UTC offset (Go keeps it, so do we).
    At { instant: Timestamp, offset: Offset },
}

impl Default for Time {
    /// The zero time in Helm 3's form (`""`).
    fn default() -> Self {
        Time::Zero(ZeroForm::EmptyString)
    }
}

impl Time {
    /// The zero time written as `""` (Helm 3 style).
    pub const ZERO: Time = Time::Zero(ZeroForm::EmptyString);

    /// The zero time that is left out of the JSON (used as serde default for missing keys).
    pub fn absent() -> Time {
        Time::Zero(ZeroForm::Absent)
    }

    /// An instant in UTC (written with `Z`).
    pub fn utc(instant: Timestamp) -> Time {
        Time::At { instant, offset: Offset::UTC }
    }

    /// The current time in UTC.
    pub fn now() -> Time {
        Time::utc(Timestamp::now())
    }

    /// From Unix seconds and nanoseconds (a Helm 2 `Timestamp`), in UTC. Out-of-range values give `None`.
    pub fn from_unix(seconds: i64, nanos: i32) -> Option<Time> {
        Timestamp::new(seconds, nanos).ok().map(Time::utc)
    }

    /// True for the zero time in any form, and for Go's zero instant `0001-01-01T00:00:00Z`
    /// (which is how Go writes a zero `time.Time` that is not Helm's own time type, e.g. `lock.generated`).
    pub fn is_zero(&self) -> bool {
        match self {
            Time::Zero(_) => true,
            Time::At { instant, .. } => *instant == go_zero_instant(),
        }
    }

    /// True only when the key is to be left out of the JSON.
    pub fn is_absent(&self) -> bool {
        matches!(self, Time::Zero(ZeroForm::Absent))
    }

    /// The instant, unless this is a zero form.
    pub fn instant(&self) -> Option<Timestamp> {
        match self {
            Time::Zero(_) => None,
            Time::At { instant, .. } => Some(*instant),
        }
    }

    /// Unix seconds, unless this is a zero form.
    pub fn unix_seconds(&self) -> Option<i64> {
        self.instant().map(|t| t.as_second())
    }

    /// Parses Go's RFC 3339 text (as `time.Time.UnmarshalJSON` accepts it). `""` is the zero time.
    pub fn parse(text: &str) -> Result<Time, TimeParseError> {
        if text.is_empty() {
            return Ok(Time::Zero(ZeroForm::EmptyString));
        }
        parse_rfc3339_nano(text).map(|(instant, offset)| Time::At { instant, offset }).ok_or_else(|| TimeParseError(text.to_owned()))
    }

    /// Formats as Go's `time.RFC3339Nano`; zero forms give `None`.
    pub fn to_rfc3339(&self) -> Option<String> {
        match self {
            Time::Zero(_) => None,
            Time::At { instant, offset } => Some(format_rfc3339_nano(*instant, *offset)),
        }
    }
}

fn go_zero_instant() -> Timestamp {
    // 0001-01-01T00:00:00Z
    Timestamp::new(-62_135_596_800, 0).expect("in range")
}

/// A time string that is not RFC 3339.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeParseError(pub String);

impl fmt::Display for TimeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parsing time {:?} as RFC 3339", self.0)
    }
}

impl std::error::Error for TimeParseError {}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_rfc3339() {
            Some(s) => f.write_str(&s),
            None => Ok(()),
        }
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Time::Zero(ZeroForm::Null) => serializer.serialize_none(),
            // `Absent` is normally skipped by `skip_serializing_if`; if it is not, write Helm 3's form.
            Time::Zero(_) => serializer.serialize_str(""),
            Time::At { instant, offset } => serializer.serialize_str(&format_rfc3339_nano(*instant, *offset)),
        }
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Time;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time string, \"\" or null")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Time, E> {
                Time::parse(v).map_err(E::custom)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Time, E> {
                Ok(Time::Zero(ZeroForm::Null))
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Time, E> {
                Ok(Time::Zero(ZeroForm::Null))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_go_forms() {
        for s in [
            "2026-11-21T22:34:57.991997216Z",
            "2026-11-21T22:34:58.39788433Z",
            "2020-05-14T10:13:58.930268-06:00",
            "2020-05-14T10:13:58+05:30",
            "0001-01-01T00:00:00Z",
        ] {
            let t = Time::parse(s).unwrap();
            assert_eq!(t.to_rfc3339().unwrap(), s);
        }
        assert!(Time::parse("0001-01-01T00:00:00Z").unwrap().is_zero());
        assert_eq!(Time::parse("").unwrap(), Time::ZERO);
        assert!(Time::parse("2020-13-01T00:00:00Z").is_err());
        assert!(Time::parse("yesterday").is_err());
    }

    #[test]
    fn zero_forms_serialize_as_read() {
        let t: Time = serde_json::from_str("null").unwrap();
        assert_eq!(t, Time::Zero(ZeroForm::Null));
        assert_eq!(serde_json::to_string(&t).unwrap(), "null");
        let t: Time = serde_json::from_str("\"\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"\"");
        assert_eq!(serde_json::to_string(&Time::default()).unwrap(), "\"\"");
    }

    #[test]
    fn unix() {
        let t = Time::from_unix(1_580_000_000, 5).unwrap();
        assert_eq!(t.to_rfc3339().unwrap(), "2020-01-26T00:53:20.000000005Z");
        assert_eq!(t.unix_seconds(), Some(1_580_000_000));
    }
}
