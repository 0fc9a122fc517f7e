//! The HTTP application: router, GraphQL handler, file downloads, health checks, and serving
//! with graceful shutdown.
//!
//! Routes (the API's table of contents):
//! - `GET /` — GraphiQL
//! - `POST /graphql` — GraphQL over JSON or multipart (uploads); one operation per request
//! - `GET /files/{id}` — download an attached file (always as an attachment)
//! - `GET /health` — the process is up; `GET /ready` — the database answers

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use async_graphql::http::{GraphiQLSource, MultipartOptions};
use axum::{
    Json, Router,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use futures_util::TryStreamExt;
use tower_http::{limit::RequestBodyLimitLayer, trace::TraceLayer};

use crate::{
    auth,
    config::Config,
    db::{self, Db, PoolSettings},
    error::{self as codes},
    graphql::{self, AppSchema, SchemaOptions},
};

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub db: Db,
    pub config: Arc<Config>,
}

impl AppState {
    /// Connects the pool (lazily) and builds the schema.
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let db = Db::connect(&PoolSettings {
            url: config.database_url.clone(),
            max_size: config.pool_size,
            wait_timeout: config.pool_timeout,
            statement_timeout: config.statement_timeout,
        })?;
        let schema = graphql::build(Some(db.clone()), &SchemaOptions::from_config(&config));
        Ok(Self {
            schema,
            db,
            config: Arc::new(config),
        })
    }
}

/// The router, shared by `serve` and the tests.
pub fn router(state: AppState) -> Router {
    let limit = state
        .config
        .max_body_bytes
        .saturating_add(state.config.max_upload_bytes);
    Router::new()
        .route("/", get(graphiql))
        .route("/graphql", get(graphql_get).post(graphql_handler))
        .route("/files/{id}", get(download))
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /graphql` serves GraphiQL; operations over GET are refused (no mutation through a link or
/// an image tag, no cross-site request without a preflight).
async fn graphql_get(uri: axum::http::Uri) -> Response {
    let has_operation = uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("query=")));
    if has_operation {
        let mut r = request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            codes::BAD_USER_INPUT,
            "operations must be sent with POST",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    graphiql().await.into_response()
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title("dojoql")
            .finish(),
    )
}

/// A request-level error in GraphQL's response shape.
fn request_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message.into(), "extensions": { "code": code } }]
    });
    (status, Json(body)).into_response()
}

async fn graphql_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ok_type = content_type.as_deref().is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t.starts_with("application/json")
            || t.starts_with("multipart/form-data")
            || t.starts_with("application/graphql-response+json")
    });
    if !ok_type {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::BAD_USER_INPUT,
            "POST /graphql takes application/json or multipart/form-data",
        );
    }
    // JSON bodies are capped at `max_body_bytes`; multipart bodies may carry an upload on top.
    let multipart = content_type
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/"));
    let limit = if multipart {
        state
            .config
            .max_body_bytes
            .saturating_add(state.config.max_upload_bytes)
    } else {
        state.config.max_body_bytes
    };
    let reader = Body::new(http_body_util::Limited::new(body, limit))
        .into_data_stream()
        .map_err(|e| io::Error::other(e.to_string()))
        .into_async_read();
    let options = MultipartOptions::default()
        .max_file_size(state.config.max_upload_bytes)
        .max_num_files(10);
    let request = match async_graphql::http::receive_body(content_type, reader, options).await {
        Ok(r) => r,
        Err(e) => return parse_error(e),
    };
    let mut request = graphql::with_loader(request, &state.db, state.config.loader_delay);
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default();
        match auth::authenticate(&state.db, value).await {
            Ok(principal) => request = request.data(principal),
            Err(auth::AuthError::Db(e)) => {
                tracing::warn!(error = %e, "authentication lookup failed");
                return request_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    codes::SERVICE_UNAVAILABLE,
                    "try again",
                );
            }
            Err(e) => {
                return request_error(
                    StatusCode::UNAUTHORIZED,
                    codes::UNAUTHENTICATED,
                    e.to_string(),
                );
            }
        }
    }
    let c = &state.config;
    Json(graphql::execute(&state.schema, request, &c.query_limits, c.request_timeout).await)
        .into_response()
}

fn parse_error(e: async_graphql::ParseRequestError) -> Response {
    use async_graphql::ParseRequestError as P;
    match e {
        P::PayloadTooLarge => request_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            "the upload is too large",
        ),
        P::Io(e) if e.to_string().contains("length limit exceeded") => request_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            "the request body is too large",
        ),
        P::UnsupportedBatch => request_error(
            StatusCode::BAD_REQUEST,
            codes::BAD_USER_INPUT,
            "batched operations are not supported",
        ),
        other => request_error(
            StatusCode::BAD_REQUEST,
            codes::BAD_USER_INPUT,
            format!("invalid GraphQL request: {other}"),
        ),
    }
}

async fn ready(State(state): State<AppState>) -> Response {
    use diesel_async::SimpleAsyncConnection;
    let check = async {
        let mut conn = state.db.conn().await.map_err(|e| e.to_string())?;
        conn.batch_execute("SELECT 1")
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

/// Serves a stored file as an attachment (`nosniff`, `application/octet-stream`), never inline.
async fn download(State(state): State<AppState>, Path(raw): Path<String>) -> Response {
    let Ok(id) = raw.parse::<i32>() else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let found = state
        .db
        .read(async move |mut c| db::file::content(&mut c, id).await)
        .await;
    match found {
        Ok((meta, bytes)) => {
            let safe: String = meta
                .filename
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
                headers.insert(header::CONTENT_DISPOSITION, v);
            }
            (StatusCode::OK, headers, bytes).into_response()
        }
        Err(db::DbError::NotFound) => (StatusCode::NOT_FOUND, "not found").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "file download failed");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response()
        }
    }
}

/// Migrates, optionally loads demo data, and serves until ctrl-c or SIGTERM.
pub async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    db::ensure_database(&config.database_url).await?;
    let ran = db::migrate(&config.database_url).await?;
    tracing::info!(migrations = ran, "database migrated");
    match &config.redis_url {
        Some(_) => {
            tracing::info!(prefix = %config.redis_prefix, "REDIS_URL set: events fan out through Redis")
        }
        None => tracing::info!("no REDIS_URL: events use the in-process bus (single node)"),
    }
    let state = AppState::new(config.clone())?;
    if demo {
        let loaded = crate::demo::load(&state.db).await?;
        if loaded {
            tracing::info!("demo data loaded");
        } else {
            tracing::info!("demo data already present");
        }
    }
    let listener = tokio::net::TcpListener::bind(config.listen_addr).await?;
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, "listening; GraphiQL at http://{addr}/");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("shut down");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown signal received");
}
