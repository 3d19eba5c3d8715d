//! A store whose process is killed with SIGKILL keeps every write that returned `Ok`.
//!
//! The test re-runs its own binary as a child that writes and then waits; the parent kills it
//! with SIGKILL (no destructors, no flush) and reopens the store.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::Int64Array;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use tarsmon_engine::{Store, StoreConfig, TimestampMs};

/// Tells the child test which directory to write to.
const DIR_ENV: &str = "TARSMON_ENGINE_KILL9_DIR";
/// Printed by the child once every write has returned.
const WRITTEN: &str = "tarsmon-engine-kill9: written";
const SLOTS: i64 = 50;

fn batch(id: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![id]))]).unwrap()
}

#[test]
#[ignore = "helper: started as a child process by kill_9_loses_no_acknowledged_write"]
fn child_writes_then_waits_to_be_killed() {
    let dir = std::env::var(DIR_ENV).expect("only run by kill_9_loses_no_acknowledged_write");
    let store = Store::open(std::path::Path::new(&dir), StoreConfig::default()).unwrap();
    for slot in 0..SLOTS {
        store.write_slot("stat", TimestampMs(slot * 60_000), &batch(slot)).unwrap();
    }
    store.put_checkpoint("stat", TimestampMs(SLOTS * 60_000), &batch(-1)).unwrap();
    store.put_meta("cursor", b"done").unwrap();
    println!("{WRITTEN}");
    // Wait to be killed; give up after a minute if the parent is gone.
    std::thread::sleep(Duration::from_secs(60));
    panic!("not killed");
}

#[test]
fn kill_9_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_writes_then_waits_to_be_killed", "--nocapture"])
        .env(DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let written = BufReader::new(stdout).lines().map_while(Result::ok).any(|line| line.trim() == WRITTEN);
    // `Child::kill` sends SIGKILL on Unix. It only fails if the child is already gone, which
    // the `written` check below reports better.
    let _ = child.kill();
    child.wait().unwrap();
    assert!(written, "the child did not finish writing");

    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let batches = store.scan("stat", TimestampMs::MIN, TimestampMs::MAX).unwrap();
    assert_eq!(batches, (0..SLOTS).map(batch).collect::<Vec<_>>());
    assert_eq!(store.checkpoint("stat").unwrap(), Some((TimestampMs(SLOTS * 60_000), batch(-1))));
    assert_eq!(store.meta("cursor").unwrap().as_deref(), Some(&b"done"[..]));
}
