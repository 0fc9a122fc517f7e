//! Findings: the object, lists, filters and mutations (status changes follow the rules in
//! `domain::finding_status`).

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    context::{db, loader, principal},
    deletes::{self, DeletePayload},
    engagement::Engagement,
    enums::{self, OrderDirection, Severity},
    ids, input,
    input::IdInput,
    load,
    loaders::RowId,
    note::{File, Note},
    pagination::{self, Connection},
    product::Product,
    reference::User,
    scalars::Date,
    test::Test,
};
use crate::{
    db::{
        self as store,
        attachment::Attachment,
        finding::{self as rows, FindingChanges, FindingFields, FindingParent},
        page::ListArgs,
    },
    domain::{
        self,
        finding_status::StatusChange,
        ids::{EngagementId, FindingId, NodeKind, ProductId, ProductTypeId, TestId, UserId},
        sla,
    },
    error::{ServiceError, ServiceResult},
    service::lifecycle::finding::{self as lifecycle, CreateFinding, DuplicateOf, UpdateFinding},
};

/// A weakness found by a test.
#[derive(Clone)]
pub struct Finding(pub rows::Finding);

/// The row columns each field reads, so that a list reads only those (`db::page::Projection`;
/// a field missing here makes its list read whole rows). Columns go in groups (space-separated
/// names), and a field asks for its columns' whole groups: each combination of groups is one
/// more statement text for the connections to keep prepared, so there are 2⁷ at most, whatever
/// fields clients pick. The test `finding_lists_read_only_the_columns_they_show` compares every
/// field of a projected list with the same finding read whole.
mod columns {
    pub const HEADLINE: &str = "title severity numerical_severity cwe date";
    pub const STATUS: &str = "active verified false_p out_of_scope risk_accepted under_review \
        is_mitigated duplicate mitigated";
    pub const DATES: &str =
        "sla_start_date sla_expiration_date last_status_update created updated publish_date";
    pub const SCORES: &str = "cwes vulnerability_ids cvssv3 cvssv3_score cvssv4 cvssv4_score \
        epss_score epss_percentile known_exploited scanner_confidence fix_available fix_version";
    pub const LOCATION: &str = "file_path line component_name component_version static_finding \
        dynamic_finding unique_id_from_tool vuln_id_from_tool hash_code service nb_occurences \
        param payload tags";
    pub const TEXT: &str =
        "description mitigation impact steps_to_reproduce severity_justification refs url";
    pub const PEOPLE: &str = "mitigated_by_id reporter_id duplicate_finding_id";
}

impl pagination::Projects for Finding {
    fn columns_of(field: &str) -> Option<&'static [&'static str]> {
        use columns::*;
        Some(match field {
            "id" | "databaseId" | "__typename" | "endpoints" | "duplicates" | "test"
            | "engagement" | "product" | "notes" | "files" => &[],
            "title" | "severity" | "numericalSeverity" | "date" | "cwe" => &[HEADLINE],
            "description"
            | "mitigation"
            | "impact"
            | "stepsToReproduce"
            | "severityJustification"
            | "references"
            | "url" => &[TEXT],
            "vulnerabilityIds"
            | "cvssv3"
            | "cvssv3Score"
            | "cwes"
            | "cvssv4"
            | "cvssv4Score"
            | "scannerConfidence"
            | "scannerConfidenceText"
            | "fixAvailable"
            | "fixVersion"
            | "epssScore"
            | "epssPercentile"
            | "knownExploited" => &[SCORES],
            "filePath" | "line" | "componentName" | "componentVersion" | "staticFinding"
            | "dynamicFinding" | "uniqueIdFromTool" | "vulnIdFromTool" | "hashCode" | "service"
            | "param" | "payload" | "nbOccurences" | "tags" => &[LOCATION],
            "publishDate" | "slaStartDate" | "slaExpirationDate" | "lastStatusUpdate"
            | "created" | "updated" => &[DATES],
            "active" | "verified" | "falsePositive" | "outOfScope" | "riskAccepted"
            | "underReview" | "isMitigated" | "mitigatedAt" | "duplicate" => &[STATUS],
            "mitigatedBy" | "reporter" | "duplicateOf" => &[PEOPLE],
            "slaDaysRemaining" => &[DATES, STATUS],
            _ => return None,
        })
    }
}

/// Plain fields of a finding, as its resolvers give them (for [`super::plain::Nodes`]).
impl super::plain::Plain for Finding {
    fn plain(&self, field: &str) -> Option<async_graphql::Value> {
        use async_graphql::{InputType, Value};
        let f = &self.0;
        let text = |s: &str| Value::String(s.to_string());
        let opt = |s: &Option<String>| s.as_deref().map_or(Value::Null, text);
        Some(match field {
            "id" => ids::encode(f.id).to_value(),
            "databaseId" => f.id.get().to_value(),
            "title" => text(&f.title),
            "description" => text(&f.description),
            "severity" => Severity::from(f.severity).to_value(),
            "numericalSeverity" => text(&f.numerical_severity),
            "date" => Date(f.date).to_value(),
            "mitigation" => opt(&f.mitigation),
            "impact" => opt(&f.impact),
            "stepsToReproduce" => opt(&f.steps_to_reproduce),
            "severityJustification" => opt(&f.severity_justification),
            "references" => opt(&f.refs),
            "url" => opt(&f.url),
            "cwe" => f.cwe.to_value(),
            "vulnerabilityIds" => Value::List(
                f.vulnerability_ids
                    .iter()
                    .flatten()
                    .map(|s| text(s))
                    .collect(),
            ),
            "cvssv3" => opt(&f.cvssv3),
            "cvssv3Score" => f.cvssv3_score.to_value(),
            "filePath" => opt(&f.file_path),
            "line" => f.line.to_value(),
            "componentName" => opt(&f.component_name),
            "componentVersion" => opt(&f.component_version),
            "staticFinding" => f.static_finding.to_value(),
            "dynamicFinding" => f.dynamic_finding.to_value(),
            "uniqueIdFromTool" => opt(&f.unique_id_from_tool),
            "vulnIdFromTool" => opt(&f.vuln_id_from_tool),
            "hashCode" => opt(&f.hash_code),
            "service" => opt(&f.service),
            "param" => opt(&f.param),
            "payload" => opt(&f.payload),
            "cwes" => Value::List(f.cwes.iter().flatten().map(|c| c.to_value()).collect()),
            "cvssv4" => opt(&f.cvssv4),
            "cvssv4Score" => f.cvssv4_score.to_value(),
            "scannerConfidence" => f.scanner_confidence.to_value(),
            "scannerConfidenceText" => f
                .scanner_confidence
                .map(crate::domain::report::confidence_text)
                .map_or(Value::Null, text),
            "fixAvailable" => f.fix_available.to_value(),
            "fixVersion" => opt(&f.fix_version),
            "epssScore" => f.epss_score.to_value(),
            "epssPercentile" => f.epss_percentile.to_value(),
            "knownExploited" => f.known_exploited.to_value(),
            "publishDate" => f.publish_date.map(Date).to_value(),
            "nbOccurences" => f.nb_occurences.to_value(),
            "active" => f.active.to_value(),
            "verified" => f.verified.to_value(),
            "falsePositive" => f.false_p.to_value(),
            "outOfScope" => f.out_of_scope.to_value(),
            "riskAccepted" => f.risk_accepted.to_value(),
            "underReview" => f.under_review.to_value(),
            "isMitigated" => f.is_mitigated.to_value(),
            "mitigatedAt" => f.mitigated.to_value(),
            "duplicate" => f.duplicate.to_value(),
            "slaStartDate" => f.sla_start_date.map(Date).to_value(),
            "slaExpirationDate" => f.sla_expiration_date.map(Date).to_value(),
            "slaDaysRemaining" => sla::days_remaining(
                f.sla_expiration_date,
                f.mitigated.map(|m| m.date_naive()),
                store::today(),
            )
            .to_value(),
            "lastStatusUpdate" => f.last_status_update.to_value(),
            "tags" => Value::List(f.tags.iter().flatten().map(|s| text(s)).collect()),
            "created" => f.created.to_value(),
            "updated" => f.updated.to_value(),
            _ => return None,
        })
    }
}

#[Object]
impl Finding {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn severity(&self) -> Severity {
        self.0.severity.into()
    }
    /// DefectDojo's numerical severity: `S0` (Critical) … `S4` (Info).
    async fn numerical_severity(&self) -> &str {
        &self.0.numerical_severity
    }
    /// Discovery date.
    async fn date(&self) -> Date {
        Date(self.0.date)
    }
    async fn mitigation(&self) -> Option<&str> {
        self.0.mitigation.as_deref()
    }
    async fn impact(&self) -> Option<&str> {
        self.0.impact.as_deref()
    }
    async fn steps_to_reproduce(&self) -> Option<&str> {
        self.0.steps_to_reproduce.as_deref()
    }
    async fn severity_justification(&self) -> Option<&str> {
        self.0.severity_justification.as_deref()
    }
    async fn references(&self) -> Option<&str> {
        self.0.refs.as_deref()
    }
    async fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    async fn cwe(&self) -> Option<i32> {
        self.0.cwe
    }
    /// CVE, GHSA and other ids; the first one is the primary.
    async fn vulnerability_ids(&self) -> Vec<String> {
        self.0.vulnerability_ids.iter().flatten().cloned().collect()
    }
    async fn cvssv3(&self) -> Option<&str> {
        self.0.cvssv3.as_deref()
    }
    async fn cvssv3_score(&self) -> Option<f64> {
        self.0.cvssv3_score
    }
    async fn file_path(&self) -> Option<&str> {
        self.0.file_path.as_deref()
    }
    async fn line(&self) -> Option<i32> {
        self.0.line
    }
    async fn component_name(&self) -> Option<&str> {
        self.0.component_name.as_deref()
    }
    async fn component_version(&self) -> Option<&str> {
        self.0.component_version.as_deref()
    }
    async fn static_finding(&self) -> bool {
        self.0.static_finding
    }
    async fn dynamic_finding(&self) -> bool {
        self.0.dynamic_finding
    }
    async fn unique_id_from_tool(&self) -> Option<&str> {
        self.0.unique_id_from_tool.as_deref()
    }
    async fn vuln_id_from_tool(&self) -> Option<&str> {
        self.0.vuln_id_from_tool.as_deref()
    }
    async fn hash_code(&self) -> Option<&str> {
        self.0.hash_code.as_deref()
    }
    async fn service(&self) -> Option<&str> {
        self.0.service.as_deref()
    }
    /// The request parameter a web scanner attacked.
    async fn param(&self) -> Option<&str> {
        self.0.param.as_deref()
    }
    /// The attack payload a web scanner sent.
    async fn payload(&self) -> Option<&str> {
        self.0.payload.as_deref()
    }
    /// Every CWE the report names (`cwe` is the primary one).
    async fn cwes(&self) -> Vec<i32> {
        self.0.cwes.iter().flatten().copied().collect()
    }
    async fn cvssv4(&self) -> Option<&str> {
        self.0.cvssv4.as_deref()
    }
    async fn cvssv4_score(&self) -> Option<f64> {
        self.0.cvssv4_score
    }
    /// The scanner's confidence on DefectDojo's scale (≤ 2 Certain, 3–5 Firm, else Tentative).
    async fn scanner_confidence(&self) -> Option<i32> {
        self.0.scanner_confidence
    }
    /// `scannerConfidence` in words: Certain, Firm or Tentative.
    async fn scanner_confidence_text(&self) -> Option<&'static str> {
        self.0
            .scanner_confidence
            .map(crate::domain::report::confidence_text)
    }
    async fn fix_available(&self) -> Option<bool> {
        self.0.fix_available
    }
    /// The component version that fixes it.
    async fn fix_version(&self) -> Option<&str> {
        self.0.fix_version.as_deref()
    }
    /// EPSS probability of exploitation in the next 30 days (0–1).
    async fn epss_score(&self) -> Option<f64> {
        self.0.epss_score
    }
    async fn epss_percentile(&self) -> Option<f64> {
        self.0.epss_percentile
    }
    /// Listed as exploited in the wild (e.g. CISA KEV).
    async fn known_exploited(&self) -> bool {
        self.0.known_exploited
    }
    /// When the vulnerability was published.
    async fn publish_date(&self) -> Option<Date> {
        self.0.publish_date.map(Date)
    }
    /// Where it was seen, with the finding's status on each (mitigated when a later scan no
    /// longer saw it there).
    async fn endpoints(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<super::import::FindingEndpoint>> {
        let rows = super::context::loader(ctx)
            .load_one(super::loaders::EndpointsOf(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(pagination::take_first(rows, first)?
            .into_iter()
            .map(super::import::FindingEndpoint)
            .collect())
    }
    async fn nb_occurences(&self) -> Option<i32> {
        self.0.nb_occurences
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn verified(&self) -> bool {
        self.0.verified
    }
    async fn false_positive(&self) -> bool {
        self.0.false_p
    }
    async fn out_of_scope(&self) -> bool {
        self.0.out_of_scope
    }
    async fn risk_accepted(&self) -> bool {
        self.0.risk_accepted
    }
    async fn under_review(&self) -> bool {
        self.0.under_review
    }
    async fn is_mitigated(&self) -> bool {
        self.0.is_mitigated
    }
    async fn mitigated_at(&self) -> Option<DateTime<Utc>> {
        self.0.mitigated
    }
    async fn mitigated_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load::user(ctx, self.0.mitigated_by_id).await
    }
    async fn reporter(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load::user(ctx, self.0.reporter_id).await
    }
    async fn duplicate(&self) -> bool {
        self.0.duplicate
    }
    /// The original this finding duplicates.
    async fn duplicate_of(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Finding>> {
        match self.0.duplicate_finding_id {
            None => Ok(None),
            Some(id) => Ok(loader(ctx).load_one(RowId::new(id)).await?.map(Finding)),
        }
    }
    /// Findings that duplicate this one.
    async fn duplicates(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Connection<Finding>> {
        let args = ListArgs {
            filter: rows::FindingFilter::default(),
            sort: store::page::Sort::default(),
            window: pagination::window(first, after, last, before)?,
        };
        pagination::children(ctx, FindingParent::DuplicatesOf(self.0.id), args, Finding).await
    }
    /// Overrides `date` as the start of the SLA clock.
    async fn sla_start_date(&self) -> Option<Date> {
        self.0.sla_start_date.map(Date)
    }
    /// (SLA start or discovery date) + the product's days for the severity; null for Info and
    /// unenforced severities.
    async fn sla_expiration_date(&self) -> Option<Date> {
        self.0.sla_expiration_date.map(Date)
    }
    /// Days until the SLA deadline (negative once breached), counted to the mitigation date for
    /// a mitigated finding.
    async fn sla_days_remaining(&self) -> Option<i64> {
        sla::days_remaining(
            self.0.sla_expiration_date,
            self.0.mitigated.map(|m| m.date_naive()),
            store::today(),
        )
    }
    async fn last_status_update(&self) -> DateTime<Utc> {
        self.0.last_status_update
    }
    async fn tags(&self) -> Vec<String> {
        self.0.tags.iter().flatten().cloned().collect()
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    async fn updated(&self) -> DateTime<Utc> {
        self.0.updated
    }
    async fn test(&self, ctx: &Context<'_>) -> async_graphql::Result<Test> {
        load::test(ctx, self.0.test_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("Test").into())
    }
    async fn engagement(&self, ctx: &Context<'_>) -> async_graphql::Result<Engagement> {
        load::engagement(ctx, self.0.engagement_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("Engagement").into())
    }
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Product> {
        load::product(ctx, self.0.product_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("Product").into())
    }
    /// Notes, oldest first; private notes only for their author and for those who may edit
    /// notes here.
    async fn notes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Note>> {
        load::notes_of(ctx, Attachment::Finding(self.0.id), first).await
    }
    /// Attached files, oldest first.
    async fn files(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<File>> {
        load::files_of(ctx, Attachment::Finding(self.0.id), first).await
    }
}

/// Filter for finding lists.
#[derive(InputObject, Default)]
pub struct FindingFilter {
    /// Any of these severities.
    severity: Option<Vec<Severity>>,
    active: Option<bool>,
    verified: Option<bool>,
    duplicate: Option<bool>,
    false_positive: Option<bool>,
    out_of_scope: Option<bool>,
    risk_accepted: Option<bool>,
    /// `isMitigated`.
    mitigated: Option<bool>,
    product_type_id: Option<ID>,
    product_id: Option<ID>,
    /// Findings of any of these products (at most 1,000).
    product_ids: Option<Vec<ID>>,
    engagement_id: Option<ID>,
    test_id: Option<ID>,
    cwe: Option<i32>,
    /// Findings carrying this vulnerability id (CVE, GHSA, …).
    vulnerability_id: Option<String>,
    /// Exact component name.
    component_name: Option<String>,
    /// Case-insensitive substring of the title.
    title_contains: Option<String>,
    /// Open (active, not a false positive, duplicate, out of scope, risk-accepted or mitigated)
    /// and past the SLA deadline; `false` for the rest.
    sla_breached: Option<bool>,
    hash_code: Option<String>,
    unique_id_from_tool: Option<String>,
    /// Findings carrying every one of these tags.
    tags: Option<Vec<String>>,
}

impl FindingFilter {
    pub fn into_db(self) -> ServiceResult<rows::FindingFilter> {
        Ok(rows::FindingFilter {
            severity: enums::to_domain(self.severity),
            active: self.active,
            verified: self.verified,
            duplicate: self.duplicate,
            false_p: self.false_positive,
            out_of_scope: self.out_of_scope,
            risk_accepted: self.risk_accepted,
            is_mitigated: self.mitigated,
            product_type_id: ids::decode_opt::<ProductTypeId>(&self.product_type_id)?,
            product_id: ids::decode_opt::<ProductId>(&self.product_id)?,
            product_ids: match self.product_ids {
                Some(list) if list.len() > 1000 => {
                    return Err(ServiceError::bad_input(
                        "productIds takes at most 1000 ids".to_string(),
                    ));
                }
                Some(list) => Some(
                    list.iter()
                        .map(ids::decode::<ProductId>)
                        .collect::<ServiceResult<_>>()?,
                ),
                None => None,
            },
            engagement_id: ids::decode_opt::<EngagementId>(&self.engagement_id)?,
            test_id: ids::decode_opt::<TestId>(&self.test_id)?,
            cwe: self.cwe,
            vulnerability_id: self.vulnerability_id,
            component_name: self.component_name,
            title_contains: self.title_contains,
            sla_breached: self.sla_breached,
            hash_code: self.hash_code,
            unique_id_from_tool: self.unique_id_from_tool,
            tags: input::clean_tags(self.tags.unwrap_or_default())?,
        })
    }
}

/// Sort keys of finding lists.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "rows::FindingOrder")]
pub enum FindingOrderField {
    Id,
    /// Most severe first when ascending.
    Severity,
    Date,
    Title,
    SlaExpirationDate,
    Created,
    Updated,
}

/// How to sort findings (default: by id, ascending).
#[derive(InputObject)]
pub struct FindingOrder {
    field: FindingOrderField,
    #[graphql(default)]
    direction: OrderDirection,
}

crate::order_input!(FindingOrder => rows::FindingOrder);

#[derive(InputObject)]
pub struct CreateFindingInput {
    test_id: ID,
    title: String,
    severity: Severity,
    description: String,
    /// Discovery date (default today).
    date: Option<Date>,
    mitigation: Option<String>,
    impact: Option<String>,
    steps_to_reproduce: Option<String>,
    severity_justification: Option<String>,
    references: Option<String>,
    url: Option<String>,
    cwe: Option<i32>,
    vulnerability_ids: Option<Vec<String>>,
    cvssv3: Option<String>,
    cvssv3_score: Option<f64>,
    file_path: Option<String>,
    line: Option<i32>,
    component_name: Option<String>,
    component_version: Option<String>,
    unique_id_from_tool: Option<String>,
    vuln_id_from_tool: Option<String>,
    service: Option<String>,
    reporter_id: Option<ID>,
    sla_start_date: Option<Date>,
    tags: Option<Vec<String>>,
    /// Default true.
    active: Option<bool>,
    #[graphql(flatten)]
    status: FindingStatusInput,
}

/// Fields left out stay as they are; `null` clears a nullable field. Status flags follow the
/// status rules (e.g. `falsePositive: true` also mitigates and deactivates).
#[derive(InputObject)]
pub struct UpdateFindingInput {
    id: ID,
    title: Option<String>,
    severity: Option<Severity>,
    description: Option<String>,
    date: Option<Date>,
    mitigation: MaybeUndefined<String>,
    impact: MaybeUndefined<String>,
    steps_to_reproduce: MaybeUndefined<String>,
    severity_justification: MaybeUndefined<String>,
    references: MaybeUndefined<String>,
    url: MaybeUndefined<String>,
    cwe: MaybeUndefined<i32>,
    vulnerability_ids: Option<Vec<String>>,
    cvssv3: MaybeUndefined<String>,
    cvssv3_score: MaybeUndefined<f64>,
    file_path: MaybeUndefined<String>,
    line: MaybeUndefined<i32>,
    component_name: MaybeUndefined<String>,
    component_version: MaybeUndefined<String>,
    unique_id_from_tool: MaybeUndefined<String>,
    vuln_id_from_tool: MaybeUndefined<String>,
    service: MaybeUndefined<String>,
    sla_start_date: MaybeUndefined<Date>,
    tags: Option<Vec<String>>,
    active: Option<bool>,
    #[graphql(flatten)]
    status: FindingStatusInput,
    /// Marks the finding a duplicate of another finding of the same product (`null` un-marks it).
    duplicate_of_id: MaybeUndefined<ID>,
}

/// The status flags of `createFinding` and `updateFinding` besides `active` (whose description
/// differs between the two), flattened into both inputs.
#[derive(InputObject)]
pub struct FindingStatusInput {
    verified: Option<bool>,
    false_positive: Option<bool>,
    out_of_scope: Option<bool>,
    risk_accepted: Option<bool>,
    under_review: Option<bool>,
    is_mitigated: Option<bool>,
    mitigated_at: Option<DateTime<Utc>>,
}

impl FindingStatusInput {
    /// The flags set explicitly, `active` included; the status rules decide the rest.
    fn change(self, active: Option<bool>) -> StatusChange {
        StatusChange {
            active,
            verified: self.verified,
            false_p: self.false_positive,
            out_of_scope: self.out_of_scope,
            risk_accepted: self.risk_accepted,
            under_review: self.under_review,
            is_mitigated: self.is_mitigated,
            mitigated: self.mitigated_at,
            duplicate: None,
        }
    }
}

#[derive(SimpleObject)]
pub struct FindingPayload {
    finding: Finding,
}

impl From<rows::Finding> for FindingPayload {
    fn from(row: rows::Finding) -> Self {
        FindingPayload {
            finding: Finding(row),
        }
    }
}

/// Longest vulnerability id.
const VULNERABILITY_ID_MAX: usize = 100;

fn check_score(v: Option<f64>) -> ServiceResult<()> {
    if v.is_some_and(|s| !(0.0..=10.0).contains(&s)) {
        return Err(ServiceError::bad_input(
            "cvssv3Score must be between 0 and 10",
        ));
    }
    Ok(())
}

fn check_cwe(v: Option<i32>) -> ServiceResult<()> {
    if v.is_some_and(|c| c < 0) {
        return Err(ServiceError::bad_input("cwe must not be negative"));
    }
    Ok(())
}

fn vulnerability_ids(v: Vec<String>) -> ServiceResult<Vec<String>> {
    domain::check_list_len("vulnerabilityIds", &v)?;
    v.iter()
        .map(|s| {
            domain::clean_name("vulnerabilityIds", s, VULNERABILITY_ID_MAX)
                .map_err(ServiceError::from)
        })
        .collect()
}

impl TryFrom<CreateFindingInput> for CreateFinding {
    type Error = ServiceError;

    fn try_from(input: CreateFindingInput) -> ServiceResult<Self> {
        check_score(input.cvssv3_score)?;
        check_cwe(input.cwe)?;
        let test_id = ids::decode::<TestId>(&input.test_id)?;
        let fields = FindingFields {
            title: domain::clean_name("title", &input.title, rows::TITLE_MAX)?,
            description: input.description,
            severity: Some(input.severity.into()),
            date: input.date.map(|d| d.0),
            mitigation: input.mitigation,
            impact: input.impact,
            steps_to_reproduce: input.steps_to_reproduce,
            severity_justification: input.severity_justification,
            refs: input.references,
            url: input.url,
            cwe: input.cwe,
            vulnerability_ids: vulnerability_ids(input.vulnerability_ids.unwrap_or_default())?,
            cvssv3: input.cvssv3,
            cvssv3_score: input.cvssv3_score,
            file_path: input.file_path,
            line: input.line,
            component_name: input.component_name,
            component_version: input.component_version,
            unique_id_from_tool: input.unique_id_from_tool,
            vuln_id_from_tool: input.vuln_id_from_tool,
            hash_code: None,
            service: input.service,
            nb_occurences: None,
            reporter_id: ids::decode_opt::<UserId>(&input.reporter_id)?,
            sla_start_date: input.sla_start_date.map(|d| d.0),
            tags: input::clean_tags(input.tags.unwrap_or_default())?,
        };
        Ok(CreateFinding {
            test_id,
            fields,
            status: input.status.change(input.active),
        })
    }
}

impl TryFrom<UpdateFindingInput> for UpdateFinding {
    type Error = ServiceError;

    fn try_from(input: UpdateFindingInput) -> ServiceResult<Self> {
        let id = ids::decode::<FindingId>(&input.id)?;
        if let MaybeUndefined::Value(s) = input.cvssv3_score {
            check_score(Some(s))?;
        }
        if let MaybeUndefined::Value(c) = input.cwe {
            check_cwe(Some(c))?;
        }
        let duplicate_of = match &input.duplicate_of_id {
            MaybeUndefined::Undefined => DuplicateOf::Keep,
            MaybeUndefined::Null => DuplicateOf::Clear,
            MaybeUndefined::Value(other) => DuplicateOf::Set(ids::decode::<FindingId>(other)?),
        };
        let changes = FindingChanges {
            title: input
                .title
                .map(|t| domain::clean_name("title", &t, rows::TITLE_MAX))
                .transpose()?,
            description: input.description,
            severity: input.severity.map(Into::into),
            numerical_severity: None,
            date: input.date.map(|d| d.0),
            mitigation: input::maybe(input.mitigation),
            impact: input::maybe(input.impact),
            steps_to_reproduce: input::maybe(input.steps_to_reproduce),
            severity_justification: input::maybe(input.severity_justification),
            refs: input::maybe(input.references),
            url: input::maybe(input.url),
            cwe: input::maybe(input.cwe),
            vulnerability_ids: input.vulnerability_ids.map(vulnerability_ids).transpose()?,
            cvssv3: input::maybe(input.cvssv3),
            cvssv3_score: input::maybe(input.cvssv3_score),
            file_path: input::maybe(input.file_path),
            line: input::maybe(input.line),
            component_name: input::maybe(input.component_name),
            component_version: input::maybe(input.component_version),
            unique_id_from_tool: input::maybe(input.unique_id_from_tool),
            vuln_id_from_tool: input::maybe(input.vuln_id_from_tool),
            service: input::maybe(input.service),
            sla_start_date: input::maybe(input.sla_start_date).map(|d| d.map(|d| d.0)),
            tags: input.tags.map(input::clean_tags).transpose()?,
            updated: None,
        };
        Ok(UpdateFinding {
            id,
            changes,
            status: input.status.change(input.active),
            duplicate_of,
        })
    }
}

#[derive(Default)]
pub struct FindingQuery;

#[Object]
impl FindingQuery {
    /// Every finding.
    async fn findings(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<FindingFilter>,
        order_by: Option<FindingOrder>,
    ) -> async_graphql::Result<Connection<Finding>> {
        let args = ListArgs {
            filter: filter.unwrap_or_default().into_db()?,
            sort: FindingOrder::sort(order_by),
            window: pagination::window(first, after, last, before)?,
        };
        pagination::top_level(ctx, args, Finding).await
    }
}

#[derive(Default)]
pub struct FindingMutation;

#[Object]
impl FindingMutation {
    /// Adds a finding to a test; fails with ENGAGEMENT_COMPLETED when its engagement is closed.
    async fn create_finding(
        &self,
        ctx: &Context<'_>,
        input: CreateFindingInput,
    ) -> async_graphql::Result<FindingPayload> {
        let new = input.try_into()?;
        let row = lifecycle::create(db(ctx), principal(ctx)?, new).await?;
        Ok(row.into())
    }

    async fn update_finding(
        &self,
        ctx: &Context<'_>,
        input: UpdateFindingInput,
    ) -> async_graphql::Result<FindingPayload> {
        let update = input.try_into()?;
        let row = lifecycle::update(db(ctx), principal(ctx)?, update).await?;
        Ok(row.into())
    }

    /// Deletes the finding with its notes and files; findings that duplicated it get a new original.
    async fn delete_finding(
        &self,
        ctx: &Context<'_>,
        input: IdInput,
    ) -> async_graphql::Result<DeletePayload> {
        deletes::delete(ctx, NodeKind::Finding, &input.id).await
    }
}
