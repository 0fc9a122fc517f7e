//! The caller (`me`) and API tokens. A token is returned once, by `createApiToken`; the server
//! keeps only its hash. A token created through a token never outlives its parent (see
//! `service::access`).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    context::{db, principal},
    ids,
    input::IdInput,
    load,
    reference::User,
};
use crate::{
    db::api_token as rows,
    domain::{
        self,
        ids::{ApiTokenId, UserId},
    },
    error::{ServiceError, ServiceResult},
    service::access::{self as service, NewToken},
};

/// A credential for the API (`Authorization: Token <key>` or `Bearer <key>`).
#[derive(Clone)]
pub struct ApiToken(pub rows::ApiToken);

#[Object]
impl ApiToken {
    pub async fn id(&self) -> ID {
        ids::encode(self.0.id)
    }
    async fn database_id(&self) -> i32 {
        self.0.id.get()
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

#[derive(InputObject)]
pub struct CreateApiTokenInput {
    user_id: ID,
    /// What the token is for, e.g. "ci".
    name: String,
    /// When omitted: the expiry of the token this request is made with (none if it has none).
    /// A token created through a token cannot outlive it, so a later expiry is refused.
    expires_at: Option<DateTime<Utc>>,
}

impl TryFrom<CreateApiTokenInput> for NewToken {
    type Error = ServiceError;

    fn try_from(input: CreateApiTokenInput) -> ServiceResult<Self> {
        Ok(NewToken {
            user_id: ids::decode::<UserId>(&input.user_id)?,
            name: domain::clean_name("name", &input.name, rows::NAME_MAX)?,
            expires_at: input.expires_at,
        })
    }
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
        let new = input.try_into()?;
        let created = service::create_api_token(db(ctx), principal(ctx)?, new).await?;
        Ok(CreateApiTokenPayload {
            token: created.token,
            api_token: ApiToken(created.row),
        })
    }

    /// Revokes a token at once, with every token created through it (transitively); requests
    /// using any of them fail with UNAUTHENTICATED from then on.
    async fn revoke_api_token(
        &self,
        ctx: &Context<'_>,
        input: IdInput,
    ) -> async_graphql::Result<ApiTokenPayload> {
        let id = ids::decode::<ApiTokenId>(&input.id)?;
        let row = service::revoke_api_token(db(ctx), principal(ctx)?, id).await?;
        Ok(ApiTokenPayload {
            api_token: ApiToken(row),
        })
    }
}
