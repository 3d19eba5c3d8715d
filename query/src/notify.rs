//! The legacy `getNotifyInfo` history over the `notify` table.

use chrono::Offset;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::TimestampMillisecondType;
use tarsmon_ingest::notify::NotifyLevel;

use crate::error::Result;
use crate::monitor::quote;
use crate::session::QueryEngine;

/// One entry of a server's notification history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyHistoryRow {
    /// `YYYY-MM-DD HH:MM:SS` in the labels' time zone.
    pub time: String,
    /// `App.Server_<node>`.
    pub server_id: String,
    /// `NOTIFYLEVEL`: 0 normal, 1 warn, 2 error.
    pub level: i32,
    /// The message.
    pub message: String,
}

impl QueryEngine {
    /// Page `page` (`page_size` rows, newest first) of the notifications of the server whose
    /// `application || server_name` is `name` (FW 1.4's key, no dot) on node `ip` (any node
    /// when empty); and whether there are more.
    pub async fn notify_page(
        &self,
        name: &str,
        ip: &str,
        page: usize,
        page_size: usize,
    ) -> Result<(Vec<NotifyHistoryRow>, bool)> {
        let mut filter = format!("concat(application, server_name) = {}", quote(name));
        if !ip.is_empty() {
            filter.push_str(&format!(" AND node_name = {}", quote(ip)));
        }
        let sql = format!(
            "SELECT time, server_id, level, result FROM notify WHERE {filter} \
             ORDER BY time DESC LIMIT {} OFFSET {}",
            page_size + 1,
            page * page_size
        );
        let out = self.sql(&sql).await?;
        let offset = chrono::FixedOffset::east_opt(self.config().offset.seconds())
            .unwrap_or_else(|| chrono::Utc.fix());
        let mut rows = Vec::new();
        for batch in &out.batches {
            let time = batch.column(0).as_primitive::<TimestampMillisecondType>();
            let (server, level, message) = (
                batch.column(1).as_string::<i32>(),
                batch.column(2).as_string::<i32>(),
                batch.column(3).as_string::<i32>(),
            );
            for i in 0..batch.num_rows() {
                let shown = chrono::DateTime::from_timestamp_millis(time.value(i))
                    .map(|t| t.with_timezone(&offset).format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                let level = match NotifyLevel::parse(level.value(i)) {
                    Some(NotifyLevel::Warn) => 1,
                    Some(NotifyLevel::Error) => 2,
                    _ => 0,
                };
                rows.push(NotifyHistoryRow {
                    time: shown,
                    server_id: server.value(i).to_owned(),
                    level,
                    message: message.value(i).to_owned(),
                });
            }
        }
        let more = rows.len() > page_size;
        rows.truncate(page_size);
        Ok((rows, more))
    }
}
