//! API tokens: stored as SHA-256 hashes; a token authenticates while it is neither revoked nor
//! expired and its user is active.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    schema::{api_tokens, users},
    user::User,
};
use crate::domain::events::AccessChanged;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::pg::Pg))]
pub struct ApiToken {
    pub id: i32,
    pub user_id: i32,
    pub name: String,
    pub token_hash: String,
    pub created: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Stores a token (by its hash) for an existing user.
pub async fn create(
    conn: &mut AsyncPgConnection,
    user_id: i32,
    name: String,
    token_hash: String,
    expires_at: Option<DateTime<Utc>>,
) -> QueryResult<ApiToken> {
    super::user::lock(conn, user_id).await?;
    Ok(diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::user_id.eq(user_id),
            api_tokens::name.eq(name),
            api_tokens::token_hash.eq(token_hash),
            api_tokens::expires_at.eq(expires_at),
        ))
        .returning(ApiToken::as_returning())
        .get_result(conn)
        .await?)
}

/// Revokes a token (idempotent: a revoked token keeps its first revocation time). The first
/// revocation records `ACCESS_CHANGED` for the credentials of the token's user, so that its
/// websockets re-check their tokens; revoking again records nothing.
pub async fn revoke(conn: &mut AsyncPgConnection, id: i32) -> QueryResult<ApiToken> {
    let revoked: Option<ApiToken> = diesel::update(
        api_tokens::table
            .find(id)
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(diesel::dsl::now))
    .returning(ApiToken::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    match revoked {
        Some(token) => {
            let change = AccessChanged::credentials_of(vec![token.user_id]);
            super::outbox::record_access(conn, &change).await?;
            Ok(token)
        }
        // Already revoked (or missing: `NotFound`).
        None => Ok(api_tokens::table
            .find(id)
            .select(ApiToken::as_select())
            .get_result(conn)
            .await?),
    }
}

pub async fn by_ids(conn: &mut AsyncPgConnection, ids: &[i32]) -> QueryResult<Vec<ApiToken>> {
    Ok(api_tokens::table
        .filter(api_tokens::id.eq_any(ids))
        .select(ApiToken::as_select())
        .load(conn)
        .await?)
}

/// The active user owning a valid (unrevoked, unexpired) token with this hash, and the token's
/// expiry, in one statement.
pub async fn authenticate(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> QueryResult<Option<(User, Option<DateTime<Utc>>)>> {
    Ok(api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(
            api_tokens::expires_at
                .is_null()
                .or(api_tokens::expires_at.gt(diesel::dsl::now)),
        )
        .filter(users::is_active.eq(true))
        .select((User::as_select(), api_tokens::expires_at))
        .first(conn)
        .await
        .optional()?)
}
