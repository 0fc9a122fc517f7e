//! Live events as GraphQL types: the `Event` interface and one object per kind. Each carries
//! its event id and the affected object as its normal GraphQL type, so a subscriber selects
//! exactly the fields it wants (loaded fresh for every event, through the dataloaders).

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Interface, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    engagement::Engagement,
    enums::{EngagementStatus, Severity},
    finding::Finding,
    ids, load,
    reference::User,
    test::Test,
};
use crate::{
    domain::{
        self,
        events::{self as ev, EventKind as Kind},
    },
    events::Event as Row,
};

/// The kinds of events a client can receive.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum EventKind {
    EngagementCreated,
    EngagementStatusChanged,
    EngagementDeleted,
    EngagementOverdue,
    TestCreated,
    FindingCreated,
    FindingChanged,
    FindingsImported,
}

impl From<EventKind> for Kind {
    fn from(k: EventKind) -> Self {
        match k {
            EventKind::EngagementCreated => Kind::EngagementCreated,
            EventKind::EngagementStatusChanged => Kind::EngagementStatusChanged,
            EventKind::EngagementDeleted => Kind::EngagementDeleted,
            EventKind::EngagementOverdue => Kind::EngagementOverdue,
            EventKind::TestCreated => Kind::TestCreated,
            EventKind::FindingCreated => Kind::FindingCreated,
            EventKind::FindingChanged => Kind::FindingChanged,
            EventKind::FindingsImported => Kind::FindingsImported,
        }
    }
}

impl EventKind {
    /// The client-visible kind (`None` for internal kinds).
    pub fn of(kind: Kind) -> Option<Self> {
        Some(match kind {
            Kind::EngagementCreated => EventKind::EngagementCreated,
            Kind::EngagementStatusChanged => EventKind::EngagementStatusChanged,
            Kind::EngagementDeleted => EventKind::EngagementDeleted,
            Kind::EngagementOverdue => EventKind::EngagementOverdue,
            Kind::TestCreated => EventKind::TestCreated,
            Kind::FindingCreated => EventKind::FindingCreated,
            Kind::FindingChanged => EventKind::FindingChanged,
            Kind::FindingsImported => EventKind::FindingsImported,
            Kind::AccessChanged | Kind::NotificationSettingsChanged => return None,
        })
    }
}

/// Why an engagement's status changed.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "ev::StatusChangeReason")]
pub enum StatusChangeReason {
    /// `updateEngagement` set it.
    Manual,
    /// `closeEngagement`.
    Closed,
    /// `reopenEngagement`.
    Reopened,
    /// The auto-close job.
    AutoClosed,
}

/// One changed field of a finding: old and new values for severity and the status flags.
#[derive(SimpleObject, Clone)]
pub struct FieldChange {
    field: String,
    old: Option<Json<serde_json::Value>>,
    new: Option<Json<serde_json::Value>>,
}

/// The event id clients resume from (`events(after:)`).
pub fn event_id(seq: i64) -> ID {
    ID(seq.to_string())
}

/// Parses an event id given back by a client.
pub fn parse_event_id(id: &ID) -> Result<i64, crate::error::ServiceError> {
    id.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
        crate::error::ServiceError::bad_input(format!("{:?} is not an event id", id.as_str()))
    })
}

/// Defines an event object: the fields every event has, then `$extra`.
macro_rules! event_object {
    ($(#[$doc:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(pub Arc<Row>);

        #[Object]
        impl $name {
            /// The event's id; events are numbered in the order they happened.
            async fn event_id(&self) -> ID {
                event_id(self.0.seq)
            }
            async fn kind(&self) -> EventKind {
                EventKind::of(self.0.kind).unwrap_or(EventKind::EngagementCreated)
            }
            async fn occurred_at(&self) -> DateTime<Utc> {
                self.0.created
            }
            /// The product the event belongs to.
            async fn product_id(&self) -> Option<ID> {
                self.0.product_id.map(|p| ids::encode(p))
            }
            /// Who made the change (null for jobs).
            async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
                load::user(ctx, self.0.actor_id).await
            }
            $($extra)*
        }
    };
}

/// Loads the engagement an event is about (null once it is deleted).
async fn engagement_of(ctx: &Context<'_>, e: &Row) -> async_graphql::Result<Option<Engagement>> {
    match e.engagement_id {
        Some(id) => load::engagement(ctx, id).await,
        None => Ok(None),
    }
}

/// Loads the test an event is about (null once it is deleted).
async fn test_of(ctx: &Context<'_>, e: &Row) -> async_graphql::Result<Option<Test>> {
    match e.test_id {
        Some(id) => load::test(ctx, id).await,
        None => Ok(None),
    }
}

/// Loads the finding an event is about (null once it is deleted).
async fn finding_of(ctx: &Context<'_>, e: &Row) -> async_graphql::Result<Option<Finding>> {
    match e.finding_id {
        Some(id) => load::finding(ctx, id).await,
        None => Ok(None),
    }
}

fn payload<T: serde::de::DeserializeOwned>(e: &Row) -> async_graphql::Result<T> {
    serde_json::from_value(e.payload.clone()).map_err(|err| {
        crate::error::ServiceError::internal(anyhow::anyhow!("event payload: {err}")).into()
    })
}

event_object!(
    /// An engagement was created (or copied).
    EngagementCreatedEvent {
        async fn engagement(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Engagement>> {
            engagement_of(ctx, &self.0).await
        }
    }
);

event_object!(
    /// An engagement's status changed.
    EngagementStatusChangedEvent {
        async fn old_status(&self) -> async_graphql::Result<EngagementStatus> {
            Ok(payload::<ev::StatusChanged>(&self.0)?.old_status.into())
        }
        async fn new_status(&self) -> async_graphql::Result<EngagementStatus> {
            Ok(payload::<ev::StatusChanged>(&self.0)?.new_status.into())
        }
        async fn reason(&self) -> async_graphql::Result<StatusChangeReason> {
            Ok(payload::<ev::StatusChanged>(&self.0)?.reason.into())
        }
        async fn engagement(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Engagement>> {
            engagement_of(ctx, &self.0).await
        }
    }
);

event_object!(
    /// An engagement was deleted with everything in it.
    EngagementDeletedEvent {
        /// The deleted engagement's id.
        async fn engagement_id(&self) -> Option<ID> {
            self.0.engagement_id.map(ids::encode)
        }
        async fn name(&self) -> async_graphql::Result<String> {
            Ok(payload::<ev::EngagementDeleted>(&self.0)?.name)
        }
    }
);

event_object!(
    /// An engagement became overdue.
    EngagementOverdueEvent {
        async fn engagement(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Engagement>> {
            engagement_of(ctx, &self.0).await
        }
    }
);

event_object!(
    /// A test was added to an engagement.
    TestCreatedEvent {
        async fn test(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Test>> {
            test_of(ctx, &self.0).await
        }
    }
);

event_object!(
    /// A finding was created.
    FindingCreatedEvent {
        async fn finding(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Finding>> {
            finding_of(ctx, &self.0).await
        }
    }
);

event_object!(
    /// A finding changed.
    FindingChangedEvent {
        /// The names of the changed fields.
        async fn changed_fields(&self) -> async_graphql::Result<Vec<String>> {
            Ok(payload::<ev::FindingChanged>(&self.0)?
                .changes
                .into_iter()
                .map(|c| c.field)
                .collect())
        }
        /// Old and new values of the changed severity and status flags.
        async fn changes(&self) -> async_graphql::Result<Vec<FieldChange>> {
            Ok(payload::<ev::FindingChanged>(&self.0)?
                .changes
                .into_iter()
                .map(|c| FieldChange {
                    field: c.field,
                    old: c.old.map(Json),
                    new: c.new.map(Json),
                })
                .collect())
        }
        /// The finding's severity after the change.
        async fn severity(&self) -> async_graphql::Result<Severity> {
            Ok(payload::<ev::FindingChanged>(&self.0)?.severity.into())
        }
        async fn finding(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Finding>> {
            finding_of(ctx, &self.0).await
        }
    }
);

event_object!(
    /// A scan import or re-import finished (produced once scan import lands).
    FindingsImportedEvent {
        async fn test(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Test>> {
            test_of(ctx, &self.0).await
        }
        /// Import statistics as recorded.
        async fn statistics(&self) -> Json<serde_json::Value> {
            Json(self.0.payload.clone())
        }
    }
);

/// Any event.
#[derive(Interface, Clone)]
#[graphql(
    field(
        name = "event_id",
        ty = "ID",
        desc = "The event's id; events are numbered in the order they happened."
    ),
    field(name = "kind", ty = "EventKind"),
    field(name = "occurred_at", ty = "DateTime<Utc>"),
    field(
        name = "product_id",
        ty = "Option<ID>",
        desc = "The product the event belongs to."
    )
)]
pub enum EventNode {
    EngagementCreated(EngagementCreatedEvent),
    EngagementStatusChanged(EngagementStatusChangedEvent),
    EngagementDeleted(EngagementDeletedEvent),
    EngagementOverdue(EngagementOverdueEvent),
    TestCreated(TestCreatedEvent),
    FindingCreated(FindingCreatedEvent),
    FindingChanged(FindingChangedEvent),
    FindingsImported(FindingsImportedEvent),
}

impl EventNode {
    /// The GraphQL object of an event (`None` for internal events).
    pub fn of(e: Arc<Row>) -> Option<Self> {
        Some(match e.kind {
            Kind::EngagementCreated => Self::EngagementCreated(EngagementCreatedEvent(e)),
            Kind::EngagementStatusChanged => {
                Self::EngagementStatusChanged(EngagementStatusChangedEvent(e))
            }
            Kind::EngagementDeleted => Self::EngagementDeleted(EngagementDeletedEvent(e)),
            Kind::EngagementOverdue => Self::EngagementOverdue(EngagementOverdueEvent(e)),
            Kind::TestCreated => Self::TestCreated(TestCreatedEvent(e)),
            Kind::FindingCreated => Self::FindingCreated(FindingCreatedEvent(e)),
            Kind::FindingChanged => Self::FindingChanged(FindingChangedEvent(e)),
            Kind::FindingsImported => Self::FindingsImported(FindingsImportedEvent(e)),
            Kind::AccessChanged | Kind::NotificationSettingsChanged => return None,
        })
    }
}

/// The severity a `FINDING_CHANGED` or `FINDING_CREATED` event's finding has.
pub fn severity_of(e: &Row) -> Option<domain::Severity> {
    e.payload
        .get("severity")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
}
