//! Groups of users. A group holds roles through memberships and an optional global role; each
//! member holds a role inside the group, which governs managing the group. The rules (a group
//! keeps an OWNER, who may add or remove whom) and the `ACCESS_CHANGED` events are in
//! `service::access`.

use super::page::SortKey;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    page::Listed,
    schema::{group_members, groups},
    sql::{Sql, SqlFilter, like_pattern},
};
use crate::domain::{
    Role,
    ids::{GroupId, GroupMemberId, UserId},
};

/// Column widths (characters) of `groups`.
pub const NAME_MAX: usize = 255;
pub const DESCRIPTION_MAX: usize = 4000;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = groups, check_for_backend(diesel::pg::Pg))]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub description: Option<String>,
    pub global_role: Option<Role>,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = group_members, check_for_backend(diesel::pg::Pg))]
pub struct GroupMember {
    pub id: GroupMemberId,
    pub group_id: GroupId,
    pub user_id: UserId,
    pub role: Role,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = groups)]
pub struct NewGroup {
    pub name: String,
    pub description: Option<String>,
}

/// Filter for group lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct GroupFilter {
    pub name_contains: Option<String>,
}

impl SqlFilter for GroupFilter {
    fn push_conditions(&self, sql: &mut Sql) {
        if let Some(n) = &self.name_contains {
            sql.and::<diesel::sql_types::Text, _>("t.name ILIKE ", like_pattern(n));
        }
    }
}

/// Sort keys of group lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GroupOrder {
    #[default]
    Id,
    Name,
}

impl Listed for Group {
    type Parent = super::page::NoParent;
    type Id = GroupId;
    fn row_id(&self) -> GroupId {
        self.id
    }
    const FROM: &'static str = "groups t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Group;
    type Filter = GroupFilter;
    type Order = GroupOrder;
    fn sort_key(order: GroupOrder) -> SortKey {
        match order {
            GroupOrder::Id => SortKey::ID,
            GroupOrder::Name => SortKey::text("lower(t.name)"),
        }
    }
}

/// Inserts a group (its first OWNER is added by the caller).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(conn: &mut AsyncPgConnection, new: NewGroup) -> QueryResult<Group> {
    Ok(diesel::insert_into(groups::table)
        .values(&new)
        .returning(Group::as_returning())
        .get_result(conn)
        .await?)
}

/// Adds `user` to `group` with `role`: share-locks the user (`ParentNotFound` when it does not
/// exist) and takes the group's member lock (see [`member_ids_for_access`]) before the insert.
/// The group is checked and locked by the caller; a second membership fails with `Unique`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_member(
    conn: &mut AsyncPgConnection,
    group: GroupId,
    user: UserId,
    role: Role,
) -> QueryResult<GroupMember> {
    super::user::lock(conn, user).await?;
    lock_members(conn, group).await?;
    Ok(diesel::insert_into(group_members::table)
        .values((
            group_members::group_id.eq(group),
            group_members::user_id.eq(user),
            group_members::role.eq(role),
        ))
        .returning(GroupMember::as_returning())
        .get_result(conn)
        .await?)
}

/// The user ids of `group`'s OWNERs, locked until the transaction ends (for the rule that a
/// group keeps an OWNER; call after [`lock_members`]).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn owner_ids_for_update(
    conn: &mut AsyncPgConnection,
    group: GroupId,
) -> QueryResult<Vec<UserId>> {
    Ok(group_members::table
        .filter(group_members::group_id.eq(group))
        .filter(group_members::role.eq(Role::Owner))
        .order(group_members::id)
        .select(group_members::user_id)
        .for_update()
        .load(conn)
        .await?)
}

/// Deletes `user`'s membership of `group`; `NotFound` when it is no member.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_member(
    conn: &mut AsyncPgConnection,
    group: GroupId,
    user: UserId,
) -> QueryResult<GroupMember> {
    Ok(diesel::delete(
        group_members::table
            .filter(group_members::group_id.eq(group))
            .filter(group_members::user_id.eq(user)),
    )
    .returning(GroupMember::as_returning())
    .get_result(conn)
    .await?)
}

/// The role `user` holds in `group`, if any.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn role_of(
    conn: &mut AsyncPgConnection,
    group: GroupId,
    user: UserId,
) -> QueryResult<Option<Role>> {
    Ok(group_members::table
        .filter(group_members::group_id.eq(group))
        .filter(group_members::user_id.eq(user))
        .select(group_members::role)
        .first(conn)
        .await
        .optional()?)
}

/// Sets or clears a group's global role (the update only).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_global_role(
    conn: &mut AsyncPgConnection,
    group: GroupId,
    role: Option<Role>,
) -> QueryResult<Group> {
    Ok(diesel::update(groups::table.find(group))
        .set(groups::global_role.eq(role))
        .returning(Group::as_returning())
        .get_result(conn)
        .await?)
}

/// The class of the advisory locks (two-key form: this class, the group id) that keep a
/// group's member list still while a change of the group's roles names its members.
const MEMBERS_LOCK: i32 = 0x646f_6a67;

/// The ids of `group`'s members now, for the `ACCESS_CHANGED` of a change to the group's roles
/// (its global role, or a membership held by the group), in the caller's transaction.
///
/// Takes the group's member lock shared: adding and removing members ([`insert_member`],
/// [`lock_members`]) take it exclusively, so no user joins the group between this read and the
/// commit. Without it, a user joining meanwhile would be named by neither event (the join's
/// event is handled before the role change commits) and could keep a cached view of the
/// group's old roles. Callers lock rows first and this last, never the other way round (the
/// member changes hold a share lock on the group row while they wait for this one).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn member_ids_for_access(
    conn: &mut AsyncPgConnection,
    group: GroupId,
) -> QueryResult<Vec<UserId>> {
    diesel::sql_query("SELECT pg_advisory_xact_lock_shared($1, $2)")
        .bind::<diesel::sql_types::Integer, _>(MEMBERS_LOCK)
        .bind::<diesel::sql_types::Integer, _>(group)
        .execute(conn)
        .await?;
    Ok(group_members::table
        .filter(group_members::group_id.eq(group))
        .order(group_members::user_id)
        .select(group_members::user_id)
        .load(conn)
        .await?)
}

/// Takes `group`'s member lock exclusively, for a change of its members (see
/// [`member_ids_for_access`]).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock_members(conn: &mut AsyncPgConnection, group: GroupId) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind::<diesel::sql_types::Integer, _>(MEMBERS_LOCK)
        .bind::<diesel::sql_types::Integer, _>(group)
        .execute(conn)
        .await?;
    Ok(())
}

/// Members of many groups, oldest first, in one statement.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn members_of(
    conn: &mut AsyncPgConnection,
    groups: &[GroupId],
) -> QueryResult<HashMap<GroupId, Vec<GroupMember>>> {
    let rows: Vec<GroupMember> = group_members::table
        .filter(group_members::group_id.eq_any(groups))
        .order(group_members::id)
        .select(GroupMember::as_select())
        .load(conn)
        .await?;
    Ok(super::group_by(rows, |m| Some(m.group_id)))
}

/// The groups `user` belongs to, oldest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn of_user(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<Vec<Group>> {
    Ok(groups::table
        .inner_join(group_members::table)
        .filter(group_members::user_id.eq(user))
        .order(groups::id)
        .select(Group::as_select())
        .load(conn)
        .await?)
}

/// A group membership by id, if `viewer` may see its group.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn member_by_id(
    conn: &mut AsyncPgConnection,
    id: GroupMemberId,
    viewer: super::authz::Viewer,
) -> QueryResult<Option<GroupMember>> {
    let mut sql = Sql::new("SELECT x.* FROM group_members x WHERE x.id = ");
    sql.bind::<diesel::sql_types::Integer, _>(id);
    if let super::authz::Visibility::Member(user) = viewer.groups {
        sql.push(
            " AND x.group_id IN (SELECT gm.group_id FROM group_members gm WHERE gm.user_id = ",
        )
        .bind::<diesel::sql_types::Integer, _>(user)
        .push(")");
    }
    Ok(sql.build().get_result(conn).await.optional()?)
}
