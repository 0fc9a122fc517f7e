//! Memberships: a role on a product type (inherited by its products) or on a product, granted to
//! a user or a group. At most one membership per (target, member); a target that has an OWNER
//! keeps at least one.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    DbError, QueryResult,
    schema::{groups, memberships},
};
use crate::domain::{Role, events::AccessChanged};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = memberships, check_for_backend(diesel::pg::Pg))]
pub struct Membership {
    pub id: i32,
    pub product_type_id: Option<i32>,
    pub product_id: Option<i32>,
    pub user_id: Option<i32>,
    pub group_id: Option<i32>,
    pub role: Role,
    pub created: DateTime<Utc>,
}

/// What a membership grants a role on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum On {
    ProductType(i32),
    Product(i32),
}

/// Who a membership grants a role to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Member {
    User(i32),
    Group(i32),
}

impl Membership {
    pub fn on(&self) -> On {
        match (self.product_type_id, self.product_id) {
            (Some(id), _) => On::ProductType(id),
            (_, Some(id)) => On::Product(id),
            _ => unreachable!("memberships_one_target"),
        }
    }

    pub fn member(&self) -> Member {
        match (self.user_id, self.group_id) {
            (Some(id), _) => Member::User(id),
            (_, Some(id)) => Member::Group(id),
            _ => unreachable!("memberships_one_member"),
        }
    }
}

/// Fails with `ParentNotFound` unless the user or group exists (share-locked meanwhile).
async fn lock_member(conn: &mut AsyncPgConnection, member: Member) -> QueryResult<()> {
    match member {
        Member::User(id) => super::user::lock(conn, id).await,
        Member::Group(id) => groups::table
            .find(id)
            .select(groups::id)
            .for_share()
            .first::<i32>(conn)
            .await
            .optional()?
            .map(|_| ())
            .ok_or(DbError::ParentNotFound("group")),
    }
}

/// Records the `ACCESS_CHANGED` of a change to `member`'s roles: it names the user, or the
/// group's members now (see [`super::group::member_ids_for_access`]; called after the rows are
/// locked and written).
async fn record_access(conn: &mut AsyncPgConnection, member: Member) -> QueryResult<()> {
    let users = match member {
        Member::User(id) => vec![id],
        Member::Group(id) => super::group::member_ids_for_access(conn, id).await?,
    };
    super::outbox::record_access(conn, &AccessChanged::roles_of(users)).await
}

/// Grants `role` on `on` to `member` (the target is checked and locked by the caller).
pub async fn add(
    conn: &mut AsyncPgConnection,
    on: On,
    member: Member,
    role: Role,
) -> QueryResult<Membership> {
    lock_member(conn, member).await?;
    let (product_type_id, product_id) = match on {
        On::ProductType(id) => (Some(id), None),
        On::Product(id) => (None, Some(id)),
    };
    let (user_id, group_id) = match member {
        Member::User(id) => (Some(id), None),
        Member::Group(id) => (None, Some(id)),
    };
    let added = diesel::insert_into(memberships::table)
        .values((
            memberships::product_type_id.eq(product_type_id),
            memberships::product_id.eq(product_id),
            memberships::user_id.eq(user_id),
            memberships::group_id.eq(group_id),
            memberships::role.eq(role),
        ))
        .returning(Membership::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| match DbError::from(e) {
            DbError::Unique { .. } => DbError::Conflict(
                "this user or group already has a role here: change it with updateMember".into(),
            ),
            other => other,
        })?;
    record_access(conn, member).await?;
    Ok(added)
}

pub async fn get(conn: &mut AsyncPgConnection, id: i32) -> QueryResult<Membership> {
    Ok(memberships::table
        .find(id)
        .select(Membership::as_select())
        .get_result(conn)
        .await?)
}

/// The membership `id`, locked for a change after its product type or product: every change to
/// the memberships of one target serializes on the target row (`FOR NO KEY UPDATE`, which does
/// not block foreign-key checks), so concurrent changes cannot deadlock on each other's rows.
async fn lock(conn: &mut AsyncPgConnection, id: i32) -> QueryResult<Membership> {
    let (table, target) = match get(conn, id).await?.on() {
        On::ProductType(t) => ("product_types", t),
        On::Product(t) => ("products", t),
    };
    diesel::sql_query(format!(
        "SELECT id FROM {table} WHERE id = $1 FOR NO KEY UPDATE"
    ))
    .bind::<diesel::sql_types::Integer, _>(target)
    .execute(conn)
    .await?;
    Ok(memberships::table
        .find(id)
        .select(Membership::as_select())
        .for_update()
        .get_result(conn)
        .await?)
}

/// Refuses to leave `on` without an OWNER when it had one: locks the target's OWNER memberships
/// and fails with `Conflict` unless one other than `leaving` remains.
async fn keep_an_owner(conn: &mut AsyncPgConnection, m: &Membership) -> QueryResult<()> {
    if m.role != Role::Owner {
        return Ok(());
    }
    let (column, target) = match m.on() {
        On::ProductType(id) => ("product_type_id", id),
        On::Product(id) => ("product_id", id),
    };
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: i32,
    }
    let ids: Vec<i32> = diesel::sql_query(format!(
        "SELECT id FROM memberships WHERE role = 'OWNER' AND {column} = $1 ORDER BY id FOR UPDATE"
    ))
    .bind::<diesel::sql_types::Integer, _>(target)
    .load::<Id>(conn)
    .await?
    .into_iter()
    .map(|r| r.id)
    .collect();
    if ids.iter().all(|id| *id == m.id) {
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

/// Changes a membership's role; demoting the last OWNER fails with `Conflict`.
pub async fn set_role(
    conn: &mut AsyncPgConnection,
    id: i32,
    role: Role,
) -> QueryResult<Membership> {
    let current = lock(conn, id).await?;
    if role != Role::Owner {
        keep_an_owner(conn, &current).await?;
    }
    let changed = diesel::update(memberships::table.find(id))
        .set(memberships::role.eq(role))
        .returning(Membership::as_returning())
        .get_result(conn)
        .await?;
    if changed.role != current.role {
        record_access(conn, changed.member()).await?;
    }
    Ok(changed)
}

/// Removes a membership; removing the last OWNER fails with `Conflict`.
pub async fn remove(conn: &mut AsyncPgConnection, id: i32) -> QueryResult<Membership> {
    let current = lock(conn, id).await?;
    keep_an_owner(conn, &current).await?;
    let removed = diesel::delete(memberships::table.find(id))
        .returning(Membership::as_returning())
        .get_result(conn)
        .await?;
    record_access(conn, removed.member()).await?;
    Ok(removed)
}

/// The memberships of many targets, oldest first, in one statement.
pub async fn of_targets(
    conn: &mut AsyncPgConnection,
    targets: &[On],
) -> QueryResult<HashMap<On, Vec<Membership>>> {
    let (mut pt, mut p) = (Vec::new(), Vec::new());
    for t in targets {
        match t {
            On::ProductType(id) => pt.push(*id),
            On::Product(id) => p.push(*id),
        }
    }
    let rows: Vec<Membership> = memberships::table
        .filter(
            memberships::product_type_id
                .eq_any(pt)
                .or(memberships::product_id.eq_any(p)),
        )
        .order(memberships::id)
        .select(Membership::as_select())
        .load(conn)
        .await?;
    Ok(super::group_by(rows, |m| Some(m.on())))
}

/// Every membership that applies to `user`: its own and its groups', oldest first.
pub async fn applying_to(conn: &mut AsyncPgConnection, user: i32) -> QueryResult<Vec<Membership>> {
    Ok(diesel::sql_query(
        "SELECT m.* FROM memberships m WHERE m.id IN \
         (SELECT um.id FROM user_memberships um WHERE um.user_id = $1) ORDER BY m.id",
    )
    .bind::<diesel::sql_types::Integer, _>(user)
    .load(conn)
    .await?)
}

/// Memberships by id whose target `viewer` may read.
pub async fn by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[i32],
    viewer: super::authz::Viewer,
) -> QueryResult<Vec<Membership>> {
    let mut sql = super::sql::Sql::new("SELECT t.* FROM memberships t WHERE t.id = ANY(");
    sql.bind::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(ids.to_vec())
        .push(")");
    if let super::authz::Visibility::Member(user) = viewer.products {
        sql.push(" AND (t.product_id IN ");
        super::authz::readable_products(&mut sql, user);
        sql.push(" OR t.product_type_id IN (SELECT um.product_type_id FROM user_memberships um WHERE um.user_id = ")
            .bind::<diesel::sql_types::Integer, _>(user)
            .push(") OR t.product_type_id IN (SELECT rp.product_type_id FROM products rp WHERE rp.id IN ");
        super::authz::readable_products(&mut sql, user);
        sql.push("))");
    }
    Ok(sql.build().load(conn).await?)
}
