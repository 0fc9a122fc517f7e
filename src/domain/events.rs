//! Live events: what a subscriber can be told, as pure data. A mutation records its events in
//! the outbox in its own transaction (`db::outbox`); the relay numbers and fans them out
//! (`crate::events`).

use serde::{Deserialize, Serialize};

use super::{
    EngagementStatus, Severity, UnknownVariant,
    ids::{EngagementId, FindingId, ProductId, TestId, UserId},
};

text_enum!(
    /// The kinds of events. `ACCESS_CHANGED` and `NOTIFICATION_SETTINGS_CHANGED` are internal:
    /// they tell every replica to re-read some users' roles and credentials (see
    /// [`AccessChanged`]), or a user's notification settings, and are never delivered to
    /// clients.
    EventKind {
        EngagementCreated => "ENGAGEMENT_CREATED",
        EngagementStatusChanged => "ENGAGEMENT_STATUS_CHANGED",
        EngagementDeleted => "ENGAGEMENT_DELETED",
        EngagementOverdue => "ENGAGEMENT_OVERDUE",
        TestCreated => "TEST_CREATED",
        FindingCreated => "FINDING_CREATED",
        FindingChanged => "FINDING_CHANGED",
        FindingsImported => "FINDINGS_IMPORTED",
        AccessChanged => "ACCESS_CHANGED",
        NotificationSettingsChanged => "NOTIFICATION_SETTINGS_CHANGED",
    }
);

text_enum!(
    /// Why an engagement's status changed.
    StatusChangeReason {
        Manual => "MANUAL",
        Closed => "CLOSED",
        Reopened => "REOPENED",
        AutoClosed => "AUTO_CLOSED",
    }
);

/// The payload of `ENGAGEMENT_STATUS_CHANGED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChanged {
    pub old_status: EngagementStatus,
    pub new_status: EngagementStatus,
    pub reason: StatusChangeReason,
}

/// One changed field of a finding; old and new values are given for severity and the status
/// flags (other fields name only themselves).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<serde_json::Value>,
}

/// The payload of `FINDING_CHANGED`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingChanged {
    pub changes: Vec<FieldChange>,
    /// The severity after the change (subscribers filter on it).
    pub severity: Severity,
}

/// A field of a finding that `FINDING_CHANGED` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingField {
    Severity,
    Active,
    Verified,
    FalsePositive,
    OutOfScope,
    RiskAccepted,
    UnderReview,
    IsMitigated,
    Duplicate,
    Title,
    Description,
    Date,
    Mitigation,
    Impact,
    StepsToReproduce,
    SeverityJustification,
    References,
    Url,
    Cwe,
    VulnerabilityIds,
    Cvssv3,
    Cvssv3Score,
    FilePath,
    Line,
    ComponentName,
    ComponentVersion,
    UniqueIdFromTool,
    VulnIdFromTool,
    Service,
    MitigatedAt,
    DuplicateOf,
    SlaStartDate,
    SlaExpirationDate,
    Tags,
}

/// How a changed field is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// With its old and new value (severity and the status flags: what feeds filter and show).
    WithValues,
    /// By its name only.
    ByName,
}

/// The fields `FINDING_CHANGED` reports, in the order it lists them, by their API names. A
/// field not listed here is never reported.
pub const FINDING_CHANGES: &[(FindingField, &str, Reported)] = {
    use FindingField as F;
    use Reported::{ByName, WithValues};
    &[
        (F::Severity, "severity", WithValues),
        (F::Active, "active", WithValues),
        (F::Verified, "verified", WithValues),
        (F::FalsePositive, "falsePositive", WithValues),
        (F::OutOfScope, "outOfScope", WithValues),
        (F::RiskAccepted, "riskAccepted", WithValues),
        (F::UnderReview, "underReview", WithValues),
        (F::IsMitigated, "isMitigated", WithValues),
        (F::Duplicate, "duplicate", WithValues),
        (F::Title, "title", ByName),
        (F::Description, "description", ByName),
        (F::Date, "date", ByName),
        (F::Mitigation, "mitigation", ByName),
        (F::Impact, "impact", ByName),
        (F::StepsToReproduce, "stepsToReproduce", ByName),
        (F::SeverityJustification, "severityJustification", ByName),
        (F::References, "references", ByName),
        (F::Url, "url", ByName),
        (F::Cwe, "cwe", ByName),
        (F::VulnerabilityIds, "vulnerabilityIds", ByName),
        (F::Cvssv3, "cvssv3", ByName),
        (F::Cvssv3Score, "cvssv3Score", ByName),
        (F::FilePath, "filePath", ByName),
        (F::Line, "line", ByName),
        (F::ComponentName, "componentName", ByName),
        (F::ComponentVersion, "componentVersion", ByName),
        (F::UniqueIdFromTool, "uniqueIdFromTool", ByName),
        (F::VulnIdFromTool, "vulnIdFromTool", ByName),
        (F::Service, "service", ByName),
        (F::MitigatedAt, "mitigatedAt", ByName),
        (F::DuplicateOf, "duplicateOf", ByName),
        (F::SlaStartDate, "slaStartDate", ByName),
        (F::SlaExpirationDate, "slaExpirationDate", ByName),
        (F::Tags, "tags", ByName),
    ]
};

/// The changes `FINDING_CHANGED` reports between two versions of a finding, following
/// [`FINDING_CHANGES`]; `values` gives a field's value before and after.
pub fn finding_changes(
    mut values: impl FnMut(FindingField) -> (serde_json::Value, serde_json::Value),
) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    for &(field, name, reported) in FINDING_CHANGES {
        let (old, new) = values(field);
        if old == new {
            continue;
        }
        let (old, new) = match reported {
            Reported::WithValues => (Some(old), Some(new)),
            Reported::ByName => (None, None),
        };
        changes.push(FieldChange {
            field: name.into(),
            old,
            new,
        });
    }
    changes
}

/// The payload of `ENGAGEMENT_DELETED` (the engagement is gone; its name is kept here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngagementDeleted {
    pub name: String,
}

/// The payload of `FINDING_CREATED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingCreated {
    pub severity: Severity,
}

/// An event to record: its kind, where it happened and its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub product_id: Option<ProductId>,
    pub engagement_id: Option<EngagementId>,
    pub test_id: Option<TestId>,
    pub finding_id: Option<FindingId>,
    pub payload: serde_json::Value,
}

impl NewEvent {
    /// An event of `kind` about product `product` with `payload`.
    pub fn new(kind: EventKind, product: ProductId, payload: impl Serialize) -> Self {
        Self {
            kind,
            product_id: Some(product),
            engagement_id: None,
            test_id: None,
            finding_id: None,
            payload: serde_json::to_value(payload).unwrap_or_default(),
        }
    }

    pub fn engagement(mut self, id: EngagementId) -> Self {
        self.engagement_id = Some(id);
        self
    }

    pub fn test(mut self, id: TestId) -> Self {
        self.test_id = Some(id);
        self
    }

    pub fn finding(mut self, id: FindingId) -> Self {
        self.finding_id = Some(id);
        self
    }

    /// `NOTIFICATION_SETTINGS_CHANGED` for `change`.
    pub fn settings_changed(change: &SettingsChanged) -> Self {
        Self {
            kind: EventKind::NotificationSettingsChanged,
            product_id: None,
            engagement_id: None,
            test_id: None,
            finding_id: None,
            payload: serde_json::to_value(change).unwrap_or_default(),
        }
    }

    /// `ACCESS_CHANGED` for `change`.
    pub fn access_changed(change: &AccessChanged) -> Self {
        Self {
            kind: EventKind::AccessChanged,
            product_id: None,
            engagement_id: None,
            test_id: None,
            finding_id: None,
            payload: serde_json::to_value(change).unwrap_or_default(),
        }
    }
}

impl EventKind {
    /// Whether clients may receive this kind (internal kinds steer the servers only).
    pub fn deliverable(self) -> bool {
        !matches!(
            self,
            EventKind::AccessChanged | EventKind::NotificationSettingsChanged
        )
    }
}

/// What the `notifications` subscription delivers to a user who has not chosen: everything
/// about engagements, tests and imports, nothing per finding (too many for a feed).
pub const DEFAULT_NOTIFICATIONS: &[EventKind] = &[
    EventKind::EngagementCreated,
    EventKind::EngagementStatusChanged,
    EventKind::EngagementDeleted,
    EventKind::EngagementOverdue,
    EventKind::TestCreated,
    EventKind::FindingsImported,
];

/// The payload of `NOTIFICATION_SETTINGS_CHANGED`: a user's new choice for one product (or its
/// default, `product_id` absent); `kinds` absent when the choice was removed (inherit again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsChanged {
    pub user_id: UserId,
    #[serde(default)]
    pub product_id: Option<ProductId>,
    #[serde(default)]
    pub kinds: Option<Vec<EventKind>>,
}

/// The payload of `ACCESS_CHANGED`: whose access may have changed, and how. Recorded only by
/// writes that can change what someone may read or whether a credential still works: roles
/// granted, changed or removed (memberships of users and groups, global roles), group
/// membership, a user's active and superuser flags, token revocation, and a product moving to
/// another product type. Never by names or emails.
///
/// Replicas forget the cached access of the users named (of everyone when `users` is absent)
/// and, when `credentials` is set, make those users' websockets re-check their credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessChanged {
    /// The users concerned; `None`: possibly everyone.
    #[serde(default)]
    pub users: Option<Vec<UserId>>,
    /// Narrows a change of everyone's access to these products' grants (a product moved to
    /// another product type changes who inherits a role on it, and nothing else). Absent: any
    /// product, and users' global access too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<ProductId>>,
    /// Whether credentials changed (a token revoked, a user deactivated or reactivated, the
    /// superuser flag), not only roles. Defaults to `true` for the empty payload (`{}`) that
    /// earlier versions recorded for every change: see [`AccessChanged::from_payload`].
    #[serde(default = "credentials_unknown")]
    pub credentials: bool,
}

/// The safe reading of a payload that does not say: credentials may have changed.
fn credentials_unknown() -> bool {
    true
}

impl AccessChanged {
    /// The roles (memberships, groups, global roles) of `users` changed.
    pub fn roles_of(users: Vec<UserId>) -> Self {
        Self {
            users: Some(users),
            products: None,
            credentials: false,
        }
    }

    /// The credentials of `users` changed (and, with them, possibly their roles).
    pub fn credentials_of(users: Vec<UserId>) -> Self {
        Self {
            users: Some(users),
            products: None,
            credentials: true,
        }
    }

    /// Who inherits a role on `product` changed (it moved to another product type). Computing
    /// the users concerned would mean reading both product types' memberships and their groups'
    /// members; naming the product instead is exact and cheap.
    pub fn product_moved(product: ProductId) -> Self {
        Self {
            users: None,
            products: Some(vec![product]),
            credentials: false,
        }
    }

    /// Everything about everyone may have changed.
    pub fn everything() -> Self {
        Self {
            users: None,
            products: None,
            credentials: true,
        }
    }

    /// The change an outbox payload describes. Rows recorded before payloads named anyone are
    /// `{}`: they read as "everyone, credentials too", the safe reading (the old code recorded
    /// one for token revocations and deactivations as well, and a socket that re-checks a
    /// valid credential once costs one lookup, while one that misses a revocation stays open).
    /// A payload that cannot be read at all gets the same reading.
    pub fn from_payload(payload: &serde_json::Value) -> Self {
        serde_json::from_value(payload.clone()).unwrap_or_else(|_| Self::everything())
    }

    /// Whether the change concerns nobody (a group without members): nothing to record.
    pub fn is_empty(&self) -> bool {
        self.users.as_ref().is_some_and(Vec::is_empty)
            || self.products.as_ref().is_some_and(Vec::is_empty)
    }
}

/// The reason a status change was made through `updateEngagement`, `closeEngagement` or
/// `reopenEngagement`.
pub fn reason_for(new_status: EngagementStatus, via_lifecycle: bool) -> StatusChangeReason {
    match (via_lifecycle, new_status) {
        (true, EngagementStatus::Completed) => StatusChangeReason::Closed,
        (true, _) => StatusChangeReason::Reopened,
        (false, _) => StatusChangeReason::Manual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_serialize_in_camel_case() {
        let p = StatusChanged {
            old_status: EngagementStatus::InProgress,
            new_status: EngagementStatus::Completed,
            reason: StatusChangeReason::Closed,
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({ "oldStatus": "IN_PROGRESS", "newStatus": "COMPLETED", "reason": "CLOSED" })
        );
        assert_eq!(EventKind::AccessChanged.as_str(), "ACCESS_CHANGED");
    }

    #[test]
    fn finding_changes_follow_the_table() {
        use serde_json::json;
        let changes = finding_changes(|field| match field {
            FindingField::Severity => (json!("LOW"), json!("HIGH")),
            FindingField::Title => (json!("a"), json!("b")),
            FindingField::Active => (json!(true), json!(true)),
            _ => (json!(null), json!(null)),
        });
        assert_eq!(
            serde_json::to_value(&changes).unwrap(),
            json!([{ "field": "severity", "old": "LOW", "new": "HIGH" }, { "field": "title" }])
        );
        let fields: std::collections::HashSet<_> =
            FINDING_CHANGES.iter().map(|(f, _, _)| *f).collect();
        assert_eq!(fields.len(), FINDING_CHANGES.len(), "each field once");
    }

    #[test]
    fn access_changes_name_whom_they_concern() {
        let roles = AccessChanged::roles_of(vec![UserId::new(3), UserId::new(4)]);
        assert_eq!(
            serde_json::to_value(&roles).unwrap(),
            serde_json::json!({ "users": [3, 4], "credentials": false })
        );
        let moved = AccessChanged::product_moved(ProductId::new(7));
        assert_eq!(
            serde_json::to_value(&moved).unwrap(),
            serde_json::json!({ "users": null, "products": [7], "credentials": false })
        );
        for change in [
            roles,
            moved,
            AccessChanged::credentials_of(vec![UserId::new(5)]),
        ] {
            let event = NewEvent::access_changed(&change);
            assert_eq!(AccessChanged::from_payload(&event.payload), change);
        }
        // Rows of earlier versions, and unreadable ones, concern everyone's credentials.
        for old in [serde_json::json!({}), serde_json::json!({ "users": "x" })] {
            assert_eq!(
                AccessChanged::from_payload(&old),
                AccessChanged::everything()
            );
        }
        assert!(AccessChanged::roles_of(vec![]).is_empty());
        assert!(!AccessChanged::everything().is_empty());
    }
}
