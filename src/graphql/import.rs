//! Scan import over GraphQL: `importScan` / `reimportScan` (GraphQL multipart upload) run
//! `service::import` — the very operation the REST endpoints and the CLI run — and answer with
//! the test and typed statistics; `scanTypes` lists the formats that can be imported.

use async_graphql::{ComplexObject, Context, ID, InputObject, Object, SimpleObject, Upload};

use super::{
    context::{db, principal},
    engagement::Engagement,
    enums::Severity,
    ids,
    input::UploadLimit,
    load,
    product::Product,
    scalars::Date,
    test::Test,
};
use crate::{
    domain::{
        ids::{EngagementId, ProductId, TestId, UserId},
        import::{self as stats},
    },
    error::ServiceError,
    service::import::{self, ImportOptions, ImportResult, ImportTarget},
};

/// Parameters shared by `importScan` and `reimportScan` (DefectDojo's import-scan fields).
#[derive(InputObject, Default)]
pub struct ImportParameters {
    /// The scan type as DefectDojo names it (`scanTypes` lists them), e.g. "Trivy Scan".
    scan_type: String,
    /// The engagement to import into (instead of names).
    engagement_id: Option<ID>,
    /// The product type of `productName` (required to create the product).
    product_type_name: Option<String>,
    product_name: Option<String>,
    engagement_name: Option<String>,
    test_title: Option<String>,
    /// Create the product type, product and engagement named when they do not exist (the
    /// importer becomes OWNER of what it creates; the engagement is CI/CD and in progress).
    auto_create_context: Option<bool>,
    /// Target end of an engagement created here (default: a year from today).
    engagement_end_date: Option<Date>,
    /// For an engagement created here: deduplicate only inside it.
    deduplication_on_engagement: Option<bool>,
    /// For an engagement created here: a link to the source code (http(s) or an SCM address).
    source_code_management_uri: Option<String>,
    /// Findings below this severity are left out (default INFO: none).
    minimum_severity: Option<Severity>,
    /// Set every finding active / verified (absent: as the report says).
    active: Option<bool>,
    verified: Option<bool>,
    /// Every finding's date and the test's dates (not in the future).
    scan_date: Option<Date>,
    /// Close findings of earlier tests of this type that the report no longer has (import:
    /// default false, in the engagement; re-import: default true, in the test).
    close_old_findings: Option<bool>,
    /// Import: close old findings across the whole product.
    close_old_findings_product_scope: Option<bool>,
    version: Option<String>,
    build_id: Option<String>,
    commit_hash: Option<String>,
    branch_tag: Option<String>,
    /// Part of every finding's hash code: the same issue in two services stays two findings.
    service: Option<String>,
    /// Tags of the test.
    tags: Option<Vec<String>>,
    /// Also put `tags` on every finding.
    apply_tags_to_findings: Option<bool>,
    /// The test's environment (an existing development environment's name).
    environment: Option<String>,
    /// The test's (and a created engagement's) lead; default: the importer.
    lead_id: Option<ID>,
}

/// `importScan`'s input: the report and where it goes.
#[derive(InputObject)]
pub struct ImportScanInput {
    #[graphql(flatten)]
    parameters: ImportParameters,
    /// The report (GraphQL multipart upload).
    file: Upload,
}

/// `reimportScan`'s input: the report and the test it updates (by id, or the latest test of the
/// scan type in the engagement named).
#[derive(InputObject)]
pub struct ReimportScanInput {
    #[graphql(flatten)]
    parameters: ImportParameters,
    test_id: Option<ID>,
    /// Leave findings the report has again closed (with a note) instead of reopening them.
    do_not_reactivate: Option<bool>,
    file: Upload,
}

impl ImportParameters {
    fn options(self) -> Result<ImportOptions, ServiceError> {
        let mut o = ImportOptions::new(self.scan_type.trim());
        o.target = ImportTarget {
            engagement_id: ids::decode_opt::<EngagementId>(&self.engagement_id)?,
            test_id: None,
            product_type_name: self.product_type_name,
            product_name: self.product_name,
            engagement_name: self.engagement_name,
            test_title: self.test_title,
        };
        o.auto_create_context = self.auto_create_context.unwrap_or(false);
        o.engagement_end_date = self.engagement_end_date.map(|d| d.0);
        o.deduplication_on_engagement = self.deduplication_on_engagement;
        o.source_code_management_uri = self.source_code_management_uri;
        o.minimum_severity = self
            .minimum_severity
            .map(Into::into)
            .unwrap_or(o.minimum_severity);
        o.active = self.active;
        o.verified = self.verified;
        o.scan_date = self.scan_date.map(|d| d.0);
        if o.scan_date.is_some_and(|d| d > crate::db::today()) {
            return Err(ServiceError::bad_input(
                "scanDate must not be in the future",
            ));
        }
        o.close_old_findings = self.close_old_findings;
        o.close_old_findings_product_scope = self.close_old_findings_product_scope.unwrap_or(false);
        o.version = self.version;
        o.build_id = self.build_id;
        o.commit_hash = self.commit_hash;
        o.branch_tag = self.branch_tag;
        o.service = self.service;
        o.tags = self.tags.unwrap_or_default();
        o.apply_tags_to_findings = self.apply_tags_to_findings.unwrap_or(false);
        o.environment = self.environment;
        o.lead_id = ids::decode_opt::<UserId>(&self.lead_id)?;
        Ok(o)
    }
}

/// The import target named by the arguments of an upload request (for the precheck that runs
/// before the file is read; see `graphql::uploads`).
pub fn target_of(
    arguments: &async_graphql::indexmap::IndexMap<async_graphql::Name, async_graphql::Value>,
) -> Result<(ImportTarget, bool), ServiceError> {
    use async_graphql::Value;
    let Some(Value::Object(input)) = arguments.get("input") else {
        return Err(ServiceError::bad_input("the import needs an input"));
    };
    let text = |k: &str| match input.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let target = ImportTarget {
        engagement_id: text("engagementId")
            .map(|s| ids::decode::<EngagementId>(&ID(s)))
            .transpose()?,
        test_id: text("testId")
            .map(|s| ids::decode::<TestId>(&ID(s)))
            .transpose()?,
        product_type_name: text("productTypeName"),
        product_name: text("productName"),
        engagement_name: text("engagementName"),
        test_title: text("testTitle"),
    };
    let auto_create = matches!(input.get("autoCreateContext"), Some(Value::Boolean(true)));
    Ok((target, auto_create))
}

/// Reads an upload (on a blocking thread), at most `limit` bytes.
async fn read(ctx: &Context<'_>, file: Upload) -> Result<(Option<String>, Vec<u8>), ServiceError> {
    let limit = ctx
        .data_opt::<UploadLimit>()
        .map(|l| l.0)
        .unwrap_or(100 << 20);
    let value = file
        .value(ctx)
        .map_err(|e| ServiceError::bad_input(format!("cannot read the upload: {e}")))?;
    let name = Some(value.filename.clone()).filter(|n| !n.is_empty());
    let bytes = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut out = Vec::new();
        value
            .into_read()
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map(|_| out)
    })
    .await
    .map_err(ServiceError::internal)?
    .map_err(|e| ServiceError::bad_input(format!("cannot read the upload: {e}")))?;
    if bytes.len() > limit {
        return Err(ServiceError::PayloadTooLarge(format!(
            "files must be at most {limit} bytes"
        )));
    }
    Ok((name, bytes))
}

/// Status counts (DefectDojo's import statistics).
#[derive(SimpleObject, Clone, Copy)]
pub struct StatusCounts {
    active: i64,
    verified: i64,
    duplicate: i64,
    false_positive: i64,
    out_of_scope: i64,
    is_mitigated: i64,
    risk_accepted: i64,
    total: i64,
}

impl From<stats::StatusCounts> for StatusCounts {
    fn from(c: stats::StatusCounts) -> Self {
        Self {
            active: c.active,
            verified: c.verified,
            duplicate: c.duplicate,
            false_positive: c.false_p,
            out_of_scope: c.out_of_scope,
            is_mitigated: c.is_mitigated,
            risk_accepted: c.risk_accepted,
            total: c.total,
        }
    }
}

/// Status counts per severity and in total.
#[derive(SimpleObject, Clone, Copy)]
pub struct SeverityStatistics {
    critical: StatusCounts,
    high: StatusCounts,
    medium: StatusCounts,
    low: StatusCounts,
    info: StatusCounts,
    total: StatusCounts,
}

impl From<stats::SeverityStatistics> for SeverityStatistics {
    fn from(s: stats::SeverityStatistics) -> Self {
        Self {
            critical: s.critical.into(),
            high: s.high.into(),
            medium: s.medium.into(),
            low: s.low.into(),
            info: s.info.into(),
            total: s.total.into(),
        }
    }
}

/// What an import did, per action: the findings it created, closed, reactivated and left
/// untouched (their status after the import).
#[derive(SimpleObject, Clone, Copy)]
pub struct ImportDelta {
    created: SeverityStatistics,
    closed: SeverityStatistics,
    reactivated: SeverityStatistics,
    untouched: SeverityStatistics,
}

/// An import's statistics: the test before (re-import only), what changed, the test after.
#[derive(SimpleObject, Clone, Copy)]
pub struct ImportStatistics {
    before: Option<SeverityStatistics>,
    delta: ImportDelta,
    after: SeverityStatistics,
}

impl From<stats::ImportStatistics> for ImportStatistics {
    fn from(s: stats::ImportStatistics) -> Self {
        Self {
            before: s.before.map(Into::into),
            delta: ImportDelta {
                created: s.delta.created.into(),
                closed: s.delta.closed.into(),
                reactivated: s.delta.reactivated.into(),
                untouched: s.delta.untouched.into(),
            },
            after: s.after.into(),
        }
    }
}

/// The result of `importScan` / `reimportScan`.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ImportScanPayload {
    /// The test the findings are in.
    test: Test,
    statistics: ImportStatistics,
    #[graphql(skip)]
    engagement_id: EngagementId,
    #[graphql(skip)]
    product_id: ProductId,
}

#[ComplexObject]
impl ImportScanPayload {
    async fn engagement(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Engagement>> {
        load::engagement(ctx, self.engagement_id).await
    }
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        load::product(ctx, self.product_id).await
    }
}

impl From<ImportResult> for ImportScanPayload {
    fn from(r: ImportResult) -> Self {
        Self {
            engagement_id: r.engagement_id,
            product_id: r.product_id,
            statistics: r.statistics.into(),
            test: Test(r.test),
        }
    }
}

#[derive(Default)]
pub struct ImportQuery;

#[Object]
impl ImportQuery {
    /// The scan types a report can be imported as (DefectDojo's names).
    async fn scan_types(&self) -> Vec<&'static str> {
        import::scan_types()
    }
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Imports a scanner report into a new test: the findings it holds, deduplicated against the
    /// product. A report that cannot be read fails with PARSE_ERROR and nothing is written.
    async fn import_scan(
        &self,
        ctx: &Context<'_>,
        input: ImportScanInput,
    ) -> async_graphql::Result<ImportScanPayload> {
        let mut options = input.parameters.options()?;
        import::precheck(
            db(ctx),
            principal(ctx)?,
            &options.target,
            options.auto_create_context,
        )
        .await?;
        let (name, bytes) = read(ctx, input.file).await?;
        options.file_name = name;
        let r = import::import_scan(db(ctx), principal(ctx)?, options, bytes).await?;
        Ok(r.into())
    }

    /// Re-imports a report into a test: each report finding is matched inside the test and ends
    /// created, untouched or reactivated; test findings the report no longer has are closed
    /// (unless `closeOldFindings: false`).
    async fn reimport_scan(
        &self,
        ctx: &Context<'_>,
        input: ReimportScanInput,
    ) -> async_graphql::Result<ImportScanPayload> {
        let mut options = input.parameters.options()?;
        options.target.test_id = ids::decode_opt::<TestId>(&input.test_id)?;
        options.do_not_reactivate = input.do_not_reactivate.unwrap_or(false);
        import::precheck(
            db(ctx),
            principal(ctx)?,
            &options.target,
            options.auto_create_context,
        )
        .await?;
        let (name, bytes) = read(ctx, input.file).await?;
        options.file_name = name;
        let r = import::reimport_scan(db(ctx), principal(ctx)?, options, bytes).await?;
        Ok(r.into())
    }
}

/// A place a finding was seen (DefectDojo's endpoint), with the finding's status there.
pub struct FindingEndpoint(pub crate::db::import::EndpointOfFinding);

#[Object]
impl FindingEndpoint {
    async fn protocol(&self) -> Option<&str> {
        self.0.protocol.as_deref()
    }
    async fn userinfo(&self) -> Option<&str> {
        self.0.userinfo.as_deref()
    }
    async fn host(&self) -> Option<&str> {
        self.0.host.as_deref()
    }
    /// The port (the protocol's default when the report named none).
    async fn port(&self) -> Option<i32> {
        self.0.port
    }
    /// Without a leading `/`.
    async fn path(&self) -> Option<&str> {
        self.0.path.as_deref()
    }
    /// Without the `?`.
    async fn query(&self) -> Option<&str> {
        self.0.query.as_deref()
    }
    /// Without the `#`.
    async fn fragment(&self) -> Option<&str> {
        self.0.fragment.as_deref()
    }
    /// The whole URL, normalized (the protocol's default port left out).
    async fn url(&self) -> String {
        crate::domain::report::Endpoint {
            protocol: self.0.protocol.clone(),
            userinfo: self.0.userinfo.clone(),
            host: self.0.host.clone(),
            port: self.0.port,
            path: self.0.path.clone(),
            query: self.0.query.clone(),
            fragment: self.0.fragment.clone(),
        }
        .url()
    }
    /// Whether the finding is fixed here (a later scan no longer saw it).
    async fn mitigated(&self) -> bool {
        self.0.mitigated
    }
}

/// What an import did to one finding.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::import::ImportAction")]
pub enum ImportAction {
    Created,
    Closed,
    Reactivated,
    Untouched,
}

/// A first import or a re-import.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::import::ImportKind")]
pub enum ImportKind {
    Import,
    Reimport,
}

/// One finding and what an import did to it.
#[derive(SimpleObject)]
pub struct ImportedFinding {
    action: ImportAction,
    /// Null when the finding has been deleted since.
    finding: Option<super::finding::Finding>,
}

/// One import or re-import into a test (DefectDojo's import history).
pub struct TestImport(pub crate::db::import::TestImport);

#[Object]
impl TestImport {
    async fn kind(&self) -> ImportKind {
        self.0.kind.into()
    }
    async fn scan_type(&self) -> &str {
        &self.0.scan_type
    }
    async fn file_name(&self) -> Option<&str> {
        self.0.file_name.as_deref()
    }
    async fn created(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.created
    }
    /// Who imported.
    async fn user(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<super::reference::User>> {
        load::user(ctx, self.0.user_id).await
    }
    async fn version(&self) -> Option<&str> {
        self.0.version.as_deref()
    }
    async fn build_id(&self) -> Option<&str> {
        self.0.build_id.as_deref()
    }
    async fn commit_hash(&self) -> Option<&str> {
        self.0.commit_hash.as_deref()
    }
    async fn branch_tag(&self) -> Option<&str> {
        self.0.branch_tag.as_deref()
    }
    async fn statistics(&self) -> ImportStatistics {
        serde_json::from_value::<stats::ImportStatistics>(self.0.statistics.clone())
            .unwrap_or_default()
            .into()
    }
    /// The findings the import created, closed, reactivated or left untouched (all, or those
    /// of `action`), in finding order.
    async fn findings(
        &self,
        ctx: &Context<'_>,
        action: Option<ImportAction>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<ImportedFinding>> {
        let all = super::context::loader(ctx)
            .load_one(super::loaders::ActionsOf(self.0.id))
            .await?
            .unwrap_or_default();
        let wanted: Vec<_> = all
            .into_iter()
            .filter(|(_, a)| action.is_none_or(|w| stats::ImportAction::from(w) == *a))
            .collect();
        let wanted = super::pagination::take_first(wanted, first)?;
        let findings =
            futures_util::future::join_all(wanted.iter().map(|(id, _)| load::finding(ctx, *id)))
                .await;
        let mut out = Vec::with_capacity(wanted.len());
        for ((_, a), f) in wanted.into_iter().zip(findings) {
            out.push(ImportedFinding {
                action: a.into(),
                finding: f?,
            });
        }
        Ok(out)
    }
}
