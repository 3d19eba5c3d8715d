//! `tarsmon-bench` runs end to end at a small size: the storage/query comparison finds the
//! same answers in tarsmon and in MariaDB (it fails otherwise), the export writes every row,
//! and the memory probes run. Figures are printed, never asserted (timings do not belong in
//! tests).

#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;

fn bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tarsmon-bench")).args(args).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "tarsmon-bench {args:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

#[test]
fn day_answers_agree_between_tarsmon_and_mariadb() {
    let out = bench(&["day", "--keys", "60", "--queries", "1", "--slot-secs", "300", "--buffer-pool", "64M"]);
    assert!(out.contains("| page: 2 days by f_tflag"), "{out}");
    // 60 keys, 3 of them on the callee queried: 2 days × 288 intervals of f_tflag groups.
    assert!(out.contains("(576 groups)"), "{out}");
}

#[test]
fn export_writes_every_row_of_the_interval() {
    let out = bench(&["export", "--keys", "2000", "--buffer-pool", "64M"]);
    assert!(out.contains("| 2000 |"), "{out}");
}

#[test]
fn memory_probes_measure_both_holders() {
    let out = bench(&["memory", "--keys", "20000"]);
    assert!(out.contains("tarsmon's stat pipeline") && out.contains("plain HashMap"), "{out}");
}
