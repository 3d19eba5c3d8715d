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

/// What key `k` reports in the slot numbered `s` (any counter of slots), drawn from a
/// pseudo-random number of `(k, s)` so that stored values have the spread of real ones (a
/// storage figure over values that repeat from slot to slot would flatter any compressor):
/// a key's call rate (1–400 per slot) varies ±50 % from slot to slot, its typical latency
/// (2–200 ms) spreads the calls over the latency buckets, and now and then a call times out or
/// fails.
pub fn stat_value(k: usize, s: i64) -> StatValue {
    let r = splitmix64((k as u64).wrapping_mul(0x9E37_79B9).wrapping_add(s as u64));
    let bits = |shift: u32, modulo: u64| ((r >> shift) % modulo) as i64;
    let rate = 1 + (k as i64 * 37) % 400;
    let succ = (rate / 2 + bits(0, rate as u64 + 1)).max(1);
    let typical = 2 + (k as i64 * 13) % 199;
    let mut v = StatValue {
        succ_count: succ,
        timeout_count: if bits(17, 40) == 0 { 1 + bits(23, 3) } else { 0 },
        exce_count: if bits(27, 25) == 0 { 1 + bits(31, 4) } else { 0 },
        ..StatValue::default()
    };
    // Most calls near the typical latency, a tenth slower, one in fifty much slower.
    let slow = succ / 10 + bits(35, 3).min(succ);
    let slower = (succ / 50).min(succ - slow);
    let fast = succ - slow - slower;
    let latency = |factor: i64, spread: i64| (typical * factor + bits(41, spread as u64 + 1)).max(1);
    let (l_fast, l_slow, l_slower) =
        (latency(1, typical / 4 + 1), latency(2, typical), latency(8, typical * 4));
    let mut max_ms = 0;
    let mut min_ms = i64::MAX;
    for (n, ms) in [(fast, l_fast), (slow, l_slow), (slower, l_slower)] {
        if n > 0 {
            v.add_interval(i32::try_from(ms).unwrap_or(i32::MAX), n);
            v.total_time += n * ms;
            max_ms = max_ms.max(ms + bits(47, 5));
            min_ms = min_ms.min(ms.saturating_sub(bits(52, 3)).max(1));
        }
    }
    v.max_rsp_time = max_ms;
    v.min_rsp_time = if min_ms == i64::MAX { 0 } else { min_ms };
    v
}

/// SplitMix64: a well-mixed 64-bit number from a counter.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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
