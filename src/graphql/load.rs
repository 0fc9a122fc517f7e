//! Objects by database id through the per-request dataloader (one batched statement per type
//! and level, reading only what the caller may see): the shared way entity files and event
//! payloads reach each other's objects.

use async_graphql::Context;

use super::{
    access::Group, context::loader, engagement::Engagement, finding::Finding, loaders::RowId,
    product::Product, product_type::ProductType, reference::User, test::Test,
};
use crate::domain::ids::{
    EngagementId, FindingId, GroupId, ProductId, ProductTypeId, TestId, UserId,
};

pub async fn product_type(
    ctx: &Context<'_>,
    id: ProductTypeId,
) -> async_graphql::Result<Option<ProductType>> {
    Ok(loader(ctx).load_one(RowId::new(id)).await?.map(ProductType))
}

pub async fn product(ctx: &Context<'_>, id: ProductId) -> async_graphql::Result<Option<Product>> {
    Ok(loader(ctx).load_one(RowId::new(id)).await?.map(Product))
}

pub async fn engagement(
    ctx: &Context<'_>,
    id: EngagementId,
) -> async_graphql::Result<Option<Engagement>> {
    Ok(loader(ctx).load_one(RowId::new(id)).await?.map(Engagement))
}

pub async fn test(ctx: &Context<'_>, id: TestId) -> async_graphql::Result<Option<Test>> {
    Ok(loader(ctx).load_one(RowId::new(id)).await?.map(Test))
}

pub async fn finding(ctx: &Context<'_>, id: FindingId) -> async_graphql::Result<Option<Finding>> {
    Ok(loader(ctx).load_one(RowId::new(id)).await?.map(Finding))
}

/// An optional user reference.
pub async fn user(ctx: &Context<'_>, id: Option<UserId>) -> async_graphql::Result<Option<User>> {
    match id {
        None => Ok(None),
        Some(id) => Ok(loader(ctx).load_one(RowId::new(id)).await?.map(User)),
    }
}

/// An optional group reference (null when the caller may not see it).
pub async fn group(ctx: &Context<'_>, id: Option<GroupId>) -> async_graphql::Result<Option<Group>> {
    match id {
        None => Ok(None),
        Some(id) => Ok(loader(ctx).load_one(RowId::new(id)).await?.map(Group)),
    }
}
