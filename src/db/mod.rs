//! Postgres access with diesel-async over a deadpool pool: connection setup, embedded migrations,
//! the narrow [`DbError`], and one module per entity (rows, `NewX`/`XChanges`, query functions).
//!
//! Nothing here knows GraphQL or HTTP. Write functions own their transaction, and
//! [`Db::write`] runs them on a spawned task so that a client hanging up cannot cancel a
//! transaction half-way.

pub mod advisory;
pub mod api_token;
pub mod attachment;
pub mod authz;
pub mod copy;
pub mod counts;
pub mod delete;
pub mod engagement;
pub mod enums;
pub mod file;
pub mod finding;
pub mod group;
pub mod ids;
pub mod import;
pub mod lookup;
pub mod membership;
pub mod note;
pub mod notification;
pub mod outbox;
pub mod page;
pub mod product;
pub mod product_type;
pub mod replica;
pub mod schema;
pub mod sla_configuration;
pub mod sql;
pub mod system_settings;
pub mod test;
pub mod user;

// The listed row types, read by position (see `page::Columns`).
crate::by_position!(
    engagement::Engagement,
    finding::Finding,
    group::Group,
    lookup::DevelopmentEnvironment,
    lookup::TestType,
    product::Product,
    product_type::ProductType,
    sla_configuration::SlaConfiguration,
    test::Test,
    user::User,
);

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use diesel::{ConnectionError, result::DatabaseErrorKind};
use diesel_async::{
    AsyncConnection, AsyncPgConnection, SimpleAsyncConnection,
    async_connection_wrapper::AsyncConnectionWrapper,
    pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, deadpool},
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

/// Every migration in `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type Pool = deadpool::Pool<AsyncPgConnection>;
pub type Conn = deadpool::Object<AsyncPgConnection>;
pub type QueryResult<T> = Result<T, DbError>;

/// What went wrong in the database layer, classified for the layers above.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("row not found")]
    NotFound,
    #[error("unique constraint {constraint} violated")]
    Unique { constraint: String },
    #[error("foreign key constraint {constraint} violated")]
    ForeignKey { constraint: String },
    #[error("check constraint {constraint} violated")]
    Check { constraint: String },
    #[error("no database connection available: {0}")]
    Unavailable(String),
    /// A rule of the model refused the write (the message is safe to show).
    #[error("{0}")]
    Rule(String),
    /// The write conflicts with the state of other objects (the message is safe to show).
    #[error("{0}")]
    Conflict(String),
    /// The parent named by a create (an engagement for a test, …) does not exist.
    #[error("{0} not found")]
    ParentNotFound(&'static str),
    /// The caller may see the object but lacks the permission (the message is safe to show).
    #[error("{0}")]
    Forbidden(String),
    /// The engagement is COMPLETED: reopen it before adding tests or findings.
    #[error("engagement {0} is completed; reopen it first")]
    EngagementCompleted(crate::domain::ids::EngagementId),
    #[error(transparent)]
    Query(diesel::result::Error),
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::Error as E;
        match e {
            E::NotFound => DbError::NotFound,
            E::DatabaseError(kind, info) => {
                let constraint = info.constraint_name().unwrap_or("?").to_string();
                match kind {
                    DatabaseErrorKind::UniqueViolation => DbError::Unique { constraint },
                    DatabaseErrorKind::ForeignKeyViolation => DbError::ForeignKey { constraint },
                    DatabaseErrorKind::CheckViolation => DbError::Check { constraint },
                    DatabaseErrorKind::ClosedConnection => {
                        DbError::Unavailable(info.message().to_string())
                    }
                    // SQLSTATE 22001 / 22003: a value does not fit its column. The message names
                    // only the type ("character varying(117)"), which is safe to show.
                    _ if info.message().starts_with("value too long for type") => {
                        DbError::Rule(format!("a text value is too long ({})", info.message()))
                    }
                    // SQLSTATE 22021: text with U+0000, which Postgres cannot store (requests
                    // are checked before they get here; this catches any other path).
                    _ if info
                        .message()
                        .starts_with("invalid byte sequence for encoding") =>
                    {
                        DbError::Rule("text must not contain the NUL character (U+0000)".into())
                    }
                    _ if info.message().starts_with("numeric field overflow") => {
                        DbError::Rule("a number is too large for its field".into())
                    }
                    other => DbError::Query(E::DatabaseError(other, info)),
                }
            }
            other => DbError::Query(other),
        }
    }
}

impl From<deadpool::PoolError> for DbError {
    fn from(e: deadpool::PoolError) -> Self {
        DbError::Unavailable(e.to_string())
    }
}

/// Counts (and, when asked, records) the SQL statements the pool's connections execute. Tests use
/// it to prove a query's round trips are constant; the server exposes the count in its log.
#[derive(Debug, Default)]
pub struct StatementLog {
    count: AtomicU64,
    recording: AtomicBool,
    statements: Mutex<Vec<String>>,
}

impl StatementLog {
    /// Statements executed so far.
    pub fn count(&self) -> u64 {
        AtomicU64::load(&self.count, Ordering::Relaxed)
    }

    /// Starts recording statement texts from now on, dropping what was recorded before.
    pub fn start_recording(&self) {
        self.statements.lock().expect("statement log").clear();
        self.recording.store(true, Ordering::SeqCst);
    }

    /// Stops recording and returns the statements recorded since [`Self::start_recording`].
    pub fn take(&self) -> Vec<String> {
        self.recording.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.statements.lock().expect("statement log"))
    }

    /// The statements recorded so far, recording going on (tests wait for a statement).
    pub fn recorded(&self) -> Vec<String> {
        self.statements.lock().expect("statement log").clone()
    }

    fn on_query(&self, text: impl FnOnce() -> String) {
        if self.recording.load(Ordering::Relaxed) {
            let text = text();
            self.statements.lock().expect("statement log").push(text);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// `$body` (an expression using a pooled connection bound to `$conn`) as [`Db::read`] runs it:
/// on the read replica when the session may read there, once more on another connection (the
/// primary's, when the replica failed) when the first was lost. For futures that must be `Send`
/// for any lifetime (dataloaders), which the compiler cannot prove of an async closure.
macro_rules! read_retrying {
    ($db:expr, |$conn:ident| $body:expr) => {{
        let mut retried = false;
        loop {
            let (mut $conn, on_replica) = $db.read_conn().await?;
            let result: $crate::db::QueryResult<_> = $body.await;
            match result {
                Err(e) if !retried && (e.is_lost_connection() || (on_replica && e.is_replica_conflict())) => {
                    if on_replica {
                        $db.replica_failed(&e);
                    } else {
                        tracing::warn!(error = %e, "a pooled database connection was lost; reading again");
                    }
                    // Out of the pool: it may not know yet that the socket has closed.
                    drop($crate::db::Conn::take($conn));
                    retried = true;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use read_retrying;

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub url: String,
    pub max_size: usize,
    pub wait_timeout: Duration,
    pub statement_timeout: Duration,
}

/// The pool plus the statement log every pooled connection reports to; optionally a read
/// replica, and the session (request or websocket connection) this handle reads for.
#[derive(Clone)]
pub struct Db {
    pub pool: Pool,
    pub log: Arc<StatementLog>,
    replica: Option<Arc<replica::Replica>>,
    /// Set on a session's handle ([`Db::session`]): reads may go to the replica, and what the
    /// session wrote keeps its reads on the primary until the replica has it.
    session: Option<Arc<replica::Session>>,
}

impl Db {
    /// Builds the pool. Connections are opened lazily; each one gets a statement timeout, an
    /// idle-in-transaction timeout, UTC, no JIT and the statement counter. (JIT compiles a query
    /// whose estimated cost passes `jit_above_cost`: on a table whose statistics lag behind an
    /// import the dedup lookup of a chunk looked that dear and spent 0.8 s compiling for 17 ms of
    /// work, every chunk. Our statements are short index-driven ones; none gains from it.)
    pub fn connect(settings: &PoolSettings) -> anyhow::Result<Self> {
        let log = Arc::new(StatementLog::default());
        let pool = Self::pool(settings, log.clone())?;
        Ok(Self {
            pool,
            log,
            replica: None,
            session: None,
        })
    }

    /// [`Db::connect`] plus a read replica at `read_url` (a streaming replica of the same
    /// cluster), whose replay position is followed from now on (see [`replica`]). Needs a Tokio
    /// runtime.
    pub fn connect_with_replica(settings: &PoolSettings, read_url: &str) -> anyhow::Result<Self> {
        let mut db = Self::connect(settings)?;
        let replica_pool = Self::pool(
            &PoolSettings {
                url: read_url.to_string(),
                ..settings.clone()
            },
            db.log.clone(),
        )?;
        let replica = replica::Replica::new(replica_pool);
        tokio::spawn(replica.clone().track(db.pool.clone()));
        db.replica = Some(replica);
        Ok(db)
    }

    /// A handle for one session (an HTTP request or a websocket connection): its reads go to
    /// the replica, if there is one, except while the replica lacks what the session wrote.
    /// Without a replica, the same as `self`.
    pub fn session(&self) -> Db {
        Db {
            session: self.replica.as_ref().map(|_| Arc::default()),
            ..self.clone()
        }
    }

    /// Whether the read replica was reachable at the last attempt; `None` without one.
    pub fn replica_reachable(&self) -> Option<bool> {
        self.replica.as_ref().map(|r| r.reachable())
    }

    /// Makes this session's later reads see every commit that finished before now (an event
    /// just received: the objects it names), from the primary until the replica has them.
    pub fn see_commits_until_now(&self) {
        if let (Some(replica), Some(session)) = (&self.replica, &self.session) {
            session.wrote_at(replica.now());
        }
    }

    fn pool(settings: &PoolSettings, log: Arc<StatementLog>) -> anyhow::Result<Pool> {
        let setup_log = log;
        let stmt_ms = settings.statement_timeout.as_millis();
        let mut mgr_config = ManagerConfig::<AsyncPgConnection>::default();
        // No test statement before a connection is reused (it was one round trip per dataloader
        // batch): the pool drops a connection whose socket has closed or whose transaction
        // state is broken, and a read whose connection was lost all the same runs again on
        // another (`Db::read`).
        mgr_config.recycling_method = diesel_async::pooled_connection::RecyclingMethod::Fast;
        mgr_config.custom_setup = Box::new(move |url| {
            let log = setup_log.clone();
            let url = url.to_string();
            async move {
                let mut conn = AsyncPgConnection::establish(&url).await?;
                conn.batch_execute(&format!(
                    "SET statement_timeout = {stmt_ms}; SET idle_in_transaction_session_timeout = 60000; SET TIME ZONE 'UTC'; SET jit = off"
                ))
                .await
                .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
                conn.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
                    if let diesel::connection::InstrumentationEvent::StartQuery { query, .. } = event {
                        log.on_query(|| query.to_string());
                    }
                });
                Ok(conn)
            }
            .boxed()
        });
        let mgr = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            &settings.url,
            mgr_config,
        );
        let pool = Pool::builder(mgr)
            .max_size(settings.max_size)
            .wait_timeout(Some(settings.wait_timeout))
            .create_timeout(Some(settings.wait_timeout))
            .recycle_timeout(Some(settings.wait_timeout))
            .runtime(::deadpool::Runtime::Tokio1)
            .build()?;
        Ok(pool)
    }

    /// A pooled connection to the primary, or `Unavailable` after the wait timeout.
    pub async fn conn(&self) -> QueryResult<Conn> {
        Ok(self.pool.get().await?)
    }

    /// A connection to read from, and whether it is the replica's: the replica's when this is a
    /// session's handle, the replica is reachable and holds what the session wrote; the
    /// primary's otherwise.
    pub async fn read_conn(&self) -> QueryResult<(Conn, bool)> {
        if let (Some(replica), Some(session)) = (&self.replica, &self.session)
            && replica.serves(session.last_write())
            && let Some(conn) = replica.conn().await
        {
            return Ok((conn, true));
        }
        Ok((self.conn().await?, false))
    }

    /// A read on the replica failed with `error`: reads go to the primary until it is back.
    pub fn replica_failed(&self, error: &DbError) {
        if let Some(replica) = &self.replica {
            replica.failed(error);
        }
    }

    /// Runs `f` inside one transaction on a spawned task: the transaction either commits or rolls
    /// back as a whole even when the caller's future is dropped half-way.
    ///
    /// `f` returns a boxed future: `db.write(move |c| Box::pin(async move { … }))`.
    pub async fn write<T, F>(&self, f: F) -> QueryResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AsyncPgConnection) -> BoxFuture<'c, QueryResult<T>>
            + Send
            + 'static,
    {
        let pool = self.pool.clone();
        let task = tokio::spawn(async move {
            let mut pooled = pool.get().await?;
            let conn: &mut AsyncPgConnection = &mut pooled;
            conn.transaction::<T, DbError, _>(async move |c| f(c).await)
                .await
        });
        let result = match task.await {
            Ok(result) => result,
            Err(join) => Err(DbError::Unavailable(format!("write task failed: {join}"))),
        };
        // Even a failed write may have committed (a lost reply): read it from the primary.
        self.see_commits_until_now();
        result
    }

    /// Runs a read on a pooled connection; once more on another connection when the first
    /// turns out to have been lost (the pool hands connections out without a test statement;
    /// see [`Db::connect`]). A read has no effect to repeat.
    pub async fn read<T>(&self, f: impl AsyncFn(&mut Conn) -> QueryResult<T>) -> QueryResult<T> {
        read_retrying!(self, |conn| f(&mut conn))
    }
}

impl DbError {
    /// Whether a read on a replica was cancelled because replay needed what it read (a hot
    /// standby conflict): the primary answers it.
    pub fn is_replica_conflict(&self) -> bool {
        matches!(self, DbError::Query(diesel::result::Error::DatabaseError(_, info))
            if info.message().starts_with("canceling statement due to conflict with recovery"))
    }

    /// Whether the statement failed because its connection is gone (the server closed it,
    /// terminated its backend or is shutting down) rather than because of the statement.
    pub fn is_lost_connection(&self) -> bool {
        match self {
            DbError::Unavailable(_) => false,
            DbError::Query(diesel::result::Error::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection
                ) || LOST_CONNECTION_MESSAGES
                    .iter()
                    .any(|m| info.message().starts_with(m))
            }
            _ => false,
        }
    }
}

/// How Postgres words the errors that end a session (SQLSTATE 57P01–57P03 and a closed
/// socket); diesel keeps the message, not the code.
const LOST_CONNECTION_MESSAGES: &[&str] = &[
    "terminating connection",
    "the database system is shutting down",
    "the database system is starting up",
    "connection closed",
    "server closed the connection",
];

/// Runs every pending migration on `url`; returns how many ran.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn migrate(url: &str) -> anyhow::Result<usize> {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        use diesel::Connection;
        let mut c = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)?;
        let ran = c
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
        Ok(ran.len())
    })
    .await?
}

/// Today's date as the database layer sees it (UTC); passed to queries so Rust and SQL agree.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// `rows` grouped by `key` (rows without one are dropped), keeping their order.
pub(crate) fn group_by<K: std::hash::Hash + Eq, T>(
    rows: Vec<T>,
    key: impl Fn(&T) -> Option<K>,
) -> std::collections::HashMap<K, Vec<T>> {
    let mut out: std::collections::HashMap<K, Vec<T>> = std::collections::HashMap::new();
    for row in rows {
        if let Some(k) = key(&row) {
            out.entry(k).or_default().push(row);
        }
    }
    out
}

/// Fails with `NotFound` when an update or delete touched no row.
pub(crate) fn one(affected: usize) -> QueryResult<()> {
    if affected == 0 {
        Err(DbError::NotFound)
    } else {
        Ok(())
    }
}

/// Creates the database named in `url` when it does not exist yet (connecting to the server's
/// `postgres` database to do so). A missing database is the one setup step a newcomer may lack.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn ensure_database(url: &str) -> anyhow::Result<()> {
    match AsyncPgConnection::establish(url).await {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("does not exist") => {
            let (base, name) = url
                .rsplit_once('/')
                .ok_or_else(|| anyhow::anyhow!("DATABASE_URL has no database name"))?;
            let name = name.split('?').next().unwrap_or(name);
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                anyhow::bail!(
                    "refusing to create database {name:?}: use letters, digits and _ only"
                );
            }
            let mut admin = AsyncPgConnection::establish(&format!("{base}/postgres")).await?;
            admin
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .await?;
            tracing::info!(database = name, "created database");
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("cannot connect to the database: {e}")),
    }
}
