//! The framework roles tarsmon plays, with their standard object names and ports
//! (monitoring spec §9).

use serde::Deserialize;

/// One TARS framework role served by tarsmon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `tars.tarsregistry.QueryObj`: lets a client with only `locator=` find every other role.
    Registry,
    /// `tars.tarsconfig.ConfigObj`.
    Config,
    /// `tars.tarsstat.StatObj`: RPC call statistics.
    Stat,
    /// `tars.tarsproperty.PropertyObj`: business metrics.
    Property,
    /// `tars.tarsnotify.NotifyObj`: alarms and notifications.
    Notify,
    /// `tars.tarslog.LogObj`: remote logs.
    Log,
    /// `tars.tarsquerystat.QueryObj`: TarsWeb's call-statistics queries.
    QueryStat,
    /// `tars.tarsqueryproperty.QueryObj`: TarsWeb's property queries.
    QueryProperty,
}

impl Role {
    /// Every role, in start-up order (the registry first).
    pub const ALL: [Role; 8] = [
        Role::Registry,
        Role::Config,
        Role::Stat,
        Role::Property,
        Role::Notify,
        Role::Log,
        Role::QueryStat,
        Role::QueryProperty,
    ];

    /// The standard object name.
    pub fn object(self) -> &'static str {
        match self {
            Role::Registry => "tars.tarsregistry.QueryObj",
            Role::Config => "tars.tarsconfig.ConfigObj",
            Role::Stat => "tars.tarsstat.StatObj",
            Role::Property => "tars.tarsproperty.PropertyObj",
            Role::Notify => "tars.tarsnotify.NotifyObj",
            Role::Log => "tars.tarslog.LogObj",
            Role::QueryStat => "tars.tarsquerystat.QueryObj",
            Role::QueryProperty => "tars.tarsqueryproperty.QueryObj",
        }
    }

    /// The standard port.
    pub fn default_port(self) -> u16 {
        match self {
            Role::Registry => 17890,
            Role::Config => 18193,
            Role::Stat => 18293,
            Role::Property => 18493,
            Role::Notify => 18593,
            Role::Log => 18993,
            Role::QueryStat => 18393,
            Role::QueryProperty => 18693,
        }
    }

    /// The key of the role in the config file (`[adapters.stat]`).
    pub fn key(self) -> &'static str {
        match self {
            Role::Registry => "registry",
            Role::Config => "config",
            Role::Stat => "stat",
            Role::Property => "property",
            Role::Notify => "notify",
            Role::Log => "log",
            Role::QueryStat => "querystat",
            Role::QueryProperty => "queryproperty",
        }
    }
}
