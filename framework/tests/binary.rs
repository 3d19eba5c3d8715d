//! The `tarsmon` binary as a user runs it: with no arguments on the standard ports, and with a
//! config file; every role answers `tars_ping` through the embedded registry; SIGTERM stops it.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tarsmon_framework::client::Communicator;
use tarsmon_framework::roles::Role;

const BIN: &str = env!("CARGO_BIN_EXE_tarsmon");

struct Tarsmon {
    child: Child,
    /// `(object, endpoint)` from the `listening …` lines.
    listening: Vec<(String, String)>,
}

impl Drop for Tarsmon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path, args: &[&str]) -> Tarsmon {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tarsmon starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut listening = Vec::new();
    while listening.len() < Role::ALL.len() {
        let line = lines.next().expect("tarsmon printed its endpoints").unwrap();
        let rest = line.strip_prefix("listening ").expect("a listening line");
        let (obj, ep) = rest.split_once(' ').unwrap();
        listening.push((obj.to_owned(), ep.to_owned()));
    }
    // Keep reading: tarsmon prints more (the HTTP line), and must never meet a closed pipe.
    std::thread::spawn(move || for _ in lines {});
    Tarsmon { child, listening }
}

fn sigterm_and_wait(mut t: Tarsmon) -> std::process::ExitStatus {
    // SAFETY-free: `kill` from the shell, to stay within `unsafe_code = "deny"`.
    Command::new("kill").arg("-TERM").arg(t.child.id().to_string()).status().unwrap();
    for _ in 0..100 {
        if let Some(status) = t.child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("tarsmon did not stop within 10 s of SIGTERM");
}

async fn ping_all_through_registry(locator_port: u16) {
    let comm =
        Communicator::with_locator(&format!("tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p {locator_port}"))
            .unwrap()
            .with_timeout(Duration::from_secs(5));
    for role in Role::ALL {
        let prx = comm.proxy(role.object()).await.unwrap();
        let rsp = prx.invoke("tars_ping", Vec::new()).await.unwrap();
        assert_eq!(rsp.ret, 0, "{}", role.object());
    }
    // A role whose service is still to come refuses calls clearly, with -3.
    let log = comm.proxy(Role::Log.object()).await.unwrap();
    let rsp = log.invoke("logger", Vec::new()).await.unwrap();
    assert_eq!(rsp.ret, -3);
    assert!(rsp.desc.contains("not served"), "{}", rsp.desc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_arguments_serves_every_role_on_the_standard_ports() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let t = start(dir, &[]);
    for role in Role::ALL {
        let want = format!("tcp -h 127.0.0.1 -p {} -t 60000", role.default_port());
        assert!(t.listening.contains(&(role.object().to_owned(), want)), "{:?}", t.listening);
    }
    ping_all_through_registry(Role::Registry.default_port()).await;
    assert!(dir.join("tarsmon-data").is_dir());
    assert!(sigterm_and_wait(t).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_ports_and_registry_advertise_what_was_bound() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut toml = String::from(
        "data_dir = \"data\"\n[http]\nlisten = \"127.0.0.1:0\"\n[server]\nidle_timeout = \"5s\"\n",
    );
    for role in Role::ALL {
        toml.push_str(&format!("[adapters.{}]\nendpoint = \"tcp -h 127.0.0.1 -p 0 -t 5000\"\n", role.key()));
    }
    std::fs::write(dir.join("tarsmon.toml"), toml).unwrap();
    let t = start(dir, &["serve", "--config", "tarsmon.toml"]);
    let port = |obj: &str| -> u16 {
        let ep = &t.listening.iter().find(|(o, _)| o == obj).unwrap().1;
        ep.split_whitespace().skip_while(|w| *w != "-p").nth(1).unwrap().parse().unwrap()
    };
    let registry = port(Role::Registry.object());
    assert_ne!(registry, 0);
    ping_all_through_registry(registry).await;
    // The registry hands out the port actually bound.
    let comm =
        Communicator::with_locator(&format!("tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p {registry}"))
            .unwrap();
    let eps = comm.resolve(Role::Stat.object()).await.unwrap();
    assert_eq!(eps[0].port, port(Role::Stat.object()));
    assert!(dir.join("data").is_dir());
    assert!(sigterm_and_wait(t).success());
}

#[test]
fn bad_config_is_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("bad.toml"), "[server]\nmax_frame_size = \"lots\"\n").unwrap();
    let out = Command::new(BIN).args(["serve", "--config", "bad.toml"]).current_dir(dir).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_frame_size") || err.contains("bad size"), "{err}");
}
