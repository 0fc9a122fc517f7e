//! Products: the object, its lists, filters and mutations.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};

use super::{
    access::Membership,
    context::{db, loader, principal},
    deletes::{self, DeletePayload},
    engagement::{Engagement, EngagementFilter, EngagementOrder},
    enums::{self, BusinessCriticality, Lifecycle, OrderDirection, Origin, Platform},
    finding::{Finding, FindingFilter, FindingOrder},
    finding_counts::FindingCounts,
    ids, input,
    input::IdInput,
    load,
    loaders::RowId,
    pagination::{self, Connection},
    permissions::{self, MyPermissions},
    product_type::ProductType,
    reference::{SlaConfiguration, User},
    test::{Test, TestFilter, TestOrder},
};
use crate::{
    db::{
        authz::Anchor, counts::CountScope, engagement::EngagementParent, finding::FindingParent,
        membership::On, page::ListArgs, product as rows, sla_configuration, test::TestParent,
    },
    domain::{
        self,
        ids::{NodeKind, ProductId, ProductTypeId, SlaConfigurationId, UserId},
    },
    error::{ServiceError, ServiceResult},
    service::products as service,
};

/// Something the organization builds or runs, and assesses.
#[derive(Clone)]
pub struct Product(pub rows::Product);

/// A technology a product uses.
#[derive(SimpleObject, InputObject, Clone, Debug)]
#[graphql(input_name = "TechnologyInput")]
pub struct Technology {
    pub name: String,
    pub version: Option<String>,
}

#[Object]
impl Product {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn product_type(&self, ctx: &Context<'_>) -> async_graphql::Result<ProductType> {
        load::product_type(ctx, self.0.product_type_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("ProductType").into())
    }
    async fn sla_configuration(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<SlaConfiguration> {
        Ok(SlaConfiguration(
            loader(ctx)
                .load_one(RowId::new(self.0.sla_configuration_id))
                .await?
                .ok_or_else(|| ServiceError::not_found("SlaConfiguration"))?,
        ))
    }
    async fn product_manager(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load::user(ctx, self.0.product_manager_id).await
    }
    async fn technical_contact(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load::user(ctx, self.0.technical_contact_id).await
    }
    async fn team_manager(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load::user(ctx, self.0.team_manager_id).await
    }
    async fn business_criticality(&self) -> Option<BusinessCriticality> {
        self.0.business_criticality.map(Into::into)
    }
    async fn platform(&self) -> Option<Platform> {
        self.0.platform.map(Into::into)
    }
    async fn lifecycle(&self) -> Option<Lifecycle> {
        self.0.lifecycle.map(Into::into)
    }
    async fn origin(&self) -> Option<Origin> {
        self.0.origin.map(Into::into)
    }
    async fn user_records(&self) -> Option<i64> {
        self.0.user_records
    }
    async fn revenue(&self) -> Option<&BigDecimal> {
        self.0.revenue.as_ref()
    }
    async fn external_audience(&self) -> bool {
        self.0.external_audience
    }
    async fn internet_accessible(&self) -> bool {
        self.0.internet_accessible
    }
    async fn regulations(&self) -> Vec<String> {
        input::strings(&self.0.regulations)
    }
    async fn technologies(&self) -> Vec<Technology> {
        self.0
            .technology_list()
            .into_iter()
            .map(|t| Technology {
                name: t.name,
                version: t.version,
            })
            .collect()
    }
    async fn tags(&self) -> Vec<String> {
        input::strings(&self.0.tags)
    }
    async fn enable_simple_risk_acceptance(&self) -> bool {
        self.0.enable_simple_risk_acceptance
    }
    async fn enable_full_risk_acceptance(&self) -> bool {
        self.0.enable_full_risk_acceptance
    }
    async fn disable_sla_breach_notifications(&self) -> bool {
        self.0.disable_sla_breach_notifications
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    async fn updated(&self) -> DateTime<Utc> {
        self.0.updated
    }

    /// The product's engagements.
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
        pagination::children(ctx, EngagementParent::Product(self.0.id), args, Engagement).await
    }

    /// The tests of all the product's engagements.
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
        pagination::children(ctx, TestParent::Product(self.0.id), args, Test).await
    }

    /// The findings of all the product's tests.
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
        pagination::children(ctx, FindingParent::Product(self.0.id), args, Finding).await
    }

    /// Active findings per severity.
    async fn finding_counts(&self, ctx: &Context<'_>) -> async_graphql::Result<FindingCounts> {
        FindingCounts::load(ctx, CountScope::Product(self.0.id)).await
    }

    /// Roles granted on this product itself (roles on its product type apply too: see
    /// `productType.members`).
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Membership>> {
        load::members(ctx, On::Product(self.0.id), first).await
    }

    /// What the caller may do on this product and everything in it.
    async fn my_permissions(&self, ctx: &Context<'_>) -> async_graphql::Result<MyPermissions> {
        permissions::my_permissions(ctx, Anchor::Product(self.0.id)).await
    }
}

/// Filter for product lists.
#[derive(InputObject, Default)]
pub struct ProductFilter {
    /// Case-insensitive substring of the name.
    name_contains: Option<String>,
    product_type_id: Option<ID>,
    sla_configuration_id: Option<ID>,
    /// Any of these.
    business_criticality: Option<Vec<BusinessCriticality>>,
    platform: Option<Vec<Platform>>,
    lifecycle: Option<Vec<Lifecycle>>,
    origin: Option<Vec<Origin>>,
    external_audience: Option<bool>,
    internet_accessible: Option<bool>,
    /// Products carrying every one of these tags.
    tags: Option<Vec<String>>,
}

impl ProductFilter {
    pub fn into_db(self) -> ServiceResult<rows::ProductFilter> {
        Ok(rows::ProductFilter {
            name_contains: self.name_contains,
            product_type_id: ids::decode_opt::<ProductTypeId>(&self.product_type_id)?,
            sla_configuration_id: ids::decode_opt::<SlaConfigurationId>(
                &self.sla_configuration_id,
            )?,
            business_criticality: enums::to_domain(self.business_criticality),
            platform: enums::to_domain(self.platform),
            lifecycle: enums::to_domain(self.lifecycle),
            origin: enums::to_domain(self.origin),
            external_audience: self.external_audience,
            internet_accessible: self.internet_accessible,
            tags: input::clean_tags(self.tags.unwrap_or_default())?,
        })
    }
}

/// Sort keys of product lists.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "rows::ProductOrder")]
pub enum ProductOrderField {
    Id,
    Name,
    Created,
    Updated,
}

/// How to sort products (default: by id, ascending).
#[derive(InputObject)]
pub struct ProductOrder {
    field: ProductOrderField,
    #[graphql(default)]
    direction: OrderDirection,
}

crate::order_input!(ProductOrder => rows::ProductOrder);

#[derive(InputObject)]
pub struct CreateProductInput {
    name: String,
    description: String,
    product_type_id: ID,
    /// Defaults to the "Default" SLA configuration.
    sla_configuration_id: Option<ID>,
    product_manager_id: Option<ID>,
    technical_contact_id: Option<ID>,
    team_manager_id: Option<ID>,
    business_criticality: Option<BusinessCriticality>,
    platform: Option<Platform>,
    lifecycle: Option<Lifecycle>,
    origin: Option<Origin>,
    user_records: Option<i64>,
    revenue: Option<BigDecimal>,
    #[graphql(default)]
    external_audience: bool,
    #[graphql(default)]
    internet_accessible: bool,
    regulations: Option<Vec<String>>,
    technologies: Option<Vec<Technology>>,
    tags: Option<Vec<String>>,
    #[graphql(default)]
    enable_simple_risk_acceptance: bool,
    #[graphql(default = true)]
    enable_full_risk_acceptance: bool,
    #[graphql(default)]
    disable_sla_breach_notifications: bool,
}

/// Fields left out stay as they are; `null` clears a nullable field.
#[derive(InputObject)]
pub struct UpdateProductInput {
    id: ID,
    name: Option<String>,
    description: Option<String>,
    /// Moves the product to another product type.
    product_type_id: Option<ID>,
    /// Changing it recomputes the SLA deadlines of the product's findings.
    sla_configuration_id: Option<ID>,
    product_manager_id: MaybeUndefined<ID>,
    technical_contact_id: MaybeUndefined<ID>,
    team_manager_id: MaybeUndefined<ID>,
    business_criticality: MaybeUndefined<BusinessCriticality>,
    platform: MaybeUndefined<Platform>,
    lifecycle: MaybeUndefined<Lifecycle>,
    origin: MaybeUndefined<Origin>,
    user_records: MaybeUndefined<i64>,
    revenue: MaybeUndefined<BigDecimal>,
    external_audience: Option<bool>,
    internet_accessible: Option<bool>,
    regulations: Option<Vec<String>>,
    technologies: Option<Vec<Technology>>,
    tags: Option<Vec<String>>,
    enable_simple_risk_acceptance: Option<bool>,
    enable_full_risk_acceptance: Option<bool>,
    disable_sla_breach_notifications: Option<bool>,
}

#[derive(SimpleObject)]
pub struct ProductPayload {
    product: Product,
}

/// Revenue is stored as `NUMERIC(15, 2)`: not negative, and below 10^13 once rounded to cents
/// (a larger value would overflow the column, which is the client's mistake, not an internal one).
fn check_revenue(v: Option<&BigDecimal>) -> ServiceResult<()> {
    let Some(v) = v else { return Ok(()) };
    if v < &BigDecimal::from(0) {
        return Err(ServiceError::bad_input("revenue must not be negative"));
    }
    let cents = v.with_scale_round(2, bigdecimal::RoundingMode::HalfUp);
    if cents >= rows::REVENUE_LIMIT {
        return Err(ServiceError::bad_input(format!(
            "revenue must be less than {}",
            rows::REVENUE_LIMIT
        )));
    }
    Ok(())
}

fn check_user_records(v: Option<i64>) -> ServiceResult<()> {
    if v.is_some_and(|n| n < 0) {
        return Err(ServiceError::bad_input("userRecords must not be negative"));
    }
    Ok(())
}

fn technologies_json(t: Vec<Technology>) -> ServiceResult<serde_json::Value> {
    domain::check_list_len("technologies", &t)?;
    let list: Vec<rows::Technology> = t
        .into_iter()
        .map(|t| {
            Ok(rows::Technology {
                name: domain::clean_name("technology name", &t.name, rows::TECHNOLOGY_NAME_MAX)?,
                version: t.version,
            })
        })
        .collect::<ServiceResult<_>>()?;
    serde_json::to_value(list).map_err(ServiceError::internal)
}

impl TryFrom<CreateProductInput> for rows::NewProduct {
    type Error = ServiceError;

    fn try_from(input: CreateProductInput) -> ServiceResult<Self> {
        check_revenue(input.revenue.as_ref())?;
        input::check_len(
            "description",
            Some(&input.description),
            rows::DESCRIPTION_MAX,
        )?;
        check_user_records(input.user_records)?;
        Ok(Self {
            name: domain::clean_name("name", &input.name, rows::NAME_MAX)?,
            description: input.description,
            product_type_id: ids::decode::<ProductTypeId>(&input.product_type_id)?,
            sla_configuration_id: ids::decode_opt::<SlaConfigurationId>(
                &input.sla_configuration_id,
            )?
            .unwrap_or(sla_configuration::DEFAULT_ID),
            product_manager_id: ids::decode_opt::<UserId>(&input.product_manager_id)?,
            technical_contact_id: ids::decode_opt::<UserId>(&input.technical_contact_id)?,
            team_manager_id: ids::decode_opt::<UserId>(&input.team_manager_id)?,
            business_criticality: input.business_criticality.map(Into::into),
            platform: input.platform.map(Into::into),
            lifecycle: input.lifecycle.map(Into::into),
            origin: input.origin.map(Into::into),
            user_records: input.user_records,
            revenue: input.revenue,
            external_audience: input.external_audience,
            internet_accessible: input.internet_accessible,
            regulations: input::clean_strings("regulation", input.regulations.unwrap_or_default())?,
            technologies: technologies_json(input.technologies.unwrap_or_default())?,
            tags: input::clean_tags(input.tags.unwrap_or_default())?,
            enable_simple_risk_acceptance: input.enable_simple_risk_acceptance,
            enable_full_risk_acceptance: input.enable_full_risk_acceptance,
            disable_sla_breach_notifications: input.disable_sla_breach_notifications,
        })
    }
}

impl TryFrom<UpdateProductInput> for rows::ProductChanges {
    type Error = ServiceError;

    fn try_from(input: UpdateProductInput) -> ServiceResult<Self> {
        if let MaybeUndefined::Value(r) = &input.revenue {
            check_revenue(Some(r))?;
        }
        input::check_len(
            "description",
            input.description.as_deref(),
            rows::DESCRIPTION_MAX,
        )?;
        check_user_records(input.user_records.value().copied())?;
        Ok(Self {
            name: input
                .name
                .map(|n| domain::clean_name("name", &n, rows::NAME_MAX))
                .transpose()?,
            description: input.description,
            product_type_id: ids::decode_opt::<ProductTypeId>(&input.product_type_id)?,
            sla_configuration_id: ids::decode_opt::<SlaConfigurationId>(
                &input.sla_configuration_id,
            )?,
            product_manager_id: input::maybe_id::<UserId>(input.product_manager_id)?,
            technical_contact_id: input::maybe_id::<UserId>(input.technical_contact_id)?,
            team_manager_id: input::maybe_id::<UserId>(input.team_manager_id)?,
            business_criticality: input::maybe(input.business_criticality)
                .map(|v| v.map(Into::into)),
            platform: input::maybe(input.platform).map(|v| v.map(Into::into)),
            lifecycle: input::maybe(input.lifecycle).map(|v| v.map(Into::into)),
            origin: input::maybe(input.origin).map(|v| v.map(Into::into)),
            user_records: input::maybe(input.user_records),
            revenue: input::maybe(input.revenue),
            external_audience: input.external_audience,
            internet_accessible: input.internet_accessible,
            regulations: input
                .regulations
                .map(|r| input::clean_strings("regulation", r))
                .transpose()?,
            technologies: input.technologies.map(technologies_json).transpose()?,
            tags: input.tags.map(input::clean_tags).transpose()?,
            enable_simple_risk_acceptance: input.enable_simple_risk_acceptance,
            enable_full_risk_acceptance: input.enable_full_risk_acceptance,
            disable_sla_breach_notifications: input.disable_sla_breach_notifications,
            updated: None,
        })
    }
}

#[derive(Default)]
pub struct ProductQuery;

#[Object]
impl ProductQuery {
    /// Every product.
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ProductFilter>,
        order_by: Option<ProductOrder>,
    ) -> async_graphql::Result<Connection<Product>> {
        let args = ListArgs {
            filter: filter.unwrap_or_default().into_db()?,
            sort: ProductOrder::sort(order_by),
            window: pagination::window(first, after, last, before)?,
        };
        pagination::top_level(ctx, args, Product).await
    }
}

#[derive(Default)]
pub struct ProductMutation;

#[Object]
impl ProductMutation {
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let new = input.try_into()?;
        let row = service::create_product(db(ctx), principal(ctx)?, new).await?;
        Ok(ProductPayload {
            product: Product(row),
        })
    }

    async fn update_product(
        &self,
        ctx: &Context<'_>,
        input: UpdateProductInput,
    ) -> async_graphql::Result<ProductPayload> {
        let id = ids::decode::<ProductId>(&input.id)?;
        let changes = input.try_into()?;
        let row = service::update_product(db(ctx), principal(ctx)?, id, changes).await?;
        Ok(ProductPayload {
            product: Product(row),
        })
    }

    /// Deletes the product with its engagements, tests, findings, notes and files.
    async fn delete_product(
        &self,
        ctx: &Context<'_>,
        input: IdInput,
    ) -> async_graphql::Result<DeletePayload> {
        deletes::delete(ctx, NodeKind::Product, &input.id).await
    }
}
