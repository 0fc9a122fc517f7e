//! Engagements: rows, inserts, changes, lifecycle (close/reopen), deep copy and queries.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{
    QueryableByName,
    prelude::*,
    sql_types::{Integer, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    DbError, QueryResult, outbox,
    page::Listed,
    schema::engagements,
    sql::{Sql, SqlFilter, like_pattern},
};
use crate::domain::{
    EngagementStatus, EngagementType,
    events::{self, EventKind, NewEvent, StatusChanged},
};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = engagements, check_for_backend(diesel::pg::Pg))]
pub struct Engagement {
    pub id: i32,
    pub product_id: i32,
    pub name: String,
    pub description: Option<String>,
    pub version: Option<String>,
    pub first_contacted: Option<NaiveDate>,
    pub target_start: NaiveDate,
    pub target_end: NaiveDate,
    pub lead_id: Option<i32>,
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
    pub environment_id: Option<i32>,
    pub deduplication_on_engagement: bool,
    pub tags: Vec<Option<String>>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = engagements)]
pub struct NewEngagement {
    pub product_id: i32,
    pub name: String,
    pub description: Option<String>,
    pub version: Option<String>,
    pub first_contacted: Option<NaiveDate>,
    pub target_start: NaiveDate,
    pub target_end: NaiveDate,
    pub lead_id: Option<i32>,
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
    pub environment_id: Option<i32>,
    pub deduplication_on_engagement: bool,
    pub tags: Vec<String>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = engagements)]
pub struct EngagementChanges {
    /// Moves the engagement, its tests and findings to another product (the composite keys
    /// cascade the new product id).
    pub product_id: Option<i32>,
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub version: Option<Option<String>>,
    pub first_contacted: Option<Option<NaiveDate>>,
    pub target_start: Option<NaiveDate>,
    pub target_end: Option<NaiveDate>,
    pub lead_id: Option<Option<i32>>,
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
    pub environment_id: Option<Option<i32>>,
    pub deduplication_on_engagement: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub updated: Option<DateTime<Utc>>,
}

/// SQL for "overdue on the server's current (UTC) date", matching `domain::is_overdue`.
pub const OVERDUE_SQL: &str = "(t.status NOT IN ('COMPLETED', 'CANCELLED') AND t.target_end < \
     CURRENT_DATE - CASE WHEN t.engagement_type = 'CI_CD' THEN 10 ELSE 0 END)";

/// Filter for engagement lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EngagementFilter {
    pub name_contains: Option<String>,
    pub status: Vec<EngagementStatus>,
    pub engagement_type: Option<EngagementType>,
    pub product_id: Option<i32>,
    pub product_type_id: Option<i32>,
    pub lead_id: Option<i32>,
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
        use diesel::sql_types::{Array, Bool, Date};
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
        match self.overdue {
            Some(true) => {
                sql.push(" AND ").push(OVERDUE_SQL);
            }
            Some(false) => {
                sql.push(" AND NOT ").push(OVERDUE_SQL);
            }
            None => {}
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

impl Listed for Engagement {
    const FROM: &'static str = "engagements t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Product("t.product_id");
    type Filter = EngagementFilter;
    type Order = EngagementOrder;
    fn order_column(order: EngagementOrder) -> &'static str {
        match order {
            EngagementOrder::Id => "t.id",
            EngagementOrder::Name => "lower(t.name)",
            EngagementOrder::TargetStart => "t.target_start",
            EngagementOrder::TargetEnd => "t.target_end",
            EngagementOrder::Status => "t.status",
            EngagementOrder::Created => "t.created",
            EngagementOrder::Updated => "t.updated",
        }
    }
}

/// Fails with `ParentNotFound` unless the product exists; locks it against a concurrent delete.
pub async fn lock_product(conn: &mut AsyncPgConnection, product_id: i32) -> QueryResult<()> {
    use super::schema::products;
    products::table
        .find(product_id)
        .select(products::id)
        .for_share()
        .first::<i32>(conn)
        .await
        .optional()?
        .ok_or(DbError::ParentNotFound("product"))?;
    Ok(())
}

pub async fn create(conn: &mut AsyncPgConnection, new: NewEngagement) -> QueryResult<Engagement> {
    lock_product(conn, new.product_id).await?;
    let e = diesel::insert_into(engagements::table)
        .values(&new)
        .returning(Engagement::as_returning())
        .get_result(conn)
        .await?;
    created_event(conn, &e).await?;
    Ok(e)
}

pub async fn get_for_update(conn: &mut AsyncPgConnection, id: i32) -> QueryResult<Engagement> {
    Ok(engagements::table
        .find(id)
        .select(Engagement::as_select())
        .for_update()
        .get_result(conn)
        .await?)
}

/// Applies `changes`; the resulting target dates must still be in order.
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: i32,
    mut changes: EngagementChanges,
) -> QueryResult<Engagement> {
    let current = get_for_update(conn, id).await?;
    let start = changes.target_start.unwrap_or(current.target_start);
    let end = changes.target_end.unwrap_or(current.target_end);
    crate::domain::check_date_range(start, end).map_err(|e| DbError::Rule(e.0))?;
    changes.updated = Some(Utc::now());
    let moved = changes.product_id.is_some_and(|p| p != current.product_id);
    if moved {
        lock_product(conn, changes.product_id.unwrap_or_default()).await?;
    }
    let engagement = diesel::update(engagements::table.find(id))
        .set(&changes)
        .returning(Engagement::as_returning())
        .get_result(conn)
        .await?;
    if moved {
        // The new product's SLA configuration applies from now on.
        super::finding::recompute_sla(conn, super::finding::SlaScope::Engagement(id)).await?;
    }
    status_event(conn, &current, &engagement, false).await?;
    Ok(engagement)
}

/// Close → COMPLETED and inactive; reopen → IN_PROGRESS and active. Findings keep their status.
pub async fn set_lifecycle(
    conn: &mut AsyncPgConnection,
    id: i32,
    open: bool,
) -> QueryResult<Engagement> {
    let status = if open {
        EngagementStatus::InProgress
    } else {
        EngagementStatus::Completed
    };
    let before = get_for_update(conn, id).await?;
    let after = diesel::update(engagements::table.find(id))
        .set((
            engagements::status.eq(status),
            engagements::active.eq(open),
            engagements::updated.eq(Utc::now()),
        ))
        .returning(Engagement::as_returning())
        .get_result(conn)
        .await?;
    status_event(conn, &before, &after, true).await?;
    Ok(after)
}

/// The product of an engagement that may receive new tests or findings: it must exist and not be
/// COMPLETED. Takes a share lock so a concurrent close or delete waits for this transaction.
pub async fn open_for_children(conn: &mut AsyncPgConnection, id: i32) -> QueryResult<i32> {
    let (product_id, status) = engagements::table
        .find(id)
        .select((engagements::product_id, engagements::status))
        .for_share()
        .first::<(i32, EngagementStatus)>(conn)
        .await
        .optional()?
        .ok_or(DbError::ParentNotFound("engagement"))?;
    if status == EngagementStatus::Completed {
        return Err(DbError::EngagementCompleted(id));
    }
    Ok(product_id)
}

#[derive(QueryableByName)]
struct IdPair {
    #[diesel(sql_type = Integer)]
    old_id: i32,
    #[diesel(sql_type = Integer)]
    new_id: i32,
}

/// Reserves new ids for the rows of `table` selected by `where_sql` (bound to `parent`).
async fn reserve_ids(
    conn: &mut AsyncPgConnection,
    table: &str,
    where_sql: &str,
    parent: i32,
) -> QueryResult<(Vec<i32>, Vec<i32>)> {
    let mut sql = Sql::new(&format!(
        "SELECT id AS old_id, nextval('{table}_id_seq')::int AS new_id FROM {table} WHERE {where_sql}"
    ));
    sql.bind::<Integer, _>(parent).push(" ORDER BY id");
    let pairs: Vec<IdPair> = sql.build().load(conn).await?;
    Ok(pairs.into_iter().map(|p| (p.old_id, p.new_id)).unzip())
}

/// Longest engagement name (the column is `VARCHAR(300)`).
const NAME_MAX: usize = 300;

/// "<name> (copy N)", the name cut short so that the whole still fits [`NAME_MAX`].
fn numbered_copy(name: &str, n: u32) -> String {
    let suffix = format!(" (copy {n})");
    let room = NAME_MAX.saturating_sub(suffix.chars().count());
    let base: String = name.chars().take(room).collect();
    format!("{}{suffix}", base.trim_end())
}

/// A free name "<name> (copy N)" within the product.
async fn copy_name(
    conn: &mut AsyncPgConnection,
    product_id: i32,
    name: &str,
) -> QueryResult<String> {
    let taken: Vec<String> = engagements::table
        .filter(engagements::product_id.eq(product_id))
        .select(engagements::name)
        .load(conn)
        .await?;
    let taken: std::collections::HashSet<String> =
        taken.into_iter().map(|n| n.to_lowercase()).collect();
    let mut n = 1;
    loop {
        let candidate = numbered_copy(name, n);
        if !taken.contains(&candidate.to_lowercase()) {
            return Ok(candidate);
        }
        n += 1;
    }
}

const ENGAGEMENT_COPY_COLUMNS: &str = "product_id, description, version, first_contacted, target_start, \
    target_end, lead_id, reason, tracker, test_strategy, source_code_management_uri, engagement_type, \
    status, active, done_testing, build_id, commit_hash, branch_tag, environment_id, \
    deduplication_on_engagement, tags";
const TEST_COPY_COLUMNS: &str = "product_id, test_type_id, lead_id, scan_type, title, description, \
    target_start, target_end, percent_complete, environment_id, version, build_id, commit_hash, branch_tag, tags";
const FINDING_COPY_COLUMNS: &str = "product_id, title, description, severity, numerical_severity, date, \
    mitigation, impact, steps_to_reproduce, severity_justification, refs, url, cwe, vulnerability_ids, \
    cvssv3, cvssv3_score, file_path, line, component_name, component_version, static_finding, \
    dynamic_finding, unique_id_from_tool, vuln_id_from_tool, hash_code, service, nb_occurences, active, \
    verified, false_p, out_of_scope, risk_accepted, under_review, is_mitigated, mitigated, mitigated_by_id, \
    reporter_id, duplicate, sla_start_date, sla_expiration_date, last_status_update, tags";

fn prefixed(columns: &str, alias: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Deep copy: the engagement (new name), its tests, their findings, and every note and file of
/// the three. Duplicate links between copied findings point at the copies.
pub async fn copy(
    conn: &mut AsyncPgConnection,
    id: i32,
    name: Option<String>,
) -> QueryResult<Engagement> {
    use diesel::sql_types::Array;
    let source = get_for_update(conn, id).await?;
    let name = match name {
        Some(n) => n,
        None => copy_name(conn, source.product_id, &source.name).await?,
    };
    let mut sql = Sql::new(&format!(
        "INSERT INTO engagements (name, {ENGAGEMENT_COPY_COLUMNS}) SELECT "
    ));
    sql.bind::<Text, _>(name)
        .push(&format!(
            ", {} FROM engagements e WHERE e.id = ",
            prefixed(ENGAGEMENT_COPY_COLUMNS, "e")
        ))
        .bind::<Integer, _>(id)
        .push(" RETURNING id");
    #[derive(QueryableByName)]
    struct NewId {
        #[diesel(sql_type = Integer)]
        id: i32,
    }
    let new_id = sql.build().get_result::<NewId>(conn).await?.id;

    let (old_tests, new_tests) = reserve_ids(conn, "tests", "engagement_id = ", id).await?;
    let mut sql = Sql::new(&format!(
        "INSERT INTO tests (id, engagement_id, {TEST_COPY_COLUMNS}) SELECT m.new_id, "
    ));
    sql.bind::<Integer, _>(new_id)
        .push(&format!(
            ", {} FROM unnest(",
            prefixed(TEST_COPY_COLUMNS, "t")
        ))
        .bind::<Array<Integer>, _>(old_tests.clone())
        .push(", ")
        .bind::<Array<Integer>, _>(new_tests.clone())
        .push(") AS m(old_id, new_id) JOIN tests t ON t.id = m.old_id");
    sql.build().execute(conn).await?;

    let (old_findings, new_findings) =
        reserve_ids(conn, "findings", "engagement_id = ", id).await?;
    let mut sql = Sql::new(&format!(
        "INSERT INTO findings (id, test_id, engagement_id, duplicate_finding_id, {FINDING_COPY_COLUMNS}) \
         SELECT m.new_id, tm.new_id, "
    ));
    sql.bind::<Integer, _>(new_id)
        .push(&format!(
            ", COALESCE(dm.new_id, f.duplicate_finding_id), {} FROM unnest(",
            prefixed(FINDING_COPY_COLUMNS, "f")
        ))
        .bind::<Array<Integer>, _>(old_findings.clone())
        .push(", ")
        .bind::<Array<Integer>, _>(new_findings.clone())
        .push(") AS m(old_id, new_id) JOIN findings f ON f.id = m.old_id JOIN unnest(")
        .bind::<Array<Integer>, _>(old_tests.clone())
        .push(", ")
        .bind::<Array<Integer>, _>(new_tests.clone())
        .push(") AS tm(old_id, new_id) ON tm.old_id = f.test_id LEFT JOIN unnest(")
        .bind::<Array<Integer>, _>(old_findings.clone())
        .push(", ")
        .bind::<Array<Integer>, _>(new_findings.clone())
        .push(") AS dm(old_id, new_id) ON dm.old_id = f.duplicate_finding_id ORDER BY m.new_id");
    sql.build().execute(conn).await?;

    for table in ["notes", "files"] {
        let columns = if table == "notes" {
            "entry, author_id, private, edited, created, updated"
        } else {
            "title, filename, content_type, size, sha256, content, created"
        };
        let mut sql = Sql::new(&format!(
            "INSERT INTO {table} (engagement_id, test_id, finding_id, {columns}) \
             SELECT CASE WHEN x.engagement_id IS NOT NULL THEN "
        ));
        sql.bind::<Integer, _>(new_id)
            .push(&format!(
                " END, tm.new_id, fm.new_id, {} FROM {table} x LEFT JOIN unnest(",
                prefixed(columns, "x")
            ))
            .bind::<Array<Integer>, _>(old_tests.clone())
            .push(", ")
            .bind::<Array<Integer>, _>(new_tests.clone())
            .push(") AS tm(old_id, new_id) ON tm.old_id = x.test_id LEFT JOIN unnest(")
            .bind::<Array<Integer>, _>(old_findings.clone())
            .push(", ")
            .bind::<Array<Integer>, _>(new_findings.clone())
            .push(") AS fm(old_id, new_id) ON fm.old_id = x.finding_id WHERE x.engagement_id = ")
            .bind::<Integer, _>(id)
            .push(" OR x.test_id = ANY(")
            .bind::<Array<Integer>, _>(old_tests.clone())
            .push(") OR x.finding_id = ANY(")
            .bind::<Array<Integer>, _>(old_findings.clone())
            .push(") ORDER BY x.id");
        sql.build().execute(conn).await?;
    }

    let copy = engagements::table
        .find(new_id)
        .select(Engagement::as_select())
        .get_result(conn)
        .await?;
    created_event(conn, &copy).await?;
    Ok(copy)
}

/// Records `ENGAGEMENT_CREATED`.
async fn created_event(conn: &mut AsyncPgConnection, e: &Engagement) -> QueryResult<()> {
    outbox::record(
        conn,
        &NewEvent::new(
            EventKind::EngagementCreated,
            e.product_id,
            serde_json::json!({}),
        )
        .engagement(e.id),
    )
    .await
}

/// Records `ENGAGEMENT_STATUS_CHANGED` when the status differs.
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
    outbox::record(
        conn,
        &NewEvent::new(
            EventKind::EngagementStatusChanged,
            after.product_id,
            payload,
        )
        .engagement(after.id),
    )
    .await
}

#[derive(QueryableByName)]
struct Touched {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Integer)]
    product_id: i32,
}

/// The overdue rule of `domain::is_overdue` on `today` (bound as `$1`), in SQL.
const OVERDUE_ON: &str = "status NOT IN ('COMPLETED', 'CANCELLED') AND target_end < \
     $1::date - CASE WHEN engagement_type = 'CI_CD' THEN 10 ELSE 0 END";

/// Records `ENGAGEMENT_OVERDUE` for every engagement that is overdue on `today` and was not
/// announced yet, and forgets the announcement of those no longer overdue (so they are
/// announced again if they become overdue again). Returns how many were announced.
pub async fn announce_overdue(
    conn: &mut AsyncPgConnection,
    today: NaiveDate,
) -> QueryResult<usize> {
    diesel::sql_query(format!(
        "UPDATE engagements SET overdue_notified_at = NULL \
         WHERE overdue_notified_at IS NOT NULL AND NOT ({OVERDUE_ON})"
    ))
    .bind::<diesel::sql_types::Date, _>(today)
    .execute(conn)
    .await?;
    let overdue: Vec<Touched> = diesel::sql_query(format!(
        "UPDATE engagements SET overdue_notified_at = now() \
         WHERE overdue_notified_at IS NULL AND {OVERDUE_ON} RETURNING id, product_id"
    ))
    .bind::<diesel::sql_types::Date, _>(today)
    .load(conn)
    .await?;
    for e in &overdue {
        outbox::record(
            conn,
            &NewEvent::new(
                EventKind::EngagementOverdue,
                e.product_id,
                serde_json::json!({}),
            )
            .engagement(e.id),
        )
        .await?;
    }
    Ok(overdue.len())
}

/// Closes IN_PROGRESS engagements whose target end is more than `days` days before `today`,
/// recording `ENGAGEMENT_STATUS_CHANGED` with reason AUTO_CLOSED for each. Returns how many.
pub async fn auto_close(
    conn: &mut AsyncPgConnection,
    today: NaiveDate,
    days: i32,
) -> QueryResult<usize> {
    let closed: Vec<Touched> = diesel::sql_query(
        "UPDATE engagements SET status = 'COMPLETED', active = FALSE, updated = now() \
         WHERE status = 'IN_PROGRESS' AND target_end < $1::date - $2 RETURNING id, product_id",
    )
    .bind::<diesel::sql_types::Date, _>(today)
    .bind::<Integer, _>(days)
    .load(conn)
    .await?;
    for e in &closed {
        let payload = StatusChanged {
            old_status: EngagementStatus::InProgress,
            new_status: EngagementStatus::Completed,
            reason: events::StatusChangeReason::AutoClosed,
        };
        outbox::record(
            conn,
            &NewEvent::new(EventKind::EngagementStatusChanged, e.product_id, payload)
                .engagement(e.id),
        )
        .await?;
    }
    Ok(closed.len())
}
