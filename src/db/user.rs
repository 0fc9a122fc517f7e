//! Users: the people named as leads, managers, reporters and note authors.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    page::Listed,
    schema::users,
    sql::{Sql, SqlFilter, like_pattern},
};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: i32,
    pub username: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created: DateTime<Utc>,
    pub is_active: bool,
    pub is_superuser: bool,
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
    /// Matches username, email, first or last name.
    pub search: Option<String>,
}

impl SqlFilter for UserFilter {
    fn push_conditions(&self, sql: &mut Sql) {
        if let Some(s) = &self.search {
            let p = like_pattern(s);
            sql.push(" AND (t.username ILIKE ")
                .bind::<diesel::sql_types::Text, _>(p.clone())
                .push(" OR t.email ILIKE ")
                .bind::<diesel::sql_types::Text, _>(p.clone())
                .push(" OR concat_ws(' ', t.first_name, t.last_name) ILIKE ")
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
    const FROM: &'static str = "users t";
    type Filter = UserFilter;
    type Order = UserOrder;
    fn order_column(order: UserOrder) -> &'static str {
        match order {
            UserOrder::Id => "t.id",
            UserOrder::Username => "lower(t.username)",
        }
    }
}

pub async fn create(conn: &mut AsyncPgConnection, new: NewUser) -> QueryResult<User> {
    Ok(diesel::insert_into(users::table)
        .values(&new)
        .returning(User::as_returning())
        .get_result(conn)
        .await?)
}
