//! Product types: the object, its lists, filters and mutations.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    access::Membership,
    context::{db, principal},
    deletes::{self, DeletePayload},
    enums::OrderDirection,
    finding_counts::FindingCounts,
    ids, input,
    input::IdInput,
    load,
    pagination::{self, Connection},
    permissions::{self, MyPermissions},
    product::{Product, ProductFilter, ProductOrder},
};
use crate::{
    db::{
        authz::Anchor, counts::CountScope, membership::On, page::ListArgs, product::ProductParent,
        product_type as rows,
    },
    domain::{
        self,
        ids::{NodeKind, ProductTypeId},
    },
    error::{ServiceError, ServiceResult},
    service::products as service,
};

/// A group of products (DefectDojo's "Organization").
#[derive(Clone)]
pub struct ProductType(pub rows::ProductType);

#[Object]
impl ProductType {
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
    async fn critical_product(&self) -> bool {
        self.0.critical_product
    }
    async fn key_product(&self) -> bool {
        self.0.key_product
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    async fn updated(&self) -> DateTime<Utc> {
        self.0.updated
    }

    /// The products of this type.
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
        pagination::children(ctx, ProductParent::ProductType(self.0.id), args, Product).await
    }

    /// Active findings per severity over every product of this type that the caller may read.
    async fn finding_counts(&self, ctx: &Context<'_>) -> async_graphql::Result<FindingCounts> {
        FindingCounts::load(ctx, CountScope::ProductType(self.0.id)).await
    }
    /// Roles granted on this product type (they apply to all its products).
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 1000; 100 when absent.")] first: Option<i32>,
    ) -> async_graphql::Result<Vec<Membership>> {
        load::members(ctx, On::ProductType(self.0.id), first).await
    }

    /// What the caller may do on this product type itself.
    async fn my_permissions(&self, ctx: &Context<'_>) -> async_graphql::Result<MyPermissions> {
        permissions::my_permissions(ctx, Anchor::ProductType(self.0.id)).await
    }
}

/// Filter for product type lists.
#[derive(InputObject, Default)]
pub struct ProductTypeFilter {
    /// Case-insensitive substring of the name.
    name_contains: Option<String>,
    critical_product: Option<bool>,
    key_product: Option<bool>,
}

impl ProductTypeFilter {
    fn into_db(self) -> rows::ProductTypeFilter {
        rows::ProductTypeFilter {
            name_contains: self.name_contains,
            critical_product: self.critical_product,
            key_product: self.key_product,
        }
    }
}

/// Sort keys of product type lists.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "rows::ProductTypeOrder")]
pub enum ProductTypeOrderField {
    Id,
    Name,
    Created,
    Updated,
}

/// How to sort product types (default: by id, ascending).
#[derive(InputObject)]
pub struct ProductTypeOrder {
    field: ProductTypeOrderField,
    #[graphql(default)]
    direction: OrderDirection,
}

crate::order_input!(ProductTypeOrder => rows::ProductTypeOrder);

#[derive(InputObject)]
pub struct CreateProductTypeInput {
    name: String,
    description: Option<String>,
    #[graphql(default)]
    critical_product: bool,
    #[graphql(default)]
    key_product: bool,
}

/// Fields left out stay as they are; `null` clears a nullable field.
#[derive(InputObject)]
pub struct UpdateProductTypeInput {
    id: ID,
    name: Option<String>,
    description: MaybeUndefined<String>,
    critical_product: Option<bool>,
    key_product: Option<bool>,
}

impl TryFrom<CreateProductTypeInput> for rows::NewProductType {
    type Error = ServiceError;

    fn try_from(input: CreateProductTypeInput) -> ServiceResult<Self> {
        input::check_len(
            "description",
            input.description.as_deref(),
            rows::DESCRIPTION_MAX,
        )?;
        Ok(Self {
            name: domain::clean_name("name", &input.name, rows::NAME_MAX)?,
            description: input.description,
            critical_product: input.critical_product,
            key_product: input.key_product,
        })
    }
}

impl TryFrom<UpdateProductTypeInput> for rows::ProductTypeChanges {
    type Error = ServiceError;

    fn try_from(input: UpdateProductTypeInput) -> ServiceResult<Self> {
        if let MaybeUndefined::Value(d) = &input.description {
            input::check_len("description", Some(d), rows::DESCRIPTION_MAX)?;
        }
        Ok(Self {
            name: input
                .name
                .map(|n| domain::clean_name("name", &n, rows::NAME_MAX))
                .transpose()?,
            description: input::maybe(input.description),
            critical_product: input.critical_product,
            key_product: input.key_product,
            updated: None,
        })
    }
}

#[derive(SimpleObject)]
pub struct ProductTypePayload {
    product_type: ProductType,
}

#[derive(Default)]
pub struct ProductTypeQuery;

#[Object]
impl ProductTypeQuery {
    /// Every product type.
    async fn product_types(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ProductTypeFilter>,
        order_by: Option<ProductTypeOrder>,
    ) -> async_graphql::Result<Connection<ProductType>> {
        let args = ListArgs {
            filter: filter.unwrap_or_default().into_db(),
            sort: ProductTypeOrder::sort(order_by),
            window: pagination::window(first, after, last, before)?,
        };
        pagination::top_level(ctx, args, ProductType).await
    }
}

#[derive(Default)]
pub struct ProductTypeMutation;

#[Object]
impl ProductTypeMutation {
    async fn create_product_type(
        &self,
        ctx: &Context<'_>,
        input: CreateProductTypeInput,
    ) -> async_graphql::Result<ProductTypePayload> {
        let new = input.try_into()?;
        let row = service::create_product_type(db(ctx), principal(ctx)?, new).await?;
        Ok(ProductTypePayload {
            product_type: ProductType(row),
        })
    }

    async fn update_product_type(
        &self,
        ctx: &Context<'_>,
        input: UpdateProductTypeInput,
    ) -> async_graphql::Result<ProductTypePayload> {
        let id = ids::decode::<ProductTypeId>(&input.id)?;
        let changes = input.try_into()?;
        let row = service::update_product_type(db(ctx), principal(ctx)?, id, changes).await?;
        Ok(ProductTypePayload {
            product_type: ProductType(row),
        })
    }

    /// Deletes the product type with all its products, engagements, tests, findings, notes and files.
    async fn delete_product_type(
        &self,
        ctx: &Context<'_>,
        input: IdInput,
    ) -> async_graphql::Result<DeletePayload> {
        deletes::delete(ctx, NodeKind::ProductType, &input.id).await
    }
}
