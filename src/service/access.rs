//! Access administration: memberships on product types and products, groups and their members,
//! users, global roles and API tokens; and [`record_access_changed`], the one way a change of
//! who may do what is announced (`ACCESS_CHANGED`, which the subscription access cache and the
//! websockets' credential re-checks follow).
//!
//! Escalation rules (threat model A5): only a holder of the `*_MEMBER_ADD_OWNER` permission (an
//! OWNER) grants, changes or removes an OWNER membership; only superusers create users, set
//! global roles, the superuser flag, another user's email or active flag; a product type,
//! product or group that has an OWNER keeps at least one. A token created through a token never
//! outlives it and is revoked with it.
//!
//! Functions named `…_as_system` check nothing: they are the steps the checked operations share
//! with trusted callers (product type creation, the demo), run in the caller's transaction.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use super::{Check, ServiceError, ServiceResult, superuser, write};
use crate::{
    auth::{self, Principal, access},
    db::{
        Db, DbError, QueryResult,
        api_token::{self, ApiToken, NewApiToken},
        authz::Target,
        group::{self, Group, GroupMember, NewGroup},
        membership::{self, Member, Membership, On},
        outbox,
        user::{self, NewUser, User, UserChanges},
    },
    domain::{
        Role,
        events::AccessChanged,
        ids::{ApiTokenId, GroupId, MembershipId, ProductId, UserId},
        rbac::Permission as P,
    },
};

/// Whose access a change touched: what its `ACCESS_CHANGED` event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessChange {
    /// The roles of a user, or of a group (then: of the group's members now).
    RolesOf(Member),
    /// The credentials of these users (a token revoked, a user deactivated or (un)made
    /// superuser), and with them possibly their roles.
    CredentialsOf(Vec<UserId>),
    /// A product moved to another product type: who inherits a role on it changed.
    ProductMoved(ProductId),
}

/// Records the `ACCESS_CHANGED` event of `change` in the caller's transaction, after the rows it
/// concerns are locked and written; nothing when it concerns nobody (a group without members).
/// For a group it names the members it has now, holding the group's member lock until the
/// commit (see `db::group::member_ids_for_access`).
pub async fn record_access_changed(
    c: &mut AsyncPgConnection,
    change: AccessChange,
) -> QueryResult<()> {
    let event = match change {
        AccessChange::RolesOf(Member::User(id)) => AccessChanged::roles_of(vec![id]),
        AccessChange::RolesOf(Member::Group(id)) => {
            AccessChanged::roles_of(group::member_ids_for_access(c, id).await?)
        }
        AccessChange::CredentialsOf(users) => AccessChanged::credentials_of(users),
        AccessChange::ProductMoved(id) => AccessChanged::product_moved(id),
    };
    outbox::record_access(c, &event).await
}

// ---------------------------------------------------------------------------------------------
// Memberships

/// A role on a product type (and so on all its products) or on a product, for a user or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub on: On,
    pub member: Member,
    pub role: Role,
}

/// What a `NOT_FOUND` about `on` names.
fn target_name(on: On) -> &'static str {
    match on {
        On::ProductType(_) => "ProductType",
        On::Product(_) => "Product",
    }
}

/// The permissions that managing a membership on `on` needs: managing members there, and
/// adding owners when `owner` (the role given or taken away is OWNER).
fn manage_checks(on: On, owner: bool) -> Vec<Check> {
    let (target, manage, add_owner) = match on {
        On::ProductType(id) => (
            Target::ProductType(id),
            P::ProductTypeManageMembers,
            P::ProductTypeMemberAddOwner,
        ),
        On::Product(id) => (
            Target::Product(id),
            P::ProductManageMembers,
            P::ProductMemberAddOwner,
        ),
    };
    let mut checks = vec![(target, manage)];
    if owner {
        checks.push((target, add_owner));
    }
    checks
}

/// Checks, on membership `id`, the permissions of [`manage_checks`].
async fn require_manage(
    c: &mut AsyncPgConnection,
    p: &Principal,
    id: MembershipId,
    on: On,
    owner: bool,
) -> QueryResult<()> {
    for (_, permission) in manage_checks(on, owner) {
        access::require(c, p, Target::Membership(id), permission).await?;
    }
    Ok(())
}

/// Grants a role on a product type or product. Needs `*_MANAGE_MEMBERS` there (and, for
/// OWNER, `*_MEMBER_ADD_OWNER`); a group must be visible to the caller. A member that already
/// has a role there is a `CONFLICT`.
#[tracing::instrument(skip_all, fields(on = ?grant.on, member = ?grant.member))]
pub async fn add_member(db: &Db, principal: &Principal, grant: Grant) -> ServiceResult<Membership> {
    let mut checks = manage_checks(grant.on, grant.role == Role::Owner);
    if let Member::Group(g) = grant.member {
        checks.push((Target::Group(g), P::GroupView));
    }
    write(db, principal, target_name(grant.on), checks, move |c, _| {
        Box::pin(grant_as_system(c, grant))
    })
    .await
}

/// Grants `grant` without checking the caller (the target is checked and locked by the
/// caller's transaction), and records the `ACCESS_CHANGED` of its member.
pub async fn grant_as_system(c: &mut AsyncPgConnection, grant: Grant) -> QueryResult<Membership> {
    let added = membership::insert(c, grant.on, grant.member, grant.role)
        .await
        .map_err(|e| match e {
            DbError::Unique { .. } => DbError::Conflict(
                "this user or group already has a role here: change it with updateMember".into(),
            ),
            other => other,
        })?;
    record_access_changed(c, AccessChange::RolesOf(grant.member)).await?;
    Ok(added)
}

/// Refuses to leave the target of `m` without an OWNER when it had one: locks the target's
/// OWNER memberships and fails with `CONFLICT` unless one other than `m` remains.
async fn keep_an_owner(c: &mut AsyncPgConnection, m: &Membership) -> QueryResult<()> {
    if m.role != Role::Owner {
        return Ok(());
    }
    let owners = membership::owner_ids_for_update(c, m.on()).await?;
    if owners.iter().all(|id| *id == m.id) {
        let what = match m.on() {
            On::ProductType(_) => "product type",
            On::Product(_) => "product",
        };
        return Err(DbError::Conflict(format!(
            "this is the last owner of the {what}: make another member OWNER first"
        )));
    }
    Ok(())
}

/// Changes the role of membership `id`. Giving or taking away OWNER needs the add-owner
/// permission; demoting the last OWNER is a `CONFLICT`.
#[tracing::instrument(skip_all, fields(membership = %id))]
pub async fn update_member(
    db: &Db,
    principal: &Principal,
    id: MembershipId,
    role: Role,
) -> ServiceResult<Membership> {
    write(db, principal, "Membership", vec![], move |c, p| {
        Box::pin(async move {
            let current = membership::get(c, id).await?;
            let owner = role == Role::Owner || current.role == Role::Owner;
            require_manage(c, &p, id, current.on(), owner).await?;
            let current = membership::lock(c, id).await?;
            if role != Role::Owner {
                keep_an_owner(c, &current).await?;
            }
            let changed = membership::set_role(c, id, role).await?;
            if changed.role != current.role {
                record_access_changed(c, AccessChange::RolesOf(changed.member())).await?;
            }
            Ok(changed)
        })
    })
    .await
}

/// Removes membership `id`; returns it. Needs `*_MEMBER_DELETE` (anyone may remove their own
/// membership); removing an OWNER needs the add-owner permission; removing the last OWNER is a
/// `CONFLICT`. A membership the caller may not see is `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(membership = %id))]
pub async fn remove_member(
    db: &Db,
    principal: &Principal,
    id: MembershipId,
) -> ServiceResult<Membership> {
    write(db, principal, "Membership", vec![], move |c, p| {
        Box::pin(async move {
            let current = membership::get(c, id).await?;
            let own = current.user_id == Some(p.user_id);
            let (view, delete) = match current.on() {
                On::ProductType(_) => (P::ProductTypeView, P::ProductTypeMemberDelete),
                On::Product(_) => (P::ProductView, P::ProductMemberDelete),
            };
            // Visible at all? (NOT_FOUND otherwise, as for a missing id.)
            access::require(c, &p, Target::Membership(id), view).await?;
            if !own {
                access::require(c, &p, Target::Membership(id), delete).await?;
                if current.role == Role::Owner {
                    require_manage(c, &p, id, current.on(), true).await?;
                }
            }
            let current = membership::lock(c, id).await?;
            keep_an_owner(c, &current).await?;
            let removed = membership::delete(c, id).await?;
            record_access_changed(c, AccessChange::RolesOf(removed.member())).await?;
            Ok(removed)
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Groups

/// Creates a group; the creator becomes its OWNER. Needs a global MAINTAINER or OWNER role, or
/// a superuser.
#[tracing::instrument(skip_all)]
pub async fn create_group(db: &Db, principal: &Principal, new: NewGroup) -> ServiceResult<Group> {
    if !principal.may_add_product_types() {
        return Err(ServiceError::Forbidden(
            "creating groups needs a global MAINTAINER or OWNER role".into(),
        ));
    }
    write(db, principal, "Group", vec![], move |c, p| {
        Box::pin(async move {
            let group = group::create(c, new).await?;
            join_group(c, group.id, p.user_id, Role::Owner).await?;
            Ok(group)
        })
    })
    .await
}

/// Adds `user` to `group` with `role` (the group is checked and locked by the caller) and
/// records the `ACCESS_CHANGED` of the user: the group's roles now apply to it.
async fn join_group(
    c: &mut AsyncPgConnection,
    group: GroupId,
    user: UserId,
    role: Role,
) -> QueryResult<GroupMember> {
    let added = group::insert_member(c, group, user, role)
        .await
        .map_err(|e| match e {
            DbError::Unique { .. } => {
                DbError::Conflict("the user is already a member of this group".into())
            }
            other => other,
        })?;
    record_access_changed(c, AccessChange::RolesOf(Member::User(user))).await?;
    Ok(added)
}

/// Adds `user` to `group`. Needs GROUP_MANAGE_MEMBERS (a MAINTAINER of the group); adding an
/// OWNER needs GROUP_ADD_OWNER.
#[tracing::instrument(skip_all, fields(group = %group, user = %user))]
pub async fn add_group_member(
    db: &Db,
    principal: &Principal,
    group: GroupId,
    user: UserId,
    role: Role,
) -> ServiceResult<GroupMember> {
    let mut checks = vec![(Target::Group(group), P::GroupManageMembers)];
    if role == Role::Owner {
        checks.push((Target::Group(group), P::GroupAddOwner));
    }
    write(db, principal, "Group", checks, move |c, _| {
        Box::pin(join_group(c, group, user, role))
    })
    .await
}

/// Removes `user` from `group`; returns the removed membership. Needs GROUP_MEMBER_DELETE
/// (anyone may leave a group); removing an OWNER needs GROUP_ADD_OWNER; the last OWNER cannot
/// leave (`CONFLICT`); a user who is no member is `NOT_FOUND`.
#[tracing::instrument(skip_all, fields(group = %group, user = %user))]
pub async fn remove_group_member(
    db: &Db,
    principal: &Principal,
    group: GroupId,
    user: UserId,
) -> ServiceResult<GroupMember> {
    write(
        db,
        principal,
        "Group",
        vec![(Target::Group(group), P::GroupView)],
        move |c, p| {
            Box::pin(async move {
                if user != p.user_id {
                    access::require(c, &p, Target::Group(group), P::GroupMemberDelete).await?;
                    if group::role_of(c, group, user).await? == Some(Role::Owner) {
                        access::require(c, &p, Target::Group(group), P::GroupAddOwner).await?;
                    }
                }
                group::lock_members(c, group).await?;
                let owners = group::owner_ids_for_update(c, group).await?;
                if owners == [user] {
                    return Err(DbError::Conflict(
                        "this is the last owner of the group: make another member OWNER first"
                            .into(),
                    ));
                }
                let removed = group::delete_member(c, group, user).await?;
                record_access_changed(c, AccessChange::RolesOf(Member::User(user))).await?;
                Ok(removed)
            })
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Users and global roles

/// Creates a user (superusers only).
#[tracing::instrument(skip_all)]
pub async fn create_user(db: &Db, principal: &Principal, new: NewUser) -> ServiceResult<User> {
    superuser(principal, "create users")?;
    write(db, principal, "User", vec![], move |c, _| {
        Box::pin(user::create(c, new))
    })
    .await
}

/// Changes user `id`. A user may change its own names and email; only superusers change other
/// users, and the active and superuser flags. Only a change of a flag records `ACCESS_CHANGED`
/// (credentials of this user): names and emails grant nothing, and a rename must cost the other
/// replicas and sockets nothing.
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn update_user(
    db: &Db,
    principal: &Principal,
    id: UserId,
    changes: UserChanges,
) -> ServiceResult<User> {
    if !principal.is_superuser {
        if id != principal.user_id {
            return Err(ServiceError::Forbidden(
                "only a superuser may change another user".into(),
            ));
        }
        if changes.is_active.is_some() || changes.is_superuser.is_some() {
            return Err(ServiceError::Forbidden(
                "only a superuser may change isActive or isSuperuser".into(),
            ));
        }
    }
    write(db, principal, "User", vec![], move |c, _| {
        Box::pin(async move {
            // The flags before the change (locked until the commit), when it may touch them.
            let before = if changes.is_active.is_some() || changes.is_superuser.is_some() {
                user::flags_for_update(c, id).await?
            } else {
                None
            };
            let user = user::update(c, id, changes).await?;
            if before.is_some_and(|flags| flags != (user.is_active, user.is_superuser)) {
                record_access_changed(c, AccessChange::CredentialsOf(vec![id])).await?;
            }
            Ok(user)
        })
    })
    .await
}

/// Who holds a global role: a user or a group.
#[derive(Debug, Clone)]
pub enum RoleHolder {
    User(User),
    Group(Group),
}

/// Sets (or, with `None`, removes) the global role of a user or group (superusers only).
#[tracing::instrument(skip_all, fields(member = ?who))]
pub async fn set_global_role(
    db: &Db,
    principal: &Principal,
    who: Member,
    role: Option<Role>,
) -> ServiceResult<RoleHolder> {
    superuser(principal, "set global roles")?;
    write(db, principal, "User", vec![], move |c, _| {
        Box::pin(async move {
            let holder = match who {
                Member::User(id) => RoleHolder::User(user::set_global_role(c, id, role).await?),
                Member::Group(id) => RoleHolder::Group(group::set_global_role(c, id, role).await?),
            };
            record_access_changed(c, AccessChange::RolesOf(who)).await?;
            Ok(holder)
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// API tokens

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub user_id: UserId,
    /// What the token is for (already cleaned).
    pub name: String,
    /// `None`: the expiry of the caller's own token (none if it has none).
    pub expires_at: Option<DateTime<Utc>>,
}

/// A created token: the secret, shown only once, and its stored row.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub token: String,
    pub row: ApiToken,
}

/// Refuses to act on another user's credentials unless the caller is a superuser.
fn check_self_or_superuser(principal: &Principal, user_id: UserId) -> ServiceResult<()> {
    if principal.user_id != user_id && !principal.is_superuser {
        return Err(ServiceError::Forbidden(
            "only the user or a superuser may manage these tokens".into(),
        ));
    }
    Ok(())
}

/// Creates a token for a user (the user itself or a superuser). The new token records the
/// caller's token as its parent: it never outlives it (see `Principal::child_token_expiry`: a
/// later expiry is refused) and is revoked with it; a parent revoked meanwhile refuses
/// (`FORBIDDEN`).
#[tracing::instrument(skip_all, fields(user = %new.user_id))]
pub async fn create_api_token(
    db: &Db,
    principal: &Principal,
    new: NewToken,
) -> ServiceResult<CreatedToken> {
    check_self_or_superuser(principal, new.user_id)?;
    if new.expires_at.is_some_and(|e| e <= Utc::now()) {
        return Err(ServiceError::bad_input("expiresAt must be in the future"));
    }
    // A token created through a token never outlives it (whoever the new token is for).
    let expires_at = principal
        .child_token_expiry(new.expires_at)
        .map_err(ServiceError::BadUserInput)?;
    let token = auth::generate_token()
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("randomness: {e}")))?;
    let row = NewApiToken {
        user_id: new.user_id,
        name: new.name,
        token_hash: auth::hash_token(&token),
        expires_at,
        created_by_token_id: principal.token_id,
    };
    let row = write(db, principal, "User", vec![], move |c, _| {
        Box::pin(store_token(c, row))
    })
    .await?;
    Ok(CreatedToken { token, row })
}

/// Stores a token for an existing user (share-locked meanwhile). Created through a parent
/// token, it is written only while the parent is still valid (neither revoked nor expired),
/// under the lineage lock that revocations take too.
async fn store_token(c: &mut AsyncPgConnection, new: NewApiToken) -> QueryResult<ApiToken> {
    user::lock(c, new.user_id).await?;
    if let Some(parent) = new.created_by_token_id {
        api_token::lock_lineage(c).await?;
        if !api_token::is_valid(c, parent).await? {
            return Err(DbError::Forbidden(
                "the token this request was made with has been revoked or has expired".into(),
            ));
        }
    }
    api_token::insert(c, new).await
}

/// Revokes token `id` at once, with every token created through it (transitively); returns it.
/// Another user's token is `NOT_FOUND` unless the caller is a superuser (no id probing).
#[tracing::instrument(skip_all, fields(token = %id))]
pub async fn revoke_api_token(
    db: &Db,
    principal: &Principal,
    id: ApiTokenId,
) -> ServiceResult<ApiToken> {
    write(db, principal, "ApiToken", vec![], move |c, p| {
        Box::pin(async move {
            api_token::by_ids(c, &[id])
                .await?
                .into_iter()
                .find(|t| p.is_superuser || t.user_id == p.user_id)
                .ok_or(DbError::NotFound)?;
            revoke_tokens_as_system(c, &[id])
                .await?
                .into_iter()
                .find(|t| t.id == id)
                .ok_or(DbError::NotFound)
        })
    })
    .await
}

/// Revokes the tokens `roots` and every token created through them, without checking the
/// caller; returns every token of those lineages. When that revokes a token not revoked before,
/// records `ACCESS_CHANGED` for the credentials of their users (their websockets re-check their
/// tokens); revoking again records nothing.
pub async fn revoke_tokens_as_system(
    c: &mut AsyncPgConnection,
    roots: &[ApiTokenId],
) -> QueryResult<Vec<ApiToken>> {
    let rows = api_token::revoke_all(c, roots).await?;
    let mut users: Vec<UserId> = rows
        .iter()
        .filter(|r| r.fresh)
        .map(|r| r.token.user_id)
        .collect();
    users.sort_unstable();
    users.dedup();
    record_access_changed(c, AccessChange::CredentialsOf(users)).await?;
    Ok(rows.into_iter().map(|r| r.token).collect())
}
