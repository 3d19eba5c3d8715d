//! [`Server`]: a connection pool to one MySQL server, with a timeout on every call and errors
//! that name the server and the statement.

use std::future::Future;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts};

use crate::error::{Error, Result};

/// One MySQL server.
#[derive(Debug)]
pub(crate) struct Server {
    /// The pool. mysql_async's pool hands out one connection per task; the exporter uses one
    /// at a time per server, the cap only bounds what a slow server can make it hold.
    pool: Pool,
    /// `host:port`, for errors and logs (never the password).
    pub(crate) name: String,
    timeout: Duration,
}

impl Server {
    /// A pool for `url` with at most `max_connections` connections. Connects lazily.
    pub(crate) fn new(url: &str, max_connections: usize, timeout: Duration) -> Result<Self> {
        let opts = Opts::from_url(url).map_err(|source| Error::Url { url: mask_password(url), source })?;
        let name = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
        let constraints = PoolConstraints::new(0, max_connections).ok_or_else(|| Error::Config {
            reason: format!("max_connections {max_connections} is invalid"),
        })?;
        let opts = OptsBuilder::from_opts(opts)
            // Statements name their database; a database in the URL would only have to exist.
            .db_name(None::<String>)
            .pool_opts(PoolOpts::default().with_constraints(constraints));
        Ok(Self { pool: Pool::new(opts), name, timeout })
    }

    /// Runs `f` on a pooled connection, within the timeout (connecting included).
    pub(crate) async fn with_conn<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = mysql_async::Result<T>>,
    {
        let work = async {
            let conn = self.pool.get_conn().await?;
            f(conn).await
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(source)) => Err(Error::Mysql { server: self.name.clone(), what: what.to_owned(), source }),
            Err(_) => {
                Err(Error::Timeout { server: self.name.clone(), what: what.to_owned(), after: self.timeout })
            }
        }
    }

    /// Runs one statement without parameters.
    pub(crate) async fn execute(&self, what: &str, sql: String) -> Result<()> {
        self.with_conn(what, |mut conn| async move { conn.query_drop(sql).await }).await
    }

    /// The names of the base tables of `db` whose name starts with `prefix`.
    pub(crate) async fn tables(&self, db: &str, prefix: &str) -> Result<Vec<String>> {
        let (db, pattern) = (db.to_owned(), format!("{}%", like_escape(prefix)));
        self.with_conn(&format!("listing the tables of {db}"), |mut conn| async move {
            conn.exec(
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                 WHERE table_schema = ? AND table_type = 'BASE TABLE' AND table_name LIKE ?",
                (db, pattern),
            )
            .await
        })
        .await
    }

    /// Whether database `db` exists.
    pub(crate) async fn has_database(&self, db: &str) -> Result<bool> {
        let name = db.to_owned();
        let found: Option<String> = self
            .with_conn(&format!("looking up database {db}"), |mut conn| async move {
                conn.exec_first(
                    "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata WHERE schema_name = ?",
                    (name,),
                )
                .await
            })
            .await?;
        Ok(found.is_some())
    }

    /// Closes the pool's connections.
    pub(crate) async fn disconnect(self) {
        if let Err(e) = self.pool.disconnect().await {
            tracing::debug!(server = %self.name, error = %e, "closing MySQL connections");
        }
    }
}

/// `s` with `_`, `%` and `\` escaped for `LIKE`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '_' | '%' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `url` with the password replaced by `***`, for error messages.
pub(crate) fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_and_escapes_like_patterns() {
        assert_eq!(mask_password("mysql://u:secret@h:3306"), "mysql://u:***@h:3306");
        assert_eq!(mask_password("mysql://u@h:3306"), "mysql://u@h:3306");
        assert_eq!(like_escape("tars_stat_"), "tars\\_stat\\_");
    }
}
