//! Findings: create in an open test, update through the status rules
//! (`domain::finding_status`) and the duplicate rules, SLA deadlines kept current, and
//! `FINDING_CREATED` / `FINDING_CHANGED` events (which fields the latter reports is
//! `domain::events::FINDING_CHANGES`).

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde_json::{Value, json};

use super::test::open_for_findings;
use crate::{
    auth::{Principal, access},
    db::{
        Db, DbError, QueryResult,
        authz::{Anchor, Lock, Target},
        finding::{
            self as rows, Finding, FindingChanges, FindingFields, NewFinding, SlaScope,
            StatusColumns, recompute_sla,
        },
        outbox,
    },
    domain::{
        Severity,
        events::{self, EventKind, FindingCreated, FindingField, NewEvent},
        finding_status::{self, Status, StatusChange},
        ids::{EngagementId, FindingId, ProductId, TestId},
        rbac::Permission,
    },
    service::{ServiceResult, write},
};

/// A finding to create in test `test_id`; `status` is applied to a new finding's defaults
/// (active) by the status rules.
#[derive(Debug, Clone)]
pub struct CreateFinding {
    pub test_id: TestId,
    pub fields: FindingFields,
    pub status: StatusChange,
}

/// What `duplicateOfId` asks for in an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateOf {
    Keep,
    Clear,
    Set(FindingId),
}

/// A change to finding `id`: descriptive `changes`, then `status` through the status rules,
/// then the duplicate link.
#[derive(Debug)]
pub struct UpdateFinding {
    pub id: FindingId,
    pub changes: FindingChanges,
    pub status: StatusChange,
    pub duplicate_of: DuplicateOf,
}

/// Creates a finding in a test whose engagement is not COMPLETED (FINDING_ADD there); the
/// reporter is the caller unless named.
#[tracing::instrument(skip_all, fields(test_id = %new.test_id))]
pub async fn create(db: &Db, principal: &Principal, new: CreateFinding) -> ServiceResult<Finding> {
    let checks = vec![(Target::Test(new.test_id), Permission::FindingAdd)];
    write(db, principal, "Test", checks, move |c, p| {
        let CreateFinding {
            test_id,
            mut fields,
            status,
        } = new;
        fields.reporter_id = fields.reporter_id.or(Some(p.user_id));
        Box::pin(create_in(c, test_id, fields, status))
    })
    .await
}

/// [`create`] inside the caller's transaction, unchecked: the test's engagement must accept
/// findings; the SLA deadline is computed in the same transaction; records `FINDING_CREATED`.
pub(crate) async fn create_in(
    conn: &mut AsyncPgConnection,
    test_id: TestId,
    fields: FindingFields,
    status: StatusChange,
) -> QueryResult<Finding> {
    let (engagement_id, product_id) = open_for_findings(conn, test_id).await?;
    let now = Utc::now();
    let status = finding_status::apply(Status::default(), status, now).map_err(rule)?;
    if status.duplicate {
        return Err(DbError::Rule(
            "set duplicateOfId on an existing finding to mark it a duplicate".into(),
        ));
    }
    let new = new_finding(test_id, engagement_id, product_id, fields, status, now);
    let severity = new.severity;
    let id = rows::insert(conn, &new).await?;
    recompute_sla(conn, SlaScope::Findings(vec![id])).await?;
    let finding = rows::get(conn, id).await?;
    let event = NewEvent::new(
        EventKind::FindingCreated,
        product_id,
        FindingCreated { severity },
    );
    outbox::record(
        conn,
        &event.engagement(engagement_id).test(test_id).finding(id),
    )
    .await?;
    Ok(finding)
}

/// The row of a new finding: severity Info unless given, discovered today unless dated, static
/// when it names a file and dynamic otherwise.
fn new_finding(
    test_id: TestId,
    engagement_id: EngagementId,
    product_id: ProductId,
    fields: FindingFields,
    s: Status,
    now: DateTime<Utc>,
) -> NewFinding {
    let severity = fields.severity.unwrap_or(Severity::Info);
    let is_static = fields.file_path.is_some();
    NewFinding {
        test_id,
        engagement_id,
        product_id,
        title: fields.title,
        description: fields.description,
        severity,
        numerical_severity: severity.numerical().to_string(),
        date: fields.date.unwrap_or_else(|| now.date_naive()),
        mitigation: fields.mitigation,
        impact: fields.impact,
        steps_to_reproduce: fields.steps_to_reproduce,
        severity_justification: fields.severity_justification,
        refs: fields.refs,
        url: fields.url,
        cwe: fields.cwe,
        vulnerability_ids: fields.vulnerability_ids,
        cvssv3: fields.cvssv3,
        cvssv3_score: fields.cvssv3_score,
        file_path: fields.file_path,
        line: fields.line,
        component_name: fields.component_name,
        component_version: fields.component_version,
        static_finding: is_static,
        dynamic_finding: !is_static,
        unique_id_from_tool: fields.unique_id_from_tool,
        vuln_id_from_tool: fields.vuln_id_from_tool,
        hash_code: fields.hash_code,
        service: fields.service,
        nb_occurences: fields.nb_occurences,
        active: s.active,
        verified: s.verified,
        false_p: s.false_p,
        out_of_scope: s.out_of_scope,
        risk_accepted: s.risk_accepted,
        under_review: s.under_review,
        is_mitigated: s.is_mitigated,
        mitigated: s.mitigated,
        reporter_id: fields.reporter_id,
        duplicate: false,
        sla_start_date: fields.sla_start_date,
        tags: fields.tags,
    }
}

/// Updates a finding (FINDING_EDIT; the original named by `duplicateOfId` must be visible to
/// the caller too). A finding can only duplicate an original (non-duplicate) finding of the same
/// product; findings that pointed at it are re-pointed to its original (chains stay one deep).
/// Records `FINDING_CHANGED` when anything a subscriber sees changed.
#[tracing::instrument(skip_all, fields(finding_id = %input.id))]
pub async fn update(
    db: &Db,
    principal: &Principal,
    input: UpdateFinding,
) -> ServiceResult<Finding> {
    // `update_in` locks the finding, its new original and the findings it re-points in id
    // order (so crossing duplicate markings cannot deadlock); the checks therefore lock
    // nothing, and the finding's product is verified again once it is locked.
    write(db, principal, "Finding", vec![], move |c, p| {
        Box::pin(async move {
            let checked = access::require_with(
                c,
                &p,
                Target::Finding(input.id),
                Permission::FindingEdit,
                Lock::None,
            )
            .await?;
            if let DuplicateOf::Set(original) = input.duplicate_of {
                access::require_with(
                    c,
                    &p,
                    Target::Finding(original),
                    Permission::FindingView,
                    Lock::None,
                )
                .await?;
            }
            let row = update_in(c, input).await?;
            if checked != Anchor::Product(row.product_id) {
                return Err(DbError::Conflict(
                    "the finding moved to another product meanwhile: try again".into(),
                ));
            }
            Ok(row)
        })
    })
    .await
}

async fn update_in(conn: &mut AsyncPgConnection, input: UpdateFinding) -> QueryResult<Finding> {
    let UpdateFinding {
        id,
        mut changes,
        mut status,
        duplicate_of,
    } = input;
    // Lock the finding and, when it is to become a duplicate, its new original and the findings
    // that will be re-pointed, all in id order: concurrent "A dup of B" / "B dup of C" then
    // serialize (no chain is left behind), and crossing requests ("A dup of B" / "B dup of A")
    // cannot deadlock.
    let (target, repointed) = match duplicate_of {
        DuplicateOf::Set(target) => (Some(target), Some(id)),
        DuplicateOf::Keep | DuplicateOf::Clear => (None, None),
    };
    rows::lock_in_order(conn, id, target, repointed).await?;
    let current = rows::get(conn, id).await?;
    let now = Utc::now();
    let original = duplicate_link(conn, &current, duplicate_of, &mut status).await?;
    if changes.severity.is_some() {
        changes.numerical_severity = changes.severity.map(|s| s.numerical().to_string());
    }
    let sla_inputs_changed =
        changes.severity.is_some() || changes.date.is_some() || changes.sla_start_date.is_some();
    changes.updated = Some(now);
    rows::update(conn, id, &changes).await?;

    let next = finding_status::apply(current.status(), status, now).map_err(rule)?;
    if next != current.status() || original != current.duplicate_finding_id {
        let link = if next.duplicate { original } else { None };
        rows::set_status(conn, id, &StatusColumns::new(next, link, now)).await?;
        if let Some(o) = link {
            rows::repoint_duplicates(conn, id, o).await?;
        }
    }
    if sla_inputs_changed {
        recompute_sla(conn, SlaScope::Findings(vec![id])).await?;
    }
    let after = rows::get(conn, id).await?;
    if let Some(event) = change_event(&current, &after) {
        outbox::record(conn, &event).await?;
    }
    Ok(after)
}

/// The original `current` duplicates once `duplicate_of` is applied, by the duplicate rules
/// (not itself; an original, not a duplicate; of the same product); sets `status.duplicate`
/// when the link is set or cleared.
async fn duplicate_link(
    conn: &mut AsyncPgConnection,
    current: &Finding,
    duplicate_of: DuplicateOf,
    status: &mut StatusChange,
) -> QueryResult<Option<FindingId>> {
    let target = match duplicate_of {
        DuplicateOf::Keep => return Ok(current.duplicate_finding_id),
        DuplicateOf::Clear => {
            status.duplicate = Some(false);
            return Ok(None);
        }
        DuplicateOf::Set(target) => target,
    };
    if target == current.id {
        return Err(DbError::Rule("a finding cannot duplicate itself".into()));
    }
    match rows::product_and_duplicate(conn, target).await? {
        Some((product, _)) if product != current.product_id => Err(DbError::Rule(
            "duplicateOfId must be a finding of the same product".into(),
        )),
        Some((_, true)) => Err(DbError::Rule(
            "duplicateOfId must not itself be a duplicate".into(),
        )),
        Some(_) => {
            status.duplicate = Some(true);
            Ok(Some(target))
        }
        None => Err(DbError::ParentNotFound("duplicate-of finding")),
    }
}

fn rule(e: crate::domain::Invalid) -> DbError {
    DbError::Rule(e.0)
}

/// The `FINDING_CHANGED` event between two versions of a finding, if anything a subscriber sees
/// changed.
fn change_event(before: &Finding, after: &Finding) -> Option<NewEvent> {
    let changes =
        events::finding_changes(|field| (field_value(before, field), field_value(after, field)));
    if changes.is_empty() {
        return None;
    }
    let payload = events::FindingChanged {
        changes,
        severity: after.severity,
    };
    let event = NewEvent::new(EventKind::FindingChanged, after.product_id, payload);
    Some(
        event
            .engagement(after.engagement_id)
            .test(after.test_id)
            .finding(after.id),
    )
}

/// A reported field's value on a finding row.
fn field_value(f: &Finding, field: FindingField) -> Value {
    use FindingField as F;
    match field {
        F::Severity => json!(f.severity),
        F::Active => json!(f.active),
        F::Verified => json!(f.verified),
        F::FalsePositive => json!(f.false_p),
        F::OutOfScope => json!(f.out_of_scope),
        F::RiskAccepted => json!(f.risk_accepted),
        F::UnderReview => json!(f.under_review),
        F::IsMitigated => json!(f.is_mitigated),
        F::Duplicate => json!(f.duplicate),
        F::Title => json!(f.title),
        F::Description => json!(f.description),
        F::Date => json!(f.date),
        F::Mitigation => json!(f.mitigation),
        F::Impact => json!(f.impact),
        F::StepsToReproduce => json!(f.steps_to_reproduce),
        F::SeverityJustification => json!(f.severity_justification),
        F::References => json!(f.refs),
        F::Url => json!(f.url),
        F::Cwe => json!(f.cwe),
        F::VulnerabilityIds => json!(f.vulnerability_ids),
        F::Cvssv3 => json!(f.cvssv3),
        F::Cvssv3Score => json!(f.cvssv3_score),
        F::FilePath => json!(f.file_path),
        F::Line => json!(f.line),
        F::ComponentName => json!(f.component_name),
        F::ComponentVersion => json!(f.component_version),
        F::UniqueIdFromTool => json!(f.unique_id_from_tool),
        F::VulnIdFromTool => json!(f.vuln_id_from_tool),
        F::Service => json!(f.service),
        F::MitigatedAt => json!(f.mitigated),
        F::DuplicateOf => json!(f.duplicate_finding_id),
        F::SlaStartDate => json!(f.sla_start_date),
        F::SlaExpirationDate => json!(f.sla_expiration_date),
        F::Tags => json!(f.tags),
    }
}
