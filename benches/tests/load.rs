//! `tarsmon-load` against a live `tarsmon`: short runs (two-way, oneway, TUP, several
//! connections) whose every entry must be counted by querystat; and against the null sink.
//! Timing is never asserted here: figures belong in BENCHMARKS.md.

#![allow(clippy::unwrap_used)]

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The `tarsmon` binary, built by the same `cargo test --workspace` run beside this test.
fn tarsmon_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/load-… → target/<profile>/tarsmon
    let bin = exe.parent().unwrap().parent().unwrap().join("tarsmon");
    assert!(bin.exists(), "{} not built (run the tests with --workspace)", bin.display());
    bin
}

struct Server {
    child: Child,
    registry_port: u16,
    /// `host:port` of the HTTP API, when enabled.
    http: Option<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_tarsmon() -> Server {
    start(false)
}

fn start(http: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut toml = if http {
        String::from("data_dir = \"data\"\n[http]\nlisten = \"127.0.0.1:0\"\n")
    } else {
        String::from("data_dir = \"data\"\n[http]\nenabled = false\n")
    };
    for role in ["registry", "config", "stat", "property", "notify", "log", "querystat", "queryproperty"] {
        toml.push_str(&format!("[adapters.{role}]\nendpoint = \"tcp -h 127.0.0.1 -p 0 -t 60000\"\n"));
    }
    std::fs::write(dir.path().join("tarsmon.toml"), toml).unwrap();
    let mut child = Command::new(tarsmon_bin())
        .args(["serve", "--config", "tarsmon.toml"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut registry_port = None;
    let mut http_addr = None;
    let mut seen = 0;
    while seen < 8 + usize::from(http) {
        let line = lines.next().expect("tarsmon printed its endpoints").unwrap();
        seen += 1;
        if line.starts_with("listening tars.tarsregistry.QueryObj ") {
            registry_port =
                line.split_whitespace().skip_while(|w| *w != "-p").nth(1).map(|p| p.parse().unwrap());
        }
        if let Some(addr) = line.strip_prefix("listening http http://") {
            http_addr = Some(addr.trim().to_owned());
        }
    }
    // Keep draining stdout so tarsmon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, registry_port: registry_port.unwrap(), http: http_addr, _dir: dir }
}

fn load(server: &Server, extra: &[&str]) -> (bool, String) {
    load_kind(server, "stat", extra)
}

fn load_kind(server: &Server, kind: &str, extra: &[&str]) -> (bool, String) {
    let locator = format!("tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p {}", server.registry_port);
    let http = server.http.clone().unwrap_or_else(|| "127.0.0.1:9".into());
    let out = Command::new(env!("CARGO_BIN_EXE_tarsmon-load"))
        .args([kind, "--locator", &locator, "--keys", "3000", "--duration", "2s", "--http", &http])
        .args(["--server-pid", &server.child.id().to_string()])
        .args(extra)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn json_line(text: &str) -> serde_json::Value {
    serde_json::from_str(text.lines().rev().find(|l| l.starts_with('{')).unwrap()).unwrap()
}

#[test]
fn every_entry_sent_is_counted_by_querystat() {
    let server = start_tarsmon();
    for extra in [
        &[][..],
        &["--connections", "4", "--in-flight", "4"][..],
        &["--oneway", "--connections", "2"][..],
        &["--tup", "--max-requests", "100"][..],
        &["--rate", "20000", "--entries", "5"][..],
    ] {
        let (ok, text) = load(&server, extra);
        assert!(ok, "{extra:?}:\n{text}");
        let v = json_line(&text);
        assert_eq!(v["ok"], true, "{text}");
        assert!(v["entries_sent"].as_u64().unwrap() > 0, "{text}");
        assert_eq!(v["counted"].as_f64(), v["entries_acked"].as_f64(), "{text}");
        assert!(text.contains("server CPU"), "{text}");
    }
}

#[test]
fn the_sink_answers_every_request() {
    let mut sink = Command::new(env!("CARGO_BIN_EXE_tarsmon-load"))
        .args(["sink", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(sink.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr = first.trim().rsplit(' ').next().unwrap().to_owned();
    let (host, port) = addr.split_once(':').unwrap();
    let target = format!("tars.tarsstat.StatObj@tcp -h {host} -p {port}");
    let out = Command::new(env!("CARGO_BIN_EXE_tarsmon-load"))
        .args(["stat", "--target", &target, "--no-verify", "--duration", "1s", "--connections", "2"])
        .output()
        .unwrap();
    let _ = sink.kill();
    let _ = sink.wait();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let v = json_line(&text);
    assert_eq!(v["ok"], true, "{text}");
    assert_eq!(v["entries_sent"], v["entries_acked"], "{text}");
}

#[test]
fn property_and_notify_load_is_counted_exactly() {
    let server = start(true);
    for (kind, extra) in [
        ("property", &[][..]),
        ("property", &["--oneway", "--connections", "2"][..]),
        ("notify", &["--tup", "--max-requests", "300"][..]),
        ("stat", &["--query-load", "2"][..]),
    ] {
        let (ok, text) = load_kind(&server, kind, extra);
        assert!(ok, "{kind} {extra:?}:\n{text}");
        let v = json_line(&text);
        assert_eq!(v["ok"], true, "{text}");
        assert!(v["entries_sent"].as_u64().unwrap() > 0, "{text}");
        assert_eq!(v["counted"].as_f64(), v["entries_acked"].as_f64(), "{text}");
        if extra.contains(&"--query-load") {
            assert!(text.contains("query load errors: 0"), "{text}");
        }
    }
}
