//! Scan import and re-import (DESIGN.md, Import pipeline; reference §3–§4): the one operation
//! that the GraphQL mutations, the DefectDojo-compatible REST endpoints and the CLI all run.
//!
//! bytes → parser (on a blocking thread, before any transaction) → minimum severity, overrides,
//! hash codes → **one transaction**: resolve or auto-create the target (product type, product,
//! engagement, test; each checked against the caller's roles, names locked so that concurrent
//! auto-creates make one object) → match (re-import: inside the test) → multi-row writes →
//! deduplication against the product in bulk → close old findings → statistics, history, one
//! `FINDINGS_IMPORTED` event → commit. A bad file or a failure anywhere leaves nothing written.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;

use super::{ServiceError, ServiceResult, access, lifecycle, write};
use crate::{
    auth::{Principal, access::require},
    db::{
        Db, DbError, QueryResult,
        authz::Target as AuthTarget,
        engagement::{Engagement, NewEngagement},
        import::{self as rows, ImportedFinding, MatchRow, TestFinding},
        lookup,
        membership::{Member, On},
        outbox,
        product::NewProduct,
        product_type::NewProductType,
        test::{NewTest, Test},
    },
    domain::{
        EngagementStatus, EngagementType, Role, Severity,
        dedup::{self, Candidate, DedupAlgorithm, DedupRule},
        events::{EventKind, NewEvent},
        ids::{EngagementId, FindingId, ProductId, ProductTypeId, TestId, UserId},
        import::{
            self as rules, Delta, FindingFlags, ImportAction, ImportKind, ImportStatistics,
            Outcome, ReportStatus, SeverityStatistics,
        },
        rbac::Permission,
        report::{Endpoint, ParsedFinding},
        sla::SlaPolicy,
    },
    import::parsers,
};

/// Where an import goes: by ids, or by names (which auto-create may create). Ids and names may
/// be combined only when they agree.
#[derive(Debug, Clone, Default)]
pub struct ImportTarget {
    pub engagement_id: Option<EngagementId>,
    pub test_id: Option<TestId>,
    pub product_type_name: Option<String>,
    pub product_name: Option<String>,
    pub engagement_name: Option<String>,
    pub test_title: Option<String>,
}

/// Everything an import or re-import takes besides the file (DefectDojo's parameters, §4.1).
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub scan_type: String,
    pub file_name: Option<String>,
    pub target: ImportTarget,
    pub auto_create_context: bool,
    pub engagement_end_date: Option<NaiveDate>,
    pub deduplication_on_engagement: Option<bool>,
    pub minimum_severity: Severity,
    /// Overrides of the report's values (absent: keep the report's).
    pub active: Option<bool>,
    pub verified: Option<bool>,
    /// Every finding's date; the test's dates.
    pub scan_date: Option<NaiveDate>,
    /// Import: default off. Re-import: default on.
    pub close_old_findings: Option<bool>,
    pub close_old_findings_product_scope: bool,
    pub do_not_reactivate: bool,
    pub version: Option<String>,
    pub build_id: Option<String>,
    pub commit_hash: Option<String>,
    pub branch_tag: Option<String>,
    pub service: Option<String>,
    pub tags: Vec<String>,
    pub apply_tags_to_findings: bool,
    pub environment: Option<String>,
    pub lead_id: Option<UserId>,
    /// A link to the source code (http(s) or an SCM address), for an engagement created here.
    pub source_code_management_uri: Option<String>,
}

impl ImportOptions {
    /// Options for `scan_type` with DefectDojo's defaults.
    pub fn new(scan_type: impl Into<String>) -> Self {
        Self {
            scan_type: scan_type.into(),
            file_name: None,
            target: ImportTarget::default(),
            auto_create_context: false,
            engagement_end_date: None,
            deduplication_on_engagement: None,
            minimum_severity: Severity::Info,
            active: None,
            verified: None,
            scan_date: None,
            close_old_findings: None,
            close_old_findings_product_scope: false,
            do_not_reactivate: false,
            version: None,
            build_id: None,
            commit_hash: None,
            branch_tag: None,
            service: None,
            tags: Vec::new(),
            apply_tags_to_findings: false,
            environment: None,
            lead_id: None,
            source_code_management_uri: None,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportResult {
    pub kind: ImportKind,
    pub test: Test,
    pub engagement_id: EngagementId,
    pub product_id: ProductId,
    pub product_type_id: ProductTypeId,
    pub statistics: ImportStatistics,
    pub import: rows::TestImport,
}

/// The scan types that can be imported.
pub fn scan_types() -> Vec<&'static str> {
    parsers::scan_types()
}

/// Imports a report into a new test (§4.2).
#[tracing::instrument(skip_all, fields(scan_type = %options.scan_type, bytes = bytes.len()))]
pub async fn import_scan(
    db: &Db,
    principal: &Principal,
    options: ImportOptions,
    bytes: Vec<u8>,
) -> ServiceResult<ImportResult> {
    let options = checked(options)?;
    let parser = parser_of(&options)?;
    let prepare = Prepare::new(&options)?;
    // The parser reads on a blocking thread and hands over chunks while the transaction stores
    // the previous ones: the report's findings are never all in memory at once.
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let name = options.file_name.clone();
    let reading =
        tokio::task::spawn_blocking(move || stream(parser, &bytes, name.as_deref(), &prepare, &tx));
    let imported = write(db, principal, "Engagement", vec![], move |c, p| {
        Box::pin(async move { import_in(c, &p, &options, Source(rx)).await })
    })
    .await;
    match reading.await.map_err(ServiceError::internal)? {
        Err(e) => Err(ServiceError::ParseError(format!(
            "{}: {e}",
            parser.scan_type()
        ))),
        Ok(()) => imported,
    }
}

/// Re-imports a report into an existing test (§4.3): the test named by id, or the latest test of
/// the scan type in the engagement named; without one, and with `auto_create_context`, an import.
#[tracing::instrument(skip_all, fields(scan_type = %options.scan_type, bytes = bytes.len()))]
pub async fn reimport_scan(
    db: &Db,
    principal: &Principal,
    options: ImportOptions,
    bytes: Vec<u8>,
) -> ServiceResult<ImportResult> {
    let options = checked(options)?;
    let reader = Reader::new(&options, bytes)?;
    let briefs = reader.briefs().await?;
    write(db, principal, "Test", vec![], move |c, p| {
        Box::pin(async move { reimport_in(c, &p, &options, briefs, &reader).await })
    })
    .await
}

/// Checks, before a report is read, that `principal` may import where `target` points (read
/// only; the import checks again in its transaction and decides). Named objects that do not
/// exist yet need the right to create them when `auto_create` is on.
#[tracing::instrument(skip_all)]
pub async fn precheck(
    db: &Db,
    principal: &Principal,
    target: &ImportTarget,
    auto_create: bool,
) -> ServiceResult<()> {
    let t = target.clone();
    let p = principal.clone();
    db.read(async move |mut c| {
        let c = &mut c;
        if let Some(id) = t.test_id {
            require(c, &p, AuthTarget::Test(id), Permission::ImportScanResult).await?;
            return Ok(());
        }
        if let Some(id) = t.engagement_id {
            require(
                c,
                &p,
                AuthTarget::Engagement(id),
                Permission::ImportScanResult,
            )
            .await?;
            return Ok(());
        }
        let Some(product) = t.product_name.as_deref() else {
            return Ok(());
        };
        match rows::product_named(c, product).await? {
            Some((id, _)) => {
                let engagement = match t.engagement_name.as_deref() {
                    Some(name) => rows::engagement_named(c, id, name).await?,
                    None => None,
                };
                match engagement {
                    Some(e) => {
                        require(
                            c,
                            &p,
                            AuthTarget::Engagement(e),
                            Permission::ImportScanResult,
                        )
                        .await?;
                    }
                    None if auto_create => {
                        require(c, &p, AuthTarget::Product(id), Permission::EngagementAdd).await?;
                    }
                    None => {
                        require(c, &p, AuthTarget::Product(id), Permission::ProductView).await?;
                        return Err(DbError::NotFound);
                    }
                }
            }
            None if !auto_create => return Err(DbError::NotFound),
            None => {
                if let Some(name) = t.product_type_name.as_deref() {
                    match rows::product_type_named(c, name).await? {
                        Some(pt) => {
                            require(
                                c,
                                &p,
                                AuthTarget::ProductType(pt),
                                Permission::ProductTypeAddProduct,
                            )
                            .await?;
                        }
                        None if !p.may_add_product_types() => {
                            return Err(DbError::Forbidden(
                                "creating a product type needs a global MAINTAINER or OWNER role"
                                    .into(),
                            ));
                        }
                        None => {}
                    }
                }
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| super::db_error(e, "Engagement"))
}

/// Findings after the minimum severity and the overrides, with their hash codes: a whole report
/// or a chunk of one.
#[derive(Default)]
struct Report {
    findings: Vec<ParsedFinding>,
    hashes: Vec<String>,
}

/// The options with their links checked (a blank link is none).
fn checked(mut options: ImportOptions) -> ServiceResult<ImportOptions> {
    options.source_code_management_uri = options
        .source_code_management_uri
        .take()
        .filter(|u| !u.trim().is_empty())
        .map(|u| {
            crate::domain::check_url(
                "source_code_management_uri",
                &u,
                crate::db::engagement::SOURCE_CODE_MANAGEMENT_URI_MAX,
                true,
            )
        })
        .transpose()
        .map_err(ServiceError::from)?;
    Ok(options)
}

/// The parser of the import's scan type.
fn parser_of(options: &ImportOptions) -> ServiceResult<&'static dyn parsers::Parser> {
    parsers::by_scan_type(&options.scan_type).ok_or_else(|| {
        ServiceError::bad_input(format!(
            "unknown scan type {:?} (the scanTypes query lists them)",
            options.scan_type
        ))
    })
}

/// What an import does to each parsed finding before it is stored: the minimum severity, the
/// date, service and tag overrides, the hash code.
struct Prepare {
    rule: DedupRule,
    minimum: Severity,
    scan_date: Option<NaiveDate>,
    service: Option<String>,
    /// The test's tags, when they also go on every finding.
    tags: Vec<String>,
}

impl Prepare {
    fn new(options: &ImportOptions) -> ServiceResult<Self> {
        let test_tags = crate::domain::clean_tags(&options.tags).map_err(ServiceError::from)?;
        Ok(Prepare {
            rule: dedup::rule(&options.scan_type),
            minimum: options.minimum_severity,
            scan_date: options.scan_date,
            service: options.service.clone().filter(|s| !s.is_empty()),
            tags: if options.apply_tags_to_findings {
                test_tags
            } else {
                Vec::new()
            },
        })
    }

    /// Adds `f` to `report` unless it is below the minimum severity.
    fn add(&self, f: ParsedFinding, report: &mut Report) {
        if let Some((f, hash)) = self.prepared(f) {
            report.hashes.push(hash);
            report.findings.push(f);
        }
    }

    /// `f` with the overrides applied, and its hash code; `None` below the minimum severity.
    fn prepared(&self, mut f: ParsedFinding) -> Option<(ParsedFinding, String)> {
        if f.severity > self.minimum {
            return None;
        }
        if let Some(date) = self.scan_date {
            f.date = Some(date);
        }
        if let Some(service) = &self.service {
            f.service = Some(service.clone());
        }
        f.tags.extend(self.tags.iter().cloned());
        f.tags = crate::domain::clean_tags(&f.tags)
            .unwrap_or_default()
            .into_iter()
            .take(crate::domain::MAX_LIST_ITEMS)
            .collect();
        let hash = dedup::hash_code(&f, &self.rule, f.service.as_deref());
        Some((f, hash))
    }
}

/// A report that a re-import reads twice, each time on a blocking thread (parsing is
/// CPU-bound; the runtime's workers stay free): first for its [`Brief`]s, which decide the
/// matching, then streamed into the transaction like an import's.
#[derive(Clone)]
struct Reader {
    parser: &'static dyn parsers::Parser,
    bytes: Arc<Vec<u8>>,
    file_name: Option<String>,
    prepare: Arc<Prepare>,
}

/// What re-import matching needs of a report finding: its keys and the fields of the order in
/// which DefectDojo walks the report.
struct Brief {
    hash: String,
    uid: Option<String>,
    file_path: Option<String>,
    line: Option<i32>,
    title: String,
    severity: Severity,
}

impl Reader {
    fn new(options: &ImportOptions, bytes: Vec<u8>) -> ServiceResult<Self> {
        Ok(Reader {
            parser: parser_of(options)?,
            bytes: Arc::new(bytes),
            file_name: options.file_name.clone(),
            prepare: Arc::new(Prepare::new(options)?),
        })
    }

    /// The briefs of the report's findings, in report order (a bad report is a `PARSE_ERROR`).
    async fn briefs(&self) -> ServiceResult<Vec<Brief>> {
        let r = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut briefs = Vec::new();
            r.parser
                .parse_each(&r.bytes, r.file_name.as_deref(), &mut |f| {
                    if let Some((f, hash)) = r.prepare.prepared(f) {
                        briefs.push(Brief {
                            hash,
                            uid: f.unique_id_from_tool,
                            file_path: f.file_path,
                            line: f.line,
                            title: f.title,
                            severity: f.severity,
                        });
                    }
                    Ok(())
                })
                .map(|_| briefs)
        })
        .await
        .map_err(ServiceError::internal)?
        .map_err(|e| ServiceError::ParseError(format!("{}: {e}", self.parser.scan_type())))
    }

    /// The report's prepared findings in chunks, read on while the caller stores them.
    fn stream(&self) -> Source {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let r = self.clone();
        // The first reading succeeded; should this one fail all the same, `Source::next` says so.
        tokio::task::spawn_blocking(move || {
            stream(r.parser, &r.bytes, r.file_name.as_deref(), &r.prepare, &tx)
        });
        Source(rx)
    }
}

/// Findings an import reads, as they come from a parser on another thread.
enum Piece {
    Findings(Report),
    /// The report has been read to its end.
    End,
    /// The report could not be read (the parser returns why).
    Failed,
}

/// Parses `bytes` into chunks of prepared findings sent to `tx` (on a blocking thread). An
/// error is the report's; a consumer that has gone away ends the parse quietly (its own error
/// is the one to report).
fn stream(
    parser: &dyn parsers::Parser,
    bytes: &[u8],
    file_name: Option<&str>,
    prepare: &Prepare,
    tx: &tokio::sync::mpsc::Sender<Piece>,
) -> Result<(), parsers::ParseError> {
    let mut chunk = Report::default();
    let parsed = parser.parse_each(bytes, file_name, &mut |f| {
        prepare.add(f, &mut chunk);
        if chunk.findings.len() >= rows::CHUNK {
            tx.blocking_send(Piece::Findings(std::mem::take(&mut chunk)))
                .map_err(|_| parsers::ParseError::new("the import stopped"))?;
        }
        Ok(())
    });
    match parsed {
        Ok(_) => {
            if !chunk.findings.is_empty() {
                let _ = tx.blocking_send(Piece::Findings(chunk));
            }
            let _ = tx.blocking_send(Piece::End);
            Ok(())
        }
        Err(_) if tx.is_closed() => Ok(()),
        Err(e) => {
            let _ = tx.blocking_send(Piece::Failed);
            Err(e)
        }
    }
}

/// Where an import's findings come from: the chunks of a parser that is still reading.
struct Source(tokio::sync::mpsc::Receiver<Piece>);

impl Source {
    /// The next findings; `None` once the report has been read to its end. A report that could
    /// not be read is an error, so that nothing of it is committed.
    async fn next(&mut self) -> QueryResult<Option<Report>> {
        match self.0.recv().await {
            Some(Piece::Findings(chunk)) => Ok(Some(chunk)),
            Some(Piece::End) => Ok(None),
            Some(Piece::Failed) | None => Err(DbError::Rule("the report could not be read".into())),
        }
    }
}

/// The target of an import once resolved: engagement (locked), product, product type.
struct Resolved {
    engagement: Engagement,
    product_type_id: ProductTypeId,
}

fn conflict_with_ids() -> DbError {
    DbError::Rule(
        "the names given (product_type_name, product_name, engagement_name) do not match the engagement or test given by id"
            .into(),
    )
}

/// Resolves (or auto-creates) the engagement of `target`, checking `principal` may import there.
async fn resolve_engagement(
    c: &mut AsyncPgConnection,
    p: &Principal,
    options: &ImportOptions,
) -> QueryResult<Resolved> {
    let t = &options.target;
    if let Some(id) = t.engagement_id {
        require(
            c,
            p,
            AuthTarget::Engagement(id),
            Permission::ImportScanResult,
        )
        .await?;
        let engagement = crate::db::engagement::get(c, id).await?;
        let product_type_id = check_names(c, t, &engagement).await?;
        return Ok(Resolved {
            engagement,
            product_type_id,
        });
    }
    let Some(product_name) = t.product_name.as_deref() else {
        return Err(DbError::Rule(
            "name the target: an engagement id, or product_name and engagement_name".into(),
        ));
    };
    let Some(engagement_name) = t.engagement_name.as_deref() else {
        return Err(DbError::Rule(
            "engagement_name is required with product_name".into(),
        ));
    };
    let (product_id, product_type_id) = resolve_product(c, p, options, product_name).await?;
    rows::lock_name(c, &format!("engagement:{product_id}"), engagement_name).await?;
    let engagement = match rows::engagement_named(c, product_id, engagement_name).await? {
        Some(id) => {
            require(
                c,
                p,
                AuthTarget::Engagement(id),
                Permission::ImportScanResult,
            )
            .await?;
            crate::db::engagement::get(c, id).await?
        }
        None if options.auto_create_context => {
            require(
                c,
                p,
                AuthTarget::Product(product_id),
                Permission::EngagementAdd,
            )
            .await?;
            require(
                c,
                p,
                AuthTarget::Product(product_id),
                Permission::ImportScanResult,
            )
            .await?;
            let today = crate::db::today();
            let new = NewEngagement {
                product_id,
                name: engagement_name.to_string(),
                description: None,
                version: None,
                first_contacted: None,
                target_start: today,
                target_end: options
                    .engagement_end_date
                    .unwrap_or(today + chrono::Days::new(365)),
                lead_id: Some(options.lead_id.unwrap_or(p.user_id)),
                reason: None,
                tracker: None,
                test_strategy: None,
                source_code_management_uri: options.source_code_management_uri.clone(),
                engagement_type: EngagementType::CiCd,
                status: EngagementStatus::InProgress,
                active: true,
                done_testing: false,
                build_id: None,
                commit_hash: None,
                branch_tag: None,
                environment_id: None,
                deduplication_on_engagement: options.deduplication_on_engagement.unwrap_or(false),
                tags: Vec::new(),
            };
            lifecycle::engagement::create_in(c, new).await?
        }
        None => return Err(DbError::NotFound),
    };
    Ok(Resolved {
        engagement,
        product_type_id,
    })
}

/// With ids given, names given too must name the same objects (refused without naming what
/// they do name: an id of yours with another tenant's product name reveals nothing).
async fn check_names(
    c: &mut AsyncPgConnection,
    t: &ImportTarget,
    engagement: &Engagement,
) -> QueryResult<ProductTypeId> {
    let (product_id, product_type_id) = product_of(c, engagement.product_id).await?;
    if let Some(name) = &t.engagement_name
        && !name.eq(&engagement.name)
    {
        return Err(conflict_with_ids());
    }
    if let Some(name) = &t.product_name {
        match rows::product_named(c, name).await? {
            Some((id, _)) if id == product_id => {}
            _ => return Err(conflict_with_ids()),
        }
    }
    if let Some(name) = &t.product_type_name {
        match rows::product_type_named(c, name).await? {
            Some(id) if id == product_type_id => {}
            _ => return Err(conflict_with_ids()),
        }
    }
    Ok(product_type_id)
}

async fn product_of(
    c: &mut AsyncPgConnection,
    product: ProductId,
) -> QueryResult<(ProductId, ProductTypeId)> {
    Ok((product, rows::product_type_of(c, product).await?))
}

/// The product called `name` (with its product type), or a new one when auto-create is on.
async fn resolve_product(
    c: &mut AsyncPgConnection,
    p: &Principal,
    options: &ImportOptions,
    name: &str,
) -> QueryResult<(ProductId, ProductTypeId)> {
    rows::lock_name(c, "product", name).await?;
    if let Some((id, product_type_id)) = rows::product_named(c, name).await? {
        // Seeing the product is needed before anything about it is said.
        require(c, p, AuthTarget::Product(id), Permission::ProductView).await?;
        if let Some(pt) = &options.target.product_type_name
            && rows::product_type_named(c, pt).await? != Some(product_type_id)
        {
            return Err(DbError::Rule(
                "product_type_name does not name the product type of product_name".into(),
            ));
        }
        return Ok((id, product_type_id));
    }
    if !options.auto_create_context {
        return Err(DbError::NotFound);
    }
    let Some(pt_name) = options.target.product_type_name.as_deref() else {
        return Err(DbError::Rule(
            "product_type_name is required to create a product".into(),
        ));
    };
    rows::lock_name(c, "product_type", pt_name).await?;
    let product_type_id = match rows::product_type_named(c, pt_name).await? {
        Some(id) => {
            require(
                c,
                p,
                AuthTarget::ProductType(id),
                Permission::ProductTypeAddProduct,
            )
            .await?;
            id
        }
        None => {
            if !p.may_add_product_types() {
                return Err(DbError::Forbidden(
                    "creating a product type needs a global MAINTAINER or OWNER role".into(),
                ));
            }
            let created = crate::db::product_type::create(
                c,
                NewProductType {
                    name: pt_name.to_string(),
                    description: None,
                    critical_product: false,
                    key_product: false,
                },
            )
            .await?;
            own(c, p, On::ProductType(created.id)).await?;
            created.id
        }
    };
    let product = crate::db::product::create(
        c,
        NewProduct {
            name: name.to_string(),
            description: format!("Created by a {} import.", options.scan_type),
            product_type_id,
            sla_configuration_id: crate::db::sla_configuration::DEFAULT_ID,
            product_manager_id: None,
            technical_contact_id: None,
            team_manager_id: None,
            business_criticality: None,
            platform: None,
            lifecycle: None,
            origin: None,
            user_records: None,
            revenue: None,
            external_audience: false,
            internet_accessible: false,
            regulations: Vec::new(),
            technologies: serde_json::json!([]),
            tags: Vec::new(),
            enable_simple_risk_acceptance: false,
            enable_full_risk_acceptance: true,
            disable_sla_breach_notifications: false,
        },
    )
    .await?;
    own(c, p, On::Product(product.id)).await?;
    Ok((product.id, product_type_id))
}

/// Auto-created product types and products make the importer their OWNER (a superuser needs no
/// membership).
async fn own(c: &mut AsyncPgConnection, p: &Principal, on: On) -> QueryResult<()> {
    if !p.is_superuser {
        access::grant_as_system(
            c,
            access::Grant {
                on,
                member: Member::User(p.user_id),
                role: Role::Owner,
            },
        )
        .await?;
    }
    Ok(())
}

/// The status columns a new finding gets from the report and the overrides (DefectDojo's
/// invariants: mitigated, false positive and out of scope findings are inactive; a false
/// positive is not verified).
fn new_row(
    f: &ParsedFinding,
    hash: &str,
    test: &Test,
    options: &ImportOptions,
    user: UserId,
    now: DateTime<Utc>,
    sla: &SlaPolicy,
) -> ImportedFinding {
    let false_p = f.false_p.unwrap_or(false);
    let is_mitigated = f.is_mitigated.unwrap_or(false) || false_p;
    let mut active = options.active.or(f.active).unwrap_or(true);
    let mut verified = options.verified.or(f.verified).unwrap_or(false);
    if is_mitigated {
        active = false;
    }
    if false_p {
        verified = false;
    }
    let has_path = f.file_path.as_deref().is_some_and(|p| !p.is_empty());
    let static_finding = f.static_finding.unwrap_or(has_path);
    let dynamic_finding = f
        .dynamic_finding
        .unwrap_or(!has_path || !f.endpoints.is_empty());
    let date = f
        .date
        .or(options.scan_date)
        .unwrap_or_else(crate::db::today);
    let cut = |s: &Option<String>, max: usize| {
        s.as_ref()
            .filter(|v| !v.trim().is_empty())
            .map(|v| v.chars().take(max).collect::<String>())
    };
    let mut cwes = f.cwes.clone();
    cwes.retain(|c| *c > 0);
    cwes.sort_unstable();
    cwes.dedup();
    let mut ids: Vec<String> = Vec::new();
    for id in &f.vulnerability_ids {
        if !id.trim().is_empty() && !ids.contains(id) && ids.len() < crate::domain::MAX_LIST_ITEMS {
            ids.push(id.chars().take(100).collect());
        }
    }
    ImportedFinding {
        // Set from the sequence before insertion, with the dedup decision.
        id: FindingId::new(0),
        duplicate: false,
        duplicate_finding_id: None,
        test_id: test.id,
        engagement_id: test.engagement_id,
        product_id: test.product_id,
        title: f
            .title
            .chars()
            .take(crate::db::finding::TITLE_MAX)
            .collect(),
        description: f.description.clone(),
        severity: f.severity,
        numerical_severity: f.severity.numerical().to_string(),
        date,
        mitigation: f.mitigation.clone(),
        impact: f.impact.clone(),
        steps_to_reproduce: f.steps_to_reproduce.clone(),
        severity_justification: f.severity_justification.clone(),
        refs: f.references.clone(),
        cwe: f.cwe.filter(|c| *c > 0),
        cwes,
        vulnerability_ids: ids,
        cvssv3: cut(&f.cvssv3, 117),
        cvssv3_score: f.cvssv3_score.filter(|s| (0.0..=10.0).contains(s)),
        cvssv4: cut(&f.cvssv4, 255),
        cvssv4_score: f.cvssv4_score.filter(|s| (0.0..=10.0).contains(s)),
        file_path: cut(&f.file_path, 4000),
        line: f.line,
        component_name: cut(&f.component_name, 500),
        component_version: cut(&f.component_version, 100),
        static_finding,
        dynamic_finding,
        unique_id_from_tool: cut(&f.unique_id_from_tool, 500),
        vuln_id_from_tool: cut(&f.vuln_id_from_tool, 500),
        hash_code: Some(hash.to_string()),
        service: cut(&f.service, 200),
        nb_occurences: f.nb_occurences,
        scanner_confidence: f.scanner_confidence,
        fix_available: f.fix_available,
        fix_version: cut(&f.fix_version, 100),
        epss_score: f.epss_score.filter(|s| (0.0..=1.0).contains(s)),
        epss_percentile: f.epss_percentile.filter(|s| (0.0..=1.0).contains(s)),
        known_exploited: f.known_exploited.unwrap_or(false),
        publish_date: f.publish_date,
        param: f.param.clone(),
        payload: f.payload.clone(),
        active,
        verified,
        false_p,
        out_of_scope: false,
        risk_accepted: false,
        is_mitigated,
        mitigated: is_mitigated.then(|| f.mitigated.unwrap_or(now)),
        mitigated_by_id: is_mitigated.then_some(user),
        reporter_id: Some(user),
        tags: f.tags.clone(),
        sla_expiration_date: sla.expiration(f.severity, date, None),
    }
}

/// How an import deduplicates its new findings: the scan type's rule, and whether the engagement
/// deduplicates only inside itself.
#[derive(Clone, Copy)]
struct Dedup<'a> {
    rule: &'a DedupRule,
    engagement_only: bool,
}

/// Inserts `findings` (with `hashes`) into `test`, with their endpoints and files, a statement's
/// worth at a time; returns the new ids in report order. With `dedup`, each finding is matched
/// before it is written (against the product and the findings before it in the report) and a
/// duplicate goes in marked as one: no second write.
async fn create_findings(
    c: &mut AsyncPgConnection,
    test: &Test,
    options: &ImportOptions,
    user: UserId,
    sla: &SlaPolicy,
    report: &Report,
    dedup: Option<Dedup<'_>>,
) -> QueryResult<Vec<FindingId>> {
    let (findings, hashes) = (&report.findings, &report.hashes);
    let now = Utc::now();
    let mut ids = Vec::with_capacity(findings.len());
    // Rows are built a chunk at a time: they copy the findings' text. Each chunk is whole in the
    // database (endpoints too) before the next one looks for its originals.
    for (findings, hashes) in findings.chunks(rows::CHUNK).zip(hashes.chunks(rows::CHUNK)) {
        let mut new_rows: Vec<ImportedFinding> = findings
            .iter()
            .zip(hashes)
            .map(|(f, h)| new_row(f, h, test, options, user, now, sla))
            .collect();
        let chunk_ids = rows::reserve_finding_ids(c, new_rows.len()).await?;
        for (row, id) in new_rows.iter_mut().zip(&chunk_ids) {
            row.id = *id;
        }
        if let Some(dedup) = dedup {
            for (i, original) in originals(c, test, dedup, &new_rows, findings).await? {
                let row = &mut new_rows[i];
                row.duplicate = true;
                row.active = false;
                row.verified = false;
                row.duplicate_finding_id = Some(original);
            }
        }
        rows::insert_findings(c, &new_rows).await?;
        drop(new_rows);
        attach(c, test, findings, &chunk_ids).await?;
        ids.extend(chunk_ids);
    }
    Ok(ids)
}

/// The endpoints and files of new findings `ids` (in the order of `findings`).
async fn attach(
    c: &mut AsyncPgConnection,
    test: &Test,
    findings: &[ParsedFinding],
    ids: &[FindingId],
) -> QueryResult<()> {
    let endpoints: Vec<&Endpoint> = findings.iter().flat_map(|f| f.endpoints.iter()).collect();
    if !endpoints.is_empty() {
        let by_url = rows::upsert_endpoints(c, test.product_id, &endpoints).await?;
        let mut pairs = Vec::new();
        for (f, id) in findings.iter().zip(ids) {
            let mut seen = HashSet::new();
            for e in &f.endpoints {
                if let Some(endpoint) = by_url.get(&e.url())
                    && seen.insert(*endpoint)
                {
                    pairs.push((*id, *endpoint));
                }
            }
        }
        rows::link_endpoints(c, &pairs).await?;
    }
    for (f, id) in findings.iter().zip(ids) {
        for file in &f.files {
            let title: String = file.title.chars().take(100).collect();
            let title = if title.is_empty() {
                "file".into()
            } else {
                title
            };
            let new = crate::db::file::NewFile {
                title: title.clone(),
                content_type: "application/octet-stream".into(),
                filename: title,
                sha256: format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&file.data)),
                content: file.data.clone(),
            };
            crate::db::file::insert(c, crate::db::attachment::Attachment::Finding(*id), new)
                .await?;
        }
    }
    Ok(())
}

/// A stored finding as a dedup candidate.
fn candidate(row: &MatchRow) -> Candidate {
    Candidate {
        id: i64::from(row.id.get()),
        engagement_id: row.engagement_id.get(),
        dedup_on_engagement: row.dedup_on_engagement,
        same_test_type: row.same_test_type,
        hash_code: row.keys.hash_code.clone(),
        unique_id_from_tool: row.keys.unique_id_from_tool.clone(),
        title: row.title.clone(),
        cwe: row.cwe,
        file_path: row.file_path.clone(),
        line: row.line,
        static_finding: row.static_finding,
        endpoint_urls: row.endpoint_urls.clone(),
        endpoint_host_paths: row
            .endpoint_hosts
            .iter()
            .cloned()
            .zip(row.endpoint_paths.iter().cloned())
            .collect(),
        duplicate: row.status.duplicate,
        active: row.status.active,
        is_mitigated: row.status.is_mitigated,
        has_mitigated_date: row.mitigated.is_some(),
        false_p: row.status.false_p,
        out_of_scope: row.status.out_of_scope,
    }
}

/// A finding about to be inserted as a dedup candidate: what [`candidate`] would read back once
/// it is stored (endpoints in URL order, as the candidate query aggregates them).
fn pending(row: &ImportedFinding, f: &ParsedFinding, dedup_on_engagement: bool) -> Candidate {
    let mut endpoints: Vec<(String, Option<String>, Option<String>)> = f
        .endpoints
        .iter()
        .map(|e| (e.url(), e.host.clone(), e.path.clone()))
        .collect();
    endpoints.sort_by(|a, b| a.0.cmp(&b.0));
    endpoints.dedup_by(|a, b| a.0 == b.0);
    let (endpoint_urls, endpoint_host_paths) = endpoints
        .into_iter()
        .map(|(url, host, path)| (url, (host, path)))
        .unzip();
    Candidate {
        id: i64::from(row.id.get()),
        engagement_id: row.engagement_id.get(),
        dedup_on_engagement,
        same_test_type: true,
        hash_code: row.hash_code.clone(),
        unique_id_from_tool: row.unique_id_from_tool.clone(),
        title: row.title.clone(),
        cwe: row.cwe.unwrap_or(0),
        file_path: row.file_path.clone(),
        line: row.line,
        static_finding: row.static_finding,
        endpoint_urls,
        endpoint_host_paths,
        duplicate: false,
        active: row.active,
        is_mitigated: row.is_mitigated,
        has_mitigated_date: row.mitigated.is_some(),
        false_p: row.false_p,
        out_of_scope: row.out_of_scope,
    }
}

/// Candidates by the keys the dedup algorithms compare, each list in ascending id.
#[derive(Default)]
struct Keyed<'a> {
    hash: HashMap<&'a str, Vec<&'a Candidate>>,
    uid: HashMap<&'a str, Vec<&'a Candidate>>,
    title: HashMap<&'a str, Vec<&'a Candidate>>,
    cwe: HashMap<i32, Vec<&'a Candidate>>,
}

impl<'a> Keyed<'a> {
    fn add(&mut self, c: &'a Candidate) {
        if let Some(h) = &c.hash_code {
            self.hash.entry(h).or_default().push(c);
        }
        if let Some(u) = &c.unique_id_from_tool {
            self.uid.entry(u).or_default().push(c);
        }
        self.title.entry(&c.title).or_default().push(c);
        if c.cwe != 0 {
            self.cwe.entry(c.cwe).or_default().push(c);
        }
    }

    /// Every candidate sharing a key of `new` that `legacy` (or not) compares, appended to `out`.
    fn related(&self, new: &Candidate, legacy: bool, out: &mut Vec<&'a Candidate>) {
        if let Some(h) = &new.hash_code {
            out.extend(self.hash.get(h.as_str()).into_iter().flatten());
        }
        if let Some(u) = &new.unique_id_from_tool {
            out.extend(self.uid.get(u.as_str()).into_iter().flatten());
        }
        if legacy {
            out.extend(self.title.get(new.title.as_str()).into_iter().flatten());
            if new.cwe != 0 {
                out.extend(self.cwe.get(&new.cwe).into_iter().flatten());
            }
        }
    }
}

/// The originals of the findings `new` (rows with their ids, not yet inserted) as (index in
/// `new`, original): one statement loads every stored candidate, then the findings are matched
/// in report order as DefectDojo does one by one — a finding is a candidate for the later ones
/// of the same report unless it was itself found a duplicate.
async fn originals(
    c: &mut AsyncPgConnection,
    test: &Test,
    dedup: Dedup<'_>,
    new: &[ImportedFinding],
    findings: &[ParsedFinding],
) -> QueryResult<Vec<(usize, FindingId)>> {
    let algorithm = dedup.rule.algorithm;
    let uses_hash = !matches!(algorithm, DedupAlgorithm::UniqueIdFromTool);
    let uses_uid = matches!(
        algorithm,
        DedupAlgorithm::UniqueIdFromTool | DedupAlgorithm::UniqueIdFromToolOrHashCode
    );
    let legacy = algorithm == DedupAlgorithm::Legacy;
    fn set<T: Ord + Clone>(items: impl Iterator<Item = T>) -> Vec<T> {
        let mut v: Vec<T> = items.collect();
        v.sort();
        v.dedup();
        v
    }
    let hashes = if uses_hash {
        set(new.iter().filter_map(|r| r.hash_code.clone()))
    } else {
        Vec::new()
    };
    let uids = if uses_uid {
        set(new.iter().filter_map(|r| r.unique_id_from_tool.clone()))
    } else {
        Vec::new()
    };
    let (titles, cwes) = if legacy {
        (
            set(new.iter().map(|r| r.title.clone())),
            set(new.iter().filter_map(|r| r.cwe)),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let stored: Vec<Candidate> = rows::dedup_candidates(
        c,
        test.test_type_id,
        test.product_id,
        test.engagement_id,
        dedup.engagement_only,
        &hashes,
        &uids,
        &titles,
        &cwes,
    )
    .await?
    .iter()
    .map(candidate)
    .collect();
    let pending: Vec<Candidate> = new
        .iter()
        .zip(findings)
        .map(|(row, f)| pending(row, f, dedup.engagement_only))
        .collect();
    let mut keyed = Keyed::default();
    for cand in &stored {
        keyed.add(cand);
    }
    let mut found = Vec::new();
    let mut pool: Vec<&Candidate> = Vec::new();
    for (i, cand) in pending.iter().enumerate() {
        pool.clear();
        keyed.related(cand, legacy, &mut pool);
        pool.sort_by_key(|c| c.id);
        pool.dedup_by_key(|c| c.id);
        match dedup::find_original(cand, pool.iter().copied(), algorithm) {
            Some(original) => found.push((i, FindingId::new(original as i32))),
            // Not a duplicate: an original for the rest of the report.
            None => keyed.add(cand),
        }
    }
    Ok(found)
}

/// Creates the test of an import (its type named after the scan type).
async fn create_test(
    c: &mut AsyncPgConnection,
    p: &Principal,
    options: &ImportOptions,
    engagement: &Engagement,
) -> QueryResult<Test> {
    let date = options.scan_date.unwrap_or_else(crate::db::today);
    let environment = match &options.environment {
        Some(name) => lookup::environment_by_name(c, name).await?.map(|e| e.id),
        None => None,
    };
    let tags = crate::domain::clean_tags(&options.tags).map_err(|e| DbError::Rule(e.0))?;
    let test = NewTest {
        engagement_id: engagement.id,
        product_id: engagement.product_id,
        test_type_id: crate::domain::ids::TestTypeId::new(0),
        lead_id: Some(options.lead_id.unwrap_or(p.user_id)),
        scan_type: Some(options.scan_type.clone()),
        title: options.target.test_title.clone(),
        description: None,
        target_start: date,
        target_end: date,
        percent_complete: Some(100),
        environment_id: environment,
        version: options.version.clone(),
        build_id: options.build_id.clone(),
        commit_hash: options.commit_hash.clone(),
        branch_tag: options.branch_tag.clone(),
        tags,
    };
    lifecycle::test::create_in(
        c,
        lifecycle::test::CreateTest {
            test,
            test_type: options.scan_type.clone(),
        },
        lookup::TestTypeByName::CreateMissing,
    )
    .await
}

/// The statistics of findings `ids` as they are now.
async fn stats_of(c: &mut AsyncPgConnection, ids: &[FindingId]) -> QueryResult<SeverityStatistics> {
    if ids.is_empty() {
        return Ok(SeverityStatistics::default());
    }
    let rows = rows::flags_of(c, ids).await?;
    let flags: Vec<(Severity, FindingFlags)> =
        rows.iter().map(|r| (r.severity(), r.flags())).collect();
    Ok(SeverityStatistics::of(flags.iter().map(|(s, f)| (*s, f))))
}

/// Statistics, history and the event of a finished import.
async fn finish(
    c: &mut AsyncPgConnection,
    p: &Principal,
    options: &ImportOptions,
    kind: ImportKind,
    test: Test,
    product_type_id: ProductTypeId,
    before: Option<SeverityStatistics>,
    actions: Vec<(FindingId, ImportAction)>,
) -> QueryResult<ImportResult> {
    let ids_of = |a: ImportAction| -> Vec<FindingId> {
        actions
            .iter()
            .filter(|(_, x)| *x == a)
            .map(|(id, _)| *id)
            .collect()
    };
    let delta = Delta {
        created: stats_of(c, &ids_of(ImportAction::Created)).await?,
        closed: stats_of(c, &ids_of(ImportAction::Closed)).await?,
        reactivated: stats_of(c, &ids_of(ImportAction::Reactivated)).await?,
        untouched: stats_of(c, &ids_of(ImportAction::Untouched)).await?,
    };
    let after = rows::test_statistics(c, test.id).await?;
    let statistics = ImportStatistics {
        before,
        delta,
        after,
    };
    let json = serde_json::to_value(statistics).unwrap_or_default();
    let import = rows::record_import(
        c,
        &rows::NewTestImport {
            test_id: test.id,
            kind,
            scan_type: options.scan_type.clone(),
            file_name: options.file_name.clone(),
            user_id: Some(p.user_id),
            version: options.version.clone(),
            build_id: options.build_id.clone(),
            commit_hash: options.commit_hash.clone(),
            branch_tag: options.branch_tag.clone(),
            statistics: json.clone(),
        },
        &actions,
    )
    .await?;
    let event = NewEvent::new(EventKind::FindingsImported, test.product_id, &json)
        .engagement(test.engagement_id)
        .test(test.id);
    outbox::record(c, &event).await?;
    Ok(ImportResult {
        kind,
        engagement_id: test.engagement_id,
        product_id: test.product_id,
        product_type_id,
        test,
        statistics,
        import,
    })
}

/// The import in the caller's transaction: the findings are stored chunk by chunk as `source`
/// yields them, each chunk deduplicated against the product (earlier chunks included) before the
/// next is read.
async fn import_in(
    c: &mut AsyncPgConnection,
    p: &Principal,
    options: &ImportOptions,
    mut source: Source,
) -> QueryResult<ImportResult> {
    let Resolved {
        engagement,
        product_type_id,
    } = resolve_engagement(c, p, options).await?;
    lifecycle::engagement::open_for_children(c, engagement.id).await?;
    let test = create_test(c, p, options, &engagement).await?;
    let rule = dedup::rule(&options.scan_type);
    let sla = crate::db::sla_configuration::of_product(c, test.product_id)
        .await?
        .policy();
    let dedup = rows::dedup_enabled(c).await?.then_some(&rule);
    let closing = options.close_old_findings == Some(true);
    let by_hash = rule.algorithm != DedupAlgorithm::UniqueIdFromTool;
    let by_uid = matches!(
        rule.algorithm,
        DedupAlgorithm::UniqueIdFromTool | DedupAlgorithm::UniqueIdFromToolOrHashCode
    );
    // What the open findings of the report are known by, for closing the old ones.
    let (mut keep_hashes, mut keep_uids) = (Vec::new(), Vec::new());
    let mut actions: Vec<(FindingId, ImportAction)> = Vec::new();
    while let Some(chunk) = source.next().await? {
        let ids = create_findings(
            c,
            &test,
            options,
            p.user_id,
            &sla,
            &chunk,
            dedup.map(|rule| Dedup {
                rule,
                engagement_only: engagement.deduplication_on_engagement,
            }),
        )
        .await?;
        actions.extend(ids.iter().map(|id| (*id, ImportAction::Created)));
        if closing {
            for (f, hash) in chunk.findings.iter().zip(&chunk.hashes) {
                if f.is_mitigated.unwrap_or(false) {
                    continue;
                }
                if by_hash {
                    keep_hashes.push(hash.clone());
                }
                if let Some(uid) = f.unique_id_from_tool.as_ref().filter(|_| by_uid) {
                    keep_uids.push(uid.clone());
                }
            }
        }
    }
    if closing {
        let old = rows::old_findings(
            c,
            test.id,
            test.test_type_id,
            engagement.id,
            options
                .close_old_findings_product_scope
                .then_some(engagement.product_id),
            options.service.as_deref(),
            &keep_hashes,
            &keep_uids,
        )
        .await?;
        let at = scan_time(options);
        rows::close(c, &old, at, p.user_id).await?;
        let title = test
            .title
            .clone()
            .unwrap_or_else(|| options.scan_type.clone());
        rows::add_notes(c, &old, &rules::import_closed_note(&title), p.user_id).await?;
        actions.extend(old.into_iter().map(|id| (id, ImportAction::Closed)));
    }
    if let Some(date) = options.scan_date {
        rows::extend_engagement(c, engagement.id, date).await?;
    }
    finish(
        c,
        p,
        options,
        ImportKind::Import,
        test,
        product_type_id,
        None,
        actions,
    )
    .await
}

/// When an import happened: the scan date (at midnight UTC) or now.
fn scan_time(options: &ImportOptions) -> DateTime<Utc> {
    options
        .scan_date
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .unwrap_or_else(Utc::now)
}

/// A re-import matching key (§4.3: the test's algorithm; legacy = same title regardless of case
/// and same severity).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum MatchKey<'a> {
    Hash(&'a str),
    Uid(&'a str),
    Legacy(String, &'a str),
}

/// What a re-import does with a report finding.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// It is the stored finding given.
    Matched(FindingId),
    /// It is new to the test.
    Create,
    /// An identical report finding before it (in the matching order) is new to the test.
    Skip,
}

/// The keys a finding matches by under `algorithm` (a finding matches another when they share
/// one).
fn match_keys<'a>(
    algorithm: DedupAlgorithm,
    hash: Option<&'a str>,
    uid: Option<&'a str>,
    title: &str,
    severity: &'a str,
) -> Vec<MatchKey<'a>> {
    let by_hash = hash.map(MatchKey::Hash);
    let by_uid = uid.map(MatchKey::Uid);
    match algorithm {
        DedupAlgorithm::HashCode => by_hash.into_iter().collect(),
        DedupAlgorithm::UniqueIdFromTool => by_uid.into_iter().collect(),
        DedupAlgorithm::UniqueIdFromToolOrHashCode => by_hash.into_iter().chain(by_uid).collect(),
        DedupAlgorithm::Legacy => {
            vec![MatchKey::Legacy(title.to_lowercase(), severity)]
        }
    }
}

/// What becomes of each report finding (in report order), decided on the briefs alone:
/// DefectDojo's re-importer walks the report sorted, so that which of two identical report
/// findings matches is reproducible. A report finding matches the first (lowest id) stored
/// finding sharing any of its keys; one matching none creates one; a later identical report
/// finding matches that one rather than creating another. The briefs and the key maps are gone
/// when this returns, before the report is read again.
fn plan(algorithm: DedupAlgorithm, stored: &[TestFinding], briefs: Vec<Brief>) -> Vec<Plan> {
    let mut first_by_key: HashMap<MatchKey<'_>, FindingId> = HashMap::new();
    for s in stored {
        for key in match_keys(
            algorithm,
            s.keys.hash_code.as_deref(),
            s.keys.unique_id_from_tool.as_deref(),
            &s.title,
            s.severity.as_str(),
        ) {
            first_by_key.entry(key).or_insert(s.id);
        }
    }
    let mut order: Vec<usize> = (0..briefs.len()).collect();
    order.sort_by(|a, b| {
        let (x, y) = (&briefs[*a], &briefs[*b]);
        (&x.hash, &x.uid, &x.file_path, x.line, &x.title).cmp(&(
            &y.hash,
            &y.uid,
            &y.file_path,
            y.line,
            &y.title,
        ))
    });
    let mut new_keys: HashSet<MatchKey<'_>> = HashSet::new();
    let mut plan = vec![Plan::Skip; briefs.len()];
    for i in order {
        let b = &briefs[i];
        let keys = match_keys(
            algorithm,
            Some(&b.hash),
            b.uid.as_deref(),
            &b.title,
            b.severity.as_str(),
        );
        plan[i] = match keys.iter().filter_map(|k| first_by_key.get(k)).min() {
            Some(id) => Plan::Matched(*id),
            None if keys.iter().any(|k| new_keys.contains(k)) => Plan::Skip,
            None => {
                new_keys.extend(keys);
                Plan::Create
            }
        };
    }
    plan
}

/// The re-import in the caller's transaction.
async fn reimport_in(
    c: &mut AsyncPgConnection,
    p: &Principal,
    options: &ImportOptions,
    briefs: Vec<Brief>,
    reader: &Reader,
) -> QueryResult<ImportResult> {
    // The test: by id, or the latest of the scan type in the engagement named.
    let test_id = match options.target.test_id {
        Some(id) => {
            require(c, p, AuthTarget::Test(id), Permission::ImportScanResult).await?;
            let test = crate::db::test::get_for_update(c, id).await?;
            if options
                .target
                .engagement_id
                .is_some_and(|e| e != test.engagement_id)
            {
                return Err(conflict_with_ids());
            }
            let engagement = crate::db::engagement::get(c, test.engagement_id).await?;
            check_names(c, &options.target, &engagement).await?;
            Some(id)
        }
        None => {
            let resolved = resolve_engagement(c, p, options).await;
            let engagement = match resolved {
                Ok(r) => r.engagement,
                Err(e) => return Err(e),
            };
            rows::latest_test(
                c,
                engagement.id,
                &options.scan_type,
                options.target.test_title.as_deref(),
            )
            .await?
        }
    };
    let Some(test_id) = test_id else {
        if options.auto_create_context {
            let mut fallback = options.clone();
            fallback.close_old_findings = Some(false);
            return import_in(c, p, &fallback, reader.stream()).await;
        }
        return Err(DbError::NotFound);
    };
    require(
        c,
        p,
        AuthTarget::Test(test_id),
        Permission::ImportScanResult,
    )
    .await?;
    rows::lock_test(c, test_id).await?;
    let test = crate::db::test::get_for_update(c, test_id).await?;
    lifecycle::engagement::open_for_children(c, test.engagement_id).await?;
    let (_, product_type_id) = product_of(c, test.product_id).await?;
    let before = rows::test_statistics(c, test.id).await?;
    let rule = dedup::rule(&options.scan_type);
    let algorithm = rule.algorithm;
    let stored = rows::test_findings(c, test.id, algorithm == DedupAlgorithm::Legacy).await?;
    // `stored` is in ascending id.
    let by_id = |id: FindingId| -> Option<&TestFinding> {
        stored
            .binary_search_by_key(&id.get(), |s| s.id.get())
            .ok()
            .map(|i| &stored[i])
    };
    let plan = plan(algorithm, &stored, briefs);

    let sla = crate::db::sla_configuration::of_product(c, test.product_id)
        .await?
        .policy();
    let engagement = crate::db::engagement::get(c, test.engagement_id).await?;
    let dedup = rows::dedup_enabled(c).await?.then_some(Dedup {
        rule: &rule,
        engagement_only: engagement.deduplication_on_engagement,
    });
    let mut untouched: Vec<FindingId> = Vec::new();
    let mut reactivated: Vec<FindingId> = Vec::new();
    let mut kept_closed: Vec<FindingId> = Vec::new();
    let mut closed_by_report: Vec<(FindingId, Option<DateTime<Utc>>)> = Vec::new();
    let mut refresh: Vec<rows::Refresh> = Vec::new();
    let mut created: Vec<FindingId> = Vec::new();
    let (mut link, mut unlink) = (Vec::new(), Vec::new());
    // The report again, in report order and a chunk at a time: the new findings are created in
    // the parser's order, gathered into whole chunks (a 10%-changed report would otherwise write
    // them a few at a time), and only about two chunks of findings are in memory at once.
    let mut source = reader.stream();
    let mut next = 0;
    let mut create = Report::default();
    loop {
        let chunk = source.next().await?;
        let last = chunk.is_none();
        // Matched findings whose endpoints follow the report's.
        let mut endpoint_updates: Vec<(FindingId, Vec<Endpoint>)> = Vec::new();
        for (f, hash) in chunk
            .into_iter()
            .flat_map(|c| c.findings.into_iter().zip(c.hashes))
        {
            let i = next;
            next += 1;
            let existing = match plan.get(i) {
                Some(Plan::Create) => {
                    create.findings.push(f);
                    create.hashes.push(hash);
                    continue;
                }
                Some(Plan::Matched(id)) => match by_id(*id) {
                    Some(s) => s,
                    None => continue,
                },
                Some(Plan::Skip) | None => continue,
            };
            let outcome = rules::reimport_outcome(
                existing.status,
                ReportStatus {
                    is_mitigated: f.is_mitigated.unwrap_or(false),
                    false_p: f.false_p.unwrap_or(false),
                    out_of_scope: false,
                    risk_accepted: false,
                },
                options.do_not_reactivate,
            );
            match outcome {
                Outcome::Untouched => {
                    untouched.push(existing.id);
                    endpoint_updates.push((existing.id, f.endpoints));
                }
                Outcome::Ignored => {}
                Outcome::Reactivate => {
                    reactivated.push(existing.id);
                    endpoint_updates.push((existing.id, f.endpoints));
                }
                Outcome::KeepClosed => kept_closed.push(existing.id),
                Outcome::Close => closed_by_report.push((existing.id, f.mitigated)),
                Outcome::CopyFlags => {
                    rows::set_triage(c, existing.id, f.false_p.unwrap_or(false), false, false)
                        .await?;
                    untouched.push(existing.id);
                }
            }
            refresh.push(rows::Refresh {
                id: existing.id,
                fix_available: f.fix_available,
                fix_version: f.fix_version,
                component_name: f.component_name,
                component_version: f.component_version,
            });
        }
        if create.findings.len() >= rows::CHUNK || (last && !create.findings.is_empty()) {
            let report = std::mem::take(&mut create);
            created
                .extend(create_findings(c, &test, options, p.user_id, &sla, &report, dedup).await?);
        }
        // Endpoints of matched findings: those of the report reopened (new ones added), the
        // others mitigated.
        let with_endpoints: Vec<&Endpoint> = endpoint_updates
            .iter()
            .flat_map(|(_, endpoints)| endpoints.iter())
            .collect();
        let by_url = rows::upsert_endpoints(c, test.product_id, &with_endpoints).await?;
        for (id, endpoints) in &endpoint_updates {
            let wanted: HashSet<i32> = endpoints
                .iter()
                .filter_map(|e| by_url.get(&e.url()).copied())
                .collect();
            link.extend(wanted.iter().map(|e| (*id, *e)));
            if let Some(s) = by_id(*id) {
                unlink.extend(
                    s.endpoint_ids
                        .iter()
                        .filter(|e| !wanted.contains(e))
                        .map(|e| (*id, *e)),
                );
            }
        }
        if last {
            break;
        }
    }

    rows::refresh(c, &refresh).await?;
    rows::reactivate(c, &reactivated, options.verified).await?;
    rows::add_notes(
        c,
        &reactivated,
        &rules::reactivated_note(&options.scan_type),
        p.user_id,
    )
    .await?;
    rows::add_notes(
        c,
        &kept_closed,
        &rules::kept_closed_note(&options.scan_type),
        p.user_id,
    )
    .await?;
    rows::link_endpoints(c, &link).await?;
    rows::mitigate_endpoints(c, &unlink, p.user_id).await?;

    // Closed: fixed according to the report, and (with close_old_findings, the default) every
    // finding of the test the report no longer has.
    let at = scan_time(options);
    let mut closed: Vec<FindingId> = Vec::new();
    let mut closed_set: HashSet<FindingId> = HashSet::new();
    for (id, when) in &closed_by_report {
        rows::close(c, &[*id], when.unwrap_or(at), p.user_id).await?;
        closed.push(*id);
        closed_set.insert(*id);
    }
    if options.close_old_findings.unwrap_or(true) {
        let keep: HashSet<FindingId> = untouched.iter().chain(&reactivated).copied().collect();
        let service = options.service.as_deref().filter(|s| !s.is_empty());
        let to_close: Vec<FindingId> = stored
            .iter()
            .filter(|s| !keep.contains(&s.id))
            .filter(|s| s.service.as_deref() == service || service.is_none())
            .filter(|s| !(s.status.is_mitigated || s.status.false_p || s.status.out_of_scope))
            .filter(|s| !closed_set.contains(&s.id))
            .map(|s| s.id)
            .collect();
        rows::close(c, &to_close, at, p.user_id).await?;
        closed.extend(to_close);
    }
    rows::add_notes(
        c,
        &closed,
        &rules::reimport_closed_note(&options.scan_type),
        p.user_id,
    )
    .await?;

    let date = options.scan_date.unwrap_or_else(crate::db::today);
    let tags = (!options.tags.is_empty())
        .then(|| crate::domain::clean_tags(&options.tags).unwrap_or_default());
    rows::touch_test(
        c,
        test.id,
        date,
        options.version.as_deref(),
        options.build_id.as_deref(),
        options.commit_hash.as_deref(),
        options.branch_tag.as_deref(),
        tags.as_deref(),
    )
    .await?;
    if let Some(d) = options.scan_date {
        rows::extend_engagement(c, test.engagement_id, d).await?;
    }
    let test = crate::db::test::get_for_update(c, test.id).await?;
    let mut actions: Vec<(FindingId, ImportAction)> = Vec::new();
    actions.extend(created.iter().map(|id| (*id, ImportAction::Created)));
    actions.extend(closed.iter().map(|id| (*id, ImportAction::Closed)));
    actions.extend(
        reactivated
            .iter()
            .map(|id| (*id, ImportAction::Reactivated)),
    );
    actions.extend(untouched.iter().map(|id| (*id, ImportAction::Untouched)));
    finish(
        c,
        p,
        options,
        ImportKind::Reimport,
        test,
        product_type_id,
        Some(before),
        actions,
    )
    .await
}
