//! Cascading deletes of product types, products, engagements, tests and findings, and their
//! previews. The delete runs in one transaction: lock the root, count what goes (the preview's
//! statement, as the system sees it), give duplicate clusters reaching outside the subtree a new
//! original, record `ENGAGEMENT_DELETED` for an engagement, then delete the root and let the
//! foreign keys cascade.

use diesel_async::AsyncPgConnection;

use crate::{
    auth::Principal,
    db::{
        Db, QueryResult,
        authz::{Target, Viewer, Visibility},
        delete::{self as statements, DeleteCounts, Root},
        outbox,
    },
    domain::{
        events::{EngagementDeleted, EventKind, NewEvent},
        rbac::Permission,
    },
    service::{self, Check, ServiceResult, map_db, write},
};

/// The API name of the type of `root` (what a `NOT_FOUND` calls it).
fn type_name(root: Root) -> &'static str {
    match root {
        Root::ProductType(_) => "ProductType",
        Root::Product(_) => "Product",
        Root::Engagement(_) => "Engagement",
        Root::Test(_) => "Test",
        Root::Finding(_) => "Finding",
    }
}

/// The permission check of deleting `root` (`delete: true`) or previewing it (viewing it).
fn check(root: Root, delete: bool) -> Check {
    use Permission as P;
    let pick = |view, del| if delete { del } else { view };
    match root {
        Root::ProductType(id) => (
            Target::ProductType(id),
            pick(P::ProductTypeView, P::ProductTypeDelete),
        ),
        Root::Product(id) => (Target::Product(id), pick(P::ProductView, P::ProductDelete)),
        Root::Engagement(id) => (
            Target::Engagement(id),
            pick(P::EngagementView, P::EngagementDelete),
        ),
        Root::Test(id) => (Target::Test(id), pick(P::TestView, P::TestDelete)),
        Root::Finding(id) => (Target::Finding(id), pick(P::FindingView, P::FindingDelete)),
    }
}

/// Deletes `root` and everything below it (its type's DELETE permission); returns what was
/// removed.
#[tracing::instrument(skip_all, fields(root = ?root))]
pub async fn delete(db: &Db, principal: &Principal, root: Root) -> ServiceResult<DeleteCounts> {
    write(
        db,
        principal,
        type_name(root),
        vec![check(root, true)],
        move |c, _| Box::pin(delete_in(c, root)),
    )
    .await
}

async fn delete_in(conn: &mut AsyncPgConnection, root: Root) -> QueryResult<DeleteCounts> {
    statements::lock(conn, root).await?;
    let counts = statements::preview(conn, root, Viewer::ALL, Visibility::All).await?;
    if let Root::Engagement(id) = root {
        let (product_id, name) = statements::engagement_name(conn, id).await?;
        let event = NewEvent::new(
            EventKind::EngagementDeleted,
            product_id,
            EngagementDeleted { name },
        );
        outbox::record(conn, &event.engagement(id)).await?;
    }
    statements::reassign_duplicates(conn, root).await?;
    statements::delete_root(conn, root).await?;
    Ok(counts)
}

/// What deleting `root` would remove (its type's VIEW permission), counted as the caller sees
/// it: a product type's products only where the caller may read them, private notes only
/// where the caller may read them.
#[tracing::instrument(skip_all, fields(root = ?root))]
pub async fn preview(db: &Db, principal: &Principal, root: Root) -> ServiceResult<DeleteCounts> {
    service::check(db, principal, "object", check(root, false)).await?;
    let (viewer, private) = (principal.viewer(), principal.private_notes());
    db.read(async move |c| statements::preview(c, root, viewer, private).await)
        .await
        .map_err(map_db("object"))
}
