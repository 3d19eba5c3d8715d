//! Time: the injectable clock, slot widths, and the TARS `f_date`/`f_tflag` labels.
//!
//! Reports carry no timestamp: a report belongs to the slot in which it is received, by the
//! server's clock. Internally everything is UTC milliseconds ([`TimestampMs`]); the TARS labels
//! are computed for a configured fixed [`UtcOffset`] only at the edges (views, MonitorQuery,
//! the MySQL exporter).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Timelike};
pub use tarsmon_engine::TimestampMs;

use crate::error::{Error, Result};

/// The length of TARS's aggregation interval: 5 minutes.
pub const TARS_INTERVAL_MS: i64 = 300_000;

/// Where "now" comes from. Injected so that tests control time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> TimestampMs;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> TimestampMs {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        TimestampMs(ms)
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: TimestampMs) -> Self {
        Self(AtomicI64::new(t.0))
    }

    /// Sets the time.
    pub fn set(&self, t: TimestampMs) {
        self.0.store(t.0, Ordering::SeqCst);
    }

    /// Moves the time forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> TimestampMs {
        TimestampMs(self.0.load(Ordering::SeqCst))
    }
}

/// The width of a base slot. It divides 5 minutes, so the TARS 5-minute view is an exact
/// roll-up of base slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotWidth(i64);

impl SlotWidth {
    /// The default: 60 s.
    pub const DEFAULT: SlotWidth = SlotWidth(60_000);

    /// Validates `d`: whole seconds, at least 1 s, dividing 300 s.
    pub fn new(d: Duration) -> Result<Self> {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        if ms < 1000 || ms % 1000 != 0 || TARS_INTERVAL_MS % ms != 0 {
            return Err(Error::Config(format!(
                "slot width {d:?} must be whole seconds that divide 300 s (e.g. 10s, 30s, 60s, 300s)"
            )));
        }
        Ok(Self(ms))
    }

    /// Milliseconds per slot.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// The start of the slot containing `t` (`i64::MIN` for the first, partial slot).
    pub fn slot_of(self, t: TimestampMs) -> TimestampMs {
        TimestampMs(t.0.saturating_sub(t.0.rem_euclid(self.0)))
    }

    /// The start of the slot after the one starting at `slot`.
    pub fn next(self, slot: TimestampMs) -> TimestampMs {
        TimestampMs(slot.0 + self.0)
    }
}

impl Default for SlotWidth {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A fixed offset from UTC for the TARS labels, e.g. `+08:00`. Like the original (which
/// captures the offset once at start-up), daylight-saving changes are not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UtcOffset(i32);

impl UtcOffset {
    /// UTC.
    pub const UTC: UtcOffset = UtcOffset(0);

    /// An offset of `seconds` east of UTC; must be a multiple of 5 minutes and within ±18 h,
    /// so that 5-minute intervals line up in local time.
    pub fn from_seconds(seconds: i32) -> Result<Self> {
        if seconds % 300 != 0 || seconds.abs() > 18 * 3600 {
            return Err(Error::Config(format!(
                "UTC offset of {seconds} s must be a multiple of 5 minutes within ±18 h"
            )));
        }
        Ok(Self(seconds))
    }

    /// Seconds east of UTC.
    pub fn seconds(self) -> i32 {
        self.0
    }
}

impl FromStr for UtcOffset {
    type Err = Error;

    /// Parses `UTC`, `Z`, `+08:00`, `-05:30`, `+0800`.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Self::UTC);
        }
        let bad = || Error::Config(format!("bad UTC offset {s:?}: use UTC, +08:00 or -05:30"));
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => return Err(bad()),
        };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let h: i32 = digits[..2].parse().map_err(|_| bad())?;
        let m: i32 = digits[2..].parse().map_err(|_| bad())?;
        if m >= 60 {
            return Err(bad());
        }
        Self::from_seconds(sign * (h * 3600 + m * 60))
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let a = self.0.abs();
        write!(f, "{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
    }
}

/// The labels TARS gives the 5-minute interval containing a time: `f_date` and `f_tflag`.
///
/// `f_tflag` names the interval's *end*, `HH05` … `HH55`, `HH60` (never `HH00`), so the interval
/// [09:55, 10:00) is `0960` and [23:55, 00:00) is `2360` of the earlier day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TarsLabel {
    /// The local date.
    pub date: NaiveDate,
    /// `HHMM`, `0005` … `2360`.
    pub tflag: [u8; 4],
}

impl TarsLabel {
    /// The label of the 5-minute interval containing `t`, in local time at `offset`.
    pub fn of(t: TimestampMs, offset: UtcOffset) -> Self {
        let local_ms = t.0 + i64::from(offset.0) * 1000;
        let end = local_ms.div_euclid(TARS_INTERVAL_MS) * TARS_INTERVAL_MS + TARS_INTERVAL_MS;
        // The end of an interval on the hour is written as minute 60 of the previous hour.
        let on_hour = end.rem_euclid(3_600_000) == 0;
        let shown = if on_hour { end - 60_000 } else { end };
        let dt = DateTime::from_timestamp_millis(shown).unwrap_or_default().naive_utc();
        let minute = if on_hour { 60 } else { dt.minute() };
        let hour = dt.hour();
        let digit = |n: u32| b'0' + (n % 10) as u8;
        Self { date: dt.date(), tflag: [digit(hour / 10), digit(hour), digit(minute / 10), digit(minute)] }
    }

    /// `f_tflag` as text.
    pub fn tflag_str(&self) -> &str {
        // Built from ASCII digits only.
        std::str::from_utf8(&self.tflag).unwrap_or("0000")
    }

    /// `f_date` as `YYYYMMDD`, as MonitorQuery and the table names use it.
    pub fn date_compact(&self) -> String {
        format!("{:04}{:02}{:02}", self.date.year(), self.date.month(), self.date.day())
    }

    /// The hourly MySQL table suffix, `YYYYMMDDHH` (flag `HH60` belongs to hour `HH`).
    pub fn table_suffix(&self) -> String {
        format!("{}{}", self.date_compact(), &self.tflag_str()[..2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> TimestampMs {
        let dt = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        TimestampMs(dt.and_utc().timestamp_millis())
    }

    fn label(s: &str, off: &str) -> (String, String) {
        let l = TarsLabel::of(at(s), off.parse().unwrap());
        (l.date_compact(), l.tflag_str().to_owned())
    }

    #[test]
    fn labels_name_the_end_of_the_interval() {
        assert_eq!(label("2024-01-15 09:00:00", "UTC"), ("20240115".into(), "0905".into()));
        assert_eq!(label("2024-01-15 09:04:59", "UTC"), ("20240115".into(), "0905".into()));
        assert_eq!(label("2024-01-15 09:05:00", "UTC"), ("20240115".into(), "0910".into()));
        assert_eq!(label("2024-01-15 09:55:00", "UTC"), ("20240115".into(), "0960".into()));
        assert_eq!(label("2024-01-15 09:59:59", "UTC"), ("20240115".into(), "0960".into()));
        // Midnight belongs to the previous day.
        assert_eq!(label("2024-01-15 23:57:00", "UTC"), ("20240115".into(), "2360".into()));
        assert_eq!(label("2024-01-16 00:00:00", "UTC"), ("20240116".into(), "0005".into()));
        assert_eq!(TarsLabel::of(at("2024-01-15 09:57:00"), UtcOffset::UTC).table_suffix(), "2024011509");
    }

    #[test]
    fn labels_follow_the_configured_offset() {
        // 01:57 UTC is 09:57 at +08:00; 15:58 UTC is 23:58 local.
        assert_eq!(label("2024-01-15 01:57:00", "+08:00"), ("20240115".into(), "0960".into()));
        assert_eq!(label("2024-01-15 15:58:00", "+08:00"), ("20240115".into(), "2360".into()));
        assert_eq!(label("2024-01-15 16:00:00", "+08:00"), ("20240116".into(), "0005".into()));
        // A half-hour zone: HH60 is written at local HH+1:00, not at UTC hour boundaries.
        assert_eq!(label("2024-01-15 04:25:00", "+05:30"), ("20240115".into(), "0960".into()));
        assert_eq!(label("2024-01-15 04:00:00", "+05:30"), ("20240115".into(), "0935".into()));
        assert_eq!(label("2024-01-15 10:00:00", "-05:00"), ("20240115".into(), "0505".into()));
    }

    #[test]
    fn offsets_parse_and_validate() {
        assert_eq!("+08:00".parse::<UtcOffset>().unwrap().seconds(), 28800);
        assert_eq!("-0530".parse::<UtcOffset>().unwrap().seconds(), -19800);
        assert_eq!("utc".parse::<UtcOffset>().unwrap(), UtcOffset::UTC);
        assert_eq!("+05:45".parse::<UtcOffset>().unwrap().to_string(), "+05:45");
        assert!("+08:07".parse::<UtcOffset>().is_err());
        assert!("8".parse::<UtcOffset>().is_err());
        assert!("+19:00".parse::<UtcOffset>().is_err());
    }

    #[test]
    fn slots_divide_five_minutes() {
        let w = SlotWidth::new(Duration::from_secs(60)).unwrap();
        assert_eq!(w.slot_of(at("2024-01-15 09:07:31")), at("2024-01-15 09:07:00"));
        assert_eq!(w.next(at("2024-01-15 09:07:00")), at("2024-01-15 09:08:00"));
        assert_eq!(w.slot_of(TimestampMs(-1)), TimestampMs(-60_000));
        for ok in [1, 10, 30, 60, 100, 150, 300] {
            assert!(SlotWidth::new(Duration::from_secs(ok)).is_ok(), "{ok}");
        }
        for bad in [0, 7, 90, 600] {
            assert!(SlotWidth::new(Duration::from_secs(bad)).is_err(), "{bad}");
        }
        assert!(SlotWidth::new(Duration::from_millis(1500)).is_err());
    }
}
