//! [`TimestampMs`], the one time type of the store.

use std::fmt;
use std::time::Duration;

/// Milliseconds in one hour, the width of a storage partition.
pub const HOUR_MS: i64 = 3_600_000;

/// A point in time: milliseconds since the Unix epoch, UTC.
///
/// The store uses it for slot start times and for "now" in retention; it never reads the
/// system clock itself, so callers (and tests) decide what time it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TimestampMs(pub i64);

impl TimestampMs {
    /// The earliest representable time.
    pub const MIN: TimestampMs = TimestampMs(i64::MIN);
    /// The latest representable time.
    pub const MAX: TimestampMs = TimestampMs(i64::MAX);

    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// The start of the UTC hour containing `self` (the storage partition of a slot).
    ///
    /// Rounds towards negative infinity, so times before 1970 fall into the hour that holds
    /// them; in the first partial hour of the `i64` range it saturates at [`TimestampMs::MIN`],
    /// which keeps the mapping monotonic.
    pub const fn hour_start(self) -> TimestampMs {
        TimestampMs(self.0.saturating_sub(self.0.rem_euclid(HOUR_MS)))
    }

    /// `self + d`, saturating at [`TimestampMs::MAX`].
    pub fn saturating_add(self, d: Duration) -> TimestampMs {
        TimestampMs(self.0.saturating_add(duration_ms(d)))
    }

    /// `self - d`, saturating at [`TimestampMs::MIN`].
    pub fn saturating_sub(self, d: Duration) -> TimestampMs {
        TimestampMs(self.0.saturating_sub(duration_ms(d)))
    }
}

/// `d` in whole milliseconds, saturating at `i64::MAX`.
fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl From<i64> for TimestampMs {
    fn from(ms: i64) -> Self {
        TimestampMs(ms)
    }
}

impl From<TimestampMs> for i64 {
    fn from(t: TimestampMs) -> Self {
        t.0
    }
}

impl fmt::Display for TimestampMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_start_rounds_down() {
        assert_eq!(TimestampMs(0).hour_start(), TimestampMs(0));
        assert_eq!(TimestampMs(HOUR_MS - 1).hour_start(), TimestampMs(0));
        assert_eq!(TimestampMs(HOUR_MS).hour_start(), TimestampMs(HOUR_MS));
        assert_eq!(TimestampMs(-1).hour_start(), TimestampMs(-HOUR_MS));
        assert_eq!(TimestampMs::MIN.hour_start(), TimestampMs::MIN);
        let max_start = TimestampMs::MAX.hour_start();
        assert!(max_start <= TimestampMs::MAX && TimestampMs::MAX.0 - max_start.0 < HOUR_MS);
    }

    #[test]
    fn saturating_arithmetic() {
        let d = Duration::from_secs(2);
        assert_eq!(TimestampMs(10).saturating_add(d), TimestampMs(2010));
        assert_eq!(TimestampMs(10).saturating_sub(d), TimestampMs(-1990));
        assert_eq!(TimestampMs::MIN.saturating_sub(d), TimestampMs::MIN);
        assert_eq!(TimestampMs(0).saturating_add(Duration::MAX), TimestampMs::MAX);
    }
}
