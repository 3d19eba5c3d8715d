//! Export markers: how the property and notify exports write every interval or slot exactly
//! once into tables that cannot de-duplicate rows themselves.
//!
//! `tars_property_*` has no primary key and `t_server_notifys` an `AUTO_INCREMENT` one, so
//! writing the same rows twice — a retry after a crash between the MySQL commit and the
//! cursor write, or after a `COMMIT` whose answer was lost — would duplicate them. Each
//! transaction that writes rows therefore also inserts one row per written interval or slot
//! into [`EXPORT_MARKER_TABLE`] (primary key `(writer, slot)`), and every write first
//! skips what is already marked. The marker commits with the data or not at all, so "marked"
//! means "written". Two writers racing on the same slot both insert its marker; the second
//! waits on the first's row lock and then fails with a duplicate key, rolls back and sees the
//! marker on its next try.
//!
//! The alternative, deleting an interval's rows before inserting them again, would also
//! delete rows that another writer (tarsproperty or tarsnotify during a migration) put there
//! for the same time, and notify rows carry no column that says who wrote them.

use std::collections::HashSet;

use mysql_async::prelude::Queryable;
use mysql_async::{Params, Value};
use tarsmon_ingest::time::TimestampMs;

use crate::ddl::EXPORT_MARKER_TABLE;
use crate::error::Result;
use crate::server::Server;

/// Whose markers: one table of one exporter (`property:<source_id>`, `notify:<source_id>`),
/// in database `db`. Exporters writing to the same database must have distinct `source_id`s,
/// as they must for the stat tables' primary key and `t_ecstatus`.
#[derive(Debug, Clone)]
pub(crate) struct Markers {
    pub(crate) db: String,
    pub(crate) writer: String,
}

impl Markers {
    /// The markers of table `table` written by exporter `source_id` into `db`.
    pub(crate) fn new(db: &str, table: &str, source_id: &str) -> Self {
        Self { db: db.to_owned(), writer: format!("{table}:{source_id}") }
    }

    /// The starts of those of `slots` that are marked as written.
    pub(crate) async fn written<Q: Queryable>(
        &self,
        conn: &mut Q,
        slots: &[TimestampMs],
    ) -> mysql_async::Result<HashSet<i64>> {
        if slots.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!(
            "SELECT slot FROM `{}`.`{EXPORT_MARKER_TABLE}` WHERE writer = ? AND slot IN ({})",
            self.db,
            vec!["?"; slots.len()].join(",")
        );
        let mut params = Vec::with_capacity(slots.len() + 1);
        params.push(Value::Bytes(self.writer.as_bytes().to_vec()));
        params.extend(slots.iter().map(|s| Value::Int(s.0)));
        let found: Vec<i64> = conn.exec(sql, Params::Positional(params)).await?;
        Ok(found.into_iter().collect())
    }

    /// Marks `slots` (start, readable label) as written. Run it in the transaction that
    /// writes their rows, before the rows: a duplicate key error then means another writer
    /// got there first, and the whole transaction must roll back.
    pub(crate) async fn mark<Q: Queryable>(
        &self,
        tx: &mut Q,
        slots: &[(TimestampMs, String)],
    ) -> mysql_async::Result<()> {
        if slots.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO `{}`.`{EXPORT_MARKER_TABLE}` (writer, slot, label) VALUES {}",
            self.db,
            vec!["(?,?,?)"; slots.len()].join(",")
        );
        let mut params = Vec::with_capacity(slots.len() * 3);
        for (slot, label) in slots {
            params.push(Value::Bytes(self.writer.as_bytes().to_vec()));
            params.push(Value::Int(slot.0));
            params.push(Value::Bytes(label.as_bytes().to_vec()));
        }
        tx.exec_drop(sql, Params::Positional(params)).await
    }

    /// Deletes the markers of slots before `before` (retention: data that old is not exported
    /// again). Returns how many were deleted.
    pub(crate) async fn expire(&self, server: &Server, before: TimestampMs) -> Result<u64> {
        let what = format!("DELETE FROM {}.{EXPORT_MARKER_TABLE} (retention of {})", self.db, self.writer);
        let sql = format!("DELETE FROM `{}`.`{EXPORT_MARKER_TABLE}` WHERE writer = ? AND slot < ?", self.db);
        let writer = self.writer.clone();
        server
            .with_conn(&what, |mut conn| async move {
                conn.exec_drop(sql, (writer, before.0)).await?;
                Ok(conn.affected_rows())
            })
            .await
    }
}
