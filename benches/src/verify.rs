//! After a run: ask querystat (`MonitorQuery.query`, as TarsWeb does) how many calls it
//! counted for the run's caller, so a run that lost data is reported as a failure.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use tarsmon_framework::client::ServantProxy;
use tarsmon_framework::codec::{Encode, Writer};
use tarsmon_framework::idl::monitor::{Condition, MonitorQueryReq, MonitorQueryRsp, QUERY};

/// `EQ` of MonitorQuery's `OP`.
const OP_EQ: i32 = 0;

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
    let margin = Duration::from_secs(14 * 3600);
    let first = utc_day(from.checked_sub(margin).unwrap_or(UNIX_EPOCH));
    let last = utc_day(to + margin);
    let mut total = 0.0;
    for day in first..=last {
        let req = MonitorQueryReq {
            uid: format!("tarsmon-load-{day}"),
            dataid: "tars_stat".into(),
            date: fdate(day),
            tflag1: "0000".into(),
            tflag2: "2360".into(),
            conditions: vec![Condition { field: "master_name".into(), op: OP_EQ, val: master_name.into() }],
            indexs: vec!["succ_count".into()],
            groupby: vec!["f_date".into()],
            ..MonitorQueryReq::default()
        };
        let mut w = Writer::new();
        req.encode(&mut w, 1);
        let rsp = querystat.invoke(QUERY, w.into_inner()).await.context("calling querystat")?.ok()?;
        let out: MonitorQueryRsp = rsp.reader().read(2).context("decoding MonitorQueryRsp")?;
        if out.ret != 0 {
            bail!("querystat answered {}: {}", out.ret, out.msg);
        }
        total += out.result.values().filter_map(|v| v.first()).sum::<f64>();
    }
    Ok(total)
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
