//! Tests (the entity: one run of a tool or a manual test inside an engagement).

use super::page::SortKey;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    DbError, QueryResult,
    page::Listed,
    schema::tests,
    sql::{Sql, SqlFilter, like_pattern},
};
use crate::domain::ids::{
    DevelopmentEnvironmentId, EngagementId, ProductId, TestId, TestTypeId, UserId,
};

/// Column widths (`VARCHAR(n)` in the migrations), for input validation.
pub const TITLE_MAX: usize = 255;
pub const VERSION_MAX: usize = 100;
pub const BUILD_ID_MAX: usize = 150;
pub const COMMIT_HASH_MAX: usize = 150;
pub const BRANCH_TAG_MAX: usize = 150;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = tests, check_for_backend(diesel::pg::Pg))]
pub struct Test {
    pub id: TestId,
    pub engagement_id: EngagementId,
    pub product_id: ProductId,
    pub test_type_id: TestTypeId,
    pub lead_id: Option<UserId>,
    pub scan_type: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub target_start: NaiveDate,
    pub target_end: NaiveDate,
    pub percent_complete: Option<i32>,
    pub environment_id: Option<DevelopmentEnvironmentId>,
    pub version: Option<String>,
    pub build_id: Option<String>,
    pub commit_hash: Option<String>,
    pub branch_tag: Option<String>,
    pub tags: Vec<Option<String>>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// A new test; `product_id` (the engagement's) and `test_type_id` are filled in by the
/// service before it is inserted.
#[derive(Debug, Insertable)]
#[diesel(table_name = tests)]
pub struct NewTest {
    pub engagement_id: EngagementId,
    pub product_id: ProductId,
    pub test_type_id: TestTypeId,
    pub lead_id: Option<UserId>,
    pub scan_type: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub target_start: NaiveDate,
    pub target_end: NaiveDate,
    pub percent_complete: Option<i32>,
    pub environment_id: Option<DevelopmentEnvironmentId>,
    pub version: Option<String>,
    pub build_id: Option<String>,
    pub commit_hash: Option<String>,
    pub branch_tag: Option<String>,
    pub tags: Vec<String>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = tests)]
pub struct TestChanges {
    /// Moves the test and its findings to another engagement (whose product the service fills
    /// in as `product_id`).
    pub engagement_id: Option<EngagementId>,
    pub product_id: Option<ProductId>,
    pub test_type_id: Option<TestTypeId>,
    pub lead_id: Option<Option<UserId>>,
    pub title: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub target_start: Option<NaiveDate>,
    pub target_end: Option<NaiveDate>,
    pub percent_complete: Option<Option<i32>>,
    pub environment_id: Option<Option<DevelopmentEnvironmentId>>,
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
    pub engagement_id: Option<EngagementId>,
    pub product_id: Option<ProductId>,
    pub test_type_id: Option<TestTypeId>,
    pub lead_id: Option<UserId>,
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

super::page::list_parent!(
    /// What a nested list of tests belongs to (`Product.tests`, `Engagement.tests`).
    TestParent {
        Product(ProductId) => "t.product_id",
        Engagement(EngagementId) => "t.engagement_id",
    }
);

impl Listed for Test {
    type Parent = TestParent;
    type Id = TestId;
    fn row_id(&self) -> TestId {
        self.id
    }
    const FROM: &'static str = "tests t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Product("t.product_id");
    type Filter = TestFilter;
    type Order = TestOrder;
    fn sort_key(order: TestOrder) -> SortKey {
        match order {
            TestOrder::Id => SortKey::ID,
            TestOrder::Title => SortKey::text("lower(t.title)").nullable(),
            TestOrder::TargetStart => SortKey::date("t.target_start"),
            TestOrder::Created => SortKey::timestamp("t.created"),
            TestOrder::Updated => SortKey::timestamp("t.updated"),
        }
    }
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(conn: &mut AsyncPgConnection, new: &NewTest) -> QueryResult<Test> {
    Ok(diesel::insert_into(tests::table)
        .values(new)
        .returning(Test::as_returning())
        .get_result(conn)
        .await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_for_update(conn: &mut AsyncPgConnection, id: TestId) -> QueryResult<Test> {
    Ok(tests::table
        .find(id)
        .select(Test::as_select())
        .for_update()
        .get_result(conn)
        .await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: TestId,
    changes: &TestChanges,
) -> QueryResult<Test> {
    Ok(diesel::update(tests::table.find(id))
        .set(changes)
        .returning(Test::as_returning())
        .get_result(conn)
        .await?)
}

/// The engagement of a test; `ParentNotFound` when the test does not exist.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn engagement_of(conn: &mut AsyncPgConnection, id: TestId) -> QueryResult<EngagementId> {
    tests::table
        .find(id)
        .select(tests::engagement_id)
        .first::<EngagementId>(conn)
        .await
        .optional()?
        .ok_or(DbError::ParentNotFound("test"))
}
