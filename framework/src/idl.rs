//! TARS interface definitions tarsmon speaks, declared with [`tars_struct!`](crate::tars_struct)
//! from the IDL files of `TarsProtocol` (one module per `.tars` file).

pub mod monitor;
pub mod notify;
pub mod property;
pub mod registry;
pub mod stat;
