//! Live events at run time (DESIGN.md, Architecture → Events):
//!
//! - **Relay** (`relay.rs`). Every mutation records its events in the outbox inside its own
//!   transaction and `NOTIFY`s on commit. Each process LISTENs on a connection of its own; on a
//!   notification (or every poll interval) it runs a relay round: under a Postgres advisory
//!   lock, so one replica at a time, it numbers the committed events in commit order (`seq`,
//!   the public event id) and publishes the highest number on Redis (`<prefix>:events`), then
//!   marks them published. Redis down: the round leaves them unpublished and the next round
//!   tries again, after a backoff (`backoff.rs`, shared with every retry loop here).
//! - **Fan-out** (`fanout.rs`, `redis.rs`). Each process holds exactly one Redis subscription. A
//!   message is only a hint: the fan-out then reads the events after the last one it delivered
//!   from the outbox, in order, and hands them to the bounded in-process broadcast of the
//!   [`Bus`]. So a forged message injects nothing, a lost one loses nothing (the poll catches
//!   up), and every replica delivers the same events in the same order. Without `REDIS_URL` the
//!   relay wakes the local fan-out directly (single node).
//! - **Access** ([`access`], [`stream`]). Subscriptions check every event against the
//!   subscriber's current roles through [`access::AccessCache`]. An `ACCESS_CHANGED` event
//!   names whose access changed ([`AccessChanged`](crate::domain::events::AccessChanged)): the
//!   cache forgets those users' entries only, and when their credentials changed (a token
//!   revoked, a user deactivated), only their websockets are told to re-check their credential,
//!   through a per-user registry of watch channels (`Bus::watch_credentials`). A rename or
//!   any other change that grants nothing records no such event.
//!
//! This module knows rows and channels, not GraphQL.

pub mod access;
mod backoff;
mod bus;
mod fanout;
mod redis;
mod relay;
pub mod stream;

use std::sync::Arc;

use tokio::task::JoinHandle;

pub(crate) use self::bus::CredentialWatch;
pub use self::bus::{Bus, BusHealth};
pub use crate::db::outbox::Event;

/// The running tasks of the events subsystem; dropping it stops them.
pub struct Running(Vec<JoinHandle<()>>);

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Starts the relay, the fan-out (and its Redis subscription) and the outbox pruning.
pub async fn start(bus: Arc<Bus>, database_url: String) -> Running {
    if bus.redis.is_some() {
        tracing::info!("events: Redis pub/sub fan-out");
    } else {
        tracing::info!("events: no REDIS_URL, in-process event bus (single node)");
    }
    let mut tasks = vec![
        tokio::spawn(fanout::fan_out(bus.clone())),
        tokio::spawn(relay::relay(bus.clone(), database_url)),
        tokio::spawn(relay::prune(bus.clone())),
    ];
    if bus.redis.is_some() {
        tasks.push(tokio::spawn(self::redis::subscriber(bus.clone())));
    }
    Running(tasks)
}
