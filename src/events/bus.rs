//! The process's event hub: the bounded broadcast every subscription reads, the bus's health,
//! and the per-user watches that tell websockets their user's credentials changed.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::sync::{Notify, broadcast, watch};

use super::{Event, access::AccessCache, redis::RedisBus};
use crate::{
    config::Config,
    db::{self, Db},
    domain::ids::UserId,
};

/// The process's event hub: the broadcast every subscription reads, and what feeds it.
pub struct Bus {
    pub(super) tx: broadcast::Sender<Arc<Event>>,
    /// The highest event number broadcast so far.
    pub(super) last: AtomicI64,
    /// One channel per user with open websockets, bumped when that user's credentials change
    /// (see [`Bus::watch_credentials`]); an entry goes with the last socket of its user.
    credentials: std::sync::Mutex<HashMap<UserId, watch::Sender<u64>>>,
    /// Counts credential changes handled, whoever they concerned.
    credential_epoch: AtomicU64,
    /// Wakes the fan-out: numbered events may be waiting.
    pub(super) wake: Notify,
    /// `None` without `REDIS_URL` (the in-process bus).
    pub(super) redis: Option<RedisBus>,
    /// The events subsystem's own small pool (so that its queries neither compete with
    /// requests nor count in their statement log).
    pub(super) db: Db,
    /// How often the relay and the fan-out look at the outbox without being woken.
    pub(super) poll: Duration,
    /// How long published events stay in the outbox.
    pub(super) retention: Duration,
    pub access: AccessCache,
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
    /// The bus of a process; nothing runs until [`super::start`].
    pub(crate) fn new(config: &Config) -> anyhow::Result<Arc<Bus>> {
        let db = Db::connect(&db::PoolSettings {
            url: config.database_url.clone(),
            max_size: 4,
            wait_timeout: config.pool_timeout,
            statement_timeout: config.statement_timeout,
        })?;
        let (tx, _) = broadcast::channel(config.event_buffer.max(16));
        Ok(Arc::new(Bus {
            tx,
            last: AtomicI64::new(-1),
            credentials: std::sync::Mutex::new(HashMap::new()),
            credential_epoch: AtomicU64::new(0),
            wake: Notify::new(),
            redis: RedisBus::new(config)?,
            db: db.clone(),
            poll: config.event_poll,
            retention: config.event_retention,
            access: AccessCache::new(db),
        }))
    }

    /// A receiver of every event broadcast from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// The number of credential changes handled so far. A websocket reads it before it
    /// authenticates and hands it to [`Bus::watch_credentials`].
    pub(crate) fn credential_epoch(&self) -> u64 {
        self.credential_epoch.load(Ordering::SeqCst)
    }

    /// Watches `user`'s credentials: the watch is told whenever an `ACCESS_CHANGED` says they
    /// changed (or may have: everyone's). `since` is the [`Bus::credential_epoch`] read before
    /// the credential was checked: when any credential changed since, the watch starts out
    /// told, since that change may have concerned `user` before the watch existed.
    pub(crate) fn watch_credentials(self: &Arc<Self>, user: UserId, since: u64) -> CredentialWatch {
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
    pub(super) fn credentials_changed(&self, users: Option<&[UserId]>) {
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
        self.last.load(Ordering::SeqCst)
    }

    /// The database the events subsystem reads with.
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn health(&self) -> BusHealth {
        match &self.redis {
            None => BusHealth::Local,
            Some(redis) if redis.ok() => BusHealth::RedisUp,
            Some(_) => BusHealth::RedisDegraded,
        }
    }
}

/// A websocket's watch on its user's credentials (see [`Bus::watch_credentials`]).
pub(crate) struct CredentialWatch {
    bus: Arc<Bus>,
    user: UserId,
    /// Always `Some` until dropped.
    rx: Option<watch::Receiver<u64>>,
}

impl CredentialWatch {
    /// Waits until the user's credentials may have changed since the last [`Self::seen`] (or
    /// since the watch began); `false` when no news can come any more.
    pub(crate) async fn changed(&mut self) -> bool {
        match &mut self.rx {
            Some(rx) => rx.changed().await.is_ok(),
            None => false,
        }
    }

    /// Marks every change told so far as seen (call right before re-checking the credential:
    /// the check covers them).
    pub(crate) fn seen(&mut self) {
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
