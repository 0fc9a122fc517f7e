//! Reference data (users, SLA configurations, test types, development environments) and Relay
//! global object identification (`node`, `nodes`, `databaseId`).

use std::time::Duration;

use diesel_async::SimpleAsyncConnection;
use dojoql::domain::ids::{NodeKind, encode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_code, db_id};

async fn user(app: &TestApp, input: Value) -> String {
    let d = app
        .ok(
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
            json!({ "i": input }),
        )
        .await;
    d["createUser"]["user"]["id"].as_str().unwrap().to_string()
}

async fn usernames(app: &TestApp, search: Option<&str>, order: Value) -> Vec<String> {
    let d = app
        .ok(
            "query($s: String, $o: UserOrder) { users(first: 100, filter: {search: $s}, orderBy: $o) { totalCount nodes { username } } }",
            json!({ "s": search, "o": order }),
        )
        .await;
    let nodes = d["users"]["nodes"].as_array().unwrap();
    assert_eq!(d["users"]["totalCount"], nodes.len());
    nodes
        .iter()
        .map(|n| n["username"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_create_read_search_and_order() {
    let app = TestApp::new().await;
    let id = user(
        &app,
        json!({ "username": " carol ", "email": "carol@example.com", "firstName": "Carol", "lastName": "Danvers" }),
    )
    .await;
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on User { id databaseId username email firstName lastName created } } }",
            json!({ "id": id }),
        )
        .await;
    let u = &d["node"];
    assert_eq!(u["databaseId"], db_id(&id));
    assert_eq!(u["username"], "carol");
    assert_eq!(u["email"], "carol@example.com");
    assert_eq!(u["firstName"], "Carol");
    assert_eq!(u["lastName"], "Danvers");
    assert!(u["created"].is_string());
    user(&app, json!({ "username": "alice", "email": "a@corp.test" })).await;
    user(
        &app,
        json!({ "username": "Bob", "firstName": "Robert", "lastName": "Paulson" }),
    )
    .await;
    user(&app, json!({ "username": "dave" })).await;

    assert_eq!(
        usernames(&app, None, Value::Null).await,
        ["tester", "carol", "alice", "Bob", "dave"]
    );
    // search matches username, email, first and last name, case-insensitively.
    assert_eq!(usernames(&app, Some("AL"), Value::Null).await, ["alice"]);
    assert_eq!(
        usernames(&app, Some("example.com"), Value::Null).await,
        ["carol"]
    );
    assert_eq!(usernames(&app, Some("corp"), Value::Null).await, ["alice"]);
    assert_eq!(usernames(&app, Some("robert"), Value::Null).await, ["Bob"]);
    assert_eq!(usernames(&app, Some("paulson"), Value::Null).await, ["Bob"]);
    assert_eq!(
        usernames(&app, Some("carol danvers"), Value::Null).await,
        ["carol"]
    );
    assert_eq!(
        usernames(&app, Some("o"), Value::Null).await,
        ["carol", "alice", "Bob"]
    );
    assert_eq!(
        usernames(&app, Some("%"), Value::Null).await,
        Vec::<String>::new()
    );
    assert_eq!(
        usernames(&app, Some("zzz"), Value::Null).await,
        Vec::<String>::new()
    );

    // Ordering.
    assert_eq!(
        usernames(&app, None, json!({ "field": "USERNAME" })).await,
        ["alice", "Bob", "carol", "dave", "tester"]
    );
    assert_eq!(
        usernames(
            &app,
            None,
            json!({ "field": "USERNAME", "direction": "DESC" })
        )
        .await,
        ["tester", "dave", "carol", "Bob", "alice"]
    );
    assert_eq!(
        usernames(&app, None, json!({ "field": "ID", "direction": "DESC" })).await,
        ["dave", "Bob", "alice", "carol", "tester"]
    );
    assert_eq!(
        usernames(
            &app,
            Some("o"),
            json!({ "field": "USERNAME", "direction": "DESC" })
        )
        .await,
        ["carol", "Bob", "alice"]
    );
    // Paging works on users like on every list.
    let d = app
        .ok("{ users(first: 2, orderBy: {field: USERNAME}) { totalCount pageInfo { hasNextPage } nodes { username } } }", json!({}))
        .await;
    assert_eq!(
        d["users"],
        json!({ "totalCount": 5, "pageInfo": { "hasNextPage": true }, "nodes": [{ "username": "alice" }, { "username": "Bob" }] })
    );
    assert_eq!(
        app.err("{ users(first: 0) { totalCount } }", json!({}))
            .await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_user_errors_write_nothing() {
    let app = TestApp::new().await;
    user(&app, json!({ "username": "alice" })).await;
    let before = app.snapshot().await;
    let q = "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }";
    assert_eq!(
        app.err(q, json!({ "i": { "username": "alice" } })).await,
        "CONFLICT"
    );
    assert_eq!(
        app.err(q, json!({ "i": { "username": " alice " } })).await,
        "CONFLICT"
    );
    assert_eq!(
        app.err(q, json!({ "i": { "username": "" } })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(q, json!({ "i": { "username": "   " } })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(q, json!({ "i": { "username": "x".repeat(151) } }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.err(q, json!({ "i": {} })).await, "BAD_USER_INPUT");
    // Longer than the columns hold: the client's mistake, not an internal error.
    assert_eq!(
        app.err(
            q,
            json!({ "i": { "username": "b", "email": "x".repeat(255) } })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(
            q,
            json!({ "i": { "username": "b", "firstName": "x".repeat(151) } })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(
            q,
            json!({ "i": { "username": "b", "lastName": "x".repeat(151) } })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_types_seeded_and_created_on_demand() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let q = "{ testTypes(first: 100) { totalCount nodes { id databaseId name staticTool dynamicTool active dynamicallyGenerated } } }";
    let d = app.ok(q, json!({})).await;
    let types = d["testTypes"]["nodes"].as_array().unwrap().clone();
    assert_eq!(d["testTypes"]["totalCount"], types.len());
    let mcr = types
        .iter()
        .find(|t| t["name"] == "Manual Code Review")
        .expect("seeded Manual Code Review");
    assert_eq!(mcr["staticTool"], true);
    assert_eq!(mcr["dynamicTool"], false);
    assert_eq!(mcr["active"], true);
    assert_eq!(mcr["dynamicallyGenerated"], false);
    assert_eq!(mcr["databaseId"], db_id(mcr["id"].as_str().unwrap()));
    assert!(types.iter().all(|t| t["dynamicallyGenerated"] == false));
    // The hierarchy's test used the seeded type: no new type.
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Test { testType { id name } } } }",
            json!({ "id": h.test }),
        )
        .await;
    assert_eq!(
        d["node"]["testType"],
        json!({ "id": mcr["id"], "name": "Manual Code Review" })
    );

    // A new name creates a dynamically generated type; a second test reuses it.
    let create = "mutation($e: ID!, $tt: String!) { createTest(input: {engagementId: $e, testType: $tt, targetStart: \"2026-01-01\", targetEnd: \"2026-01-02\"}) { test { id testType { id name dynamicallyGenerated } } } }";
    let d = app
        .ok(create, json!({ "e": h.engagement, "tt": "My Scanner" }))
        .await;
    let new_type = d["createTest"]["test"]["testType"].clone();
    assert_eq!(new_type["name"], "My Scanner");
    assert_eq!(new_type["dynamicallyGenerated"], true);
    let d = app
        .ok(create, json!({ "e": h.engagement, "tt": "My Scanner" }))
        .await;
    assert_eq!(d["createTest"]["test"]["testType"]["id"], new_type["id"]);

    let d = app.ok(q, json!({})).await;
    let after = d["testTypes"]["nodes"].as_array().unwrap();
    assert_eq!(after.len(), types.len() + 1);
    let last = after.last().unwrap();
    assert_eq!(last["name"], "My Scanner");
    assert_eq!(last["id"], new_type["id"]);
    assert_eq!(last["dynamicallyGenerated"], true);
    assert_eq!(last["staticTool"], false);
    assert_eq!(last["active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_environments_are_seeded() {
    let app = TestApp::new().await;
    let d = app
        .ok(
            "{ developmentEnvironments(first: 100) { totalCount nodes { id databaseId name } } }",
            json!({}),
        )
        .await;
    let envs = d["developmentEnvironments"]["nodes"].as_array().unwrap();
    assert_eq!(d["developmentEnvironments"]["totalCount"], 7);
    let names: Vec<&str> = envs.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Development",
            "Staging",
            "Production",
            "Test",
            "Pre-prod",
            "Lab",
            "Default"
        ]
    );
    for e in envs {
        assert_eq!(e["databaseId"], db_id(e["id"].as_str().unwrap()));
    }
    let d = app
        .ok(
            "{ developmentEnvironments(last: 2) { pageInfo { hasPreviousPage } nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["developmentEnvironments"],
        json!({ "pageInfo": { "hasPreviousPage": true }, "nodes": [{ "name": "Lab" }, { "name": "Default" }] })
    );
}

const SLA_FIELDS: &str =
    "id databaseId name description critical high medium low enforceCritical enforceHigh
    enforceMedium enforceLow restartSlaOnReactivation";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_configurations_create_update_and_seeded() {
    let app = TestApp::new().await;
    let d = app
        .ok(
            &format!("{{ slaConfigurations(first: 100) {{ nodes {{ {SLA_FIELDS} }} }} }}"),
            json!({}),
        )
        .await;
    let seeded = d["slaConfigurations"]["nodes"].as_array().unwrap();
    assert_eq!(seeded.len(), 2);
    assert_eq!(seeded[0]["name"], "Default");
    assert_eq!(
        (
            seeded[0]["critical"].clone(),
            seeded[0]["high"].clone(),
            seeded[0]["medium"].clone(),
            seeded[0]["low"].clone()
        ),
        (json!(7), json!(30), json!(90), json!(120))
    );
    assert_eq!(seeded[0]["enforceCritical"], true);
    assert_eq!(seeded[1]["name"], "No SLA Enforced");
    for k in [
        "enforceCritical",
        "enforceHigh",
        "enforceMedium",
        "enforceLow",
    ] {
        assert_eq!(seeded[1][k], false, "{k}");
    }

    // Defaults of a new configuration.
    let d = app
        .ok(
            &format!("mutation {{ createSlaConfiguration(input: {{name: \"Plain\"}}) {{ slaConfiguration {{ {SLA_FIELDS} }} }} }}"),
            json!({}),
        )
        .await;
    let plain = &d["createSlaConfiguration"]["slaConfiguration"];
    let plain_id = plain["id"].as_str().unwrap().to_string();
    assert_eq!(
        plain,
        &json!({ "id": plain_id, "databaseId": db_id(&plain_id), "name": "Plain", "description": null,
                 "critical": 7, "high": 30, "medium": 90, "low": 120, "enforceCritical": true, "enforceHigh": true,
                 "enforceMedium": true, "enforceLow": true, "restartSlaOnReactivation": false })
    );

    // Every field set.
    let d = app
        .ok(
            &format!("mutation($i: CreateSlaConfigurationInput!) {{ createSlaConfiguration(input: $i) {{ slaConfiguration {{ {SLA_FIELDS} }} }} }}"),
            json!({ "i": { "name": "Custom", "description": "d", "critical": 1, "high": 2, "medium": 3, "low": 4,
                           "enforceCritical": false, "enforceHigh": true, "enforceMedium": false, "enforceLow": true,
                           "restartSlaOnReactivation": true } }),
        )
        .await;
    let custom = d["createSlaConfiguration"]["slaConfiguration"].clone();
    let id = custom["id"].as_str().unwrap().to_string();
    assert_eq!(
        custom,
        json!({ "id": id, "databaseId": db_id(&id), "name": "Custom", "description": "d",
                "critical": 1, "high": 2, "medium": 3, "low": 4, "enforceCritical": false, "enforceHigh": true,
                "enforceMedium": false, "enforceLow": true, "restartSlaOnReactivation": true })
    );

    // Update: omitted fields kept, null description cleared.
    let d = app
        .ok(
            &format!("mutation($i: UpdateSlaConfigurationInput!) {{ updateSlaConfiguration(input: $i) {{ slaConfiguration {{ {SLA_FIELDS} }} }} }}"),
            json!({ "i": { "id": id, "description": null, "high": 20, "enforceCritical": true } }),
        )
        .await;
    let mut expected = custom.clone();
    expected["description"] = Value::Null;
    expected["high"] = json!(20);
    expected["enforceCritical"] = json!(true);
    assert_eq!(d["updateSlaConfiguration"]["slaConfiguration"], expected);
    let d = app.ok(&format!("query($id: ID!) {{ node(id: $id) {{ ... on SlaConfiguration {{ {SLA_FIELDS} }} }} }}"), json!({ "id": id })).await;
    assert_eq!(d["node"], expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_configuration_bad_input_and_conflicts_write_nothing() {
    let app = TestApp::new().await;
    let d = app
        .ok("mutation { createSlaConfiguration(input: {name: \"Strict\"}) { slaConfiguration { id } } }", json!({}))
        .await;
    let id = d["createSlaConfiguration"]["slaConfiguration"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = app.snapshot().await;
    let create = "mutation($i: CreateSlaConfigurationInput!) { createSlaConfiguration(input: $i) { slaConfiguration { id } } }";
    let update = "mutation($i: UpdateSlaConfigurationInput!) { updateSlaConfiguration(input: $i) { slaConfiguration { id } } }";
    for (k, v) in [("critical", 0), ("high", 0), ("medium", -1), ("low", 0)] {
        let mut i = json!({ "name": "New" });
        i[k] = json!(v);
        assert_eq!(
            app.err(create, json!({ "i": i })).await,
            "BAD_USER_INPUT",
            "create {k}: {v}"
        );
        let mut i = json!({ "id": id });
        i[k] = json!(v);
        assert_eq!(
            app.err(update, json!({ "i": i })).await,
            "BAD_USER_INPUT",
            "update {k}: {v}"
        );
    }
    assert_eq!(
        app.err(create, json!({ "i": { "name": " " } })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(create, json!({ "i": { "name": "x".repeat(129) } }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(
            create,
            json!({ "i": { "name": "New", "description": "x".repeat(513) } })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(
            update,
            json!({ "i": { "id": id, "description": "x".repeat(513) } })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(update, json!({ "i": { "id": id, "name": "" } }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(create, json!({ "i": { "name": "Strict" } })).await,
        "CONFLICT"
    );
    assert_eq!(
        app.err(create, json!({ "i": { "name": "Default" } })).await,
        "CONFLICT"
    );
    assert_eq!(
        app.err(
            update,
            json!({ "i": { "id": id, "name": "Default", "critical": 2 } })
        )
        .await,
        "CONFLICT"
    );
    assert_eq!(
        app.err(update, json!({ "i": { "id": "nope", "critical": 2 } }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(
            update,
            json!({ "i": { "id": encode(NodeKind::Product, 1), "critical": 2 } })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(
            update,
            json!({ "i": { "id": encode(NodeKind::SlaConfiguration, 999_999), "critical": 2 } })
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_a_configuration_recomputes_the_deadlines_of_its_products() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let d = app
        .ok("mutation { createSlaConfiguration(input: {name: \"Custom\", critical: 3}) { slaConfiguration { id } } }", json!({}))
        .await;
    let custom = d["createSlaConfiguration"]["slaConfiguration"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(
        "mutation($p: ID!, $s: ID!) { updateProduct(input: {id: $p, slaConfigurationId: $s}) { product { id } } }",
        json!({ "p": h.product, "s": custom }),
    )
    .await;
    // A second product on the default configuration must not move.
    let other = app.product(&h.product_type, "Other").await;
    let oe = app.engagement(&other, "E").await;
    let ot = app.test(&oe, "T").await;
    app.finding_with(&ot, "O", "CRITICAL", json!({ "date": "2026-01-01" }))
        .await;
    for (title, sev) in [
        ("C", "CRITICAL"),
        ("H", "HIGH"),
        ("M", "MEDIUM"),
        ("L", "LOW"),
    ] {
        app.finding_with(&h.test, title, sev, json!({ "date": "2026-01-01" }))
            .await;
    }
    assert_eq!(
        app.sla_dates(&h.product).await,
        ["2026-01-04", "2026-01-31", "2026-04-01", "2026-05-01"]
    );

    let update = "mutation($i: UpdateSlaConfigurationInput!) { updateSlaConfiguration(input: $i) { slaConfiguration { critical high } } }";
    let d = app
        .ok(
            update,
            json!({ "i": { "id": custom, "critical": 10, "high": 5 } }),
        )
        .await;
    assert_eq!(
        d["updateSlaConfiguration"]["slaConfiguration"],
        json!({ "critical": 10, "high": 5 })
    );
    assert_eq!(
        app.sla_dates(&h.product).await,
        ["2026-01-11", "2026-01-06", "2026-04-01", "2026-05-01"]
    );

    // Turning enforcement off removes the deadline; on again restores it.
    app.ok(
        update,
        json!({ "i": { "id": custom, "enforceMedium": false, "enforceLow": false } }),
    )
    .await;
    assert_eq!(
        app.sla_dates(&h.product).await,
        [
            json!("2026-01-11"),
            json!("2026-01-06"),
            Value::Null,
            Value::Null
        ]
    );
    app.ok(update, json!({ "i": { "id": custom, "enforceLow": true } }))
        .await;
    assert_eq!(
        app.sla_dates(&h.product).await,
        [
            json!("2026-01-11"),
            json!("2026-01-06"),
            Value::Null,
            json!("2026-05-01")
        ]
    );
    assert_eq!(app.sla_dates(&other).await, ["2026-01-08"]);

    // Changing the default configuration moves the other product.
    let default = encode(NodeKind::SlaConfiguration, 1);
    app.ok(update, json!({ "i": { "id": default, "critical": 1 } }))
        .await;
    assert_eq!(app.sla_dates(&other).await, ["2026-01-02"]);
    assert_eq!(app.sla_dates(&h.product).await[0], "2026-01-11");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_sla_configurations() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let create = "mutation($n: String!) { createSlaConfiguration(input: {name: $n}) { slaConfiguration { id } } }";
    let delete = "mutation($id: ID!) { deleteSlaConfiguration(input: {id: $id}) { deletedId } }";
    let used =
        app.ok(create, json!({ "n": "Used" })).await["createSlaConfiguration"]["slaConfiguration"]
            ["id"]
            .as_str()
            .unwrap()
            .to_string();
    let unused = app.ok(create, json!({ "n": "Unused" })).await["createSlaConfiguration"]["slaConfiguration"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(
        "mutation($p: ID!, $s: ID!) { updateProduct(input: {id: $p, slaConfigurationId: $s}) { product { id } } }",
        json!({ "p": h.product, "s": used }),
    )
    .await;
    let before = app.snapshot().await;
    let default = encode(NodeKind::SlaConfiguration, 1);
    assert_eq!(
        app.err(delete, json!({ "id": default })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.err(delete, json!({ "id": used })).await, "CONFLICT");
    assert_eq!(
        app.err(delete, json!({ "id": "nope" })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(delete, json!({ "id": h.product })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.err(
            delete,
            json!({ "id": encode(NodeKind::SlaConfiguration, 999_999) })
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(app.snapshot().await, before);

    let d = app.ok(delete, json!({ "id": unused })).await;
    assert_eq!(d["deleteSlaConfiguration"]["deletedId"], unused);
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": unused }),
        )
        .await;
    assert_eq!(d["node"], Value::Null);
    assert_eq!(app.count("sla_configurations").await, 3);

    // Once no product uses it, it can go; "No SLA Enforced" is deletable too (only the default is kept).
    app.ok(
        "mutation($p: ID!) { updateProduct(input: {id: $p, slaConfigurationId: \"U2xhQ29uZmlndXJhdGlvbjox\"}) { product { id } } }",
        json!({ "p": h.product }),
    )
    .await;
    app.ok(delete, json!({ "id": used })).await;
    app.ok(
        delete,
        json!({ "id": encode(NodeKind::SlaConfiguration, 2) }),
    )
    .await;
    assert_eq!(app.count("sla_configurations").await, 1);
}

/// A product switched to a configuration by a transaction that commits while the delete runs:
/// the delete must still answer CONFLICT (not the foreign key's error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_configuration_while_a_product_starts_using_it_is_a_conflict() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let d = app
        .ok("mutation { createSlaConfiguration(input: {name: \"Racy\"}) { slaConfiguration { id } } }", json!({}))
        .await;
    let racy = d["createSlaConfiguration"]["slaConfiguration"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut c = app.sql().await;
    c.batch_execute(&format!(
        "BEGIN; UPDATE products SET sla_configuration_id = {} WHERE id = {}",
        db_id(&racy),
        db_id(&h.product)
    ))
    .await
    .unwrap();
    let (r, ()) = tokio::join!(
        app.gql(
            "mutation($id: ID!) { deleteSlaConfiguration(input: {id: $id}) { deletedId } }",
            json!({ "id": racy })
        ),
        async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            c.batch_execute("COMMIT").await.unwrap();
        }
    );
    assert_code(&r, "CONFLICT");
    assert_eq!(app.count("sla_configurations").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_resolves_every_kind_with_its_database_id() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let finding = app.finding(&h.test, "F", "HIGH").await;
    let u = user(&app, json!({ "username": "alice" })).await;
    let d = app
        .ok(
            "mutation { createSlaConfiguration(input: {name: \"S\"}) { slaConfiguration { id } } }",
            json!({}),
        )
        .await;
    let sla = d["createSlaConfiguration"]["slaConfiguration"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Test { testType { id } } } }",
            json!({ "id": h.test }),
        )
        .await;
    let test_type = d["node"]["testType"]["id"].as_str().unwrap().to_string();
    let d = app
        .ok(
            "{ developmentEnvironments(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await;
    let env = d["developmentEnvironments"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let q = "query($id: ID!) { node(id: $id) { __typename id
        ... on ProductType { databaseId name }
        ... on Product { databaseId name }
        ... on Engagement { databaseId name }
        ... on Test { databaseId title }
        ... on Finding { databaseId title }
        ... on User { databaseId username }
        ... on SlaConfiguration { databaseId name }
        ... on TestType { databaseId name }
        ... on DevelopmentEnvironment { databaseId name } } }";
    let cases = [
        (&h.product_type, "ProductType", "name", "PT"),
        (&h.product, "Product", "name", "P"),
        (&h.engagement, "Engagement", "name", "E"),
        (&h.test, "Test", "title", "T"),
        (&finding, "Finding", "title", "F"),
        (&u, "User", "username", "alice"),
        (&sla, "SlaConfiguration", "name", "S"),
        (&test_type, "TestType", "name", "Manual Code Review"),
        (&env, "DevelopmentEnvironment", "name", "Development"),
    ];
    for (id, typename, field, value) in cases {
        let d = app.ok(q, json!({ "id": id })).await;
        let n = &d["node"];
        assert_eq!(n["__typename"], typename, "{id}");
        assert_eq!(n["id"], id.as_str());
        assert_eq!(n["databaseId"], db_id(id), "{typename}");
        assert_eq!(n[field], value, "{typename}");
        // The id names its kind.
        assert_eq!(
            dojoql::domain::ids::decode(id).unwrap().0.type_name(),
            typename
        );
    }

    // nodes: in the order asked, null where missing, repeats allowed.
    let missing = encode(NodeKind::Product, 999_999);
    let d = app
        .ok(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({ "ids": [u, missing, h.product, h.product_type, u] }),
        )
        .await;
    assert_eq!(
        d["nodes"],
        json!([
            { "__typename": "User", "id": u },
            null,
            { "__typename": "Product", "id": h.product },
            { "__typename": "ProductType", "id": h.product_type },
            { "__typename": "User", "id": u },
        ])
    );
    let d = app.ok("{ nodes(ids: []) { id } }", json!({})).await;
    assert_eq!(d["nodes"], json!([]));
    // A missing id of a valid kind is null, for every kind.
    for kind in [
        NodeKind::ProductType,
        NodeKind::User,
        NodeKind::SlaConfiguration,
        NodeKind::TestType,
    ] {
        let d = app
            .ok(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": encode(kind, 999_999) }),
            )
            .await;
        assert_eq!(d["node"], Value::Null, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ids_are_bad_input() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for bad in [
        "garbage".to_string(),
        String::new(),
        "!!!".to_string(),
        b64("Product"),
        b64("Product:"),
        b64("Product:abc"),
        b64("Product:0"),
        b64("Product:-1"),
        b64("Spaceship:1"),
        b64("Product:99999999999"),
    ] {
        let code = app
            .err(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": bad }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "node({bad:?})");
        let code = app
            .err(
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                json!({ "ids": [h.product, bad] }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "nodes([.., {bad:?}])");
    }
    let code = app.err("{ node(id: \"garbage\") { id } }", json!({})).await;
    assert_eq!(code, "BAD_USER_INPUT");
    let many: Vec<String> = (0..101).map(|_| h.product.clone()).collect();
    assert_eq!(
        app.err(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": many })
        )
        .await,
        "BAD_USER_INPUT"
    );
}
