//! `ACCESS_CHANGED` events name whom they concern: a change that grants nothing (a rename)
//! records none; a role change makes the subscription access cache forget the users it names
//! and no one else; a credential change (a revoked token, a deactivated user) makes only that
//! user's websockets re-check their token, once per burst.
//!
//! Database work is counted with the app's statement log: a websocket re-checking its token
//! runs the token lookup (`"api_tokens"."token_hash" = $1`), which the mutations of these tests
//! (run directly through the schema) never do.

use std::time::{Duration, Instant};

use diesel::{QueryableByName, sql_types::Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, attached, db_id, ws::*};

/// Statements that look a token up (what a websocket's credential re-check runs).
fn token_lookups(statements: &[String]) -> usize {
    statements
        .iter()
        .filter(|s| s.contains("\"api_tokens\".\"token_hash\" ="))
        .count()
}

/// The payloads of the `ACCESS_CHANGED` events recorded so far, oldest first.
async fn access_events(app: &TestApp) -> Vec<Value> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        payload: String,
    }
    let mut c = app.sql().await;
    diesel::sql_query(
        "SELECT payload::text AS payload FROM event_outbox WHERE kind = 'ACCESS_CHANGED' ORDER BY id",
    )
    .load::<Row>(&mut c)
    .await
    .unwrap()
    .into_iter()
    .map(|r| serde_json::from_str(&r.payload).unwrap())
    .collect()
}

/// Waits until `condition` holds (panics after 15 s).
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + READ_TIMEOUT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `n` sockets acknowledged with `token`.
async fn sockets(addr: std::net::SocketAddr, token: &str, n: usize) -> Vec<Ws> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(acked(addr, TRANSPORT, token).await);
    }
    out
}

/// A new token of `user` (its token and the token's global id).
async fn new_token(app: &TestApp, user: &TestUser) -> (String, String) {
    let d = app
        .ok(
            "mutation($u: ID!) { createApiToken(input: {userId: $u, name: \"more\"}) { token apiToken { id } } }",
            json!({ "u": user.id }),
        )
        .await;
    (
        d["createApiToken"]["token"].as_str().unwrap().to_string(),
        d["createApiToken"]["apiToken"]["id"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

async fn revoke(app: &TestApp, token_id: &str) {
    app.ok(
        "mutation($id: ID!) { revokeApiToken(input: {id: $id}) { apiToken { id } } }",
        json!({ "id": token_id }),
    )
    .await;
}

/// The global id of `user`'s first API token.
async fn first_token_id(app: &TestApp, user: &TestUser) -> String {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: i32,
    }
    let mut c = app.sql().await;
    let row: Id = diesel::sql_query("SELECT min(id) AS id FROM api_tokens WHERE user_id = $1")
        .bind::<diesel::sql_types::Integer, _>(user.principal.user_id)
        .get_result(&mut c)
        .await
        .unwrap();
    dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::ApiToken, row.id)
}

/// Runs `{ me }` on `ws`: the socket is open and its credential works.
async fn still_open(ws: &mut Ws, id: &str) {
    let payload = run(ws, TRANSPORT, id, "{ me { user { id } } }").await;
    assert!(payload.get("errors").is_none(), "{payload:#}");
}

const STATUS: &str = "subscription { engagementStatusChanged { engagement { name } } }";
const CLOSE: &str = "mutation($e: ID!) { closeEngagement(input: {id: $e}) { engagement { id } } }";
const REOPEN: &str =
    "mutation($e: ID!) { reopenEngagement(input: {id: $e}) { engagement { id } } }";

/// Subscribes `ws` to engagement status changes; returns once the server listens.
async fn watch_status(ws: &mut Ws, bus: &dojoql::events::Bus) {
    let before = bus.receivers();
    send(ws, subscribe(TRANSPORT, "s", STATUS)).await;
    attached(bus, before, 1).await;
}

/// The name of the engagement of the next status change on `ws`.
async fn next_status(ws: &mut Ws) -> Value {
    let m = recv(ws).await;
    assert_eq!(m["type"], "next", "{m:#}");
    m["payload"]["data"]["engagementStatusChanged"]["engagement"]["name"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renaming_oneself_costs_no_socket_and_no_cache_entry_anything() {
    let delay = Duration::from_millis(50);
    let app = TestApp::with_events(|c| c.ws_recheck_delay = delay).await;
    let h = app.hierarchy().await;
    let addr = app.serve().await;
    let bus = app.state.events.clone();
    // A subscriber whose cached access must survive the renames.
    let other = app.user("other").await;
    app.grant_product(&h.product, &other.id, "READER").await;
    let mut subscriber = acked(addr, TRANSPORT, &other.token).await;
    watch_status(&mut subscriber, &bus).await;
    app.ok(CLOSE, json!({ "e": h.engagement })).await;
    assert_eq!(next_status(&mut subscriber).await, "E");
    let (o, p) = (other.principal.user_id, db_id(&h.product).into());
    assert_eq!(bus.access.known_grant(o, p), Some(true));
    // 200 sockets: 20 of the renaming user, 20 of each of 9 others.
    let renamer = app.user("renamer").await;
    let mut open = sockets(addr, &renamer.token, 20).await;
    for i in 0..9 {
        let user = app.user(&format!("user{i}")).await;
        open.extend(sockets(addr, &user.token, 20).await);
    }
    assert_eq!(open.len(), 200);
    app.settle_events().await;
    let access_events_before = access_events(&app).await.len();

    let rename = "mutation($id: ID!, $n: String!) { updateUser(input: {id: $id, firstName: $n}) { user { firstName } } }";
    let log = app.statements();
    log.start_recording();
    let r = app
        .gql_as(
            &renamer.principal,
            rename,
            json!({ "id": renamer.id, "n": "R" }),
        )
        .await;
    assert_eq!(r["data"]["updateUser"]["user"]["firstName"], "R", "{r:#}");
    let per_rename = log.take().len();
    log.start_recording();
    for i in 0..20 {
        let r = app
            .gql_as(
                &renamer.principal,
                rename,
                json!({ "id": renamer.id, "n": format!("R{i}") }),
            )
            .await;
        assert!(r.get("errors").is_none(), "{r:#}");
    }
    app.settle_events().await;
    // Were a rename news for the sockets, they would re-check `delay` after it: give them time.
    tokio::time::sleep(delay * 6).await;
    let statements = log.take();

    assert_eq!(access_events(&app).await.len(), access_events_before);
    assert!(
        statements.iter().all(|s| !s.contains("api_tokens")),
        "{statements:#?}"
    );
    assert_eq!(statements.len(), 20 * per_rename, "{statements:#?}");
    assert_eq!(bus.access.known_grant(o, p), Some(true));
    assert!(bus.access.knows_user(o));
    still_open(&mut open[0], "1").await;
    still_open(&mut open[199], "1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_token_rechecks_only_the_sockets_of_its_user() {
    let app = TestApp::with_events(|_| {}).await;
    let addr = app.serve().await;
    let bus = app.state.events.clone();
    let a = app.user("a").await;
    let b = app.user("b").await;
    let (a_second, _) = new_token(&app, &a).await;
    let mut revoked = acked(addr, TRANSPORT, &a.token).await;
    let mut sibling = acked(addr, TRANSPORT, &a_second).await;
    let mut others = sockets(addr, &b.token, 5).await;
    assert_eq!(bus.watched_users(), 2);
    app.settle_events().await;

    let log = app.statements();
    log.start_recording();
    revoke(&app, &first_token_id(&app, &a).await).await;
    assert_eq!(closed(&mut revoked).await, (4403, vec![]));
    // A's other socket re-checks its (valid) token too, at the same time.
    until("the sibling socket's re-check", || {
        token_lookups(&log.recorded()) >= 2
    })
    .await;
    app.settle_events().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let statements = log.take();
    assert_eq!(token_lookups(&statements), 2, "{statements:#?}");
    assert_eq!(
        access_events(&app).await.last(),
        Some(&json!({ "users": [a.principal.user_id], "credentials": true }))
    );

    still_open(&mut sibling, "1").await;
    for ws in &mut others {
        still_open(ws, "1").await;
    }
    // Revoking it again changes nothing and records nothing.
    let recorded = access_events(&app).await.len();
    revoke(&app, &first_token_id(&app, &a).await).await;
    assert_eq!(access_events(&app).await.len(), recorded);
    // The registry forgets a user with its last socket.
    drop(sibling);
    until("A's entry to go", || bus.watched_users() == 1).await;
    drop(others);
    until("B's entry to go", || bus.watched_users() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivating_a_user_closes_only_its_sockets() {
    let app = TestApp::with_events(|_| {}).await;
    let addr = app.serve().await;
    let a = app.user("a").await;
    let b = app.user("b").await;
    let mut a_sockets = sockets(addr, &a.token, 3).await;
    let mut b_sockets = sockets(addr, &b.token, 3).await;
    app.settle_events().await;

    let log = app.statements();
    log.start_recording();
    app.ok(
        "mutation($id: ID!) { updateUser(input: {id: $id, isActive: false}) { user { id } } }",
        json!({ "id": a.id }),
    )
    .await;
    for ws in &mut a_sockets {
        assert_eq!(closed(ws).await, (4403, vec![]));
    }
    app.settle_events().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let statements = log.take();
    assert_eq!(token_lookups(&statements), 3, "{statements:#?}");
    assert_eq!(
        access_events(&app).await.last(),
        Some(&json!({ "users": [a.principal.user_id], "credentials": true }))
    );
    for ws in &mut b_sockets {
        still_open(ws, "1").await;
    }
    // Setting the flag to what it is records nothing.
    let recorded = access_events(&app).await.len();
    app.ok(
        "mutation($id: ID!) { updateUser(input: {id: $id, isActive: true}) { user { id } } }",
        json!({ "id": b.id }),
    )
    .await;
    assert_eq!(access_events(&app).await.len(), recorded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_role_change_reaches_its_members_and_spares_the_others() {
    let app = TestApp::with_events(|_| {}).await;
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    let q = app.product(&pt, "Q").await;
    let ep = app.engagement(&p, "EP").await;
    let eq = app.engagement(&q, "EQ").await;
    let member = app.user("member").await;
    let other = app.user("other").await;
    // `member` reads P through the group (and Q directly); `other` reads P directly.
    let group = app
        .ok_id(
            "mutation { createGroup(input: {name: \"G\"}) { group { id } } }",
            json!({}),
            "/createGroup/group/id",
        )
        .await;
    app.ok(
        "mutation($g: ID!, $u: ID!) { addGroupMember(input: {groupId: $g, userId: $u, role: READER}) { groupMember { id } } }",
        json!({ "g": group, "u": member.id }),
    )
    .await;
    let group_role = app
        .ok_id(
            "mutation($p: ID!, $g: ID!) { addProductMember(input: {productId: $p, groupId: $g, role: READER}) { membership { id } } }",
            json!({ "p": p, "g": group }),
            "/addProductMember/membership/id",
        )
        .await;
    app.grant_product(&q, &member.id, "READER").await;
    app.grant_product(&p, &other.id, "READER").await;
    let addr = app.serve().await;
    let bus = app.state.events.clone();
    let mut member_ws = acked(addr, TRANSPORT, &member.token).await;
    let mut other_ws = acked(addr, TRANSPORT, &other.token).await;
    watch_status(&mut member_ws, &bus).await;
    watch_status(&mut other_ws, &bus).await;
    app.ok(CLOSE, json!({ "e": ep })).await;
    assert_eq!(next_status(&mut member_ws).await, "EP");
    assert_eq!(next_status(&mut other_ws).await, "EP");
    let (m, o, p_id) = (
        member.principal.user_id,
        other.principal.user_id,
        db_id(&p).into(),
    );
    assert_eq!(bus.access.known_grant(m, p_id), Some(true));
    assert_eq!(bus.access.known_grant(o, p_id), Some(true));

    let log = app.statements();
    log.start_recording();
    app.ok(
        "mutation($m: ID!) { removeMember(input: {id: $m}) { removedId } }",
        json!({ "m": group_role }),
    )
    .await;
    app.settle_events().await;
    // The event names the group's members at the time (the creator, its OWNER, and `member`),
    // as a change of roles only.
    assert_eq!(
        access_events(&app).await.last(),
        Some(&json!({ "users": [app.root.user_id, m], "credentials": false }))
    );
    // The members' entries are forgotten, the others' kept.
    assert_eq!(bus.access.known_grant(m, p_id), None);
    assert!(!bus.access.knows_user(m));
    assert_eq!(bus.access.known_grant(o, p_id), Some(true));
    assert!(bus.access.knows_user(o));
    // A role change re-checks no socket.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let statements = log.take();
    assert_eq!(token_lookups(&statements), 0, "{statements:#?}");

    // Delivery to the member stops at the next event; the other still gets it.
    app.ok(REOPEN, json!({ "e": ep })).await;
    app.ok(CLOSE, json!({ "e": eq })).await;
    assert_eq!(next_status(&mut member_ws).await, "EQ");
    assert_eq!(next_status(&mut other_ws).await, "EP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_credential_changes_rechecks_each_socket_once_per_delay() {
    let delay = Duration::from_millis(500);
    let app = TestApp::with_events(|c| c.ws_recheck_delay = delay).await;
    let addr = app.serve().await;
    let a = app.user("a").await;
    let mut spare = Vec::new();
    for _ in 0..10 {
        spare.push(new_token(&app, &a).await.1);
    }
    let mut open = sockets(addr, &a.token, 3).await;
    app.settle_events().await;

    let log = app.statements();
    log.start_recording();
    let start = Instant::now();
    // Each revocation reaches the fan-out on its own.
    for token in &spare {
        revoke(&app, token).await;
        app.settle_events().await;
    }
    let elapsed = start.elapsed();
    until("every socket's re-check", || {
        token_lookups(&log.recorded()) >= open.len()
    })
    .await;
    // A re-check comes at most `delay` after the news that triggers it.
    tokio::time::sleep((start + elapsed + delay + Duration::from_millis(300)) - Instant::now())
        .await;
    let lookups = token_lookups(&log.take());
    let windows = (elapsed.as_millis() / delay.as_millis()) as usize + 1;
    assert!(
        lookups <= open.len() * windows,
        "{lookups} re-checks by {} sockets in {elapsed:?}",
        open.len()
    );
    assert!(windows < spare.len(), "the burst took too long to tell");
    for ws in &mut open {
        still_open(ws, "1").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_change_of_an_earlier_version_rechecks_every_socket() {
    let app = TestApp::with_events(|_| {}).await;
    let addr = app.serve().await;
    let a = app.user("a").await;
    let b = app.user("b").await;
    let mut a_ws = acked(addr, TRANSPORT, &a.token).await;
    let mut b_ws = acked(addr, TRANSPORT, &b.token).await;
    // A's token revoked behind the API's back, then an event as earlier versions recorded it.
    let mut c = app.sql().await;
    diesel::sql_query("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1")
        .bind::<diesel::sql_types::Integer, _>(a.principal.user_id)
        .execute(&mut c)
        .await
        .unwrap();
    // Announced on commit like every recorded event.
    diesel::sql_query(
        "WITH e AS (INSERT INTO event_outbox (kind, payload) \
           VALUES ('ACCESS_CHANGED', '{}'::jsonb) RETURNING id) \
         SELECT pg_notify('dojoql_outbox', '') FROM e",
    )
    .execute(&mut c)
    .await
    .unwrap();
    assert_eq!(closed(&mut a_ws).await, (4403, vec![]));
    still_open(&mut b_ws, "1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_grant_lookups_for_distinct_pairs_cost_one_statement() {
    let app = TestApp::new().await;
    let bus = app.state.events.clone();
    let product_type = app.product_type("PT").await;
    let mut products = Vec::new();
    for j in 0..5 {
        products.push(app.product(&product_type, &format!("P{j}")).await);
    }
    let mut users = Vec::new();
    for i in 0..4 {
        let user = app.user(&format!("u{i}")).await;
        for (j, product) in products.iter().enumerate() {
            if (i + j) % 2 == 0 {
                app.grant_product(product, &user.id, "READER").await;
            }
        }
        users.push(user.principal.user_id);
    }
    let products: Vec<dojoql::domain::ids::ProductId> =
        products.iter().map(|p| db_id(p).into()).collect();
    // Every user known to the cache (with one grant each), so only grants are looked up next.
    for user in &users {
        bus.access.may_read(*user, products[0]).await.unwrap();
    }

    // 16 distinct (user, product) pairs nobody has asked about yet, all at once.
    let pairs: Vec<(usize, usize)> = (0..4).flat_map(|i| (1..5).map(move |j| (i, j))).collect();
    let log = &bus.db().log;
    log.start_recording();
    let answers = futures_util::future::join_all(
        pairs
            .iter()
            .map(|&(i, j)| bus.access.may_read(users[i], products[j])),
    )
    .await;
    let statements = log.take();
    assert_eq!(statements.len(), 1, "{statements:#?}");
    assert!(statements[0].contains("product_grants"), "{statements:#?}");
    for (&(i, j), answer) in pairs.iter().zip(answers) {
        assert_eq!(answer.unwrap(), (i + j) % 2 == 0, "user {i}, product {j}");
        assert_eq!(
            bus.access.known_grant(users[i], products[j]),
            Some((i + j) % 2 == 0)
        );
    }
}
