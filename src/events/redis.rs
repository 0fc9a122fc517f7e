//! The Redis side of the event bus: the publisher the relay announces new events with, and this
//! process's one subscription, whose messages only wake the fan-out (they carry no event).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use super::{Bus, backoff::Backoff};
use crate::config::Config;

/// The longest wait between attempts to publish or to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The first wait after a failed attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The Redis side of the bus.
pub(crate) struct RedisBus {
    client: redis::Client,
    /// `<prefix>:events`.
    channel: String,
    /// The publishing connection, opened on first use (it reconnects by itself afterwards).
    publisher: tokio::sync::Mutex<Option<redis::aio::ConnectionManager>>,
    /// After a failed publish, no new attempt until the backoff is over.
    backoff: std::sync::Mutex<Backoff>,
    /// Whether Redis works: the last publish succeeded and the subscription holds.
    ok: AtomicBool,
}

impl RedisBus {
    /// The Redis side for `config`, when it names a Redis (nothing connects yet).
    pub(crate) fn new(config: &Config) -> anyhow::Result<Option<Self>> {
        let Some(url) = &config.redis_url else {
            return Ok(None);
        };
        Ok(Some(Self {
            client: redis::Client::open(resp3(url))?,
            channel: format!("{}:events", config.redis_prefix),
            publisher: tokio::sync::Mutex::new(None),
            backoff: std::sync::Mutex::new(Backoff::new(FIRST_BACKOFF, MAX_BACKOFF)),
            ok: AtomicBool::new(true),
        }))
    }

    /// Whether Redis works (see [`super::BusHealth`]).
    pub(crate) fn ok(&self) -> bool {
        self.ok.load(Ordering::SeqCst)
    }

    fn set_ok(&self, ok: bool) {
        self.ok.store(ok, Ordering::SeqCst);
    }

    /// Announces "events up to `last` exist": `Some(true)` when published, `Some(false)` when
    /// Redis is unreachable, `None` without an attempt while backing off after a failure.
    pub(crate) async fn announce(&self, last: i64) -> Option<bool> {
        if !self.backoff.lock().expect("backoff").ready() {
            return None;
        }
        let published = self.publish(last).await;
        {
            let mut backoff = self.backoff.lock().expect("backoff");
            if published {
                backoff.succeeded();
            } else {
                backoff.failed();
            }
        }
        self.set_ok(published);
        Some(published)
    }

    /// Publishes `last` on the channel; false when Redis is unreachable.
    async fn publish(&self, last: i64) -> bool {
        let attempt = async {
            let mut publisher = self.publisher.lock().await;
            if publisher.is_none() {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_number_of_retries(1)
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(Duration::from_secs(2)));
                *publisher = Some(
                    self.client
                        .get_connection_manager_with_config(config)
                        .await?,
                );
            }
            let conn = publisher.as_mut().expect("just opened");
            redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(last)
                .query_async::<i64>(conn)
                .await
        };
        match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "events: cannot publish on Redis");
                false
            }
            Err(_) => {
                tracing::warn!("events: publishing on Redis timed out");
                false
            }
        }
    }
}

/// Keeps this process's one Redis subscription; every message wakes the fan-out.
pub(super) async fn subscriber(bus: Arc<Bus>) {
    let Some(redis) = &bus.redis else { return };
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    loop {
        let hub = Arc::downgrade(&bus);
        let push = move |info: redis::PushInfo| -> Result<(), redis::aio::SendError> {
            let Some(bus) = hub.upgrade() else {
                return Err(redis::aio::SendError);
            };
            let Some(redis) = &bus.redis else {
                return Err(redis::aio::SendError);
            };
            match info.kind {
                redis::PushKind::Message => bus.wake.notify_one(),
                redis::PushKind::Subscribe => {
                    // (Re)subscribed: catch up on anything published meanwhile.
                    redis.set_ok(true);
                    bus.wake.notify_one();
                }
                redis::PushKind::Disconnection => {
                    tracing::warn!("events: Redis subscription lost; polling the outbox");
                    redis.set_ok(false);
                }
                _ => {}
            }
            Ok(())
        };
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_push_sender(push)
            .set_automatic_resubscription()
            .set_max_delay(MAX_BACKOFF);
        match redis
            .client
            .get_connection_manager_with_config(config)
            .await
        {
            Ok(mut manager) => match manager.subscribe(&redis.channel).await {
                Ok(()) => {
                    redis.set_ok(true);
                    // The manager reconnects and resubscribes by itself; keep it alive.
                    std::future::pending::<()>().await;
                }
                Err(e) => tracing::warn!(error = %e, "events: cannot subscribe on Redis"),
            },
            Err(e) => tracing::warn!(error = %e, "events: cannot connect to Redis"),
        }
        redis.set_ok(false);
        tokio::time::sleep(backoff.failed()).await;
    }
}

/// `url` with `protocol=resp3` (push messages need it).
fn resp3(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}
