//! Live events: the outbox written in each mutation's transaction, subscriptions over
//! websockets (both subprotocols), resuming with `after`, per-event authorization, several
//! replicas on one database and one Redis, Redis going away and coming back, lagging
//! subscribers and shutdown.

use std::time::Duration;

use diesel::{QueryableByName, sql_types::Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestUser, assert_code, assert_json_snapshot, attached, cluster::free_port, ws::*,
};

/// The events recorded so far, oldest first, as `kind` and payload.
async fn outbox(app: &TestApp) -> Vec<(String, Value)> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = Text)]
        payload: String,
    }
    let mut c = app.sql().await;
    diesel::sql_query("SELECT kind, payload::text AS payload FROM event_outbox ORDER BY id")
        .load::<Row>(&mut c)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.kind, serde_json::from_str(&r.payload).unwrap()))
        .collect()
}

fn kinds(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(k, _)| k.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_record_their_events_in_their_transaction() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let finding = app.finding(&h.test, "F", "HIGH").await;
    app.ok(
        "mutation($e: ID!) { closeEngagement(input: {id: $e}) { engagement { id } } }",
        json!({ "e": h.engagement }),
    )
    .await;
    app.ok(
        "mutation($e: ID!) { reopenEngagement(input: {id: $e}) { engagement { id } } }",
        json!({ "e": h.engagement }),
    )
    .await;
    app.ok(
        "mutation($e: ID!) { updateEngagement(input: {id: $e, status: ON_HOLD}) { engagement { id } } }",
        json!({ "e": h.engagement }),
    )
    .await;
    app.ok(
        "mutation($f: ID!) { updateFinding(input: {id: $f, severity: CRITICAL, verified: true, title: \"G\"}) { finding { id } } }",
        json!({ "f": finding }),
    )
    .await;
    let events = outbox(&app).await;
    assert_eq!(
        kinds(&events),
        [
            "ENGAGEMENT_CREATED",
            "TEST_CREATED",
            "FINDING_CREATED",
            "ENGAGEMENT_STATUS_CHANGED",
            "ENGAGEMENT_STATUS_CHANGED",
            "ENGAGEMENT_STATUS_CHANGED",
            "FINDING_CHANGED"
        ]
    );
    // The payloads of the changes: close, reopen, a manual status, the finding's fields.
    let payloads: Vec<&Value> = events[3..].iter().map(|(_, payload)| payload).collect();
    assert_json_snapshot!("change_payloads", payloads);
    // A failed mutation records nothing; an unchanged update records nothing.
    let before = outbox(&app).await.len();
    let code = app
        .err(
            "mutation($e: ID!) { updateEngagement(input: {id: $e, status: COMPLETED, targetEnd: \"1999-01-01\"}) { engagement { id } } }",
            json!({ "e": h.engagement }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    app.ok(
        "mutation($f: ID!) { updateFinding(input: {id: $f, title: \"G\"}) { finding { id } } }",
        json!({ "f": finding }),
    )
    .await;
    assert_eq!(outbox(&app).await.len(), before);
    // The actor is recorded.
    let mut c = app.sql().await;
    #[derive(QueryableByName)]
    struct Actor {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
        actor_id: Option<dojoql::domain::ids::UserId>,
    }
    let actors: Vec<Actor> = diesel::sql_query("SELECT actor_id FROM event_outbox")
        .load(&mut c)
        .await
        .unwrap();
    assert!(actors.iter().all(|a| a.actor_id == Some(app.root.user_id)));
}

/// Opens a subscription on `ws`; returns once the server listens on `bus`.
async fn start(ws: &mut Ws, protocol: &str, bus: &dojoql::events::Bus, id: &str, query: &str) {
    let before = bus.receivers();
    let kind = if protocol == LEGACY {
        "start"
    } else {
        "subscribe"
    };
    send(
        ws,
        json!({ "type": kind, "id": id, "payload": { "query": query } }),
    )
    .await;
    attached(bus, before, 1).await;
}

/// The next subscription result's data (checking its type and id).
async fn next_data(ws: &mut Ws, protocol: &str, id: &str) -> Value {
    let m = recv(ws).await;
    let expected = if protocol == LEGACY { "data" } else { "next" };
    assert_eq!(m["type"], expected, "{m:#}");
    assert_eq!(m["id"], id);
    assert!(m["payload"].get("errors").is_none(), "{m:#}");
    m["payload"]["data"].clone()
}

const CLOSE: &str = "mutation($e: ID!) { closeEngagement(input: {id: $e}) { engagement { id } } }";
const REOPEN: &str =
    "mutation($e: ID!) { reopenEngagement(input: {id: $e}) { engagement { id } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_reach_subscribers_over_both_protocols() {
    let app = TestApp::with_events(|_| {}).await;
    let h = app.hierarchy().await;
    let addr = app.serve().await;
    let bus = app.state.events.clone();
    let query = format!(
        "subscription {{ engagementStatusChanged(productId: \"{}\") {{ eventId kind oldStatus newStatus reason actor {{ username }} engagement {{ name status product {{ name }} }} }} }}",
        h.product
    );
    let mut sockets = Vec::new();
    for protocol in [TRANSPORT, LEGACY] {
        let mut ws = acked(addr, protocol, &app.root_token).await;
        start(&mut ws, protocol, &bus, "s", &query).await;
        sockets.push((protocol, ws));
    }
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    for (protocol, ws) in &mut sockets {
        let d = next_data(ws, protocol, "s").await;
        let e = &d["engagementStatusChanged"];
        assert!(e["eventId"].as_str().unwrap().parse::<i64>().unwrap() > 0);
        assert_json_snapshot!("engagement_closed", e);
    }
    // The next event's engagement is read fresh (no stale cache across events).
    app.ok(REOPEN, json!({ "e": h.engagement })).await;
    for (protocol, ws) in &mut sockets {
        let d = next_data(ws, protocol, "s").await;
        assert_eq!(
            d["engagementStatusChanged"]["engagement"]["status"],
            "IN_PROGRESS"
        );
        assert_eq!(d["engagementStatusChanged"]["reason"], "REOPENED");
    }
}

/// Collects the eventIds of `n` results of subscription `id`.
async fn event_ids(ws: &mut Ws, id: &str, field: &str, n: usize) -> Vec<i64> {
    let mut out = Vec::new();
    for _ in 0..n {
        let d = next_data(ws, TRANSPORT, id).await;
        out.push(d[field]["eventId"].as_str().unwrap().parse().unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_with_after_replays_exactly_what_was_missed() {
    let app = TestApp::with_events(|_| {}).await;
    let h = app.hierarchy().await;
    let addr = app.serve().await;
    let bus = app.state.events.clone();
    let live = "subscription { events(kinds: [ENGAGEMENT_STATUS_CHANGED]) { eventId kind } }";
    let mut ws = acked(addr, TRANSPORT, &app.root_token).await;
    start(&mut ws, TRANSPORT, &bus, "a", live).await;
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    app.ok(REOPEN, json!({ "e": h.engagement })).await;
    let seen = event_ids(&mut ws, "a", "events", 2).await;
    drop(ws);
    // Missed while disconnected.
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    app.ok(REOPEN, json!({ "e": h.engagement })).await;
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    let mut ws = acked(addr, TRANSPORT, &app.root_token).await;
    let resume = format!(
        "subscription {{ events(after: \"{}\", kinds: [ENGAGEMENT_STATUS_CHANGED]) {{ eventId kind }} }}",
        seen[1]
    );
    start(&mut ws, TRANSPORT, &bus, "b", &resume).await;
    let missed = event_ids(&mut ws, "b", "events", 3).await;
    // Then live, with nothing twice at the seam.
    app.ok(REOPEN, json!({ "e": h.engagement })).await;
    let next = event_ids(&mut ws, "b", "events", 1).await;
    let all: Vec<i64> = seen.iter().chain(&missed).chain(&next).copied().collect();
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(all, sorted, "strictly increasing, no duplicates: {all:?}");
    assert!(missed[0] > seen[1]);
    // Nothing else arrives.
    app.ok(
        "mutation($e: ID!) { updateEngagement(input: {id: $e, description: \"x\"}) { engagement { id } } }",
        json!({ "e": h.engagement }),
    )
    .await;
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    let last = event_ids(&mut ws, "b", "events", 1).await;
    assert!(last[0] > next[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_only_receive_events_they_may_read() {
    let app = TestApp::with_events(|_| {}).await;
    let pt = app.product_type("PT").await;
    let a = app.product(&pt, "A").await;
    let b = app.product(&pt, "B").await;
    let c = app.product(&pt, "C").await;
    let ea = app.engagement(&a, "EA").await;
    let eb = app.engagement(&b, "EB").await;
    let ec = app.engagement(&c, "EC").await;
    let reader = app.user("reader").await;
    let membership_a = app.grant_product(&a, &reader.id, "READER").await;
    app.grant_product(&c, &reader.id, "READER").await;
    let addr = app.serve().await;
    let bus = app.state.events.clone();
    let mut ws = acked(addr, TRANSPORT, &reader.token).await;
    start(
        &mut ws,
        TRANSPORT,
        &bus,
        "s",
        "subscription { engagementStatusChanged { engagement { name } } }",
    )
    .await;
    // B is not readable: its event never arrives; A's does.
    app.ok(CLOSE, json!({ "e": eb })).await;
    app.ok(CLOSE, json!({ "e": ea })).await;
    let d = next_data(&mut ws, TRANSPORT, "s").await;
    assert_eq!(d["engagementStatusChanged"]["engagement"]["name"], "EA");
    // Revoking the role on A stops A's events at once; C's still come.
    app.ok(
        "mutation($m: ID!) { removeMember(input: {id: $m}) { removedId } }",
        json!({ "m": membership_a }),
    )
    .await;
    app.ok(REOPEN, json!({ "e": ea })).await;
    app.ok(CLOSE, json!({ "e": ec })).await;
    let d = next_data(&mut ws, TRANSPORT, "s").await;
    assert_eq!(d["engagementStatusChanged"]["engagement"]["name"], "EC");
    // Subscribing to a product one cannot read is NOT_FOUND, like a missing one.
    send(
        &mut ws,
        json!({ "type": "subscribe", "id": "x", "payload": { "query": format!("subscription {{ events(productIds: [\"{b}\"]) {{ eventId }} }}") } }),
    )
    .await;
    let m = recv(&mut ws).await;
    assert_eq!(m["type"], "next", "{m:#}");
    assert_code(&m["payload"], "NOT_FOUND");
    // Revoking the token closes the socket with 4403.
    let token_id = token_id_of(&app, &reader).await;
    app.ok(
        "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id } } }",
        json!({ "id": token_id }),
    )
    .await;
    let (code, _) = closed(&mut ws).await;
    assert_eq!(code, 4403);
}

/// The global id of `user`'s (only) API token.
async fn token_id_of(app: &TestApp, user: &TestUser) -> String {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: i32,
    }
    let mut c = app.sql().await;
    let row: Id = diesel::sql_query("SELECT id FROM api_tokens WHERE user_id = $1")
        .bind::<diesel::sql_types::Integer, _>(user.principal.user_id)
        .get_result(&mut c)
        .await
        .unwrap();
    dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::ApiToken, row.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_changes_filter_by_severity() {
    let app = TestApp::with_events(|_| {}).await;
    let h = app.hierarchy().await;
    let low = app.finding(&h.test, "low", "LOW").await;
    let high = app.finding(&h.test, "high", "HIGH").await;
    let addr = app.serve().await;
    let bus = app.state.events.clone();
    let mut ws = acked(addr, TRANSPORT, &app.root_token).await;
    start(
        &mut ws,
        TRANSPORT,
        &bus,
        "f",
        &format!("subscription {{ findingChanged(testId: \"{}\", minSeverity: HIGH) {{ changedFields changes {{ field old new }} severity finding {{ title active }} }} }}", h.test),
    )
    .await;
    let update = "mutation($f: ID!, $a: Boolean!) { updateFinding(input: {id: $f, active: $a}) { finding { id } } }";
    app.ok(update, json!({ "f": low, "a": false })).await;
    app.ok(update, json!({ "f": high, "a": false })).await;
    let d = next_data(&mut ws, TRANSPORT, "f").await;
    assert_eq!(
        d["findingChanged"],
        json!({ "changedFields": ["active"],
            "changes": [{ "field": "active", "old": true, "new": false }],
            "severity": "HIGH", "finding": { "title": "high", "active": false } })
    );
}

/// A Redis server of the test's own, on a free port.
struct OwnRedis {
    port: u16,
    child: std::process::Child,
}

impl OwnRedis {
    fn start(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnRedis { port, child }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The shared Redis of the test run.
fn test_redis() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A socket on `replica` subscribed (as id `s`) to every engagement status change.
async fn status_events_on(replica: &crate::helpers::Replica, token: &str) -> Ws {
    let addr = crate::helpers::serve_router(replica.router()).await;
    let mut ws = acked(addr, TRANSPORT, token).await;
    start(
        &mut ws,
        TRANSPORT,
        &replica.state.events,
        "s",
        "subscription { events(kinds: [ENGAGEMENT_STATUS_CHANGED]) { eventId } }",
    )
    .await;
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_on_one_replica_reaches_subscribers_of_another_once() {
    let app = TestApp::with_events(|c| c.redis_url = Some(test_redis())).await;
    let replica = app.replica().await;
    let h = app.hierarchy().await;
    let mut ws = status_events_on(&replica, &app.root_token).await;
    for _ in 0..5 {
        app.ok(CLOSE, json!({ "e": h.engagement })).await;
        app.ok(REOPEN, json!({ "e": h.engagement })).await;
    }
    let ids = event_ids(&mut ws, "s", "events", 10).await;
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted, "in order, each once: {ids:?}");
    assert_eq!(ids.len(), 10);
    // Nothing more arrives: a marker event proves the stream is quiet until it.
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    let marker = event_ids(&mut ws, "s", "events", 1).await;
    assert!(marker[0] > ids[9]);
    assert_eq!(
        replica.state.events.health(),
        dojoql::events::BusHealth::RedisUp
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_redis_going_away_and_coming_back() {
    let port = free_port();
    let mut redis = OwnRedis::start(port);
    let app = TestApp::with_events(|c| c.redis_url = Some(redis.url())).await;
    let replica = app.replica().await;
    let h = app.hierarchy().await;
    let mut ws = status_events_on(&replica, &app.root_token).await;
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    let first = event_ids(&mut ws, "s", "events", 1).await;
    redis.stop();
    // Mutations still commit while Redis is down.
    app.ok(REOPEN, json!({ "e": h.engagement })).await;
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    app.ok(REOPEN, json!({ "e": h.engagement })).await;
    let mut degraded = false;
    for _ in 0..100 {
        if app.state.events.health() == dojoql::events::BusHealth::RedisDegraded {
            degraded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(degraded, "the publishing replica notices Redis is gone");
    let _redis = OwnRedis::start(port);
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    let rest = event_ids(&mut ws, "s", "events", 4).await;
    let all: Vec<i64> = first.iter().chain(&rest).copied().collect();
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(all, sorted, "every event, in order, once: {all:?}");
    assert_eq!(all.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_falls_behind_gets_lagged_with_its_last_event() {
    use futures_util::StreamExt;
    let app = TestApp::with_events(|c| c.event_buffer = 16).await;
    let h = app.hierarchy().await;
    let bus = app.state.events.clone();
    let filter = dojoql::events::stream::Filter::new(vec![], vec![]);
    let stream = dojoql::events::stream::subscribe(bus.clone(), app.root.user_id, None, filter)
        .await
        .unwrap();
    let mut stream = std::pin::pin!(stream);
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // 40 events while the subscriber reads nothing: more than the buffer holds.
    for _ in 0..20 {
        app.ok(REOPEN, json!({ "e": h.engagement })).await;
        app.ok(CLOSE, json!({ "e": h.engagement })).await;
    }
    for _ in 0..100 {
        if bus.last() >= first.seq + 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lagged = stream.next().await.unwrap();
    assert_eq!(
        lagged,
        Err(dojoql::events::stream::Lagged {
            last: Some(first.seq)
        })
    );
    assert!(
        stream.next().await.is_none(),
        "the stream ends after LAGGED"
    );
    // The GraphQL error carries the code and the id to resume from.
    let e: async_graphql::Error = dojoql::error::ServiceError::Lagged(Some(first.seq)).into();
    let x = e.extensions.unwrap();
    assert_eq!(x.get("code").unwrap().to_string(), "\"LAGGED\"");
    assert_eq!(
        x.get("lastEventId").unwrap().to_string(),
        format!("\"{}\"", first.seq)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_websockets_with_1001() {
    let app = TestApp::with_events(|_| {}).await;
    let addr = app.serve().await;
    let mut ws = acked(addr, TRANSPORT, &app.root_token).await;
    app.state.shutdown.cancel();
    let (code, _) = closed(&mut ws).await;
    assert_eq!(code, 1001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_forged_into_redis_deliver_nothing() {
    let app = TestApp::with_events(|c| c.redis_url = Some(test_redis())).await;
    let h = app.hierarchy().await;
    let replica = app.replica().await;
    let mut ws = status_events_on(&replica, &app.root_token).await;
    // Anything published on the channel is only a hint to read the outbox: fake ids, fake
    // events and garbage change nothing.
    let client = redis::Client::open(test_redis()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let channel = format!("{}:events", app.state.config.redis_prefix);
    for forged in [
        "999999".to_string(),
        json!({ "seq": 5, "kind": "ENGAGEMENT_STATUS_CHANGED", "productId": 1, "payload": { "newStatus": "COMPLETED" } }).to_string(),
        "\u{0}garbage".to_string(),
    ] {
        redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(forged)
            .query_async::<i64>(&mut conn)
            .await
            .unwrap();
    }
    // The first thing the subscriber receives is the real event.
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    let d = next_data(&mut ws, TRANSPORT, "s").await;
    let first: i64 = d["events"]["eventId"].as_str().unwrap().parse().unwrap();
    let recorded: i64 = {
        #[derive(QueryableByName)]
        struct Seq {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            seq: i64,
        }
        let mut c = app.sql().await;
        diesel::sql_query(
            "SELECT seq FROM event_outbox WHERE kind = 'ENGAGEMENT_STATUS_CHANGED' AND seq IS NOT NULL",
        )
        .get_result::<Seq>(&mut c)
        .await
        .unwrap()
        .seq
    };
    assert_eq!(first, recorded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_events_are_pruned_after_the_retention() {
    use diesel_async::SimpleAsyncConnection;
    let app = TestApp::new().await;
    let mut c = app.sql().await;
    c.batch_execute(
        "INSERT INTO event_outbox (seq, kind, product_id, published, created) VALUES \
           (1, 'TEST_CREATED', 1, TRUE, now() - interval '8 days'), \
           (2, 'TEST_CREATED', 1, FALSE, now() - interval '8 days'), \
           (3, 'TEST_CREATED', 1, TRUE, now() - interval '6 days')",
    )
    .await
    .unwrap();
    let before = chrono::Utc::now() - chrono::Duration::days(7);
    let pruned = app
        .state
        .db
        .write(move |c| Box::pin(dojoql::db::outbox::prune(c, before)))
        .await
        .unwrap();
    assert_eq!(pruned, 1, "only the old, published event goes");
    assert_eq!(app.count("event_outbox").await, 2);
}
