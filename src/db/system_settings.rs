//! System-wide settings (one row).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{QueryResult, schema::system_settings};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = system_settings, check_for_backend(diesel::pg::Pg))]
pub struct SystemSettings {
    pub engagement_auto_close: bool,
    pub engagement_auto_close_days: i32,
    pub updated: DateTime<Utc>,
    pub enable_deduplication: bool,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = system_settings)]
pub struct SystemSettingsChanges {
    pub engagement_auto_close: Option<bool>,
    pub engagement_auto_close_days: Option<i32>,
    pub updated: Option<DateTime<Utc>>,
    pub enable_deduplication: Option<bool>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(conn: &mut AsyncPgConnection) -> QueryResult<SystemSettings> {
    Ok(system_settings::table
        .find(1)
        .select(SystemSettings::as_select())
        .get_result(conn)
        .await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    conn: &mut AsyncPgConnection,
    mut changes: SystemSettingsChanges,
) -> QueryResult<SystemSettings> {
    changes.updated = Some(Utc::now());
    Ok(diesel::update(system_settings::table.find(1))
        .set(&changes)
        .returning(SystemSettings::as_returning())
        .get_result(conn)
        .await?)
}
