//! The HTTP API: SQL over every table, Prometheus metrics, and a health check.
//!
//! | route | |
//! |---|---|
//! | `POST /sql?format=table\|csv\|json` | body: one read-only SQL statement; 400 with the reason for a bad query |
//! | `GET /sql?q=SQL&format=…` | the same, for a browser or `curl` |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /health` | `ok` |

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tarsmon_query::{Error as QueryError, Format, QueryEngine};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// Runs SQL.
    pub engine: Arc<QueryEngine>,
    /// Renders `/metrics`.
    pub metrics: Arc<Metrics>,
}

#[derive(Debug, Deserialize)]
struct SqlParams {
    q: Option<String>,
    format: Option<String>,
}

/// The routes.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/sql", get(sql_get).post(sql_post))
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "ok\n" }))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn sql_get(State(s): State<HttpState>, Query(p): Query<SqlParams>) -> Response {
    match p.q {
        Some(q) => run_sql(&s, &q, p.format.as_deref()).await,
        None => (StatusCode::BAD_REQUEST, "missing ?q=SQL\n").into_response(),
    }
}

async fn sql_post(State(s): State<HttpState>, Query(p): Query<SqlParams>, body: String) -> Response {
    run_sql(&s, &body, p.format.as_deref()).await
}

async fn run_sql(s: &HttpState, sql: &str, format: Option<&str>) -> Response {
    let format: Format = match format.unwrap_or("json").parse() {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let result = s.engine.sql(sql).await.and_then(|out| out.render(format));
    match result {
        Ok(text) => {
            let ctype = match format {
                Format::Json => "application/json",
                Format::Csv => "text/csv; charset=utf-8",
                Format::Table => "text/plain; charset=utf-8",
            };
            ([(header::CONTENT_TYPE, ctype)], text).into_response()
        }
        Err(e @ QueryError::Invalid(_)) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

async fn metrics(State(s): State<HttpState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render()).into_response()
}
