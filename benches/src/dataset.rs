//! Synthetic call statistics for the storage, query, export and memory benchmarks: a key
//! space of distinct stat heads shaped like a real fleet (callers, callees, interfaces, IPs),
//! with values that vary by key and slot so sums are not trivially equal.

use tarsmon_engine::Store;
use tarsmon_ingest::StatTable;
use tarsmon_ingest::TableKind;
use tarsmon_ingest::stat::{Source, StatBatchBuilder, StatKey, StatValue};
use tarsmon_ingest::time::TimestampMs;

/// Callees the heads spread over; a TarsWeb page for one callee sees `1 / SERVERS` of them.
pub const SERVERS: usize = 20;

/// The callee name of server `i` (`i < SERVERS`).
pub fn server_name(i: usize) -> String {
    format!("Load.Server{i}")
}

/// The stat head of key `k`: 50 callers, [`SERVERS`] callees, 500 interfaces per callee, one
/// caller IP per key (so every `k` below 2.5 million is distinct).
pub fn stat_key(k: usize) -> StatKey {
    StatKey {
        source: Source::Client,
        master_name: format!("Load.Client{}", k % 50),
        slave_name: server_name(k % SERVERS),
        interface_name: format!("method{}", k / SERVERS % 500),
        master_ip: format!("10.{}.{}.{}", k / 10_000 % 250, k / 100 % 100, k % 100),
        slave_ip: format!("10.255.0.{}", k % SERVERS),
        slave_port: 20_000 + i32::try_from(k % SERVERS).unwrap_or(0),
        return_value: 0,
        tars_version: "3.0.22".to_owned(),
        slave_set_name: String::new(),
        slave_set_area: String::new(),
        slave_set_id: String::new(),
    }
}

/// The keys `0..n`.
pub fn stat_keys(n: usize) -> Vec<StatKey> {
    (0..n).map(stat_key).collect()
}

/// What key `k` reports in the slot numbered `s` (any counter of slots): a few calls, now and
/// then a timeout or a failure, latencies in the `<= 10 ms` or `<= 50 ms` bucket.
pub fn stat_value(k: usize, s: i64) -> StatValue {
    let mix = (k as i64).wrapping_add(s).rem_euclid(1_000_003);
    let succ = 1 + mix % 5;
    let ms = 3 + (k as i64 % 11) * 4;
    let mut v = StatValue {
        succ_count: succ,
        timeout_count: i64::from(mix % 97 == 0),
        exce_count: i64::from(mix % 31 == 0),
        total_time: succ * ms,
        max_rsp_time: ms,
        min_rsp_time: ms,
        ..StatValue::default()
    };
    v.add_interval(if ms <= 10 { 10 } else { 50 }, succ);
    v
}

/// Writes one sealed slot of `table` `stat` per `slot_ms` in `[from, to)`, each holding
/// every key of `keys` (as if every client reported once per slot), straight into `store` as
/// the pipeline seals them. Returns the rows written.
pub fn write_stat_slots(
    store: &Store,
    keys: &[StatKey],
    from: TimestampMs,
    to: TimestampMs,
    slot_ms: i64,
) -> tarsmon_engine::Result<u64> {
    let mut rows = 0;
    let mut slot = from;
    while slot < to {
        let s = slot.0 / slot_ms;
        let mut b = StatBatchBuilder::with_capacity(keys.len());
        for (k, key) in keys.iter().enumerate() {
            b.append(slot, key, &stat_value(k, s));
        }
        store.write_slot_by(StatTable::NAME, slot, &b.finish(), StatTable::SEGMENT_BY)?;
        rows += keys.len() as u64;
        slot = TimestampMs(slot.0 + slot_ms);
    }
    Ok(rows)
}

/// The size of every file under `dir`, recursively.
pub fn dir_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { dir_bytes(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_values_vary() {
        let keys = stat_keys(20_000);
        let set: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(set.len(), keys.len());
        assert_ne!(stat_value(1, 0), stat_value(1, 1));
        assert!(!stat_value(7, 3).is_empty());
    }
}
