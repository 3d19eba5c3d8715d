//! The servants of the framework roles.

pub mod pending;
pub mod registry;
