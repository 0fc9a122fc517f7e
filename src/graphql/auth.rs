//! The caller (`me`) and API tokens. A token is returned once, by `createApiToken`; the server
//! keeps only its hash. A token created through a token never outlives its parent (see
//! `db::api_token`).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    context::{db, map_db, principal},
    ids, load,
    node::IdInput,
    reference::User,
};
use crate::{
    auth,
    db::api_token as rows,
    domain::{self, ids::NodeKind},
    error::ServiceError,
};

/// A credential for the API (`Authorization: Token <key>` or `Bearer <key>`).
#[derive(Clone)]
pub struct ApiToken(pub rows::ApiToken);

#[Object]
impl ApiToken {
    pub async fn id(&self) -> ID {
        ids::encode(NodeKind::ApiToken, self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        load::user(ctx, Some(self.0.user_id)).await
    }
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

/// Refuses to act on another user's credentials unless the caller is a superuser.
fn check_self_or_superuser(ctx: &Context<'_>, user_id: i32) -> Result<(), ServiceError> {
    let p = principal(ctx)?;
    if p.user_id != user_id && !p.is_superuser {
        return Err(ServiceError::Forbidden(
            "only the user or a superuser may manage these tokens".into(),
        ));
    }
    Ok(())
}

#[derive(InputObject)]
pub struct CreateApiTokenInput {
    user_id: ID,
    /// What the token is for, e.g. "ci".
    name: String,
    /// When omitted: the expiry of the token this request is made with (none if it has none).
    /// A token created through a token cannot outlive it, so a later expiry is refused.
    expires_at: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct CreateApiTokenPayload {
    /// The secret, shown only here: store it now.
    token: String,
    api_token: ApiToken,
}

#[derive(SimpleObject)]
pub struct ApiTokenPayload {
    api_token: ApiToken,
}

#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The caller, identified by its API token.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<super::access::Me> {
        let p = principal(ctx)?;
        let user = load::user(ctx, Some(p.user_id))
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        Ok(super::access::Me { user })
    }
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates a token for a user; the response is the only place the token appears. The new
    /// token records the token this request is made with as its parent: it expires no later
    /// than the parent and is revoked with it.
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        input: CreateApiTokenInput,
    ) -> async_graphql::Result<CreateApiTokenPayload> {
        let user_id = ids::decode(NodeKind::User, &input.user_id)?;
        check_self_or_superuser(ctx, user_id)?;
        let name = domain::clean_name("name", &input.name, 100).map_err(ServiceError::from)?;
        if input.expires_at.is_some_and(|e| e <= Utc::now()) {
            return Err(ServiceError::bad_input("expiresAt must be in the future").into());
        }
        // A token created through a token never outlives it (whoever the new token is for).
        let p = principal(ctx)?;
        let expires_at = p
            .child_token_expiry(input.expires_at)
            .map_err(ServiceError::BadUserInput)?;
        let token = auth::generate_token()
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("randomness: {e}")))?;
        let new = rows::NewApiToken {
            user_id,
            name,
            token_hash: auth::hash_token(&token),
            expires_at,
            created_by_token_id: p.token_id,
        };
        let row = db(ctx)
            .write(move |c| Box::pin(rows::create(c, new)))
            .await
            .map_err(map_db("User"))?;
        Ok(CreateApiTokenPayload {
            token,
            api_token: ApiToken(row),
        })
    }

    /// Revokes a token at once, with every token created through it (transitively); requests
    /// using any of them fail with UNAUTHENTICATED from then on.
    async fn revoke_api_token(
        &self,
        ctx: &Context<'_>,
        input: IdInput,
    ) -> async_graphql::Result<ApiTokenPayload> {
        let id = ids::decode(NodeKind::ApiToken, &input.id)?;
        let existing = db(ctx)
            .read(async move |mut c| rows::by_ids(&mut c, &[id]).await)
            .await
            .map_err(map_db("ApiToken"))?;
        // Another user's token is NOT_FOUND, as if it did not exist (no id probing).
        let p = principal(ctx)?;
        existing
            .into_iter()
            .find(|t| p.is_superuser || t.user_id == p.user_id)
            .ok_or_else(|| ServiceError::not_found("ApiToken"))?;
        let row = db(ctx)
            .write(move |c| Box::pin(rows::revoke(c, id)))
            .await
            .map_err(map_db("ApiToken"))?;
        Ok(ApiTokenPayload {
            api_token: ApiToken(row),
        })
    }
}
