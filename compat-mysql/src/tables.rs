//! [`TableManager`]: creates databases and tables ahead of time and drops old ones.
//!
//! tarsstat creates a day's 24 tables lazily, on the first insert of that day, and caches the
//! day as done even when a `CREATE` failed (spec §6.3, §10.1); tarsproperty runs the same
//! lazy creation without the cache (§7). Here the hourly tables of today and tomorrow — and,
//! on the first start, yesterday's, which TarsWeb's comparison view reads — exist in every
//! stat database and in the property database before any data needs them; only a table seen
//! to exist is remembered, so a failed `CREATE` is tried again on the next tick (and counted
//! in [`crate::ExporterStats`]); and a failed insert forgets what was remembered about its
//! database. The notify database gets `t_server_notifys` (which TarsWeb otherwise creates)
//! the same way.

use std::collections::HashSet;

use chrono::{Days, NaiveDate};
use tracing::{info, warn};

use crate::ddl::{self, PROPERTY_TABLE_PREFIX, SERVER_NOTIFYS_TABLE, STAT_TABLE_PREFIX};
use crate::error::Result;
use crate::server::Server;
use crate::stats::ExporterStats;

/// Which classic table family a database with hourly tables holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hourly {
    /// `tars_stat_YYYYMMDDHH` (+ `t_ecstatus`).
    Stat,
    /// `tars_property_YYYYMMDDHH` (+ `t_ecstatus` and the export markers).
    Property,
}

impl Hourly {
    /// The prefix of the hourly tables.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Hourly::Stat => STAT_TABLE_PREFIX,
            Hourly::Property => PROPERTY_TABLE_PREFIX,
        }
    }

    fn create_table(self, db: &str, table: &str) -> String {
        match self {
            Hourly::Stat => ddl::stat_table(db, table),
            Hourly::Property => ddl::property_table(db, table),
        }
    }
}

/// One database with hourly tables: its server (an index into the exporter's servers), name
/// and table family.
#[derive(Debug, Clone)]
pub(crate) struct HourlyDb {
    pub(crate) server: usize,
    pub(crate) name: String,
    pub(crate) kind: Hourly,
}

/// The notify database.
#[derive(Debug, Clone)]
pub(crate) struct NotifyDb {
    pub(crate) server: usize,
    pub(crate) name: String,
}

/// What is known to exist in the exporter's databases.
#[derive(Debug, Default)]
pub(crate) struct TableManager {
    /// Hourly databases (indexes into the exporter's hourly databases) whose database and
    /// fixed tables (`t_ecstatus`, markers) exist and whose hourly tables are listed in
    /// `known`.
    ready: HashSet<usize>,
    /// `(database index, table name)` of the hourly tables seen to exist.
    known: HashSet<(usize, String)>,
    /// Whether the notify database, `t_server_notifys` and its markers are known to exist.
    notify_ready: bool,
    /// The day before the first start, until its tables exist in every database.
    yesterday: Option<NaiveDate>,
    started: bool,
}

impl TableManager {
    /// Makes sure hourly database `i`, its fixed tables and table `table` exist.
    pub(crate) async fn ensure_table(
        &mut self,
        servers: &[Server],
        dbs: &[HourlyDb],
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
        if let Err(e) = server.execute(&what, db.kind.create_table(&db.name, table)).await {
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
        dbs: &[HourlyDb],
        i: usize,
        stats: &ExporterStats,
    ) -> Result<()> {
        if self.ready.contains(&i) {
            return Ok(());
        }
        let db = &dbs[i];
        let server = &servers[db.server];
        let result = async {
            create_database(server, &db.name).await?;
            server
                .execute(&format!("CREATE TABLE {}.t_ecstatus", db.name), ddl::ecstatus_table(&db.name))
                .await?;
            if db.kind == Hourly::Property {
                create_markers(server, &db.name).await?;
            }
            server.tables(&db.name, db.kind.prefix()).await
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

    /// Makes sure the notify database, `t_server_notifys` and the export markers exist.
    pub(crate) async fn ensure_notify(
        &mut self,
        servers: &[Server],
        db: &NotifyDb,
        stats: &ExporterStats,
    ) -> Result<()> {
        if self.notify_ready {
            return Ok(());
        }
        let server = &servers[db.server];
        let result = async {
            create_database(server, &db.name).await?;
            // Listed first so that only a real creation is counted.
            let exists = server
                .tables(&db.name, SERVER_NOTIFYS_TABLE)
                .await?
                .iter()
                .any(|t| t == SERVER_NOTIFYS_TABLE);
            if !exists {
                server
                    .execute(
                        &format!("CREATE TABLE {}.{SERVER_NOTIFYS_TABLE}", db.name),
                        ddl::server_notifys_table(&db.name),
                    )
                    .await?;
                stats.table_created();
                info!(database = %db.name, "created {SERVER_NOTIFYS_TABLE}");
            }
            create_markers(server, &db.name).await
        }
        .await;
        match result {
            Ok(()) => {
                self.notify_ready = true;
                Ok(())
            }
            Err(e) => {
                stats.record_table_error(&e);
                Err(e)
            }
        }
    }

    /// Whether hourly database `i` was seen ready (its fixed tables exist).
    pub(crate) fn is_ready(&self, i: usize) -> bool {
        self.ready.contains(&i)
    }

    /// Whether the notify database was seen ready.
    pub(crate) fn notify_is_ready(&self) -> bool {
        self.notify_ready
    }

    /// Creates the missing hourly tables of today and tomorrow (local `today`), plus those of
    /// the day before the first call, in every hourly database. Tries every database even
    /// when one fails; returns the first error.
    pub(crate) async fn ensure_days(
        &mut self,
        servers: &[Server],
        dbs: &[HourlyDb],
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
                    let table = ddl::hour_table(db.kind.prefix(), day, hour);
                    if let Err(e) = self.ensure_table(servers, dbs, i, &table, stats).await {
                        warn!(database = %db.name, table, error = %crate::stats::error_chain(&e),
                            "creating an hourly table failed; retrying on the next tick");
                        stats.set_database_up(i, false);
                        first_error.get_or_insert(e);
                        all_done = false;
                        continue 'dbs;
                    }
                }
            }
            // Every table is there. Either MySQL just said so, or they were known to exist
            // and nothing failed on this database since (a failed write forgets them).
            stats.set_database_up(i, true);
        }
        if all_done {
            self.yesterday = None;
        }
        // Keep the cache to what can still be asked for: a day back at most.
        let oldest = today.checked_sub_days(Days::new(1)).unwrap_or(today);
        self.known.retain(|(i, t)| {
            ddl::parse_hour_table(dbs[*i].kind.prefix(), t).is_none_or(|(d, _)| d >= oldest)
        });
        first_error.map_or(Ok(()), Err)
    }

    /// Forgets what is known about hourly database `i` (after a failed write: a table may
    /// have been dropped behind the exporter's back, or the server restarted).
    pub(crate) fn forget(&mut self, i: usize) {
        self.ready.remove(&i);
        self.known.retain(|(j, _)| *j != i);
    }

    /// Forgets that the notify tables exist (after a failed write).
    pub(crate) fn forget_notify(&mut self) {
        self.notify_ready = false;
    }

    /// Drops the hourly tables of every hourly database whose day is before `keep_from`.
    /// Returns how many were dropped; tries every database, returns the first error.
    pub(crate) async fn drop_before(
        &mut self,
        servers: &[Server],
        dbs: &[HourlyDb],
        keep_from: NaiveDate,
        stats: &ExporterStats,
    ) -> Result<usize> {
        let mut dropped = 0;
        let mut first_error = None;
        for (i, db) in dbs.iter().enumerate() {
            let server = &servers[db.server];
            let prefix = db.kind.prefix();
            let tables = match server.tables(&db.name, prefix).await {
                Ok(t) => t,
                Err(e) => {
                    stats.record_table_error(&e);
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let mut old: Vec<String> = tables
                .into_iter()
                .filter(|t| ddl::parse_hour_table(prefix, t).is_some_and(|(d, _)| d < keep_from))
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

/// Creates database `name` on `server` when it is missing.
async fn create_database(server: &Server, name: &str) -> Result<()> {
    if !server.has_database(name).await? {
        server.execute(&format!("CREATE DATABASE {name}"), ddl::create_database(name)).await?;
        info!(server = %server.name, database = %name, "created database");
    }
    Ok(())
}

/// Creates the export marker table in `db`.
async fn create_markers(server: &Server, db: &str) -> Result<()> {
    server
        .execute(&format!("CREATE TABLE {db}.{}", ddl::EXPORT_MARKER_TABLE), ddl::export_marker_table(db))
        .await
}
