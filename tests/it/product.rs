//! Products: every seed field, defaults, updates (including clearing), uniqueness, bad input,
//! every filter and ordering, nested connections, finding counts and SLA recomputation.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_json_snapshot};

/// Every scalar and object field of a product.
const FIELDS: &str = "id databaseId name description productType { id name } slaConfiguration { id name }
    productManager { id username } technicalContact { id username } teamManager { id username }
    businessCriticality platform lifecycle origin userRecords revenue externalAudience internetAccessible
    regulations technologies { name version } tags enableSimpleRiskAcceptance enableFullRiskAcceptance
    disableSlaBreachNotifications created updated";

async fn user(app: &TestApp, username: &str) -> String {
    let d = app
        .ok(
            "mutation($u: String!) { createUser(input: {username: $u, email: \"u@example.com\"}) { user { id username } } }",
            json!({ "u": username }),
        )
        .await;
    assert_eq!(d["createUser"]["user"]["username"], username);
    d["createUser"]["user"]["id"].as_str().unwrap().to_string()
}

async fn sla(app: &TestApp, name: &str, critical: i32) -> String {
    let d = app
        .ok(
            "mutation($n: String!, $c: Int!) { createSlaConfiguration(input: {name: $n, critical: $c}) { slaConfiguration { id critical } } }",
            json!({ "n": name, "c": critical }),
        )
        .await;
    assert_eq!(
        d["createSlaConfiguration"]["slaConfiguration"]["critical"],
        critical
    );
    d["createSlaConfiguration"]["slaConfiguration"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `createProduct(input: $i)`; returns the product with [`FIELDS`].
async fn create(app: &TestApp, input: Value) -> Value {
    let q = format!(
        "mutation($i: CreateProductInput!) {{ createProduct(input: $i) {{ product {{ {FIELDS} }} }} }}"
    );
    app.ok(&q, json!({ "i": input })).await["createProduct"]["product"].clone()
}

/// `updateProduct(input: $i)`; returns the product with [`FIELDS`].
async fn update(app: &TestApp, input: Value) -> Value {
    let q = format!(
        "mutation($i: UpdateProductInput!) {{ updateProduct(input: $i) {{ product {{ {FIELDS} }} }} }}"
    );
    app.ok(&q, json!({ "i": input })).await["updateProduct"]["product"].clone()
}

/// The product as `node(id:)` reads it back.
async fn read(app: &TestApp, id: &str) -> Value {
    let q = format!("query($id: ID!) {{ node(id: $id) {{ ... on Product {{ {FIELDS} }} }} }}");
    app.ok(&q, json!({ "id": id })).await["node"].clone()
}

fn without_timestamps(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("created");
    o.remove("updated");
    v
}

async fn default_sla_id(app: &TestApp) -> String {
    sla_by_name(app, "Default").await
}

async fn sla_by_name(app: &TestApp, name: &str) -> String {
    let d = app
        .ok(
            "{ slaConfigurations(first: 100) { nodes { id name } } }",
            json!({}),
        )
        .await;
    d["slaConfigurations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no SLA configuration {name:?}: {d:#}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_with_every_field_and_read_it_back() {
    let app = TestApp::new().await;
    let pt = app.product_type("Web").await;
    let manager = user(&app, "manager").await;
    let contact = user(&app, "contact").await;
    let team = user(&app, "team").await;
    let strict = sla(&app, "Strict", 3).await;

    let p = create(
        &app,
        json!({
            "name": "  Shop  ",
            "description": "The web shop",
            "productTypeId": pt,
            "slaConfigurationId": strict,
            "productManagerId": manager,
            "technicalContactId": contact,
            "teamManagerId": team,
            "businessCriticality": "VERY_HIGH",
            "platform": "WEB_SERVICE",
            "lifecycle": "PRODUCTION",
            "origin": "THIRD_PARTY_LIBRARY",
            "userRecords": 5_000_000_000_i64,
            "revenue": "1234.50",
            "externalAudience": true,
            "internetAccessible": true,
            "regulations": ["PCI DSS", "GDPR"],
            "technologies": [{ "name": "Rust", "version": "1.90" }, { "name": "Postgres" }],
            "tags": ["Payments", " pci ", "payments", "PCI"],
            "enableSimpleRiskAcceptance": true,
            "enableFullRiskAcceptance": false,
            "disableSlaBreachNotifications": true,
        }),
    )
    .await;
    let id = p["id"].as_str().unwrap().to_string();
    // The name trimmed, tags normalised (lower case, deduplicated, sorted), a technology's
    // missing version null.
    assert_json_snapshot!(
        "every_field",
        p,
        "product" => id,
        "pt" => pt,
        "strict" => strict,
        "manager" => manager,
        "contact" => contact,
        "team" => team,
    );
    assert!(p["created"].as_str().unwrap().starts_with("20"), "{p:#}");
    // Stored, not just echoed.
    let stored = read(&app, &id).await;
    assert_json_snapshot!(
        "every_field",
        stored,
        "product" => id,
        "pt" => pt,
        "strict" => strict,
        "manager" => manager,
        "contact" => contact,
        "team" => team,
    );
    assert_eq!(stored["created"], p["created"]);
    assert_eq!(app.count("products").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults() {
    let app = TestApp::new().await;
    let pt = app.product_type("Web").await;
    let p = create(
        &app,
        json!({ "name": "Shop", "description": "", "productTypeId": pt }),
    )
    .await;
    let default = default_sla_id(&app).await;
    let id = p["id"].as_str().unwrap();
    assert_json_snapshot!("defaults", p, "product" => id, "pt" => pt, "default" => default);
    assert_eq!(p["created"], p["updated"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_every_kind_of_field() {
    let app = TestApp::new().await;
    let web = app.product_type("Web").await;
    let mobile = app.product_type("Mobile").await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let strict = sla(&app, "Strict", 3).await;
    let full = json!({
        "name": "Shop", "description": "d", "productTypeId": web,
        "productManagerId": alice, "technicalContactId": alice, "teamManagerId": alice,
        "businessCriticality": "HIGH", "platform": "WEB", "lifecycle": "CONSTRUCTION", "origin": "INTERNAL",
        "userRecords": 10, "revenue": "10.5", "regulations": ["GDPR"],
        "technologies": [{ "name": "Java", "version": "21" }], "tags": ["a"],
    });
    let created = create(&app, full).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["revenue"], "10.50");

    // Omitted fields are kept: an update of nothing but the id changes only `updated`.
    let same = update(&app, json!({ "id": id })).await;
    let mut a = without_timestamps(created.clone());
    let b = without_timestamps(same.clone());
    assert_eq!(a, b);
    assert!(same["updated"].as_str() >= created["updated"].as_str());

    // Set every kind of field to another value.
    let changed = update(
        &app,
        json!({
            "id": id, "name": "Shop 2", "description": "new", "productTypeId": mobile, "slaConfigurationId": strict,
            "productManagerId": bob, "technicalContactId": bob, "teamManagerId": bob,
            "businessCriticality": "LOW", "platform": "MOBILE", "lifecycle": "RETIREMENT", "origin": "OPEN_SOURCE",
            "userRecords": 0, "revenue": "0", "externalAudience": true, "internetAccessible": true,
            "regulations": ["HIPAA", "SOX"], "technologies": [{ "name": "Kotlin" }], "tags": ["B", "c"],
            "enableSimpleRiskAcceptance": true, "enableFullRiskAcceptance": false, "disableSlaBreachNotifications": true,
        }),
    )
    .await;
    let bob_ref = json!({ "id": bob, "username": "bob" });
    let o = a.as_object_mut().unwrap();
    for (k, v) in [
        ("name", json!("Shop 2")),
        ("description", json!("new")),
        ("productType", json!({ "id": mobile, "name": "Mobile" })),
        (
            "slaConfiguration",
            json!({ "id": strict, "name": "Strict" }),
        ),
        ("productManager", bob_ref.clone()),
        ("technicalContact", bob_ref.clone()),
        ("teamManager", bob_ref.clone()),
        ("businessCriticality", json!("LOW")),
        ("platform", json!("MOBILE")),
        ("lifecycle", json!("RETIREMENT")),
        ("origin", json!("OPEN_SOURCE")),
        ("userRecords", json!(0)),
        // bigdecimal prints a zero without its scale.
        ("revenue", json!("0")),
        ("externalAudience", json!(true)),
        ("internetAccessible", json!(true)),
        ("regulations", json!(["HIPAA", "SOX"])),
        (
            "technologies",
            json!([{ "name": "Kotlin", "version": null }]),
        ),
        ("tags", json!(["b", "c"])),
        ("enableSimpleRiskAcceptance", json!(true)),
        ("enableFullRiskAcceptance", json!(false)),
        ("disableSlaBreachNotifications", json!(true)),
    ] {
        o.insert(k.into(), v);
    }
    assert_eq!(without_timestamps(changed.clone()), a);
    assert_eq!(without_timestamps(read(&app, &id).await), a);

    // null clears every nullable field; empty lists clear list fields; the rest stays.
    let cleared = update(
        &app,
        json!({
            "id": id, "productManagerId": null, "technicalContactId": null, "teamManagerId": null,
            "businessCriticality": null, "platform": null, "lifecycle": null, "origin": null,
            "userRecords": null, "revenue": null, "regulations": [], "technologies": [], "tags": [],
        }),
    )
    .await;
    let o = a.as_object_mut().unwrap();
    for k in [
        "productManager",
        "technicalContact",
        "teamManager",
        "businessCriticality",
        "platform",
        "lifecycle",
        "origin",
        "userRecords",
        "revenue",
    ] {
        o.insert(k.into(), Value::Null);
    }
    for k in ["regulations", "technologies", "tags"] {
        o.insert(k.into(), json!([]));
    }
    assert_eq!(without_timestamps(cleared), a);
    assert_eq!(without_timestamps(read(&app, &id).await), a);

    // The move shows on both product types.
    let d = app
        .ok(
            "query($w: ID!, $m: ID!) { w: node(id: $w) { ... on ProductType { products(first: 10) { totalCount } } }
                                        m: node(id: $m) { ... on ProductType { products(first: 10) { nodes { id } } } } }",
            json!({ "w": web, "m": mobile }),
        )
        .await;
    assert_eq!(d["w"]["products"]["totalCount"], 0);
    assert_eq!(d["m"]["products"]["nodes"], json!([{ "id": id }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_product_keeps_its_tree_and_moves_its_counts() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let other = app.product_type("Other").await;
    app.finding(&h.test, "F1", "HIGH").await;
    app.finding(&h.test, "F2", "LOW").await;
    update(&app, json!({ "id": h.product, "productTypeId": other })).await;
    let d = app
        .ok(
            "query($a: ID!, $b: ID!, $p: ID!) {
                a: node(id: $a) { ... on ProductType { findingCounts { high low total } } }
                b: node(id: $b) { ... on ProductType { findingCounts { high low total } } }
                p: node(id: $p) { ... on Product { findings(first: 10) { totalCount } engagements(first: 10) { nodes { product { productType { id } } } } } } }",
            json!({ "a": h.product_type, "b": other, "p": h.product }),
        )
        .await;
    assert_eq!(
        d["a"]["findingCounts"],
        json!({ "high": 0, "low": 0, "total": 0 })
    );
    assert_eq!(
        d["b"]["findingCounts"],
        json!({ "high": 1, "low": 1, "total": 2 })
    );
    assert_eq!(d["p"]["findings"]["totalCount"], 2);
    assert_eq!(
        d["p"]["engagements"]["nodes"][0]["product"]["productType"]["id"],
        other
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_unique_case_insensitively() {
    let app = TestApp::new().await;
    let web = app.product_type("Web").await;
    let other_type = app.product_type("Other").await;
    app.product(&web, "Shop").await;
    let blog = app.product(&web, "Blog").await;
    let before = app.snapshot().await;
    // Uniqueness is global, not per product type.
    for (name, pt) in [("Shop", &web), ("SHOP", &web), (" shop ", &other_type)] {
        let code = app
            .err(
                "mutation($n: String!, $pt: ID!) { createProduct(input: {name: $n, description: \"\", productTypeId: $pt}) { product { id } } }",
                json!({ "n": name, "pt": pt }),
            )
            .await;
        assert_eq!(code, "CONFLICT", "{name:?}");
    }
    let code = app
        .err(
            "mutation($id: ID!) { updateProduct(input: {id: $id, name: \"sHoP\", description: \"changed\"}) { product { id } } }",
            json!({ "id": blog }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    assert_eq!(app.snapshot().await, before);
    // A rename to another case of its own name is fine.
    let d = update(&app, json!({ "id": blog, "name": "BLOG" })).await;
    assert_eq!(d["name"], "BLOG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_references_are_not_found_and_write_nothing() {
    use dojoql::domain::ids::{NodeKind, encode};
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let before = app.snapshot().await;
    let missing_pt = encode(NodeKind::ProductType, 999_999);
    let missing_user = encode(NodeKind::User, 999_999);
    let missing_sla = encode(NodeKind::SlaConfiguration, 999_999);
    let missing_product = encode(NodeKind::Product, 999_999);
    let create_q =
        "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } } }";
    let update_q =
        "mutation($i: UpdateProductInput!) { updateProduct(input: $i) { product { id } } }";
    let base = |extra: Value| {
        let mut i = json!({ "name": "New", "description": "", "productTypeId": h.product_type });
        crate::helpers::merge(&mut i, extra);
        json!({ "i": i })
    };
    for extra in [
        json!({ "productTypeId": missing_pt }),
        json!({ "slaConfigurationId": missing_sla }),
        json!({ "productManagerId": missing_user }),
        json!({ "technicalContactId": missing_user }),
        json!({ "teamManagerId": missing_user }),
    ] {
        assert_eq!(
            app.err(create_q, base(extra.clone())).await,
            "NOT_FOUND",
            "create {extra}"
        );
        let mut i = json!({ "id": h.product, "name": "Renamed" });
        crate::helpers::merge(&mut i, extra.clone());
        assert_eq!(
            app.err(update_q, json!({ "i": i })).await,
            "NOT_FOUND",
            "update {extra}"
        );
    }
    assert_eq!(
        app.err(
            update_q,
            json!({ "i": { "id": missing_product, "name": "X" } })
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.err(
            "mutation($id: ID!) { deleteProduct(input: {id: $id}) { deletedId } }",
            json!({ "id": missing_product })
        )
        .await,
        "NOT_FOUND"
    );
    // Ids of the wrong kind (or no id at all) are bad input.
    for extra in [
        json!({ "productTypeId": h.product }),
        json!({ "productTypeId": "nope" }),
        json!({ "slaConfigurationId": h.product_type }),
        json!({ "productManagerId": h.product }),
    ] {
        assert_eq!(
            app.err(create_q, base(extra.clone())).await,
            "BAD_USER_INPUT",
            "create {extra}"
        );
        let mut i = json!({ "id": h.product });
        crate::helpers::merge(&mut i, extra.clone());
        assert_eq!(
            app.err(update_q, json!({ "i": i })).await,
            "BAD_USER_INPUT",
            "update {extra}"
        );
    }
    assert_eq!(
        app.err(
            update_q,
            json!({ "i": { "id": h.product_type, "name": "X" } })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_are_bad_input_and_write_nothing() {
    let app = TestApp::new().await;
    let pt = app.product_type("Web").await;
    let p = app.product(&pt, "Shop").await;
    let before = app.snapshot().await;
    let create_q =
        "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } } }";
    let update_q =
        "mutation($i: UpdateProductInput!) { updateProduct(input: $i) { product { id } } }";
    for extra in [
        json!({ "revenue": "-0.01" }),
        json!({ "revenue": "-5" }),
        json!({ "revenue": "abc" }),
        json!({ "revenue": "99999999999999999999" }),
        json!({ "revenue": "10000000000000" }),
        json!({ "revenue": "9999999999999.995" }),
        json!({ "revenue": 1e300 }),
        json!({ "userRecords": -1 }),
        json!({ "userRecords": "many" }),
        json!({ "name": "" }),
        json!({ "name": "   " }),
        json!({ "platform": "SPACESHIP" }),
        json!({ "businessCriticality": "EXTREME" }),
        json!({ "tags": [" "] }),
        json!({ "technologies": [{ "name": " " }] }),
        json!({ "regulations": [""] }),
        json!({ "description": "x".repeat(4001) }),
    ] {
        let mut i = json!({ "name": "New", "description": "", "productTypeId": pt });
        crate::helpers::merge(&mut i, extra.clone());
        assert_eq!(
            app.err(create_q, json!({ "i": i })).await,
            "BAD_USER_INPUT",
            "create {extra}"
        );
        let mut i = json!({ "id": p });
        crate::helpers::merge(&mut i, extra.clone());
        assert_eq!(
            app.err(update_q, json!({ "i": i })).await,
            "BAD_USER_INPUT",
            "update {extra}"
        );
    }
    // An unknown enum value written inline in the query.
    let code = app
        .err(
            "mutation($pt: ID!) { createProduct(input: {name: \"New\", description: \"\", productTypeId: $pt, platform: SPACESHIP}) { product { id } } }",
            json!({ "pt": pt }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let code = app
        .err(
            "mutation($id: ID!) { updateProduct(input: {id: $id, lifecycle: SOMEDAY}) { product { id } } }",
            json!({ "id": p }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let code = app
        .err(
            "{ products(first: 10, filter: {origin: [ALIEN]}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(app.snapshot().await, before);

    // The largest revenue the column holds is accepted; fractions of a cent are rounded.
    let p = update(&app, json!({ "id": p, "revenue": "9999999999999.99" })).await;
    assert_eq!(p["revenue"], "9999999999999.99");
    let p = update(&app, json!({ "id": p["id"], "revenue": "0.005" })).await;
    assert_eq!(p["revenue"], "0.01");
    let p = update(&app, json!({ "id": p["id"], "revenue": 12.5 })).await;
    assert_eq!(p["revenue"], "12.50");
}

/// Products created for the filter tests, by name.
async fn filter_fixture(app: &TestApp) -> (String, String, String) {
    let web = app.product_type("Web").await;
    let mobile = app.product_type("Mobile").await;
    let strict = sla(app, "Strict", 3).await;
    for input in [
        json!({ "name": "Alpha Shop", "productTypeId": web, "businessCriticality": "VERY_HIGH", "platform": "WEB",
                "lifecycle": "PRODUCTION", "origin": "INTERNAL", "externalAudience": true, "internetAccessible": true,
                "tags": ["pci", "payments", "eu"] }),
        json!({ "name": "Beta App", "productTypeId": mobile, "businessCriticality": "HIGH", "platform": "MOBILE",
                "lifecycle": "CONSTRUCTION", "origin": "OUTSOURCED", "externalAudience": true, "internetAccessible": false,
                "tags": ["payments"], "slaConfigurationId": strict }),
        json!({ "name": "gamma shop", "productTypeId": web, "businessCriticality": "LOW", "platform": "WEB_SERVICE",
                "lifecycle": "RETIREMENT", "origin": "OPEN_SOURCE", "externalAudience": false, "internetAccessible": true,
                "tags": ["PCI", "eu"], "slaConfigurationId": strict }),
        json!({ "name": "Delta_Tool", "productTypeId": mobile, "platform": "DESKTOP",
                "origin": "INTERNAL", "tags": [] }),
    ] {
        let mut i = input;
        crate::helpers::merge(&mut i, json!({ "description": "" }));
        create(app, i).await;
    }
    (web, mobile, strict)
}

async fn product_names(app: &TestApp, filter: Value, order: Value) -> Vec<String> {
    let d = app
        .ok(
            "query($f: ProductFilter, $o: ProductOrder) { products(first: 100, filter: $f, orderBy: $o) { totalCount nodes { name } } }",
            json!({ "f": filter, "o": order }),
        )
        .await;
    let nodes = d["products"]["nodes"].as_array().unwrap();
    assert_eq!(
        d["products"]["totalCount"],
        nodes.len(),
        "totalCount counts the filtered list"
    );
    nodes
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter() {
    let app = TestApp::new().await;
    let (web, mobile, strict) = filter_fixture(&app).await;
    let default = default_sla_id(&app).await;
    let no_sla = sla_by_name(&app, "No SLA Enforced").await;
    let all = ["Alpha Shop", "Beta App", "gamma shop", "Delta_Tool"];
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), all.to_vec()),
        (
            json!({ "nameContains": "SHOP" }),
            vec!["Alpha Shop", "gamma shop"],
        ),
        (json!({ "nameContains": "a_t" }), vec!["Delta_Tool"]),
        (json!({ "nameContains": "%" }), vec![]),
        (
            json!({ "productTypeId": web }),
            vec!["Alpha Shop", "gamma shop"],
        ),
        (
            json!({ "productTypeId": mobile }),
            vec!["Beta App", "Delta_Tool"],
        ),
        (
            json!({ "businessCriticality": ["VERY_HIGH"] }),
            vec!["Alpha Shop"],
        ),
        (
            json!({ "businessCriticality": ["HIGH", "LOW"] }),
            vec!["Beta App", "gamma shop"],
        ),
        (json!({ "businessCriticality": ["NONE"] }), vec![]),
        (json!({ "businessCriticality": [] }), all.to_vec()),
        (json!({ "platform": ["WEB"] }), vec!["Alpha Shop"]),
        (
            json!({ "platform": ["WEB_SERVICE", "DESKTOP"] }),
            vec!["gamma shop", "Delta_Tool"],
        ),
        (
            json!({ "lifecycle": ["CONSTRUCTION", "RETIREMENT"] }),
            vec!["Beta App", "gamma shop"],
        ),
        (json!({ "lifecycle": ["PRODUCTION"] }), vec!["Alpha Shop"]),
        (
            json!({ "origin": ["INTERNAL"] }),
            vec!["Alpha Shop", "Delta_Tool"],
        ),
        (
            json!({ "origin": ["OUTSOURCED", "OPEN_SOURCE"] }),
            vec!["Beta App", "gamma shop"],
        ),
        (
            json!({ "externalAudience": true }),
            vec!["Alpha Shop", "Beta App"],
        ),
        (
            json!({ "externalAudience": false }),
            vec!["gamma shop", "Delta_Tool"],
        ),
        (
            json!({ "internetAccessible": true }),
            vec!["Alpha Shop", "gamma shop"],
        ),
        (
            json!({ "internetAccessible": false }),
            vec!["Beta App", "Delta_Tool"],
        ),
        (
            json!({ "tags": ["payments"] }),
            vec!["Alpha Shop", "Beta App"],
        ),
        // Every tag is required; tags are matched lowercased.
        (
            json!({ "tags": ["PCI", "eu"] }),
            vec!["Alpha Shop", "gamma shop"],
        ),
        (json!({ "tags": ["pci", "payments"] }), vec!["Alpha Shop"]),
        (json!({ "tags": ["pci", "nope"] }), vec![]),
        (
            json!({ "slaConfigurationId": strict }),
            vec!["Beta App", "gamma shop"],
        ),
        (
            json!({ "slaConfigurationId": default }),
            vec!["Alpha Shop", "Delta_Tool"],
        ),
        (json!({ "slaConfigurationId": no_sla }), vec![]),
        // Filters combine with AND.
        (
            json!({ "productTypeId": web, "slaConfigurationId": strict }),
            vec!["gamma shop"],
        ),
        (
            json!({ "nameContains": "a", "externalAudience": true, "platform": ["MOBILE", "WEB"] }),
            vec!["Alpha Shop", "Beta App"],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            product_names(&app, filter.clone(), Value::Null).await,
            expected,
            "filter {filter}"
        );
    }
    // The same filter on a product type's products.
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on ProductType { products(first: 10, filter: {tags: [\"eu\"], internetAccessible: true}) { totalCount nodes { name } } } } }",
            json!({ "id": web }),
        )
        .await;
    assert_eq!(
        d["node"]["products"],
        json!({ "totalCount": 2, "nodes": [{ "name": "Alpha Shop" }, { "name": "gamma shop" }] })
    );
    // An id of the wrong kind in a filter is bad input.
    let code = app
        .err(
            "query($id: ID!) { products(first: 10, filter: {productTypeId: $id}) { totalCount } }",
            json!({ "id": strict }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordering() {
    let app = TestApp::new().await;
    filter_fixture(&app).await;
    let created = ["Alpha Shop", "Beta App", "gamma shop", "Delta_Tool"];
    let rev = |v: &[&'static str]| v.iter().rev().copied().collect::<Vec<_>>();
    assert_eq!(product_names(&app, Value::Null, Value::Null).await, created);
    assert_eq!(
        product_names(&app, Value::Null, json!({ "field": "ID" })).await,
        created
    );
    assert_eq!(
        product_names(
            &app,
            Value::Null,
            json!({ "field": "ID", "direction": "DESC" })
        )
        .await,
        rev(&created)
    );
    let by_name = ["Alpha Shop", "Beta App", "Delta_Tool", "gamma shop"];
    assert_eq!(
        product_names(&app, Value::Null, json!({ "field": "NAME" })).await,
        by_name
    );
    assert_eq!(
        product_names(
            &app,
            Value::Null,
            json!({ "field": "NAME", "direction": "DESC" })
        )
        .await,
        rev(&by_name)
    );
    assert_eq!(
        product_names(
            &app,
            Value::Null,
            json!({ "field": "CREATED", "direction": "ASC" })
        )
        .await,
        created
    );
    assert_eq!(
        product_names(
            &app,
            Value::Null,
            json!({ "field": "CREATED", "direction": "DESC" })
        )
        .await,
        rev(&created)
    );
    // Filter and order together, paged.
    let d = app
        .ok(
            "{ products(first: 1, filter: {nameContains: \"shop\"}, orderBy: {field: NAME, direction: DESC}) { totalCount pageInfo { hasNextPage } nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["products"],
        json!({ "totalCount": 2, "pageInfo": { "hasNextPage": true }, "nodes": [{ "name": "gamma shop" }] })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_size_limits() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    for first in [0, -1, 101] {
        let code = app
            .err(
                "query($n: Int) { products(first: $n) { totalCount } }",
                json!({ "n": first }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "first: {first}");
        let code = app
            .err(
                "query($n: Int) { products(last: $n) { totalCount } }",
                json!({ "n": first }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "last: {first}");
        let code = app
            .err(
                "query($id: ID!, $n: Int) { node(id: $id) { ... on Product { findings(first: $n) { totalCount } } } }",
                json!({ "id": h.product, "n": first }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "nested first: {first}");
    }
    let d = app
        .ok(
            "{ a: products(first: 1) { totalCount } b: products(first: 100) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d,
        json!({ "a": { "totalCount": 1 }, "b": { "totalCount": 1 } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_engagements_tests_and_findings() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let e2 = app.engagement(&h.product, "E2").await;
    let t2 = app.test(&e2, "T2").await;
    let t3 = app.test(&e2, "T3").await;
    let f1 = app.finding(&h.test, "F1", "HIGH").await;
    let f2 = app.finding(&t2, "F2", "LOW").await;
    let f3 = app.finding(&t3, "F3", "HIGH").await;
    // A second product with its own tree must not leak in.
    let other = app.product(&h.product_type, "Other").await;
    let oe = app.engagement(&other, "OE").await;
    let ot = app.test(&oe, "OT").await;
    app.finding(&ot, "OF", "HIGH").await;

    let d = app
        .ok(
            "query($p: ID!) { node(id: $p) { ... on Product {
                engagements(first: 10) { totalCount nodes { id product { id } } }
                tests(first: 10) { totalCount nodes { id engagement { id } } }
                findings(first: 10) { totalCount nodes { id title } }
                high: findings(first: 10, filter: {severity: [HIGH]}) { totalCount nodes { id } }
                lastTest: tests(last: 1) { nodes { id } }
                e2Tests: tests(first: 10, filter: {engagementId: $e2}) { nodes { id } } } } }"
                .replace("$e2", &format!("\"{e2}\""))
                .as_str(),
            json!({ "p": h.product }),
        )
        .await;
    let p = &d["node"];
    assert_eq!(
        p["engagements"],
        json!({ "totalCount": 2, "nodes": [
            { "id": h.engagement, "product": { "id": h.product } },
            { "id": e2, "product": { "id": h.product } },
        ] })
    );
    assert_eq!(
        p["tests"],
        json!({ "totalCount": 3, "nodes": [
            { "id": h.test, "engagement": { "id": h.engagement } },
            { "id": t2, "engagement": { "id": e2 } },
            { "id": t3, "engagement": { "id": e2 } },
        ] })
    );
    assert_eq!(
        p["findings"],
        json!({ "totalCount": 3, "nodes": [
            { "id": f1, "title": "F1" }, { "id": f2, "title": "F2" }, { "id": f3, "title": "F3" },
        ] })
    );
    assert_eq!(
        p["high"],
        json!({ "totalCount": 2, "nodes": [{ "id": f1 }, { "id": f3 }] })
    );
    assert_eq!(p["lastTest"]["nodes"], json!([{ "id": t3 }]));
    assert_eq!(p["e2Tests"]["nodes"], json!([{ "id": t2 }, { "id": t3 }]));

    // Many products in one query: each gets its own rows.
    let d = app
        .ok(
            "{ products(first: 10) { nodes { name engagements(first: 10) { totalCount } tests(first: 10) { totalCount } findings(first: 10) { totalCount } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["products"]["nodes"],
        json!([
            { "name": "P", "engagements": { "totalCount": 2 }, "tests": { "totalCount": 3 }, "findings": { "totalCount": 3 } },
            { "name": "Other", "engagements": { "totalCount": 1 }, "tests": { "totalCount": 1 }, "findings": { "totalCount": 1 } },
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_counts_count_only_active_findings() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let p2 = app.product(&h.product_type, "P2").await;
    let e2 = app.engagement(&p2, "E").await;
    let t2 = app.test(&e2, "T").await;
    let mut ids = Vec::new();
    for (title, sev) in [
        ("c1", "CRITICAL"),
        ("c2", "CRITICAL"),
        ("h1", "HIGH"),
        ("m1", "MEDIUM"),
        ("l1", "LOW"),
        ("i1", "INFO"),
        ("i2", "INFO"),
    ] {
        ids.push(app.finding(&h.test, title, sev).await);
    }
    app.finding(&t2, "other", "HIGH").await;
    // Created inactive: never counted.
    app.finding_with(&h.test, "inactive", "CRITICAL", json!({ "active": false }))
        .await;

    let q = "query($pt: ID!, $p: ID!, $p2: ID!) {
        pt: node(id: $pt) { ... on ProductType { findingCounts { critical high medium low info total } } }
        p: node(id: $p) { ... on Product { findingCounts { critical high medium low info total } } }
        p2: node(id: $p2) { ... on Product { findingCounts { critical high medium low info total } } } }";
    let vars = json!({ "pt": h.product_type, "p": h.product, "p2": p2 });
    let d = app.ok(q, vars.clone()).await;
    assert_eq!(
        d["p"]["findingCounts"],
        json!({ "critical": 2, "high": 1, "medium": 1, "low": 1, "info": 2, "total": 7 })
    );
    assert_eq!(
        d["p2"]["findingCounts"],
        json!({ "critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0, "total": 1 })
    );
    assert_eq!(
        d["pt"]["findingCounts"],
        json!({ "critical": 2, "high": 2, "medium": 1, "low": 1, "info": 2, "total": 8 })
    );

    // A false positive is inactive and drops out of every count.
    let d = app
        .ok(
            "mutation($id: ID!) { updateFinding(input: {id: $id, falsePositive: true}) { finding { active falsePositive } } }",
            json!({ "id": ids[0] }),
        )
        .await;
    assert_eq!(
        d["updateFinding"]["finding"],
        json!({ "active": false, "falsePositive": true })
    );
    // So does a mitigated one.
    app.ok(
        "mutation($id: ID!) { updateFinding(input: {id: $id, isMitigated: true}) { finding { active } } }",
        json!({ "id": ids[5] }),
    )
    .await;
    let d = app.ok(q, vars).await;
    assert_eq!(
        d["p"]["findingCounts"],
        json!({ "critical": 1, "high": 1, "medium": 1, "low": 1, "info": 1, "total": 5 })
    );
    assert_eq!(
        d["pt"]["findingCounts"],
        json!({ "critical": 1, "high": 2, "medium": 1, "low": 1, "info": 1, "total": 6 })
    );

    // A product type without products counts zeros.
    let empty = app.product_type("Empty").await;
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on ProductType { findingCounts { critical high medium low info total } } } }",
            json!({ "id": empty }),
        )
        .await;
    assert_eq!(
        d["node"]["findingCounts"],
        json!({ "critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0, "total": 0 })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_sla_configuration_recomputes_deadlines() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let untouched = app.product(&h.product_type, "Untouched").await;
    let ue = app.engagement(&untouched, "E").await;
    let ut = app.test(&ue, "T").await;
    app.finding_with(&ut, "U", "CRITICAL", json!({ "date": "2026-01-01" }))
        .await;
    app.finding_with(&h.test, "C", "CRITICAL", json!({ "date": "2026-01-01" }))
        .await;
    app.finding_with(&h.test, "H", "HIGH", json!({ "date": "2026-01-01" }))
        .await;
    app.finding_with(&h.test, "I", "INFO", json!({ "date": "2026-01-01" }))
        .await;
    app.finding_with(
        &h.test,
        "S",
        "CRITICAL",
        json!({ "date": "2026-01-01", "slaStartDate": "2026-02-01" }),
    )
    .await;

    // Default: 7 days critical, 30 high, none for info; the SLA start date wins over the date.
    assert_eq!(
        app.sla_dates(&h.product).await,
        [
            json!("2026-01-08"),
            json!("2026-01-31"),
            Value::Null,
            json!("2026-02-08")
        ]
    );

    let strict = sla(&app, "Strict", 3).await;
    let p = update(
        &app,
        json!({ "id": h.product, "slaConfigurationId": strict }),
    )
    .await;
    assert_eq!(p["slaConfiguration"]["name"], "Strict");
    assert_eq!(
        app.sla_dates(&h.product).await,
        [
            json!("2026-01-04"),
            json!("2026-01-31"),
            Value::Null,
            json!("2026-02-04")
        ]
    );

    let none = sla_by_name(&app, "No SLA Enforced").await;
    update(&app, json!({ "id": h.product, "slaConfigurationId": none })).await;
    assert_eq!(
        app.sla_dates(&h.product).await,
        [Value::Null, Value::Null, Value::Null, Value::Null]
    );

    // Another product's findings were never touched.
    assert_eq!(app.sla_dates(&untouched).await, [json!("2026-01-08")]);

    // Back to the default.
    let default = default_sla_id(&app).await;
    update(
        &app,
        json!({ "id": h.product, "slaConfigurationId": default }),
    )
    .await;
    assert_eq!(
        app.sla_dates(&h.product).await,
        [
            json!("2026-01-08"),
            json!("2026-01-31"),
            Value::Null,
            json!("2026-02-08")
        ]
    );

    // A failed switch (unknown configuration) changes nothing.
    let before = app.snapshot().await;
    let missing =
        dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::SlaConfiguration, 999_999);
    let code = app
        .err(
            "mutation($id: ID!, $s: ID!) { updateProduct(input: {id: $id, slaConfigurationId: $s}) { product { id } } }",
            json!({ "id": h.product, "s": missing }),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    assert_eq!(app.snapshot().await, before);
}
