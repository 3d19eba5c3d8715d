//! The servants of the framework roles.

pub mod notify;
pub mod pending;
pub mod property;
pub mod querystat;
pub mod registry;
pub mod stat;
