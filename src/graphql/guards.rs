//! The service tier's checked operations as resolvers call them, with the caller taken from the
//! request context (see [`crate::service`]). Being replaced by service operations resolvers
//! call directly.

use async_graphql::Context;
use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;

use super::context::{db, principal};
use crate::{
    auth::Principal,
    db::{QueryResult, authz::Anchor},
    service::{self, ServiceResult},
};

pub use crate::service::Check;

/// [`service::write`] as the caller of `ctx`.
pub async fn write<T, F>(
    ctx: &Context<'_>,
    what: &'static str,
    checks: Vec<Check>,
    f: F,
) -> ServiceResult<T>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut AsyncPgConnection, Principal) -> BoxFuture<'c, QueryResult<T>>
        + Send
        + 'static,
{
    service::write(db(ctx), principal(ctx)?, what, checks, f).await
}

/// [`service::check`] as the caller of `ctx`.
pub async fn check(ctx: &Context<'_>, what: &'static str, check: Check) -> ServiceResult<Anchor> {
    service::check(db(ctx), principal(ctx)?, what, check).await
}

/// Refuses unless the caller is a superuser.
pub fn superuser(ctx: &Context<'_>, action: &str) -> ServiceResult<()> {
    service::superuser(principal(ctx)?, action)
}
