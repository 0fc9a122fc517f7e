//! What resolvers take from the request context (the pool, the per-request loader), and the
//! translation of the db layer's narrow errors into client-facing [`ServiceError`]s.

use async_graphql::{Context, ErrorExtensions};

use super::loaders::RequestLoader;
use crate::{
    auth::Principal,
    db::{
        Db,
        authz::{Viewer, Visibility},
    },
    error::{ServiceError, ServiceResult},
};

/// The database handle of the schema.
pub fn db<'a>(ctx: &Context<'a>) -> &'a Db {
    ctx.data_unchecked::<Db>()
}

/// The caller; every request carries one (see [`super::prepare`]).
pub fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ServiceError> {
    ctx.data_opt::<Principal>()
        .ok_or(ServiceError::Unauthenticated)
}

/// What the caller may read; a request without a principal sees nothing.
pub fn viewer(ctx: &Context<'_>) -> Viewer {
    match ctx.data_opt::<Principal>() {
        Some(p) => p.viewer(),
        None => Viewer {
            products: Visibility::NOTHING,
            groups: Visibility::NOTHING,
        },
    }
}

/// Whose private notes the caller reads (see `Principal::private_notes`); a request without a
/// principal reads none.
pub fn private_notes(ctx: &Context<'_>) -> Visibility {
    match ctx.data_opt::<Principal>() {
        Some(p) => p.private_notes(),
        None => Visibility::NOTHING,
    }
}

/// The per-request dataloader (caches only for the duration of one request).
pub fn loader<'a>(ctx: &Context<'a>) -> &'a RequestLoader {
    ctx.data_unchecked::<RequestLoader>()
}

pub use crate::service::{db_error, map_db};

/// Shorthand for resolvers: run a loader lookup and map its error.
pub fn gql<T>(r: ServiceResult<T>) -> async_graphql::Result<T> {
    r.map_err(Into::into)
}

/// A service error as a GraphQL error carrying its `extensions.code` (and, for `LAGGED`, the
/// `lastEventId` to resume from). Internal errors are logged here with their cause chain.
impl From<crate::error::ServiceError> for async_graphql::Error {
    fn from(e: ServiceError) -> Self {
        if let ServiceError::Internal(cause) = &e {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let code = e.code();
        let last = match &e {
            ServiceError::Lagged(last) => *last,
            _ => None,
        };
        async_graphql::Error::new(e.message()).extend_with(|_, x| {
            x.set("code", code);
            if let Some(last) = last {
                x.set("lastEventId", last.to_string());
            }
        })
    }
}
