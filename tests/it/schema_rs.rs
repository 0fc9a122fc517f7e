//! `src/db/schema.rs` matches the migrations: every table the migrations create is declared with
//! the same columns, in the same order, with the same types, nullability, `max_length` and
//! primary key, as `diesel print-schema` would write them — without needing diesel_cli here.

use diesel::{QueryableByName, sql_types::Text};
use diesel_async::RunQueryDsl;

use crate::helpers::TestApp;

#[derive(QueryableByName)]
struct Block {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    block: String,
}

/// One `diesel::table!` block per base table of the migrated database, rendered the way
/// `diesel print-schema` renders it.
const RENDER: &str = r#"
WITH cols AS (
  SELECT c.table_name, c.ordinal_position, c.column_name, c.is_nullable, c.udt_name,
         c.character_maximum_length
  FROM information_schema.columns c
  JOIN information_schema.tables t USING (table_schema, table_name)
  WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
    AND c.table_name <> '__diesel_schema_migrations'),
pk AS (
  SELECT k.table_name, string_agg(k.column_name, ', ' ORDER BY k.ordinal_position) AS cols
  FROM information_schema.table_constraints tc
  JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name, table_name)
  WHERE tc.table_schema = 'public' AND tc.constraint_type = 'PRIMARY KEY'
  GROUP BY k.table_name),
typed AS (
  SELECT table_name, ordinal_position, column_name, character_maximum_length,
         CASE WHEN udt_name LIKE '\_%' THEN 'Array<Nullable<' || initcap(substr(udt_name, 2)) || '>>'
              ELSE initcap(udt_name) END AS base, is_nullable
  FROM cols)
SELECT t.table_name,
       '    ' || t.table_name || ' (' || coalesce(pk.cols, '') || ') {' || E'\n' ||
       string_agg(
         CASE WHEN character_maximum_length IS NOT NULL
              THEN '        #[max_length = ' || character_maximum_length || ']' || E'\n' ELSE '' END ||
         '        ' || column_name || ' -> ' ||
         CASE WHEN is_nullable = 'YES' THEN 'Nullable<' || base || '>' ELSE base END || ',',
         E'\n' ORDER BY ordinal_position) || E'\n    }' AS block
FROM typed t LEFT JOIN pk USING (table_name)
GROUP BY t.table_name, pk.cols
ORDER BY t.table_name
"#;

/// The `diesel::table!` blocks of `src/db/schema.rs`, by table name (inner text only).
fn declared() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/db/schema.rs")).unwrap();
    let mut out = Vec::new();
    for chunk in text.split("diesel::table! {\n").skip(1) {
        // The block ends at the first line that is exactly "}".
        let inner = chunk.split("\n}\n").next().unwrap().trim_end().to_string();
        let name = inner.split_whitespace().next().unwrap().to_string();
        out.push((name, inner));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_rs_matches_the_migrations() {
    let app = TestApp::new().await;
    let mut c = app.sql().await;
    let blocks: Vec<Block> = diesel::sql_query(RENDER).load(&mut c).await.unwrap();
    let migrated: Vec<(String, String)> = blocks
        .into_iter()
        .map(|b| (b.table_name, b.block))
        .collect();
    let declared = declared();
    let names = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&declared),
        names(&migrated),
        "tables in src/db/schema.rs vs the migrations"
    );
    for ((name, want), (_, have)) in migrated.iter().zip(&declared) {
        assert_eq!(
            have.trim(),
            want.trim(),
            "src/db/schema.rs: table {name} differs from the migrations (left: schema.rs, right: the database)"
        );
    }
}
