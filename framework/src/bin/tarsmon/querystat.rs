//! `tarsmon querystat` and `tarsmon queryproperty`: TarsWeb's service-monitor and
//! property-monitor queries, sent over TARS like TarsWeb sends them.

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

/// Options of `tarsmon queryproperty`.
#[derive(Debug, clap::Args)]
pub(crate) struct QuerypropertyArgs {
    /// Day, `YYYYMMDD` (default: today, local time).
    #[arg(long)]
    date: Option<String>,
    /// First 5-minute slot label, `HHMM`.
    #[arg(long, default_value = "0000")]
    tflag1: String,
    /// Last 5-minute slot label, `HHMM`.
    #[arg(long, default_value = "2360")]
    tflag2: String,
    /// Group by this column instead of the time slot (`master_name`, `master_ip`,
    /// `property_name`, `policy`).
    #[arg(long)]
    group_by: Option<String>,
    /// A filter `FIELD=VALUE` (SQL `LIKE`, as TarsWeb sends it; repeatable), e.g.
    /// `--where property_name=queue --where policy=Avg`.
    #[arg(long = "where")]
    conditions: Vec<String>,
    /// The queryproperty object, bare (resolved through the locator) or with endpoints.
    #[arg(long, default_value = "tars.tarsqueryproperty.QueryObj")]
    object: String,
    /// Registry used to resolve a bare object name.
    #[arg(long, default_value = "tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p 17890")]
    locator: String,
}

/// The request TarsWeb builds: today by default, `LIKE` conditions, grouped by the slot or
/// by `[f_date, field]`.
fn request(
    dataid: &str,
    date: Option<String>,
    (tflag1, tflag2): (String, String),
    conditions: &[String],
    group_by: Option<&String>,
    indexs: &[&str],
) -> anyhow::Result<MonitorQueryReq> {
    let date = date.unwrap_or_else(|| chrono::Local::now().format("%Y%m%d").to_string());
    let mut conds = Vec::new();
    for c in conditions {
        let Some((field, val)) = c.split_once('=') else { bail!("--where needs FIELD=VALUE, got {c:?}") };
        conds.push(Condition { field: field.trim().into(), op: 5, val: val.trim().into() });
    }
    let groupby = match group_by {
        Some(g) => vec!["f_date".to_owned(), g.clone()],
        None => vec!["f_tflag".to_owned()],
    };
    Ok(MonitorQueryReq {
        uid: format!("tarsmon-cli-{}", std::process::id()),
        dataid: dataid.into(),
        date,
        tflag1,
        tflag2,
        conditions: conds,
        indexs: indexs.iter().map(|s| (*s).to_owned()).collect(),
        groupby,
        ..MonitorQueryReq::default()
    })
}

async fn send(locator: &str, object: &str, req: &MonitorQueryReq) -> anyhow::Result<MonitorQueryRsp> {
    let comm = Communicator::with_locator(locator)?.with_timeout(Duration::from_secs(30));
    let prx = comm.proxy(object).await?;
    let mut w = Writer::new();
    req.encode(&mut w, 1);
    let rsp = prx.invoke(QUERY, w.into_inner()).await?.ok()?;
    let rsp: MonitorQueryRsp = rsp.reader().read(2)?;
    if rsp.ret != 0 {
        bail!("{object} failed: {}", rsp.msg);
    }
    Ok(rsp)
}

/// The shown part of a result key: the group value (after `f_date,`) or the slot label.
fn shown_key(key: &str, grouped: bool) -> &str {
    if grouped { key.split_once(',').map_or(key, |(_, g)| g) } else { key }
}

pub(crate) async fn run_property(args: QuerypropertyArgs) -> anyhow::Result<()> {
    let req = request(
        "tars_property",
        args.date,
        (args.tflag1, args.tflag2),
        &args.conditions,
        args.group_by.as_ref(),
        &["value"],
    )?;
    let rsp = send(&args.locator, &args.object, &req).await?;
    let label = args.group_by.as_deref().unwrap_or("show_time");
    println!("{label:<32} {:>16}", "value");
    for (key, v) in &rsp.result {
        // As TarsWeb shows it: three decimals, trailing zeros dropped.
        let value = format!("{:.3}", v.first().copied().unwrap_or(0.0));
        let value = value.trim_end_matches('0').trim_end_matches('.');
        println!("{:<32} {value:>16}", shown_key(key, args.group_by.is_some()));
    }
    println!("(last complete slot: {})", rsp.last_time);
    Ok(())
}

pub(crate) async fn run(args: QuerystatArgs) -> anyhow::Result<()> {
    let req = request(
        "tars_stat",
        args.date,
        (args.tflag1, args.tflag2),
        &args.conditions,
        args.group_by.as_ref(),
        &["succ_count", "timeout_count", "exce_count", "total_time"],
    )?;
    let rsp = send(&args.locator, &args.object, &req).await?;
    let label =
        if args.group_by.is_some() { args.group_by.as_deref().unwrap_or("group") } else { "show_time" };
    println!("{label:<24} {:>12} {:>12} {:>10} {:>13}", "calls", "avg_time_ms", "fail_rate", "timeout_rate");
    for (key, v) in &rsp.result {
        let (succ, timeout, exce, time) = (v[0], v[1], v[2], v[3]);
        let total = succ + timeout + exce;
        let shown = shown_key(key, args.group_by.is_some());
        let pct = |x: f64| if total > 0.0 { format!("{:.2}%", 100.0 * x / total) } else { "-".into() };
        let avg = if total > 0.0 { format!("{:.2}", time / total) } else { "-".into() };
        println!("{shown:<24} {total:>12} {avg:>12} {:>10} {:>13}", pct(exce), pct(timeout));
    }
    println!("(last complete slot: {})", rsp.last_time);
    Ok(())
}
