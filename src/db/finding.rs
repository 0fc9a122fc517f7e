//! Findings: rows, inserts, changes, the SLA deadline statement and queries. The status and
//! duplicate rules and the change events live in `service::lifecycle::finding`.

use super::page::SortKey;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::{
    prelude::*,
    sql_types::{Array, Bool, Integer, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    page::Listed,
    schema::findings,
    sql::{Sql, SqlFilter, like_pattern},
};
use crate::domain::{
    Severity,
    finding_status::Status,
    ids::{EngagementId, FindingId, ProductId, ProductTypeId, SlaConfigurationId, TestId, UserId},
};

/// Longest title (`findings.title` is `VARCHAR(511)`).
pub const TITLE_MAX: usize = 511;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = findings, check_for_backend(diesel::pg::Pg))]
pub struct Finding {
    pub id: FindingId,
    pub test_id: TestId,
    pub engagement_id: EngagementId,
    pub product_id: ProductId,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub numerical_severity: String,
    pub date: NaiveDate,
    pub mitigation: Option<String>,
    pub impact: Option<String>,
    pub steps_to_reproduce: Option<String>,
    pub severity_justification: Option<String>,
    pub refs: Option<String>,
    pub url: Option<String>,
    pub cwe: Option<i32>,
    pub vulnerability_ids: Vec<Option<String>>,
    pub cvssv3: Option<String>,
    pub cvssv3_score: Option<f64>,
    pub file_path: Option<String>,
    pub line: Option<i32>,
    pub component_name: Option<String>,
    pub component_version: Option<String>,
    pub static_finding: bool,
    pub dynamic_finding: bool,
    pub unique_id_from_tool: Option<String>,
    pub vuln_id_from_tool: Option<String>,
    pub hash_code: Option<String>,
    pub service: Option<String>,
    pub nb_occurences: Option<i32>,
    pub active: bool,
    pub verified: bool,
    pub false_p: bool,
    pub out_of_scope: bool,
    pub risk_accepted: bool,
    pub under_review: bool,
    pub is_mitigated: bool,
    pub mitigated: Option<DateTime<Utc>>,
    pub mitigated_by_id: Option<UserId>,
    pub reporter_id: Option<UserId>,
    pub duplicate: bool,
    pub duplicate_finding_id: Option<FindingId>,
    pub sla_start_date: Option<NaiveDate>,
    pub sla_expiration_date: Option<NaiveDate>,
    pub last_status_update: DateTime<Utc>,
    pub tags: Vec<Option<String>>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub param: Option<String>,
    pub payload: Option<String>,
    pub cwes: Vec<Option<i32>>,
    pub cvssv4: Option<String>,
    pub cvssv4_score: Option<f64>,
    pub scanner_confidence: Option<i32>,
    pub fix_available: Option<bool>,
    pub fix_version: Option<String>,
    pub epss_score: Option<f64>,
    pub epss_percentile: Option<f64>,
    pub known_exploited: bool,
    pub publish_date: Option<NaiveDate>,
}

impl Finding {
    pub fn status(&self) -> Status {
        Status {
            active: self.active,
            verified: self.verified,
            false_p: self.false_p,
            out_of_scope: self.out_of_scope,
            risk_accepted: self.risk_accepted,
            under_review: self.under_review,
            is_mitigated: self.is_mitigated,
            mitigated: self.mitigated,
            duplicate: self.duplicate,
        }
    }
}

/// The descriptive part of a new finding; the service adds parents and status ([`NewFinding`]).
#[derive(Debug, Clone, Default)]
pub struct FindingFields {
    pub title: String,
    pub description: String,
    pub severity: Option<Severity>,
    pub date: Option<NaiveDate>,
    pub mitigation: Option<String>,
    pub impact: Option<String>,
    pub steps_to_reproduce: Option<String>,
    pub severity_justification: Option<String>,
    pub refs: Option<String>,
    pub url: Option<String>,
    pub cwe: Option<i32>,
    pub vulnerability_ids: Vec<String>,
    pub cvssv3: Option<String>,
    pub cvssv3_score: Option<f64>,
    pub file_path: Option<String>,
    pub line: Option<i32>,
    pub component_name: Option<String>,
    pub component_version: Option<String>,
    pub unique_id_from_tool: Option<String>,
    pub vuln_id_from_tool: Option<String>,
    pub hash_code: Option<String>,
    pub service: Option<String>,
    pub nb_occurences: Option<i32>,
    pub reporter_id: Option<UserId>,
    pub sla_start_date: Option<NaiveDate>,
    pub tags: Vec<String>,
}

/// A finding to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = findings)]
pub struct NewFinding {
    pub test_id: TestId,
    pub engagement_id: EngagementId,
    pub product_id: ProductId,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub numerical_severity: String,
    pub date: NaiveDate,
    pub mitigation: Option<String>,
    pub impact: Option<String>,
    pub steps_to_reproduce: Option<String>,
    pub severity_justification: Option<String>,
    pub refs: Option<String>,
    pub url: Option<String>,
    pub cwe: Option<i32>,
    pub vulnerability_ids: Vec<String>,
    pub cvssv3: Option<String>,
    pub cvssv3_score: Option<f64>,
    pub file_path: Option<String>,
    pub line: Option<i32>,
    pub component_name: Option<String>,
    pub component_version: Option<String>,
    pub static_finding: bool,
    pub dynamic_finding: bool,
    pub unique_id_from_tool: Option<String>,
    pub vuln_id_from_tool: Option<String>,
    pub hash_code: Option<String>,
    pub service: Option<String>,
    pub nb_occurences: Option<i32>,
    pub active: bool,
    pub verified: bool,
    pub false_p: bool,
    pub out_of_scope: bool,
    pub risk_accepted: bool,
    pub under_review: bool,
    pub is_mitigated: bool,
    pub mitigated: Option<DateTime<Utc>>,
    pub reporter_id: Option<UserId>,
    pub duplicate: bool,
    pub sla_start_date: Option<NaiveDate>,
    pub tags: Vec<String>,
}

/// Changes to a finding's descriptive fields (status goes through [`StatusColumns`]).
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = findings)]
pub struct FindingChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<Severity>,
    pub numerical_severity: Option<String>,
    pub date: Option<NaiveDate>,
    pub mitigation: Option<Option<String>>,
    pub impact: Option<Option<String>>,
    pub steps_to_reproduce: Option<Option<String>>,
    pub severity_justification: Option<Option<String>>,
    pub refs: Option<Option<String>>,
    pub url: Option<Option<String>>,
    pub cwe: Option<Option<i32>>,
    pub vulnerability_ids: Option<Vec<String>>,
    pub cvssv3: Option<Option<String>>,
    pub cvssv3_score: Option<Option<f64>>,
    pub file_path: Option<Option<String>>,
    pub line: Option<Option<i32>>,
    pub component_name: Option<Option<String>>,
    pub component_version: Option<Option<String>>,
    pub unique_id_from_tool: Option<Option<String>>,
    pub vuln_id_from_tool: Option<Option<String>>,
    pub service: Option<Option<String>>,
    pub sla_start_date: Option<Option<NaiveDate>>,
    pub tags: Option<Vec<String>>,
    pub updated: Option<DateTime<Utc>>,
}

/// Status columns written together (after `domain::finding_status::apply`).
#[derive(Debug, AsChangeset)]
#[diesel(table_name = findings, treat_none_as_null = true)]
pub struct StatusColumns {
    pub active: bool,
    pub verified: bool,
    pub false_p: bool,
    pub out_of_scope: bool,
    pub risk_accepted: bool,
    pub under_review: bool,
    pub is_mitigated: bool,
    pub mitigated: Option<DateTime<Utc>>,
    pub duplicate: bool,
    pub duplicate_finding_id: Option<FindingId>,
    pub last_status_update: DateTime<Utc>,
}

impl StatusColumns {
    /// `status`, its duplicate link and the time of the change.
    pub fn new(status: Status, duplicate_of: Option<FindingId>, now: DateTime<Utc>) -> Self {
        Self {
            active: status.active,
            verified: status.verified,
            false_p: status.false_p,
            out_of_scope: status.out_of_scope,
            risk_accepted: status.risk_accepted,
            under_review: status.under_review,
            is_mitigated: status.is_mitigated,
            mitigated: status.mitigated,
            duplicate: status.duplicate,
            duplicate_finding_id: duplicate_of,
            last_status_update: now,
        }
    }
}

/// SQL for "open and past its SLA deadline today" (reference §5, `outside_of_sla`). Never NULL
/// (a finding without a deadline is simply not breached), so `NOT (…)` selects every other finding.
pub const SLA_BREACHED_SQL: &str = "(t.active AND NOT t.false_p AND NOT t.duplicate AND NOT t.out_of_scope \
     AND NOT t.risk_accepted AND NOT t.is_mitigated AND t.sla_expiration_date IS NOT NULL \
     AND t.sla_expiration_date < CURRENT_DATE)";

/// Filter for finding lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FindingFilter {
    pub severity: Vec<Severity>,
    pub active: Option<bool>,
    pub verified: Option<bool>,
    pub duplicate: Option<bool>,
    pub false_p: Option<bool>,
    pub out_of_scope: Option<bool>,
    pub risk_accepted: Option<bool>,
    pub is_mitigated: Option<bool>,
    pub product_type_id: Option<ProductTypeId>,
    pub product_id: Option<ProductId>,
    /// Any of these products.
    pub product_ids: Option<Vec<ProductId>>,
    pub engagement_id: Option<EngagementId>,
    pub test_id: Option<TestId>,
    pub cwe: Option<i32>,
    pub vulnerability_id: Option<String>,
    pub component_name: Option<String>,
    pub title_contains: Option<String>,
    pub sla_breached: Option<bool>,
    pub hash_code: Option<String>,
    pub unique_id_from_tool: Option<String>,
    pub tags: Vec<String>,
}

impl SqlFilter for FindingFilter {
    fn push_conditions(&self, sql: &mut Sql) {
        if !self.severity.is_empty() {
            let v: Vec<String> = self
                .severity
                .iter()
                .map(|s| s.as_str().to_string())
                .collect();
            sql.push(" AND t.severity = ANY(")
                .bind::<Array<Text>, _>(v)
                .push(")");
        }
        for (column, flag) in [
            ("t.active = ", self.active),
            ("t.verified = ", self.verified),
            ("t.duplicate = ", self.duplicate),
            ("t.false_p = ", self.false_p),
            ("t.out_of_scope = ", self.out_of_scope),
            ("t.risk_accepted = ", self.risk_accepted),
            ("t.is_mitigated = ", self.is_mitigated),
        ] {
            if let Some(v) = flag {
                sql.and::<Bool, _>(column, v);
            }
        }
        if let Some(v) = self.product_type_id {
            sql.push(" AND t.product_id IN (SELECT id FROM products WHERE product_type_id = ")
                .bind::<Integer, _>(v)
                .push(")");
        }
        if let Some(v) = self.product_id {
            sql.and::<Integer, _>("t.product_id = ", v);
        }
        if let Some(v) = &self.product_ids {
            let v: Vec<i32> = v.iter().map(|id| id.get()).collect();
            sql.push(" AND t.product_id = ANY(")
                .bind::<Array<Integer>, _>(v)
                .push(")");
        }
        if let Some(v) = self.engagement_id {
            sql.and::<Integer, _>("t.engagement_id = ", v);
        }
        if let Some(v) = self.test_id {
            sql.and::<Integer, _>("t.test_id = ", v);
        }
        if let Some(v) = self.cwe {
            sql.and::<Integer, _>("t.cwe = ", v);
        }
        if let Some(v) = &self.vulnerability_id {
            sql.and::<Array<Text>, _>("t.vulnerability_ids @> ", vec![v.clone()]);
        }
        if let Some(v) = &self.component_name {
            sql.and::<Text, _>("t.component_name = ", v.clone());
        }
        if let Some(v) = &self.title_contains {
            sql.and::<Text, _>("t.title ILIKE ", like_pattern(v));
        }
        match self.sla_breached {
            Some(true) => {
                sql.push(" AND ").push(SLA_BREACHED_SQL);
            }
            Some(false) => {
                sql.push(" AND NOT ").push(SLA_BREACHED_SQL);
            }
            None => {}
        }
        if let Some(v) = &self.hash_code {
            sql.and::<Text, _>("t.hash_code = ", v.clone());
        }
        if let Some(v) = &self.unique_id_from_tool {
            sql.and::<Text, _>("t.unique_id_from_tool = ", v.clone());
        }
        if !self.tags.is_empty() {
            sql.and::<Array<Text>, _>("t.tags @> ", self.tags.clone());
        }
    }
}

/// Sort keys of finding lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FindingOrder {
    #[default]
    Id,
    /// Most severe first when ascending.
    Severity,
    Date,
    Title,
    SlaExpirationDate,
    Created,
    Updated,
}

super::page::list_parent!(
    /// What a nested list of findings belongs to (`Product.findings`, `Engagement.findings`,
    /// `Test.findings`, and `Finding.duplicates`: the findings that duplicate one original).
    FindingParent {
        Product(ProductId) => "t.product_id",
        Engagement(EngagementId) => "t.engagement_id",
        Test(TestId) => "t.test_id",
        DuplicatesOf(FindingId) => "t.duplicate_finding_id",
    }
);

impl Listed for Finding {
    type Parent = FindingParent;
    type Id = FindingId;
    fn row_id(&self) -> FindingId {
        self.id
    }
    const FROM: &'static str = "findings t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Product("t.product_id");
    /// Everything but the ids (a list of ids, titles and severities reads a sixth of the row).
    const PLACEHOLDERS: &'static [(&'static str, &'static str)] = &[
        ("title", "''"),
        ("description", "''"),
        ("severity", "'INFO'"),
        ("numerical_severity", "''"),
        ("date", "DATE '2000-01-01'"),
        ("mitigation", "NULL"),
        ("impact", "NULL"),
        ("steps_to_reproduce", "NULL"),
        ("severity_justification", "NULL"),
        ("refs", "NULL"),
        ("url", "NULL"),
        ("cwe", "NULL"),
        ("vulnerability_ids", "'{}'::text[]"),
        ("cvssv3", "NULL"),
        ("cvssv3_score", "NULL"),
        ("file_path", "NULL"),
        ("line", "NULL"),
        ("component_name", "NULL"),
        ("component_version", "NULL"),
        ("static_finding", "FALSE"),
        ("dynamic_finding", "FALSE"),
        ("unique_id_from_tool", "NULL"),
        ("vuln_id_from_tool", "NULL"),
        ("hash_code", "NULL"),
        ("service", "NULL"),
        ("nb_occurences", "NULL"),
        ("active", "FALSE"),
        ("verified", "FALSE"),
        ("false_p", "FALSE"),
        ("out_of_scope", "FALSE"),
        ("risk_accepted", "FALSE"),
        ("under_review", "FALSE"),
        ("is_mitigated", "FALSE"),
        ("mitigated", "NULL"),
        ("mitigated_by_id", "NULL"),
        ("reporter_id", "NULL"),
        ("duplicate", "FALSE"),
        ("duplicate_finding_id", "NULL"),
        ("sla_start_date", "NULL"),
        ("sla_expiration_date", "NULL"),
        ("last_status_update", "TIMESTAMPTZ 'epoch'"),
        ("tags", "'{}'::text[]"),
        ("created", "TIMESTAMPTZ 'epoch'"),
        ("updated", "TIMESTAMPTZ 'epoch'"),
        ("param", "NULL"),
        ("payload", "NULL"),
        ("cwes", "'{}'::int4[]"),
        ("cvssv4", "NULL"),
        ("cvssv4_score", "NULL"),
        ("scanner_confidence", "NULL"),
        ("fix_available", "NULL"),
        ("fix_version", "NULL"),
        ("epss_score", "NULL"),
        ("epss_percentile", "NULL"),
        ("known_exploited", "FALSE"),
        ("publish_date", "NULL"),
    ];
    type Filter = FindingFilter;
    type Order = FindingOrder;
    fn sort_key(order: FindingOrder) -> SortKey {
        match order {
            FindingOrder::Id => SortKey::ID,
            FindingOrder::Severity => SortKey::text("t.numerical_severity"),
            FindingOrder::Date => SortKey::date("t.date"),
            FindingOrder::Title => SortKey::text("lower(t.title)"),
            FindingOrder::SlaExpirationDate => SortKey::date("t.sla_expiration_date").nullable(),
            FindingOrder::Created => SortKey::timestamp("t.created"),
            FindingOrder::Updated => SortKey::timestamp("t.updated"),
        }
    }

    /// Active findings filtered by nothing but severity and where they are: a sum of
    /// `finding_counts` or, without a test or engagement, `product_finding_counts` (both kept by
    /// triggers), whose rows number the tests or products, not the findings.
    fn fast_total(filter: &FindingFilter, viewer: super::authz::Viewer) -> Option<Sql> {
        let FindingFilter {
            severity,
            active: Some(true),
            verified: None,
            duplicate: None,
            false_p: None,
            out_of_scope: None,
            risk_accepted: None,
            is_mitigated: None,
            product_type_id,
            product_id,
            product_ids,
            engagement_id,
            test_id,
            cwe: None,
            vulnerability_id: None,
            component_name: None,
            title_contains: None,
            sla_breached: None,
            hash_code: None,
            unique_id_from_tool: None,
            tags,
        } = filter
        else {
            return None;
        };
        if !tags.is_empty() {
            return None;
        }
        // Without a test or engagement, the per-product rows are enough (and far fewer).
        let table = if engagement_id.is_none() && test_id.is_none() {
            "product_finding_counts"
        } else {
            "finding_counts"
        };
        let mut sql = Sql::new(&format!(
            "SELECT COALESCE(sum(c.active), 0)::bigint AS n FROM {table} c WHERE TRUE"
        ));
        if !severity.is_empty() {
            let v: Vec<String> = severity.iter().map(|s| s.as_str().to_string()).collect();
            sql.push(" AND c.severity = ANY(")
                .bind::<Array<Text>, _>(v)
                .push(")");
        }
        if let Some(v) = product_type_id {
            sql.push(" AND c.product_id IN (SELECT id FROM products WHERE product_type_id = ")
                .bind::<Integer, _>(*v)
                .push(")");
        }
        if let Some(v) = product_id {
            sql.and::<Integer, _>("c.product_id = ", *v);
        }
        if let Some(v) = product_ids {
            let v: Vec<i32> = v.iter().map(|id| id.get()).collect();
            sql.push(" AND c.product_id = ANY(")
                .bind::<Array<Integer>, _>(v)
                .push(")");
        }
        if let Some(v) = engagement_id {
            sql.and::<Integer, _>("c.engagement_id = ", *v);
        }
        if let Some(v) = test_id {
            sql.and::<Integer, _>("c.test_id = ", *v);
        }
        super::authz::push_visible(
            &mut sql,
            super::authz::Scope::Product("c.product_id"),
            viewer,
        );
        Some(sql)
    }
}

/// Which findings get their SLA deadline recomputed.
#[derive(Debug, Clone)]
pub enum SlaScope {
    Product(ProductId),
    Engagement(EngagementId),
    Test(TestId),
    SlaConfiguration(SlaConfigurationId),
    Findings(Vec<FindingId>),
}

/// Recomputes `sla_expiration_date` = (SLA start or discovery date) + the enforced days for the
/// severity in the product's SLA configuration (NULL for Info and unenforced severities): the rule
/// of `domain::sla::SlaPolicy::expiration`, for many findings in one statement (the integration
/// test `lifecycle::sla_deadlines_in_sql_match_the_rust_rule` keeps the two forms equal). Which
/// writes call it is the service's business (a severity or date change, a move to another
/// product, a product's new SLA configuration).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn recompute_sla(conn: &mut AsyncPgConnection, scope: SlaScope) -> QueryResult<usize> {
    let mut sql = Sql::new(
        "UPDATE findings f SET sla_expiration_date = COALESCE(f.sla_start_date, f.date) + (CASE f.severity \
         WHEN 'CRITICAL' THEN CASE WHEN s.enforce_critical THEN s.critical END \
         WHEN 'HIGH' THEN CASE WHEN s.enforce_high THEN s.high END \
         WHEN 'MEDIUM' THEN CASE WHEN s.enforce_medium THEN s.medium END \
         WHEN 'LOW' THEN CASE WHEN s.enforce_low THEN s.low END END) \
         FROM products p JOIN sla_configurations s ON s.id = p.sla_configuration_id \
         WHERE f.product_id = p.id AND ",
    );
    match scope {
        SlaScope::Product(id) => sql.push("p.id = ").bind::<Integer, _>(id),
        SlaScope::Engagement(id) => sql.push("f.engagement_id = ").bind::<Integer, _>(id),
        SlaScope::Test(id) => sql.push("f.test_id = ").bind::<Integer, _>(id),
        SlaScope::SlaConfiguration(id) => sql.push("s.id = ").bind::<Integer, _>(id),
        SlaScope::Findings(ids) => sql
            .push("f.id = ANY(")
            .bind::<Array<Integer>, _>(ids)
            .push(")"),
    };
    Ok(sql.build().execute(conn).await?)
}

/// Inserts a finding; returns its id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(conn: &mut AsyncPgConnection, new: &NewFinding) -> QueryResult<FindingId> {
    Ok(diesel::insert_into(findings::table)
        .values(new)
        .returning(findings::id)
        .get_result(conn)
        .await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(conn: &mut AsyncPgConnection, id: FindingId) -> QueryResult<Finding> {
    Ok(findings::table
        .find(id)
        .select(Finding::as_select())
        .get_result(conn)
        .await?)
}

/// Locks finding `id`, `also` (when given) and the findings that duplicate `duplicates_of`
/// (when given), all in id order: concurrent writers of overlapping sets serialize instead of
/// deadlocking.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock_in_order(
    conn: &mut AsyncPgConnection,
    id: FindingId,
    also: Option<FindingId>,
    duplicates_of: Option<FindingId>,
) -> QueryResult<()> {
    let _: Vec<FindingId> = findings::table
        .filter(
            findings::id
                .eq(id)
                .or(findings::id.nullable().eq(also))
                .or(findings::duplicate_finding_id.eq(duplicates_of)),
        )
        .order(findings::id)
        .select(findings::id)
        .for_update()
        .load(conn)
        .await?;
    Ok(())
}

/// The product of a finding and whether it is a duplicate; `None` when it does not exist.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn product_and_duplicate(
    conn: &mut AsyncPgConnection,
    id: FindingId,
) -> QueryResult<Option<(ProductId, bool)>> {
    Ok(findings::table
        .find(id)
        .select((findings::product_id, findings::duplicate))
        .first(conn)
        .await
        .optional()?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: FindingId,
    changes: &FindingChanges,
) -> QueryResult<()> {
    diesel::update(findings::table.find(id))
        .set(changes)
        .execute(conn)
        .await?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: FindingId,
    columns: &StatusColumns,
) -> QueryResult<()> {
    diesel::update(findings::table.find(id))
        .set(columns)
        .execute(conn)
        .await?;
    Ok(())
}

/// Points the duplicates of `from` at `to`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn repoint_duplicates(
    conn: &mut AsyncPgConnection,
    from: FindingId,
    to: FindingId,
) -> QueryResult<()> {
    diesel::update(findings::table.filter(findings::duplicate_finding_id.eq(from)))
        .set(findings::duplicate_finding_id.eq(to))
        .execute(conn)
        .await?;
    Ok(())
}
