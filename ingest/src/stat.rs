//! Call statistics: the key and value of one aggregated row of the `stat` table, and their
//! Arrow schema.

mod batch;
mod packed;

use std::hash::{Hash, Hasher};

use hashbrown::Equivalent;

pub use batch::{INTERVAL_COLUMNS, StatBatchBuilder, read_stat_batch, stat_schema};
pub use packed::PackedStatKey;

/// Upper bounds (ms) of the nine latency buckets every TARS client reports.
pub const LATENCY_BOUNDS: [i32; 9] = [5, 10, 50, 100, 200, 500, 1000, 2000, 3000];

/// Which side of a call reported it (`bFromClient`). Client and server views of the same call
/// are kept apart so they are never summed by accident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The caller reported it (`bFromClient = true`).
    Client,
    /// The callee reported it (`bFromClient = false`).
    Server,
}

impl Source {
    /// The value of the `source` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Client => "client",
            Source::Server => "server",
        }
    }

    /// Parses the `source` column.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client" => Some(Source::Client),
            "server" => Some(Source::Server),
            _ => None,
        }
    }
}

/// The identity of an aggregated stat row within a slot (owned).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatKey {
    /// Who reported.
    pub source: Source,
    /// Caller module (`App.Server`), without the `@version` suffix.
    pub master_name: String,
    /// Callee module.
    pub slave_name: String,
    /// Called function.
    pub interface_name: String,
    /// Caller IP (or node name).
    pub master_ip: String,
    /// Callee IP.
    pub slave_ip: String,
    /// Callee port.
    pub slave_port: i32,
    /// Return value.
    pub return_value: i32,
    /// Caller TARS version (split off `masterName@version`).
    pub tars_version: String,
    /// Callee set name.
    pub slave_set_name: String,
    /// Callee set area.
    pub slave_set_area: String,
    /// Callee set group id.
    pub slave_set_id: String,
}

/// A borrowed [`StatKey`], used to find a row without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // the fields mirror StatKey's
pub struct StatKeyRef<'a> {
    pub source: Source,
    pub master_name: &'a str,
    pub slave_name: &'a str,
    pub interface_name: &'a str,
    pub master_ip: &'a str,
    pub slave_ip: &'a str,
    pub slave_port: i32,
    pub return_value: i32,
    pub tars_version: &'a str,
    pub slave_set_name: &'a str,
    pub slave_set_area: &'a str,
    pub slave_set_id: &'a str,
}

macro_rules! hash_key {
    ($k:expr, $state:expr) => {{
        $k.source.hash($state);
        $k.master_name.hash($state);
        $k.slave_name.hash($state);
        $k.interface_name.hash($state);
        $k.master_ip.hash($state);
        $k.slave_ip.hash($state);
        $k.slave_port.hash($state);
        $k.return_value.hash($state);
        $k.tars_version.hash($state);
        $k.slave_set_name.hash($state);
        $k.slave_set_area.hash($state);
        $k.slave_set_id.hash($state);
    }};
}

// StatKey and StatKeyRef must hash identically (`String` hashes as `str`), so a lookup by
// reference finds the owned key.
impl Hash for StatKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_key!(self, state);
    }
}

impl Hash for StatKeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_key!(self, state);
    }
}

impl Equivalent<StatKey> for StatKeyRef<'_> {
    fn equivalent(&self, k: &StatKey) -> bool {
        self.slave_port == k.slave_port
            && self.return_value == k.return_value
            && self.source == k.source
            && self.interface_name == k.interface_name
            && self.master_name == k.master_name
            && self.slave_name == k.slave_name
            && self.master_ip == k.master_ip
            && self.slave_ip == k.slave_ip
            && self.tars_version == k.tars_version
            && self.slave_set_name == k.slave_set_name
            && self.slave_set_area == k.slave_set_area
            && self.slave_set_id == k.slave_set_id
    }
}

impl From<&StatKeyRef<'_>> for StatKey {
    fn from(k: &StatKeyRef<'_>) -> Self {
        StatKey {
            source: k.source,
            master_name: k.master_name.to_owned(),
            slave_name: k.slave_name.to_owned(),
            interface_name: k.interface_name.to_owned(),
            master_ip: k.master_ip.to_owned(),
            slave_ip: k.slave_ip.to_owned(),
            slave_port: k.slave_port,
            return_value: k.return_value,
            tars_version: k.tars_version.to_owned(),
            slave_set_name: k.slave_set_name.to_owned(),
            slave_set_area: k.slave_set_area.to_owned(),
            slave_set_id: k.slave_set_id.to_owned(),
        }
    }
}

impl StatKey {
    /// Borrows the key.
    pub fn as_ref(&self) -> StatKeyRef<'_> {
        StatKeyRef {
            source: self.source,
            master_name: &self.master_name,
            slave_name: &self.slave_name,
            interface_name: &self.interface_name,
            master_ip: &self.master_ip,
            slave_ip: &self.slave_ip,
            slave_port: self.slave_port,
            return_value: self.return_value,
            tars_version: &self.tars_version,
            slave_set_name: &self.slave_set_name,
            slave_set_area: &self.slave_set_area,
            slave_set_id: &self.slave_set_id,
        }
    }
}

/// The figures of one stat row: additive counts, latency extremes and the latency histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatValue {
    /// Successful calls.
    pub succ_count: i64,
    /// Timed-out calls.
    pub timeout_count: i64,
    /// Failed calls.
    pub exce_count: i64,
    /// Sum of the latencies (ms) of successful calls.
    pub total_time: i64,
    /// Largest latency (ms).
    pub max_rsp_time: i64,
    /// Smallest non-zero latency (ms); 0 when no reporter gave one (Node clients always send 0).
    pub min_rsp_time: i64,
    /// Calls per latency bucket, bounds in [`LATENCY_BOUNDS`].
    pub intervals: [i64; 9],
}

impl StatValue {
    /// Whether nothing happened (TARS drops such bodies).
    pub fn is_empty(&self) -> bool {
        self.succ_count == 0 && self.timeout_count == 0 && self.exce_count == 0
    }

    /// Adds `count` calls to the bucket whose upper bound is `bound` ms. A non-standard bound
    /// is counted in the first standard bucket at or above it (the last one past 3000 ms), so
    /// no reported call is lost.
    pub fn add_interval(&mut self, bound: i32, count: i64) {
        let i = LATENCY_BOUNDS.iter().position(|&b| b >= bound).unwrap_or(LATENCY_BOUNDS.len() - 1);
        self.intervals[i] += count;
    }

    /// Merges `other` into `self`: counts add, max is the larger, min the smaller non-zero.
    pub fn merge(&mut self, other: &StatValue) {
        self.succ_count += other.succ_count;
        self.timeout_count += other.timeout_count;
        self.exce_count += other.exce_count;
        self.total_time += other.total_time;
        self.max_rsp_time = self.max_rsp_time.max(other.max_rsp_time);
        self.min_rsp_time = match (self.min_rsp_time, other.min_rsp_time) {
            (0, m) | (m, 0) => m,
            (a, b) => a.min(b),
        };
        for (a, b) in self.intervals.iter_mut().zip(other.intervals) {
            *a += b;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn borrowed_and_owned_keys_hash_and_compare_alike() {
        let r = StatKeyRef {
            source: Source::Client,
            master_name: "A.B",
            slave_name: "C.D",
            interface_name: "f",
            master_ip: "1.1.1.1",
            slave_ip: "2.2.2.2",
            slave_port: 1,
            return_value: 0,
            tars_version: "3.0",
            slave_set_name: "",
            slave_set_area: "",
            slave_set_id: "",
        };
        let k = StatKey::from(&r);
        let s = hashbrown::DefaultHashBuilder::default();
        assert_eq!(s.hash_one(r), s.hash_one(&k));
        assert!(r.equivalent(&k));
        assert_eq!(k.as_ref(), r);
        let other = StatKeyRef { slave_port: 2, ..r };
        assert!(!other.equivalent(&k));
    }

    #[test]
    fn values_merge() {
        let mut a = StatValue {
            succ_count: 2,
            total_time: 10,
            max_rsp_time: 7,
            min_rsp_time: 0,
            ..Default::default()
        };
        a.add_interval(10, 2);
        let mut b = StatValue {
            succ_count: 1,
            exce_count: 1,
            total_time: 3,
            max_rsp_time: 3,
            min_rsp_time: 3,
            ..Default::default()
        };
        b.add_interval(5, 1);
        b.add_interval(7000, 1);
        b.add_interval(7, 1);
        a.merge(&b);
        assert_eq!(
            (a.succ_count, a.exce_count, a.total_time, a.max_rsp_time, a.min_rsp_time),
            (3, 1, 13, 7, 3)
        );
        assert_eq!(a.intervals, [1, 3, 0, 0, 0, 0, 0, 0, 1]);
        assert!(StatValue::default().is_empty());
    }
}
