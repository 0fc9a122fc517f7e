//! The service tier: every operation is a plain `async fn` of (database, principal, typed
//! input) that checks permission, writes in one transaction with its outbox events, and returns
//! a typed result or a [`ServiceError`]. GraphQL resolvers, REST handlers, the CLI and jobs only
//! decode their input, call one function of this tier and map its result.
//!
//! [`write`] is the one way to run a checked write: it names the principal as the actor of the
//! events the transaction records, checks every `(target, permission)` inside the transaction
//! (locking the targets, so they cannot move or vanish before commit), then runs the body.
//! Lower layers return narrow errors (`db::DbError`, `domain::Invalid`); this tier turns them
//! into [`ServiceError`]s, whose codes the API layers show.

pub mod access;
pub mod demo;
pub mod import;
pub mod jobs;
pub mod lifecycle;
pub mod products;
pub mod reference;
pub mod settings;

use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;

pub use crate::error::{ServiceError, ServiceResult};
use crate::{
    auth::{Principal, access::require},
    db::{
        Db, DbError, QueryResult,
        authz::{Anchor, Target},
    },
    domain::{Invalid, rbac::Permission},
};

/// One permission an operation needs on one target.
pub type Check = (Target, Permission);

/// Checks `checks` for `principal`, then runs `f`, all in one transaction (see `Db::write`);
/// `what` names the object for a `NOT_FOUND`. The events the transaction records name the
/// principal as their actor.
pub async fn write<T, F>(
    db: &Db,
    principal: &Principal,
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
    let p = principal.clone();
    db.write(move |c| {
        Box::pin(async move {
            crate::db::outbox::set_actor(c, p.user_id).await?;
            for (target, permission) in checks {
                require(c, &p, target, permission).await?;
            }
            f(c, p).await
        })
    })
    .await
    .map_err(|e| db_error(e, what))
}

/// Checks one permission outside a write (for reads such as `deletePreview`, and before an
/// upload is read).
pub async fn check(
    db: &Db,
    principal: &Principal,
    what: &'static str,
    check: Check,
) -> ServiceResult<Anchor> {
    let p = principal.clone();
    db.read(async move |c| require(c, &p, check.0, check.1).await)
        .await
        .map_err(|e| db_error(e, what))
}

/// Refuses unless `principal` is a superuser.
pub fn superuser(principal: &Principal, action: &str) -> ServiceResult<()> {
    if principal.is_superuser {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!(
            "only a superuser may {action}"
        )))
    }
}

impl From<Invalid> for ServiceError {
    fn from(e: Invalid) -> Self {
        ServiceError::BadUserInput(e.0)
    }
}

/// Maps a db error; `what` names the object the operation was about (for `NOT_FOUND`).
pub fn db_error(e: DbError, what: &str) -> ServiceError {
    // A write whose pooled connection turned out to be gone (reads run again on another one):
    // the database is unavailable for now, not the request wrong.
    if e.is_lost_connection() {
        tracing::warn!(error = %e, "database connection lost");
        return ServiceError::ServiceUnavailable;
    }
    match e {
        DbError::NotFound => ServiceError::not_found(what),
        DbError::ParentNotFound(parent) => ServiceError::not_found(capitalize(parent)),
        DbError::EngagementCompleted(_) => ServiceError::EngagementCompleted(
            "the engagement is completed: reopen it before adding tests or findings".into(),
        ),
        DbError::Rule(msg) => ServiceError::BadUserInput(msg),
        DbError::Forbidden(msg) => ServiceError::Forbidden(msg),
        DbError::Conflict(msg) => ServiceError::Conflict(msg),
        DbError::Unique { constraint } => {
            ServiceError::Conflict(unique_message(&constraint).into())
        }
        DbError::ForeignKey { constraint } => foreign_key_error(&constraint),
        DbError::Check { constraint } => ServiceError::BadUserInput(check_message(&constraint)),
        DbError::Unavailable(cause) => {
            tracing::warn!(cause, "database unavailable");
            ServiceError::ServiceUnavailable
        }
        DbError::Query(e) => ServiceError::internal(e),
    }
}

/// `db_error` for use in `map_err` closures.
pub fn map_db(what: &'static str) -> impl Fn(DbError) -> ServiceError {
    move |e| db_error(e, what)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn unique_message(constraint: &str) -> &'static str {
    match constraint {
        "product_types_name_key" => "a product type with this name already exists",
        "products_name_key" => "a product with this name already exists",
        "engagements_product_name_key" => "this product already has an engagement with this name",
        "sla_configurations_name_key" => "an SLA configuration with this name already exists",
        "users_username_key" => "a user with this username already exists",
        "test_types_name_key" => "a test type with this name already exists",
        _ => "an object with these values already exists",
    }
}

/// A foreign key refused the write: on insert/update a reference points at nothing (NOT_FOUND);
/// on delete something still refers to the row (CONFLICT).
fn foreign_key_error(constraint: &str) -> ServiceError {
    let referenced = match constraint {
        c if c.ends_with("lead_id_fkey") => "lead",
        c if c.ends_with("product_manager_id_fkey") => "product manager",
        c if c.ends_with("technical_contact_id_fkey") => "technical contact",
        c if c.ends_with("team_manager_id_fkey") => "team manager",
        c if c.ends_with("reporter_id_fkey") => "reporter",
        c if c.ends_with("author_id_fkey") => "author",
        c if c.ends_with("environment_id_fkey") => "environment",
        c if c.ends_with("sla_configuration_id_fkey") => "SLA configuration",
        c if c.ends_with("test_type_id_fkey") => "test type",
        c if c.ends_with("product_type_id_fkey") => "product type",
        _ => {
            return ServiceError::Conflict(
                "the object is still referenced by other objects".into(),
            );
        }
    };
    ServiceError::NotFound(format!("the referenced {referenced} does not exist"))
}

fn check_message(constraint: &str) -> String {
    match constraint {
        "engagements_target_dates_check" | "tests_target_dates_check" => {
            "targetEnd must not be before targetStart".into()
        }
        "findings_duplicate_not_active" => {
            "a duplicate finding cannot be active or verified".into()
        }
        "findings_false_p_not_verified" => "a false positive cannot be verified".into(),
        "findings_active_not_risk_accepted" => "a risk-accepted finding cannot be active".into(),
        c => format!("a value is out of range ({c})"),
    }
}
