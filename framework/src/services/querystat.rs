//! `tars.tarsquerystat.QueryObj` and `tars.tarsqueryproperty.QueryObj` (`MonitorQuery`):
//! TarsWeb's service-monitor and property-monitor queries, answered from the `stat` and
//! `property` tables (see `tarsmon_query::monitor` for the semantics and the fixes).

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

/// The querystat servant.
#[derive(Debug)]
pub struct QueryStatService {
    engine: Arc<QueryEngine>,
}

impl QueryStatService {
    /// A servant answering from `engine`.
    pub fn new(engine: Arc<QueryEngine>) -> Self {
        Self { engine }
    }
}

/// The queryproperty servant.
#[derive(Debug)]
pub struct QueryPropertyService {
    engine: Arc<QueryEngine>,
}

impl QueryPropertyService {
    /// A servant answering from `engine`.
    pub fn new(engine: Arc<QueryEngine>) -> Self {
        Self { engine }
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

fn error_rsp(msg: String) -> MonitorQueryRsp {
    MonitorQueryRsp {
        ret: -1,
        msg,
        active_db: 1,
        total_db: 1,
        ret_threads: vec![-1],
        ..MonitorQueryRsp::default()
    }
}

async fn answer(engine: Arc<QueryEngine>, dataset: Dataset, req: MonitorQueryReq) -> MonitorQueryRsp {
    if req.dataid != dataset.dataid() {
        return error_rsp(format!(
            "{} serves dataid {:?}, not {:?}",
            dataset.service(),
            dataset.dataid(),
            req.dataid
        ));
    }
    let request = match to_request(&req) {
        Ok(r) => r,
        Err(e) => return error_rsp(e),
    };
    let answer = match dataset {
        Dataset::Stat => engine.monitor_stat(&request).await,
        Dataset::Property => engine.monitor_property(&request).await,
    };
    match answer {
        Ok(r) => MonitorQueryRsp {
            ret: 0,
            msg: String::new(),
            last_time: r.last_time,
            active_db: 1,
            total_db: 1,
            ret_threads: vec![0],
            result: r.result,
        },
        Err(e) => error_rsp(e.to_string()),
    }
}

fn dispatch(
    engine: &Arc<QueryEngine>,
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
    Dispatch::Later(Box::pin(async move {
        let rsp = answer(engine, dataset, req).await;
        Ok(reply.ret(&rsp.ret).out(2, "rsp", &rsp))
    }))
}

impl Servant for QueryStatService {
    fn dispatch(&self, current: &Current<'_>, args: Args<'_>) -> Dispatch {
        dispatch(&self.engine, Dataset::Stat, current, args)
    }
}

impl Servant for QueryPropertyService {
    fn dispatch(&self, current: &Current<'_>, args: Args<'_>) -> Dispatch {
        dispatch(&self.engine, Dataset::Property, current, args)
    }
}
