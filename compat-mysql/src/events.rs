//! [`ExportEvent`]: the exporter's outage and recovery, for a hook that turns them into
//! notifications (tarsmon records them in its own `notify` table).

use std::fmt;
use std::sync::Arc;

/// A change of the exporter's state. There is one [`ExportEvent::Failing`] per outage — on
/// the first failed tick after a healthy one (or on the very first tick) — and one
/// [`ExportEvent::Recovered`] when a tick succeeds again; the failed ticks in between emit
/// nothing, so a long outage does not flood anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportEvent {
    /// The export started failing; the data stays in the store and is retried.
    Failing {
        /// The first error of the failed tick, with its causes (`: `-separated).
        error: String,
        /// Complete 5-minute intervals not yet exported (the larger of the call-statistics
        /// and property backlogs).
        backlog_intervals: u64,
        /// Sealed notification slots not yet exported.
        notify_backlog_slots: u64,
    },
    /// A tick succeeded after a failing one; what is still waiting is being written.
    Recovered {
        /// Complete 5-minute intervals still to export after that tick.
        backlog_intervals: u64,
        /// Sealed notification slots still to export after that tick.
        notify_backlog_slots: u64,
    },
}

impl ExportEvent {
    /// Whether this is the start of an outage.
    pub fn is_failing(&self) -> bool {
        matches!(self, ExportEvent::Failing { .. })
    }

    /// A one-line text for people: `MySQL export failing: <error>; 3 intervals waiting` or
    /// `MySQL export recovered; backlog 3 intervals`, the notify slots added when there are
    /// any.
    pub fn message(&self) -> String {
        let notify = |n: u64| if n > 0 { format!(" and {n} notification slots") } else { String::new() };
        match self {
            ExportEvent::Failing { error, backlog_intervals, notify_backlog_slots } => format!(
                "MySQL export failing: {error}; {backlog_intervals} intervals{} waiting",
                notify(*notify_backlog_slots)
            ),
            ExportEvent::Recovered { backlog_intervals, notify_backlog_slots } => format!(
                "MySQL export recovered; backlog {backlog_intervals} intervals{}",
                notify(*notify_backlog_slots)
            ),
        }
    }
}

impl fmt::Display for ExportEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// A hook called with every [`ExportEvent`], on the exporter's task, right after the tick
/// that caused it. It must return quickly and must not block (recording into an in-memory
/// pipeline is fine; a network call is not).
pub type ExportHook = Arc<dyn Fn(&ExportEvent) + Send + Sync>;

/// An optional [`ExportHook`] that `Debug` can print.
#[derive(Clone, Default)]
pub(crate) struct HookSlot(pub(crate) Option<ExportHook>);

impl fmt::Debug for HookSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(<hook>)" } else { "None" })
    }
}

impl HookSlot {
    pub(crate) fn emit(&self, event: &ExportEvent) {
        if let Some(hook) = &self.0 {
            hook(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_error_and_the_backlog() {
        let failing = ExportEvent::Failing {
            error: "MySQL 127.0.0.1:3306: connecting: refused".into(),
            backlog_intervals: 3,
            notify_backlog_slots: 0,
        };
        assert_eq!(
            failing.message(),
            "MySQL export failing: MySQL 127.0.0.1:3306: connecting: refused; 3 intervals waiting"
        );
        assert!(failing.is_failing());
        let recovered = ExportEvent::Recovered { backlog_intervals: 2, notify_backlog_slots: 5 };
        assert_eq!(
            recovered.to_string(),
            "MySQL export recovered; backlog 2 intervals and 5 notification slots"
        );
        assert!(!recovered.is_failing());
    }
}
