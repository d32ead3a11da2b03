//! Durations written the way admins write them: `6h`, `90s`, `1d12h`, `30m`, `500ms`, `250us`, or a bare
//! number of seconds.

use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// Parses `1d2h3m4s5ms6us`-style text (any subset, in that order) or plain seconds.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let err = || format!("`{text}` is not a duration like 6h, 30m, 90s, 1d12h, 500ms or 250us");
    // In microseconds.
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut last_rank = 0;
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let (rank, unit) = match c {
            'd' => (1, 86_400_000_000),
            'h' => (2, 3_600_000_000),
            'm' if chars.next_if_eq(&'s').is_some() => (5, 1_000),
            'm' => (3, 60_000_000),
            's' => (4, 1_000_000),
            'u' if chars.next_if_eq(&'s').is_some() => (6, 1),
            _ => return Err(err()),
        };
        if num.is_empty() || rank <= last_rank {
            return Err(err());
        }
        let n: u64 = num.parse().map_err(|_| err())?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(err)?;
        num.clear();
        last_rank = rank;
    }
    if !num.is_empty() || last_rank == 0 {
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
    let units =
        [(86_400_000_000, "d"), (3_600_000_000, "h"), (60_000_000, "m"), (1_000_000, "s"), (1_000, "ms"), (1, "us")];
    for (unit, suffix) in units {
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
        for bad in
            ["", "h", "6x", "30s1m", "1h1h", "-5s", "99999999999999999999d", "5ms1s", "5mss", "5us1ms", "5u", "5usms"]
        {
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
