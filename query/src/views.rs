//! SQL views with the column names of the classic MySQL tables, so SQL written for
//! `tars_stat_YYYYMMDDHH` and `tars_property_YYYYMMDDHH` runs unchanged.

/// The `tars_stat` view: `stat` rolled up into TARS's 5-minute rows with `f_date`/`f_tflag`,
/// the MySQL column names, and the derived columns of the original (`interv_count`,
/// `ave_time`). Client and server reports stay apart (`source`), as in `stat`.
pub const TARS_STAT: &str = "CREATE VIEW tars_stat AS SELECT
  tars_fdate(time) AS f_date,
  tars_tflag(time) AS f_tflag,
  min(time) AS stattime,
  'tarsmon' AS source_id,
  source,
  master_name, slave_name, interface_name, tars_version, master_ip, slave_ip, slave_port, return_value,
  slave_set_name, slave_set_area, slave_set_id,
  sum(succ_count) AS succ_count,
  sum(timeout_count) AS timeout_count,
  sum(exce_count) AS exce_count,
  concat('5|', sum(interv_5), ',10|', sum(interv_10), ',50|', sum(interv_50), ',100|', sum(interv_100),
         ',200|', sum(interv_200), ',500|', sum(interv_500), ',1000|', sum(interv_1000),
         ',2000|', sum(interv_2000), ',3000|', sum(interv_3000)) AS interv_count,
  sum(total_time) AS total_time,
  CASE WHEN sum(succ_count) > 0 THEN greatest(1, sum(total_time) / sum(succ_count)) ELSE 0 END AS ave_time,
  max(max_rsp_time) AS maxrsp_time,
  coalesce(min(CASE WHEN min_rsp_time > 0 THEN min_rsp_time END), 0) AS minrsp_time,
  sum(interv_5) AS interv_5, sum(interv_10) AS interv_10, sum(interv_50) AS interv_50,
  sum(interv_100) AS interv_100, sum(interv_200) AS interv_200, sum(interv_500) AS interv_500,
  sum(interv_1000) AS interv_1000, sum(interv_2000) AS interv_2000, sum(interv_3000) AS interv_3000
FROM stat
GROUP BY tars_fdate(time), tars_tflag(time), source, master_name, slave_name, interface_name, tars_version,
  master_ip, slave_ip, slave_port, return_value, slave_set_name, slave_set_area, slave_set_id";

/// The `tars_property` view: `property` rolled up into TARS's 5-minute rows with the column
/// names of `tars_property_YYYYMMDDHH`. `value` is text, as in MySQL: whole numbers without a
/// decimal point, `Avg` as the sample-weighted average, `Distr` as the merged `label|count,…`
/// histogram. `num_value` is the same value as a number; `sum`, `count` and `distr` keep what
/// exact re-aggregation needs (e.g. `sum(sum) / sum(count)` across IPs for `Avg`).
pub const TARS_PROPERTY: &str = "CREATE VIEW tars_property AS SELECT
  f_date, f_tflag, stattime, master_name, master_ip, property_name, set_name, set_area, set_id, policy,
  CASE
    WHEN policy = 'Distr' THEN distr
    WHEN num_value = trunc(num_value) AND abs(num_value) < 9007199254740992.0
      THEN CAST(CAST(num_value AS BIGINT) AS VARCHAR)
    ELSE CAST(num_value AS VARCHAR)
  END AS value,
  num_value, sum, count, distr
FROM (SELECT
  tars_fdate(time) AS f_date,
  tars_tflag(time) AS f_tflag,
  min(time) AS stattime,
  module_name AS master_name, ip AS master_ip, property_name, set_name, set_area, set_id, policy,
  CASE policy
    WHEN 'Max' THEN max(value)
    WHEN 'Min' THEN min(value)
    WHEN 'Avg' THEN CASE WHEN sum(count) > 0 THEN sum(sum) / sum(count) ELSE 0.0 END
    ELSE sum(value)
  END AS num_value,
  sum(sum) AS sum,
  sum(count) AS count,
  tars_distr_merge(distr) AS distr
FROM property
GROUP BY tars_fdate(time), tars_tflag(time), module_name, ip, property_name, set_name, set_area, set_id, policy)";
