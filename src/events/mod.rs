//! Live events at run time (DESIGN.md, Architecture → Events):
//!
//! - **Relay.** Every mutation records its events in the outbox inside its own transaction and
//!   `NOTIFY`s on commit. Each process LISTENs on a connection of its own; on a notification (or
//!   every poll interval) it runs a relay round: under a Postgres advisory lock, so one replica
//!   at a time, it numbers the committed events in commit order (`seq`, the public event id)
//!   and publishes the highest number on Redis (`<prefix>:events`), then marks them published.
//!   Redis down: the round leaves them unpublished and the next round tries again.
//! - **Fan-out.** Each process holds exactly one Redis subscription. A message is only a hint:
//!   the fan-out then reads the events after the last one it delivered from the outbox, in
//!   order, and hands them to a bounded in-process broadcast. So a forged message injects
//!   nothing, a lost one loses nothing (the poll catches up), and every replica delivers the
//!   same events in the same order. Without `REDIS_URL` the relay wakes the local fan-out
//!   directly (single node).
//! - **Access.** Subscriptions check every event against the subscriber's current roles through
//!   [`access::AccessCache`]. An `ACCESS_CHANGED` event names whose access changed
//!   ([`AccessChanged`]): the cache forgets those users' entries only, and when their
//!   credentials changed (a token revoked, a user deactivated), only their websockets are told
//!   to re-check their credential, through a per-user registry of watch channels
//!   ([`Bus::watch_credentials`]). A rename or any other change that grants nothing records no
//!   such event.

pub mod access;
pub mod stream;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::{
    sync::{Notify, broadcast, watch},
    task::JoinHandle,
};

use crate::{
    config::Config,
    db::{self, Db, DbError, outbox},
    domain::events::{AccessChanged, EventKind},
};

pub use outbox::Event;

/// The advisory lock that serializes relay rounds across replicas.
const RELAY_LOCK: i64 = 0x646f_6a6f_7265_6c61;

/// Events read from the outbox per statement.
const BATCH: i64 = 500;

/// The process's event hub: the broadcast every subscription reads, and what feeds it.
pub struct Bus {
    tx: broadcast::Sender<Arc<Event>>,
    /// The highest event number broadcast so far.
    last: AtomicI64,
    /// One channel per user with open websockets, bumped when that user's credentials change
    /// (see [`Bus::watch_credentials`]); an entry goes with the last socket of its user.
    credentials: std::sync::Mutex<HashMap<i32, watch::Sender<u64>>>,
    /// Counts credential changes handled, whoever they concerned.
    credential_epoch: AtomicU64,
    /// Wakes the fan-out: numbered events may be waiting.
    wake: Notify,
    /// Wakes the relay: events may have been committed.
    relay_wake: Notify,
    /// Whether the Redis bus works (always true without Redis).
    redis_ok: AtomicBool,
    redis: Option<RedisBus>,
    /// The events subsystem's own small pool (so that its queries neither compete with
    /// requests nor count in their statement log).
    db: Db,
    poll: Duration,
    retention: Duration,
    pub access: access::AccessCache,
}

/// The Redis side of the bus.
struct RedisBus {
    client: redis::Client,
    channel: String,
    /// The publishing connection, opened on first use (it reconnects by itself afterwards).
    publisher: tokio::sync::Mutex<Option<redis::aio::ConnectionManager>>,
    /// After a failed publish: no new attempt before this instant; the wait doubles with every
    /// failure (100 ms up to 5 s) and resets on success.
    backoff: std::sync::Mutex<(tokio::time::Instant, Duration)>,
}

impl RedisBus {
    fn may_try(&self) -> bool {
        let (not_before, _) = *self.backoff.lock().expect("backoff");
        tokio::time::Instant::now() >= not_before
    }

    fn record(&self, published: bool) {
        let mut b = self.backoff.lock().expect("backoff");
        if published {
            *b = (tokio::time::Instant::now(), Duration::ZERO);
        } else {
            let wait = (b.1 * 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
            *b = (tokio::time::Instant::now() + wait, wait);
        }
    }
}

/// What `/ready` reports about the event bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusHealth {
    /// No Redis configured: the in-process bus.
    Local,
    RedisUp,
    /// Redis is configured but unreachable: mutations still commit; events are delivered
    /// from the outbox by polling and published when Redis returns.
    RedisDegraded,
}

impl Bus {
    /// The bus of a process; nothing runs until [`start`].
    pub fn new(config: &Config) -> anyhow::Result<Arc<Bus>> {
        let db = Db::connect(&db::PoolSettings {
            url: config.database_url.clone(),
            max_size: 4,
            wait_timeout: config.pool_timeout,
            statement_timeout: config.statement_timeout,
        })?;
        let redis = match &config.redis_url {
            None => None,
            Some(url) => Some(RedisBus {
                client: redis::Client::open(resp3(url))?,
                channel: format!("{}:events", config.redis_prefix),
                publisher: tokio::sync::Mutex::new(None),
                backoff: std::sync::Mutex::new((tokio::time::Instant::now(), Duration::ZERO)),
            }),
        };
        let (tx, _) = broadcast::channel(config.event_buffer.max(16));
        Ok(Arc::new(Bus {
            tx,
            last: AtomicI64::new(-1),
            credentials: std::sync::Mutex::new(HashMap::new()),
            credential_epoch: AtomicU64::new(0),
            wake: Notify::new(),
            relay_wake: Notify::new(),
            redis_ok: AtomicBool::new(true),
            redis,
            db: db.clone(),
            poll: config.event_poll,
            retention: config.event_retention,
            access: access::AccessCache::new(db),
        }))
    }

    /// A receiver of every event broadcast from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// The number of credential changes handled so far. A websocket reads it before it
    /// authenticates and hands it to [`Bus::watch_credentials`].
    pub fn credential_epoch(&self) -> u64 {
        AtomicU64::load(&self.credential_epoch, Ordering::SeqCst)
    }

    /// Watches `user`'s credentials: the watch is told whenever an `ACCESS_CHANGED` says they
    /// changed (or may have: everyone's). `since` is the [`Bus::credential_epoch`] read before
    /// the credential was checked: when any credential changed since, the watch starts out
    /// told, since that change may have concerned `user` before the watch existed.
    pub fn watch_credentials(self: &Arc<Self>, user: i32, since: u64) -> CredentialWatch {
        let mut watches = self.credentials.lock().expect("credential watches");
        let mut rx = watches
            .entry(user)
            .or_insert_with(|| watch::Sender::new(0))
            .subscribe();
        // Read under the lock: a change handled after this point bumps the channel (see
        // `credentials_changed`, which counts before it takes the lock).
        if self.credential_epoch() != since {
            rx.mark_changed();
        }
        CredentialWatch {
            bus: self.clone(),
            user,
            rx: Some(rx),
        }
    }

    /// Tells the credential watches of `users` (of everyone when `None`).
    fn credentials_changed(&self, users: Option<&[i32]>) {
        self.credential_epoch.fetch_add(1, Ordering::SeqCst);
        let watches = self.credentials.lock().expect("credential watches");
        match users {
            Some(users) => {
                for user in users {
                    if let Some(tx) = watches.get(user) {
                        tx.send_modify(|n| *n += 1);
                    }
                }
            }
            None => {
                for tx in watches.values() {
                    tx.send_modify(|n| *n += 1);
                }
            }
        }
    }

    /// How many users have websockets watching their credentials (tests check that entries
    /// go with the sockets).
    #[doc(hidden)]
    pub fn watched_users(&self) -> usize {
        self.credentials.lock().expect("credential watches").len()
    }

    /// How many receivers the broadcast has (tests wait for a subscription to attach).
    pub fn receivers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// The highest event number this process has broadcast (-1 before the fan-out started).
    pub fn last(&self) -> i64 {
        AtomicI64::load(&self.last, Ordering::SeqCst)
    }

    /// The database the events subsystem reads with.
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn health(&self) -> BusHealth {
        match (
            &self.redis,
            AtomicBool::load(&self.redis_ok, Ordering::SeqCst),
        ) {
            (None, _) => BusHealth::Local,
            (Some(_), true) => BusHealth::RedisUp,
            (Some(_), false) => BusHealth::RedisDegraded,
        }
    }

    /// Asks this process's relay to run a round now (after a local commit that recorded
    /// events; other processes learn of it from `NOTIFY`).
    pub fn committed(&self) {
        self.relay_wake.notify_one();
    }
}

/// A websocket's watch on its user's credentials (see [`Bus::watch_credentials`]).
pub struct CredentialWatch {
    bus: Arc<Bus>,
    user: i32,
    /// Always `Some` until dropped.
    rx: Option<watch::Receiver<u64>>,
}

impl CredentialWatch {
    /// Waits until the user's credentials may have changed since the last [`Self::seen`] (or
    /// since the watch began); `false` when no news can come any more.
    pub async fn changed(&mut self) -> bool {
        match &mut self.rx {
            Some(rx) => rx.changed().await.is_ok(),
            None => false,
        }
    }

    /// Marks every change told so far as seen (call right before re-checking the credential:
    /// the check covers them).
    pub fn seen(&mut self) {
        if let Some(rx) = &mut self.rx {
            rx.mark_unchanged();
        }
    }
}

impl Drop for CredentialWatch {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut watches = self.bus.credentials.lock().expect("credential watches");
        // Another socket of the user may have subscribed meanwhile: remove only an unused entry.
        if watches
            .get(&self.user)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            watches.remove(&self.user);
        }
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
        tokio::spawn(fan_out(bus.clone())),
        tokio::spawn(relay(bus.clone(), database_url)),
        tokio::spawn(prune(bus.clone())),
    ];
    if bus.redis.is_some() {
        tasks.push(tokio::spawn(subscriber(bus.clone())));
    }
    Running(tasks)
}

/// Keeps this process's one Redis subscription; every message wakes the fan-out.
async fn subscriber(bus: Arc<Bus>) {
    let Some(redis) = &bus.redis else { return };
    let mut delay = Duration::from_millis(100);
    loop {
        let hub = Arc::downgrade(&bus);
        let push = move |info: redis::PushInfo| -> Result<(), redis::aio::SendError> {
            let Some(bus) = hub.upgrade() else {
                return Err(redis::aio::SendError);
            };
            match info.kind {
                redis::PushKind::Message => bus.wake.notify_one(),
                redis::PushKind::Subscribe => {
                    // (Re)subscribed: catch up on anything published meanwhile.
                    bus.redis_ok.store(true, Ordering::SeqCst);
                    bus.wake.notify_one();
                }
                redis::PushKind::Disconnection => {
                    tracing::warn!("events: Redis subscription lost; polling the outbox");
                    bus.redis_ok.store(false, Ordering::SeqCst);
                }
                _ => {}
            }
            Ok(())
        };
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_push_sender(push)
            .set_automatic_resubscription()
            .set_max_delay(Duration::from_secs(5));
        match redis
            .client
            .get_connection_manager_with_config(config)
            .await
        {
            Ok(mut manager) => match manager.subscribe(&redis.channel).await {
                Ok(()) => {
                    bus.redis_ok.store(true, Ordering::SeqCst);
                    // The manager reconnects and resubscribes by itself; keep it alive.
                    std::future::pending::<()>().await;
                }
                Err(e) => tracing::warn!(error = %e, "events: cannot subscribe on Redis"),
            },
            Err(e) => tracing::warn!(error = %e, "events: cannot connect to Redis"),
        }
        bus.redis_ok.store(false, Ordering::SeqCst);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Broadcasts numbered events in order, reading them from the outbox after the last one
/// broadcast, whenever woken and at least every poll interval.
async fn fan_out(bus: Arc<Bus>) {
    // Start from the newest event: live subscribers get what happens from now on (a resuming
    // one replays older events from the outbox).
    while bus.last() < 0 {
        match last_seq(&bus.db).await {
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

async fn last_seq(db: &Db) -> Result<i64, DbError> {
    db.read(async move |mut c| outbox::last_seq(&mut c).await)
        .await
}

/// Broadcasts every numbered event after the last one broadcast.
async fn catch_up(bus: &Bus) -> Result<(), DbError> {
    loop {
        let from = bus.last();
        let events = bus
            .db
            .read(async move |mut c| outbox::after(&mut c, from, BATCH).await)
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
        if (n as i64) < BATCH {
            return Ok(());
        }
    }
}

/// Runs relay rounds: on this process's commits, on `NOTIFY` from any process, and every poll
/// interval.
async fn relay(bus: Arc<Bus>, database_url: String) {
    let mut listener: Option<AsyncPgConnection> = None;
    let mut delay = bus.poll;
    loop {
        if listener.is_none() {
            listener = listen(&database_url).await;
        }
        let mut lost = false;
        match &mut listener {
            Some(conn) => {
                let notifications = conn.notifications_stream();
                tokio::pin!(notifications);
                tokio::select! {
                    n = notifications.next() => {
                        // `None` or an error: the listening connection is gone.
                        lost = !matches!(n, Some(Ok(_)));
                    }
                    _ = bus.relay_wake.notified() => {}
                    _ = tokio::time::sleep(bus.poll) => {}
                }
            }
            None => {
                tokio::select! {
                    _ = bus.relay_wake.notified() => {}
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
        if lost {
            listener = None;
        }
        match round(&bus).await {
            Ok(()) => delay = bus.poll,
            Err(e) => {
                tracing::warn!(error = %e, "events: relay round failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
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
async fn round(bus: &Bus) -> Result<(), DbError> {
    let published = bus
        .db
        .write(|c| {
            Box::pin(async move {
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({RELAY_LOCK})"))
                    .execute(c)
                    .await?;
                let last = outbox::assign_seqs(c, 10_000).await?;
                let pending = outbox::unpublished(c, 1).await?;
                Ok((last, !pending.is_empty()))
            })
        })
        .await?;
    let (last, pending) = published;
    if !pending {
        return Ok(());
    }
    // The local fan-out needs no Redis.
    bus.wake.notify_one();
    let delivered = match &bus.redis {
        None => true,
        // Backing off: the events wait (replicas deliver them by polling meanwhile).
        Some(redis) if !redis.may_try() => return Ok(()),
        Some(redis) => {
            let published = publish(redis, last).await;
            redis.record(published);
            published
        }
    };
    if bus.redis.is_some() {
        bus.redis_ok.store(delivered, Ordering::SeqCst);
    }
    if delivered {
        bus.db
            .write(move |c| Box::pin(outbox::mark_published(c, last)))
            .await?;
    }
    Ok(())
}

/// Publishes "events up to `last` exist" on Redis; false when Redis is unreachable.
async fn publish(redis: &RedisBus, last: i64) -> bool {
    let attempt = async {
        let mut publisher = redis.publisher.lock().await;
        if publisher.is_none() {
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_number_of_retries(1)
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(Duration::from_secs(2)));
            *publisher = Some(
                redis
                    .client
                    .get_connection_manager_with_config(config)
                    .await?,
            );
        }
        let conn = publisher.as_mut().expect("just opened");
        redis::cmd("PUBLISH")
            .arg(&redis.channel)
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

/// Deletes published events older than the retention, hourly (idempotent on every replica).
async fn prune(bus: Arc<Bus>) {
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
