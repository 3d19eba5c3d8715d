//! Prometheus metrics: every counter of the adapters, servants and pipelines, rendered in the
//! text exposition format.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tarsmon_ingest::{Pipeline, PipelineStats, TableKind};

use crate::server::AdapterMetrics;
use crate::services::stat::StatService;

/// A source of pipeline counters (any table).
pub trait PipelineMetrics: Send + Sync {
    /// Current counters.
    fn pipeline_stats(&self) -> PipelineStats;
}

impl<T: TableKind> PipelineMetrics for Pipeline<T> {
    fn pipeline_stats(&self) -> PipelineStats {
        self.stats()
    }
}

/// Everything `/metrics` reports.
#[derive(Default)]
pub struct Metrics {
    adapters: Vec<(String, Arc<AdapterMetrics>)>,
    pipelines: Vec<(String, Arc<dyn PipelineMetrics>)>,
    stat: Option<Arc<StatService>>,
    extra: Vec<ExtraMetrics>,
}

/// Renders more metric families into the exposition (parts of the binary this crate does not
/// know, e.g. the MySQL exporter).
pub type ExtraMetrics = Arc<dyn Fn(&mut String) + Send + Sync>;

impl Metrics {
    /// Adds an adapter's counters, labelled with its object name.
    pub fn add_adapter(&mut self, object: &str, m: Arc<AdapterMetrics>) {
        self.adapters.push((object.to_owned(), m));
    }

    /// Adds a pipeline's counters, labelled with its table name.
    pub fn add_pipeline(&mut self, table: &str, p: Arc<dyn PipelineMetrics>) {
        self.pipelines.push((table.to_owned(), p));
    }

    /// Adds the StatObj servant's counters.
    pub fn set_stat_service(&mut self, s: Arc<StatService>) {
        self.stat = Some(s);
    }

    /// Adds families rendered by `f`.
    pub fn add_extra(&mut self, f: ExtraMetrics) {
        self.extra.push(f);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, help: &str, kind: &str, rows: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in rows {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let adapter = |f: fn(&AdapterMetrics) -> u64| -> Vec<(String, String)> {
            self.adapters.iter().map(|(o, m)| (format!("{{object=\"{o}\"}}"), f(m).to_string())).collect()
        };
        fn load(c: &std::sync::atomic::AtomicU64) -> u64 {
            c.load(Ordering::Relaxed)
        }
        family(
            "tarsmon_connections_accepted_total",
            "Connections accepted.",
            "counter",
            adapter(|m| load(&m.connections_accepted)),
        );
        family(
            "tarsmon_connections_open",
            "Connections open now.",
            "gauge",
            adapter(|m| load(&m.connections_open)),
        );
        family(
            "tarsmon_connections_over_limit_total",
            "Connections refused: connection limit.",
            "counter",
            adapter(|m| load(&m.connections_over_limit)),
        );
        family(
            "tarsmon_connections_not_allowed_total",
            "Connections refused: allow-list.",
            "counter",
            adapter(|m| load(&m.connections_not_allowed)),
        );
        family(
            "tarsmon_connections_idle_closed_total",
            "Connections closed idle.",
            "counter",
            adapter(|m| load(&m.connections_idle_closed)),
        );
        family(
            "tarsmon_bad_frames_total",
            "Connections closed for a bad length prefix.",
            "counter",
            adapter(|m| load(&m.bad_frames)),
        );
        family(
            "tarsmon_bad_packets_total",
            "Connections closed for an undecodable RequestPacket.",
            "counter",
            adapter(|m| load(&m.bad_packets)),
        );
        family("tarsmon_requests_total", "Requests dispatched.", "counter", adapter(|m| load(&m.requests)));
        family(
            "tarsmon_oneway_requests_total",
            "Oneway requests dispatched.",
            "counter",
            adapter(|m| load(&m.oneway_requests)),
        );
        family(
            "tarsmon_error_replies_total",
            "Calls that failed (non-zero iRet).",
            "counter",
            adapter(|m| load(&m.error_replies)),
        );
        let pipe = |f: fn(&PipelineStats) -> String| -> Vec<(String, String)> {
            self.pipelines
                .iter()
                .map(|(t, p)| (format!("{{table=\"{t}\"}}"), f(&p.pipeline_stats())))
                .collect()
        };
        family(
            "tarsmon_rows_merged_total",
            "Report rows merged into an open row.",
            "counter",
            pipe(|s| s.merged.to_string()),
        );
        family(
            "tarsmon_rows_inserted_total",
            "Report rows that opened a row.",
            "counter",
            pipe(|s| s.inserted.to_string()),
        );
        family(
            "tarsmon_rows_dropped_total",
            "Report rows dropped: memory budget exhausted.",
            "counter",
            pipe(|s| s.dropped.to_string()),
        );
        family(
            "tarsmon_open_bytes",
            "Estimated memory of open rows.",
            "gauge",
            pipe(|s| s.open_bytes.to_string()),
        );
        family(
            "tarsmon_memory_budget_bytes",
            "Memory budget for open rows.",
            "gauge",
            pipe(|s| s.memory_budget.to_string()),
        );
        family(
            "tarsmon_slots_sealed_total",
            "Slots sealed into the store.",
            "counter",
            pipe(|s| s.sealed_slots.to_string()),
        );
        family(
            "tarsmon_rows_sealed_total",
            "Rows sealed into the store.",
            "counter",
            pipe(|s| s.sealed_rows.to_string()),
        );
        family(
            "tarsmon_checkpoints_total",
            "Checkpoints of the open slot.",
            "counter",
            pipe(|s| s.checkpoints.to_string()),
        );
        family(
            "tarsmon_persist_errors_total",
            "Failed seal or checkpoint attempts (retried).",
            "counter",
            pipe(|s| s.persist_errors.to_string()),
        );
        family(
            "tarsmon_hours_compacted_total",
            "Closed hours merged into fewer chunks.",
            "counter",
            pipe(|s| s.compacted_hours.to_string()),
        );
        family(
            "tarsmon_compact_errors_total",
            "Failed hour compactions (retried; the hour stays readable).",
            "counter",
            pipe(|s| s.compact_errors.to_string()),
        );
        if let Some(s) = &self.stat {
            let c = s.counters();
            let one = |v: u64| vec![(String::new(), v.to_string())];
            family("tarsmon_stat_reports_total", "reportMicMsg calls.", "counter", one(load(&c.reports)));
            family(
                "tarsmon_stat_entries_total",
                "Stat entries aggregated.",
                "counter",
                one(load(&c.entries)),
            );
            family(
                "tarsmon_stat_empty_entries_total",
                "Stat entries without calls (dropped, as tarsstat does).",
                "counter",
                one(load(&c.empty_entries)),
            );
            family(
                "tarsmon_stat_dropped_entries_total",
                "Stat entries dropped: memory budget exhausted.",
                "counter",
                one(load(&c.dropped_entries)),
            );
            family(
                "tarsmon_stat_sample_reports_total",
                "reportSampleMsg calls.",
                "counter",
                one(load(&c.sample_reports)),
            );
        }
        for f in &self.extra {
            f(&mut out);
        }
        out
    }
}
