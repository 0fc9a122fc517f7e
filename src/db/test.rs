//! Tests (the entity: one run of a tool or a manual test inside an engagement).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    DbError, QueryResult, engagement,
    lookup::TestTypeByName,
    page::Listed,
    schema::tests,
    sql::{Sql, SqlFilter, like_pattern},
};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = tests, check_for_backend(diesel::pg::Pg))]
pub struct Test {
    pub id: i32,
    pub engagement_id: i32,
    pub product_id: i32,
    pub test_type_id: i32,
    pub lead_id: Option<i32>,
    pub scan_type: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub target_start: NaiveDate,
    pub target_end: NaiveDate,
    pub percent_complete: Option<i32>,
    pub environment_id: Option<i32>,
    pub version: Option<String>,
    pub build_id: Option<String>,
    pub commit_hash: Option<String>,
    pub branch_tag: Option<String>,
    pub tags: Vec<Option<String>>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// A new test; `product_id` is filled in from the engagement by [`create`].
#[derive(Debug, Insertable)]
#[diesel(table_name = tests)]
pub struct NewTest {
    pub engagement_id: i32,
    pub product_id: i32,
    pub test_type_id: i32,
    pub lead_id: Option<i32>,
    pub scan_type: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub target_start: NaiveDate,
    pub target_end: NaiveDate,
    pub percent_complete: Option<i32>,
    pub environment_id: Option<i32>,
    pub version: Option<String>,
    pub build_id: Option<String>,
    pub commit_hash: Option<String>,
    pub branch_tag: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = tests)]
pub struct TestChanges {
    /// Moves the test and its findings to another engagement (set through [`update`], which
    /// fills in the engagement's product).
    pub engagement_id: Option<i32>,
    pub product_id: Option<i32>,
    pub test_type_id: Option<i32>,
    pub lead_id: Option<Option<i32>>,
    pub title: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub target_start: Option<NaiveDate>,
    pub target_end: Option<NaiveDate>,
    pub percent_complete: Option<Option<i32>>,
    pub environment_id: Option<Option<i32>>,
    pub version: Option<Option<String>>,
    pub build_id: Option<Option<String>>,
    pub commit_hash: Option<Option<String>>,
    pub branch_tag: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub updated: Option<DateTime<Utc>>,
}

/// Filter for test lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TestFilter {
    pub title_contains: Option<String>,
    pub engagement_id: Option<i32>,
    pub product_id: Option<i32>,
    pub test_type_id: Option<i32>,
    pub lead_id: Option<i32>,
    pub tags: Vec<String>,
}

impl SqlFilter for TestFilter {
    fn push_conditions(&self, sql: &mut Sql) {
        use diesel::sql_types::{Array, Integer, Text};
        if let Some(n) = &self.title_contains {
            sql.and::<Text, _>("t.title ILIKE ", like_pattern(n));
        }
        if let Some(v) = self.engagement_id {
            sql.and::<Integer, _>("t.engagement_id = ", v);
        }
        if let Some(v) = self.product_id {
            sql.and::<Integer, _>("t.product_id = ", v);
        }
        if let Some(v) = self.test_type_id {
            sql.and::<Integer, _>("t.test_type_id = ", v);
        }
        if let Some(v) = self.lead_id {
            sql.and::<Integer, _>("t.lead_id = ", v);
        }
        if !self.tags.is_empty() {
            sql.and::<Array<Text>, _>("t.tags @> ", self.tags.clone());
        }
    }
}

/// Sort keys of test lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TestOrder {
    #[default]
    Id,
    Title,
    TargetStart,
    Created,
    Updated,
}

impl Listed for Test {
    const FROM: &'static str = "tests t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Product("t.product_id");
    type Filter = TestFilter;
    type Order = TestOrder;
    fn order_column(order: TestOrder) -> &'static str {
        match order {
            TestOrder::Id => "t.id",
            TestOrder::Title => "lower(t.title)",
            TestOrder::TargetStart => "t.target_start",
            TestOrder::Created => "t.created",
            TestOrder::Updated => "t.updated",
        }
    }
}

/// Creates a test under an engagement that exists and is not COMPLETED.
pub async fn create(conn: &mut AsyncPgConnection, mut new: NewTest) -> QueryResult<Test> {
    new.product_id = engagement::open_for_children(conn, new.engagement_id).await?;
    let test = diesel::insert_into(tests::table)
        .values(&new)
        .returning(Test::as_returning())
        .get_result(conn)
        .await?;
    super::outbox::record(
        conn,
        &crate::domain::events::NewEvent::new(
            crate::domain::events::EventKind::TestCreated,
            test.product_id,
            serde_json::json!({}),
        )
        .engagement(test.engagement_id)
        .test(test.id),
    )
    .await?;
    Ok(test)
}

/// Applies `changes`; the resulting target dates must still be in order.
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: i32,
    mut changes: TestChanges,
) -> QueryResult<Test> {
    let current: Test = tests::table
        .find(id)
        .select(Test::as_select())
        .for_update()
        .get_result(conn)
        .await?;
    let start = changes.target_start.unwrap_or(current.target_start);
    let end = changes.target_end.unwrap_or(current.target_end);
    crate::domain::check_date_range(start, end).map_err(|e| DbError::Rule(e.0))?;
    changes.updated = Some(Utc::now());
    changes.product_id = None;
    let mut moved_product = false;
    if let Some(engagement_id) = changes
        .engagement_id
        .filter(|e| *e != current.engagement_id)
    {
        // A test moves only into an engagement that may receive tests (not COMPLETED).
        let product_id = engagement::open_for_children(conn, engagement_id).await?;
        moved_product = product_id != current.product_id;
        changes.product_id = Some(product_id);
    }
    let test = diesel::update(tests::table.find(id))
        .set(&changes)
        .returning(Test::as_returning())
        .get_result(conn)
        .await?;
    if moved_product {
        super::finding::recompute_sla(conn, super::finding::SlaScope::Test(id)).await?;
    }
    Ok(test)
}

/// The engagement and product of a test that may receive new findings (its engagement must not
/// be COMPLETED).
pub async fn open_for_findings(conn: &mut AsyncPgConnection, id: i32) -> QueryResult<(i32, i32)> {
    let engagement_id = tests::table
        .find(id)
        .select(tests::engagement_id)
        .first::<i32>(conn)
        .await
        .optional()?
        .ok_or(DbError::ParentNotFound("test"))?;
    let product_id = engagement::open_for_children(conn, engagement_id).await?;
    Ok((engagement_id, product_id))
}

/// Creates a test whose type is given by name, resolved as `how` says (an unknown name is
/// created only with [`TestTypeByName::CreateMissing`]), in one transaction.
pub async fn create_with_type_name(
    conn: &mut AsyncPgConnection,
    mut new: NewTest,
    test_type: &str,
    how: TestTypeByName,
) -> QueryResult<Test> {
    new.test_type_id = super::lookup::test_type_named(conn, test_type, how)
        .await?
        .id;
    create(conn, new).await
}
