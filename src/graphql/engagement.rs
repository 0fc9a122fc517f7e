//! Engagements: the object, lists, filters, mutations and the lifecycle (close, reopen, copy).

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    context::{db, loader, principal},
    deletes::{self, DeletePayload},
    enums::{self, EngagementStatus, EngagementType, OrderDirection},
    finding::{Finding, FindingFilter, FindingOrder},
    finding_counts::FindingCounts,
    ids, input,
    input::IdInput,
    load,
    loaders::RowId,
    note::{File, Note},
    pagination::{self, Connection},
    product::Product,
    reference::{DevelopmentEnvironment, User},
    scalars::Date,
    test::{Test, TestFilter, TestOrder},
};
use crate::{
    db::{
        self as store,
        attachment::Attachment,
        counts::CountScope,
        engagement::{self as rows, EngagementChanges, NewEngagement},
        finding::FindingParent,
        page::ListArgs,
        test::TestParent,
    },
    domain::{
        self,
        ids::{DevelopmentEnvironmentId, EngagementId, NodeKind, ProductId, ProductTypeId, UserId},
    },
    error::{ServiceError, ServiceResult},
    service::lifecycle::engagement as lifecycle,
};

/// A period of security work on a product (a pentest, a CI/CD pipeline, …).
#[derive(Clone)]
pub struct Engagement(pub rows::Engagement);

#[Object]
impl Engagement {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn version(&self) -> Option<&str> {
        self.0.version.as_deref()
    }
    async fn first_contacted(&self) -> Option<Date> {
        self.0.first_contacted.map(Date)
    }
    async fn target_start(&self) -> Date {
        Date(self.0.target_start)
    }
    async fn target_end(&self) -> Date {
        Date(self.0.target_end)
    }
    async fn lead(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load::user(ctx, self.0.lead_id).await
    }
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    async fn tracker(&self) -> Option<&str> {
        self.0.tracker.as_deref()
    }
    async fn test_strategy(&self) -> Option<&str> {
        self.0.test_strategy.as_deref()
    }
    async fn source_code_management_uri(&self) -> Option<&str> {
        self.0.source_code_management_uri.as_deref()
    }
    async fn engagement_type(&self) -> EngagementType {
        self.0.engagement_type.into()
    }
    async fn status(&self) -> EngagementStatus {
        self.0.status.into()
    }
    /// False once closed; only `closeEngagement`/`reopenEngagement` change it.
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn done_testing(&self) -> bool {
        self.0.done_testing
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
    async fn environment(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<DevelopmentEnvironment>> {
        match self.0.environment_id {
            None => Ok(None),
            Some(id) => Ok(loader(ctx)
                .load_one(RowId::new(id))
                .await?
                .map(DevelopmentEnvironment)),
        }
    }
    /// Deduplicate findings only inside this engagement instead of the whole product.
    async fn deduplication_on_engagement(&self) -> bool {
        self.0.deduplication_on_engagement
    }
    async fn tags(&self) -> Vec<String> {
        input::strings(&self.0.tags)
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    async fn updated(&self) -> DateTime<Utc> {
        self.0.updated
    }
    /// Target end passed (grace: 10 days for CI/CD, none for Interactive) and not COMPLETED or
    /// CANCELLED. Shown, never blocking.
    async fn is_overdue(&self) -> bool {
        domain::engagement::is_overdue(
            self.0.status,
            self.0.engagement_type,
            self.0.target_end,
            store::today(),
        )
    }
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Product> {
        load::product(ctx, self.0.product_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("Product").into())
    }

    /// The engagement's tests.
    async fn tests(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<TestFilter>,
        order_by: Option<TestOrder>,
    ) -> async_graphql::Result<Connection<Test>> {
        let args = ListArgs {
            filter: filter.unwrap_or_default().into_db()?,
            sort: TestOrder::sort(order_by),
            window: pagination::window(first, after, last, before)?,
        };
        pagination::children(ctx, TestParent::Engagement(self.0.id), args, Test).await
    }

    /// The findings of all the engagement's tests.
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
        pagination::children(ctx, FindingParent::Engagement(self.0.id), args, Finding).await
    }

    /// Active findings per severity.
    async fn finding_counts(&self, ctx: &Context<'_>) -> async_graphql::Result<FindingCounts> {
        FindingCounts::load(ctx, CountScope::Engagement(self.0.id)).await
    }
    /// Notes, oldest first; private notes only for their author and for those who may edit
    /// notes here.
    async fn notes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Note>> {
        load::notes_of(ctx, Attachment::Engagement(self.0.id), first).await
    }
    /// Attached files, oldest first.
    async fn files(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<File>> {
        load::files_of(ctx, Attachment::Engagement(self.0.id), first).await
    }
}

/// Filter for engagement lists.
#[derive(InputObject, Default)]
pub struct EngagementFilter {
    /// Case-insensitive substring of the name.
    name_contains: Option<String>,
    /// Any of these statuses.
    status: Option<Vec<EngagementStatus>>,
    engagement_type: Option<EngagementType>,
    product_id: Option<ID>,
    product_type_id: Option<ID>,
    lead_id: Option<ID>,
    active: Option<bool>,
    /// Overdue as `isOverdue` defines it (or not, with `false`).
    overdue: Option<bool>,
    /// Engagements starting on or before this date.
    target_start_before: Option<Date>,
    /// Engagements ending on or after this date.
    target_end_after: Option<Date>,
    /// Engagements carrying every one of these tags.
    tags: Option<Vec<String>>,
}

impl EngagementFilter {
    pub fn into_db(self) -> ServiceResult<rows::EngagementFilter> {
        Ok(rows::EngagementFilter {
            name_contains: self.name_contains,
            status: enums::to_domain(self.status),
            engagement_type: self.engagement_type.map(Into::into),
            product_id: ids::decode_opt::<ProductId>(&self.product_id)?,
            product_type_id: ids::decode_opt::<ProductTypeId>(&self.product_type_id)?,
            lead_id: ids::decode_opt::<UserId>(&self.lead_id)?,
            active: self.active,
            overdue: self.overdue,
            target_start_before: self.target_start_before.map(|d| d.0),
            target_end_after: self.target_end_after.map(|d| d.0),
            tags: input::clean_tags(self.tags.unwrap_or_default())?,
        })
    }
}

/// Sort keys of engagement lists.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "rows::EngagementOrder")]
pub enum EngagementOrderField {
    Id,
    Name,
    TargetStart,
    TargetEnd,
    Status,
    Created,
    Updated,
}

/// How to sort engagements (default: by id, ascending).
#[derive(InputObject)]
pub struct EngagementOrder {
    field: EngagementOrderField,
    #[graphql(default)]
    direction: OrderDirection,
}

crate::order_input!(EngagementOrder => rows::EngagementOrder);

#[derive(InputObject)]
pub struct CreateEngagementInput {
    product_id: ID,
    /// Unique within the product.
    name: String,
    description: Option<String>,
    version: Option<String>,
    first_contacted: Option<Date>,
    target_start: Date,
    /// Not before `targetStart`.
    target_end: Date,
    lead_id: Option<ID>,
    reason: Option<String>,
    tracker: Option<String>,
    test_strategy: Option<String>,
    source_code_management_uri: Option<String>,
    #[graphql(default_with = "EngagementType::Interactive")]
    engagement_type: EngagementType,
    #[graphql(default_with = "EngagementStatus::NotStarted")]
    status: EngagementStatus,
    #[graphql(default)]
    done_testing: bool,
    build_id: Option<String>,
    commit_hash: Option<String>,
    branch_tag: Option<String>,
    environment_id: Option<ID>,
    #[graphql(default)]
    deduplication_on_engagement: bool,
    tags: Option<Vec<String>>,
}

/// Fields left out stay as they are; `null` clears a nullable field.
#[derive(InputObject)]
pub struct UpdateEngagementInput {
    id: ID,
    /// Moves the engagement with its tests and findings to another product (needs
    /// ENGAGEMENT_ADD there; the findings' SLA deadlines follow the new product).
    product_id: Option<ID>,
    name: Option<String>,
    description: MaybeUndefined<String>,
    version: MaybeUndefined<String>,
    first_contacted: MaybeUndefined<Date>,
    target_start: Option<Date>,
    target_end: Option<Date>,
    lead_id: MaybeUndefined<ID>,
    reason: MaybeUndefined<String>,
    tracker: MaybeUndefined<String>,
    test_strategy: MaybeUndefined<String>,
    source_code_management_uri: MaybeUndefined<String>,
    engagement_type: Option<EngagementType>,
    status: Option<EngagementStatus>,
    done_testing: Option<bool>,
    build_id: MaybeUndefined<String>,
    commit_hash: MaybeUndefined<String>,
    branch_tag: MaybeUndefined<String>,
    environment_id: MaybeUndefined<ID>,
    deduplication_on_engagement: Option<bool>,
    tags: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct CopyEngagementInput {
    id: ID,
    /// Name of the copy; default "<name> (copy N)".
    name: Option<String>,
}

impl TryFrom<CreateEngagementInput> for NewEngagement {
    type Error = ServiceError;

    fn try_from(input: CreateEngagementInput) -> ServiceResult<Self> {
        domain::check_date_range(input.target_start.0, input.target_end.0)?;
        input::check_lengths(&[
            (
                "description",
                input.description.as_deref(),
                rows::DESCRIPTION_MAX,
            ),
            ("version", input.version.as_deref(), rows::VERSION_MAX),
            ("reason", input.reason.as_deref(), rows::REASON_MAX),
            ("buildId", input.build_id.as_deref(), rows::BUILD_ID_MAX),
            (
                "commitHash",
                input.commit_hash.as_deref(),
                rows::COMMIT_HASH_MAX,
            ),
            (
                "branchTag",
                input.branch_tag.as_deref(),
                rows::BRANCH_TAG_MAX,
            ),
        ])?;
        let status: domain::EngagementStatus = input.status.into();
        Ok(NewEngagement {
            product_id: ids::decode::<ProductId>(&input.product_id)?,
            name: domain::clean_name("name", &input.name, rows::NAME_MAX)?,
            description: input.description,
            version: input.version,
            first_contacted: input.first_contacted.map(|d| d.0),
            target_start: input.target_start.0,
            target_end: input.target_end.0,
            lead_id: ids::decode_opt::<UserId>(&input.lead_id)?,
            reason: input.reason,
            tracker: input::url("tracker", input.tracker, rows::TRACKER_MAX, false)?,
            test_strategy: input::url(
                "testStrategy",
                input.test_strategy,
                rows::TEST_STRATEGY_MAX,
                false,
            )?,
            source_code_management_uri: input::url(
                "sourceCodeManagementUri",
                input.source_code_management_uri,
                rows::SOURCE_CODE_MANAGEMENT_URI_MAX,
                true,
            )?,
            engagement_type: input.engagement_type.into(),
            status,
            active: status != domain::EngagementStatus::Completed,
            done_testing: input.done_testing,
            build_id: input.build_id,
            commit_hash: input.commit_hash,
            branch_tag: input.branch_tag,
            environment_id: ids::decode_opt::<DevelopmentEnvironmentId>(&input.environment_id)?,
            deduplication_on_engagement: input.deduplication_on_engagement,
            tags: input::clean_tags(input.tags.unwrap_or_default())?,
        })
    }
}

impl TryFrom<UpdateEngagementInput> for EngagementChanges {
    type Error = ServiceError;

    fn try_from(input: UpdateEngagementInput) -> ServiceResult<Self> {
        if let (Some(s), Some(e)) = (input.target_start, input.target_end) {
            domain::check_date_range(s.0, e.0)?;
        }
        let text = input::maybe_str;
        input::check_lengths(&[
            (
                "description",
                text(&input.description),
                rows::DESCRIPTION_MAX,
            ),
            ("version", text(&input.version), rows::VERSION_MAX),
            ("reason", text(&input.reason), rows::REASON_MAX),
            ("buildId", text(&input.build_id), rows::BUILD_ID_MAX),
            (
                "commitHash",
                text(&input.commit_hash),
                rows::COMMIT_HASH_MAX,
            ),
            ("branchTag", text(&input.branch_tag), rows::BRANCH_TAG_MAX),
        ])?;
        Ok(EngagementChanges {
            product_id: ids::decode_opt::<ProductId>(&input.product_id)?,
            name: input
                .name
                .map(|n| domain::clean_name("name", &n, rows::NAME_MAX))
                .transpose()?,
            description: input::maybe(input.description),
            version: input::maybe(input.version),
            first_contacted: input::maybe(input.first_contacted).map(|d| d.map(|d| d.0)),
            target_start: input.target_start.map(|d| d.0),
            target_end: input.target_end.map(|d| d.0),
            lead_id: input::maybe_id::<UserId>(input.lead_id)?,
            reason: input::maybe(input.reason),
            tracker: input::maybe_url("tracker", input.tracker, rows::TRACKER_MAX, false)?,
            test_strategy: input::maybe_url(
                "testStrategy",
                input.test_strategy,
                rows::TEST_STRATEGY_MAX,
                false,
            )?,
            source_code_management_uri: input::maybe_url(
                "sourceCodeManagementUri",
                input.source_code_management_uri,
                rows::SOURCE_CODE_MANAGEMENT_URI_MAX,
                true,
            )?,
            engagement_type: input.engagement_type.map(Into::into),
            status: input.status.map(Into::into),
            active: None,
            done_testing: input.done_testing,
            build_id: input::maybe(input.build_id),
            commit_hash: input::maybe(input.commit_hash),
            branch_tag: input::maybe(input.branch_tag),
            environment_id: input::maybe_id::<DevelopmentEnvironmentId>(input.environment_id)?,
            deduplication_on_engagement: input.deduplication_on_engagement,
            tags: input.tags.map(input::clean_tags).transpose()?,
            updated: None,
        })
    }
}

#[derive(SimpleObject)]
pub struct EngagementPayload {
    engagement: Engagement,
}

impl From<rows::Engagement> for EngagementPayload {
    fn from(row: rows::Engagement) -> Self {
        EngagementPayload {
            engagement: Engagement(row),
        }
    }
}

#[derive(Default)]
pub struct EngagementQuery;

#[Object]
impl EngagementQuery {
    /// Every engagement.
    async fn engagements(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<EngagementFilter>,
        order_by: Option<EngagementOrder>,
    ) -> async_graphql::Result<Connection<Engagement>> {
        let args = ListArgs {
            filter: filter.unwrap_or_default().into_db()?,
            sort: EngagementOrder::sort(order_by),
            window: pagination::window(first, after, last, before)?,
        };
        pagination::top_level(ctx, args, Engagement).await
    }
}

#[derive(Default)]
pub struct EngagementMutation;

#[Object]
impl EngagementMutation {
    async fn create_engagement(
        &self,
        ctx: &Context<'_>,
        input: CreateEngagementInput,
    ) -> async_graphql::Result<EngagementPayload> {
        let new = input.try_into()?;
        let row = lifecycle::create(db(ctx), principal(ctx)?, new).await?;
        Ok(row.into())
    }

    async fn update_engagement(
        &self,
        ctx: &Context<'_>,
        input: UpdateEngagementInput,
    ) -> async_graphql::Result<EngagementPayload> {
        let id = ids::decode::<EngagementId>(&input.id)?;
        let changes = input.try_into()?;
        let row = lifecycle::update(db(ctx), principal(ctx)?, id, changes).await?;
        Ok(row.into())
    }

    /// Deletes the engagement with its tests, findings, notes and files.
    async fn delete_engagement(
        &self,
        ctx: &Context<'_>,
        input: IdInput,
    ) -> async_graphql::Result<DeletePayload> {
        deletes::delete(ctx, NodeKind::Engagement, &input.id).await
    }

    /// Status COMPLETED, inactive. Findings keep their own status; adding tests or findings fails
    /// with ENGAGEMENT_COMPLETED until the engagement is reopened.
    async fn close_engagement(
        &self,
        ctx: &Context<'_>,
        input: IdInput,
    ) -> async_graphql::Result<EngagementPayload> {
        let id = ids::decode::<EngagementId>(&input.id)?;
        let row = lifecycle::close(db(ctx), principal(ctx)?, id).await?;
        Ok(row.into())
    }

    /// Status IN_PROGRESS, active.
    async fn reopen_engagement(
        &self,
        ctx: &Context<'_>,
        input: IdInput,
    ) -> async_graphql::Result<EngagementPayload> {
        let id = ids::decode::<EngagementId>(&input.id)?;
        let row = lifecycle::reopen(db(ctx), principal(ctx)?, id).await?;
        Ok(row.into())
    }

    /// Deep copy in the same product: tests, findings, notes, files and tags.
    async fn copy_engagement(
        &self,
        ctx: &Context<'_>,
        input: CopyEngagementInput,
    ) -> async_graphql::Result<EngagementPayload> {
        let id = ids::decode::<EngagementId>(&input.id)?;
        let name = input
            .name
            .map(|n| domain::clean_name("name", &n, rows::NAME_MAX))
            .transpose()
            .map_err(ServiceError::from)?;
        let row = lifecycle::copy(db(ctx), principal(ctx)?, id, name).await?;
        Ok(row.into())
    }
}
