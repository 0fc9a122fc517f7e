//! SLA configurations: days and enforcement per severity. Id 1 ("Default") always exists
//! (`service::reference` refuses to delete it).

use super::page::SortKey;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    QueryResult,
    page::Listed,
    schema::sla_configurations,
    sql::{NoFilter, Sql},
};
use crate::domain::{ids::SlaConfigurationId, sla::SlaPolicy};

/// The configuration that can never be deleted.
pub const DEFAULT_ID: SlaConfigurationId = SlaConfigurationId::new(1);

/// Column widths (characters) of `sla_configurations`.
pub const NAME_MAX: usize = 128;
pub const DESCRIPTION_MAX: usize = 512;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = sla_configurations, check_for_backend(diesel::pg::Pg))]
pub struct SlaConfiguration {
    pub id: SlaConfigurationId,
    pub name: String,
    pub description: Option<String>,
    pub critical: i32,
    pub high: i32,
    pub medium: i32,
    pub low: i32,
    pub enforce_critical: bool,
    pub enforce_high: bool,
    pub enforce_medium: bool,
    pub enforce_low: bool,
    pub restart_sla_on_reactivation: bool,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

impl SlaConfiguration {
    /// The enforced days per severity.
    pub fn policy(&self) -> SlaPolicy {
        let pick = |enforced: bool, days: i32| enforced.then_some(days);
        SlaPolicy {
            critical: pick(self.enforce_critical, self.critical),
            high: pick(self.enforce_high, self.high),
            medium: pick(self.enforce_medium, self.medium),
            low: pick(self.enforce_low, self.low),
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sla_configurations)]
pub struct NewSlaConfiguration {
    pub name: String,
    pub description: Option<String>,
    pub critical: i32,
    pub high: i32,
    pub medium: i32,
    pub low: i32,
    pub enforce_critical: bool,
    pub enforce_high: bool,
    pub enforce_medium: bool,
    pub enforce_low: bool,
    pub restart_sla_on_reactivation: bool,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = sla_configurations)]
pub struct SlaConfigurationChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub critical: Option<i32>,
    pub high: Option<i32>,
    pub medium: Option<i32>,
    pub low: Option<i32>,
    pub enforce_critical: Option<bool>,
    pub enforce_high: Option<bool>,
    pub enforce_medium: Option<bool>,
    pub enforce_low: Option<bool>,
    pub restart_sla_on_reactivation: Option<bool>,
    pub updated: Option<DateTime<Utc>>,
}

/// Sort keys of SLA configuration lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SlaConfigurationOrder {
    #[default]
    Id,
    Name,
}

impl Listed for SlaConfiguration {
    type Parent = super::page::NoParent;
    type Id = SlaConfigurationId;
    fn row_id(&self) -> SlaConfigurationId {
        self.id
    }
    const FROM: &'static str = "sla_configurations t";
    const SCOPE: super::authz::Scope = super::authz::Scope::Public;
    type Filter = NoFilter;
    type Order = SlaConfigurationOrder;
    fn sort_key(order: SlaConfigurationOrder) -> SortKey {
        match order {
            SlaConfigurationOrder::Id => SortKey::ID,
            SlaConfigurationOrder::Name => SortKey::text("lower(t.name)"),
        }
    }
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    conn: &mut AsyncPgConnection,
    new: NewSlaConfiguration,
) -> QueryResult<SlaConfiguration> {
    Ok(diesel::insert_into(sla_configurations::table)
        .values(&new)
        .returning(SlaConfiguration::as_returning())
        .get_result(conn)
        .await?)
}

/// Updates a configuration (the update only, stamping `updated`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: SlaConfigurationId,
    mut changes: SlaConfigurationChanges,
) -> QueryResult<SlaConfiguration> {
    changes.updated = Some(Utc::now());
    Ok(diesel::update(sla_configurations::table.find(id))
        .set(&changes)
        .returning(SlaConfiguration::as_returning())
        .get_result(conn)
        .await?)
}

/// Locks configuration `id` for a delete (`NotFound` when it does not exist). A product that
/// starts using it concurrently holds a key-share lock on it until it commits, so a count of
/// its products after this sees that product.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock_for_delete(
    conn: &mut AsyncPgConnection,
    id: SlaConfigurationId,
) -> QueryResult<()> {
    sla_configurations::table
        .find(id)
        .select(sla_configurations::id)
        .for_update()
        .first::<SlaConfigurationId>(conn)
        .await?;
    Ok(())
}

/// The configuration of product `id`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn of_product(
    conn: &mut AsyncPgConnection,
    id: crate::domain::ids::ProductId,
) -> QueryResult<SlaConfiguration> {
    use super::schema::products;
    Ok(products::table
        .inner_join(sla_configurations::table)
        .filter(products::id.eq(id))
        .select(SlaConfiguration::as_select())
        .get_result(conn)
        .await?)
}

/// How many products use configuration `id`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn product_count(
    conn: &mut AsyncPgConnection,
    id: SlaConfigurationId,
) -> QueryResult<i64> {
    use super::schema::products;
    Ok(products::table
        .filter(products::sla_configuration_id.eq(id))
        .count()
        .get_result(conn)
        .await?)
}

/// Deletes configuration `id` (`NotFound` when it does not exist).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(conn: &mut AsyncPgConnection, id: SlaConfigurationId) -> QueryResult<()> {
    let mut sql = Sql::new("DELETE FROM sla_configurations WHERE id = ");
    sql.bind::<diesel::sql_types::Integer, _>(id);
    super::one(sql.build().execute(conn).await?)
}
