//! One subscriber's stream of events: an optional replay from the outbox (`after:`), then the
//! live broadcast, with no gap and no duplicate at the seam, every event checked against the
//! subscriber's current access, and a bounded buffer: a subscriber that falls behind the
//! broadcast gets [`Lagged`] with the last event it received, and resumes from there.

use std::{collections::VecDeque, sync::Arc};

use futures_util::Stream;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::{Bus, Event};
use crate::{
    db::{
        authz::{Viewer, Visibility},
        outbox::{self, ReplayFilter},
    },
    domain::{
        events::EventKind,
        ids::{ProductId, UserId},
    },
};

/// The subscriber fell behind the broadcast; `last` is the last event it received (resume
/// with `after: last`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged {
    pub last: Option<i64>,
}

/// Which events a subscription wants.
pub struct Filter {
    /// Only these kinds (every kind a client may receive when empty).
    pub(crate) kinds: Vec<EventKind>,
    /// Only events of these products (all when empty).
    pub(crate) products: Vec<ProductId>,
    /// Anything else (engagement, test, minimum severity, notification settings).
    pub(crate) matches: Box<dyn Fn(&Event) -> bool + Send + Sync>,
    /// Sees every internal event (never delivered), e.g. to follow settings changes.
    pub(crate) internal: Box<dyn Fn(&Event) + Send + Sync>,
}

impl Filter {
    /// Events of `kinds` (all when empty) of `products` (all when empty).
    pub fn new(kinds: Vec<EventKind>, products: Vec<ProductId>) -> Self {
        Self {
            kinds,
            products,
            matches: Box::new(|_| true),
            internal: Box::new(|_| {}),
        }
    }

    /// Only events `f` accepts, too.
    pub(crate) fn matching(mut self, f: impl Fn(&Event) -> bool + Send + Sync + 'static) -> Self {
        self.matches = Box::new(f);
        self
    }

    /// Calls `f` with every internal event.
    pub(crate) fn on_internal(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.internal = Box::new(f);
        self
    }

    fn wants(&self, e: &Event) -> bool {
        let Some(product) = e.product_id else {
            return false; // internal events (access changes) are never delivered
        };
        (self.kinds.is_empty() || self.kinds.contains(&e.kind))
            && (self.products.is_empty() || self.products.contains(&product))
            && (self.matches)(e)
    }
}

struct State {
    bus: Arc<Bus>,
    rx: Receiver<Arc<Event>>,
    user: UserId,
    filter: Filter,
    /// The last event number delivered (or resumed from): later copies are dropped.
    delivered: Option<i64>,
    /// Replay still to read: events after the first number up to the second.
    replay: Option<(i64, i64)>,
    buffered: VecDeque<Arc<Event>>,
    done: bool,
}

/// Events for `user` matching `filter`: after `after` first (replayed from the outbox), then
/// live.
pub async fn subscribe(
    bus: Arc<Bus>,
    user: UserId,
    after: Option<i64>,
    filter: Filter,
) -> Result<impl Stream<Item = Result<Arc<Event>, Lagged>>, crate::db::DbError> {
    // Receive first, then look up how far the broadcast got: everything up to there is in the
    // outbox for the replay, everything after arrives on `rx`.
    let rx = bus.subscribe();
    let replay = match after {
        None => None,
        Some(after) => {
            let mut until = bus.last();
            if until < 0 {
                until = bus
                    .db()
                    .read(async move |c| outbox::last_seq(c).await)
                    .await?;
            }
            Some((after, until))
        }
    };
    let state = State {
        bus,
        rx,
        user,
        filter,
        delivered: after,
        replay,
        buffered: VecDeque::new(),
        done: false,
    };
    Ok(futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            let event = match next(&mut st).await {
                Next::Event(e) => e,
                Next::Lagged => {
                    st.done = true;
                    return Some((Err(Lagged { last: st.delivered }), st));
                }
                Next::End => return None,
            };
            if st.delivered.is_some_and(|d| event.seq <= d) {
                continue;
            }
            if !event.kind.deliverable() {
                (st.filter.internal)(&event);
                continue;
            }
            if !st.filter.wants(&event) {
                continue;
            }
            let Some(product) = event.product_id else {
                continue; // not wanted: internal events have no product
            };
            match st.bus.access.may_read(st.user, product).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "events: cannot check access; event withheld");
                    continue;
                }
            }
            st.delivered = Some(event.seq);
            return Some((Ok(event), st));
        }
    }))
}

enum Next {
    Event(Arc<Event>),
    Lagged,
    End,
}

/// The next candidate event: replayed ones first, then live ones.
async fn next(st: &mut State) -> Next {
    if let Some(e) = st.buffered.pop_front() {
        return Next::Event(e);
    }
    if let Some((from, until)) = st.replay {
        let filter = ReplayFilter {
            kinds: st.filter.kinds.clone(),
            products: st.filter.products.clone(),
        };
        // Visibility is checked per event (below the replay) like for live ones; the replay
        // only narrows by kind and product.
        let viewer = Viewer {
            products: Visibility::All,
            groups: Visibility::All,
        };
        let page = st
            .bus
            .db()
            .read(async move |c| outbox::replay(c, from, until, &filter, viewer, 500).await)
            .await;
        match page {
            Ok(page) if !page.is_empty() => {
                st.replay = Some((page.last().map_or(until, |e| e.seq), until));
                st.buffered.extend(page.into_iter().map(Arc::new));
                if let Some(e) = st.buffered.pop_front() {
                    return Next::Event(e);
                }
            }
            Ok(_) => st.replay = None,
            Err(e) => {
                tracing::warn!(error = %e, "events: replay failed");
                return Next::End;
            }
        }
    }
    match st.rx.recv().await {
        Ok(e) => Next::Event(e),
        Err(RecvError::Lagged(_)) => Next::Lagged,
        Err(RecvError::Closed) => Next::End,
    }
}
