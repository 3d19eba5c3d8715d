//! tarsmon's TARS framework: the wire protocol, the RPC server and client, and the servants
//! of every framework role.
//!
//! Data flow of a call: bytes → [`packet::split_frame`] → [`packet::RequestPacket`] (decoded
//! with [`codec`], borrowing from the frame) → [`servant::Servant::dispatch`] with
//! [`servant::Args`] that hide TARS v1 vs TUP → [`servant::Reply`] →
//! [`server::write_reply`]. The client runs the same layers in reverse.
//!
//! Main types: [`codec::Writer`]/[`codec::Reader`] and the [`tars_struct!`] macro,
//! [`server::Adapter`], [`client::ServantProxy`] and [`client::Communicator`].

pub mod allow;
pub mod client;
pub mod codec;
pub mod endpoint;
pub mod http;
pub mod http_client;
pub mod idl;
pub mod metrics;
pub mod packet;
pub mod roles;
pub mod servant;
pub mod server;
pub mod services;
pub mod testing;
pub mod tup;
