//! Relay Global Object Identification (`node`, `nodes`) and the delete preview.

use async_graphql::{Context, ID, Interface, Object, SimpleObject};

use super::{
    access::{Group, GroupMember, Membership},
    auth::ApiToken,
    context::{db, loader, map_db, principal, private_notes, viewer},
    deletes::delete_root,
    engagement::Engagement,
    finding::Finding,
    loaders::{ApiTokenById, FileById, MembershipById, NoteById, RowId},
    note::{File, Note},
    product::Product,
    product_type::ProductType,
    reference::{DevelopmentEnvironment, SlaConfiguration, TestType, User},
    test::Test,
};
use crate::{
    db::delete::DeleteCounts,
    domain::ids::{self, AnyId},
    error::ServiceError,
    service::lifecycle::delete as lifecycle,
};

/// An object with a global id.
#[derive(Interface)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per resolved node, never stored"
)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Opaque global id, valid for `node(id:)`."
))]
pub enum Node {
    ProductType(ProductType),
    Product(Product),
    Engagement(Engagement),
    Test(Test),
    Finding(Finding),
    User(User),
    SlaConfiguration(SlaConfiguration),
    TestType(TestType),
    DevelopmentEnvironment(DevelopmentEnvironment),
    Note(Note),
    File(File),
    ApiToken(ApiToken),
    Group(Group),
    GroupMember(GroupMember),
    Membership(Membership),
}

async fn fetch(ctx: &Context<'_>, raw: &ID) -> async_graphql::Result<Option<Node>> {
    let id = ids::decode_any(raw.as_str())
        .map_err(|_| ServiceError::bad_input(format!("{:?} is not a valid id", raw.as_str())))?;
    let l = loader(ctx);
    Ok(match id {
        AnyId::ProductType(id) => l
            .load_one(RowId::new(id))
            .await?
            .map(|r| Node::ProductType(ProductType(r))),
        AnyId::Product(id) => l
            .load_one(RowId::new(id))
            .await?
            .map(|r| Node::Product(Product(r))),
        AnyId::Engagement(id) => l
            .load_one(RowId::new(id))
            .await?
            .map(|r| Node::Engagement(Engagement(r))),
        AnyId::Test(id) => l
            .load_one(RowId::new(id))
            .await?
            .map(|r| Node::Test(Test(r))),
        AnyId::Finding(id) => l
            .load_one(RowId::new(id))
            .await?
            .map(|r| Node::Finding(Finding(r))),
        AnyId::User(id) => l
            .load_one(RowId::new(id))
            .await?
            .map(|r| Node::User(User(r))),
        AnyId::SlaConfiguration(id) => l
            .load_one(RowId::new(id))
            .await?
            .map(|r| Node::SlaConfiguration(SlaConfiguration(r))),
        AnyId::TestType(id) => l
            .load_one(RowId::new(id))
            .await?
            .map(|r| Node::TestType(TestType(r))),
        AnyId::DevelopmentEnvironment(id) => l
            .load_one(RowId::new(id))
            .await?
            .map(|r| Node::DevelopmentEnvironment(DevelopmentEnvironment(r))),
        AnyId::Note(id) => l
            .load_one(NoteById(id, private_notes(ctx)))
            .await?
            .map(|r| Node::Note(Note(r))),
        AnyId::File(id) => l.load_one(FileById(id)).await?.map(|r| Node::File(File(r))),
        AnyId::ApiToken(id) => {
            // A token is visible to its user and to superusers only.
            let p = principal(ctx)?;
            l.load_one(ApiTokenById(id))
                .await?
                .filter(|t| p.is_superuser || t.user_id == p.user_id)
                .map(|r| Node::ApiToken(ApiToken(r)))
        }
        AnyId::Group(id) => l
            .load_one(RowId::new(id))
            .await?
            .map(|r| Node::Group(Group(r))),
        AnyId::Membership(id) => l
            .load_one(MembershipById(id))
            .await?
            .map(|r| Node::Membership(Membership(r))),
        AnyId::GroupMember(id) => {
            let viewer = viewer(ctx);
            db(ctx)
                .read(async move |c| crate::db::group::member_by_id(c, id, viewer).await)
                .await
                .map_err(map_db("GroupMember"))?
                .map(|r| Node::GroupMember(GroupMember(r)))
        }
    })
}

/// Rows of one type that a delete removes.
#[derive(SimpleObject, Debug, Clone)]
pub struct TypeCount {
    pub type_name: String,
    pub count: i64,
}

/// What a delete removes (or removed): the object itself, every descendant, their notes and files.
#[derive(SimpleObject, Debug, Clone)]
pub struct DeletePreview {
    pub total: i64,
    /// Per type, only types with at least one row, from the top of the hierarchy down.
    pub counts: Vec<TypeCount>,
}

impl From<DeleteCounts> for DeletePreview {
    fn from(c: DeleteCounts) -> Self {
        let counts = [
            ("ProductType", c.product_types),
            ("Product", c.products),
            ("Engagement", c.engagements),
            ("Test", c.tests),
            ("Finding", c.findings),
            ("Note", c.notes),
            ("File", c.files),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| TypeCount {
            type_name: t.to_string(),
            count: n,
        })
        .collect();
        DeletePreview {
            total: c.total(),
            counts,
        }
    }
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global id; null when it does not exist.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        fetch(ctx, &id).await
    }

    /// Objects by global id, in the order asked (null where one does not exist). At most 100.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        if ids.len() > 100 {
            return Err(ServiceError::bad_input("at most 100 ids at once").into());
        }
        let mut out = Vec::with_capacity(ids.len());
        let all = futures_util::future::join_all(ids.iter().map(|id| fetch(ctx, id))).await;
        for r in all {
            out.push(r?);
        }
        Ok(out)
    }

    /// What deleting the product type, product, engagement, test or finding `id` would remove.
    async fn delete_preview(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<DeletePreview> {
        let root = delete_root(&id)?;
        let counts = lifecycle::preview(db(ctx), principal(ctx)?, root).await?;
        Ok(counts.into())
    }
}
