//! Reference data shared by every tenant: SLA configurations (superusers manage them; a change
//! of days or enforcement recomputes the SLA deadlines of the findings that use them), test
//! types (resolved by name; only superusers create new ones) and development environments
//! (read only).

use diesel_async::AsyncPgConnection;

use super::{ServiceResult, superuser, write};
use crate::{
    auth::Principal,
    db::{
        Db, DbError, QueryResult,
        finding::{self, SlaScope},
        lookup::{self, TestType, TestTypeByName},
        sla_configuration::{
            self as sla, NewSlaConfiguration, SlaConfiguration, SlaConfigurationChanges,
        },
    },
    domain::ids::SlaConfigurationId,
};

/// Creates an SLA configuration (superusers only).
#[tracing::instrument(skip_all)]
pub async fn create_sla_configuration(
    db: &Db,
    principal: &Principal,
    new: NewSlaConfiguration,
) -> ServiceResult<SlaConfiguration> {
    superuser(principal, "create SLA configurations")?;
    write(db, principal, "SlaConfiguration", vec![], move |c, _| {
        Box::pin(sla::create(c, new))
    })
    .await
}

/// Changes SLA configuration `id` (superusers only) and recomputes the SLA deadlines of every
/// finding in the products that use it, in the same transaction.
#[tracing::instrument(skip_all, fields(sla_configuration = %id))]
pub async fn update_sla_configuration(
    db: &Db,
    principal: &Principal,
    id: SlaConfigurationId,
    changes: SlaConfigurationChanges,
) -> ServiceResult<SlaConfiguration> {
    superuser(principal, "change SLA configurations")?;
    write(db, principal, "SlaConfiguration", vec![], move |c, _| {
        Box::pin(async move {
            let row = sla::update(c, id, changes).await?;
            finding::recompute_sla(c, SlaScope::SlaConfiguration(id)).await?;
            Ok(row)
        })
    })
    .await
}

/// Deletes SLA configuration `id` (superusers only). The default one is refused
/// (`BAD_USER_INPUT`), one that products use is a `CONFLICT`.
#[tracing::instrument(skip_all, fields(sla_configuration = %id))]
pub async fn delete_sla_configuration(
    db: &Db,
    principal: &Principal,
    id: SlaConfigurationId,
) -> ServiceResult<()> {
    superuser(principal, "delete SLA configurations")?;
    write(db, principal, "SlaConfiguration", vec![], move |c, _| {
        Box::pin(async move {
            if id == sla::DEFAULT_ID {
                return Err(DbError::Rule(
                    "the default SLA configuration cannot be deleted".into(),
                ));
            }
            // Locked first: a product that starts using it concurrently is counted (CONFLICT)
            // instead of the delete tripping over the foreign key afterwards.
            sla::lock_for_delete(c, id).await?;
            let users = sla::product_count(c, id).await?;
            if users > 0 {
                return Err(DbError::Conflict(format!(
                    "the SLA configuration is used by {users} product(s)"
                )));
            }
            sla::delete(c, id).await
        })
    })
    .await
}

/// The test type called `name` for a write of `principal`, in the caller's transaction: an
/// existing one, or, for those who may create test types (superusers), a new one. Test types
/// are shared by every tenant, so no product role creates one; an unknown name from anyone
/// else is refused (`BAD_USER_INPUT`). Trusted server-side callers (scan import) use
/// `db::lookup::find_or_create_test_type_as_system`.
pub async fn test_type_named(
    c: &mut AsyncPgConnection,
    principal: &Principal,
    name: &str,
) -> QueryResult<TestType> {
    let how = if principal.may_add_test_types() {
        TestTypeByName::CreateMissing
    } else {
        TestTypeByName::Existing
    };
    lookup::test_type_named(c, name, how).await
}
