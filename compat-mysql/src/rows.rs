//! Rolling the base slots of one 5-minute interval up into the rows of the classic table.
//!
//! tarsstat keys its rows by the whole report head but the MySQL table by fewer columns
//! (`source_id`, label, names, IPs, port, return value, version): no `source`, no slave set
//! fields. Rows that collide on the table's key are merged here (counts and times added, max of
//! max, min of non-zero min), so `INSERT IGNORE` never has to drop one of them — the original
//! keeps the first and loses the others (spec §6.4).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use arrow::record_batch::RecordBatch;
use tarsmon_ingest::stat::{LATENCY_BOUNDS, StatKey, StatValue, read_stat_batch};
use tarsmon_ingest::time::TimestampMs;
use tarsmon_ingest::{StatTable, TableKind};

use crate::error::{Error, Result};

/// The key columns of one row of a `tars_stat_YYYYMMDDHH` table, without `source_id` and the
/// label (both the same for a whole interval), already cut to the columns' widths.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RowKey {
    pub(crate) master_name: String,
    pub(crate) slave_name: String,
    pub(crate) interface_name: String,
    pub(crate) tars_version: String,
    pub(crate) master_ip: String,
    pub(crate) slave_ip: String,
    pub(crate) slave_port: i32,
    pub(crate) return_value: i32,
}

/// Column widths (characters) of the key columns, from the DDL.
const NAME_WIDTH: usize = 128;
const VERSION_WIDTH: usize = 16;
const MASTER_IP_WIDTH: usize = 15;
const SLAVE_IP_WIDTH: usize = 21;

impl RowKey {
    fn of(k: &StatKey) -> Self {
        Self {
            master_name: fit(&k.master_name, NAME_WIDTH),
            slave_name: fit(&k.slave_name, NAME_WIDTH),
            interface_name: fit(&k.interface_name, NAME_WIDTH),
            tars_version: fit(&k.tars_version, VERSION_WIDTH),
            master_ip: fit(&k.master_ip, MASTER_IP_WIDTH),
            slave_ip: fit(&k.slave_ip, SLAVE_IP_WIDTH),
            slave_port: k.slave_port,
            return_value: k.return_value,
        }
    }

    /// The key as the table's collation (`utf8_general_ci`, PAD SPACE) compares it, for ASCII:
    /// letter case and trailing spaces do not count. Two keys equal here collide on the
    /// primary key.
    fn collated(&self) -> Self {
        let c = |s: &str| s.trim_end_matches(' ').to_ascii_lowercase();
        Self {
            master_name: c(&self.master_name),
            slave_name: c(&self.slave_name),
            interface_name: c(&self.interface_name),
            tars_version: c(&self.tars_version),
            master_ip: c(&self.master_ip),
            slave_ip: c(&self.slave_ip),
            slave_port: self.slave_port,
            return_value: self.return_value,
        }
    }

    /// A stable hash of the collated key (FNV-1a, 64 bit): which stat database the row goes
    /// to. Stable across runs and versions, so a retried interval writes every row to the
    /// same database as before.
    pub(crate) fn shard(&self, shards: usize) -> usize {
        let k = self.collated();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            // A separator, so ("ab", "c") and ("a", "bc") differ.
            h ^= 0xff;
            h = h.wrapping_mul(0x0100_0000_01b3);
        };
        for s in
            [&k.master_name, &k.slave_name, &k.interface_name, &k.tars_version, &k.master_ip, &k.slave_ip]
        {
            eat(s.as_bytes());
        }
        eat(&k.slave_port.to_le_bytes());
        eat(&k.return_value.to_le_bytes());
        // `shards` is small (a few databases), so the modulo of a u64 fits a usize.
        (h % shards.max(1) as u64) as usize
    }
}

/// `s` as the column stores it: at most `width` characters, and characters outside the Basic
/// Multilingual Plane (which MySQL's 3-byte `utf8` cannot hold) replaced by `?`, so that what
/// is merged here is exactly what MySQL compares.
pub(crate) fn fit(s: &str, width: usize) -> String {
    s.chars().map(|c| if u32::from(c) > 0xFFFF { '?' } else { c }).take(width).collect()
}

/// One 5-minute row of the classic table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatRow {
    pub(crate) key: RowKey,
    pub(crate) value: StatValue,
}

impl StatRow {
    /// `interv_count`: `"5|n,10|n,…,3000|n"`.
    pub(crate) fn interv_count(&self) -> String {
        let mut s = String::with_capacity(64);
        for (i, (bound, n)) in LATENCY_BOUNDS.iter().zip(self.value.intervals).enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&format!("{bound}|{n}"));
        }
        s
    }

    /// `ave_time` as tarsstat computes it: `total_time / succ_count` as an integer, at least
    /// 1 when there were successful calls, 0 when there were none.
    pub(crate) fn ave_time(&self) -> i64 {
        let v = &self.value;
        if v.succ_count > 0 { (v.total_time / v.succ_count).max(1) } else { 0 }
    }
}

/// Rolls the batches of one interval (every base slot in `[interval, interval + 5 min)`) up
/// into its table rows, in first-seen order.
pub(crate) fn rollup(interval: TimestampMs, batches: &[RecordBatch]) -> Result<Vec<StatRow>> {
    let mut rows: Vec<StatRow> = Vec::new();
    let mut index: HashMap<RowKey, usize> = HashMap::new();
    for batch in batches {
        let decoded = read_stat_batch(batch).map_err(|source| Error::Batch {
            table: StatTable::NAME,
            interval,
            source,
        })?;
        for (_, key, value) in decoded {
            let key = RowKey::of(&key);
            match index.entry(key.collated()) {
                Entry::Occupied(e) => rows[*e.get()].value.merge(&value),
                Entry::Vacant(e) => {
                    e.insert(rows.len());
                    rows.push(StatRow { key, value });
                }
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tarsmon_ingest::stat::{Source, StatBatchBuilder};

    use super::*;

    fn key(interface: &str, source: Source, set: &str) -> StatKey {
        StatKey {
            source,
            master_name: "App.Caller".into(),
            slave_name: "App.Callee".into(),
            interface_name: interface.into(),
            master_ip: "10.0.0.1".into(),
            slave_ip: "10.0.0.2".into(),
            slave_port: 10000,
            return_value: 0,
            tars_version: "3.0.0".into(),
            slave_set_name: set.into(),
            slave_set_area: String::new(),
            slave_set_id: String::new(),
        }
    }

    fn value(succ: i64, total: i64, max: i64, min: i64) -> StatValue {
        let mut v = StatValue {
            succ_count: succ,
            total_time: total,
            max_rsp_time: max,
            min_rsp_time: min,
            ..Default::default()
        };
        v.add_interval(10, succ);
        v
    }

    #[test]
    fn merges_slots_and_keys_that_collide_on_the_table_key() {
        let t = TimestampMs(1_700_000_100_000);
        let mut a = StatBatchBuilder::with_capacity(3);
        a.append(t, &key("get", Source::Client, ""), &value(2, 10, 7, 3));
        a.append(t, &key("put", Source::Client, ""), &value(1, 1, 1, 1));
        let mut b = StatBatchBuilder::with_capacity(2);
        // Another slot, another source and another set: all the same table row.
        b.append(TimestampMs(t.0 + 60_000), &key("get", Source::Server, "s1"), &value(3, 20, 9, 0));
        // Differs only in case: the same row for MySQL's collation.
        b.append(TimestampMs(t.0 + 60_000), &key("GET ", Source::Client, ""), &value(1, 2, 2, 2));
        let rows = rollup(t, &[a.finish(), b.finish()]).unwrap();
        assert_eq!(rows.len(), 2);
        let get = &rows[0];
        assert_eq!(get.key.interface_name, "get");
        assert_eq!(
            (get.value.succ_count, get.value.total_time, get.value.max_rsp_time, get.value.min_rsp_time),
            (6, 32, 9, 2)
        );
        assert_eq!(get.interv_count(), "5|0,10|6,50|0,100|0,200|0,500|0,1000|0,2000|0,3000|0");
        assert_eq!(get.ave_time(), 5);
        assert_eq!(rows[1].ave_time(), 1);
    }

    #[test]
    fn ave_time_is_at_least_one_with_successes() {
        let row = |succ, total| StatRow {
            key: RowKey::of(&key("f", Source::Client, "")),
            value: value(succ, total, 0, 0),
        };
        assert_eq!(row(3, 1).ave_time(), 1);
        assert_eq!(row(0, 0).ave_time(), 0);
        assert_eq!(row(4, 10).ave_time(), 2);
    }

    #[test]
    fn keys_are_cut_to_the_column_widths() {
        let mut k = key("f", Source::Client, "");
        k.master_ip = "2001:db8:0:0:0:0:0:1".into();
        k.interface_name = "😀x".into();
        let r = RowKey::of(&k);
        assert_eq!(r.master_ip, "2001:db8:0:0:0:");
        assert_eq!(r.interface_name, "?x");
    }

    #[test]
    fn shards_are_stable_and_spread() {
        let k = RowKey::of(&key("f", Source::Client, ""));
        assert_eq!(k.shard(3), k.shard(3));
        assert_eq!(k.shard(1), 0);
        let mut seen = [0; 3];
        for i in 0..300 {
            seen[RowKey::of(&key(&format!("f{i}"), Source::Client, "")).shard(3)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
    }
}
