//! `tars.tarsquerystat.QueryObj` and `tars.tarsqueryproperty.QueryObj` (`MonitorQuery`):
//! TarsWeb's service-monitor and property-monitor queries, answered from the `stat` and
//! `property` tables (see `tarsmon_query::monitor` for the semantics and the fixes).
//!
//! tarsmon answers from its own store, which holds every row, so `ret` does not depend on
//! MySQL. `activeDb`, `totalDb` and `retThreads` describe the MySQL databases the exporter
//! writes, when it is on ([`QueryStatService::with_databases`]): how many there are, how
//! many are healthy, and one code per database (0 healthy, -1 failing). Without the exporter
//! they are `1`, `1`, `[0]`: one store, answering.

use std::sync::Arc;

use tarsmon_query::{Condition, MonitorRequest, Op, QueryEngine};

use crate::idl::monitor::{MonitorQueryReq, MonitorQueryRsp, QUERY};
use crate::servant::{Args, Current, Dispatch, Reply, Servant, ServantError};

/// Which table a MonitorQuery servant answers from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dataset {
    /// `dataid = "tars_stat"`.
    Stat,
    /// `dataid = "tars_property"`.
    Property,
}

impl Dataset {
    fn dataid(self) -> &'static str {
        match self {
            Dataset::Stat => "tars_stat",
            Dataset::Property => "tars_property",
        }
    }

    fn service(self) -> &'static str {
        match self {
            Dataset::Stat => "querystat",
            Dataset::Property => "queryproperty",
        }
    }
}

/// The databases behind an answer, as `MonitorQueryRsp` reports them (`activeDb`,
/// `totalDb`, `retThreads`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbStatus {
    /// `totalDb`: the databases configured.
    pub total: i32,
    /// `activeDb`: how many of them are healthy.
    pub active: i32,
    /// `retThreads`: one code per database, 0 healthy, -1 failing.
    pub codes: Vec<i32>,
}

impl DbStatus {
    /// One healthy database: tarsmon's own store, when no exporter is configured.
    pub fn single() -> Self {
        Self { total: 1, active: 1, codes: vec![0] }
    }

    /// The status of databases whose health, in order, is `up`.
    pub fn from_health(up: impl IntoIterator<Item = bool>) -> Self {
        let codes: Vec<i32> = up.into_iter().map(|up| if up { 0 } else { -1 }).collect();
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Self { total: count(codes.len()), active: count(codes.iter().filter(|c| **c == 0).count()), codes }
    }
}

impl Default for DbStatus {
    fn default() -> Self {
        Self::single()
    }
}

/// Where a servant reads the current [`DbStatus`] from, on every query (so it must be
/// cheap). The binary passes one that reads the MySQL exporter's database health; framework
/// itself knows nothing of MySQL.
pub type DbStatusSource = Arc<dyn Fn() -> DbStatus + Send + Sync>;

/// An optional [`DbStatusSource`] that `Debug` can print.
#[derive(Clone, Default)]
struct Databases(Option<DbStatusSource>);

impl Databases {
    fn status(&self) -> DbStatus {
        self.0.as_ref().map_or_else(DbStatus::single, |source| source())
    }
}

impl std::fmt::Debug for Databases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Some(<status source>)" } else { "None" })
    }
}

/// The querystat servant.
#[derive(Debug)]
pub struct QueryStatService {
    engine: Arc<QueryEngine>,
    databases: Databases,
}

impl QueryStatService {
    /// A servant answering from `engine`, reporting one healthy database.
    pub fn new(engine: Arc<QueryEngine>) -> Self {
        Self { engine, databases: Databases::default() }
    }

    /// Reports `activeDb`/`totalDb`/`retThreads` from `source` (the MySQL stat databases).
    pub fn with_databases(mut self, source: DbStatusSource) -> Self {
        self.databases = Databases(Some(source));
        self
    }
}

/// The queryproperty servant.
#[derive(Debug)]
pub struct QueryPropertyService {
    engine: Arc<QueryEngine>,
    databases: Databases,
}

impl QueryPropertyService {
    /// A servant answering from `engine`, reporting one healthy database.
    pub fn new(engine: Arc<QueryEngine>) -> Self {
        Self { engine, databases: Databases::default() }
    }

    /// Reports `activeDb`/`totalDb`/`retThreads` from `source` (the MySQL property database).
    pub fn with_databases(mut self, source: DbStatusSource) -> Self {
        self.databases = Databases(Some(source));
        self
    }
}

/// Translates the wire request; an unknown `OP` value is an error.
pub fn to_request(req: &MonitorQueryReq) -> Result<MonitorRequest, String> {
    let conditions = req
        .conditions
        .iter()
        .map(|c| {
            let op =
                Op::from_i32(c.op).ok_or_else(|| format!("unknown op {} for field {:?}", c.op, c.field))?;
            Ok(Condition { field: c.field.clone(), op, val: c.val.clone() })
        })
        .collect::<Result<_, String>>()?;
    Ok(MonitorRequest {
        date: req.date.clone(),
        tflag1: req.tflag1.clone(),
        tflag2: req.tflag2.clone(),
        conditions,
        indexs: req.indexs.clone(),
        groupby: req.groupby.clone(),
    })
}

/// A failed query: `ret = -1` and the reason; as in tarsquerystat, where every database runs
/// the same statement and fails it alike, every code of `retThreads` is -1.
fn error_rsp(msg: String, dbs: &DbStatus) -> MonitorQueryRsp {
    MonitorQueryRsp {
        ret: -1,
        msg,
        active_db: dbs.active,
        total_db: dbs.total,
        ret_threads: vec![-1; dbs.codes.len()],
        ..MonitorQueryRsp::default()
    }
}

/// A query answered from tarsmon's store, with the databases' status.
fn ok_rsp(r: tarsmon_query::MonitorResult, dbs: DbStatus) -> MonitorQueryRsp {
    MonitorQueryRsp {
        ret: 0,
        msg: String::new(),
        last_time: r.last_time,
        active_db: dbs.active,
        total_db: dbs.total,
        ret_threads: dbs.codes,
        result: r.result,
    }
}

async fn answer(
    engine: Arc<QueryEngine>,
    dataset: Dataset,
    req: MonitorQueryReq,
    dbs: DbStatus,
) -> MonitorQueryRsp {
    if req.dataid != dataset.dataid() {
        let msg = format!("{} serves dataid {:?}, not {:?}", dataset.service(), dataset.dataid(), req.dataid);
        return error_rsp(msg, &dbs);
    }
    let request = match to_request(&req) {
        Ok(r) => r,
        Err(e) => return error_rsp(e, &dbs),
    };
    let answer = match dataset {
        Dataset::Stat => engine.monitor_stat(&request).await,
        Dataset::Property => engine.monitor_property(&request).await,
    };
    match answer {
        Ok(r) => ok_rsp(r, dbs),
        Err(e) => error_rsp(e.to_string(), &dbs),
    }
}

fn dispatch(
    engine: &Arc<QueryEngine>,
    databases: &Databases,
    dataset: Dataset,
    current: &Current<'_>,
    mut args: Args<'_>,
) -> Dispatch {
    if current.func() != QUERY {
        return Dispatch::no_func();
    }
    let req: MonitorQueryReq = match args.required(1, "req") {
        Ok(r) => r,
        Err(e) => return Dispatch::Ready(Err(ServantError::Decode(e))),
    };
    let reply: Reply = current.reply();
    let engine = engine.clone();
    let dbs = databases.status();
    Dispatch::Later(Box::pin(async move {
        let rsp = answer(engine, dataset, req, dbs).await;
        Ok(reply.ret(&rsp.ret).out(2, "rsp", &rsp))
    }))
}

impl Servant for QueryStatService {
    fn dispatch(&self, current: &Current<'_>, args: Args<'_>) -> Dispatch {
        dispatch(&self.engine, &self.databases, Dataset::Stat, current, args)
    }
}

impl Servant for QueryPropertyService {
    fn dispatch(&self, current: &Current<'_>, args: Args<'_>) -> Dispatch {
        dispatch(&self.engine, &self.databases, Dataset::Property, current, args)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn the_response_reports_the_databases() {
        let result = || tarsmon_query::MonitorResult {
            result: BTreeMap::from([("0905".to_owned(), vec![3.0])]),
            last_time: "20240115 0905".into(),
        };
        let rsp = ok_rsp(result(), DbStatus::default());
        assert_eq!((rsp.ret, rsp.active_db, rsp.total_db, rsp.ret_threads), (0, 1, 1, vec![0]));
        // Three stat databases, the second failing: tarsmon still answers, from its store.
        let dbs = DbStatus::from_health([true, false, true]);
        assert_eq!(dbs, DbStatus { total: 3, active: 2, codes: vec![0, -1, 0] });
        let rsp = ok_rsp(result(), dbs.clone());
        assert_eq!((rsp.ret, rsp.active_db, rsp.total_db), (0, 2, 3));
        assert_eq!(rsp.ret_threads, vec![0, -1, 0]);
        assert_eq!(rsp.result["0905"], vec![3.0]);
        let err = error_rsp("unknown field".into(), &dbs);
        assert_eq!((err.ret, err.active_db, err.total_db, err.ret_threads), (-1, 2, 3, vec![-1, -1, -1]));
        assert_eq!(DbStatus::from_health([]), DbStatus { total: 0, active: 0, codes: vec![] });
    }
}
