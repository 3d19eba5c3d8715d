//! The DDL of the classic tables, character for character as tarsstat, tarsproperty and
//! TarsWeb create them (spec §6.4, §7, §4.4), except for `IF NOT EXISTS`: creating a table that
//! is already there is then not an error, so creation can be retried blindly. Plus the
//! exporter's own [`export_marker_table`].
//!
//! Database and table names are spliced into the statements; callers pass only names checked
//! by [`crate::ExporterConfig::sanitize`] or built by [`hour_table`].

use chrono::{Datelike, NaiveDate};

/// Prefix of the hourly call-statistics tables. tarsquerystat hard-codes `<dbname>_` as the
/// prefix (spec §6.4), so any other prefix would write tables nobody reads.
pub const STAT_TABLE_PREFIX: &str = "tars_stat_";

/// Prefix of the hourly property tables (hard-coded by tarsqueryproperty in the same way).
pub const PROPERTY_TABLE_PREFIX: &str = "tars_property_";

/// The notifications table TarsWeb reads (in the notify database).
pub const SERVER_NOTIFYS_TABLE: &str = "t_server_notifys";

/// The exporter's own bookkeeping table in the property and notify databases: one row per
/// 5-minute interval (property) or base slot (notify) it has written, committed in the same
/// transaction as the rows (see [`export_marker_table`]).
pub const EXPORT_MARKER_TABLE: &str = "t_tarsmon_export";

/// `CREATE DATABASE IF NOT EXISTS` for `db`.
pub fn create_database(db: &str) -> String {
    format!("CREATE DATABASE IF NOT EXISTS `{db}`")
}

/// The name of the hourly table of `prefix` for `date` and `hour` (0..=23): `prefix`
/// + `YYYYMMDDHH`, tarsstat's `CutType=hour` naming.
pub fn hour_table(prefix: &str, date: NaiveDate, hour: u32) -> String {
    format!("{prefix}{:04}{:02}{:02}{hour:02}", date.year(), date.month(), date.day())
}

/// The hourly call-statistics table `db`.`table` (tarsstat's template `sql=`).
pub fn stat_table(db: &str, table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS `{db}`.`{table}`(
 `stattime` timestamp NOT NULL default CURRENT_TIMESTAMP,
 `f_date` date NOT NULL default '1970-01-01',
 `f_tflag` varchar(8) NOT NULL default '',
 `source_id` varchar(15) NOT NULL default '',
 `master_name` varchar(128) NOT NULL default '',
 `slave_name` varchar(128) NOT NULL default '',
 `interface_name` varchar(128) NOT NULL default '',
 `tars_version` varchar(16) NOT NULL default '',
 `master_ip` varchar(15) NOT NULL default '',
 `slave_ip` varchar(21) NOT NULL default '',
 `slave_port` int(10) NOT NULL default 0,
 `return_value` int(11) NOT NULL default 0,
 `succ_count` int(10) unsigned default NULL,
 `timeout_count` int(10) unsigned default NULL,
 `exce_count` int(10) unsigned default NULL,
 `interv_count` varchar(128) default NULL,
 `total_time` bigint(20) unsigned default NULL,
 `ave_time` int(10) unsigned default NULL,
 `maxrsp_time` int(10) unsigned default NULL,
 `minrsp_time` int(10) unsigned default NULL,
 PRIMARY KEY (`source_id`,`f_date`,`f_tflag`,`master_name`,`slave_name`,`interface_name`,`master_ip`,`slave_ip`,`slave_port`,`return_value`,`tars_version`),
 KEY `IDX_TIME` (`stattime`), KEY `IDC_MASTER` (`master_name`), KEY `IDX_INTERFACENAME` (`interface_name`),
 KEY `IDX_FLAGSLAVE` (`f_tflag`,`slave_name`), KEY `IDX_SLAVEIP` (`slave_ip`), KEY `IDX_SLAVE` (`slave_name`),
 KEY `IDX_RETVALUE` (`return_value`), KEY `IDX_MASTER_IP` (`master_ip`), KEY `IDX_F_DATE` (`f_date`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8"
    )
}

/// `t_ecstatus` in `db`: the last exported interval per writer (tarsstat's built-in
/// `sqlStatus`; the same table exists in the property database). A MEMORY table, so MySQL
/// empties it on restart, as in the original.
pub fn ecstatus_table(db: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS `{db}`.`t_ecstatus` (
  `id` int(11) NOT NULL auto_increment,
  `appname` varchar(64) NOT NULL default '',
  `action` tinyint(4) NOT NULL default '0',
  `checkint` smallint(6) NOT NULL default '10',
  `lasttime` varchar(16) NOT NULL default '',
  PRIMARY KEY (`appname`,`action`),
  UNIQUE KEY `id` (`id`)
) ENGINE=HEAP DEFAULT CHARSET=utf8"
    )
}

/// The hourly property table `db`.`table` (tarsproperty's template `sql=`). It has no primary
/// key, so `INSERT IGNORE` does not de-duplicate it; idempotency has to come from the writer.
pub fn property_table(db: &str, table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS `{db}`.`{table}` (
 `stattime` timestamp NOT NULL default CURRENT_TIMESTAMP,
 `f_date` date NOT NULL default '1970-01-01',
 `f_tflag` varchar(8) NOT NULL default '',
 `master_name` varchar(128) NOT NULL default '',
 `master_ip` varchar(16) default NULL,
 `property_name` varchar(100) default NULL,
 `set_name` varchar(15) NOT NULL default '',
 `set_area` varchar(15) NOT NULL default '',
 `set_id` varchar(15) NOT NULL default '',
 `policy` varchar(20) default NULL,
 `value` varchar(255) default NULL,
 KEY (`f_date`,`f_tflag`,`master_name`,`master_ip`,`property_name`,`policy`),
 KEY `IDX_MASTER_NAME` (`master_name`), KEY `IDX_MASTER_IP` (`master_ip`), KEY `IDX_TIME` (`stattime`)
) ENGINE=Innodb"
    )
}

/// `t_server_notifys` in `db` (FW 1.4.0's tarsnotify `sql=`, the index names of the SQL file).
pub fn server_notifys_table(db: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS `{db}`.`{SERVER_NOTIFYS_TABLE}` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `application` varchar(128) DEFAULT '',
  `server_name` varchar(128) DEFAULT NULL,
  `container_name` varchar(128) DEFAULT '',
  `node_name` varchar(128) NOT NULL DEFAULT '',
  `set_name` varchar(16) DEFAULT NULL,
  `set_area` varchar(16) DEFAULT NULL,
  `set_group` varchar(16) DEFAULT NULL,
  `server_id` varchar(100) DEFAULT NULL,
  `thread_id` varchar(20) DEFAULT NULL,
  `command` varchar(50) DEFAULT NULL,
  `result` text,
  `notifytime` datetime DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `index_name` (`server_name`),
  KEY `servernoticetime_i_1` (`notifytime`),
  KEY `indx_1_server_id` (`server_id`),
  KEY `query_index` (`application`,`server_name`,`node_name`,`set_name`,`set_area`,`set_group`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8"
    )
}

/// The exporter's marker table in `db`. Not a TARS table: tarsmon's own, because the property
/// and notify tables have no key that makes a second write of the same rows a no-op (the
/// property table has no primary key, `t_server_notifys` an `AUTO_INCREMENT` one).
///
/// `writer` names the table and the exporter (`property:<source_id>`, `notify:<source_id>`),
/// `slot` is the start of the written interval or slot in epoch milliseconds, `label` the same
/// time as people read it. A row is inserted in the transaction that writes the data, so it
/// exists exactly when the data was committed; InnoDB, so it is transactional and survives a
/// restart (unlike `t_ecstatus`, a MEMORY table).
pub fn export_marker_table(db: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS `{db}`.`{EXPORT_MARKER_TABLE}` (
  `writer` varchar(64) NOT NULL,
  `slot` bigint(20) NOT NULL,
  `label` varchar(32) NOT NULL default '',
  `exported` timestamp NOT NULL default CURRENT_TIMESTAMP,
  PRIMARY KEY (`writer`,`slot`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8"
    )
}

/// Parses the date and hour out of an hourly table name `prefix` + `YYYYMMDDHH`; `None` for
/// any other name (so retention never touches tables it did not name).
pub(crate) fn parse_hour_table(prefix: &str, name: &str) -> Option<(NaiveDate, u32)> {
    let digits = name.strip_prefix(prefix)?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = NaiveDate::parse_from_str(&digits[..8], "%Y%m%d").ok()?;
    let hour: u32 = digits[8..].parse().ok()?;
    (hour < 24).then_some((date, hour))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hour_tables_round_trip() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 5).unwrap();
        assert_eq!(hour_table(STAT_TABLE_PREFIX, d, 9), "tars_stat_2024010509");
        assert_eq!(parse_hour_table(STAT_TABLE_PREFIX, "tars_stat_2024010509"), Some((d, 9)));
        for other in [
            "t_ecstatus",
            "tars_stat_20240105",
            "tars_stat_2024010524",
            "tars_stat_2024013209",
            "tars_stat_2024010509x",
        ] {
            assert_eq!(parse_hour_table(STAT_TABLE_PREFIX, other), None, "{other}");
        }
    }
}
