//! The HTTP application: router, GraphQL handler, file downloads, health checks, and serving
//! with graceful shutdown.
//!
//! Routes (the API's table of contents):
//! - `GET /` — GraphiQL
//! - `POST /graphql` — GraphQL over JSON or multipart (uploads); one operation per request
//! - `GET /graphql/ws` — GraphQL over websockets (`graphql-transport-ws` and `graphql-ws`)
//! - `GET /files/{id}` — download an attached file (always as an attachment)
//! - `GET /health` — the process is up; `GET /ready` — the database answers

pub mod ws;

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
    /// The event bus subscriptions read (its tasks run once [`crate::events::start`]ed).
    pub events: Arc<crate::events::Bus>,
    /// Cancelled at shutdown: websockets then close with 1001.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Demo mode only: a token GraphiQL sends, so the demo works in the browser at once.
    pub graphiql_token: Option<Arc<str>>,
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
        let events = crate::events::Bus::new(&config)?;
        let schema = graphql::build(
            Some(db.clone()),
            Some(events.clone()),
            &SchemaOptions::from_config(&config),
        );
        Ok(Self {
            schema,
            db,
            config: Arc::new(config),
            events,
            shutdown: tokio_util::sync::CancellationToken::new(),
            graphiql_token: None,
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
        .route("/", get(graphiql_page))
        .route("/graphql", get(graphql_get).post(graphql_handler))
        .route("/graphql/ws", get(ws::handler))
        .route("/files/{id}", get(download))
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /graphql` serves GraphiQL; operations over GET are refused (no mutation through a link or
/// an image tag, no cross-site request without a preflight).
async fn graphql_get(State(state): State<AppState>, uri: axum::http::Uri) -> Response {
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
    graphiql_page(State(state)).await.into_response()
}

/// GraphiQL. Requests need an API token: put `{"Authorization": "Token <key>"}` in its headers
/// editor (in demo mode the page sends the demo superuser's token by itself).
async fn graphiql_page(State(state): State<AppState>) -> Html<String> {
    let header = state
        .graphiql_token
        .as_deref()
        .map(|t| format!("Token {t}"));
    let mut page = GraphiQLSource::build()
        .endpoint("/graphql")
        .subscription_endpoint("/graphql/ws")
        .title("dojoql");
    if let Some(h) = header.as_deref() {
        page = page
            .header("Authorization", h)
            .ws_connection_param("Authorization", h);
    }
    Html(page.finish())
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
    let principal = match authenticate(&state, &headers).await {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    let request = graphql::prepare(request, &state.db, state.config.loader_delay, principal);
    let c = &state.config;
    Json(graphql::execute(&state.schema, request, &c.query_limits, c.request_timeout).await)
        .into_response()
}

/// The principal named by the `Authorization` header, or the response refusing the request:
/// 401 `UNAUTHENTICATED` for a missing, malformed, unknown, revoked or expired token (or an
/// inactive user), 503 when the lookup itself fails.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<auth::Principal, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthenticated(
            "authentication required: send `Authorization: Token <key>`",
        ));
    };
    let value = value.to_str().unwrap_or_default();
    match auth::authenticate(&state.db, value).await {
        Ok(principal) => Ok(principal),
        Err(auth::AuthError::Db(e)) => {
            tracing::warn!(error = %e, "authentication lookup failed");
            Err(request_error(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::SERVICE_UNAVAILABLE,
                "try again",
            ))
        }
        Err(e) => Err(unauthenticated(&e.to_string())),
    }
}

fn unauthenticated(message: &str) -> Response {
    let mut r = request_error(StatusCode::UNAUTHORIZED, codes::UNAUTHENTICATED, message);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Token realm=\"dojoql\""),
    );
    r
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
    let events = match state.events.health() {
        crate::events::BusHealth::Local => "in-process",
        crate::events::BusHealth::RedisUp => "redis",
        crate::events::BusHealth::RedisDegraded => "degraded: redis unreachable",
    };
    // Redis down degrades live events only (mutations commit, events wait in the outbox), so
    // it does not make the replica unready.
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(serde_json::json!({ "database": "ok", "events": events })),
        )
            .into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "database": "unavailable", "events": events })),
        )
            .into_response(),
    }
}

/// Serves a stored file as an attachment (`nosniff`, `application/octet-stream`), never inline,
/// to a caller who may read the object it is attached to (404 otherwise, as for a missing file).
async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Response {
    let principal = match authenticate(&state, &headers).await {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    let Ok(id) = raw.parse::<i32>() else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let viewer = principal.viewer();
    let found = state
        .db
        .read(async move |mut c| db::file::content(&mut c, id, viewer).await)
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
    let mut state = AppState::new(config.clone())?;
    if demo {
        let loaded = crate::demo::load(&state.db).await?;
        if loaded {
            tracing::info!("demo data loaded");
        } else {
            tracing::info!("demo data already present");
        }
        let logins = crate::demo::logins(&state.db).await?;
        println!("demo logins (send `Authorization: Token <token>`; new tokens on every start):");
        for l in &logins {
            println!("  {:<13} {:<48} {}", l.username, l.access, l.token);
        }
        tracing::warn!(
            "demo mode: GraphiQL at / sends the admin token; never run --demo in production"
        );
        state.graphiql_token = logins.first().map(|l| Arc::from(l.token.as_str()));
    }
    let _events = crate::events::start(state.events.clone(), config.database_url.clone()).await;
    let jobs = crate::jobs::start(state.events.db().clone(), config.job_interval);
    let listener = tokio::net::TcpListener::bind(config.listen_addr).await?;
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, "listening; GraphiQL at http://{addr}/");
    let shutdown = state.shutdown.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            // Websockets close with 1001 (axum does not close upgraded connections itself).
            shutdown.cancel();
        })
        .await?;
    jobs.abort();
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
