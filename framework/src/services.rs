//! The servants of the framework roles.

pub mod pending;
pub mod querystat;
pub mod registry;
pub mod stat;
