//! The servants of the framework roles.

pub mod notify;
pub mod pending;
pub mod property;
pub mod querystat;
pub mod registry;
pub mod stat;

use crate::servant::ServantError;

/// The reply to a report of which `dropped` of `of` items did not fit the memory budget: the
/// items that fitted are stored, and the caller is told the rest were not (`iRet` -9,
/// overload) instead of being acknowledged as if all had been. The drops are also counted and
/// in the metrics. A client that resent the whole report would count its stored part twice,
/// so the message says how much was dropped, not "try again".
pub(crate) fn refuse_dropped(what: &str, dropped: u64, of: u64) -> ServantError {
    ServantError::Overload(format!(
        "memory budget exhausted: {dropped} of {of} {what} dropped (counted in tarsmon's metrics)"
    ))
}
