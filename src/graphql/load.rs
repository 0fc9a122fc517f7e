//! Objects by database id through the per-request dataloader (one batched statement per type
//! and level, reading only what the caller may see): the shared way entity files and event
//! payloads reach each other's objects.

use async_graphql::Context;

use crate::db::{attachment::Attachment, membership::On};

use super::{
    access::Group,
    access::Membership,
    context::loader,
    context::private_notes,
    engagement::Engagement,
    finding::Finding,
    loaders::RowId,
    loaders::{FilesOf, MembersOf, NotesOf},
    note::{File, Note},
    pagination,
    product::Product,
    product_type::ProductType,
    reference::User,
    test::Test,
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

/// The first `first` notes on `on` the caller may read (see [`pagination::take_first`]):
/// private notes only for their author and for those who may edit notes there.
pub async fn notes_of(
    ctx: &Context<'_>,
    on: Attachment,
    first: Option<i32>,
) -> async_graphql::Result<Vec<Note>> {
    let rows = loader(ctx)
        .load_one(NotesOf(on, private_notes(ctx)))
        .await?
        .unwrap_or_default();
    Ok(pagination::take_first(rows, first)?
        .into_iter()
        .map(Note)
        .collect())
}

/// The first `first` files attached to `on` (see [`pagination::take_first`]).
pub async fn files_of(
    ctx: &Context<'_>,
    on: Attachment,
    first: Option<i32>,
) -> async_graphql::Result<Vec<File>> {
    let rows = loader(ctx).load_one(FilesOf(on)).await?.unwrap_or_default();
    Ok(pagination::take_first(rows, first)?
        .into_iter()
        .map(File)
        .collect())
}

/// The memberships held on one product type or product.
/// The first `first` memberships held on one product type or product (see
/// [`pagination::take_first`]).
pub async fn members(
    ctx: &Context<'_>,
    on: On,
    first: Option<i32>,
) -> async_graphql::Result<Vec<Membership>> {
    let rows = loader(ctx)
        .load_one(MembersOf(on))
        .await?
        .unwrap_or_default();
    Ok(pagination::take_first(rows, first)?
        .into_iter()
        .map(Membership)
        .collect())
}
