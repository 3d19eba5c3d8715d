//! Writing the rows of one 5-minute interval into one stat database, and `t_ecstatus`.

use std::fmt::Write as _;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, TxOpts, Value};
use tarsmon_ingest::time::TarsLabel;

use crate::error::Result;
use crate::rows::StatRow;
use crate::server::Server;

/// The columns of tarsstat's `INSERT IGNORE`, in its order (spec §6.3).
const COLUMNS: &str = "source_id,f_date,f_tflag,master_name,slave_name,interface_name,tars_version,master_ip,\
slave_ip,slave_port,return_value,succ_count,timeout_count,exce_count,total_time,interv_count,ave_time,maxrsp_time,\
minrsp_time";
/// How many values one row binds.
const VALUES_PER_ROW: usize = 19;

/// What to write: one interval's rows for one table.
#[derive(Debug)]
pub(crate) struct IntervalWrite<'a> {
    pub(crate) db: &'a str,
    pub(crate) table: &'a str,
    pub(crate) label: TarsLabel,
    pub(crate) source_id: &'a str,
    pub(crate) rows: &'a [&'a StatRow],
    pub(crate) batch_size: usize,
}

/// Writes the rows in one transaction of batched multi-row `INSERT IGNORE`s, then moves
/// `t_ecstatus.lasttime` forward to the interval's label.
///
/// Idempotent: the table's primary key holds every key column plus `source_id` and the label,
/// so writing an interval again (a retry after a failure somewhere, a back-fill over exported
/// time) leaves the rows that are already there as they are. The transaction makes an
/// interval appear in a database all at once.
pub(crate) async fn write_interval(server: &Server, w: IntervalWrite<'_>) -> Result<()> {
    let what = format!("INSERT IGNORE INTO {}.{} ({} rows)", w.db, w.table, w.rows.len());
    let f_date = w.label.date.format("%Y-%m-%d").to_string();
    let tflag = w.label.tflag_str().to_owned();
    let lasttime = format!("{} {tflag}", w.label.date_compact());
    let appname = format!("{}{}", crate::ddl::STAT_TABLE_PREFIX, w.source_id);
    let full_sql = insert_sql(w.db, w.table, w.batch_size);
    server
        .with_conn(&what, |mut conn| async move {
            let mut tx = conn.start_transaction(TxOpts::default()).await?;
            for chunk in w.rows.chunks(w.batch_size) {
                let sql = if chunk.len() == w.batch_size {
                    full_sql.clone()
                } else {
                    insert_sql(w.db, w.table, chunk.len())
                };
                let mut values = Vec::with_capacity(chunk.len() * VALUES_PER_ROW);
                for row in chunk {
                    push_row(&mut values, row, w.source_id, &f_date, &tflag);
                }
                tx.exec_drop(sql, Params::Positional(values)).await?;
            }
            tx.commit().await?;
            update_ecstatus(&mut conn, w.db, appname, lasttime).await
        })
        .await
}

/// tarsstat's and tarsproperty's `updateEcsStatus` (UPDATE, else REPLACE) as one statement:
/// `t_ecstatus.lasttime` of `appname` in `db` becomes `lasttime` (`"YYYYMMDD HHMM"`), with
/// `GREATEST` so that a back-fill of older intervals never moves it back.
pub(crate) async fn update_ecstatus(
    conn: &mut Conn,
    db: &str,
    appname: String,
    lasttime: String,
) -> mysql_async::Result<()> {
    conn.exec_drop(
        format!(
            "INSERT INTO `{db}`.`t_ecstatus` (appname, action, checkint, lasttime) VALUES (?, 0, 5, ?) \
             ON DUPLICATE KEY UPDATE lasttime = GREATEST(lasttime, VALUES(lasttime)), checkint = 5"
        ),
        (appname, lasttime),
    )
    .await
}

/// `INSERT IGNORE INTO db.table (…) VALUES (?,…),…` for `rows` rows.
fn insert_sql(db: &str, table: &str, rows: usize) -> String {
    let one = format!("({})", vec!["?"; VALUES_PER_ROW].join(","));
    let mut sql = String::with_capacity(100 + rows * (one.len() + 1));
    let _ = write!(sql, "INSERT IGNORE INTO `{db}`.`{table}` ({COLUMNS}) VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&one);
    }
    sql
}

/// An `int(10) unsigned` value: negative becomes 0, too large becomes `u32::MAX` (what
/// MySQL would store with a warning).
fn u32_column(x: i64) -> Value {
    Value::UInt(x.clamp(0, i64::from(u32::MAX)) as u64)
}

fn push_row(values: &mut Vec<Value>, row: &StatRow, source_id: &str, f_date: &str, tflag: &str) {
    let k = &row.key;
    let v = &row.value;
    let text = |s: &str| Value::Bytes(s.as_bytes().to_vec());
    values.extend([
        text(source_id),
        text(f_date),
        text(tflag),
        text(&k.master_name),
        text(&k.slave_name),
        text(&k.interface_name),
        text(&k.tars_version),
        text(&k.master_ip),
        text(&k.slave_ip),
        Value::Int(i64::from(k.slave_port)),
        Value::Int(i64::from(k.return_value)),
        u32_column(v.succ_count),
        u32_column(v.timeout_count),
        u32_column(v.exce_count),
        Value::UInt(v.total_time.max(0) as u64),
        Value::Bytes(row.interv_count().into_bytes()),
        u32_column(row.ave_time()),
        u32_column(v.max_rsp_time),
        u32_column(v.min_rsp_time),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_has_one_placeholder_per_value() {
        let sql = insert_sql("tars_stat", "tars_stat_2024011509", 3);
        assert_eq!(sql.matches('?').count(), 3 * VALUES_PER_ROW);
        assert_eq!(COLUMNS.split(',').count(), VALUES_PER_ROW);
        assert!(sql.starts_with("INSERT IGNORE INTO `tars_stat`.`tars_stat_2024011509` (source_id,f_date,"));
    }
}
