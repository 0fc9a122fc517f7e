//! The subscription root: live events, resumable with `after:`. Every event is checked against
//! the subscriber's current roles when it is delivered (see `events::stream`). This module
//! must not import diesel's `RunQueryDsl` (its `execute` would shadow the one the
//! `#[Subscription]` macro calls).

use std::sync::{Arc, RwLock};

use async_graphql::{Context, ID, Subscription};
use futures_util::{Stream, StreamExt};

use super::{
    context::{db, principal},
    enums::Severity,
    events::{
        EngagementStatusChangedEvent, EventKind, EventNode, FindingChangedEvent,
        FindingsImportedEvent, parse_event_id, severity_of,
    },
    ids,
};
use crate::{
    db::{
        authz::Target,
        notification::{self, UserSettings},
    },
    domain::{
        self,
        events::{EventKind as Kind, SettingsChanged},
        ids::{EngagementId, ProductId, TestId, TypedId},
        rbac::Permission,
    },
    error::ServiceError,
    events::{
        Bus, Event,
        stream::{self, Filter, Lagged},
    },
};

#[derive(Default)]
pub struct SubscriptionRoot;

type Events<T> = std::pin::Pin<Box<dyn Stream<Item = async_graphql::Result<T>> + Send>>;

/// Opens a subscriber's stream of `filter`ed events, each turned into its GraphQL object by
/// `wrap`.
async fn open<T: Send + 'static>(
    ctx: &Context<'_>,
    after: Option<ID>,
    filter: Filter,
    wrap: fn(Arc<Event>) -> Option<T>,
) -> async_graphql::Result<Events<T>> {
    let user = principal(ctx)?.user_id;
    let bus = ctx.data::<Arc<Bus>>()?.clone();
    let after = after.as_ref().map(parse_event_id).transpose()?;
    let events = stream::subscribe(bus, user, after, filter)
        .await
        .map_err(|e| super::context::db_error(e, "event"))?;
    // The objects an event names are read once a read replica has the event's commit (from the
    // primary until then).
    let db = db(ctx).clone();
    Ok(events
        .filter_map(move |r| {
            let db = db.clone();
            async move {
                match r {
                    Ok(e) => {
                        db.see_commits_until_now();
                        wrap(e).map(Ok)
                    }
                    Err(Lagged { last }) => Some(Err(ServiceError::Lagged(last).into())),
                }
            }
        })
        .boxed())
}

/// An id a subscription can be narrowed to, with the check that the caller may see it.
trait Narrowing: TypedId {
    fn view(self) -> crate::service::Check;
}

impl Narrowing for ProductId {
    fn view(self) -> crate::service::Check {
        (Target::Product(self), Permission::ProductView)
    }
}

impl Narrowing for EngagementId {
    fn view(self) -> crate::service::Check {
        (Target::Engagement(self), Permission::EngagementView)
    }
}

impl Narrowing for TestId {
    fn view(self) -> crate::service::Check {
        (Target::Test(self), Permission::TestView)
    }
}

/// Decodes ids of a `T` and checks the caller may see each (NOT_FOUND otherwise, like a
/// missing id: subscribing reveals nothing about other tenants).
async fn visible<T: Narrowing>(
    ctx: &Context<'_>,
    ids: Option<Vec<ID>>,
) -> async_graphql::Result<Vec<T>> {
    let mut out = Vec::new();
    for id in ids.unwrap_or_default() {
        let n = ids::decode::<T>(&id)?;
        crate::service::check(db(ctx), principal(ctx)?, T::KIND.type_name(), n.view()).await?;
        out.push(n);
    }
    Ok(out)
}

#[Subscription]
impl SubscriptionRoot {
    /// Every event the caller may see (optionally only some kinds or products). With `after`
    /// (an `eventId` received before), first the events after it, then live ones: no gap, no
    /// duplicate. A subscriber that falls behind gets an error with code `LAGGED` and
    /// `extensions.lastEventId`, to resume from.
    async fn events(
        &self,
        ctx: &Context<'_>,
        after: Option<ID>,
        kinds: Option<Vec<EventKind>>,
        product_ids: Option<Vec<ID>>,
    ) -> async_graphql::Result<Events<EventNode>> {
        let filter = Filter::new(
            kinds
                .unwrap_or_default()
                .into_iter()
                .map(Kind::from)
                .collect(),
            visible::<ProductId>(ctx, product_ids).await?,
        );
        open(ctx, after, filter, EventNode::of).await
    }

    /// Engagement status changes, of one product or engagement or all the caller may see.
    async fn engagement_status_changed(
        &self,
        ctx: &Context<'_>,
        product_id: Option<ID>,
        engagement_id: Option<ID>,
        after: Option<ID>,
    ) -> async_graphql::Result<Events<EngagementStatusChangedEvent>> {
        let products = visible::<ProductId>(ctx, product_id.map(|p| vec![p])).await?;
        let engagements = visible::<EngagementId>(ctx, engagement_id.map(|e| vec![e])).await?;
        let filter =
            Filter::new(vec![Kind::EngagementStatusChanged], products).matching(move |e| {
                engagements.is_empty() || e.engagement_id.is_some_and(|x| engagements.contains(&x))
            });
        open(ctx, after, filter, |e| {
            Some(EngagementStatusChangedEvent(e))
        })
        .await
    }

    /// Finding changes, narrowed by product, engagement, test and a minimum severity (the
    /// finding's severity after the change).
    async fn finding_changed(
        &self,
        ctx: &Context<'_>,
        product_id: Option<ID>,
        engagement_id: Option<ID>,
        test_id: Option<ID>,
        min_severity: Option<Severity>,
        after: Option<ID>,
    ) -> async_graphql::Result<Events<FindingChangedEvent>> {
        let products = visible::<ProductId>(ctx, product_id.map(|p| vec![p])).await?;
        let engagements = visible::<EngagementId>(ctx, engagement_id.map(|e| vec![e])).await?;
        let tests = visible::<TestId>(ctx, test_id.map(|t| vec![t])).await?;
        let min: Option<domain::Severity> = min_severity.map(Into::into);
        let filter = Filter::new(vec![Kind::FindingChanged], products).matching(move |e| {
            (engagements.is_empty() || e.engagement_id.is_some_and(|x| engagements.contains(&x)))
                && (tests.is_empty() || e.test_id.is_some_and(|x| tests.contains(&x)))
                // Severities order most severe first.
                && min.is_none_or(|m| severity_of(e).is_some_and(|s| s <= m))
        });
        open(ctx, after, filter, |e| Some(FindingChangedEvent(e))).await
    }

    /// The caller's notification feed: events of the kinds switched on in its notification
    /// settings (per product, else its default, else the server's: engagement, test and import
    /// events), of every product it may read. Settings changes apply at once. Resumable with
    /// `after` like `events`.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        after: Option<ID>,
    ) -> async_graphql::Result<Events<EventNode>> {
        let user = principal(ctx)?.user_id;
        let settings = Arc::new(RwLock::new(UserSettings::default()));
        let (wanted, follow) = (settings.clone(), settings.clone());
        let filter = Filter::new(vec![], vec![])
            .matching(move |e| {
                e.product_id.is_some_and(|p| {
                    wanted
                        .read()
                        .is_ok_and(|s| s.kinds_for(p).contains(&e.kind))
                })
            })
            .on_internal(move |e| {
                if e.kind != Kind::NotificationSettingsChanged {
                    return;
                }
                if let Ok(change) = serde_json::from_value::<SettingsChanged>(e.payload.clone())
                    && change.user_id == user
                    && let Ok(mut s) = follow.write()
                {
                    s.apply(&change);
                }
            });
        // Subscribe first, then read the settings: a change committed meanwhile is in the
        // settings read or among the events to come (applying it twice is harmless).
        let stream = open(ctx, after, filter, EventNode::of).await?;
        let current = super::context::db(ctx)
            .read(async move |c| notification::of_user(c, user).await)
            .await
            .map_err(|e| super::context::db_error(e, "User"))?;
        if let Ok(mut s) = settings.write() {
            *s = current;
        }
        Ok(stream)
    }

    /// Finished scan imports and re-imports.
    async fn findings_imported(
        &self,
        ctx: &Context<'_>,
        product_id: Option<ID>,
        after: Option<ID>,
    ) -> async_graphql::Result<Events<FindingsImportedEvent>> {
        let filter = Filter::new(
            vec![Kind::FindingsImported],
            visible::<ProductId>(ctx, product_id.map(|p| vec![p])).await?,
        );
        open(ctx, after, filter, |e| Some(FindingsImportedEvent(e))).await
    }
}
