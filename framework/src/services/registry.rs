//! The embedded registry, `tars.tarsregistry.QueryObj` (`QueryF`, spec §3): it answers for every
//! role tarsmon serves, so a client configured with only `locator=` finds them all.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::endpoint::Endpoint;
use crate::idl::registry::{EndpointF, query_f};
use crate::servant::{Args, Current, Dispatch, Reply, Servant, ServantError};

/// Object name → the endpoints handed out for it.
#[derive(Debug, Default)]
pub struct Registry {
    objects: BTreeMap<String, Vec<EndpointF>>,
    unknown_lookups: AtomicU64,
}

impl Registry {
    /// A registry answering for `objects` (name and advertised endpoint).
    pub fn new<'a>(objects: impl IntoIterator<Item = (&'a str, Endpoint)>) -> Self {
        let mut map: BTreeMap<String, Vec<EndpointF>> = BTreeMap::new();
        for (name, ep) in objects {
            map.entry(name.to_owned()).or_default().push(EndpointF {
                host: ep.host.clone(),
                port: i32::from(ep.port),
                timeout: i32::try_from(ep.timeout.as_millis()).unwrap_or(i32::MAX),
                istcp: ep.transport.istcp(),
                ..EndpointF::default()
            });
        }
        Self { objects: map, unknown_lookups: AtomicU64::new(0) }
    }

    /// Lookups of objects the registry does not know.
    pub fn unknown_lookups(&self) -> u64 {
        self.unknown_lookups.load(Ordering::Relaxed)
    }

    fn lookup(&self, id: &str) -> &[EndpointF] {
        match self.objects.get(id) {
            Some(eps) => eps,
            None => {
                self.unknown_lookups.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(id, "registry lookup of an unknown object");
                &[]
            }
        }
    }

    fn find(&self, current: &Current<'_>, mut args: Args<'_>) -> Result<Reply, ServantError> {
        let id: String = args.required(1, "id")?;
        let reply = current.reply();
        match current.func() {
            query_f::FIND_OBJECT_BY_ID => Ok(reply.ret(&self.lookup(&id).to_vec())),
            query_f::FIND_OBJECT_BY_ID_4_ANY
            | query_f::FIND_OBJECT_BY_ID_4_ALL
            | query_f::FIND_OBJECT_BY_ID_IN_SAME_GROUP => Ok(reply
                .ret(&0i32)
                .out(2, "activeEp", &self.lookup(&id).to_vec())
                .out(3, "inactiveEp", &Vec::<EndpointF>::new())),
            f @ (query_f::FIND_OBJECT_BY_ID_IN_SAME_STATION | query_f::FIND_OBJECT_BY_ID_IN_SAME_SET) => {
                let name = if f == query_f::FIND_OBJECT_BY_ID_IN_SAME_SET { "setId" } else { "sStation" };
                let _: String = args.required(2, name)?;
                // tarsmon is one node with no sets or stations: every caller gets every endpoint.
                Ok(reply.ret(&0i32).out(3, "activeEp", &self.lookup(&id).to_vec()).out(
                    4,
                    "inactiveEp",
                    &Vec::<EndpointF>::new(),
                ))
            }
            _ => Err(ServantError::NoFunc),
        }
    }
}

impl Servant for Registry {
    fn dispatch(&self, current: &Current<'_>, args: Args<'_>) -> Dispatch {
        Dispatch::Ready(self.find(current, args))
    }
}
