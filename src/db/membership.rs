//! Memberships: a role on a product type (inherited by its products) or on a product, granted to
//! a user or a group. At most one membership per (target, member). The rules on changing them
//! (who grants OWNER, the last OWNER stays) and their `ACCESS_CHANGED` events are in
//! `service::access`; this module holds the queries and locks.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    DbError, QueryResult,
    schema::{groups, memberships},
};
use crate::domain::{
    Role,
    ids::{GroupId, MembershipId, ProductId, ProductTypeId, UserId},
};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = memberships, check_for_backend(diesel::pg::Pg))]
pub struct Membership {
    pub id: MembershipId,
    pub product_type_id: Option<ProductTypeId>,
    pub product_id: Option<ProductId>,
    pub user_id: Option<UserId>,
    pub group_id: Option<GroupId>,
    pub role: Role,
    pub created: DateTime<Utc>,
}

/// What a membership grants a role on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum On {
    ProductType(ProductTypeId),
    Product(ProductId),
}

/// Who a membership grants a role to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Member {
    User(UserId),
    Group(GroupId),
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
            .first::<GroupId>(conn)
            .await
            .optional()?
            .map(|_| ())
            .ok_or(DbError::ParentNotFound("group")),
    }
}

/// Grants `role` on `on` to `member`: the insert only (the target is checked and locked by the
/// caller; the member is share-locked here, `ParentNotFound` when it does not exist). A second
/// membership of the same member on the same target fails with `Unique`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(
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
    Ok(diesel::insert_into(memberships::table)
        .values((
            memberships::product_type_id.eq(product_type_id),
            memberships::product_id.eq(product_id),
            memberships::user_id.eq(user_id),
            memberships::group_id.eq(group_id),
            memberships::role.eq(role),
        ))
        .returning(Membership::as_returning())
        .get_result(conn)
        .await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(conn: &mut AsyncPgConnection, id: MembershipId) -> QueryResult<Membership> {
    Ok(memberships::table
        .find(id)
        .select(Membership::as_select())
        .get_result(conn)
        .await?)
}

/// The membership `id`, locked for a change after its product type or product: every change to
/// the memberships of one target serializes on the target row (`FOR NO KEY UPDATE`, which does
/// not block foreign-key checks), so concurrent changes cannot deadlock on each other's rows.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock(conn: &mut AsyncPgConnection, id: MembershipId) -> QueryResult<Membership> {
    let (table, target) = match get(conn, id).await?.on() {
        On::ProductType(t) => ("product_types", t.get()),
        On::Product(t) => ("products", t.get()),
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

/// The ids of the OWNER memberships on `on`, locked until the transaction ends (for the rule
/// that a target with an OWNER keeps one; call after [`lock`]).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn owner_ids_for_update(
    conn: &mut AsyncPgConnection,
    on: On,
) -> QueryResult<Vec<MembershipId>> {
    let (column, target) = match on {
        On::ProductType(id) => ("product_type_id", id.get()),
        On::Product(id) => ("product_id", id.get()),
    };
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: MembershipId,
    }
    Ok(diesel::sql_query(format!(
        "SELECT id FROM memberships WHERE role = 'OWNER' AND {column} = $1 ORDER BY id FOR UPDATE"
    ))
    .bind::<diesel::sql_types::Integer, _>(target)
    .load::<Id>(conn)
    .await?
    .into_iter()
    .map(|r| r.id)
    .collect())
}

/// Sets a membership's role (the update only).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_role(
    conn: &mut AsyncPgConnection,
    id: MembershipId,
    role: Role,
) -> QueryResult<Membership> {
    Ok(diesel::update(memberships::table.find(id))
        .set(memberships::role.eq(role))
        .returning(Membership::as_returning())
        .get_result(conn)
        .await?)
}

/// Deletes a membership (the delete only).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(conn: &mut AsyncPgConnection, id: MembershipId) -> QueryResult<Membership> {
    Ok(diesel::delete(memberships::table.find(id))
        .returning(Membership::as_returning())
        .get_result(conn)
        .await?)
}

/// The memberships of many targets, oldest first, in one statement.
#[tracing::instrument(level = "debug", skip_all)]
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
#[tracing::instrument(level = "debug", skip_all)]
pub async fn applying_to(
    conn: &mut AsyncPgConnection,
    user: UserId,
) -> QueryResult<Vec<Membership>> {
    Ok(diesel::sql_query(
        "SELECT m.* FROM memberships m WHERE m.id IN \
         (SELECT um.id FROM user_memberships um WHERE um.user_id = $1) ORDER BY m.id",
    )
    .bind::<diesel::sql_types::Integer, _>(user)
    .load(conn)
    .await?)
}

/// Memberships by id whose target `viewer` may read.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[MembershipId],
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
