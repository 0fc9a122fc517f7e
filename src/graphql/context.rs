//! What resolvers take from the request context (the pool, the per-request loader), and the
//! translation of the db layer's narrow errors into client-facing [`AppError`]s.

use async_graphql::Context;

use super::loaders::RequestLoader;
use crate::{
    auth::Principal,
    db::{
        Db, DbError,
        authz::{Viewer, Visibility},
    },
    error::{AppError, AppResult},
};

/// The database handle of the schema.
pub fn db<'a>(ctx: &Context<'a>) -> &'a Db {
    ctx.data_unchecked::<Db>()
}

/// The caller; every request carries one (see [`super::prepare`]).
pub fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, AppError> {
    ctx.data_opt::<Principal>().ok_or(AppError::Unauthenticated)
}

/// What the caller may read; a request without a principal sees nothing.
pub fn viewer(ctx: &Context<'_>) -> Viewer {
    match ctx.data_opt::<Principal>() {
        Some(p) => p.viewer(),
        None => Viewer {
            products: Visibility::Member(0),
            groups: Visibility::Member(0),
        },
    }
}

/// Whose private notes the caller reads (see `Principal::private_notes`); a request without a
/// principal reads none.
pub fn private_notes(ctx: &Context<'_>) -> Visibility {
    match ctx.data_opt::<Principal>() {
        Some(p) => p.private_notes(),
        None => Visibility::Member(0),
    }
}

/// The per-request dataloader (caches only for the duration of one request).
pub fn loader<'a>(ctx: &Context<'a>) -> &'a RequestLoader {
    ctx.data_unchecked::<RequestLoader>()
}

/// Maps a db error; `what` names the object the operation was about (for `NOT_FOUND`).
pub fn db_error(e: DbError, what: &str) -> AppError {
    match e {
        DbError::NotFound => AppError::not_found(what),
        DbError::ParentNotFound(parent) => AppError::not_found(capitalize(parent)),
        DbError::EngagementCompleted(_) => AppError::EngagementCompleted(
            "the engagement is completed: reopen it before adding tests or findings".into(),
        ),
        DbError::Rule(msg) => AppError::BadUserInput(msg),
        DbError::Forbidden(msg) => AppError::Forbidden(msg),
        DbError::Conflict(msg) => AppError::Conflict(msg),
        DbError::Unique { constraint } => AppError::Conflict(unique_message(&constraint).into()),
        DbError::ForeignKey { constraint } => foreign_key_error(&constraint),
        DbError::Check { constraint } => AppError::BadUserInput(check_message(&constraint)),
        DbError::Unavailable(cause) => {
            tracing::warn!(cause, "database unavailable");
            AppError::ServiceUnavailable
        }
        DbError::Query(e) => AppError::internal(e),
    }
}

/// `db_error` for use in `map_err` closures.
pub fn map_db(what: &'static str) -> impl Fn(DbError) -> AppError {
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
fn foreign_key_error(constraint: &str) -> AppError {
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
        _ => return AppError::Conflict("the object is still referenced by other objects".into()),
    };
    AppError::NotFound(format!("the referenced {referenced} does not exist"))
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

/// Shorthand for resolvers: run a loader lookup and map its error.
pub fn gql<T>(r: AppResult<T>) -> async_graphql::Result<T> {
    r.map_err(Into::into)
}
