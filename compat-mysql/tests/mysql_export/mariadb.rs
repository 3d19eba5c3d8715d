//! A real MariaDB server for the tests: its own `mariadbd` in a temporary directory on a free
//! port, started by the test and killed when dropped.
//!
//! `mariadb-install-db` runs once per test binary into a template directory, which each server
//! copies, so a server starts in about a second. The server accepts `root` without a password
//! from 127.0.0.1 (`--auth-root-authentication-method=normal`); tests create other users with
//! [`MariaDb::admin`] when they need limited privileges.
//!
//! A missing `mariadbd` fails the test with instructions; nothing is skipped.
//!
//! Included by several test binaries and by the benchmarks (`tarsmon-bench`); each uses a part.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mysql_async::prelude::{FromRow, Queryable};

/// One running (or stopped) MariaDB server.
pub struct MariaDb {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    /// Options passed to `mariadbd` after the defaults (a later option wins).
    extra: Vec<String>,
}

fn find(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(binary))
        .find(|p| p.is_file())
}

fn required(binary: &str) -> PathBuf {
    find(binary).unwrap_or_else(|| {
        panic!(
            "{binary} not found: these tests run against a real MariaDB. Install it with \
             `apt-get install -y mariadb-server` (scripts/setup.sh does this)"
        )
    })
}

/// The data directory made by `mariadb-install-db`, once per test binary.
fn template() -> &'static Path {
    static TEMPLATE: OnceLock<tempfile::TempDir> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let data = dir.path().join("data");
            let out = Command::new(required("mariadb-install-db"))
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .args(["--auth-root-authentication-method=normal", "--user=root", "--skip-test-db"])
                .output()
                .expect("run mariadb-install-db");
            assert!(
                out.status.success(),
                "mariadb-install-db failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            dir
        })
        .path()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl MariaDb {
    /// Starts a fresh server and waits until it answers.
    pub async fn start() -> MariaDb {
        Self::start_with(&[]).await
    }

    /// Starts a fresh server with `extra` options for `mariadbd` after the defaults (which
    /// are sized for tests: a 32 MiB buffer pool), e.g. `--innodb-buffer-pool-size=2G`.
    pub async fn start_with(extra: &[&str]) -> MariaDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("cp")
            .arg("-a")
            .arg(template().join("data"))
            .arg(dir.path().join("data"))
            .status()
            .expect("cp");
        assert!(status.success(), "copying the MariaDB template failed");
        let extra = extra.iter().map(|s| (*s).to_owned()).collect();
        let mut db = MariaDb { dir, port: free_port(), child: None, extra };
        db.launch().await;
        db
    }

    async fn launch(&mut self) {
        let d = self.dir.path();
        let child = Command::new(required("mariadbd"))
            .arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--socket={}", d.join("sock").display()))
            .arg(format!("--pid-file={}", d.join("pid").display()))
            .arg(format!("--log-error={}", d.join("error.log").display()))
            .arg(format!("--tmpdir={}", d.display()))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M",
                "--max-connections=50",
            ])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mariadbd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(mut conn) = mysql_async::Conn::from_url(self.root_url()).await
                && conn.query_drop("SELECT 1").await.is_ok()
            {
                let _ = conn.disconnect().await;
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("mariadbd exited with {status}: {}", self.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd did not accept connections in 60 s: {}",
                self.error_log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// The server's data directory (one subdirectory per database).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `mysql://root@127.0.0.1:PORT`.
    pub fn root_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    /// A URL for `user`/`password` on this server.
    pub fn url(&self, user: &str, password: &str) -> String {
        format!("mysql://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: a crash, as an outage looks to the exporter) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again on the same port and data.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "restart of a running server");
        self.launch().await;
    }

    /// Runs `sql` as root.
    pub async fn admin(&self, sql: &str) {
        let mut conn = mysql_async::Conn::from_url(self.root_url()).await.expect("connect as root");
        conn.query_drop(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.disconnect().await;
    }

    /// Runs a query as root and returns its rows.
    pub async fn query<T: FromRow + Send + 'static>(&self, sql: &str) -> Vec<T> {
        let mut conn = mysql_async::Conn::from_url(self.root_url()).await.expect("connect as root");
        let rows = conn.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.disconnect().await;
        rows
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}
