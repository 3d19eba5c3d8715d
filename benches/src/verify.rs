//! After a run: ask querystat (`MonitorQuery.query`, as TarsWeb does) how many calls it
//! counted for the run's caller, so a run that lost data is reported as a failure.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use tarsmon_framework::client::ServantProxy;
use tarsmon_framework::codec::{Encode, Writer};
use tarsmon_framework::idl::monitor::{Condition, MonitorQueryReq, MonitorQueryRsp, QUERY};

/// `EQ` of MonitorQuery's `OP`.
const OP_EQ: i32 = 0;
/// `LIKE` of MonitorQuery's `OP`.
const OP_LIKE: i32 = 5;

/// Sum of `succ_count` that querystat reports for `master_name` over the days around the run.
///
/// The server's time zone is unknown here, so every UTC day from 14 h before `from` to 14 h
/// after `to` is asked; the caller name is unique to the run, so no day is counted twice.
pub async fn reported_calls(
    querystat: &ServantProxy,
    master_name: &str,
    from: SystemTime,
    to: SystemTime,
) -> anyhow::Result<f64> {
    let by_caller = [("master_name", master_name)];
    monitor_sum(querystat, "tars_stat", "succ_count", &by_caller, from, to).await
}

/// Sum of the `Count` values that queryproperty reports for module `module` (as
/// [`reported_calls`] does for calls).
pub async fn reported_property_count(
    queryproperty: &ServantProxy,
    module: &str,
    from: SystemTime,
    to: SystemTime,
) -> anyhow::Result<f64> {
    let by_module = [("master_name", module), ("policy", "Count")];
    monitor_sum(queryproperty, "tars_property", "value", &by_module, from, to).await
}

/// The sum of `index` over the rows matching every `field = value` of `conditions`, asked day
/// by day as TarsWeb asks, over the UTC days around `[from, to]`.
async fn monitor_sum(
    proxy: &ServantProxy,
    dataid: &str,
    index: &str,
    conditions: &[(&str, &str)],
    from: SystemTime,
    to: SystemTime,
) -> anyhow::Result<f64> {
    let margin = Duration::from_secs(14 * 3600);
    let first = utc_day(from.checked_sub(margin).unwrap_or(UNIX_EPOCH));
    let last = utc_day(to + margin);
    let mut total = 0.0;
    for day in first..=last {
        let req = MonitorQueryReq {
            uid: format!("tarsmon-load-{day}"),
            dataid: dataid.into(),
            date: fdate(day),
            tflag1: "0000".into(),
            tflag2: "2360".into(),
            conditions: conditions
                .iter()
                .map(|(f, v)| Condition { field: (*f).into(), op: OP_EQ, val: (*v).into() })
                .collect(),
            indexs: vec![index.into()],
            groupby: vec!["f_date".into()],
            ..MonitorQueryReq::default()
        };
        let out = monitor_query(proxy, &req).await?;
        total += out.result.values().filter_map(|v| v.first()).sum::<f64>();
    }
    Ok(total)
}

/// Sends one MonitorQuery; an answer with `ret != 0` is an error.
async fn monitor_query(proxy: &ServantProxy, req: &MonitorQueryReq) -> anyhow::Result<MonitorQueryRsp> {
    let mut w = Writer::new();
    req.encode(&mut w, 1);
    let rsp = proxy.invoke(QUERY, w.into_inner()).await.context("calling MonitorQuery")?.ok()?;
    let out: MonitorQueryRsp = rsp.reader().read(2).context("decoding MonitorQueryRsp")?;
    if out.ret != 0 {
        bail!("{} query answered {}: {}", req.dataid, out.ret, out.msg);
    }
    Ok(out)
}

/// TarsWeb's service-monitor page for `callee` today (UTC): the four call counts by
/// `f_tflag`, `slave_name LIKE callee`.
pub async fn page(querystat: &ServantProxy, callee: &str) -> anyhow::Result<()> {
    let req = MonitorQueryReq {
        uid: "tarsmon-load-page".into(),
        dataid: "tars_stat".into(),
        date: fdate(utc_day(SystemTime::now())),
        tflag1: "0000".into(),
        tflag2: "2360".into(),
        conditions: vec![Condition { field: "slave_name".into(), op: OP_LIKE, val: callee.into() }],
        indexs: ["succ_count", "timeout_count", "exce_count", "total_time"].map(String::from).to_vec(),
        groupby: vec!["f_tflag".into()],
        ..MonitorQueryReq::default()
    };
    monitor_query(querystat, &req).await.map(drop)
}

/// Runs `sql` through tarsmon's HTTP API at `addr` (`host:port`) and returns the CSV body.
pub async fn http_sql(addr: &str, sql: &str) -> anyhow::Result<String> {
    let (status, body) =
        tarsmon_framework::http_client::post(&format!("http://{addr}/sql?format=csv"), sql).await?;
    if status != 200 {
        bail!("{sql}: HTTP {status}: {}", body.trim());
    }
    Ok(body)
}

/// Notifications of application `app` that tarsmon stored, counted with SQL over HTTP.
pub async fn stored_notifications(http: &str, app: &str) -> anyhow::Result<f64> {
    let sql = format!("SELECT count(*) AS n FROM notify WHERE application = '{}'", app.replace('\'', "''"));
    let csv = http_sql(http, &sql).await?;
    let value = csv.lines().nth(1).context("no row in the count")?;
    Ok(value.trim().parse()?)
}

/// Days since 1970-01-01 (UTC).
fn utc_day(t: SystemTime) -> i64 {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(secs / 86_400).unwrap_or(0)
}

/// `YYYYMMDD` of a day number (the civil-from-days algorithm of H. Hinnant).
fn fdate(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdate_of_known_days() {
        assert_eq!(fdate(0), "19700101");
        assert_eq!(fdate(19_753), "20240131");
        assert_eq!(fdate(19_798), "20240316");
        assert_eq!(fdate(20_789), "20261202");
    }
}
