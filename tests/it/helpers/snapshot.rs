//! Database snapshots: every row of every table in one string, so that a refused request can be
//! shown to have written nothing (`assert_eq!(app.snapshot().await, before)`).
//!
//! The tables come from `information_schema` (every base table of the `public` schema but
//! diesel's migration list), so a table added by a migration is covered without editing this
//! file. Rows are ordered by primary key (by the whole row where a table has none), so the same
//! database always gives the same string. No column changes by itself while no request runs,
//! with one exception: in an app with its event relay running ([`TestApp::with_events`]),
//! `event_outbox.seq`/`published` and `event_relay.last_seq` are filled in shortly after each
//! commit; call [`TestApp::settle_events`] before taking a snapshot there.

use diesel::{QueryableByName, sql_types::Text};
use diesel_async::RunQueryDsl;

use super::TestApp;

/// Every base table of the public schema except diesel's, with its primary key columns in key
/// order (`x.a, x.b`; `NULL` when it has none).
const SNAPSHOT_TABLES: &str = "\
    SELECT t.table_name AS name, \
           (SELECT string_agg('x.' || quote_ident(k.column_name), ', ' ORDER BY k.ordinal_position) \
              FROM information_schema.table_constraints c \
              JOIN information_schema.key_column_usage k \
                ON k.constraint_schema = c.constraint_schema \
               AND k.constraint_name = c.constraint_name \
             WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name \
               AND c.constraint_type = 'PRIMARY KEY') AS key \
      FROM information_schema.tables t \
     WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE' \
       AND t.table_name <> '__diesel_schema_migrations' \
     ORDER BY t.table_name COLLATE \"C\"";

#[derive(QueryableByName)]
struct Table {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    key: Option<String>,
}

impl TestApp {
    /// Every row of every table, as JSON text (one `table: [rows]` line per table, tables by
    /// name), read in one statement: equal snapshots mean an unchanged database.
    pub async fn snapshot(&self) -> String {
        #[derive(QueryableByName)]
        struct Dump {
            #[diesel(sql_type = Text)]
            dump: String,
        }
        let mut c = self.sql().await;
        let statement = self
            .snapshot_statement
            .get_or_init(|| async {
                let tables: Vec<Table> = diesel::sql_query(SNAPSHOT_TABLES)
                    .load(&mut c)
                    .await
                    .unwrap();
                assert!(!tables.is_empty(), "no table to snapshot");
                let parts: Vec<String> = tables
                    .iter()
                    .map(|Table { name, key }| {
                        let order = key.as_deref().unwrap_or("x::text COLLATE \"C\"");
                        format!(
                            "'{name}: ' || COALESCE((SELECT json_agg(x ORDER BY {order}) \
                             FROM \"{name}\" x)::text, '[]')"
                        )
                    })
                    .collect();
                format!("SELECT concat_ws(E'\\n', {}) AS dump", parts.join(", "))
            })
            .await;
        diesel::sql_query(statement)
            .get_result::<Dump>(&mut c)
            .await
            .unwrap()
            .dump
    }
}
