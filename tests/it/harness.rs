//! The harness itself: the "writes nothing" database snapshot covers every table and gives the
//! same text for the same database.

use diesel::{QueryableByName, sql_types::Text};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_snapshot_covers_every_table_and_is_stable() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let finding = app.finding(&h.test, "F", "HIGH").await;
    app.ok(
        "mutation($p: ID!) { addNote(input: {parentId: $p, entry: \"n\"}) { note { id } } }",
        json!({ "p": finding }),
    )
    .await;
    let reader = app.user("reader").await;
    app.grant_product(&h.product, &reader.id, "READER").await;

    let first = app.snapshot().await;
    assert_eq!(app.snapshot().await, first, "same database, same snapshot");

    // One `table: [rows]` line per table that pg_class knows (a second catalog, not the
    // information_schema the snapshot reads), in name order.
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let mut c = app.sql().await;
    let tables: Vec<String> = diesel::sql_query(
        "SELECT relname::text AS name FROM pg_class \
         WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') \
           AND relname <> '__diesel_schema_migrations' ORDER BY relname COLLATE \"C\"",
    )
    .load::<Name>(&mut c)
    .await
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect();
    let labels: Vec<&str> = first
        .lines()
        .filter_map(|line| line.split_once(": ["))
        .map(|(label, _)| label)
        .filter(|label| label.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
        .collect();
    assert_eq!(labels, tables);
    for table in ["users", "products", "findings", "notes", "memberships"] {
        assert!(
            !first.lines().any(|line| line == format!("{table}: []")),
            "{table} has rows: {first}"
        );
    }

    // A write to a table the old hand-written list left out (the relay's counter) shows.
    c.batch_execute("UPDATE event_relay SET last_seq = last_seq + 1")
        .await
        .unwrap();
    assert_ne!(app.snapshot().await, first);
}

#[test]
fn response_snapshots_name_known_ids_and_redact_the_rest() {
    use crate::helpers::snapshot::name_ids;
    let product = "UHJvZHVjdDo3"; // Product:7
    let other = "VXNlcjoz"; // User:3
    let value = json!({
        "id": product,
        "databaseId": 7,
        "owner": { "id": other, "databaseId": 4 },
        "ids": [product, other, "plain text"],
    });
    assert_eq!(
        name_ids(&value, &[("product", product)]),
        json!({
            "id": "[product]",
            "databaseId": "[databaseId]",
            // Not the number inside its id: kept, so that a snapshot shows it.
            "owner": { "id": "[User]", "databaseId": 4 },
            "ids": ["[product]", "[User]", "plain text"],
        })
    );
}
