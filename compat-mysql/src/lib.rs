//! The optional MySQL exporter: writes the classic `tars_stat.tars_stat_YYYYMMDDHH`,
//! `tars_property.tars_property_YYYYMMDDHH` and `db_tars.t_server_notifys` tables from
//! tarsmon's store, for tools that read MySQL.
//!
//! Status: the crate is laid out but the exporter is not written yet (its own issue). Nothing
//! else in tarsmon may require it.
