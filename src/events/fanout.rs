//! The fan-out: after a hint (Redis, the local relay) or a poll interval, read the numbered
//! events after the last one broadcast from the outbox, in order, and broadcast them. The
//! outbox is the truth, so a forged hint injects nothing and a lost one loses nothing.

use std::sync::{Arc, atomic::Ordering};

use super::Bus;
use crate::{
    db::{DbError, outbox},
    domain::events::{AccessChanged, EventKind},
};

/// Events read from the outbox per statement.
const BATCH: i64 = 500;

/// Broadcasts numbered events in order, reading them from the outbox after the last one
/// broadcast, whenever woken and at least every poll interval.
pub(super) async fn fan_out(bus: Arc<Bus>) {
    // Start from the newest event: live subscribers get what happens from now on (a resuming
    // one replays older events from the outbox).
    while bus.last() < 0 {
        match bus.db.read(async move |c| outbox::last_seq(c).await).await {
            Ok(n) => bus.last.store(n, Ordering::SeqCst),
            Err(e) => {
                tracing::warn!(error = %e, "events: outbox unavailable");
                tokio::time::sleep(bus.poll).await;
            }
        }
    }
    loop {
        tokio::select! {
            _ = bus.wake.notified() => {}
            _ = tokio::time::sleep(bus.poll) => {}
        }
        if let Err(e) = catch_up(&bus).await {
            tracing::warn!(error = %e, "events: fan-out cannot read the outbox");
        }
    }
}

/// One fan-out round: broadcasts every numbered event after the last one broadcast. An
/// `ACCESS_CHANGED` first makes the access cache forget what it concerns and, when credentials
/// changed, tells the websockets of the users it names.
#[tracing::instrument(name = "events.fan_out", skip_all, fields(from = bus.last(), broadcast))]
async fn catch_up(bus: &Bus) -> Result<(), DbError> {
    let mut broadcast = 0;
    loop {
        let from = bus.last();
        let events = bus
            .db
            .read(async move |c| outbox::after(c, from, BATCH).await)
            .await?;
        let n = events.len();
        for event in events {
            let seq = event.seq;
            if event.kind == EventKind::AccessChanged {
                let change = AccessChanged::from_payload(&event.payload);
                bus.access.forget(&change);
                if change.credentials {
                    bus.credentials_changed(change.users.as_deref());
                }
            }
            // No receivers is fine (`Err` only means nobody listens).
            let _ = bus.tx.send(Arc::new(event));
            bus.last.store(seq, Ordering::SeqCst);
        }
        broadcast += n;
        if (n as i64) < BATCH {
            tracing::Span::current().record("broadcast", broadcast);
            return Ok(());
        }
    }
}
