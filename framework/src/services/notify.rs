//! `tars.tarsnotify.NotifyObj` (`Notify`): alarms and framework status messages into the
//! `notify` table, one row per notification.
//!
//! - `reportNotifyInfo(ReportInfo)`: the current call; tarsnotify's rules for `server_id`,
//!   `command` and the set columns ([`tarsmon_ingest::notify`], spec §4.3).
//! - Legacy `reportServer(sServerName, sThreadId, sMessage)` and `notifyServer(sServerName,
//!   level, sMessage)` (FW ≤ 2.x clients): `sServerName` is `App.Server`, split at the first
//!   dot; they become REPORT and NOTIFY records. Unlike FW 1.4, NOTIFYs are stored too.
//! - Legacy `getNotifyInfo(NotifyKey, out NotifyInfo)`: a page (20 rows, newest first, at most
//!   30 pages as in FW 1.4) of a server's history on one node, read from the `notify` table.
//!
//! Filtered messages (`[notify] filters`) are dropped and counted. The node is
//! `sNodeName`, else the peer IP.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tarsmon_ingest::NotifyTable;
use tarsmon_ingest::buckets::Update;
use tarsmon_ingest::notify::{
    NotifyEntry, NotifyFilter, NotifyKind, NotifyLevel, NotifyRecord, NotifyReport, NotifyValue, split_set,
};
use tarsmon_ingest::pipeline::Pipeline;
use tarsmon_ingest::time::Clock;
use tarsmon_query::QueryEngine;
use tracing::warn;

use crate::idl::notify::{NotifyInfo, NotifyItem, NotifyKey, ReportInfo, notify_f};
use crate::servant::{Args, Current, Dispatch, Reply, Servant, ServantError};

/// Rows per page of `getNotifyInfo` (FW 1.4's `max_page_size`).
pub const PAGE_SIZE: usize = 20;
/// Pages `getNotifyInfo` serves (FW 1.4's `max_page_num`).
pub const MAX_PAGES: i32 = 30;

/// The application of tarsmon's own notifications ([`NotifyService::notify_own`]).
pub const OWN_APP: &str = "tars";
/// The server name of tarsmon's own notifications: their `server_id` is
/// `tars.tarsmon_<node>`, where TarsWeb shows the alarms of a server `tars.tarsmon` deployed
/// on that node.
pub const OWN_SERVER: &str = "tarsmon";

/// Counters of the NotifyObj servant (beyond the pipeline's own).
#[derive(Debug, Default)]
pub struct NotifyCounters {
    /// Notifications stored (any method).
    pub stored: AtomicU64,
    /// Of those, received through the legacy `reportServer` / `notifyServer`.
    pub legacy: AtomicU64,
    /// Dropped by a filter.
    pub filtered: AtomicU64,
    /// Stored with NULL set columns because `sSet` was malformed.
    pub bad_sets: AtomicU64,
    /// Refused: `eType` is neither REPORT nor NOTIFY.
    pub bad_types: AtomicU64,
    /// Dropped because the memory budget was exhausted.
    pub dropped: AtomicU64,
    /// `getNotifyInfo` calls answered.
    pub history_queries: AtomicU64,
}

/// The NotifyObj servant.
#[derive(Debug)]
pub struct NotifyService {
    pipeline: Arc<Pipeline<NotifyTable>>,
    clock: Arc<dyn Clock>,
    filter: NotifyFilter,
    engine: Arc<QueryEngine>,
    counters: NotifyCounters,
}

impl NotifyService {
    /// A servant storing into `pipeline`, dropping what `filter` drops, answering
    /// `getNotifyInfo` through `engine`.
    pub fn new(
        pipeline: Arc<Pipeline<NotifyTable>>,
        clock: Arc<dyn Clock>,
        filter: NotifyFilter,
        engine: Arc<QueryEngine>,
    ) -> Self {
        Self { pipeline, clock, filter, engine, counters: NotifyCounters::default() }
    }

    /// The servant's counters.
    pub fn counters(&self) -> &NotifyCounters {
        &self.counters
    }

    /// Records a notification of tarsmon itself (an outage of the MySQL export, say): a
    /// NOTIFY of `level` from [`OWN_APP`].[`OWN_SERVER`] on `node`, stored like a reported one
    /// — the same filters, counters and memory budget — so it shows in the `notify` table,
    /// in `getNotifyInfo` and, exported, in `t_server_notifys`. Never blocks.
    pub fn notify_own(&self, node: &str, level: NotifyLevel, message: &str) {
        let report = NotifyReport {
            kind: NotifyKind::Notify,
            app: OWN_APP,
            set: "",
            container: "",
            server: OWN_SERVER,
            message,
            thread_id: "",
            level,
            node_name: node,
        };
        if let Err(e) = self.store(&report, node) {
            // Counted in `dropped` like any other; there is no caller to tell.
            warn!(error = %e, "a notification of tarsmon itself was dropped");
        }
    }

    /// Stores `report` unless the filters drop it; fails with an overload error if the memory
    /// budget had no room for it (counted in `dropped`).
    fn store(&self, report: &NotifyReport<'_>, peer_ip: &str) -> Result<(), ServantError> {
        let c = &self.counters;
        if self.filter.drops(report.app, report.server, report.message) {
            c.filtered.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        if split_set(report.set).is_none() {
            c.bad_sets.fetch_add(1, Ordering::Relaxed);
            warn!(
                app = report.app,
                server = report.server,
                set = report.set,
                "malformed set in a notification"
            );
        }
        let slot = self.pipeline.current_slot();
        // Never before the slot it lands in, so time filters find it even if the clock stepped
        // back.
        let now = self.clock.now().max(slot);
        let entry = NotifyEntry::new(NotifyRecord::from_report(report, peer_ip, now));
        if self.pipeline.record_in(slot, &entry, &NotifyValue) == Update::Dropped {
            c.dropped.fetch_add(1, Ordering::Relaxed);
            return Err(super::refuse_dropped("notifications", 1, 1));
        }
        c.stored.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn report_notify_info(&self, current: &Current<'_>, mut args: Args<'_>) -> Result<Reply, ServantError> {
        let info: ReportInfo = args.required(1, "info")?;
        let Some(kind) = NotifyKind::from_wire(info.e_type) else {
            self.counters.bad_types.fetch_add(1, Ordering::Relaxed);
            return Err(ServantError::Internal(format!(
                "eType {} is neither REPORT (0) nor NOTIFY (1)",
                info.e_type
            )));
        };
        let report = NotifyReport {
            kind,
            app: &info.s_app,
            set: &info.s_set,
            container: &info.s_container,
            server: &info.s_server,
            message: &info.s_message,
            thread_id: &info.s_thread_id,
            level: if kind == NotifyKind::Notify {
                NotifyLevel::from_wire(info.e_level)
            } else {
                NotifyLevel::Normal
            },
            node_name: &info.s_node_name,
        };
        self.store(&report, &current.peer.ip().to_string())?;
        Ok(current.reply())
    }

    /// `reportServer` (REPORT) and `notifyServer` (NOTIFY).
    fn legacy(
        &self,
        current: &Current<'_>,
        mut args: Args<'_>,
        kind: NotifyKind,
    ) -> Result<Reply, ServantError> {
        let server_name: String = args.required(1, "sServerName")?;
        let (thread_id, level) = match kind {
            NotifyKind::Report => (args.required::<String>(2, "sThreadId")?, NotifyLevel::Normal),
            NotifyKind::Notify => (String::new(), NotifyLevel::from_wire(args.required::<i32>(2, "level")?)),
        };
        let message: String = args.required(3, "sMessage")?;
        let (app, server) = server_name.split_once('.').unwrap_or(("", server_name.as_str()));
        let report = NotifyReport {
            kind,
            app,
            set: "",
            container: "",
            server,
            message: &message,
            thread_id: &thread_id,
            level,
            node_name: "",
        };
        self.counters.legacy.fetch_add(1, Ordering::Relaxed);
        self.store(&report, &current.peer.ip().to_string())?;
        Ok(current.reply())
    }

    fn get_notify_info(&self, current: &Current<'_>, mut args: Args<'_>) -> Dispatch {
        let key: NotifyKey = match args.required(1, "stKey") {
            Ok(k) => k,
            Err(e) => return Dispatch::Ready(Err(e.into())),
        };
        self.counters.history_queries.fetch_add(1, Ordering::Relaxed);
        let reply = current.reply();
        let engine = self.engine.clone();
        Dispatch::Later(Box::pin(async move {
            if !(0..MAX_PAGES).contains(&key.page) {
                let info = NotifyInfo { nextpage: -1, notify_items: Vec::new() };
                return Ok(reply.ret(&0i32).out(2, "stInfo", &info));
            }
            let page = usize::try_from(key.page).unwrap_or(0);
            let (rows, more) = engine
                .notify_page(&key.name, &key.ip, page, PAGE_SIZE)
                .await
                .map_err(|e| ServantError::Internal(e.to_string()))?;
            let notify_items = rows
                .into_iter()
                .map(|r| NotifyItem {
                    s_time_stamp: r.time,
                    s_server_id: r.server_id,
                    i_level: r.level,
                    s_message: r.message,
                })
                .collect();
            let nextpage = if more && key.page + 1 < MAX_PAGES { key.page + 1 } else { -1 };
            Ok(reply.ret(&0i32).out(2, "stInfo", &NotifyInfo { nextpage, notify_items }))
        }))
    }
}

impl Servant for NotifyService {
    fn dispatch(&self, current: &Current<'_>, args: Args<'_>) -> Dispatch {
        match current.func() {
            notify_f::REPORT_NOTIFY_INFO => Dispatch::Ready(self.report_notify_info(current, args)),
            notify_f::REPORT_SERVER => Dispatch::Ready(self.legacy(current, args, NotifyKind::Report)),
            notify_f::NOTIFY_SERVER => Dispatch::Ready(self.legacy(current, args, NotifyKind::Notify)),
            notify_f::GET_NOTIFY_INFO => self.get_notify_info(current, args),
            _ => Dispatch::no_func(),
        }
    }
}
