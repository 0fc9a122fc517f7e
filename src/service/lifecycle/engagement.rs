//! Engagements: create, update, close and reopen (each with its events), deep copy, the rule
//! that only an open engagement receives tests and findings, and the engagement rules of the
//! periodic jobs (overdue announcement, auto-close).

use std::collections::HashSet;

use chrono::{NaiveDate, Utc};
use diesel_async::AsyncPgConnection;

use crate::{
    auth::Principal,
    db::{
        Db, DbError, QueryResult,
        authz::Target,
        copy,
        engagement::{self as rows, Engagement, EngagementChanges, NewEngagement},
        finding::{SlaScope, recompute_sla},
        outbox,
    },
    domain::{
        self, EngagementStatus,
        engagement::{accepts_children, numbered_copy},
        events::{self, EventKind, NewEvent, StatusChangeReason, StatusChanged},
        ids::{EngagementId, ProductId},
        rbac::Permission,
    },
    service::{ServiceResult, write},
};

/// Creates an engagement in its product (ENGAGEMENT_ADD there).
#[tracing::instrument(skip_all, fields(product_id = %new.product_id))]
pub async fn create(
    db: &Db,
    principal: &Principal,
    new: NewEngagement,
) -> ServiceResult<Engagement> {
    let checks = vec![(Target::Product(new.product_id), Permission::EngagementAdd)];
    write(db, principal, "Product", checks, move |c, _| {
        Box::pin(create_in(c, new))
    })
    .await
}

/// [`create`] inside the caller's transaction, unchecked: locks the product (so it cannot
/// vanish meanwhile), inserts, records `ENGAGEMENT_CREATED`.
pub(crate) async fn create_in(
    conn: &mut AsyncPgConnection,
    new: NewEngagement,
) -> QueryResult<Engagement> {
    rows::lock_product(conn, new.product_id).await?;
    let engagement = rows::insert(conn, new).await?;
    created_event(conn, &engagement).await?;
    Ok(engagement)
}

/// Applies `changes` (ENGAGEMENT_EDIT; a move to another product also needs ENGAGEMENT_ADD
/// there, and re-computes the moved findings' SLA deadlines under the new product's SLA
/// configuration). The resulting target dates must still be in order. A status change records
/// `ENGAGEMENT_STATUS_CHANGED` (reason MANUAL).
#[tracing::instrument(skip_all, fields(engagement_id = %id))]
pub async fn update(
    db: &Db,
    principal: &Principal,
    id: EngagementId,
    changes: EngagementChanges,
) -> ServiceResult<Engagement> {
    let mut checks = vec![(Target::Engagement(id), Permission::EngagementEdit)];
    if let Some(product) = changes.product_id {
        checks.push((Target::Product(product), Permission::EngagementAdd));
    }
    write(db, principal, "Engagement", checks, move |c, _| {
        Box::pin(update_in(c, id, changes))
    })
    .await
}

/// [`update`] inside the caller's transaction, unchecked.
pub(crate) async fn update_in(
    conn: &mut AsyncPgConnection,
    id: EngagementId,
    mut changes: EngagementChanges,
) -> QueryResult<Engagement> {
    let current = rows::get_for_update(conn, id).await?;
    let start = changes.target_start.unwrap_or(current.target_start);
    let end = changes.target_end.unwrap_or(current.target_end);
    domain::check_date_range(start, end).map_err(|e| DbError::Rule(e.0))?;
    changes.updated = Some(Utc::now());
    let moved_to = changes.product_id.filter(|p| *p != current.product_id);
    if let Some(product) = moved_to {
        rows::lock_product(conn, product).await?;
    }
    let engagement = rows::update(conn, id, &changes).await?;
    if moved_to.is_some() {
        // The new product's SLA configuration applies from now on.
        recompute_sla(conn, SlaScope::Engagement(id)).await?;
    }
    status_event(conn, &current, &engagement, false).await?;
    Ok(engagement)
}

/// Closes an engagement: COMPLETED and inactive (ENGAGEMENT_EDIT). Its findings keep their
/// status; it receives no tests or findings until reopened.
#[tracing::instrument(skip_all, fields(engagement_id = %id))]
pub async fn close(db: &Db, principal: &Principal, id: EngagementId) -> ServiceResult<Engagement> {
    set_open(db, principal, id, false).await
}

/// Reopens an engagement: IN_PROGRESS and active (ENGAGEMENT_EDIT).
#[tracing::instrument(skip_all, fields(engagement_id = %id))]
pub async fn reopen(db: &Db, principal: &Principal, id: EngagementId) -> ServiceResult<Engagement> {
    set_open(db, principal, id, true).await
}

async fn set_open(
    db: &Db,
    principal: &Principal,
    id: EngagementId,
    open: bool,
) -> ServiceResult<Engagement> {
    let checks = vec![(Target::Engagement(id), Permission::EngagementEdit)];
    write(db, principal, "Engagement", checks, move |c, _| {
        Box::pin(set_open_in(c, id, open))
    })
    .await
}

/// [`close`] (`open: false`) or [`reopen`] inside the caller's transaction, unchecked; records
/// `ENGAGEMENT_STATUS_CHANGED` (reason CLOSED or REOPENED) when the status changes.
pub(crate) async fn set_open_in(
    conn: &mut AsyncPgConnection,
    id: EngagementId,
    open: bool,
) -> QueryResult<Engagement> {
    let status = if open {
        EngagementStatus::InProgress
    } else {
        EngagementStatus::Completed
    };
    let before = rows::get_for_update(conn, id).await?;
    let after = rows::set_status(conn, id, status, open).await?;
    status_event(conn, &before, &after, true).await?;
    Ok(after)
}

/// The product of an engagement that may receive new tests or findings: it must exist
/// (`ParentNotFound`) and accept children (`EngagementCompleted`). Share-locks it, so a
/// concurrent close or delete waits for the caller's transaction.
pub(crate) async fn open_for_children(
    conn: &mut AsyncPgConnection,
    id: EngagementId,
) -> QueryResult<ProductId> {
    let (product_id, status) = rows::status_for_share(conn, id).await?;
    if !accepts_children(status) {
        return Err(DbError::EngagementCompleted(id));
    }
    Ok(product_id)
}

/// Deep copy in the same product (ENGAGEMENT_ADD on the source: a copy is a new engagement
/// there): the engagement under `name` (default "<name> (copy N)", the first free N), its tests,
/// their findings, and every note and file of the three. Duplicate links between copied
/// findings point at the copies. Records `ENGAGEMENT_CREATED` for the copy.
#[tracing::instrument(skip_all, fields(engagement_id = %id))]
pub async fn copy(
    db: &Db,
    principal: &Principal,
    id: EngagementId,
    name: Option<String>,
) -> ServiceResult<Engagement> {
    let checks = vec![(Target::Engagement(id), Permission::EngagementAdd)];
    write(db, principal, "Engagement", checks, move |c, _| {
        Box::pin(copy_in(c, id, name))
    })
    .await
}

async fn copy_in(
    conn: &mut AsyncPgConnection,
    id: EngagementId,
    name: Option<String>,
) -> QueryResult<Engagement> {
    let source = rows::get_for_update(conn, id).await?;
    let name = match name {
        Some(n) => n,
        None => free_copy_name(conn, &source).await?,
    };
    let copy_id = copy::engagement(conn, id, name).await?;
    let tests = copy::tests(conn, id, copy_id).await?;
    let findings = copy::findings(conn, id, copy_id, &tests).await?;
    for table in [&copy::NOTES, &copy::FILES] {
        copy::attachments(conn, table, id, copy_id, &tests, &findings).await?;
    }
    let copy = rows::get(conn, copy_id).await?;
    created_event(conn, &copy).await?;
    Ok(copy)
}

/// The first "<name> (copy N)" not taken in the source's product (names compare
/// case-insensitively, as the unique index does).
async fn free_copy_name(conn: &mut AsyncPgConnection, source: &Engagement) -> QueryResult<String> {
    let taken: HashSet<String> = rows::names_in_product(conn, source.product_id)
        .await?
        .into_iter()
        .map(|n| n.to_lowercase())
        .collect();
    let mut n = 1;
    loop {
        let candidate = numbered_copy(&source.name, n, rows::NAME_MAX);
        if !taken.contains(&candidate.to_lowercase()) {
            return Ok(candidate);
        }
        n += 1;
    }
}

/// Records `ENGAGEMENT_OVERDUE` for every engagement overdue on `today` (see
/// `domain::engagement::is_overdue`) and not announced yet, after forgetting the announcement of
/// those no longer overdue (so they are announced again if they become overdue again). Returns
/// how many were announced. For the periodic jobs (`service::jobs`).
pub(crate) async fn announce_overdue_in(
    conn: &mut AsyncPgConnection,
    today: NaiveDate,
) -> QueryResult<usize> {
    rows::forget_overdue_announcements(conn, today).await?;
    let overdue = rows::mark_overdue_announced(conn, today).await?;
    for e in &overdue {
        let event = NewEvent::new(
            EventKind::EngagementOverdue,
            e.product_id,
            serde_json::json!({}),
        );
        outbox::record(conn, &event.engagement(e.id)).await?;
    }
    Ok(overdue.len())
}

/// Closes the IN_PROGRESS engagements whose target end is more than `days` days before `today`,
/// recording for each the `ENGAGEMENT_STATUS_CHANGED` a manual close records, with reason
/// AUTO_CLOSED. Returns how many. For the periodic jobs (`service::jobs`).
pub(crate) async fn auto_close_in(
    conn: &mut AsyncPgConnection,
    today: NaiveDate,
    days: i32,
) -> QueryResult<usize> {
    let closed = rows::close_ended(conn, today, days).await?;
    for e in &closed {
        let payload = StatusChanged {
            old_status: EngagementStatus::InProgress,
            new_status: EngagementStatus::Completed,
            reason: StatusChangeReason::AutoClosed,
        };
        let event = NewEvent::new(EventKind::EngagementStatusChanged, e.product_id, payload);
        outbox::record(conn, &event.engagement(e.id)).await?;
    }
    Ok(closed.len())
}

/// Records `ENGAGEMENT_CREATED`.
async fn created_event(conn: &mut AsyncPgConnection, e: &Engagement) -> QueryResult<()> {
    let event = NewEvent::new(
        EventKind::EngagementCreated,
        e.product_id,
        serde_json::json!({}),
    );
    outbox::record(conn, &event.engagement(e.id)).await
}

/// Records `ENGAGEMENT_STATUS_CHANGED` when the status differs (`via_lifecycle`: through close
/// or reopen rather than an update).
async fn status_event(
    conn: &mut AsyncPgConnection,
    before: &Engagement,
    after: &Engagement,
    via_lifecycle: bool,
) -> QueryResult<()> {
    if before.status == after.status {
        return Ok(());
    }
    let payload = StatusChanged {
        old_status: before.status,
        new_status: after.status,
        reason: events::reason_for(after.status, via_lifecycle),
    };
    let event = NewEvent::new(
        EventKind::EngagementStatusChanged,
        after.product_id,
        payload,
    );
    outbox::record(conn, &event.engagement(after.id)).await
}
