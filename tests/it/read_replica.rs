//! Reads routed to a real streaming replica (`DATABASE_READ_URL`): a primary of the test's own
//! (`initdb`) and its replica (`pg_basebackup -R`), with replay paused so that what each read
//! sees tells where it was served. Queries read the replica; a request that wrote, and a
//! websocket connection that wrote, read their writes; a replica that goes away leaves reads on
//! the primary, and `/ready` says so.

use std::time::Duration;

use axum::{body::Body, http::Request};
use diesel::{QueryableByName, sql_types::BigInt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use dojoql::domain::ids::{ProductTypeId, encode_id};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{TestApp, TestDb, cluster::Cluster, ws};

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(url: &str, sql: &str) -> i64 {
    let mut c = AsyncPgConnection::establish(url).await.unwrap();
    diesel::sql_query(sql)
        .get_result::<N>(&mut c)
        .await
        .unwrap()
        .n
}

/// Waits until `sql` (a count) on `url` reaches `n`.
async fn until_count(url: &str, sql: &str, n: i64) {
    for _ in 0..300 {
        if let Ok(mut c) = AsyncPgConnection::establish(url).await
            && let Ok(r) = diesel::sql_query(sql).get_result::<N>(&mut c).await
            && r.n >= n
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{sql} on {url} never reached {n}");
}

async fn names(app: &TestApp) -> Vec<String> {
    let d = app
        .ok("{ productTypes(first: 100) { nodes { name } } }", json!({}))
        .await;
    d["productTypes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

async fn ready(app: &TestApp) -> Value {
    let res = app
        .router()
        .oneshot(Request::get("/ready").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_replica_and_writers_read_their_writes() {
    let primary = tokio::task::spawn_blocking(Cluster::primary).await.unwrap();
    let db_url = primary.url("dojoql");
    dojoql::db::ensure_database(&db_url).await.unwrap();
    dojoql::db::migrate(&db_url).await.unwrap();
    let mut replica = tokio::task::block_in_place(|| Cluster::replica_of(&primary));
    let read_url = replica.url("dojoql");
    let db = TestDb {
        // Not a database of the tests' own server: its drop there finds nothing to drop.
        name: format!("dojoql_replica_{}", primary.port),
        url: db_url.clone(),
    };
    let app = TestApp::on_database(db, |c| c.database_read_url = Some(read_url.clone())).await;
    assert_eq!(ready(&app).await["readReplica"], "ok");

    app.product_type("before").await;
    until_count(
        &read_url,
        "SELECT count(*) AS n FROM product_types WHERE name = 'before'",
        1,
    )
    .await;
    // From here on the replica replays nothing: what a read sees tells where it was served.
    let mut c = AsyncPgConnection::establish(&read_url).await.unwrap();
    c.batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    let mut p = AsyncPgConnection::establish(&db_url).await.unwrap();
    p.batch_execute("INSERT INTO product_types (name) VALUES ('direct')")
        .await
        .unwrap();
    let direct = count(
        &db_url,
        "SELECT id::bigint AS n FROM product_types WHERE name = 'direct'",
    )
    .await;
    let direct = encode_id(ProductTypeId::new(direct as i32));

    // A query that writes nothing reads the replica.
    assert_eq!(names(&app).await, ["before"]);

    // A request that wrote reads the primary for the rest of the request: the product's type
    // exists on the primary only.
    let d = app
        .ok(
            "mutation($pt: ID!) { createProduct(input: {productTypeId: $pt, name: \"P\", description: \"d\"}) { product { name productType { name } } } }",
            json!({ "pt": direct }),
        )
        .await;
    assert_eq!(
        d["createProduct"]["product"]["productType"]["name"],
        "direct"
    );

    // A websocket connection that wrote reads the primary until the replica has its write.
    let addr = app.serve().await;
    let protocol = ws::TRANSPORT;
    let mut socket = ws::acked(addr, protocol, &app.root_token).await;
    let r = ws::run(
        &mut socket,
        protocol,
        "1",
        "mutation { createProductType(input: {name: \"socket\"}) { productType { name } } }",
    )
    .await;
    assert_eq!(
        r["data"]["createProductType"]["productType"]["name"],
        "socket"
    );
    let r = ws::run(
        &mut socket,
        protocol,
        "2",
        "{ productTypes(first: 100) { nodes { name } } }",
    )
    .await;
    let seen: Vec<&str> = r["data"]["productTypes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(seen, ["before", "direct", "socket"]);
    // Another session still reads the paused replica.
    assert_eq!(names(&app).await, ["before"]);

    // Replay resumes: the replica catches up and serves everything.
    c.batch_execute("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    let mut caught_up = false;
    for _ in 0..200 {
        if names(&app).await == ["before", "direct", "socket"] {
            caught_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(caught_up, "the replica never showed the primary's rows");
    drop(c);

    // The replica goes away: reads fall back to the primary, and /ready says so.
    tokio::task::block_in_place(|| replica.stop_now());
    assert_eq!(names(&app).await, ["before", "direct", "socket"]);
    app.product_type("after").await;
    assert_eq!(names(&app).await, ["before", "direct", "socket", "after"]);
    assert_eq!(
        ready(&app).await["readReplica"],
        "degraded: unreachable, reading from the primary"
    );
    drop(socket);
    drop(app);
    drop(p);
}
