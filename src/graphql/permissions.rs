//! `myPermissions` on product types, products and groups: what the caller may do there, so that
//! a client can hide what it may not use.

use async_graphql::{Context, SimpleObject};

use super::{
    access::{Permission, Role},
    context::{loader, principal},
    loaders::RolesOn,
};
use crate::{auth::access, db::authz::Anchor, domain::rbac};

/// What the caller may do on one object, so that a client can hide what it may not use.
#[derive(SimpleObject)]
pub struct MyPermissions {
    /// The highest role that applies here (global roles included); null without one.
    role: Option<Role>,
    /// Superusers may do everything, with or without a role.
    is_superuser: bool,
    permissions: Vec<Permission>,
}

/// The caller's permissions on `anchor` (one batched statement per kind of anchor).
pub async fn my_permissions(
    ctx: &Context<'_>,
    anchor: Anchor,
) -> async_graphql::Result<MyPermissions> {
    let p = principal(ctx)?;
    let roles = loader(ctx)
        .load_one(RolesOn(anchor))
        .await?
        .unwrap_or_default();
    let a = access::Access {
        superuser: p.is_superuser,
        global: p.global_role,
        roles,
        visible: true,
    };
    let candidates: Vec<rbac::Permission> = rbac::Permission::ALL
        .iter()
        .copied()
        .filter(|perm| match anchor {
            Anchor::ProductType(_) => perm.on_product_type(),
            Anchor::Product(_) => !perm.on_product_type() && !perm.on_group(),
            Anchor::Group(_) => perm.on_group(),
        })
        .collect();
    Ok(MyPermissions {
        role: match anchor {
            Anchor::Group(_) => a.roles.iter().copied().max(),
            _ => a.highest(),
        }
        .map(Into::into),
        is_superuser: p.is_superuser,
        permissions: a
            .permissions(&candidates)
            .into_iter()
            .map(Into::into)
            .collect(),
    })
}
