//! Reads from a Postgres streaming replica (`DATABASE_READ_URL`), with read-your-writes.
//!
//! A [`Replica`] follows how far the replica has replayed the primary's write-ahead log: every
//! [`TRACK_EVERY`] it reads the primary's current WAL position, then the replica's replay
//! position. A primary position read at instant `t` covers every commit that finished before
//! `t`; once the replica has replayed it, the replica is *caught up through* `t`. A session
//! (one HTTP request, or one websocket connection) that wrote at instant `w` reads from the
//! primary until the replica is caught up through `w`, then from the replica again; a session
//! that never wrote reads from the replica whenever it is reachable. When the replica cannot be
//! reached (or its position cannot be read), reads go to the primary and the change is logged
//! once each way.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::{Conn, DbError, Pool, QueryResult};
use diesel::{
    QueryableByName,
    sql_types::{BigInt, Nullable},
};

/// How often the replica's replay position is compared with the primary's.
pub const TRACK_EVERY: Duration = Duration::from_millis(100);

/// The replica's pool and how far it has caught up.
pub struct Replica {
    pub(super) pool: Pool,
    /// The instants below are nanoseconds since this one (0: never).
    base: Instant,
    /// The replica holds every commit that finished before this instant.
    caught_up: AtomicU64,
    /// Whether the last attempt to reach the replica worked.
    healthy: AtomicBool,
}

impl Replica {
    pub(super) fn new(pool: Pool) -> Arc<Self> {
        Arc::new(Self {
            pool,
            base: Instant::now(),
            caught_up: AtomicU64::new(0),
            healthy: AtomicBool::new(true),
        })
    }

    /// Nanoseconds from `base` to `at` (at least 1, so that 0 keeps meaning "never").
    fn stamp(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.base).as_nanos() as u64).max(1)
    }

    /// A stamp for now, for [`Session`].
    pub(super) fn now(&self) -> u64 {
        self.stamp(Instant::now())
    }

    /// Whether the last attempt to reach the replica worked.
    pub fn reachable(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Whether a session whose last write finished at `wrote` (0: never) may read here.
    pub(super) fn serves(&self, wrote: u64) -> bool {
        self.healthy.load(Ordering::Relaxed) && self.caught_up.load(Ordering::Acquire) >= wrote
    }

    /// A replica connection, or `None` (logged) when the replica cannot be reached.
    pub(super) async fn conn(&self) -> Option<Conn> {
        match self.pool.get().await {
            Ok(c) => Some(c),
            Err(e) => {
                self.failed(&DbError::from(e));
                None
            }
        }
    }

    /// Marks the replica unreachable after `error` (reads go to the primary until the tracker
    /// reaches it again).
    pub(super) fn failed(&self, error: &DbError) {
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(%error, "the read replica cannot be reached; reading from the primary");
        }
    }

    fn recovered(&self) {
        if !self.healthy.swap(true, Ordering::Relaxed) {
            tracing::info!("the read replica is reachable again; reading from it");
        }
    }

    /// Follows the replica's replay position until the process ends (see the module docs).
    pub(super) async fn track(self: Arc<Self>, primary: Pool) {
        // Primary positions read but not yet replayed, oldest first, with when they were read.
        let mut pending: VecDeque<(Instant, i64)> = VecDeque::new();
        let mut tick = tokio::time::interval(TRACK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let read_at = Instant::now();
            match position(&primary, "pg_current_wal_lsn()").await {
                Ok(Some(lsn)) => {
                    pending.push_back((read_at, lsn));
                    // A replica that stays far behind: keep the newest positions only.
                    while pending.len() > 10_000 {
                        pending.pop_front();
                    }
                }
                // The primary is unreachable: nothing to compare with this round.
                _ => continue,
            }
            match position(&self.pool, "pg_last_wal_replay_lsn()").await {
                Ok(replayed) => {
                    self.recovered();
                    let mut through = None;
                    while let Some(&(at, lsn)) = pending.front() {
                        // NULL: not in recovery, so not behind anything.
                        if replayed.is_some_and(|r| r < lsn) {
                            break;
                        }
                        through = Some(at);
                        pending.pop_front();
                    }
                    if let Some(at) = through {
                        self.caught_up.fetch_max(self.stamp(at), Ordering::AcqRel);
                    }
                }
                Err(e) => self.failed(&e),
            }
        }
    }
}

#[derive(QueryableByName)]
struct Lsn {
    #[diesel(sql_type = Nullable<BigInt>)]
    lsn: Option<i64>,
}

/// A WAL position (`pg_current_wal_lsn()` or `pg_last_wal_replay_lsn()`) as a byte offset.
async fn position(pool: &Pool, function: &str) -> QueryResult<Option<i64>> {
    // Here only: its `load` would shadow the atomics' above.
    use diesel_async::RunQueryDsl;
    let mut conn = pool.get().await?;
    let row: Lsn = diesel::sql_query(format!(
        "SELECT ({function} - '0/0'::pg_lsn)::bigint AS lsn"
    ))
    .get_result(&mut *conn)
    .await?;
    Ok(row.lsn)
}

/// What one HTTP request or websocket connection has written: when its last write finished.
#[derive(Default)]
pub struct Session {
    wrote: AtomicU64,
}

impl Session {
    pub(super) fn wrote_at(&self, stamp: u64) {
        self.wrote.fetch_max(stamp, Ordering::AcqRel);
    }

    pub(super) fn last_write(&self) -> u64 {
        self.wrote.load(Ordering::Acquire)
    }
}
