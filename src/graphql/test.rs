//! Tests (one run of a tool or a manual activity inside an engagement): the object, lists,
//! filters and mutations.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    context::{db, loader, principal},
    deletes::{self, DeletePayload},
    engagement::Engagement,
    enums::OrderDirection,
    finding::{Finding, FindingFilter, FindingOrder},
    finding_counts::FindingCounts,
    ids, input,
    input::IdInput,
    load,
    loaders::RowId,
    note::{File, Note},
    pagination::{self, Connection},
    reference::{DevelopmentEnvironment, TestType, User},
    scalars::Date,
};
use crate::{
    db::{
        attachment::Attachment,
        counts::CountScope,
        finding::FindingParent,
        lookup::TEST_TYPE_NAME_MAX,
        page::ListArgs,
        test::{self as rows, NewTest, TestChanges},
    },
    domain::{
        self,
        ids::{
            DevelopmentEnvironmentId, EngagementId, NodeKind, ProductId, TestId, TestTypeId, UserId,
        },
    },
    error::{ServiceError, ServiceResult},
    service::lifecycle::test::{self as lifecycle, CreateTest},
};

/// One run of a scanner or a manual activity within an engagement.
#[derive(Clone)]
pub struct Test(pub rows::Test);

/// Plain fields of a test, as its resolvers give them, and its `findingCounts` when the request
/// preloaded them (for [`super::plain::Nodes`]).
impl super::plain::Plain for Test {
    fn plain(&self, field: &str) -> Option<async_graphql::Value> {
        use async_graphql::{InputType, Value};
        let t = &self.0;
        let opt = |s: &Option<String>| {
            s.as_deref()
                .map_or(Value::Null, |s| Value::String(s.into()))
        };
        Some(match field {
            "id" => ids::encode(t.id).to_value(),
            "databaseId" => t.id.get().to_value(),
            "title" => opt(&t.title),
            "description" => opt(&t.description),
            "scanType" => opt(&t.scan_type),
            "targetStart" => Date(t.target_start).to_value(),
            "targetEnd" => Date(t.target_end).to_value(),
            "percentComplete" => t.percent_complete.to_value(),
            "version" => opt(&t.version),
            "buildId" => opt(&t.build_id),
            "commitHash" => opt(&t.commit_hash),
            "branchTag" => opt(&t.branch_tag),
            _ => return None,
        })
    }

    fn plain_object(
        &self,
        field: &async_graphql::parser::types::Field,
        ctx: &async_graphql::ContextSelectionSet<'_>,
    ) -> Option<async_graphql::Value> {
        if field.name.node != "findingCounts" {
            return None;
        }
        let counts: FindingCounts = ctx
            .data_opt::<pagination::Preloaded>()?
            .counts(CountScope::Test(self.0.id))?
            .into();
        super::plain::leaf_object(&field.selection_set.node, "FindingCounts", |name| {
            counts.plain(name)
        })
    }
}

#[Object]
impl Test {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
    }
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn test_type(&self, ctx: &Context<'_>) -> async_graphql::Result<TestType> {
        Ok(TestType(
            loader(ctx)
                .load_one(RowId::new(self.0.test_type_id))
                .await?
                .ok_or_else(|| ServiceError::not_found("TestType"))?,
        ))
    }
    /// The import scan type, for tests created by an import.
    async fn scan_type(&self) -> Option<&str> {
        self.0.scan_type.as_deref()
    }
    async fn target_start(&self) -> Date {
        Date(self.0.target_start)
    }
    async fn target_end(&self) -> Date {
        Date(self.0.target_end)
    }
    async fn percent_complete(&self) -> Option<i32> {
        self.0.percent_complete
    }
    async fn lead(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load::user(ctx, self.0.lead_id).await
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
    async fn tags(&self) -> Vec<String> {
        self.0.tags.iter().flatten().cloned().collect()
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    async fn updated(&self) -> DateTime<Utc> {
        self.0.updated
    }
    async fn engagement(&self, ctx: &Context<'_>) -> async_graphql::Result<Engagement> {
        load::engagement(ctx, self.0.engagement_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("Engagement").into())
    }

    /// The test's findings.
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
        pagination::children(ctx, FindingParent::Test(self.0.id), args, Finding).await
    }

    /// Active findings per severity.
    async fn finding_counts(&self, ctx: &Context<'_>) -> async_graphql::Result<FindingCounts> {
        FindingCounts::load(ctx, CountScope::Test(self.0.id)).await
    }
    /// Every import and re-import into this test, newest first, with what each did.
    async fn imports(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<super::import::TestImport>> {
        let rows = super::context::loader(ctx)
            .load_one(super::loaders::ImportsOf(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(pagination::take_first(rows, first)?
            .into_iter()
            .map(super::import::TestImport)
            .collect())
    }
    /// Notes, oldest first; private notes only for their author and for those who may edit
    /// notes here.
    async fn notes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Note>> {
        load::notes_of(ctx, Attachment::Test(self.0.id), first).await
    }
    /// Attached files, oldest first.
    async fn files(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<File>> {
        load::files_of(ctx, Attachment::Test(self.0.id), first).await
    }
}

/// Filter for test lists.
#[derive(InputObject, Default)]
pub struct TestFilter {
    /// Case-insensitive substring of the title.
    title_contains: Option<String>,
    engagement_id: Option<ID>,
    product_id: Option<ID>,
    test_type_id: Option<ID>,
    lead_id: Option<ID>,
    /// Tests carrying every one of these tags.
    tags: Option<Vec<String>>,
}

impl TestFilter {
    pub fn into_db(self) -> ServiceResult<rows::TestFilter> {
        Ok(rows::TestFilter {
            title_contains: self.title_contains,
            engagement_id: ids::decode_opt::<EngagementId>(&self.engagement_id)?,
            product_id: ids::decode_opt::<ProductId>(&self.product_id)?,
            test_type_id: ids::decode_opt::<TestTypeId>(&self.test_type_id)?,
            lead_id: ids::decode_opt::<UserId>(&self.lead_id)?,
            tags: input::clean_tags(self.tags.unwrap_or_default())?,
        })
    }
}

/// Sort keys of test lists.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "rows::TestOrder")]
pub enum TestOrderField {
    Id,
    Title,
    TargetStart,
    Created,
    Updated,
}

/// How to sort tests (default: by id, ascending).
#[derive(InputObject)]
pub struct TestOrder {
    field: TestOrderField,
    #[graphql(default)]
    direction: OrderDirection,
}

crate::order_input!(TestOrder => rows::TestOrder);

#[derive(InputObject)]
pub struct CreateTestInput {
    engagement_id: ID,
    title: Option<String>,
    /// Test type by name: an existing one (see `testTypes`). Only a superuser may name a new
    /// one, which is then created.
    test_type: String,
    description: Option<String>,
    target_start: Date,
    /// Not before `targetStart`.
    target_end: Date,
    percent_complete: Option<i32>,
    lead_id: Option<ID>,
    environment_id: Option<ID>,
    version: Option<String>,
    build_id: Option<String>,
    commit_hash: Option<String>,
    branch_tag: Option<String>,
    tags: Option<Vec<String>>,
}

/// Fields left out stay as they are; `null` clears a nullable field.
#[derive(InputObject)]
pub struct UpdateTestInput {
    id: ID,
    /// Moves the test with its findings to another engagement (needs TEST_ADD there; the
    /// engagement must not be COMPLETED).
    engagement_id: Option<ID>,
    title: MaybeUndefined<String>,
    test_type_id: Option<ID>,
    description: MaybeUndefined<String>,
    target_start: Option<Date>,
    target_end: Option<Date>,
    percent_complete: MaybeUndefined<i32>,
    lead_id: MaybeUndefined<ID>,
    environment_id: MaybeUndefined<ID>,
    version: MaybeUndefined<String>,
    build_id: MaybeUndefined<String>,
    commit_hash: MaybeUndefined<String>,
    branch_tag: MaybeUndefined<String>,
    tags: Option<Vec<String>>,
}

#[derive(SimpleObject)]
pub struct TestPayload {
    test: Test,
}

impl From<rows::Test> for TestPayload {
    fn from(row: rows::Test) -> Self {
        TestPayload { test: Test(row) }
    }
}

impl TryFrom<CreateTestInput> for CreateTest {
    type Error = ServiceError;

    fn try_from(input: CreateTestInput) -> ServiceResult<Self> {
        domain::check_date_range(input.target_start.0, input.target_end.0)?;
        check_percent(input.percent_complete)?;
        input::check_lengths(&[
            ("version", input.version.as_deref(), rows::VERSION_MAX),
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
        let test_type = domain::clean_name("testType", &input.test_type, TEST_TYPE_NAME_MAX)?;
        let test = NewTest {
            engagement_id: ids::decode::<EngagementId>(&input.engagement_id)?,
            // Filled in by the service (the engagement's product; the type named).
            product_id: ProductId::new(0),
            test_type_id: TestTypeId::new(0),
            lead_id: ids::decode_opt::<UserId>(&input.lead_id)?,
            scan_type: None,
            title: input
                .title
                .map(|t| domain::clean_name("title", &t, rows::TITLE_MAX))
                .transpose()?,
            description: input.description,
            target_start: input.target_start.0,
            target_end: input.target_end.0,
            percent_complete: input.percent_complete,
            environment_id: ids::decode_opt::<DevelopmentEnvironmentId>(&input.environment_id)?,
            version: input.version,
            build_id: input.build_id,
            commit_hash: input.commit_hash,
            branch_tag: input.branch_tag,
            tags: input::clean_tags(input.tags.unwrap_or_default())?,
        };
        Ok(CreateTest { test, test_type })
    }
}

impl TryFrom<UpdateTestInput> for TestChanges {
    type Error = ServiceError;

    fn try_from(input: UpdateTestInput) -> ServiceResult<Self> {
        if let (Some(s), Some(e)) = (input.target_start, input.target_end) {
            domain::check_date_range(s.0, e.0)?;
        }
        if let MaybeUndefined::Value(p) = input.percent_complete {
            check_percent(Some(p))?;
        }
        let text = input::maybe_str;
        input::check_lengths(&[
            ("version", text(&input.version), rows::VERSION_MAX),
            ("buildId", text(&input.build_id), rows::BUILD_ID_MAX),
            (
                "commitHash",
                text(&input.commit_hash),
                rows::COMMIT_HASH_MAX,
            ),
            ("branchTag", text(&input.branch_tag), rows::BRANCH_TAG_MAX),
        ])?;
        Ok(TestChanges {
            engagement_id: ids::decode_opt::<EngagementId>(&input.engagement_id)?,
            product_id: None,
            test_type_id: ids::decode_opt::<TestTypeId>(&input.test_type_id)?,
            lead_id: input::maybe_id::<UserId>(input.lead_id)?,
            title: match input::maybe(input.title) {
                Some(Some(t)) => Some(Some(domain::clean_name("title", &t, rows::TITLE_MAX)?)),
                other => other,
            },
            description: input::maybe(input.description),
            target_start: input.target_start.map(|d| d.0),
            target_end: input.target_end.map(|d| d.0),
            percent_complete: input::maybe(input.percent_complete),
            environment_id: input::maybe_id::<DevelopmentEnvironmentId>(input.environment_id)?,
            version: input::maybe(input.version),
            build_id: input::maybe(input.build_id),
            commit_hash: input::maybe(input.commit_hash),
            branch_tag: input::maybe(input.branch_tag),
            tags: input.tags.map(input::clean_tags).transpose()?,
            updated: None,
        })
    }
}

fn check_percent(v: Option<i32>) -> ServiceResult<()> {
    if v.is_some_and(|p| !(0..=100).contains(&p)) {
        return Err(ServiceError::bad_input(
            "percentComplete must be between 0 and 100",
        ));
    }
    Ok(())
}

#[derive(Default)]
pub struct TestQuery;

#[Object]
impl TestQuery {
    /// Every test.
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
        pagination::top_level(ctx, args, Test).await
    }
}

#[derive(Default)]
pub struct TestMutation;

#[Object]
impl TestMutation {
    /// Adds a test to an engagement; fails with ENGAGEMENT_COMPLETED when the engagement is closed.
    /// `testType` names an existing test type; only superusers may name a new one, which is
    /// then created (test types are shared by every tenant). An unknown name from anyone else
    /// is BAD_USER_INPUT.
    async fn create_test(
        &self,
        ctx: &Context<'_>,
        input: CreateTestInput,
    ) -> async_graphql::Result<TestPayload> {
        let new = input.try_into()?;
        let row = lifecycle::create(db(ctx), principal(ctx)?, new).await?;
        Ok(row.into())
    }

    async fn update_test(
        &self,
        ctx: &Context<'_>,
        input: UpdateTestInput,
    ) -> async_graphql::Result<TestPayload> {
        let id = ids::decode::<TestId>(&input.id)?;
        let changes = input.try_into()?;
        let row = lifecycle::update(db(ctx), principal(ctx)?, id, changes).await?;
        Ok(row.into())
    }

    /// Deletes the test with its findings, notes and files.
    async fn delete_test(
        &self,
        ctx: &Context<'_>,
        input: IdInput,
    ) -> async_graphql::Result<DeletePayload> {
        deletes::delete(ctx, NodeKind::Test, &input.id).await
    }
}
