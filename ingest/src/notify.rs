//! Notifications (alarms and status messages): one [`NotifyRecord`] per `reportNotifyInfo`
//! call, with the fields of tarsnotify's `t_server_notifys` table (spec §4.4), and tarsnotify's
//! rules for deriving them (§4.3). Notifications are not aggregated.
//!
//! The rules are pure functions, so the servant and the MySQL exporter apply them alike:
//! [`node_id`] and [`server_id`] (`App.Server_<node>`, the key TarsWeb reads by),
//! [`command`] (from the message for REPORT, from the level for NOTIFY) and [`split_set`].
//! [`NotifyRecord::from_report`] applies all of them. Filters (`<filter>` in tarsnotify's
//! config, [`NotifyFilter`]) are applied by the servant before a record is made.
//!
//! Storage goes through the same [`crate::Pipeline`] as the aggregated tables: every record
//! is a row of its own ([`NotifyEntry`], keyed by a process-unique id), so the open slot is
//! checkpointed and sealed like `stat`'s. [`retention`] keeps the newest N per `server_id`.

mod batch;
pub mod retention;

pub use batch::{NotifyBatchBuilder, notify_schema, read_notify_batch};

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::time::TimestampMs;

/// `ReportInfo.eType` (spec §4.1 `enum ReportType { REPORT, NOTIFY }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyKind {
    /// `REPORT` (0): framework information, `RemoteNotify::report` (restarts, config reloads).
    Report,
    /// `NOTIFY` (1): a business alarm, `TARS_NOTIFY_NORMAL/WARN/ERROR`.
    Notify,
}

impl NotifyKind {
    /// The kind of wire value `v`; `None` for a value the IDL does not define (tarsnotify
    /// only logs "unknown type"; what to do with such a report is the servant's choice).
    pub fn from_wire(v: i32) -> Option<Self> {
        match v {
            0 => Some(NotifyKind::Report),
            1 => Some(NotifyKind::Notify),
            _ => None,
        }
    }

    /// The value of the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Report => "report",
            NotifyKind::Notify => "notify",
        }
    }

    /// Parses the `kind` column.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "report" => Some(NotifyKind::Report),
            "notify" => Some(NotifyKind::Notify),
            _ => None,
        }
    }
}

/// `ReportInfo.eLevel` (spec §4.1 `enum NOTIFYLEVEL { NOTIFYNORMAL, NOTIFYWARN, NOTIFYERROR }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NotifyLevel {
    /// `NOTIFYNORMAL` (0), also the default of the optional field.
    #[default]
    Normal,
    /// `NOTIFYWARN` (1).
    Warn,
    /// `NOTIFYERROR` (2).
    Error,
}

impl NotifyLevel {
    /// The level of wire value `v`. A value the IDL does not define is `Normal`, which is how
    /// tarsnotify's `command` rule treats it ("else `[normal]`", §4.3).
    pub fn from_wire(v: i32) -> Self {
        match v {
            1 => NotifyLevel::Warn,
            2 => NotifyLevel::Error,
            _ => NotifyLevel::Normal,
        }
    }

    /// The value of the `level` column.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::Normal => "normal",
            NotifyLevel::Warn => "warn",
            NotifyLevel::Error => "error",
        }
    }

    /// Parses the `level` column.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "normal" => Some(NotifyLevel::Normal),
            "warn" => Some(NotifyLevel::Warn),
            "error" => Some(NotifyLevel::Error),
            _ => None,
        }
    }
}

/// The `command` column: the severity tag TarsWeb shows (spec §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyCommand {
    /// `[alarm]`.
    Alarm,
    /// `[error]`.
    Error,
    /// `[warn]`.
    Warn,
    /// `[normal]`.
    Normal,
}

impl NotifyCommand {
    /// The value of the `command` column, as tarsnotify writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyCommand::Alarm => "[alarm]",
            NotifyCommand::Error => "[error]",
            NotifyCommand::Warn => "[warn]",
            NotifyCommand::Normal => "[normal]",
        }
    }

    /// Parses the `command` column.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "[alarm]" => Some(NotifyCommand::Alarm),
            "[error]" => Some(NotifyCommand::Error),
            "[warn]" => Some(NotifyCommand::Warn),
            "[normal]" => Some(NotifyCommand::Normal),
            _ => None,
        }
    }
}

/// The reporter's node: `sNodeName`, or the peer IP when that is empty.
///
/// Spec §4.3: "`nodeId = info.sNodeName`, or `current->getIp()` if that is empty."
pub fn node_id<'a>(node_name: &'a str, peer_ip: &'a str) -> &'a str {
    if node_name.is_empty() { peer_ip } else { node_name }
}

/// The `server_id` column: `App.Server_<node>`.
///
/// Spec §4.3: "`sApp + "." + sServer + "_" + nodeId` (e.g. `Test.HelloServer_10.0.0.5`)"; §4.4:
/// TarsWeb reads by `server_id IN ('App.Server_<node>', …)`, so the format is a contract.
pub fn server_id(app: &str, server: &str, node_id: &str) -> String {
    let mut id = String::with_capacity(app.len() + server.len() + node_id.len() + 2);
    id.push_str(app);
    id.push('.');
    id.push_str(server);
    id.push('_');
    id.push_str(node_id);
    id
}

/// The `command` column.
///
/// Spec §4.3: "For REPORT it is derived from the message text: contains `[alarm]` → `[alarm]`;
/// `[error]` → `[error]`; `[warn]` → `[warn]`; `[fail]` → `[error]`; otherwise `[normal]`. For
/// NOTIFY it comes from eLevel: ERROR → `[error]`, WARN → `[warn]`, else `[normal]`."
/// The markers are tested in that order and are case-sensitive (a substring search).
pub fn command(kind: NotifyKind, level: NotifyLevel, message: &str) -> NotifyCommand {
    match kind {
        NotifyKind::Report => {
            if message.contains("[alarm]") {
                NotifyCommand::Alarm
            } else if message.contains("[error]") {
                NotifyCommand::Error
            } else if message.contains("[warn]") {
                NotifyCommand::Warn
            } else if message.contains("[fail]") {
                NotifyCommand::Error
            } else {
                NotifyCommand::Normal
            }
        }
        NotifyKind::Notify => match level {
            NotifyLevel::Error => NotifyCommand::Error,
            NotifyLevel::Warn => NotifyCommand::Warn,
            NotifyLevel::Normal => NotifyCommand::Normal,
        },
    }
}

/// A server's set (`sSet`, `name.area.group`), split into the `set_*` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetDivision<'a> {
    /// `set_name`.
    pub name: &'a str,
    /// `set_area`.
    pub area: &'a str,
    /// `set_group`.
    pub group: &'a str,
}

/// Splits `sSet` into name, area and group; `None` when it is malformed.
///
/// Spec §4.3: "split of `sSet` on `.` when it has exactly 3 parts and neither of the first two
/// is `*`. All `''` when sSet is empty. Omitted (NULL) with an error log when malformed." Taken
/// literally: the third part may be `*`, and parts may be empty (`a..1`). Logging or counting a
/// malformed set is the caller's job.
pub fn split_set(set: &str) -> Option<SetDivision<'_>> {
    if set.is_empty() {
        return Some(SetDivision { name: "", area: "", group: "" });
    }
    let mut parts = set.split('.');
    let (name, area, group) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || name == "*" || area == "*" {
        return None;
    }
    Some(SetDivision { name, area, group })
}

/// The fields of one `ReportInfo` as received (spec §4.1), borrowed from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyReport<'a> {
    /// `eType`.
    pub kind: NotifyKind,
    /// `sApp`.
    pub app: &'a str,
    /// `sSet` (`name.area.group`, or empty).
    pub set: &'a str,
    /// `sContainer`.
    pub container: &'a str,
    /// `sServer`.
    pub server: &'a str,
    /// `sMessage`.
    pub message: &'a str,
    /// `sThreadId` (optional on the wire: empty when absent).
    pub thread_id: &'a str,
    /// `eLevel` (optional on the wire: `Normal` when absent).
    pub level: NotifyLevel,
    /// `sNodeName` (optional, added in 2019: empty when absent).
    pub node_name: &'a str,
}

/// One row of the `notify` table: a notification as tarsnotify would insert it into
/// `t_server_notifys` (spec §4.4), plus its kind and level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyRecord {
    /// When it was received, by this server's clock (`notifytime`; tarsnotify used the MySQL
    /// server's `now()`).
    pub notifytime: TimestampMs,
    /// `sApp`.
    pub application: String,
    /// `sServer`.
    pub server_name: String,
    /// `sContainer`.
    pub container_name: String,
    /// The reporter's node ([`node_id`]).
    pub node_name: String,
    /// Set name ([`split_set`]); `None` when the set was malformed.
    pub set_name: Option<String>,
    /// Set area; `None` when the set was malformed.
    pub set_area: Option<String>,
    /// Set group; `None` when the set was malformed.
    pub set_group: Option<String>,
    /// `App.Server_<node>` ([`server_id`]).
    pub server_id: String,
    /// `sThreadId`.
    pub thread_id: String,
    /// The severity tag ([`command`]).
    pub command: NotifyCommand,
    /// `sMessage` (the `result` column).
    pub result: String,
    /// `eType`.
    pub kind: NotifyKind,
    /// `eLevel` (`Normal` for REPORTs, which do not set it).
    pub level: NotifyLevel,
}

impl NotifyRecord {
    /// Heap bytes the record holds (for the memory budget).
    pub fn heap_bytes(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        self.application.len()
            + self.server_name.len()
            + self.container_name.len()
            + self.node_name.len()
            + opt(&self.set_name)
            + opt(&self.set_area)
            + opt(&self.set_group)
            + self.server_id.len()
            + self.thread_id.len()
            + self.result.len()
    }

    /// The record tarsnotify's rules make of `report`, received at `now` from `peer_ip`.
    pub fn from_report(report: &NotifyReport<'_>, peer_ip: &str, now: TimestampMs) -> Self {
        let node = node_id(report.node_name, peer_ip);
        let set = split_set(report.set);
        NotifyRecord {
            notifytime: now,
            application: report.app.to_owned(),
            server_name: report.server.to_owned(),
            container_name: report.container.to_owned(),
            node_name: node.to_owned(),
            set_name: set.map(|s| s.name.to_owned()),
            set_area: set.map(|s| s.area.to_owned()),
            set_group: set.map(|s| s.group.to_owned()),
            server_id: server_id(report.app, report.server, node),
            thread_id: report.thread_id.to_owned(),
            command: command(report.kind, report.level, report.message),
            result: report.message.to_owned(),
            kind: report.kind,
            level: report.level,
        }
    }
}

/// Ids of [`NotifyEntry`]s: unique within the process, which is all the open slot needs.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A notification as a row of the pipeline: the record and a process-unique id, so two equal
/// notifications in the same slot stay two rows. Hashes and compares by id only.
#[derive(Debug, Clone)]
pub struct NotifyEntry {
    /// Unique within this process (not stored).
    pub id: u64,
    /// The notification.
    pub record: NotifyRecord,
}

impl NotifyEntry {
    /// `record` under a fresh id.
    pub fn new(record: NotifyRecord) -> Self {
        Self { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), record }
    }
}

impl PartialEq for NotifyEntry {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for NotifyEntry {}

impl Hash for NotifyEntry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl From<&NotifyEntry> for NotifyEntry {
    fn from(e: &NotifyEntry) -> Self {
        e.clone()
    }
}

/// The "value" of a notification row: nothing to aggregate (entries never share a key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NotifyValue;

/// tarsnotify's `<filter>`: messages containing any listed substring are dropped, by default
/// (`default=`) or for one server.
///
/// Keys are `App.Server`, as tarsnotify's own config comment says; tarsnotify itself looks up
/// `AppServer` (no dot, spec §4.3 BUG?), which is also accepted so existing configs keep
/// working. A server with its own list uses it *and* the default list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyFilter {
    default: Vec<String>,
    servers: HashMap<String, Vec<String>>,
}

impl NotifyFilter {
    /// Builds the filter from `key → patterns` (`default` is the list for every server).
    /// Each value may hold several substrings separated by `|` or `;`, as in tarsnotify;
    /// empty ones are ignored.
    pub fn new<'a>(rules: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut f = NotifyFilter::default();
        for (key, patterns) in rules {
            let list: Vec<String> =
                patterns.split(['|', ';']).filter(|p| !p.is_empty()).map(str::to_owned).collect();
            if key == "default" {
                f.default.extend(list);
            } else {
                f.servers.entry(key.to_owned()).or_default().extend(list);
            }
        }
        f
    }

    /// Whether the message of `app`.`server` is dropped.
    pub fn drops(&self, app: &str, server: &str, message: &str) -> bool {
        if self.default.iter().any(|p| message.contains(p.as_str())) {
            return true;
        }
        if self.servers.is_empty() {
            return false;
        }
        let dotted = format!("{app}.{server}");
        let joined = format!("{app}{server}");
        [dotted, joined]
            .iter()
            .filter_map(|k| self.servers.get(k))
            .any(|list| list.iter().any(|p| message.contains(p.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_drop_by_substring_default_and_per_server() {
        let f = NotifyFilter::new([("default", "heartbeat|ping;"), ("Test.HelloServer", "reload")]);
        assert!(f.drops("A", "B", "a heartbeat"));
        assert!(f.drops("A", "B", "ping"));
        assert!(!f.drops("A", "B", "reload config"));
        assert!(f.drops("Test", "HelloServer", "reload config"));
        assert!(!f.drops("Test", "HelloServer", "restart"));
        // tarsnotify's own (dotless) key still works.
        let f = NotifyFilter::new([("TestHelloServer", "x")]);
        assert!(f.drops("Test", "HelloServer", "x"));
        assert!(!f.drops("Test", "Other", "x"));
        assert!(!NotifyFilter::default().drops("a", "b", "anything"));
    }

    #[test]
    fn entries_are_distinct_even_when_equal() {
        let r = NotifyRecord::from_report(
            &NotifyReport {
                kind: NotifyKind::Report,
                app: "A",
                set: "",
                container: "",
                server: "B",
                message: "m",
                thread_id: "",
                level: NotifyLevel::Normal,
                node_name: "n",
            },
            "1.1.1.1",
            TimestampMs(5),
        );
        let (a, b) = (NotifyEntry::new(r.clone()), NotifyEntry::new(r));
        assert_ne!(a, b);
        assert_eq!(a, NotifyEntry::from(&a));
    }

    #[test]
    fn server_id_is_app_dot_server_underscore_node() {
        // §4.3 example: `Test.HelloServer_10.0.0.5`.
        assert_eq!(server_id("Test", "HelloServer", "10.0.0.5"), "Test.HelloServer_10.0.0.5");
        assert_eq!(server_id("", "", ""), "._");
    }

    #[test]
    fn node_id_falls_back_to_the_peer_ip() {
        assert_eq!(node_id("node-1", "10.0.0.5"), "node-1");
        assert_eq!(node_id("", "10.0.0.5"), "10.0.0.5");
    }

    #[test]
    fn report_command_comes_from_the_message_in_order() {
        let c = |m| command(NotifyKind::Report, NotifyLevel::Error, m);
        assert_eq!(c("restart [alarm] now"), NotifyCommand::Alarm);
        assert_eq!(c("[error] disk"), NotifyCommand::Error);
        assert_eq!(c("x[warn]"), NotifyCommand::Warn);
        assert_eq!(c("reload [fail]"), NotifyCommand::Error);
        assert_eq!(c("restart"), NotifyCommand::Normal);
        // The level does not matter for REPORT; the first marker in the rule's order wins.
        assert_eq!(c("[warn] then [alarm]"), NotifyCommand::Alarm);
        assert_eq!(c("[fail] [warn]"), NotifyCommand::Warn);
        assert_eq!(c("[error][warn]"), NotifyCommand::Error);
        // Case-sensitive, whole markers only.
        assert_eq!(c("[ERROR] [Warn] error warn"), NotifyCommand::Normal);
        assert_eq!(c(""), NotifyCommand::Normal);
    }

    #[test]
    fn notify_command_comes_from_the_level() {
        let c = |l| command(NotifyKind::Notify, l, "[alarm] ignored for NOTIFY");
        assert_eq!(c(NotifyLevel::Error), NotifyCommand::Error);
        assert_eq!(c(NotifyLevel::Warn), NotifyCommand::Warn);
        assert_eq!(c(NotifyLevel::Normal), NotifyCommand::Normal);
        assert_eq!(c(NotifyLevel::from_wire(7)), NotifyCommand::Normal);
    }

    #[test]
    fn wire_values_map_to_kinds_and_levels() {
        assert_eq!(NotifyKind::from_wire(0), Some(NotifyKind::Report));
        assert_eq!(NotifyKind::from_wire(1), Some(NotifyKind::Notify));
        assert_eq!(NotifyKind::from_wire(2), None);
        assert_eq!(NotifyLevel::from_wire(0), NotifyLevel::Normal);
        assert_eq!(NotifyLevel::from_wire(1), NotifyLevel::Warn);
        assert_eq!(NotifyLevel::from_wire(2), NotifyLevel::Error);
        assert_eq!(NotifyLevel::from_wire(-1), NotifyLevel::Normal);
        for k in [NotifyKind::Report, NotifyKind::Notify] {
            assert_eq!(NotifyKind::parse(k.as_str()), Some(k));
        }
        for l in [NotifyLevel::Normal, NotifyLevel::Warn, NotifyLevel::Error] {
            assert_eq!(NotifyLevel::parse(l.as_str()), Some(l));
        }
        for c in [NotifyCommand::Alarm, NotifyCommand::Error, NotifyCommand::Warn, NotifyCommand::Normal] {
            assert_eq!(NotifyCommand::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn set_splits_into_three_parts_unless_malformed() {
        let s = |name, area, group| Some(SetDivision { name, area, group });
        assert_eq!(split_set(""), s("", "", ""));
        assert_eq!(split_set("mtt.sz.1"), s("mtt", "sz", "1"));
        // Only the first two parts may not be `*`.
        assert_eq!(split_set("mtt.sz.*"), s("mtt", "sz", "*"));
        assert_eq!(split_set("mtt.*.1"), None);
        assert_eq!(split_set("*.sz.1"), None);
        // Exactly three parts.
        assert_eq!(split_set("mtt"), None);
        assert_eq!(split_set("mtt.sz"), None);
        assert_eq!(split_set("mtt.sz.1.2"), None);
        assert_eq!(split_set("a..1"), s("a", "", "1"));
    }

    #[test]
    fn a_report_becomes_a_record() {
        let report = NotifyReport {
            kind: NotifyKind::Report,
            app: "Test",
            set: "mtt.sz.1",
            container: "c1",
            server: "HelloServer",
            message: "config reload [fail]",
            thread_id: "1234",
            level: NotifyLevel::Normal,
            node_name: "",
        };
        let r = NotifyRecord::from_report(&report, "10.0.0.5", TimestampMs(1_700_000_000_123));
        assert_eq!(r.server_id, "Test.HelloServer_10.0.0.5");
        assert_eq!(r.node_name, "10.0.0.5");
        assert_eq!(r.command, NotifyCommand::Error);
        assert_eq!(
            (r.set_name.as_deref(), r.set_area.as_deref(), r.set_group.as_deref()),
            (Some("mtt"), Some("sz"), Some("1"))
        );
        assert_eq!(
            (r.result.as_str(), r.thread_id.as_str(), r.container_name.as_str()),
            ("config reload [fail]", "1234", "c1")
        );
        assert_eq!(r.notifytime, TimestampMs(1_700_000_000_123));

        let alarm = NotifyReport {
            kind: NotifyKind::Notify,
            level: NotifyLevel::Warn,
            set: "x.*.1",
            node_name: "n1",
            ..report
        };
        let r = NotifyRecord::from_report(&alarm, "10.0.0.5", TimestampMs(0));
        assert_eq!((r.server_id.as_str(), r.node_name.as_str()), ("Test.HelloServer_n1", "n1"));
        assert_eq!(r.command, NotifyCommand::Warn);
        assert_eq!((r.set_name, r.set_area, r.set_group), (None, None, None));
    }
}
