//! Permission checks as resolvers use them: [`write`] runs a mutation's transaction after
//! checking, inside that same transaction, every `(target, permission)` the mutation needs (the
//! object it changes *and* any destination it moves something to).

use async_graphql::Context;
use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;

use super::context::{db, db_error, principal};
use crate::{
    auth::{Principal, access},
    db::{
        QueryResult,
        authz::{Anchor, Target},
    },
    domain::rbac::Permission,
    error::{AppError, AppResult},
};

/// One permission a mutation needs.
pub type Check = (Target, Permission);

/// Checks `checks` for the caller, then runs `f`, all in one transaction (see `Db::write`);
/// `what` names the object for a `NOT_FOUND`.
pub async fn write<T, F>(
    ctx: &Context<'_>,
    what: &'static str,
    checks: Vec<Check>,
    f: F,
) -> AppResult<T>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut AsyncPgConnection, Principal) -> BoxFuture<'c, QueryResult<T>>
        + Send
        + 'static,
{
    let p = principal(ctx)?.clone();
    db(ctx)
        .write(move |c| {
            Box::pin(async move {
                // Events this transaction records name the caller as their actor.
                crate::db::outbox::set_actor(c, p.user_id).await?;
                for (target, permission) in checks {
                    access::require(c, &p, target, permission).await?;
                }
                f(c, p).await
            })
        })
        .await
        .map_err(|e| db_error(e, what))
}

/// Checks one permission outside a write (for reads such as `deletePreview`).
pub async fn check(ctx: &Context<'_>, what: &'static str, check: Check) -> AppResult<Anchor> {
    let p = principal(ctx)?.clone();
    db(ctx)
        .read(async move |mut c| access::require(&mut c, &p, check.0, check.1).await)
        .await
        .map_err(|e| db_error(e, what))
}

/// Refuses unless the caller is a superuser.
pub fn superuser(ctx: &Context<'_>, action: &str) -> AppResult<()> {
    let p = principal(ctx)?;
    if p.is_superuser {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "only a superuser may {action}"
        )))
    }
}
