//! Permission checks for mutations. [`require`] runs inside the mutation's own transaction: it
//! resolves the target to the product, product type or group whose roles decide, locks the target
//! row (so it cannot move or vanish before the write commits), and answers
//! - `NotFound` when the target does not exist **or the caller may not see it** (the same answer,
//!   so ids of other tenants' objects cannot be probed; a private note is seen only by its
//!   author and by those who may read private notes on its product),
//! - `Forbidden` when the caller sees the target but lacks the permission.

use diesel_async::AsyncPgConnection;

use super::Principal;
use crate::{
    db::{
        DbError, QueryResult,
        authz::{self, Anchor, Lock, Target},
    },
    domain::{
        Role,
        rbac::{self, Permission},
    },
};

/// What the caller holds on one anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub superuser: bool,
    /// The caller's global role; it applies to product types and products, not to groups.
    pub global: Option<Role>,
    /// Roles held on the anchor itself (for products also through the product type).
    pub roles: Vec<Role>,
    /// Whether the caller may see the anchor.
    pub visible: bool,
}

impl Access {
    pub fn allows(&self, permission: Permission) -> bool {
        // A product type is also visible through a role on one of its products; seeing it is
        // viewing it (its lists and counts then hold only those products).
        (permission == Permission::ProductTypeView && self.visible)
            || self.superuser
            || (!permission.on_group() && self.global.is_some_and(|g| g.allows(permission)))
            || rbac::any_allows(&self.roles, permission)
    }

    /// The highest role that applies (global included); `None` for a superuser without roles.
    pub fn highest(&self) -> Option<Role> {
        self.roles.iter().copied().chain(self.global).max()
    }

    /// Every permission of `candidates` this access allows.
    pub fn permissions(&self, candidates: &[Permission]) -> Vec<Permission> {
        candidates
            .iter()
            .copied()
            .filter(|p| self.allows(*p))
            .collect()
    }
}

/// The caller's access on `anchor`.
pub async fn access(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    anchor: Anchor,
) -> QueryResult<Access> {
    let user = principal.user_id;
    let mut access = Access {
        superuser: principal.is_superuser,
        global: principal.global_role,
        roles: Vec::new(),
        visible: principal.is_superuser,
    };
    match anchor {
        Anchor::Product(id) => {
            access.roles = authz::product_roles(conn, user, &[id])
                .await?
                .remove(&id)
                .unwrap_or_default();
            access.visible |= access.global.is_some() || !access.roles.is_empty();
        }
        Anchor::ProductType(id) => {
            access.roles = authz::product_type_roles(conn, user, &[id])
                .await?
                .remove(&id)
                .unwrap_or_default();
            access.visible |= access.global.is_some() || !access.roles.is_empty();
            if !access.visible {
                access.visible = !authz::product_types_seen_through_products(conn, user, &[id])
                    .await?
                    .is_empty();
            }
        }
        Anchor::Group(id) => {
            access.roles = authz::group_roles(conn, user, &[id])
                .await?
                .remove(&id)
                .into_iter()
                .collect();
            access.visible |= !access.roles.is_empty();
        }
    }
    Ok(access)
}

/// How a permission's target is locked: the object itself is changed by edits and deletes (and
/// by every change to a note or file; copying an engagement reads it whole), a parent only must
/// stay put. Memberships are not locked here: their writes serialize on the product (type) they
/// belong to first (see `db::membership`), which a lock taken here would invert.
fn lock_for(target: Target, permission: Permission) -> Lock {
    use Permission::*;
    match target {
        Target::Membership(_) => return Lock::None,
        Target::Note(_) | Target::File(_) => return Lock::Update,
        Target::Engagement(_) if permission == EngagementAdd => return Lock::Update,
        _ => {}
    }
    match permission {
        ProductTypeView | ProductView | EngagementView | TestView | FindingView | GroupView => {
            Lock::None
        }
        ProductTypeEdit | ProductTypeDelete | ProductEdit | ProductDelete | EngagementEdit
        | EngagementDelete | TestEdit | TestDelete | FindingEdit | FindingDelete | GroupEdit
        | GroupDelete => Lock::Update,
        _ => Lock::Share,
    }
}

/// Checks `permission` on `target` for `principal` inside the current transaction; returns the
/// anchor it was checked on. See the module documentation for the two refusals.
pub async fn require(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    target: Target,
    permission: Permission,
) -> QueryResult<Anchor> {
    require_with(
        conn,
        principal,
        target,
        permission,
        lock_for(target, permission),
    )
    .await
}

/// [`require`] with an explicit lock, for writes that lock their rows themselves in an order of
/// their own (taking a lock here first could deadlock them). Such a write must then verify
/// that the target is still where it was checked.
pub async fn require_with(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    target: Target,
    permission: Permission,
    lock: Lock,
) -> QueryResult<Anchor> {
    let anchor = authz::anchor(conn, target, lock).await?;
    let access = access(conn, principal, anchor).await?;
    if !access.visible {
        return Err(DbError::NotFound);
    }
    // A private note exists only for its author and those who may read private notes there.
    if let Target::Note(id) = target
        && !access.allows(Permission::READ_PRIVATE_NOTES)
        && authz::private_note_author(conn, id)
            .await?
            .is_some_and(|author| author != Some(principal.user_id))
    {
        return Err(DbError::NotFound);
    }
    if !access.allows(permission) {
        return Err(DbError::Forbidden(format!(
            "your role does not allow {} here",
            permission_name(permission)
        )));
    }
    Ok(anchor)
}

/// The SCREAMING_CASE name of a permission, as the API's `Permission` enum spells it.
pub fn permission_name(p: Permission) -> String {
    let debug = format!("{p:?}");
    let mut out = String::with_capacity(debug.len() + 8);
    for (i, c) in debug.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(global: Option<Role>, roles: &[Role]) -> Access {
        Access {
            superuser: false,
            global,
            roles: roles.to_vec(),
            visible: true,
        }
    }

    #[test]
    fn global_roles_apply_to_products_not_groups() {
        let a = access(Some(Role::Owner), &[]);
        assert!(a.allows(Permission::ProductDelete));
        assert!(!a.allows(Permission::GroupManageMembers));
        assert_eq!(a.highest(), Some(Role::Owner));
    }

    #[test]
    fn the_highest_role_wins_and_roles_only_add() {
        let a = access(Some(Role::Reader), &[Role::ApiImporter]);
        assert_eq!(a.highest(), Some(Role::ApiImporter));
        assert!(
            a.allows(Permission::NoteAdd),
            "the global READER adds notes"
        );
        assert!(a.allows(Permission::ImportScanResult));
        assert!(!a.allows(Permission::FindingEdit));
    }

    #[test]
    fn names_permissions_like_the_api() {
        assert_eq!(
            permission_name(Permission::ProductTypeAddProduct),
            "PRODUCT_TYPE_ADD_PRODUCT"
        );
        assert_eq!(permission_name(Permission::NoteAdd), "NOTE_ADD");
    }
}
