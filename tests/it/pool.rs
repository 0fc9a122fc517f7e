//! The pool hands connections out without a test statement: a connection the server dropped is
//! noticed when its socket has closed, and a read whose connection was lost all the same runs
//! again on another one.

use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::{QueryableByName, sql_types::BigInt};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use serde_json::json;

use crate::helpers::TestApp;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_whose_connection_is_terminated_runs_again_on_another() {
    let app = TestApp::new().await;
    app.hierarchy().await;
    let attempts = AtomicUsize::new(0);
    let products = app
        .state
        .db
        .read(async |mut c| {
            if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                // The server ends this session (SQLSTATE 57P01) under the read.
                diesel::sql_query("SELECT pg_terminate_backend(pg_backend_pid())")
                    .execute(&mut c)
                    .await?;
            }
            Ok(diesel::sql_query("SELECT count(*) AS n FROM products")
                .get_result::<Count>(&mut c)
                .await?
                .n)
        })
        .await
        .expect("the read runs again on another connection");
    assert_eq!(AtomicUsize::load(&attempts, Ordering::SeqCst), 2);
    assert_eq!(products, 1);

    // A statement error is the statement's: no second attempt.
    let attempts = AtomicUsize::new(0);
    let failed = app
        .state
        .db
        .read(async |mut c| {
            attempts.fetch_add(1, Ordering::SeqCst);
            Ok(diesel::sql_query("SELECT count(*) AS n FROM no_such_table")
                .get_result::<Count>(&mut c)
                .await?
                .n)
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(AtomicUsize::load(&attempts, Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_reads_answer_after_the_server_dropped_every_pooled_connection() {
    let app = TestApp::new().await;
    app.hierarchy().await;
    let query = "{ products(first: 5) { nodes { name engagements(first: 5) { nodes { name \
                 tests(first: 5) { nodes { title } } } } } } }";
    let before = app.ok(query, json!({})).await;
    // Every session of the test database but this one ends: the pool's idle connections are
    // all dead.
    let mut admin = app.sql().await;
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            app.db.name
        ))
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(app.ok(query, json!({})).await, before);
    }
    assert_eq!(before["products"]["nodes"][0]["name"], "P");
}

#[test]
fn a_lost_connection_is_unavailable_not_an_internal_error() {
    use diesel::result::{DatabaseErrorKind, Error};
    use dojoql::{db::DbError, service::db_error};
    let lost = |kind, message: &str| {
        DbError::Query(Error::DatabaseError(kind, Box::new(message.to_string())))
    };
    for e in [
        lost(
            DatabaseErrorKind::UnableToSendCommand,
            "error communicating with the server",
        ),
        lost(
            DatabaseErrorKind::Unknown,
            "terminating connection due to administrator command",
        ),
    ] {
        assert!(e.is_lost_connection(), "{e}");
        assert_eq!(db_error(e, "product").code(), "SERVICE_UNAVAILABLE");
    }
    let statement = lost(DatabaseErrorKind::Unknown, "relation \"x\" does not exist");
    assert!(!statement.is_lost_connection());
    assert_eq!(db_error(statement, "product").code(), "INTERNAL");
}
