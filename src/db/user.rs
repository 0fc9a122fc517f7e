//! Users: the people named as leads, managers, reporters and note authors.

use super::page::SortKey;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::domain::{Role, ids::UserId};

use super::{
    QueryResult,
    page::Listed,
    schema::users,
    sql::{Sql, SqlFilter, like_pattern},
};

/// Column widths (characters) of `users`.
pub const USERNAME_MAX: usize = 150;
pub const EMAIL_MAX: usize = 254;
/// Of `first_name` and `last_name` each.
pub const NAME_MAX: usize = 150;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created: DateTime<Utc>,
    pub is_active: bool,
    pub is_superuser: bool,
    pub global_role: Option<Role>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub is_superuser: bool,
}

/// Filter for user lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UserFilter {
    /// Matches username, first or last name, and the email when `include_email`.
    pub search: Option<String>,
    pub include_email: bool,
}

impl SqlFilter for UserFilter {
    fn push_conditions(&self, sql: &mut Sql) {
        if let Some(s) = &self.search {
            let p = like_pattern(s);
            sql.push(" AND (t.username ILIKE ")
                .bind::<diesel::sql_types::Text, _>(p.clone());
            if self.include_email {
                sql.push(" OR t.email ILIKE ")
                    .bind::<diesel::sql_types::Text, _>(p.clone());
            }
            sql.push(" OR concat_ws(' ', t.first_name, t.last_name) ILIKE ")
                .bind::<diesel::sql_types::Text, _>(p)
                .push(")");
        }
    }
}

/// Sort keys of user lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UserOrder {
    #[default]
    Id,
    Username,
}

impl Listed for User {
    type Parent = super::page::NoParent;
    type Id = UserId;
    fn row_id(&self) -> UserId {
        self.id
    }
    const FROM: &'static str = "users t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Public;
    type Filter = UserFilter;
    type Order = UserOrder;
    fn sort_key(order: UserOrder) -> SortKey {
        match order {
            UserOrder::Id => SortKey::ID,
            UserOrder::Username => SortKey::text("lower(t.username)"),
        }
    }
}

/// Fails with `ParentNotFound("user")` unless the user exists; share-locks it (so it cannot be
/// deleted before the caller's transaction ends).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<()> {
    users::table
        .find(id)
        .select(users::id)
        .for_share()
        .first::<UserId>(conn)
        .await
        .optional()?
        .ok_or(super::DbError::ParentNotFound("user"))?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(conn: &mut AsyncPgConnection, new: NewUser) -> QueryResult<User> {
    Ok(diesel::insert_into(users::table)
        .values(&new)
        .returning(User::as_returning())
        .get_result(conn)
        .await?)
}

/// Changes to a user; fields left `None` stay as they are.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub email: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub is_superuser: Option<bool>,
}

/// The active and superuser flags of user `id`, locked until the transaction ends (`None` when
/// there is no such user): what a change of them is compared with.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn flags_for_update(
    conn: &mut AsyncPgConnection,
    id: UserId,
) -> QueryResult<Option<(bool, bool)>> {
    Ok(users::table
        .find(id)
        .select((users::is_active, users::is_superuser))
        .for_no_key_update()
        .first(conn)
        .await
        .optional()?)
}

/// Changes a user (the update only).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: UserId,
    changes: UserChanges,
) -> QueryResult<User> {
    Ok(diesel::update(users::table.find(id))
        .set(&changes)
        .returning(User::as_returning())
        .get_result(conn)
        .await?)
}

/// Sets or clears a user's global role (the update only).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_global_role(
    conn: &mut AsyncPgConnection,
    id: UserId,
    role: Option<Role>,
) -> QueryResult<User> {
    Ok(diesel::update(users::table.find(id))
        .set(users::global_role.eq(role))
        .returning(User::as_returning())
        .get_result(conn)
        .await?)
}
