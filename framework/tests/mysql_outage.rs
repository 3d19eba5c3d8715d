//! The MySQL exporter's outage as a user of the real binary sees it, with a MySQL server
//! that is not there: one notification of `tars.tarsmon` in the `notify` table however many
//! rounds fail, `tarsmon_mysql_up 0` and the databases' gauges in `/metrics`, and querystat's
//! and queryproperty's `activeDb`/`totalDb`/`retThreads` naming the failing databases while
//! the answers themselves still come from tarsmon's store. (Recovery, with a real MariaDB, is
//! tested in `compat-mysql/tests/mysql_export.rs`.)

#![cfg(feature = "mysql")]
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Tarsmon, config_with_free_ports};
use tarsmon_framework::client::ServantProxy;
use tarsmon_framework::codec::{Encode, Writer};
use tarsmon_framework::idl::monitor::{MonitorQueryReq, MonitorQueryRsp};

async fn query(t: &Tarsmon, object: &str, dataid: &str, indexs: &[&str]) -> MonitorQueryRsp {
    let req = MonitorQueryReq {
        uid: "test".into(),
        dataid: dataid.into(),
        date: "20240115".into(),
        tflag1: "0000".into(),
        tflag2: "2360".into(),
        indexs: indexs.iter().map(|s| (*s).to_owned()).collect(),
        groupby: vec!["f_tflag".into()],
        ..MonitorQueryReq::default()
    };
    let mut w = Writer::new();
    req.encode(&mut w, 1);
    let prx = ServantProxy::direct(&t.proxy(object)).unwrap();
    let rsp = prx.invoke("query", w.into_inner()).await.unwrap().ok().unwrap();
    rsp.reader().read(2).unwrap()
}

async fn own_notifications(t: &Tarsmon) -> Vec<serde_json::Value> {
    t.sql(
        "SELECT application, server_name, server_id, kind, level, command, result FROM notify \
         WHERE server_name = 'tarsmon' ORDER BY time",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_mysql_is_one_notification_a_gauge_and_fewer_active_databases() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[query]\ntime_zone = \"+08:00\"\n[mysql]\nurl = \"mysql://root@127.0.0.1:{closed}\"\n\
         stat_databases = [\"tars_stat\", \"tars_stat_b\"]\nretry_backoff = \"100ms\"\nmax_backoff = \"200ms\"\n"
    );
    std::fs::write(dir.path().join("tarsmon.toml"), config_with_free_ports(&extra)).unwrap();
    let t = Tarsmon::start(dir.path(), &["serve", "--config", "tarsmon.toml"], true);

    let deadline = Instant::now() + Duration::from_secs(20);
    while own_notifications(&t).await.is_empty() {
        assert!(Instant::now() < deadline, "no outage notification");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Rounds keep failing (every 100-200 ms); the outage is still one notification.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rows = own_notifications(&t).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let n = &rows[0];
    let columns: Vec<&str> =
        ["application", "server_id", "kind", "level", "command"].map(|c| n[c].as_str().unwrap()).to_vec();
    assert_eq!(columns, ["tars", "tars.tarsmon_127.0.0.1", "notify", "error", "[error]"]);
    let message = n["result"].as_str().unwrap();
    let prefix = format!("MySQL export failing: MySQL 127.0.0.1:{closed}: ");
    assert!(message.starts_with(&prefix) && message.contains("intervals waiting"), "{message}");

    let (status, metrics) = t.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.lines().any(|l| l == "tarsmon_mysql_up 0"), "{metrics}");
    for (db, kind) in [("tars_stat", "stat"), ("tars_stat_b", "stat"), ("tars_property", "property")] {
        let line = format!(
            "tarsmon_mysql_database_up{{database=\"{db}\",server=\"127.0.0.1:{closed}\",kind=\"{kind}\"}} 0"
        );
        assert!(metrics.lines().any(|l| l == line), "{line} not in {metrics}");
    }

    // tarsmon still answers (from its store); the MySQL databases are reported as failing.
    let stat = query(&t, "tars.tarsquerystat.QueryObj", "tars_stat", &["succ_count"]).await;
    assert_eq!((stat.ret, stat.active_db, stat.total_db), (0, 0, 2), "{}", stat.msg);
    assert_eq!(stat.ret_threads, vec![-1, -1]);
    let property = query(&t, "tars.tarsqueryproperty.QueryObj", "tars_property", &["value"]).await;
    assert_eq!((property.ret, property.active_db, property.total_db), (0, 0, 1), "{}", property.msg);
    assert_eq!(property.ret_threads, vec![-1]);
    assert!(t.stop().success());
}
