//! The servant of a role whose service is not built yet: the port is open (clients connect and
//! `tars_ping` succeeds) but every call is refused with -3 and a clear description, and
//! counted — nothing is accepted and then dropped silently.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::servant::{Args, Current, Dispatch, Servant, ServantError};

/// Refuses every call of a role that this version of tarsmon does not serve yet.
#[derive(Debug)]
pub struct PendingRole {
    object: &'static str,
    refused: AtomicU64,
}

impl PendingRole {
    /// A placeholder for `object`.
    pub fn new(object: &'static str) -> Self {
        Self { object, refused: AtomicU64::new(0) }
    }

    /// Calls refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

impl Servant for PendingRole {
    fn dispatch(&self, current: &Current<'_>, _args: Args<'_>) -> Dispatch {
        let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        // Log the first refusal and then at powers of two, so a busy client cannot flood the log.
        if n.is_power_of_two() {
            tracing::warn!(
                object = self.object,
                func = current.func(),
                refused = n,
                "call refused: this role is not implemented in this tarsmon version"
            );
        }
        Dispatch::Ready(Err(ServantError::NotImplemented(format!(
            "{}.{} is not served by this tarsmon version",
            self.object,
            current.func()
        ))))
    }
}
