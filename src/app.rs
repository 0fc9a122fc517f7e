//! The HTTP application: router, GraphQL handler, file downloads, health checks, and serving
//! with graceful shutdown.
//!
//! Routes (the API's table of contents):
//! - `GET /` — GraphiQL
//! - `POST /graphql` — GraphQL over JSON or multipart (uploads); one operation per request
//! - `GET /graphql/ws` — GraphQL over websockets (`graphql-transport-ws` and `graphql-ws`)
//! - `GET /files/{id}` — download an attached file (always as an attachment)
//! - `POST /api/v2/import-scan/`, `POST /api/v2/reimport-scan/` — DefectDojo's CI endpoints
//! - `GET /health` — the process is up; `GET /ready` — the database answers
//!
//! Every request is authenticated from its headers before its body is read; a body must arrive
//! within `BODY_READ_TIMEOUT_MS` and headers within `HEADER_READ_TIMEOUT_MS` (also the idle
//! keep-alive time); at most `MAX_CONNECTIONS` connections are served at once ([`serve_on`]).

pub mod client;
mod multipart;
mod rest;
mod ws;

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
        let settings = PoolSettings {
            url: config.database_url.clone(),
            max_size: config.pool_size,
            wait_timeout: config.pool_timeout,
            statement_timeout: config.statement_timeout,
        };
        let db = match &config.database_read_url {
            Some(read_url) => {
                tracing::info!(
                    "queries and subscriptions read from the replica at DATABASE_READ_URL"
                );
                Db::connect_with_replica(&settings, read_url)?
            }
            None => Db::connect(&settings)?,
        };
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
    let body_timeout_after = state.config.body_read_timeout;
    Router::new()
        .route("/", get(graphiql_page))
        .route("/graphql", get(graphql_get).post(graphql_handler))
        .route("/graphql/ws", get(ws::handler))
        .route("/files/{id}", get(download))
        .route(
            "/api/v2/import-scan/",
            axum::routing::post(rest::import_scan),
        )
        .route(
            "/api/v2/reimport-scan/",
            axum::routing::post(rest::reimport_scan),
        )
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::map_request(
            move |req: axum::extract::Request| async move {
                let (parts, body) = req.into_parts();
                let body = Body::new(DeadlineBody::new(body, body_timeout_after));
                axum::extract::Request::from_parts(parts, body)
            },
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The message of the error a body reports when it arrives too slowly.
const BODY_TIMEOUT: &str = "the request body did not arrive in time";

/// A request body that fails once `timeout` has passed since the request's headers arrived,
/// however it trickles (a per-read timeout would let one byte every few seconds through).
struct DeadlineBody {
    inner: Body,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Body, timeout: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future;
        if let std::task::Poll::Ready(frame) = std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            return std::task::Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            std::task::Poll::Ready(()) => std::task::Poll::Ready(Some(Err(axum::Error::new(
                io::Error::new(io::ErrorKind::TimedOut, BODY_TIMEOUT),
            )))),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The response to a body that did not arrive within `BODY_READ_TIMEOUT_MS`.
fn body_timeout() -> Response {
    request_error(
        StatusCode::REQUEST_TIMEOUT,
        codes::BAD_USER_INPUT,
        BODY_TIMEOUT,
    )
}

/// A 500 for a failure of ours (logged with its cause; the client sees only the code).
fn internal(what: &str, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "{what}");
    request_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        codes::INTERNAL,
        "internal error",
    )
}

/// `GET /graphql` serves GraphiQL; operations over GET are refused (no mutation through a link or
/// an image tag, no cross-site request without a preflight).
async fn graphql_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
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
    graphiql_page(State(state), headers).await.into_response()
}

/// GraphiQL. Requests need an API token: put `{"Authorization": "Token <key>"}` in its headers
/// editor. In demo mode the page sends the demo superuser's token by itself — but only to a
/// browser that reached the server by a loopback name or the address it listens on: a page of
/// another site that points its own host name at this server (DNS rebinding) gets no token.
async fn graphiql_page(State(state): State<AppState>, headers: HeaderMap) -> Html<String> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let header = state
        .graphiql_token
        .as_deref()
        .filter(|_| host.is_some_and(|h| local_host(h, state.config.listen_addr)))
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

/// Whether a `Host` header names this machine: `localhost`, a loopback address or the address
/// the server listens on (any port).
fn local_host(host: &str, listen: SocketAddr) -> bool {
    let name = match host.strip_prefix('[') {
        // `[::1]:8080`
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match name.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback() || (ip == listen.ip() && !ip.is_unspecified()),
        Err(_) => false,
    }
}

/// A request-level error in GraphQL's response shape.
fn request_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message.into(), "extensions": { "code": code } }]
    });
    (status, Json(body)).into_response()
}

/// The media type of a `Content-Type` value, lowercased, without parameters.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

async fn graphql_handler(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let media = media_type(&content_type);
    let charset_ok = content_type.split(';').skip(1).all(|param| {
        let (k, v) = param.split_once('=').unwrap_or((param, ""));
        !k.trim().eq_ignore_ascii_case("charset")
            || v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
    });
    let multipart = match media.as_str() {
        "application/json" if charset_ok => false,
        "multipart/form-data" => true,
        _ => {
            return request_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                codes::BAD_USER_INPUT,
                "POST /graphql takes application/json (UTF-8) or multipart/form-data",
            );
        }
    };
    // Authenticate from the headers before reading a byte of the body.
    let principal = match authenticate(&state, &headers).await {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    let c = &state.config;
    // JSON bodies are capped at `max_body_bytes`; multipart bodies may carry uploads on top.
    let limit = if multipart {
        c.max_body_bytes.saturating_add(c.max_upload_bytes)
    } else {
        c.max_body_bytes
    };
    let body = Body::new(http_body_util::Limited::new(body, limit));
    let request = if multipart {
        let limits = multipart::Limits {
            max_json_bytes: c.max_body_bytes,
            max_file_bytes: c.max_upload_bytes,
            max_files: MAX_FILES,
        };
        let pending = match multipart::start(body, &content_type, limits).await {
            Ok(p) => p,
            Err(refusal) => return refusal,
        };
        // The operation and its target are checked before any file is read.
        let files = pending.file_variables();
        if let Err(refusal) = graphql::uploads::precheck(
            &state.db,
            &principal,
            &pending.request,
            &files,
            &c.query_limits,
        )
        .await
        {
            return graphql_response(&state, &refusal);
        }
        match pending.files().await {
            Ok(r) => r,
            Err(refusal) => return refusal,
        }
    } else {
        let reader = body
            .into_data_stream()
            .map_err(|e| io::Error::other(e.to_string()))
            .into_async_read();
        match async_graphql::http::receive_body(
            Some("application/json"),
            reader,
            MultipartOptions::default(),
        )
        .await
        {
            Ok(r) => r,
            Err(e) => return parse_error(e),
        }
    };
    let request = graphql::prepare(request, &state.db.session(), c.loader_delay, principal);
    let response =
        graphql::execute(&state.schema, request, &c.query_limits, c.request_timeout).await;
    graphql_response(&state, &response)
}

/// Files one multipart request may carry.
pub(crate) const MAX_FILES: usize = 10;

/// A GraphQL response as JSON, or a `RESPONSE_TOO_LARGE` error in its place when it is over
/// `MAX_RESPONSE_BYTES`.
fn graphql_response(state: &AppState, response: &async_graphql::Response) -> Response {
    let max = state.config.max_response_bytes;
    let body = graphql::encode(response, max).unwrap_or_else(|| {
        tracing::warn!(max, "response over MAX_RESPONSE_BYTES refused");
        graphql::encode(&graphql::too_large(max), usize::MAX).unwrap_or_default()
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
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
        P::Io(e) if e.to_string().contains(BODY_TIMEOUT) => body_timeout(),
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
    // A read replica that cannot be reached degrades nothing but load: reads go to the primary.
    let read_replica = match state.db.replica_reachable() {
        None => "none",
        Some(true) => "ok",
        Some(false) => "degraded: unreachable, reading from the primary",
    };
    // Redis down degrades live events only (mutations commit, events wait in the outbox), so
    // it does not make the server unready.
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(serde_json::json!({
                "database": "ok", "readReplica": read_replica, "events": events
            })),
        )
            .into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "database": "unavailable", "readReplica": read_replica, "events": events
            })),
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
    let Ok(id) = raw.parse::<i32>().map(crate::domain::ids::FileId::new) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let viewer = principal.viewer();
    let found = state
        .db
        .read(async move |c| db::file::content(c, id, viewer).await)
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
        let loaded = crate::service::demo::load(&state.db).await?;
        if loaded {
            tracing::info!("demo data loaded");
        } else {
            tracing::info!("demo data already present");
        }
        let logins = crate::service::demo::logins(&state.db).await?;
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
    let jobs = crate::service::jobs::start(state.events.db().clone(), config.job_interval);
    let listener = tokio::net::TcpListener::bind(config.listen_addr).await?;
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, "listening; GraphiQL at http://{addr}/");
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        shutdown.cancel();
    });
    serve_on(listener, state).await;
    jobs.abort();
    tracing::info!("shut down");
    Ok(())
}

/// How long in-flight requests may take to finish once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A connection's place among the `MAX_CONNECTIONS` served at once; held by the connection and
/// by a websocket upgraded from it (a request extension) until both are done.
#[derive(Clone)]
pub(crate) struct ConnectionSlot(#[allow(dead_code)] Arc<tokio::sync::OwnedSemaphorePermit>);

/// Serves the router of `state` on `listener` until `state.shutdown` is cancelled, then lets
/// in-flight requests finish (websockets close with 1001 on the same signal) for up to 30 s.
///
/// HTTP/1.1 only (websockets upgrade from it). A client must send a request's headers within
/// `HEADER_READ_TIMEOUT_MS` — which also closes idle keep-alive connections — and its body
/// within `BODY_READ_TIMEOUT_MS` (see [`router`]). At most `MAX_CONNECTIONS` connections,
/// websockets included, are served at once: beyond that, new ones wait in the listen backlog.
pub async fn serve_on(listener: tokio::net::TcpListener, state: AppState) {
    use tower::ServiceExt;
    let config = state.config.clone();
    let shutdown = state.shutdown.clone();
    let app = router(state);
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = shutdown.cancelled() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let slot = ConnectionSlot(Arc::new(permit));
        let service = {
            let app = app.clone();
            let slot = slot.clone();
            hyper::service::service_fn(
                move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(slot.clone());
                    app.clone().oneshot(req.map(Body::new))
                },
            )
        };
        let conn = http
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
            .with_upgrades();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                () = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
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
