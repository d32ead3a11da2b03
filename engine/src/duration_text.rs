//! Durations written the way admins write them: `6h`, `90s`, `1d12h`, `30m`, `500ms`, `250us`, or a bare
//! number of seconds.

use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// Each unit's suffix and length in microseconds, largest first: the order a duration writes them in.
const UNITS: [(&str, u64); 6] =
    [("d", 86_400_000_000), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1_000), ("us", 1)];

/// Parses `1d2h3m4s5ms6us`-style text (any subset, in that order) or plain seconds.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let err = || format!("`{text}` is not a duration like 6h, 30m, 90s, 1d12h, 500ms or 250us");
    let (mut total, mut rest, mut next_unit) = (0u64, t, 0);
    while !rest.is_empty() {
        let (num, after) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len()));
        let (suffix, after) = after.split_at(after.find(|c: char| c.is_ascii_digit()).unwrap_or(after.len()));
        // Each unit once, larger before smaller.
        let i = next_unit + UNITS[next_unit..].iter().position(|(s, _)| *s == suffix).ok_or_else(err)?;
        let n: u64 = num.parse().map_err(|_| err())?;
        total = n.checked_mul(UNITS[i].1).and_then(|v| total.checked_add(v)).ok_or_else(err)?;
        (rest, next_unit) = (after, i + 1);
    }
    if next_unit == 0 {
        return Err(err());
    }
    Ok(Duration::from_micros(total))
}

/// The shortest text that [`parse`] reads back to the same whole microseconds.
pub fn format(d: Duration) -> String {
    let mut us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    if us == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (suffix, unit) in UNITS {
        if us >= unit {
            out.push_str(&format!("{}{suffix}", us / unit));
            us %= unit;
        }
    }
    out
}

pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Secs(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => parse(&t).map_err(serde::de::Error::custom),
    }
}

/// The same, for `Option<Duration>` fields.
pub mod option {
    use super::*;
    use serde::Serialize;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        d.map(format).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_admin_style_durations() {
        assert_eq!(parse("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse("1d12h"), Ok(Duration::from_secs(36 * 3600)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("2m30s"), Ok(Duration::from_secs(150)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1m1ms"), Ok(Duration::from_millis(60_001)));
        assert_eq!(parse("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse("1ms500us"), Ok(Duration::from_micros(1_500)));
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "h",
            "6x",
            "30s1m",
            "1h1h",
            "-5s",
            "99999999999999999999d",
            "5ms1s",
            "5mss",
            "5us1ms",
            "5u",
            "5usms",
            "1m30",
            "1h 30m",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn format_round_trips() {
        for s in [0, 1, 59, 60, 3600, 21_600, 86_400 + 61] {
            let d = Duration::from_secs(s);
            assert_eq!(parse(&format(d)), Ok(d));
        }
        assert_eq!(format(Duration::from_millis(1_500)), "1s500ms");
        assert_eq!(parse("1s500ms"), Ok(Duration::from_millis(1_500)));
        assert_eq!(format(Duration::from_secs(21_600)), "6h");
        assert_eq!(format(Duration::from_micros(250)), "250us");
        assert_eq!(parse(&format(Duration::from_micros(1_000_250))), Ok(Duration::from_micros(1_000_250)));
    }
}
