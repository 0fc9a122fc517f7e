//! Typed configuration read from the environment (see `.env.example`), with defaults that work on
//! the machine `scripts/dev` sets up.

use std::{net::SocketAddr, time::Duration};

/// Everything the server needs to start. Built once by [`Config::from_env`] or by tests.
#[derive(Clone)]
pub struct Config {
    /// Postgres connection string.
    pub database_url: String,
    /// A streaming replica of that Postgres for queries' and subscriptions' reads
    /// (`DATABASE_READ_URL`); `None`: everything on `database_url`.
    pub database_read_url: Option<String>,
    /// Redis connection string; `None` selects the in-process event bus.
    pub redis_url: Option<String>,
    /// Prefix for every Redis channel and key (tests give each test its own).
    pub redis_prefix: String,
    /// Where the HTTP server listens.
    pub listen_addr: SocketAddr,
    /// Maximum number of pooled Postgres connections.
    pub pool_size: usize,
    /// How long a request waits for a pooled connection before it fails with `SERVICE_UNAVAILABLE`.
    pub pool_timeout: Duration,
    /// Postgres `statement_timeout` for every pooled connection.
    pub statement_timeout: Duration,
    /// Largest accepted HTTP request body (JSON or multipart), in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted uploaded file, in bytes.
    pub max_upload_bytes: usize,
    /// Whether `__schema`/`__type` introspection is served.
    pub introspection: bool,
    /// How long a dataloader batch waits for sibling keys beyond the end of the wave that
    /// queued them (see `graphql::waves`); zero by default.
    pub loader_delay: Duration,
    /// Whether "did you mean …?" hints are given for misspelt fields.
    pub suggestions: bool,
    /// Limits checked before execution (nodes, selections, depth, aliases, root fields).
    pub query_limits: QueryLimits,
    /// Largest response sent (JSON bytes); a larger one is replaced by a `RESPONSE_TOO_LARGE`
    /// error.
    pub max_response_bytes: usize,
    /// How long a client may take to send a request's headers (also how long an idle
    /// keep-alive connection stays open).
    pub header_read_timeout: Duration,
    /// How long a client may take to send a whole request body.
    pub body_read_timeout: Duration,
    /// Most connections (HTTP and websocket) served at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// A request still running after this long is answered with SERVICE_UNAVAILABLE.
    pub request_timeout: Duration,
    /// Events each process buffers for its subscriptions; a subscription that falls further
    /// behind ends with `LAGGED`.
    pub event_buffer: usize,
    /// How often the relay and the fan-out look at the outbox without being woken.
    pub event_poll: Duration,
    /// How long published events stay in the outbox (for `events(after:)`).
    pub event_retention: Duration,
    /// How often the engagement jobs (overdue, auto-close) run.
    pub job_interval: Duration,
    /// How long a websocket told that its user's credentials changed waits before it re-checks
    /// its credential: further news meanwhile is covered by the same check.
    pub ws_recheck_delay: Duration,
    /// How long a websocket client has to send `connection_init` after the upgrade (else the
    /// socket closes with 4408).
    pub ws_init_timeout: Duration,
}

/// The limits a query is checked against before it runs (see `graphql::limits`, which applies
/// them); every one is configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Most rows a query may ask for (see the module documentation).
    pub max_nodes: u64,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    /// Deepest field nesting (fragments expanded).
    pub max_depth: usize,
    /// Most selections (fields, fragment spreads, inline fragments) after expanding every
    /// fragment, summed over the document's operations.
    pub max_selections: usize,
    /// Longest query text, checked before it is parsed (parsing costs ~150 ns a byte: a
    /// 2 MiB document would hold a core for a third of a second).
    pub max_query_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        // 2M nodes admits the dashboard (first: 100 on three nested levels ≈ 1.01M) and refuses
        // four nested levels of 100 (≈ 100M).
        Self {
            max_nodes: 2_000_000,
            max_aliases: 30,
            max_root_fields: 20,
            max_depth: 20,
            max_selections: 5_000,
            max_query_bytes: 128 * 1024,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact(&self.database_url))
            .field(
                "database_read_url",
                &self.database_read_url.as_deref().map(redact),
            )
            .field("redis_url", &self.redis_url.as_deref().map(redact))
            .field("redis_prefix", &self.redis_prefix)
            .field("listen_addr", &self.listen_addr)
            .field("pool_size", &self.pool_size)
            .field("pool_timeout", &self.pool_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("introspection", &self.introspection)
            .field("loader_delay", &self.loader_delay)
            .field("suggestions", &self.suggestions)
            .field("query_limits", &self.query_limits)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("request_timeout", &self.request_timeout)
            .field("event_buffer", &self.event_buffer)
            .field("event_poll", &self.event_poll)
            .field("event_retention", &self.event_retention)
            .field("job_interval", &self.job_interval)
            .field("ws_recheck_delay", &self.ws_recheck_delay)
            .field("ws_init_timeout", &self.ws_init_timeout)
            .finish()
    }
}

/// Hides the password of a connection URL (`postgres://user:secret@host` → `postgres://user:***@host`).
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A configuration value that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}: {message}")]
pub struct ConfigError {
    name: &'static str,
    message: String,
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/dojoql";

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_string(),
            database_read_url: None,
            redis_url: None,
            redis_prefix: "dojoql".to_string(),
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            pool_size: 16,
            pool_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            max_body_bytes: 2 * 1024 * 1024,
            max_upload_bytes: 100 * 1024 * 1024,
            introspection: true,
            loader_delay: Duration::ZERO,
            suggestions: true,
            query_limits: QueryLimits::default(),
            max_response_bytes: 64 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(60),
            max_connections: 20_000,
            request_timeout: Duration::from_secs(30),
            event_buffer: 1024,
            event_poll: Duration::from_secs(1),
            event_retention: Duration::from_secs(7 * 24 * 3600),
            job_interval: Duration::from_secs(60),
            ws_recheck_delay: Duration::from_millis(200),
            ws_init_timeout: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// Reads every variable, falling back to [`Config::default`] for the ones not set.
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            database_url: var("DATABASE_URL").unwrap_or(d.database_url),
            database_read_url: var("DATABASE_READ_URL").filter(|s| !s.is_empty()),
            redis_url: var("REDIS_URL").filter(|s| !s.is_empty()),
            redis_prefix: var("REDIS_PREFIX").unwrap_or(d.redis_prefix),
            listen_addr: parse("LISTEN_ADDR")?.unwrap_or(d.listen_addr),
            pool_size: parse("DATABASE_POOL_SIZE")?.unwrap_or(d.pool_size),
            pool_timeout: parse::<u64>("DATABASE_POOL_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.pool_timeout),
            statement_timeout: parse::<u64>("DATABASE_STATEMENT_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.statement_timeout),
            max_body_bytes: parse("MAX_BODY_BYTES")?.unwrap_or(d.max_body_bytes),
            max_upload_bytes: parse("MAX_UPLOAD_BYTES")?.unwrap_or(d.max_upload_bytes),
            introspection: parse("GRAPHQL_INTROSPECTION")?.unwrap_or(d.introspection),
            loader_delay: parse::<u64>("LOADER_DELAY_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.loader_delay),
            suggestions: parse("GRAPHQL_SUGGESTIONS")?.unwrap_or(d.suggestions),
            query_limits: QueryLimits {
                max_nodes: parse("MAX_QUERY_NODES")?.unwrap_or(d.query_limits.max_nodes),
                max_aliases: parse("MAX_QUERY_ALIASES")?.unwrap_or(d.query_limits.max_aliases),
                max_root_fields: parse("MAX_QUERY_ROOT_FIELDS")?
                    .unwrap_or(d.query_limits.max_root_fields),
                max_depth: parse("MAX_QUERY_DEPTH")?.unwrap_or(d.query_limits.max_depth),
                max_selections: parse("MAX_QUERY_SELECTIONS")?
                    .unwrap_or(d.query_limits.max_selections),
                max_query_bytes: parse("MAX_QUERY_BYTES")?
                    .unwrap_or(d.query_limits.max_query_bytes),
            },
            max_response_bytes: parse("MAX_RESPONSE_BYTES")?.unwrap_or(d.max_response_bytes),
            header_read_timeout: parse::<u64>("HEADER_READ_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.header_read_timeout),
            body_read_timeout: parse::<u64>("BODY_READ_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.body_read_timeout),
            max_connections: parse("MAX_CONNECTIONS")?.unwrap_or(d.max_connections),
            request_timeout: parse::<u64>("REQUEST_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.request_timeout),
            event_buffer: parse("EVENT_BUFFER")?.unwrap_or(d.event_buffer),
            event_poll: parse::<u64>("EVENT_POLL_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.event_poll),
            event_retention: parse::<u64>("EVENT_RETENTION_HOURS")?
                .map(|h| Duration::from_secs(h * 3600))
                .unwrap_or(d.event_retention),
            job_interval: parse::<u64>("JOB_INTERVAL_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.job_interval),
            ws_recheck_delay: parse::<u64>("WS_RECHECK_DELAY_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.ws_recheck_delay),
            ws_init_timeout: parse::<u64>("WS_INIT_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.ws_init_timeout),
        })
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn parse<T: std::str::FromStr>(name: &'static str) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(None),
        Some(raw) => raw
            .trim()
            .parse()
            .map(Some)
            .map_err(|e: T::Err| ConfigError {
                name,
                message: format!("cannot parse {raw:?}: {e}"),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact("postgres://u:pw@h:5/db"), "postgres://u:***@h:5/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("redis://127.0.0.1"), "redis://127.0.0.1");
    }
}
