//! Groups of users. A group holds roles through memberships and an optional global role; each
//! member holds a role inside the group, which governs managing the group. A group keeps at
//! least one OWNER.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    DbError, QueryResult,
    page::Listed,
    schema::{group_members, groups},
    sql::{Sql, SqlFilter, like_pattern},
};
use crate::domain::Role;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = groups, check_for_backend(diesel::pg::Pg))]
pub struct Group {
    pub id: i32,
    pub name: String,
    pub description: Option<String>,
    pub global_role: Option<Role>,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = group_members, check_for_backend(diesel::pg::Pg))]
pub struct GroupMember {
    pub id: i32,
    pub group_id: i32,
    pub user_id: i32,
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
    const FROM: &'static str = "groups t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Group;
    type Filter = GroupFilter;
    type Order = GroupOrder;
    fn order_column(order: GroupOrder) -> &'static str {
        match order {
            GroupOrder::Id => "t.id",
            GroupOrder::Name => "lower(t.name)",
        }
    }
}

/// Creates a group; `owner` (the creator) becomes its first OWNER.
pub async fn create(
    conn: &mut AsyncPgConnection,
    new: NewGroup,
    owner: Option<i32>,
) -> QueryResult<Group> {
    let group: Group = diesel::insert_into(groups::table)
        .values(&new)
        .returning(Group::as_returning())
        .get_result(conn)
        .await?;
    if let Some(user) = owner {
        add_member(conn, group.id, user, Role::Owner).await?;
    }
    Ok(group)
}

/// Adds `user` to `group` with `role` (the group is checked and locked by the caller).
pub async fn add_member(
    conn: &mut AsyncPgConnection,
    group: i32,
    user: i32,
    role: Role,
) -> QueryResult<GroupMember> {
    super::user::lock(conn, user).await?;
    let added = diesel::insert_into(group_members::table)
        .values((
            group_members::group_id.eq(group),
            group_members::user_id.eq(user),
            group_members::role.eq(role),
        ))
        .returning(GroupMember::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| match DbError::from(e) {
            DbError::Unique { .. } => {
                DbError::Conflict("the user is already a member of this group".into())
            }
            other => other,
        })?;
    super::outbox::record(conn, &crate::domain::events::NewEvent::access_changed()).await?;
    Ok(added)
}

/// Removes `user` from `group`; `NotFound` when it is no member, `Conflict` when it is the last
/// OWNER.
pub async fn remove_member(
    conn: &mut AsyncPgConnection,
    group: i32,
    user: i32,
) -> QueryResult<GroupMember> {
    let owners: Vec<(i32, Role)> = group_members::table
        .filter(group_members::group_id.eq(group))
        .filter(group_members::role.eq(Role::Owner))
        .order(group_members::id)
        .select((group_members::user_id, group_members::role))
        .for_update()
        .load(conn)
        .await?;
    if owners.len() == 1 && owners[0].0 == user {
        return Err(DbError::Conflict(
            "this is the last owner of the group: make another member OWNER first".into(),
        ));
    }
    let removed = diesel::delete(
        group_members::table
            .filter(group_members::group_id.eq(group))
            .filter(group_members::user_id.eq(user)),
    )
    .returning(GroupMember::as_returning())
    .get_result(conn)
    .await?;
    super::outbox::record(conn, &crate::domain::events::NewEvent::access_changed()).await?;
    Ok(removed)
}

/// The role `user` holds in `group`, if any.
pub async fn role_of(
    conn: &mut AsyncPgConnection,
    group: i32,
    user: i32,
) -> QueryResult<Option<Role>> {
    Ok(group_members::table
        .filter(group_members::group_id.eq(group))
        .filter(group_members::user_id.eq(user))
        .select(group_members::role)
        .first(conn)
        .await
        .optional()?)
}

/// Sets or clears a group's global role.
pub async fn set_global_role(
    conn: &mut AsyncPgConnection,
    group: i32,
    role: Option<Role>,
) -> QueryResult<Group> {
    let changed = diesel::update(groups::table.find(group))
        .set(groups::global_role.eq(role))
        .returning(Group::as_returning())
        .get_result(conn)
        .await?;
    super::outbox::record(conn, &crate::domain::events::NewEvent::access_changed()).await?;
    Ok(changed)
}

/// Members of many groups, oldest first, in one statement.
pub async fn members_of(
    conn: &mut AsyncPgConnection,
    groups: &[i32],
) -> QueryResult<HashMap<i32, Vec<GroupMember>>> {
    let rows: Vec<GroupMember> = group_members::table
        .filter(group_members::group_id.eq_any(groups))
        .order(group_members::id)
        .select(GroupMember::as_select())
        .load(conn)
        .await?;
    Ok(super::group_by(rows, |m| Some(m.group_id)))
}

/// The groups `user` belongs to, oldest first.
pub async fn of_user(conn: &mut AsyncPgConnection, user: i32) -> QueryResult<Vec<Group>> {
    Ok(groups::table
        .inner_join(group_members::table)
        .filter(group_members::user_id.eq(user))
        .order(groups::id)
        .select(Group::as_select())
        .load(conn)
        .await?)
}

/// A group membership by id, if `viewer` may see its group.
pub async fn member_by_id(
    conn: &mut AsyncPgConnection,
    id: i32,
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
