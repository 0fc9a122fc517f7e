//! API tokens: stored as SHA-256 hashes; a token authenticates while it is neither revoked nor
//! expired and its user is active.
//!
//! Tokens have a lineage: a token created by a request that was itself authenticated by a token
//! records that parent (`created_by_token_id`), and revoking a token revokes every token created
//! through it, transitively. Creating through a token and revoking serialize on one advisory
//! lock, so a child being created while its parent is revoked is either revoked with it or
//! refused.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{Array, Bool, Integer},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    DbError, QueryResult,
    schema::{api_tokens, users},
    user::User,
};
use crate::domain::events::AccessChanged;

/// The transaction-level advisory lock that serializes token creations through a token with
/// revocations ("dojotokn").
const LINEAGE_LOCK: i64 = 0x646f_6a6f_746f_6b6e;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::pg::Pg))]
pub struct ApiToken {
    pub id: i32,
    pub user_id: i32,
    pub name: String,
    pub token_hash: String,
    pub created: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The token whose request created this one (`None`: created without a token, e.g. by
    /// `dojoql create-user`).
    pub created_by_token_id: Option<i32>,
}

/// A token to store (by its hash) for an existing user.
#[derive(Debug, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewApiToken {
    pub user_id: i32,
    pub name: String,
    pub token_hash: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// The token that authenticated the creating request. It must still be valid when the new
    /// token is written; the caller has already bounded `expires_at` by the parent's expiry.
    pub created_by_token_id: Option<i32>,
}

/// Takes the lineage lock until the transaction ends.
async fn lock_lineage(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query(format!("SELECT pg_advisory_xact_lock({LINEAGE_LOCK})"))
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores a token. Created through a parent token, it is written only while the parent is still
/// valid (neither revoked nor expired): a parent revoked meanwhile refuses with `Forbidden`.
pub async fn create(conn: &mut AsyncPgConnection, new: NewApiToken) -> QueryResult<ApiToken> {
    super::user::lock(conn, new.user_id).await?;
    if let Some(parent) = new.created_by_token_id {
        lock_lineage(conn).await?;
        #[derive(QueryableByName)]
        struct Valid {
            #[diesel(sql_type = Bool)]
            valid: bool,
        }
        let parent: Option<Valid> = diesel::sql_query(
            "SELECT revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AS valid \
             FROM api_tokens WHERE id = $1",
        )
        .bind::<Integer, _>(parent)
        .get_result(conn)
        .await
        .optional()?;
        if !parent.is_some_and(|p| p.valid) {
            return Err(DbError::Forbidden(
                "the token this request was made with has been revoked or has expired".into(),
            ));
        }
    }
    Ok(diesel::insert_into(api_tokens::table)
        .values(&new)
        .returning(ApiToken::as_returning())
        .get_result(conn)
        .await?)
}

/// Revokes a token and every token created through it, transitively (idempotent: a revoked
/// token keeps its first revocation time). Returns the token `id` itself.
pub async fn revoke(conn: &mut AsyncPgConnection, id: i32) -> QueryResult<ApiToken> {
    revoke_all(conn, &[id])
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(DbError::NotFound)
}

/// Revokes the tokens `roots` and every token created through them, transitively, in one
/// statement; returns every token of those lineages. When that revokes any token not revoked
/// before, it records `ACCESS_CHANGED` for the credentials of their users, so that their
/// websockets re-check their tokens; revoking again records nothing.
pub async fn revoke_all(conn: &mut AsyncPgConnection, roots: &[i32]) -> QueryResult<Vec<ApiToken>> {
    #[derive(QueryableByName)]
    struct Revoked {
        #[diesel(embed)]
        token: ApiToken,
        /// Whether this statement revoked it (it was not revoked before).
        #[diesel(sql_type = diesel::sql_types::Bool)]
        fresh: bool,
    }
    // Taken before the update so that its statement sees every child committed before it.
    lock_lineage(conn).await?;
    let rows: Vec<Revoked> = diesel::sql_query(
        "WITH RECURSIVE lineage AS ( \
             SELECT id FROM api_tokens WHERE id = ANY($1) \
             UNION SELECT t.id FROM api_tokens t JOIN lineage l ON t.created_by_token_id = l.id), \
         before AS (SELECT id, revoked_at IS NULL AS fresh FROM api_tokens \
                    WHERE id IN (SELECT id FROM lineage)) \
         UPDATE api_tokens t SET revoked_at = COALESCE(t.revoked_at, now()) \
         FROM before b WHERE t.id = b.id RETURNING t.*, b.fresh",
    )
    .bind::<Array<Integer>, _>(roots)
    .load(conn)
    .await?;
    let mut users: Vec<i32> = rows
        .iter()
        .filter(|r| r.fresh)
        .map(|r| r.token.user_id)
        .collect();
    users.sort_unstable();
    users.dedup();
    if !users.is_empty() {
        super::outbox::record_access(conn, &AccessChanged::credentials_of(users)).await?;
    }
    Ok(rows.into_iter().map(|r| r.token).collect())
}

pub async fn by_ids(conn: &mut AsyncPgConnection, ids: &[i32]) -> QueryResult<Vec<ApiToken>> {
    Ok(api_tokens::table
        .filter(api_tokens::id.eq_any(ids))
        .select(ApiToken::as_select())
        .load(conn)
        .await?)
}

/// A valid token as authentication finds it.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub token_id: i32,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The active user owning a valid (unrevoked, unexpired) token with this hash, with the token's
/// id and expiry, in one statement.
pub async fn authenticate(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> QueryResult<Option<Authenticated>> {
    let found: Option<(User, i32, Option<DateTime<Utc>>)> = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(
            api_tokens::expires_at
                .is_null()
                .or(api_tokens::expires_at.gt(diesel::dsl::now)),
        )
        .filter(users::is_active.eq(true))
        .select((User::as_select(), api_tokens::id, api_tokens::expires_at))
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|(user, token_id, expires_at)| Authenticated {
        user,
        token_id,
        expires_at,
    }))
}
