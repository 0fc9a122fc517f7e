//! Deleting hierarchy objects: the delete mutations of every entity decode the id and call
//! [`delete`], which runs `service::lifecycle::delete` (one transaction) and reports what was
//! removed.

use async_graphql::{Context, ID, SimpleObject};

use super::{
    context::{db, principal},
    node::DeletePreview,
};
use crate::{
    db::delete::Root,
    domain::ids::{self, AnyId, NodeKind},
    error::{ServiceError, ServiceResult},
    service::lifecycle::delete as lifecycle,
};

/// The deletable root a global id names.
pub fn delete_root(raw: &ID) -> ServiceResult<Root> {
    let bad = || {
        ServiceError::bad_input(format!(
            "{:?} is not the id of a product type, product, engagement, test or finding",
            raw.as_str()
        ))
    };
    Ok(match ids::decode_any(raw.as_str()).map_err(|_| bad())? {
        AnyId::ProductType(id) => Root::ProductType(id),
        AnyId::Product(id) => Root::Product(id),
        AnyId::Engagement(id) => Root::Engagement(id),
        AnyId::Test(id) => Root::Test(id),
        AnyId::Finding(id) => Root::Finding(id),
        _ => return Err(bad()),
    })
}

/// Deletes a hierarchy object (one transaction) and returns what was removed.
pub async fn delete(
    ctx: &Context<'_>,
    kind: NodeKind,
    raw: &ID,
) -> async_graphql::Result<DeletePayload> {
    let root = delete_root(raw)?;
    if ids::decode(raw.as_str()).map(|(k, _)| k) != Ok(kind) {
        return Err(ServiceError::bad_input(format!(
            "{:?} is not a valid {} id",
            raw.as_str(),
            kind.type_name()
        ))
        .into());
    }
    let counts = lifecycle::delete(db(ctx), principal(ctx)?, root).await?;
    Ok(DeletePayload {
        deleted_id: raw.clone(),
        deleted: counts.into(),
    })
}

/// Payload of every delete mutation.
#[derive(SimpleObject, Debug, Clone)]
pub struct DeletePayload {
    /// The global id of the deleted object.
    pub deleted_id: ID,
    /// Everything the delete removed.
    pub deleted: DeletePreview,
}
