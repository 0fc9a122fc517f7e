//! Engagements: rows, inserts, changes and queries (lists, locks, the overdue and auto-close
//! statements of the periodic jobs). The rules that decide when these run live in
//! `service::lifecycle::engagement`.

use super::page::SortKey;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::{
    QueryableByName,
    prelude::*,
    sql_types::{Date, Integer, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    DbError, QueryResult,
    page::Listed,
    schema::engagements,
    sql::{Sql, SqlFilter, like_pattern},
};
use crate::domain::{
    EngagementStatus, EngagementType,
    engagement::{NEVER_OVERDUE, overdue_grace_days},
    ids::{DevelopmentEnvironmentId, EngagementId, ProductId, ProductTypeId, UserId},
};

/// Column widths (`VARCHAR(n)` in the migrations), for input validation and copies.
pub const NAME_MAX: usize = 300;
pub const DESCRIPTION_MAX: usize = 2000;
pub const VERSION_MAX: usize = 100;
pub const REASON_MAX: usize = 2000;
pub const TRACKER_MAX: usize = 200;
pub const TEST_STRATEGY_MAX: usize = 200;
pub const SOURCE_CODE_MANAGEMENT_URI_MAX: usize = 600;
pub const BUILD_ID_MAX: usize = 150;
pub const COMMIT_HASH_MAX: usize = 150;
pub const BRANCH_TAG_MAX: usize = 150;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = engagements, check_for_backend(diesel::pg::Pg))]
pub struct Engagement {
    pub id: EngagementId,
    pub product_id: ProductId,
    pub name: String,
    pub description: Option<String>,
    pub version: Option<String>,
    pub first_contacted: Option<NaiveDate>,
    pub target_start: NaiveDate,
    pub target_end: NaiveDate,
    pub lead_id: Option<UserId>,
    pub reason: Option<String>,
    pub tracker: Option<String>,
    pub test_strategy: Option<String>,
    pub source_code_management_uri: Option<String>,
    pub engagement_type: EngagementType,
    pub status: EngagementStatus,
    pub active: bool,
    pub done_testing: bool,
    pub build_id: Option<String>,
    pub commit_hash: Option<String>,
    pub branch_tag: Option<String>,
    pub environment_id: Option<DevelopmentEnvironmentId>,
    pub deduplication_on_engagement: bool,
    pub tags: Vec<Option<String>>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = engagements)]
pub struct NewEngagement {
    pub product_id: ProductId,
    pub name: String,
    pub description: Option<String>,
    pub version: Option<String>,
    pub first_contacted: Option<NaiveDate>,
    pub target_start: NaiveDate,
    pub target_end: NaiveDate,
    pub lead_id: Option<UserId>,
    pub reason: Option<String>,
    pub tracker: Option<String>,
    pub test_strategy: Option<String>,
    pub source_code_management_uri: Option<String>,
    pub engagement_type: EngagementType,
    pub status: EngagementStatus,
    pub active: bool,
    pub done_testing: bool,
    pub build_id: Option<String>,
    pub commit_hash: Option<String>,
    pub branch_tag: Option<String>,
    pub environment_id: Option<DevelopmentEnvironmentId>,
    pub deduplication_on_engagement: bool,
    pub tags: Vec<String>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = engagements)]
pub struct EngagementChanges {
    /// Moves the engagement, its tests and findings to another product (the composite keys
    /// cascade the new product id).
    pub product_id: Option<ProductId>,
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub version: Option<Option<String>>,
    pub first_contacted: Option<Option<NaiveDate>>,
    pub target_start: Option<NaiveDate>,
    pub target_end: Option<NaiveDate>,
    pub lead_id: Option<Option<UserId>>,
    pub reason: Option<Option<String>>,
    pub tracker: Option<Option<String>>,
    pub test_strategy: Option<Option<String>>,
    pub source_code_management_uri: Option<Option<String>>,
    pub engagement_type: Option<EngagementType>,
    pub status: Option<EngagementStatus>,
    pub active: Option<bool>,
    pub done_testing: Option<bool>,
    pub build_id: Option<Option<String>>,
    pub commit_hash: Option<Option<String>>,
    pub branch_tag: Option<Option<String>>,
    pub environment_id: Option<Option<DevelopmentEnvironmentId>>,
    pub deduplication_on_engagement: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub updated: Option<DateTime<Utc>>,
}

/// Appends "overdue on `today`" for the engagement whose columns `alias` prefixes (`"t."`, or
/// `""` for the table itself): `domain::engagement::is_overdue` in SQL, generated from the same
/// statuses and grace days, `today` bound.
pub fn push_overdue(sql: &mut Sql, alias: &str, today: NaiveDate) {
    let exempt: Vec<String> = NEVER_OVERDUE
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    let grace: String = EngagementType::ALL
        .iter()
        .map(|k| format!(" WHEN '{}' THEN {}", k.as_str(), overdue_grace_days(*k)))
        .collect();
    sql.push(&format!(
        "({alias}status NOT IN ({}) AND {alias}target_end < ",
        exempt.join(", ")
    ))
    .bind::<Date, _>(today)
    .push(&format!(" - CASE {alias}engagement_type{grace} END)"));
}

/// Filter for engagement lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EngagementFilter {
    pub name_contains: Option<String>,
    pub status: Vec<EngagementStatus>,
    pub engagement_type: Option<EngagementType>,
    pub product_id: Option<ProductId>,
    pub product_type_id: Option<ProductTypeId>,
    pub lead_id: Option<UserId>,
    pub active: Option<bool>,
    pub overdue: Option<bool>,
    /// Engagements that start on or before this date.
    pub target_start_before: Option<NaiveDate>,
    /// Engagements that end on or after this date.
    pub target_end_after: Option<NaiveDate>,
    pub tags: Vec<String>,
}

impl SqlFilter for EngagementFilter {
    fn push_conditions(&self, sql: &mut Sql) {
        use diesel::sql_types::{Array, Bool};
        if let Some(n) = &self.name_contains {
            sql.and::<Text, _>("t.name ILIKE ", like_pattern(n));
        }
        if !self.status.is_empty() {
            let v: Vec<String> = self.status.iter().map(|s| s.as_str().to_string()).collect();
            sql.push(" AND t.status = ANY(")
                .bind::<Array<Text>, _>(v)
                .push(")");
        }
        if let Some(v) = self.engagement_type {
            sql.and::<Text, _>("t.engagement_type = ", v.as_str());
        }
        if let Some(v) = self.product_id {
            sql.and::<Integer, _>("t.product_id = ", v);
        }
        if let Some(v) = self.product_type_id {
            sql.push(" AND t.product_id IN (SELECT id FROM products WHERE product_type_id = ")
                .bind::<Integer, _>(v)
                .push(")");
        }
        if let Some(v) = self.lead_id {
            sql.and::<Integer, _>("t.lead_id = ", v);
        }
        if let Some(v) = self.active {
            sql.and::<Bool, _>("t.active = ", v);
        }
        if let Some(overdue) = self.overdue {
            sql.push(if overdue { " AND " } else { " AND NOT " });
            push_overdue(sql, "t.", super::today());
        }
        if let Some(d) = self.target_start_before {
            sql.and::<Date, _>("t.target_start <= ", d);
        }
        if let Some(d) = self.target_end_after {
            sql.and::<Date, _>("t.target_end >= ", d);
        }
        if !self.tags.is_empty() {
            sql.and::<Array<Text>, _>("t.tags @> ", self.tags.clone());
        }
    }
}

/// Sort keys of engagement lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EngagementOrder {
    #[default]
    Id,
    Name,
    TargetStart,
    TargetEnd,
    Status,
    Created,
    Updated,
}

super::page::list_parent!(
    /// What a nested list of engagements belongs to (`Product.engagements`).
    EngagementParent {
        Product(ProductId) => "t.product_id",
    }
);

impl Listed for Engagement {
    type Parent = EngagementParent;
    type Id = EngagementId;
    fn row_id(&self) -> EngagementId {
        self.id
    }
    const FROM: &'static str = "engagements t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Product("t.product_id");
    type Filter = EngagementFilter;
    type Order = EngagementOrder;
    fn sort_key(order: EngagementOrder) -> SortKey {
        match order {
            EngagementOrder::Id => SortKey::ID,
            EngagementOrder::Name => SortKey::text("lower(t.name)"),
            EngagementOrder::TargetStart => SortKey::date("t.target_start"),
            EngagementOrder::TargetEnd => SortKey::date("t.target_end"),
            EngagementOrder::Status => SortKey::text("t.status"),
            EngagementOrder::Created => SortKey::timestamp("t.created"),
            EngagementOrder::Updated => SortKey::timestamp("t.updated"),
        }
    }
}

/// Fails with `ParentNotFound` unless the product exists; locks it against a concurrent delete.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock_product(conn: &mut AsyncPgConnection, product_id: ProductId) -> QueryResult<()> {
    use super::schema::products;
    products::table
        .find(product_id)
        .select(products::id)
        .for_share()
        .first::<ProductId>(conn)
        .await
        .optional()?
        .ok_or(DbError::ParentNotFound("product"))?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(conn: &mut AsyncPgConnection, new: NewEngagement) -> QueryResult<Engagement> {
    Ok(diesel::insert_into(engagements::table)
        .values(&new)
        .returning(Engagement::as_returning())
        .get_result(conn)
        .await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(conn: &mut AsyncPgConnection, id: EngagementId) -> QueryResult<Engagement> {
    Ok(engagements::table
        .find(id)
        .select(Engagement::as_select())
        .get_result(conn)
        .await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get_for_update(
    conn: &mut AsyncPgConnection,
    id: EngagementId,
) -> QueryResult<Engagement> {
    Ok(engagements::table
        .find(id)
        .select(Engagement::as_select())
        .for_update()
        .get_result(conn)
        .await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: EngagementId,
    changes: &EngagementChanges,
) -> QueryResult<Engagement> {
    Ok(diesel::update(engagements::table.find(id))
        .set(changes)
        .returning(Engagement::as_returning())
        .get_result(conn)
        .await?)
}

/// Sets status and active flag (closing and reopening).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: EngagementId,
    status: EngagementStatus,
    active: bool,
) -> QueryResult<Engagement> {
    Ok(diesel::update(engagements::table.find(id))
        .set((
            engagements::status.eq(status),
            engagements::active.eq(active),
            engagements::updated.eq(Utc::now()),
        ))
        .returning(Engagement::as_returning())
        .get_result(conn)
        .await?)
}

/// The product and status of an engagement, share-locked (a concurrent close or delete waits
/// for this transaction); `ParentNotFound` when it does not exist.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn status_for_share(
    conn: &mut AsyncPgConnection,
    id: EngagementId,
) -> QueryResult<(ProductId, EngagementStatus)> {
    engagements::table
        .find(id)
        .select((engagements::product_id, engagements::status))
        .for_share()
        .first::<(ProductId, EngagementStatus)>(conn)
        .await
        .optional()?
        .ok_or(DbError::ParentNotFound("engagement"))
}

/// The names of a product's engagements.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn names_in_product(
    conn: &mut AsyncPgConnection,
    product_id: ProductId,
) -> QueryResult<Vec<String>> {
    Ok(engagements::table
        .filter(engagements::product_id.eq(product_id))
        .select(engagements::name)
        .load(conn)
        .await?)
}

/// An engagement touched by a bulk statement.
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct Touched {
    #[diesel(sql_type = Integer)]
    pub id: EngagementId,
    #[diesel(sql_type = Integer)]
    pub product_id: ProductId,
}

/// Forgets the overdue announcement of the engagements no longer overdue on `today` (so that
/// they are announced again if they become overdue again).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn forget_overdue_announcements(
    conn: &mut AsyncPgConnection,
    today: NaiveDate,
) -> QueryResult<usize> {
    let mut sql = Sql::new(
        "UPDATE engagements SET overdue_notified_at = NULL \
         WHERE overdue_notified_at IS NOT NULL AND NOT ",
    );
    push_overdue(&mut sql, "", today);
    Ok(sql.build().execute(conn).await?)
}

/// Marks announced, and returns, the engagements overdue on `today` not announced yet.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn mark_overdue_announced(
    conn: &mut AsyncPgConnection,
    today: NaiveDate,
) -> QueryResult<Vec<Touched>> {
    let mut sql = Sql::new(
        "UPDATE engagements SET overdue_notified_at = now() WHERE overdue_notified_at IS NULL AND ",
    );
    push_overdue(&mut sql, "", today);
    sql.push(" RETURNING id, product_id");
    Ok(sql.build().load(conn).await?)
}

/// Closes (COMPLETED, inactive) the IN_PROGRESS engagements whose target end is more than
/// `days` days before `today`, and returns them.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn close_ended(
    conn: &mut AsyncPgConnection,
    today: NaiveDate,
    days: i32,
) -> QueryResult<Vec<Touched>> {
    Ok(diesel::sql_query(
        "UPDATE engagements SET status = 'COMPLETED', active = FALSE, updated = now() \
         WHERE status = 'IN_PROGRESS' AND target_end < $1::date - $2 RETURNING id, product_id",
    )
    .bind::<Date, _>(today)
    .bind::<Integer, _>(days)
    .load(conn)
    .await?)
}
