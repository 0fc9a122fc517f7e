//! Tests (the entity): create with an existing or a new test type, every field, validation,
//! both directions of the engagement link, update, delete, list filters and orders.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_json_snapshot, db_id};

const FIELDS: &str = "title description testType { id name dynamicallyGenerated } scanType targetStart targetEnd \
    percentComplete lead { id } environment { id name } version buildId commitHash branchTag tags engagement { id }";

async fn read(app: &TestApp, id: &str) -> Value {
    app.ok(
        &format!("query($id: ID!) {{ node(id: $id) {{ __typename ... on Test {{ {FIELDS} }} }} }}"),
        json!({ "id": id }),
    )
    .await["node"]
        .clone()
}

async fn create(app: &TestApp, input: Value) -> Value {
    let d = app
        .ok(
            &format!("mutation($i: CreateTestInput!) {{ createTest(input: $i) {{ test {{ id {FIELDS} }} }} }}"),
            json!({ "i": input }),
        )
        .await;
    d["createTest"]["test"].clone()
}

async fn create_err(app: &TestApp, input: Value) -> String {
    app.err(
        "mutation($i: CreateTestInput!) { createTest(input: $i) { test { id } } }",
        json!({ "i": input }),
    )
    .await
}

async fn update(app: &TestApp, input: Value) -> Value {
    let d = app
        .ok(
            &format!("mutation($i: UpdateTestInput!) {{ updateTest(input: $i) {{ test {{ {FIELDS} }} }} }}"),
            json!({ "i": input }),
        )
        .await;
    d["updateTest"]["test"].clone()
}

async fn update_err(app: &TestApp, input: Value) -> String {
    app.err(
        "mutation($i: UpdateTestInput!) { updateTest(input: $i) { test { id } } }",
        json!({ "i": input }),
    )
    .await
}

async fn user(app: &TestApp, name: &str) -> String {
    let d = app
        .ok(
            "mutation($n: String!) { createUser(input: {username: $n}) { user { id } } }",
            json!({ "n": name }),
        )
        .await;
    d["createUser"]["user"]["id"].as_str().unwrap().to_string()
}

/// (id, name) of every seeded development environment.
async fn environments(app: &TestApp) -> Vec<(String, String)> {
    let d = app
        .ok(
            "{ developmentEnvironments(first: 100) { nodes { id name } } }",
            json!({}),
        )
        .await;
    d["developmentEnvironments"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_string(),
                n["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The id of the test type called `name`.
async fn test_type(app: &TestApp, name: &str) -> String {
    let d = app
        .ok("{ testTypes(first: 100) { nodes { id name } } }", json!({}))
        .await;
    d["testTypes"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no test type {name}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn missing(kind: dojoql::domain::ids::NodeKind) -> String {
    dojoql::domain::ids::encode(kind, 999_999)
}

fn base(engagement: &str) -> Value {
    json!({ "engagementId": engagement, "title": "T", "testType": "Manual Code Review",
            "targetStart": "2026-01-01", "targetEnd": "2026-01-10" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_with_an_existing_or_a_new_test_type() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let types = app.count("test_types").await;

    let t = create(&app, base(&h.engagement)).await;
    assert_eq!(t["testType"]["name"], "Manual Code Review");
    assert_eq!(t["testType"]["dynamicallyGenerated"], false);
    assert_eq!(
        t["testType"]["id"],
        test_type(&app, "Manual Code Review").await.as_str()
    );
    assert_eq!(
        app.count("test_types").await,
        types,
        "an existing type is reused"
    );

    let mut input = base(&h.engagement);
    input["testType"] = json!("  Brand New Scanner  ");
    let t = create(&app, input.clone()).await;
    assert_eq!(t["testType"]["name"], "Brand New Scanner");
    assert_eq!(t["testType"]["dynamicallyGenerated"], true);
    assert_eq!(app.count("test_types").await, types + 1);
    let d = app
        .ok("query($id: ID!) { node(id: $id) { ... on TestType { name dynamicallyGenerated active staticTool dynamicTool } } }", json!({ "id": t["testType"]["id"] }))
        .await;
    assert_eq!(
        d["node"],
        json!({ "name": "Brand New Scanner", "dynamicallyGenerated": true, "active": true, "staticTool": false, "dynamicTool": false })
    );

    // The second use of the new name reuses the type.
    let again = create(&app, input).await;
    assert_eq!(again["testType"]["id"], t["testType"]["id"]);
    assert_eq!(app.count("test_types").await, types + 1);

    // Title is optional.
    let mut input = base(&h.engagement);
    input.as_object_mut().unwrap().remove("title");
    assert_eq!(create(&app, input).await["title"], Value::Null);

    // An empty test type name is refused.
    let mut input = base(&h.engagement);
    input["testType"] = json!(" ");
    assert_eq!(create_err(&app, input).await, "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_round_trips() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let lead = user(&app, "lead").await;
    let (env, env_name) = environments(&app).await.remove(1);
    let input = json!({
        "engagementId": h.engagement, "title": "  Full test  ", "testType": "Pen Test", "description": "desc",
        "targetStart": "2026-01-05", "targetEnd": "2026-01-05", "percentComplete": 100, "leadId": lead,
        "environmentId": env, "version": "1.0", "buildId": "b-7", "commitHash": "abc123", "branchTag": "v1.0",
        "tags": ["Api", "api", "zeta", "alpha"]
    });
    let created = create(&app, input).await;
    let id = created["id"].as_str().unwrap().to_string();
    let pen_test = test_type(&app, "Pen Test").await;
    let expected = json!({
        "__typename": "Test",
        "title": "Full test", "description": "desc",
        "testType": { "id": pen_test, "name": "Pen Test", "dynamicallyGenerated": false },
        "scanType": null, "targetStart": "2026-01-05", "targetEnd": "2026-01-05", "percentComplete": 100,
        "lead": { "id": lead }, "environment": { "id": env, "name": env_name }, "version": "1.0",
        "buildId": "b-7", "commitHash": "abc123", "branchTag": "v1.0", "tags": ["alpha", "api", "zeta"],
        "engagement": { "id": h.engagement }
    });
    let mut c = created.clone();
    c.as_object_mut().unwrap().remove("id");
    c["__typename"] = json!("Test");
    assert_eq!(c, expected);
    assert_eq!(read(&app, &id).await, expected);
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Test { databaseId } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["node"]["databaseId"], db_id(&id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_is_refused_and_writes_nothing() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    // Stored: 2026-01-01 .. 2026-01-02.
    let before = app.snapshot().await;
    for (field, value) in [
        ("percentComplete", json!(101)),
        ("percentComplete", json!(-1)),
        ("targetEnd", json!("2025-12-31")),
        ("title", json!("   ")),
        ("title", json!("x".repeat(256))),
        ("tags", json!([""])),
        ("version", json!("v".repeat(101))),
        ("buildId", json!("b".repeat(151))),
        ("commitHash", json!("c".repeat(151))),
        ("branchTag", json!("t".repeat(151))),
    ] {
        let mut input = base(&h.engagement);
        input[field] = value.clone();
        // Even with a brand-new test type, nothing is written.
        input["testType"] = json!("Never Created");
        assert_eq!(
            create_err(&app, input).await,
            "BAD_USER_INPUT",
            "create {field} = {value}"
        );
    }
    for (field, value) in [
        ("percentComplete", json!(101)),
        ("percentComplete", json!(-1)),
        ("targetEnd", json!("2025-12-31")),
        ("targetStart", json!("2026-01-03")),
        ("title", json!("")),
        ("version", json!("v".repeat(101))),
        ("buildId", json!("b".repeat(151))),
        ("commitHash", json!("c".repeat(151))),
        ("branchTag", json!("t".repeat(151))),
    ] {
        assert_eq!(
            update_err(
                &app,
                json!({ "id": h.test, field: value, "description": "changed" })
            )
            .await,
            "BAD_USER_INPUT",
            "update {field} = {value}"
        );
    }
    assert_eq!(
        update_err(
            &app,
            json!({ "id": h.test, "targetStart": "2026-02-02", "targetEnd": "2026-02-01" })
        )
        .await,
        "BAD_USER_INPUT"
    );
    // Unknown references.
    let mut input = base(&h.engagement);
    input["engagementId"] = json!(missing(dojoql::domain::ids::NodeKind::Engagement));
    input["testType"] = json!("Never Created");
    assert_eq!(create_err(&app, input).await, "NOT_FOUND");
    let mut input = base(&h.engagement);
    input["leadId"] = json!(missing(dojoql::domain::ids::NodeKind::User));
    assert_eq!(create_err(&app, input).await, "NOT_FOUND");
    let mut input = base(&h.engagement);
    input["engagementId"] = json!(h.product);
    assert_eq!(create_err(&app, input).await, "BAD_USER_INPUT");
    assert_eq!(
        update_err(
            &app,
            json!({ "id": missing(dojoql::domain::ids::NodeKind::Test), "title": "x" })
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        update_err(
            &app,
            json!({ "id": h.test, "testTypeId": missing(dojoql::domain::ids::NodeKind::TestType) })
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(app.snapshot().await, before);

    // The bounds themselves are fine.
    let mut input = base(&h.engagement);
    input["percentComplete"] = json!(0);
    assert_eq!(create(&app, input).await["percentComplete"], 0);
    assert_eq!(
        update(&app, json!({ "id": h.test, "percentComplete": 100 })).await["percentComplete"],
        100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_and_engagement_link_both_ways() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let other = app.engagement(&h.product, "Other").await;
    let t2 = app.test(&h.engagement, "T2").await;
    let t3 = app.test(&other, "T3").await;

    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Test { engagement { id name product { id } tests { totalCount nodes { id } } } } } }",
            json!({ "id": h.test }),
        )
        .await;
    let e = &d["node"]["engagement"];
    assert_eq!(e["id"], h.engagement.as_str());
    assert_eq!(e["name"], "E");
    assert_eq!(e["product"]["id"], h.product.as_str());
    assert_eq!(
        e["tests"],
        json!({ "totalCount": 2, "nodes": [{ "id": h.test }, { "id": t2 }] })
    );

    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Engagement { tests { nodes { id engagement { id } } } } } }",
            json!({ "id": other }),
        )
        .await;
    assert_eq!(
        d["node"]["tests"]["nodes"],
        json!([{ "id": t3, "engagement": { "id": other } }])
    );

    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Product { tests { totalCount } } } }",
            json!({ "id": h.product }),
        )
        .await;
    assert_eq!(d["node"]["tests"]["totalCount"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_and_delete() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let lead = user(&app, "lead").await;
    let envs = environments(&app).await;
    let (env, _) = envs[0].clone();
    let full = create(
        &app,
        json!({
            "engagementId": h.engagement, "title": "Full", "testType": "API Test", "description": "d",
            "targetStart": "2026-01-01", "targetEnd": "2026-01-31", "percentComplete": 50, "leadId": lead,
            "environmentId": env, "version": "1", "buildId": "b", "commitHash": "c", "branchTag": "t", "tags": ["x"]
        }),
    )
    .await;
    let id = full["id"].as_str().unwrap().to_string();
    let mut expected = full.clone();
    expected.as_object_mut().unwrap().remove("id");

    // Omitted fields are kept.
    let t = update(&app, json!({ "id": id, "targetEnd": "2026-02-15" })).await;
    expected["targetEnd"] = json!("2026-02-15");
    assert_eq!(t, expected);

    // Every field changes.
    let (env2, env2_name) = envs[1].clone();
    let static_check = test_type(&app, "Static Check").await;
    let t = update(
        &app,
        json!({
            "id": id, "title": "Renamed", "testTypeId": static_check, "description": "d2", "targetStart": "2026-02-01",
            "targetEnd": "2026-02-02", "percentComplete": 75, "environmentId": env2, "version": "2", "buildId": "b2",
            "commitHash": "c2", "branchTag": "t2", "tags": ["Y", "x"]
        }),
    )
    .await;
    assert_eq!(t["environment"]["name"], env2_name);
    assert_json_snapshot!(
        "updated_every_field",
        t,
        "static_check" => static_check,
        "lead" => lead,
        "env2" => env2,
        "engagement" => h.engagement,
    );

    // Null clears every nullable field.
    let t = update(
        &app,
        json!({
            "id": id, "title": null, "description": null, "percentComplete": null, "leadId": null, "environmentId": null,
            "version": null, "buildId": null, "commitHash": null, "branchTag": null, "tags": []
        }),
    )
    .await;
    for f in [
        "title",
        "description",
        "percentComplete",
        "lead",
        "environment",
        "version",
        "buildId",
        "commitHash",
        "branchTag",
    ] {
        assert_eq!(t[f], Value::Null, "{f}");
    }
    assert_eq!(t["tags"], json!([]));
    assert_eq!(t["testType"]["name"], "Static Check");
    assert_eq!(t["targetStart"], "2026-02-01");

    // Delete: the test, its findings and notes go; the sibling stays.
    let f = app.finding(&id, "F", "HIGH").await;
    app.ok(
        "mutation($p: ID!) { addNote(input: {parentId: $p, entry: \"n\"}) { note { id } } }",
        json!({ "p": f }),
    )
    .await;
    app.finding(&h.test, "sibling finding", "LOW").await;
    let d = app
        .ok(
            "mutation($id: ID!) { deleteTest(input: {id: $id}) { deletedId deleted { total counts { typeName count } } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["deleteTest"]["deletedId"], id.as_str());
    assert_eq!(
        d["deleteTest"]["deleted"],
        json!({ "total": 3, "counts": [
            { "typeName": "Test", "count": 1 }, { "typeName": "Finding", "count": 1 }, { "typeName": "Note", "count": 1 }
        ] })
    );
    let d = app
        .ok(
            "query($id: ID!, $f: ID!) { t: node(id: $id) { id } f: node(id: $f) { id } }",
            json!({ "id": id, "f": f }),
        )
        .await;
    assert_eq!(d, json!({ "t": null, "f": null }));
    assert_eq!(app.count("tests").await, 1);
    assert_eq!(app.count("findings").await, 1);
    assert_eq!(app.count("notes").await, 0);
    assert_eq!(
        app.err(
            "mutation($id: ID!) { deleteTest(input: {id: $id}) { deletedId } }",
            json!({ "id": id })
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        update_err(&app, json!({ "id": id, "title": "x" })).await,
        "NOT_FOUND"
    );
}

/// The ids a `tests` query returns, in order (checking `totalCount` on the way).
async fn listed(app: &TestApp, filter: Value, order: Value) -> Vec<String> {
    let d = app
        .ok(
            "query($f: TestFilter, $o: TestOrder) { tests(first: 100, filter: $f, orderBy: $o) { totalCount nodes { id } } }",
            json!({ "f": filter, "o": order }),
        )
        .await;
    let c = &d["tests"];
    let ids: Vec<String> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(c["totalCount"], json!(ids.len()), "totalCount for {filter}");
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_and_orders() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let p1 = app.product(&pt, "P1").await;
    let p2 = app.product(&pt, "P2").await;
    let e1 = app.engagement(&p1, "E1").await;
    let e2 = app.engagement(&p1, "E2").await;
    let e3 = app.engagement(&p2, "E3").await;
    let lead = user(&app, "lead").await;
    let mk = |e: &str, title: &str, kind: &str, start: &str, extra: Value| {
        let mut input = json!({ "engagementId": e, "title": title, "testType": kind, "targetStart": start, "targetEnd": "2026-12-31" });
        crate::helpers::merge(&mut input, extra);
        let app = &app;
        async move { create(app, input).await["id"].as_str().unwrap().to_string() }
    };
    let t1 = mk(
        &e1,
        "Burp scan",
        "Pen Test",
        "2026-03-01",
        json!({ "tags": ["web", "q1"], "leadId": lead }),
    )
    .await;
    let t2 = mk(
        &e1,
        "api review",
        "API Test",
        "2026-01-01",
        json!({ "tags": ["web"] }),
    )
    .await;
    let t3 = mk(
        &e2,
        "Code review",
        "Manual Code Review",
        "2026-02-01",
        json!({ "leadId": lead }),
    )
    .await;
    let t4 = mk(
        &e3,
        "Another scan",
        "Pen Test",
        "2026-04-01",
        json!({ "tags": ["q1"] }),
    )
    .await;
    let pen = test_type(&app, "Pen Test").await;
    let v = |ids: &[&String]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    assert_eq!(
        listed(&app, json!(null), json!(null)).await,
        v(&[&t1, &t2, &t3, &t4])
    );
    let cases = [
        (json!({ "engagementId": e1 }), v(&[&t1, &t2])),
        (json!({ "engagementId": e3 }), v(&[&t4])),
        (json!({ "productId": p1 }), v(&[&t1, &t2, &t3])),
        (json!({ "productId": p2 }), v(&[&t4])),
        (json!({ "testTypeId": pen }), v(&[&t1, &t4])),
        (json!({ "leadId": lead }), v(&[&t1, &t3])),
        (json!({ "titleContains": "SCAN" }), v(&[&t1, &t4])),
        (json!({ "titleContains": "review" }), v(&[&t2, &t3])),
        (json!({ "titleContains": "%" }), v(&[])),
        (json!({ "tags": ["web"] }), v(&[&t1, &t2])),
        (json!({ "tags": ["Q1", "web"] }), v(&[&t1])),
        (json!({ "tags": ["none"] }), v(&[])),
        (json!({ "productId": p1, "testTypeId": pen }), v(&[&t1])),
        (json!({ "engagementId": e2, "tags": ["web"] }), v(&[])),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            listed(&app, filter.clone(), json!(null)).await,
            expected,
            "filter {filter}"
        );
    }
    // The same filter inside an engagement's and a product's connection.
    let d = app
        .ok(
            "query($e: ID!, $p: ID!) { e: node(id: $e) { ... on Engagement { tests(filter: {tags: [\"q1\"]}) { nodes { id } } } } \
             p: node(id: $p) { ... on Product { tests(filter: {titleContains: \"review\"}, orderBy: {field: TITLE, direction: DESC}) { nodes { id } } } } }",
            json!({ "e": e1, "p": p1 }),
        )
        .await;
    assert_eq!(d["e"]["tests"]["nodes"], json!([{ "id": t1 }]));
    assert_eq!(
        d["p"]["tests"]["nodes"],
        json!([{ "id": t3 }, { "id": t2 }])
    );
    assert_eq!(
        app.err(
            "query($e: ID!) { tests(filter: {engagementId: $e}) { totalCount } }",
            json!({ "e": p1 })
        )
        .await,
        "BAD_USER_INPUT"
    );

    let orders = [
        ("TITLE", v(&[&t4, &t2, &t1, &t3])),
        ("TARGET_START", v(&[&t2, &t3, &t1, &t4])),
        ("ID", v(&[&t1, &t2, &t3, &t4])),
        ("CREATED", v(&[&t1, &t2, &t3, &t4])),
    ];
    crate::helpers::assert_orders(orders.to_vec(), async |o| {
        listed(&app, json!(null), o).await
    })
    .await;
    // UPDATED follows the last change.
    update(&app, json!({ "id": t1, "description": "touched" })).await;
    assert_eq!(
        listed(
            &app,
            json!(null),
            json!({ "field": "UPDATED", "direction": "DESC" })
        )
        .await[0],
        t1
    );
}
