//! Users, SLA configurations, test types and development environments.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    context::{db, principal},
    enums::OrderDirection,
    ids, input,
    input::IdInput,
    pagination::{self, Connection},
};
use crate::{
    db::{
        lookup, page::ListArgs, page::Sort, sla_configuration as sla, sql::NoFilter, user as users,
    },
    domain::{self, ids::SlaConfigurationId},
    error::{ServiceError, ServiceResult},
    service::{access, reference as service},
};

/// A person: engagement or test lead, product manager, reporter, note author.
#[derive(Clone)]
pub struct User(pub users::User);

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
    }
    async fn username(&self) -> &str {
        &self.0.username
    }
    /// Shown to the user itself and to superusers only (null for everyone else).
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        self.private(ctx, self.0.email.as_deref()).flatten()
    }
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    /// Inactive users cannot authenticate. Shown to the user itself and to superusers only.
    async fn is_active(&self, ctx: &Context<'_>) -> Option<bool> {
        self.private(ctx, self.0.is_active)
    }
    /// Superusers may do everything. Shown to the user itself and to superusers only.
    async fn is_superuser(&self, ctx: &Context<'_>) -> Option<bool> {
        self.private(ctx, self.0.is_superuser)
    }
    /// The user's own global role (its groups may add others; see `me.globalRole`). Shown to
    /// the user itself and to superusers only.
    async fn global_role(&self, ctx: &Context<'_>) -> Option<super::access::Role> {
        self.private(ctx, self.0.global_role)
            .flatten()
            .map(Into::into)
    }
}

impl User {
    /// `value` when the caller is this user or a superuser (threat A10: user listings do not
    /// reveal emails or flags).
    fn private<T>(&self, ctx: &Context<'_>, value: T) -> Option<T> {
        ctx.data_opt::<crate::auth::Principal>()
            .filter(|p| p.is_superuser || p.user_id == self.0.id)
            .map(|_| value)
    }
}

/// Days allowed to fix a finding, per severity, and whether each deadline is enforced.
#[derive(Clone)]
pub struct SlaConfiguration(pub sla::SlaConfiguration);

#[Object]
impl SlaConfiguration {
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
    async fn critical(&self) -> i32 {
        self.0.critical
    }
    async fn high(&self) -> i32 {
        self.0.high
    }
    async fn medium(&self) -> i32 {
        self.0.medium
    }
    async fn low(&self) -> i32 {
        self.0.low
    }
    async fn enforce_critical(&self) -> bool {
        self.0.enforce_critical
    }
    async fn enforce_high(&self) -> bool {
        self.0.enforce_high
    }
    async fn enforce_medium(&self) -> bool {
        self.0.enforce_medium
    }
    async fn enforce_low(&self) -> bool {
        self.0.enforce_low
    }
    async fn restart_sla_on_reactivation(&self) -> bool {
        self.0.restart_sla_on_reactivation
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    async fn updated(&self) -> DateTime<Utc> {
        self.0.updated
    }
}

/// The kind of a test (a scanner or a manual activity); created on demand by name.
#[derive(Clone)]
pub struct TestType(pub lookup::TestType);

#[Object]
impl TestType {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn static_tool(&self) -> bool {
        self.0.static_tool
    }
    async fn dynamic_tool(&self) -> bool {
        self.0.dynamic_tool
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn dynamically_generated(&self) -> bool {
        self.0.dynamically_generated
    }
}

/// Where a test ran (Development, Staging, Production, …).
#[derive(Clone)]
pub struct DevelopmentEnvironment(pub lookup::DevelopmentEnvironment);

#[Object]
impl DevelopmentEnvironment {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
}

/// Filter for user lists.
#[derive(InputObject, Default)]
pub struct UserFilter {
    /// Case-insensitive substring of the username or name (and, for superusers, the email).
    search: Option<String>,
}

/// Sort keys of user lists.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "users::UserOrder")]
pub enum UserOrderField {
    Id,
    Username,
}

/// How to sort users.
#[derive(InputObject)]
pub struct UserOrder {
    field: UserOrderField,
    #[graphql(default)]
    direction: OrderDirection,
}

crate::order_input!(UserOrder => users::UserOrder);

#[derive(InputObject)]
pub struct CreateUserInput {
    username: String,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    #[graphql(default)]
    is_superuser: bool,
}

#[derive(SimpleObject)]
pub struct UserPayload {
    user: User,
}

#[derive(InputObject)]
pub struct CreateSlaConfigurationInput {
    name: String,
    description: Option<String>,
    #[graphql(default = 7)]
    critical: i32,
    #[graphql(default = 30)]
    high: i32,
    #[graphql(default = 90)]
    medium: i32,
    #[graphql(default = 120)]
    low: i32,
    #[graphql(default = true)]
    enforce_critical: bool,
    #[graphql(default = true)]
    enforce_high: bool,
    #[graphql(default = true)]
    enforce_medium: bool,
    #[graphql(default = true)]
    enforce_low: bool,
    #[graphql(default)]
    restart_sla_on_reactivation: bool,
}

/// Fields left out stay as they are. Changing days or enforcement recomputes the SLA deadlines
/// of every finding in the products that use this configuration.
#[derive(InputObject)]
pub struct UpdateSlaConfigurationInput {
    id: ID,
    name: Option<String>,
    description: MaybeUndefined<String>,
    critical: Option<i32>,
    high: Option<i32>,
    medium: Option<i32>,
    low: Option<i32>,
    enforce_critical: Option<bool>,
    enforce_high: Option<bool>,
    enforce_medium: Option<bool>,
    enforce_low: Option<bool>,
    restart_sla_on_reactivation: Option<bool>,
}

#[derive(SimpleObject)]
pub struct SlaConfigurationPayload {
    sla_configuration: SlaConfiguration,
}

#[derive(SimpleObject)]
pub struct DeleteSlaConfigurationPayload {
    deleted_id: ID,
}

fn check_days(values: &[(&str, Option<i32>)]) -> ServiceResult<()> {
    for (name, v) in values {
        if let Some(d) = v
            && *d < 1
        {
            return Err(ServiceError::bad_input(format!(
                "{name} must be at least 1 day, got {d}"
            )));
        }
    }
    Ok(())
}

impl TryFrom<CreateUserInput> for users::NewUser {
    type Error = ServiceError;

    fn try_from(input: CreateUserInput) -> ServiceResult<Self> {
        input::check_lengths(&[
            ("email", input.email.as_deref(), users::EMAIL_MAX),
            ("firstName", input.first_name.as_deref(), users::NAME_MAX),
            ("lastName", input.last_name.as_deref(), users::NAME_MAX),
        ])?;
        Ok(Self {
            username: domain::clean_name("username", &input.username, users::USERNAME_MAX)?,
            email: input.email,
            first_name: input.first_name,
            last_name: input.last_name,
            is_superuser: input.is_superuser,
        })
    }
}

impl TryFrom<CreateSlaConfigurationInput> for sla::NewSlaConfiguration {
    type Error = ServiceError;

    fn try_from(input: CreateSlaConfigurationInput) -> ServiceResult<Self> {
        check_days(&[
            ("critical", Some(input.critical)),
            ("high", Some(input.high)),
            ("medium", Some(input.medium)),
            ("low", Some(input.low)),
        ])?;
        input::check_len(
            "description",
            input.description.as_deref(),
            sla::DESCRIPTION_MAX,
        )?;
        Ok(Self {
            name: domain::clean_name("name", &input.name, sla::NAME_MAX)?,
            description: input.description,
            critical: input.critical,
            high: input.high,
            medium: input.medium,
            low: input.low,
            enforce_critical: input.enforce_critical,
            enforce_high: input.enforce_high,
            enforce_medium: input.enforce_medium,
            enforce_low: input.enforce_low,
            restart_sla_on_reactivation: input.restart_sla_on_reactivation,
        })
    }
}

impl TryFrom<UpdateSlaConfigurationInput> for sla::SlaConfigurationChanges {
    type Error = ServiceError;

    fn try_from(input: UpdateSlaConfigurationInput) -> ServiceResult<Self> {
        check_days(&[
            ("critical", input.critical),
            ("high", input.high),
            ("medium", input.medium),
            ("low", input.low),
        ])?;
        if let MaybeUndefined::Value(d) = &input.description {
            input::check_len("description", Some(d), sla::DESCRIPTION_MAX)?;
        }
        Ok(Self {
            name: input
                .name
                .map(|n| domain::clean_name("name", &n, sla::NAME_MAX))
                .transpose()?,
            description: input::maybe(input.description),
            critical: input.critical,
            high: input.high,
            medium: input.medium,
            low: input.low,
            enforce_critical: input.enforce_critical,
            enforce_high: input.enforce_high,
            enforce_medium: input.enforce_medium,
            enforce_low: input.enforce_low,
            restart_sla_on_reactivation: input.restart_sla_on_reactivation,
            updated: None,
        })
    }
}

#[derive(Default)]
pub struct ReferenceQuery;

#[Object]
impl ReferenceQuery {
    /// Every user.
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<UserFilter>,
        order_by: Option<UserOrder>,
    ) -> async_graphql::Result<Connection<User>> {
        let args = ListArgs {
            filter: users::UserFilter {
                search: filter.and_then(|f| f.search),
                include_email: principal(ctx)?.is_superuser,
            },
            sort: UserOrder::sort(order_by),
            window: pagination::window(first, after, last, before)?,
        };
        pagination::top_level(ctx, args, User).await
    }

    /// Every SLA configuration.
    async fn sla_configurations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Connection<SlaConfiguration>> {
        let args = ListArgs {
            filter: NoFilter,
            sort: Sort::default(),
            window: pagination::window(first, after, last, before)?,
        };
        pagination::top_level(ctx, args, SlaConfiguration).await
    }

    /// Every test type.
    async fn test_types(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Connection<TestType>> {
        let args = ListArgs {
            filter: NoFilter,
            sort: Sort::default(),
            window: pagination::window(first, after, last, before)?,
        };
        pagination::top_level(ctx, args, TestType).await
    }

    /// Every development environment.
    async fn development_environments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Connection<DevelopmentEnvironment>> {
        let args = ListArgs {
            filter: NoFilter,
            sort: Sort::default(),
            window: pagination::window(first, after, last, before)?,
        };
        pagination::top_level(ctx, args, DevelopmentEnvironment).await
    }
}

#[derive(Default)]
pub struct ReferenceMutation;

#[Object]
impl ReferenceMutation {
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> async_graphql::Result<UserPayload> {
        let new = input.try_into()?;
        let row = access::create_user(db(ctx), principal(ctx)?, new).await?;
        Ok(UserPayload { user: User(row) })
    }

    async fn create_sla_configuration(
        &self,
        ctx: &Context<'_>,
        input: CreateSlaConfigurationInput,
    ) -> async_graphql::Result<SlaConfigurationPayload> {
        let new = input.try_into()?;
        let row = service::create_sla_configuration(db(ctx), principal(ctx)?, new).await?;
        Ok(SlaConfigurationPayload {
            sla_configuration: SlaConfiguration(row),
        })
    }

    async fn update_sla_configuration(
        &self,
        ctx: &Context<'_>,
        input: UpdateSlaConfigurationInput,
    ) -> async_graphql::Result<SlaConfigurationPayload> {
        let id = ids::decode::<SlaConfigurationId>(&input.id)?;
        let changes = input.try_into()?;
        let row = service::update_sla_configuration(db(ctx), principal(ctx)?, id, changes).await?;
        Ok(SlaConfigurationPayload {
            sla_configuration: SlaConfiguration(row),
        })
    }

    /// Deletes an SLA configuration no product uses (the default one cannot be deleted).
    async fn delete_sla_configuration(
        &self,
        ctx: &Context<'_>,
        input: IdInput,
    ) -> async_graphql::Result<DeleteSlaConfigurationPayload> {
        let id = ids::decode::<SlaConfigurationId>(&input.id)?;
        service::delete_sla_configuration(db(ctx), principal(ctx)?, id).await?;
        Ok(DeleteSlaConfigurationPayload {
            deleted_id: input.id,
        })
    }
}
