//! Tests (the entity): create under an open engagement, update and move to another engagement.

use chrono::Utc;
use diesel_async::AsyncPgConnection;

use super::engagement::open_for_children;
use crate::{
    auth::Principal,
    db::{
        Db, DbError, QueryResult,
        authz::Target,
        finding::{SlaScope, recompute_sla},
        lookup::{self, TestTypeByName},
        outbox,
        test::{self as rows, NewTest, Test, TestChanges},
    },
    domain::{
        self,
        events::{EventKind, NewEvent},
        ids::{EngagementId, ProductId, TestId},
        rbac::Permission,
    },
    service::{ServiceResult, write},
};

/// A test to create, its type named (`test.test_type_id` and `test.product_id` are filled in).
#[derive(Debug)]
pub struct CreateTest {
    pub test: NewTest,
    pub test_type: String,
}

/// Creates a test under an engagement that is not COMPLETED (TEST_ADD there). `test_type` names
/// an existing test type; test types are shared by every tenant, so only a superuser may name a
/// new one, which is then created.
#[tracing::instrument(skip_all, fields(engagement_id = %new.test.engagement_id))]
pub async fn create(db: &Db, principal: &Principal, new: CreateTest) -> ServiceResult<Test> {
    let checks = vec![(
        Target::Engagement(new.test.engagement_id),
        Permission::TestAdd,
    )];
    write(db, principal, "Engagement", checks, move |c, p| {
        let how = if p.may_add_test_types() {
            TestTypeByName::CreateMissing
        } else {
            TestTypeByName::Existing
        };
        Box::pin(create_in(c, new, how))
    })
    .await
}

/// [`create`] inside the caller's transaction, unchecked, the test type resolved as `how` says;
/// records `TEST_CREATED`.
pub(crate) async fn create_in(
    conn: &mut AsyncPgConnection,
    new: CreateTest,
    how: TestTypeByName,
) -> QueryResult<Test> {
    let CreateTest {
        mut test,
        test_type,
    } = new;
    test.test_type_id = lookup::test_type_named(conn, &test_type, how).await?.id;
    test.product_id = open_for_children(conn, test.engagement_id).await?;
    let row = rows::insert(conn, &test).await?;
    let event = NewEvent::new(
        EventKind::TestCreated,
        row.product_id,
        serde_json::json!({}),
    );
    outbox::record(conn, &event.engagement(row.engagement_id).test(row.id)).await?;
    Ok(row)
}

/// Applies `changes` (TEST_EDIT). A move to another engagement needs TEST_ADD there, and that
/// engagement must not be COMPLETED; findings moved to another product get their SLA deadlines
/// re-computed. The resulting target dates must still be in order.
#[tracing::instrument(skip_all, fields(test_id = %id))]
pub async fn update(
    db: &Db,
    principal: &Principal,
    id: TestId,
    changes: TestChanges,
) -> ServiceResult<Test> {
    let mut checks = vec![(Target::Test(id), Permission::TestEdit)];
    if let Some(engagement) = changes.engagement_id {
        checks.push((Target::Engagement(engagement), Permission::TestAdd));
    }
    write(db, principal, "Test", checks, move |c, _| {
        Box::pin(update_in(c, id, changes))
    })
    .await
}

async fn update_in(
    conn: &mut AsyncPgConnection,
    id: TestId,
    mut changes: TestChanges,
) -> QueryResult<Test> {
    let current = rows::get_for_update(conn, id).await?;
    let start = changes.target_start.unwrap_or(current.target_start);
    let end = changes.target_end.unwrap_or(current.target_end);
    domain::check_date_range(start, end).map_err(|e| DbError::Rule(e.0))?;
    changes.updated = Some(Utc::now());
    changes.product_id = None;
    let mut moved_product = false;
    if let Some(engagement_id) = changes
        .engagement_id
        .filter(|e| *e != current.engagement_id)
    {
        let product_id = open_for_children(conn, engagement_id).await?;
        moved_product = product_id != current.product_id;
        changes.product_id = Some(product_id);
    }
    let test = rows::update(conn, id, &changes).await?;
    if moved_product {
        recompute_sla(conn, SlaScope::Test(id)).await?;
    }
    Ok(test)
}

/// The engagement and product of a test that may receive new findings: the test must exist
/// (`ParentNotFound`) and its engagement accept children (see [`open_for_children`]).
pub(crate) async fn open_for_findings(
    conn: &mut AsyncPgConnection,
    id: TestId,
) -> QueryResult<(EngagementId, ProductId)> {
    let engagement_id = rows::engagement_of(conn, id).await?;
    let product_id = open_for_children(conn, engagement_id).await?;
    Ok((engagement_id, product_id))
}
