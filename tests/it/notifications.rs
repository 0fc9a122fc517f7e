//! Notification settings and the `notifications` feed, and the engagement jobs (overdue
//! announcements, auto-close) with a controlled clock.

use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::helpers::{TestApp, attached, ws::*};

const SETTINGS: &str = "mutation($i: UpdateNotificationSettingsInput!) { updateNotificationSettings(input: $i) { notificationSettings { product { name } kinds inherited } } }";
const READ: &str =
    "query($p: ID) { notificationSettings(productId: $p) { product { name } kinds inherited } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_per_user_and_per_product_with_defaults() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let other = app.product(&h.product_type, "Other").await;
    // Nothing chosen: the server's default.
    let d = app.ok(READ, json!({ "p": h.product })).await;
    assert_eq!(
        d["notificationSettings"],
        json!({ "product": { "name": "P" }, "inherited": true, "kinds": [
            "ENGAGEMENT_CREATED", "ENGAGEMENT_STATUS_CHANGED", "ENGAGEMENT_DELETED",
            "ENGAGEMENT_OVERDUE", "TEST_CREATED", "FINDINGS_IMPORTED"
        ] })
    );
    // A default of the user's, and a product of its own.
    app.ok(SETTINGS, json!({ "i": { "kinds": ["FINDING_CREATED"] } }))
        .await;
    let d = app
        .ok(
            SETTINGS,
            json!({ "i": { "productId": h.product, "kinds": ["FINDING_CHANGED", "FINDING_CHANGED", "ENGAGEMENT_DELETED"] } }),
        )
        .await;
    assert_eq!(
        d["updateNotificationSettings"]["notificationSettings"],
        json!({ "product": { "name": "P" }, "inherited": false, "kinds": ["ENGAGEMENT_DELETED", "FINDING_CHANGED"] })
    );
    let d = app.ok(READ, json!({ "p": other })).await;
    assert_eq!(
        d["notificationSettings"],
        json!({ "product": { "name": "Other" }, "inherited": true, "kinds": ["FINDING_CREATED"] })
    );
    // Removing the product's choice inherits again.
    let d = app
        .ok(
            SETTINGS,
            json!({ "i": { "productId": h.product, "kinds": null } }),
        )
        .await;
    assert_eq!(
        d["updateNotificationSettings"]["notificationSettings"]["kinds"],
        json!(["FINDING_CREATED"])
    );
    // Another user's settings are its own; a product it cannot read is NOT_FOUND.
    let bob = app.user("bob").await;
    let d = app.ok_as(&bob, READ, json!({ "p": null })).await;
    assert_eq!(d["notificationSettings"]["inherited"], true);
    let code = app.err_as(&bob, READ, json!({ "p": h.product })).await;
    assert_eq!(code, "NOT_FOUND");
}

async fn next_kind(ws: &mut Ws) -> Value {
    let m = recv(ws).await;
    assert_eq!(m["type"], "next", "{m:#}");
    m["payload"]["data"]["notifications"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_delivers_only_what_the_user_switched_on() {
    let app = TestApp::with_events(|_| {}).await;
    let h = app.hierarchy().await;
    let addr = app.serve().await;
    let bus = app.state.events.clone();
    let mut ws = acked(addr, TRANSPORT, &app.root_token).await;
    // The hierarchy's own events are behind us before the feed opens.
    app.settle_events().await;
    let before = bus.receivers();
    send(
        &mut ws,
        json!({ "type": "subscribe", "id": "n", "payload": { "query": "subscription { notifications { kind productId ... on FindingCreatedEvent { finding { title } } } }" } }),
    )
    .await;
    attached(&bus, before, 1).await;
    // Defaults: findings are not in the feed, test creation is.
    app.finding(&h.test, "quiet", "LOW").await;
    app.test(&h.engagement, "T2").await;
    assert_eq!(next_kind(&mut ws).await["kind"], "TEST_CREATED");
    // Switch findings on for this product: the running feed follows at once.
    app.ok(
        SETTINGS,
        json!({ "i": { "productId": h.product, "kinds": ["FINDING_CREATED"] } }),
    )
    .await;
    app.test(&h.engagement, "T3").await;
    app.finding(&h.test, "loud", "HIGH").await;
    let d = next_kind(&mut ws).await;
    assert_eq!(d["kind"], "FINDING_CREATED", "TEST_CREATED is now off: {d}");
    assert_eq!(d["finding"]["title"], "loud");
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The recorded events of `kind`, as (engagement id, payload).
async fn recorded(app: &TestApp, kind: &str) -> Vec<(Option<i32>, Value)> {
    use diesel::{QueryableByName, sql_types::*};
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Nullable<Integer>)]
        engagement_id: Option<i32>,
        #[diesel(sql_type = Text)]
        payload: String,
    }
    let mut c = app.sql().await;
    diesel::sql_query("SELECT engagement_id, payload::text AS payload FROM event_outbox WHERE kind = $1 ORDER BY id")
        .bind::<Text, _>(kind)
        .load::<Row>(&mut c)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.engagement_id, serde_json::from_str(&r.payload).unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_is_announced_once_and_auto_close_follows_the_settings() {
    let app = TestApp::new().await;
    let product = app.product(&app.product_type("PT").await, "P").await;
    // Interactive, ends 2026-02-01 (overdue from 2026-02-02); CI/CD gets 10 days' grace.
    let interactive = app.engagement(&product, "Interactive").await;
    let ci = app
        .engagement_with(&product, "CI", json!({ "engagementType": "CI_CD" }))
        .await;
    let db = app.state.events.db().clone();
    let run = |today: &'static str| {
        let db = db.clone();
        async move {
            dojoql::service::jobs::run_once(&db, day(today))
                .await
                .unwrap()
        }
    };
    assert_eq!(run("2026-02-01").await.overdue, 0);
    let r = run("2026-02-02").await;
    assert_eq!(
        (r.ran, r.overdue, r.auto_closed),
        (true, 1, 0),
        "auto-close is off by default"
    );
    assert_eq!(run("2026-02-05").await.overdue, 0, "announced once");
    assert_eq!(
        run("2026-02-12").await.overdue,
        1,
        "the CI/CD one after its grace"
    );
    let overdue = recorded(&app, "ENGAGEMENT_OVERDUE").await;
    assert_eq!(
        overdue.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        [
            Some(crate::helpers::db_id(&interactive)),
            Some(crate::helpers::db_id(&ci))
        ]
    );
    // Moving the end date ends "overdue"; passing it again announces it again.
    app.ok(
        "mutation($e: ID!) { updateEngagement(input: {id: $e, targetEnd: \"2026-03-01\"}) { engagement { id } } }",
        json!({ "e": interactive }),
    )
    .await;
    assert_eq!(run("2026-02-20").await.overdue, 0);
    assert_eq!(run("2026-03-02").await.overdue, 1);

    // Auto-close: IN_PROGRESS engagements more than N days past their end.
    let code = app
        .err(
            "mutation { updateSystemSettings(input: {engagementAutoCloseDays: -1}) { systemSettings { engagementAutoClose } } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let d = app
        .ok(
            "mutation { updateSystemSettings(input: {engagementAutoClose: true, engagementAutoCloseDays: 5}) { systemSettings { engagementAutoClose engagementAutoCloseDays } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["updateSystemSettings"]["systemSettings"],
        json!({ "engagementAutoClose": true, "engagementAutoCloseDays": 5 })
    );
    let on_hold = app
        .engagement_with(&product, "Held", json!({ "status": "ON_HOLD" }))
        .await;
    assert_eq!(
        run("2026-03-06").await.auto_closed,
        1,
        "CI, ended 2026-02-01"
    );
    assert_eq!(
        run("2026-03-07").await.auto_closed,
        1,
        "Interactive, ends 2026-03-01"
    );
    assert_eq!(run("2026-04-01").await.auto_closed, 0, "ON_HOLD stays");
    let closed = recorded(&app, "ENGAGEMENT_STATUS_CHANGED").await;
    assert_eq!(closed.len(), 2);
    assert!(closed.iter().all(|(_, p)| p
        == &json!({ "oldStatus": "IN_PROGRESS", "newStatus": "COMPLETED", "reason": "AUTO_CLOSED" })));
    let d = app
        .ok(
            "query($a: ID!, $b: ID!) { a: node(id: $a) { ... on Engagement { status active } } b: node(id: $b) { ... on Engagement { status } } }",
            json!({ "a": interactive, "b": on_hold }),
        )
        .await;
    assert_eq!(d["a"], json!({ "status": "COMPLETED", "active": false }));
    assert_eq!(d["b"]["status"], "ON_HOLD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_replica_runs_a_job_round_at_a_time() {
    let app = TestApp::new().await;
    let product = app.product(&app.product_type("PT").await, "P").await;
    for i in 0..5 {
        app.engagement(&product, &format!("E{i}")).await;
    }
    let db = app.state.events.db().clone();
    let other = dojoql::db::Db::connect(&dojoql::db::PoolSettings {
        url: app.db.url.clone(),
        max_size: 2,
        wait_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(5),
    })
    .unwrap();
    let today = day("2026-03-01");
    let (a, b) = tokio::join!(
        dojoql::service::jobs::run_once(&db, today),
        dojoql::service::jobs::run_once(&other, today)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.overdue + b.overdue,
        5,
        "each engagement announced once: {a:?} {b:?}"
    );
    assert_eq!(recorded(&app, "ENGAGEMENT_OVERDUE").await.len(), 5);
}
