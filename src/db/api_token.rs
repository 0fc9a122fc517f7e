//! API tokens: stored as SHA-256 hashes; a token authenticates while it is neither revoked nor
//! expired and its user is active.
//!
//! Tokens have a lineage: a token created by a request that was itself authenticated by a token
//! records that parent (`created_by_token_id`), and revoking a token revokes every token created
//! through it, transitively. Creating through a token and revoking serialize on one advisory
//! lock ([`lock_lineage`]), so a child being created while its parent is revoked is either
//! revoked with it or refused. The rules (who may create or revoke which token, a child never
//! outlives its parent) and the `ACCESS_CHANGED` events are in `service::access`.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{Array, Bool, Integer},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    schema::{api_tokens, users},
    user::User,
};
use crate::domain::{
    Role,
    ids::{ApiTokenId, UserId},
};

/// The transaction-level advisory lock that serializes token creations through a token with
/// revocations ("dojotokn").
const LINEAGE_LOCK: i64 = 0x646f_6a6f_746f_6b6e;

/// Column width (characters) of `api_tokens.name`.
pub const NAME_MAX: usize = 100;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::pg::Pg))]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub user_id: UserId,
    pub name: String,
    pub token_hash: String,
    pub created: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The token whose request created this one (`None`: created without a token, e.g. by
    /// `dojoql create-user`).
    pub created_by_token_id: Option<ApiTokenId>,
}

/// A token to store (by its hash) for an existing user.
#[derive(Debug, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewApiToken {
    pub user_id: UserId,
    pub name: String,
    pub token_hash: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// The token that authenticated the creating request. It must still be valid when the new
    /// token is written; the caller has already bounded `expires_at` by the parent's expiry.
    pub created_by_token_id: Option<ApiTokenId>,
}

/// Takes the lineage lock until the transaction ends.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock_lineage(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query(format!("SELECT pg_advisory_xact_lock({LINEAGE_LOCK})"))
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether token `id` exists and is still valid (neither revoked nor expired).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn is_valid(conn: &mut AsyncPgConnection, id: ApiTokenId) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Valid {
        #[diesel(sql_type = Bool)]
        valid: bool,
    }
    let found: Option<Valid> = diesel::sql_query(
        "SELECT revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AS valid \
         FROM api_tokens WHERE id = $1",
    )
    .bind::<Integer, _>(id)
    .get_result(conn)
    .await
    .optional()?;
    Ok(found.is_some_and(|p| p.valid))
}

/// Stores a token (the insert only).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(conn: &mut AsyncPgConnection, new: NewApiToken) -> QueryResult<ApiToken> {
    Ok(diesel::insert_into(api_tokens::table)
        .values(&new)
        .returning(ApiToken::as_returning())
        .get_result(conn)
        .await?)
}

/// Stores a token created without a parent (`created_by_token_id` `None`: the CLI, the demo)
/// for an existing user, share-locked meanwhile. Tokens created through a token go through
/// `service::access`, which checks the parent first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(conn: &mut AsyncPgConnection, new: NewApiToken) -> QueryResult<ApiToken> {
    super::user::lock(conn, new.user_id).await?;
    insert(conn, new).await
}

/// A token touched by [`revoke_all`].
#[derive(Debug, QueryableByName)]
pub struct Revoked {
    #[diesel(embed)]
    pub token: ApiToken,
    /// Whether this statement revoked it (it was not revoked before).
    #[diesel(sql_type = Bool)]
    pub fresh: bool,
}

/// Revokes the tokens `roots` and every token created through them, transitively, in one
/// statement, after taking the lineage lock; returns every token of those lineages (idempotent:
/// a revoked token keeps its first revocation time).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke_all(
    conn: &mut AsyncPgConnection,
    roots: &[ApiTokenId],
) -> QueryResult<Vec<Revoked>> {
    // Taken before the update so that its statement sees every child committed before it.
    lock_lineage(conn).await?;
    Ok(diesel::sql_query(
        "WITH RECURSIVE lineage AS ( \
             SELECT id FROM api_tokens WHERE id = ANY($1) \
             UNION SELECT t.id FROM api_tokens t JOIN lineage l ON t.created_by_token_id = l.id), \
         before AS (SELECT id, revoked_at IS NULL AS fresh FROM api_tokens \
                    WHERE id IN (SELECT id FROM lineage)) \
         UPDATE api_tokens t SET revoked_at = COALESCE(t.revoked_at, now()) \
         FROM before b WHERE t.id = b.id RETURNING t.*, b.fresh",
    )
    .bind::<Array<Integer>, _>(roots.to_vec())
    .load(conn)
    .await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[ApiTokenId],
) -> QueryResult<Vec<ApiToken>> {
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
    pub token_id: ApiTokenId,
    pub expires_at: Option<DateTime<Utc>>,
    /// The global roles the user holds: its own and its groups'.
    pub global_roles: Vec<Role>,
}

/// The global roles of the user's groups, beside the user's own (`users.global_role`).
const GROUP_GLOBAL_ROLES: &str = "ARRAY(SELECT g.global_role FROM groups g \
     JOIN group_members gm ON gm.group_id = g.id \
     WHERE gm.user_id = users.id AND g.global_role IS NOT NULL)";

/// The active user owning a valid (unrevoked, unexpired) token with this hash, with the token's
/// id and expiry and the user's global roles, in one (prepared, reused) statement.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn authenticate(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> QueryResult<Option<Authenticated>> {
    type Found = (User, ApiTokenId, Option<DateTime<Utc>>, Vec<Role>);
    let found: Option<Found> = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(
            api_tokens::expires_at
                .is_null()
                .or(api_tokens::expires_at.gt(diesel::dsl::now)),
        )
        .filter(users::is_active.eq(true))
        .select((
            User::as_select(),
            api_tokens::id,
            api_tokens::expires_at,
            diesel::dsl::sql::<diesel::sql_types::Array<diesel::sql_types::Text>>(
                GROUP_GLOBAL_ROLES,
            ),
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(
        found.map(|(user, token_id, expires_at, groups)| Authenticated {
            global_roles: user.global_role.into_iter().chain(groups).collect(),
            user,
            token_id,
            expires_at,
        }),
    )
}
