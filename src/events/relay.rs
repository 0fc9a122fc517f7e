//! The relay: numbers committed events and announces them. On a `NOTIFY` from any process's
//! commit (or every poll interval) it runs a round: under a Postgres advisory lock, so one
//! replica at a time, it numbers the committed events in commit order (`seq`, the public event
//! id), publishes the highest number on Redis, and marks them published. Redis down: the round
//! leaves them unpublished and a later round tries again. Also prunes published events past
//! their retention.

use std::{sync::Arc, time::Duration};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;

use super::{Bus, backoff::Backoff};
use crate::db::{DbError, outbox};

/// The advisory lock that serializes relay rounds across replicas.
const RELAY_LOCK: i64 = 0x646f_6a6f_7265_6c61;

/// Events numbered per round at most.
const NUMBER_PER_ROUND: i64 = 10_000;

/// The longest wait between failed rounds.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Runs relay rounds: on `NOTIFY` from any process, and every poll interval.
pub(super) async fn relay(bus: Arc<Bus>, database_url: String) {
    let mut listener: Option<AsyncPgConnection> = None;
    // While the database fails, rounds (and attempts to LISTEN again) slow down.
    let mut backoff = Backoff::new(bus.poll, MAX_BACKOFF);
    loop {
        if listener.is_none() {
            listener = listen(&database_url).await;
        }
        if let Some(conn) = &mut listener {
            if !notified_or_polled(conn, bus.poll).await {
                listener = None;
            }
        } else {
            tokio::time::sleep(backoff.pending()).await;
        }
        match round(&bus).await {
            Ok(()) => backoff.succeeded(),
            Err(e) => {
                tracing::warn!(error = %e, "events: relay round failed; retrying");
                tokio::time::sleep(backoff.failed()).await;
            }
        }
    }
}

/// Waits for a notification on `conn`, at most `poll`; `false` when the connection is gone.
async fn notified_or_polled(conn: &mut AsyncPgConnection, poll: Duration) -> bool {
    let notifications = conn.notifications_stream();
    tokio::pin!(notifications);
    tokio::select! {
        // `None` or an error: the listening connection is gone.
        n = notifications.next() => matches!(n, Some(Ok(_))),
        _ = tokio::time::sleep(poll) => true,
    }
}

/// A connection LISTENing on the outbox channel, or `None` when the database is unreachable.
async fn listen(url: &str) -> Option<AsyncPgConnection> {
    let mut conn = match AsyncPgConnection::establish(url).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "events: cannot open the LISTEN connection");
            return None;
        }
    };
    match diesel::sql_query(format!("LISTEN {}", outbox::CHANNEL))
        .execute(&mut conn)
        .await
    {
        Ok(_) => Some(conn),
        Err(e) => {
            tracing::warn!(error = %e, "events: LISTEN failed");
            None
        }
    }
}

/// One relay round: under the relay lock, number the committed events and publish the newest
/// number; events stay unpublished (and are retried) while Redis is down.
#[tracing::instrument(name = "events.relay_round", skip_all, fields(last))]
async fn round(bus: &Bus) -> Result<(), DbError> {
    let (last, pending) = bus
        .db
        .write(|c| {
            Box::pin(async move {
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({RELAY_LOCK})"))
                    .execute(c)
                    .await?;
                let last = outbox::assign_seqs(c, NUMBER_PER_ROUND).await?;
                let pending = outbox::unpublished(c, 1).await?;
                Ok((last, !pending.is_empty()))
            })
        })
        .await?;
    tracing::Span::current().record("last", last);
    if !pending {
        return Ok(());
    }
    // The local fan-out needs no Redis.
    bus.wake.notify_one();
    let published = match &bus.redis {
        None => true,
        Some(redis) => match redis.announce(last).await {
            Some(published) => published,
            // Backing off: the events wait (replicas deliver them by polling meanwhile).
            None => return Ok(()),
        },
    };
    if published {
        bus.db
            .write(move |c| Box::pin(outbox::mark_published(c, last)))
            .await?;
    }
    Ok(())
}

/// Deletes published events older than the retention, hourly (idempotent on every replica).
pub(super) async fn prune(bus: Arc<Bus>) {
    loop {
        let before = chrono::Utc::now()
            - chrono::Duration::from_std(bus.retention).unwrap_or(chrono::Duration::days(7));
        match bus
            .db
            .write(move |c| Box::pin(outbox::prune(c, before)))
            .await
        {
            Ok(n) if n > 0 => tracing::info!(deleted = n, "events: pruned the outbox"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "events: pruning failed"),
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
