//! Database snapshots: every row of every table in one string, so that a refused request can be
//! shown to have written nothing (`assert_eq!(app.snapshot().await, before)`).

use diesel::QueryableByName;
use diesel_async::RunQueryDsl;

use super::TestApp;

impl TestApp {
    /// Every row of every table, as JSON text, in one statement: equal snapshots mean an
    /// unchanged database.
    pub async fn snapshot(&self) -> String {
        #[derive(QueryableByName)]
        struct Dump {
            #[diesel(sql_type = diesel::sql_types::Text)]
            dump: String,
        }
        let parts: Vec<String> = SNAPSHOT_TABLES
            .iter()
            .map(|t| {
                format!(
                    "'{t}: ' || COALESCE((SELECT json_agg(x ORDER BY x.id) FROM {t} x)::text, '[]')"
                )
            })
            .collect();
        let mut c = self.sql().await;
        diesel::sql_query(format!(
            "SELECT concat_ws(E'\\n', {}) AS dump",
            parts.join(", ")
        ))
        .get_result::<Dump>(&mut c)
        .await
        .unwrap()
        .dump
    }
}

/// Every table a snapshot covers.
const SNAPSHOT_TABLES: &[&str] = &[
    "users",
    "api_tokens",
    "groups",
    "group_members",
    "memberships",
    "sla_configurations",
    "development_environments",
    "test_types",
    "product_types",
    "products",
    "engagements",
    "tests",
    "findings",
    "notes",
    "files",
    "event_outbox",
    "notification_settings",
    "system_settings",
];
