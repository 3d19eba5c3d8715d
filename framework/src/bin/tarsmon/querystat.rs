//! `tarsmon querystat`: TarsWeb's service-monitor query, sent over TARS like TarsWeb sends it.

use std::time::Duration;

use anyhow::bail;
use tarsmon_framework::client::Communicator;
use tarsmon_framework::codec::{Encode, Writer};
use tarsmon_framework::idl::monitor::{Condition, MonitorQueryReq, MonitorQueryRsp, QUERY};

/// Options of `tarsmon querystat`.
#[derive(Debug, clap::Args)]
pub(crate) struct QuerystatArgs {
    /// Day, `YYYYMMDD` (default: today, local time).
    #[arg(long)]
    date: Option<String>,
    /// First 5-minute slot label, `HHMM`.
    #[arg(long, default_value = "0000")]
    tflag1: String,
    /// Last 5-minute slot label, `HHMM`.
    #[arg(long, default_value = "2360")]
    tflag2: String,
    /// Group by this column instead of the time slot (`interface_name`, `master_name`,
    /// `slave_name`, `master_ip`, `slave_ip`).
    #[arg(long)]
    group_by: Option<String>,
    /// A filter `FIELD=VALUE` (SQL `LIKE`, as TarsWeb sends it; repeatable), e.g.
    /// `--where slave_name=App.Server`.
    #[arg(long = "where")]
    conditions: Vec<String>,
    /// The querystat object, bare (resolved through the locator) or with endpoints.
    #[arg(long, default_value = "tars.tarsquerystat.QueryObj")]
    object: String,
    /// Registry used to resolve a bare object name.
    #[arg(long, default_value = "tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p 17890")]
    locator: String,
}

pub(crate) async fn run(args: QuerystatArgs) -> anyhow::Result<()> {
    let date = args.date.unwrap_or_else(|| chrono::Local::now().format("%Y%m%d").to_string());
    let mut conditions = Vec::new();
    for c in &args.conditions {
        let Some((field, val)) = c.split_once('=') else { bail!("--where needs FIELD=VALUE, got {c:?}") };
        conditions.push(Condition { field: field.trim().into(), op: 5, val: val.trim().into() });
    }
    let groupby = match &args.group_by {
        Some(g) => vec!["f_date".to_owned(), g.clone()],
        None => vec!["f_tflag".to_owned()],
    };
    let req = MonitorQueryReq {
        uid: format!("tarsmon-cli-{}", std::process::id()),
        dataid: "tars_stat".into(),
        date,
        tflag1: args.tflag1,
        tflag2: args.tflag2,
        conditions,
        indexs: ["succ_count", "timeout_count", "exce_count", "total_time"].map(String::from).to_vec(),
        groupby,
        ..MonitorQueryReq::default()
    };
    let comm = Communicator::with_locator(&args.locator)?.with_timeout(Duration::from_secs(30));
    let prx = comm.proxy(&args.object).await?;
    let mut w = Writer::new();
    req.encode(&mut w, 1);
    let rsp = prx.invoke(QUERY, w.into_inner()).await?.ok()?;
    let rsp: MonitorQueryRsp = rsp.reader().read(2)?;
    if rsp.ret != 0 {
        bail!("querystat failed: {}", rsp.msg);
    }
    let label =
        if args.group_by.is_some() { args.group_by.as_deref().unwrap_or("group") } else { "show_time" };
    println!("{label:<24} {:>12} {:>12} {:>10} {:>13}", "calls", "avg_time_ms", "fail_rate", "timeout_rate");
    for (key, v) in &rsp.result {
        let (succ, timeout, exce, time) = (v[0], v[1], v[2], v[3]);
        let total = succ + timeout + exce;
        let shown =
            if args.group_by.is_some() { key.split_once(',').map_or(key.as_str(), |(_, g)| g) } else { key };
        let pct = |x: f64| if total > 0.0 { format!("{:.2}%", 100.0 * x / total) } else { "-".into() };
        let avg = if total > 0.0 { format!("{:.2}", time / total) } else { "-".into() };
        println!("{shown:<24} {total:>12} {avg:>12} {:>10} {:>13}", pct(exce), pct(timeout));
    }
    println!("(last complete slot: {})", rsp.last_time);
    Ok(())
}
