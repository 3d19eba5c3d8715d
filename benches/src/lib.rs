//! tarsmon's end-to-end benchmarks and the `tarsmon-load` load generator, which speaks real
//! TARS (through `tarsmon-framework`'s client) to a real server.
//!
//! Status: the crate is laid out; the load generator arrives with the load-and-performance
//! issue. Micro-benchmarks live in each crate's own `benches/`.
