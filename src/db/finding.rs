//! Findings: rows, inserts, changes, SLA deadline maintenance and queries.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{
    prelude::*,
    sql_types::{Array, Bool, Integer, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::domain::events::{EventKind, FieldChange, FindingChanged, FindingCreated, NewEvent};

use super::{
    DbError, QueryResult,
    page::Listed,
    schema::findings,
    sql::{Sql, SqlFilter, like_pattern},
    test,
};
use crate::domain::{
    Severity,
    finding_status::{self, Status, StatusChange},
};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = findings, check_for_backend(diesel::pg::Pg))]
pub struct Finding {
    pub id: i32,
    pub test_id: i32,
    pub engagement_id: i32,
    pub product_id: i32,
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
    pub mitigated_by_id: Option<i32>,
    pub reporter_id: Option<i32>,
    pub duplicate: bool,
    pub duplicate_finding_id: Option<i32>,
    pub sla_start_date: Option<NaiveDate>,
    pub sla_expiration_date: Option<NaiveDate>,
    pub last_status_update: DateTime<Utc>,
    pub tags: Vec<Option<String>>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
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

/// The descriptive part of a new finding; status and parents are set by [`create`].
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
    pub reporter_id: Option<i32>,
    pub sla_start_date: Option<NaiveDate>,
    pub tags: Vec<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = findings)]
struct NewFinding {
    test_id: i32,
    engagement_id: i32,
    product_id: i32,
    title: String,
    description: String,
    severity: Severity,
    numerical_severity: String,
    date: NaiveDate,
    mitigation: Option<String>,
    impact: Option<String>,
    steps_to_reproduce: Option<String>,
    severity_justification: Option<String>,
    refs: Option<String>,
    url: Option<String>,
    cwe: Option<i32>,
    vulnerability_ids: Vec<String>,
    cvssv3: Option<String>,
    cvssv3_score: Option<f64>,
    file_path: Option<String>,
    line: Option<i32>,
    component_name: Option<String>,
    component_version: Option<String>,
    static_finding: bool,
    dynamic_finding: bool,
    unique_id_from_tool: Option<String>,
    vuln_id_from_tool: Option<String>,
    hash_code: Option<String>,
    service: Option<String>,
    nb_occurences: Option<i32>,
    active: bool,
    verified: bool,
    false_p: bool,
    out_of_scope: bool,
    risk_accepted: bool,
    under_review: bool,
    is_mitigated: bool,
    mitigated: Option<DateTime<Utc>>,
    reporter_id: Option<i32>,
    duplicate: bool,
    sla_start_date: Option<NaiveDate>,
    tags: Vec<String>,
}

/// Changes to a finding's descriptive fields (status goes through [`StatusChange`]).
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

/// Status columns written together after [`finding_status::apply`].
#[derive(Debug, AsChangeset)]
#[diesel(table_name = findings, treat_none_as_null = true)]
struct StatusColumns {
    active: bool,
    verified: bool,
    false_p: bool,
    out_of_scope: bool,
    risk_accepted: bool,
    under_review: bool,
    is_mitigated: bool,
    mitigated: Option<DateTime<Utc>>,
    duplicate: bool,
    duplicate_finding_id: Option<i32>,
    last_status_update: DateTime<Utc>,
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
    pub product_type_id: Option<i32>,
    pub product_id: Option<i32>,
    pub engagement_id: Option<i32>,
    pub test_id: Option<i32>,
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
        for (column, id) in [
            ("t.product_id = ", self.product_id),
            ("t.engagement_id = ", self.engagement_id),
            ("t.test_id = ", self.test_id),
            ("t.cwe = ", self.cwe),
        ] {
            if let Some(v) = id {
                sql.and::<Integer, _>(column, v);
            }
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

impl Listed for Finding {
    const FROM: &'static str = "findings t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Product("t.product_id");
    type Filter = FindingFilter;
    type Order = FindingOrder;
    fn order_column(order: FindingOrder) -> &'static str {
        match order {
            FindingOrder::Id => "t.id",
            FindingOrder::Severity => "t.numerical_severity",
            FindingOrder::Date => "t.date",
            FindingOrder::Title => "lower(t.title)",
            FindingOrder::SlaExpirationDate => "t.sla_expiration_date",
            FindingOrder::Created => "t.created",
            FindingOrder::Updated => "t.updated",
        }
    }
}

/// Which findings get their SLA deadline recomputed.
#[derive(Debug, Clone)]
pub enum SlaScope {
    Product(i32),
    Engagement(i32),
    Test(i32),
    SlaConfiguration(i32),
    Findings(Vec<i32>),
}

/// Recomputes `sla_expiration_date` = (SLA start or discovery date) + the enforced days for the
/// severity in the product's SLA configuration (NULL for Info and unenforced severities). The same
/// rule as `domain::sla::SlaPolicy::expiration`, in one statement.
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

/// Creates a finding in a test whose engagement is not COMPLETED; `status` is applied to a new
/// finding's defaults (active) by the status rules. Its SLA deadline is computed in the same
/// transaction.
pub async fn create(
    conn: &mut AsyncPgConnection,
    test_id: i32,
    fields: FindingFields,
    status: StatusChange,
) -> QueryResult<Finding> {
    let (engagement_id, product_id) = test::open_for_findings(conn, test_id).await?;
    let now = Utc::now();
    let s =
        finding_status::apply(Status::default(), status, now).map_err(|e| DbError::Rule(e.0))?;
    if s.duplicate {
        return Err(DbError::Rule(
            "set duplicateOfId on an existing finding to mark it a duplicate".into(),
        ));
    }
    let severity = fields.severity.unwrap_or(Severity::Info);
    let is_static = fields.file_path.is_some();
    let new = NewFinding {
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
    };
    let id: i32 = diesel::insert_into(findings::table)
        .values(&new)
        .returning(findings::id)
        .get_result(conn)
        .await?;
    recompute_sla(conn, SlaScope::Findings(vec![id])).await?;
    let finding = get(conn, id).await?;
    super::outbox::record(
        conn,
        &NewEvent::new(
            EventKind::FindingCreated,
            product_id,
            FindingCreated { severity },
        )
        .engagement(engagement_id)
        .test(test_id)
        .finding(id),
    )
    .await?;
    Ok(finding)
}

pub async fn get(conn: &mut AsyncPgConnection, id: i32) -> QueryResult<Finding> {
    Ok(findings::table
        .find(id)
        .select(Finding::as_select())
        .get_result(conn)
        .await?)
}

/// What `duplicateOfId` asks for in an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateOf {
    Keep,
    Clear,
    Set(i32),
}

/// Updates a finding: descriptive `changes`, then `status` through the status rules, then the
/// duplicate link. A finding can only duplicate an original (non-duplicate) finding of the same
/// product; findings that pointed at it are re-pointed to its original (chains stay one deep).
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: i32,
    mut changes: FindingChanges,
    mut status: StatusChange,
    duplicate_of: DuplicateOf,
) -> QueryResult<Finding> {
    // Lock the finding and, when it is to become a duplicate, its new original and the findings
    // that will be re-pointed, all in id order: concurrent "A dup of B" / "B dup of C" then
    // serialize (no chain is left behind), and crossing requests ("A dup of B" / "B dup of A")
    // cannot deadlock.
    let (target, repointed) = match duplicate_of {
        DuplicateOf::Set(target) => (Some(target), Some(id)),
        DuplicateOf::Keep | DuplicateOf::Clear => (None, None),
    };
    let _: Vec<i32> = findings::table
        .filter(
            findings::id
                .eq(id)
                .or(findings::id.nullable().eq(target))
                .or(findings::duplicate_finding_id.eq(repointed)),
        )
        .order(findings::id)
        .select(findings::id)
        .for_update()
        .load(conn)
        .await?;
    let current: Finding = findings::table
        .find(id)
        .select(Finding::as_select())
        .get_result(conn)
        .await?;
    let now = Utc::now();
    let mut original = current.duplicate_finding_id;
    match duplicate_of {
        DuplicateOf::Keep => {}
        DuplicateOf::Clear => {
            original = None;
            status.duplicate = Some(false);
        }
        DuplicateOf::Set(target) => {
            if target == id {
                return Err(DbError::Rule("a finding cannot duplicate itself".into()));
            }
            let other: Option<(i32, bool)> = findings::table
                .find(target)
                .select((findings::product_id, findings::duplicate))
                .first(conn)
                .await
                .optional()?;
            match other {
                Some((product, _)) if product != current.product_id => {
                    return Err(DbError::Rule(
                        "duplicateOfId must be a finding of the same product".into(),
                    ));
                }
                Some((_, true)) => {
                    return Err(DbError::Rule(
                        "duplicateOfId must not itself be a duplicate".into(),
                    ));
                }
                Some(_) => {}
                None => return Err(DbError::ParentNotFound("duplicate-of finding")),
            }
            original = Some(target);
            status.duplicate = Some(true);
        }
    }
    if changes.severity.is_some() {
        changes.numerical_severity = changes.severity.map(|s| s.numerical().to_string());
    }
    let sla_inputs_changed =
        changes.severity.is_some() || changes.date.is_some() || changes.sla_start_date.is_some();
    changes.updated = Some(now);
    diesel::update(findings::table.find(id))
        .set(&changes)
        .execute(conn)
        .await?;

    let next =
        finding_status::apply(current.status(), status, now).map_err(|e| DbError::Rule(e.0))?;
    if next != current.status() || original != current.duplicate_finding_id {
        let columns = StatusColumns {
            active: next.active,
            verified: next.verified,
            false_p: next.false_p,
            out_of_scope: next.out_of_scope,
            risk_accepted: next.risk_accepted,
            under_review: next.under_review,
            is_mitigated: next.is_mitigated,
            mitigated: next.mitigated,
            duplicate: next.duplicate,
            duplicate_finding_id: if next.duplicate { original } else { None },
            last_status_update: now,
        };
        diesel::update(findings::table.find(id))
            .set(&columns)
            .execute(conn)
            .await?;
        if let (true, Some(o)) = (next.duplicate, original) {
            diesel::update(findings::table.filter(findings::duplicate_finding_id.eq(id)))
                .set(findings::duplicate_finding_id.eq(o))
                .execute(conn)
                .await?;
        }
    }
    if sla_inputs_changed {
        recompute_sla(conn, SlaScope::Findings(vec![id])).await?;
    }
    let after = get(conn, id).await?;
    if let Some(event) = change_event(&current, &after) {
        super::outbox::record(conn, &event).await?;
    }
    Ok(after)
}

/// The `FINDING_CHANGED` event between two versions of a finding, if anything a subscriber sees
/// changed: every changed field by name, with old and new values for severity and the status
/// flags.
pub fn change_event(before: &Finding, after: &Finding) -> Option<NewEvent> {
    use serde_json::json;
    let mut changes = Vec::new();
    let mut valued = |field: &str, old: serde_json::Value, new: serde_json::Value| {
        if old != new {
            changes.push(FieldChange {
                field: field.into(),
                old: Some(old),
                new: Some(new),
            });
        }
    };
    valued("severity", json!(before.severity), json!(after.severity));
    valued("active", json!(before.active), json!(after.active));
    valued("verified", json!(before.verified), json!(after.verified));
    valued("falsePositive", json!(before.false_p), json!(after.false_p));
    valued(
        "outOfScope",
        json!(before.out_of_scope),
        json!(after.out_of_scope),
    );
    valued(
        "riskAccepted",
        json!(before.risk_accepted),
        json!(after.risk_accepted),
    );
    valued(
        "underReview",
        json!(before.under_review),
        json!(after.under_review),
    );
    valued(
        "isMitigated",
        json!(before.is_mitigated),
        json!(after.is_mitigated),
    );
    valued("duplicate", json!(before.duplicate), json!(after.duplicate));
    let named = [
        ("title", before.title != after.title),
        ("description", before.description != after.description),
        ("date", before.date != after.date),
        ("mitigation", before.mitigation != after.mitigation),
        ("impact", before.impact != after.impact),
        (
            "stepsToReproduce",
            before.steps_to_reproduce != after.steps_to_reproduce,
        ),
        (
            "severityJustification",
            before.severity_justification != after.severity_justification,
        ),
        ("references", before.refs != after.refs),
        ("url", before.url != after.url),
        ("cwe", before.cwe != after.cwe),
        (
            "vulnerabilityIds",
            before.vulnerability_ids != after.vulnerability_ids,
        ),
        ("cvssv3", before.cvssv3 != after.cvssv3),
        ("cvssv3Score", before.cvssv3_score != after.cvssv3_score),
        ("filePath", before.file_path != after.file_path),
        ("line", before.line != after.line),
        (
            "componentName",
            before.component_name != after.component_name,
        ),
        (
            "componentVersion",
            before.component_version != after.component_version,
        ),
        (
            "uniqueIdFromTool",
            before.unique_id_from_tool != after.unique_id_from_tool,
        ),
        (
            "vulnIdFromTool",
            before.vuln_id_from_tool != after.vuln_id_from_tool,
        ),
        ("service", before.service != after.service),
        ("mitigatedAt", before.mitigated != after.mitigated),
        (
            "duplicateOf",
            before.duplicate_finding_id != after.duplicate_finding_id,
        ),
        (
            "slaStartDate",
            before.sla_start_date != after.sla_start_date,
        ),
        (
            "slaExpirationDate",
            before.sla_expiration_date != after.sla_expiration_date,
        ),
        ("tags", before.tags != after.tags),
    ];
    for (field, changed) in named {
        if changed {
            changes.push(FieldChange {
                field: field.into(),
                old: None,
                new: None,
            });
        }
    }
    if changes.is_empty() {
        return None;
    }
    Some(
        NewEvent::new(
            EventKind::FindingChanged,
            after.product_id,
            FindingChanged {
                changes,
                severity: after.severity,
            },
        )
        .engagement(after.engagement_id)
        .test(after.test_id)
        .finding(after.id),
    )
}
