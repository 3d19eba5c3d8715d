//! CPU time of a process, from `/proc/PID/stat` (Linux), to report CPU-seconds per million
//! entries for the server under load.

use std::time::Duration;

/// User + system CPU time that process `pid` (or this process, for `None`) has used so far;
/// `None` where `/proc` cannot be read.
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = pid.map_or_else(|| "/proc/self/stat".to_owned(), |p| format!("/proc/{p}/stat"));
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces, so split after its last ')'):
    // state is field 3; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / clock_ticks() as f64))
}

/// `sysconf(_SC_CLK_TCK)`, which is 100 on every Linux this runs on; asked of `getconf` once.
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_time_is_readable_and_grows() {
        let a = cpu_time(None).expect("linux /proc");
        // Burn CPU until the clock-tick-grained counter moves (or give up after 10 s of wall
        // time): the loop must not be optimised away, and one tick may be 10 ms or more.
        let start = std::time::Instant::now();
        let mut b = a;
        let mut x = 0u64;
        while b <= a && start.elapsed() < std::time::Duration::from_secs(10) {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            b = cpu_time(None).expect("linux /proc");
        }
        assert!(b > a, "{a:?} then {b:?}");
    }
}
