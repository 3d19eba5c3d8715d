//! [`TableManager`]: creates databases and hourly tables ahead of time and drops old ones.
//!
//! tarsstat creates a day's 24 tables lazily, on the first insert of that day, and caches the
//! day as done even when a `CREATE` failed (spec §6.3, §10.1). Here the tables of today and
//! tomorrow — and, on the first start, yesterday's, which TarsWeb's comparison view reads —
//! exist before any data needs them; only a table seen to exist is remembered, so a failed
//! `CREATE` is tried again on the next tick (and counted in [`crate::ExporterStats`]); and a
//! failed insert forgets what was remembered about its database.

use std::collections::HashSet;

use chrono::{Days, NaiveDate};
use tracing::{info, warn};

use crate::ddl::{self, STAT_TABLE_PREFIX};
use crate::error::Result;
use crate::server::Server;
use crate::stats::ExporterStats;

/// One call-statistics database: its server (an index into the exporter's servers) and name.
#[derive(Debug, Clone)]
pub(crate) struct StatDb {
    pub(crate) server: usize,
    pub(crate) name: String,
}

/// What is known to exist in the stat databases.
#[derive(Debug, Default)]
pub(crate) struct TableManager {
    /// Databases (indexes into the stat databases) whose database and `t_ecstatus` exist and
    /// whose hourly tables are listed in `known`.
    ready: HashSet<usize>,
    /// `(database index, table name)` of the hourly tables seen to exist.
    known: HashSet<(usize, String)>,
    /// The day before the first start, until its tables exist in every database.
    yesterday: Option<NaiveDate>,
    started: bool,
}

impl TableManager {
    /// Makes sure database `i`, its `t_ecstatus` and table `table` exist.
    pub(crate) async fn ensure_table(
        &mut self,
        servers: &[Server],
        dbs: &[StatDb],
        i: usize,
        table: &str,
        stats: &ExporterStats,
    ) -> Result<()> {
        self.ensure_database(servers, dbs, i, stats).await?;
        if self.known.contains(&(i, table.to_owned())) {
            return Ok(());
        }
        let db = &dbs[i];
        let server = &servers[db.server];
        let what = format!("CREATE TABLE {}.{table}", db.name);
        if let Err(e) = server.execute(&what, ddl::stat_table(&db.name, table)).await {
            stats.record_table_error(&e);
            return Err(e);
        }
        stats.table_created();
        self.known.insert((i, table.to_owned()));
        Ok(())
    }

    async fn ensure_database(
        &mut self,
        servers: &[Server],
        dbs: &[StatDb],
        i: usize,
        stats: &ExporterStats,
    ) -> Result<()> {
        if self.ready.contains(&i) {
            return Ok(());
        }
        let db = &dbs[i];
        let server = &servers[db.server];
        let result = async {
            if !server.has_database(&db.name).await? {
                server
                    .execute(&format!("CREATE DATABASE {}", db.name), ddl::create_database(&db.name))
                    .await?;
                info!(server = %server.name, database = %db.name, "created database");
            }
            server
                .execute(&format!("CREATE TABLE {}.t_ecstatus", db.name), ddl::ecstatus_table(&db.name))
                .await?;
            server.tables(&db.name, STAT_TABLE_PREFIX).await
        }
        .await;
        match result {
            Ok(tables) => {
                self.known.retain(|(j, _)| *j != i);
                self.known.extend(tables.into_iter().map(|t| (i, t)));
                self.ready.insert(i);
                Ok(())
            }
            Err(e) => {
                stats.record_table_error(&e);
                Err(e)
            }
        }
    }

    /// Creates the missing hourly tables of today and tomorrow (local `today`), plus those of
    /// the day before the first call. Tries every database even when one fails; returns the
    /// first error.
    pub(crate) async fn ensure_days(
        &mut self,
        servers: &[Server],
        dbs: &[StatDb],
        today: NaiveDate,
        stats: &ExporterStats,
    ) -> Result<()> {
        if !self.started {
            self.started = true;
            self.yesterday = today.checked_sub_days(Days::new(1));
        }
        let mut days: Vec<NaiveDate> = self.yesterday.into_iter().collect();
        days.push(today);
        days.extend(today.checked_add_days(Days::new(1)));
        let mut first_error = None;
        let mut all_done = true;
        'dbs: for (i, db) in dbs.iter().enumerate() {
            for &day in &days {
                for hour in 0..24 {
                    let table = ddl::hour_table(STAT_TABLE_PREFIX, day, hour);
                    if let Err(e) = self.ensure_table(servers, dbs, i, &table, stats).await {
                        warn!(database = %db.name, table, error = %crate::stats::error_chain(&e),
                            "creating an hourly table failed; retrying on the next tick");
                        first_error.get_or_insert(e);
                        all_done = false;
                        continue 'dbs;
                    }
                }
            }
        }
        if all_done {
            self.yesterday = None;
        }
        // Keep the cache to what can still be asked for: a day back at most.
        let oldest = today.checked_sub_days(Days::new(1)).unwrap_or(today);
        self.known
            .retain(|(_, t)| ddl::parse_hour_table(STAT_TABLE_PREFIX, t).is_none_or(|(d, _)| d >= oldest));
        first_error.map_or(Ok(()), Err)
    }

    /// Forgets what is known about database `i` (after a failed write: a table may have been
    /// dropped behind the exporter's back, or the server restarted).
    pub(crate) fn forget(&mut self, i: usize) {
        self.ready.remove(&i);
        self.known.retain(|(j, _)| *j != i);
    }

    /// Drops the hourly tables of every stat database whose day is before `keep_from`.
    /// Returns how many were dropped; tries every database, returns the first error.
    pub(crate) async fn drop_before(
        &mut self,
        servers: &[Server],
        dbs: &[StatDb],
        keep_from: NaiveDate,
        stats: &ExporterStats,
    ) -> Result<usize> {
        let mut dropped = 0;
        let mut first_error = None;
        for (i, db) in dbs.iter().enumerate() {
            let server = &servers[db.server];
            let tables = match server.tables(&db.name, STAT_TABLE_PREFIX).await {
                Ok(t) => t,
                Err(e) => {
                    stats.record_table_error(&e);
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let mut old: Vec<String> = tables
                .into_iter()
                .filter(|t| ddl::parse_hour_table(STAT_TABLE_PREFIX, t).is_some_and(|(d, _)| d < keep_from))
                .collect();
            old.sort();
            for table in old {
                let what = format!("DROP TABLE {}.{table}", db.name);
                match server.execute(&what, format!("DROP TABLE IF EXISTS `{}`.`{table}`", db.name)).await {
                    Ok(()) => {
                        info!(database = %db.name, table, "dropped an hourly table past retention");
                        stats.table_dropped();
                        self.known.remove(&(i, table));
                        dropped += 1;
                    }
                    Err(e) => {
                        stats.record_table_error(&e);
                        first_error.get_or_insert(e);
                        break;
                    }
                }
            }
        }
        first_error.map_or(Ok(dropped), Err)
    }
}
