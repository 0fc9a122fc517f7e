//! Product types: create, read, update, delete, and their errors.

use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_read_update_delete() {
    let app = TestApp::new().await;
    let id = app.product_type("Web").await;
    let d = app
        .ok("query($id: ID!) { node(id: $id) { id ... on ProductType { name databaseId criticalProduct } } }", json!({ "id": id }))
        .await;
    assert_eq!(d["node"]["name"], "Web");
    assert_eq!(d["node"]["criticalProduct"], false);

    let d = app
        .ok(
            "mutation($id: ID!) { updateProductType(input: {id: $id, name: \"Web Apps\", description: \"x\", criticalProduct: true}) { productType { name description criticalProduct } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        d["updateProductType"]["productType"],
        json!({ "name": "Web Apps", "description": "x", "criticalProduct": true })
    );

    let d = app
        .ok(
            "mutation($id: ID!) { deleteProductType(input: {id: $id}) { deletedId } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["deleteProductType"]["deletedId"], id);
    assert_eq!(app.count("product_types").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_name_is_a_conflict_and_writes_nothing() {
    let app = TestApp::new().await;
    app.product_type("Web").await;
    let before = app.snapshot().await;
    let code = app
        .err(
            "mutation { createProductType(input: {name: \"web\"}) { productType { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    assert_eq!(app.snapshot().await, before);
}

const LIST: &str = "query($f: ProductTypeFilter, $o: ProductTypeOrder) { productTypes(first: 100, filter: $f, orderBy: $o) { totalCount nodes { name } } }";

async fn names(app: &TestApp, filter: Value, order: Value) -> Vec<String> {
    let d = app.ok(LIST, json!({ "f": filter, "o": order })).await;
    let nodes = d["productTypes"]["nodes"].as_array().unwrap();
    assert_eq!(
        d["productTypes"]["totalCount"],
        nodes.len(),
        "totalCount counts the filtered list"
    );
    nodes
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

async fn create(app: &TestApp, name: &str, critical: bool, key: bool) -> String {
    let d = app
        .ok(
            "mutation($n: String!, $c: Boolean!, $k: Boolean!) { createProductType(input: {name: $n, criticalProduct: $c, keyProduct: $k}) { productType { id criticalProduct keyProduct } } }",
            json!({ "n": name, "c": critical, "k": key }),
        )
        .await;
    let pt = &d["createProductType"]["productType"];
    assert_eq!(pt["criticalProduct"], critical);
    assert_eq!(pt["keyProduct"], key);
    pt["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_and_orders() {
    let app = TestApp::new().await;
    create(&app, "banking", true, false).await;
    create(&app, "Web Apps", false, true).await;
    create(&app, "Apps_Mobile", true, true).await;
    create(&app, "Internal", false, false).await;

    // No filter, no order: creation order.
    assert_eq!(
        names(&app, Value::Null, Value::Null).await,
        ["banking", "Web Apps", "Apps_Mobile", "Internal"]
    );
    // nameContains is a case-insensitive substring.
    assert_eq!(
        names(&app, json!({ "nameContains": "APPS" }), Value::Null).await,
        ["Web Apps", "Apps_Mobile"]
    );
    // LIKE wildcards are taken literally.
    assert_eq!(
        names(&app, json!({ "nameContains": "_" }), Value::Null).await,
        ["Apps_Mobile"]
    );
    assert_eq!(
        names(&app, json!({ "nameContains": "%" }), Value::Null).await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(&app, json!({ "nameContains": "\\" }), Value::Null).await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(&app, json!({ "nameContains": "" }), Value::Null)
            .await
            .len(),
        4
    );
    assert_eq!(
        names(&app, json!({ "criticalProduct": true }), Value::Null).await,
        ["banking", "Apps_Mobile"]
    );
    assert_eq!(
        names(&app, json!({ "criticalProduct": false }), Value::Null).await,
        ["Web Apps", "Internal"]
    );
    assert_eq!(
        names(&app, json!({ "keyProduct": true }), Value::Null).await,
        ["Web Apps", "Apps_Mobile"]
    );
    // Filters combine with AND.
    assert_eq!(
        names(
            &app,
            json!({ "keyProduct": true, "criticalProduct": true }),
            Value::Null
        )
        .await,
        ["Apps_Mobile"]
    );
    assert_eq!(
        names(
            &app,
            json!({ "keyProduct": false, "nameContains": "in" }),
            Value::Null
        )
        .await,
        ["banking", "Internal"]
    );

    // NAME sorts case-insensitively, both ways.
    assert_eq!(
        names(&app, Value::Null, json!({ "field": "NAME" })).await,
        ["Apps_Mobile", "banking", "Internal", "Web Apps"]
    );
    assert_eq!(
        names(
            &app,
            Value::Null,
            json!({ "field": "NAME", "direction": "DESC" })
        )
        .await,
        ["Web Apps", "Internal", "banking", "Apps_Mobile"]
    );
    assert_eq!(
        names(
            &app,
            Value::Null,
            json!({ "field": "ID", "direction": "DESC" })
        )
        .await,
        ["Internal", "Apps_Mobile", "Web Apps", "banking"]
    );
    assert_eq!(
        names(
            &app,
            Value::Null,
            json!({ "field": "ID", "direction": "ASC" })
        )
        .await,
        ["banking", "Web Apps", "Apps_Mobile", "Internal"]
    );
    // Filter and order together.
    assert_eq!(
        names(
            &app,
            json!({ "criticalProduct": true }),
            json!({ "field": "NAME", "direction": "DESC" })
        )
        .await,
        ["banking", "Apps_Mobile"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_null_clears_and_omitted_fields_are_kept() {
    let app = TestApp::new().await;
    let d = app
        .ok(
            "mutation { createProductType(input: {name: \"Web\", description: \"web things\", criticalProduct: true, keyProduct: true}) { productType { id name description criticalProduct keyProduct } } }",
            json!({}),
        )
        .await;
    let pt = &d["createProductType"]["productType"];
    assert_eq!(pt["description"], "web things");
    let id = pt["id"].as_str().unwrap().to_string();

    // Only the name: everything else is kept.
    let d = app
        .ok(
            "mutation($id: ID!) { updateProductType(input: {id: $id, name: \"  Web 2  \"}) { productType { name description criticalProduct keyProduct } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        d["updateProductType"]["productType"],
        json!({ "name": "Web 2", "description": "web things", "criticalProduct": true, "keyProduct": true })
    );

    // description: null clears it; the rest stays.
    let d = app
        .ok(
            "mutation($id: ID!) { updateProductType(input: {id: $id, description: null, keyProduct: false}) { productType { name description criticalProduct keyProduct } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        d["updateProductType"]["productType"],
        json!({ "name": "Web 2", "description": null, "criticalProduct": true, "keyProduct": false })
    );

    // The same through an input variable (how clients send it): a missing key keeps, null clears.
    // (A missing *scalar* variable inside an input literal reads as null in async-graphql 7, so
    // clients must pass the whole input as one variable to leave a field out.)
    app.ok(
        "mutation($id: ID!) { updateProductType(input: {id: $id, description: \"again\"}) { productType { id } } }",
        json!({ "id": id }),
    )
    .await;
    let update = "mutation($i: UpdateProductTypeInput!) { updateProductType(input: $i) { productType { description keyProduct } } }";
    let d = app
        .ok(update, json!({ "i": { "id": id, "keyProduct": true } }))
        .await;
    assert_eq!(
        d["updateProductType"]["productType"],
        json!({ "description": "again", "keyProduct": true })
    );
    let d = app
        .ok(
            update,
            json!({ "i": { "id": id, "description": null, "keyProduct": false } }),
        )
        .await;
    assert_eq!(
        d["updateProductType"]["productType"],
        json!({ "description": null, "keyProduct": false })
    );

    // And it is stored, not just returned.
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on ProductType { name description criticalProduct keyProduct } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        d["node"],
        json!({ "name": "Web 2", "description": null, "criticalProduct": true, "keyProduct": false })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_names_are_bad_input_and_write_nothing() {
    let app = TestApp::new().await;
    let id = app.product_type("Web").await;
    let before = app.snapshot().await;
    for name in ["", "   ", "\t\n"] {
        let code = app
            .err(
                "mutation($n: String!) { createProductType(input: {name: $n}) { productType { id } } }",
                json!({ "n": name }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "create with name {name:?}");
        let code = app
            .err(
                "mutation($id: ID!, $n: String!) { updateProductType(input: {id: $id, name: $n}) { productType { id } } }",
                json!({ "id": id, "n": name }),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "update with name {name:?}");
    }
    let code = app
        .err(
            "mutation($n: String!) { createProductType(input: {name: $n}) { productType { id } } }",
            json!({ "n": "x".repeat(256) }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    // Too long a description is the client's mistake too (the column holds 4000 characters).
    let code = app
        .err(
            "mutation($d: String!) { createProductType(input: {name: \"Long\", description: $d}) { productType { id } } }",
            json!({ "d": "é".repeat(4001) }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let code = app
        .err(
            "mutation($id: ID!, $d: String!) { updateProductType(input: {id: $id, description: $d}) { productType { id } } }",
            json!({ "id": id, "d": "x".repeat(4001) }),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(app.snapshot().await, before);
    let d = app
        .ok(
            "mutation($id: ID!, $d: String!) { updateProductType(input: {id: $id, description: $d}) { productType { description } } }",
            json!({ "id": id, "d": "é".repeat(4000) }),
        )
        .await;
    assert_eq!(
        d["updateProductType"]["productType"]["description"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        4000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_names_conflict_case_insensitively() {
    let app = TestApp::new().await;
    app.product_type("Web").await;
    let other = app.product_type("Mobile").await;
    let before = app.snapshot().await;
    for name in ["Web", "WEB", " web "] {
        let code = app
            .err(
                "mutation($n: String!) { createProductType(input: {name: $n}) { productType { id } } }",
                json!({ "n": name }),
            )
            .await;
        assert_eq!(code, "CONFLICT", "create {name:?}");
    }
    // Renaming onto an existing name conflicts, and nothing of the update is written.
    let code = app
        .err(
            "mutation($id: ID!) { updateProductType(input: {id: $id, name: \"wEb\", description: \"changed\", criticalProduct: true}) { productType { id } } }",
            json!({ "id": other }),
        )
        .await;
    assert_eq!(code, "CONFLICT");
    assert_eq!(app.snapshot().await, before);

    // Renaming a type to another case of its own name is fine.
    let d = app
        .ok(
            "mutation($id: ID!) { updateProductType(input: {id: $id, name: \"MOBILE\"}) { productType { name } } }",
            json!({ "id": other }),
        )
        .await;
    assert_eq!(d["updateProductType"]["productType"]["name"], "MOBILE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_missing_ids() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let before = app.snapshot().await;
    let update = "mutation($id: ID!) { updateProductType(input: {id: $id, name: \"X\"}) { productType { id } } }";
    let delete = "mutation($id: ID!) { deleteProductType(input: {id: $id}) { deletedId } }";
    let missing = dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::ProductType, 999_999);
    for q in [update, delete] {
        assert_eq!(
            app.err(q, json!({ "id": "nope" })).await,
            "BAD_USER_INPUT",
            "{q}"
        );
        assert_eq!(
            app.err(q, json!({ "id": "" })).await,
            "BAD_USER_INPUT",
            "{q}"
        );
        // A product id is not a product type id.
        assert_eq!(
            app.err(q, json!({ "id": h.product })).await,
            "BAD_USER_INPUT",
            "{q}"
        );
        assert_eq!(
            app.err(q, json!({ "id": missing })).await,
            "NOT_FOUND",
            "{q}"
        );
    }
    assert_eq!(app.snapshot().await, before);

    // Reading a missing id is null, not an error.
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": missing }),
        )
        .await;
    assert_eq!(d["node"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_and_back_link_in_one_query() {
    let app = TestApp::new().await;
    let web = app.product_type("Web").await;
    let empty = app.product_type("Empty").await;
    let shop = app.product(&web, "Shop").await;
    let blog = app.product(&web, "Blog").await;
    let d = app
        .ok(
            "query { productTypes(first: 10) { nodes { id name
                products(first: 10) { totalCount nodes { id name productType { id name } } }
                byName: products(first: 10, orderBy: {field: NAME}) { nodes { name } }
                filtered: products(first: 10, filter: {nameContains: \"sh\"}) { totalCount nodes { name } } } } }",
            json!({}),
        )
        .await;
    let types = d["productTypes"]["nodes"].as_array().unwrap();
    assert_eq!(types.len(), 2);
    assert_eq!(types[0]["id"], web);
    assert_eq!(types[0]["products"]["totalCount"], 2);
    assert_eq!(
        types[0]["products"]["nodes"],
        json!([
            { "id": shop, "name": "Shop", "productType": { "id": web, "name": "Web" } },
            { "id": blog, "name": "Blog", "productType": { "id": web, "name": "Web" } },
        ])
    );
    assert_eq!(
        types[0]["byName"]["nodes"],
        json!([{ "name": "Blog" }, { "name": "Shop" }])
    );
    assert_eq!(
        types[0]["filtered"],
        json!({ "totalCount": 1, "nodes": [{ "name": "Shop" }] })
    );
    assert_eq!(types[1]["id"], empty);
    assert_eq!(
        types[1]["products"],
        json!({ "totalCount": 0, "nodes": [] })
    );
    assert_eq!(
        types[1]["filtered"],
        json!({ "totalCount": 0, "nodes": [] })
    );

    // And from the product up.
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Product { name productType { name products(first: 10) { nodes { name } } } } } }",
            json!({ "id": blog }),
        )
        .await;
    assert_eq!(
        d["node"],
        json!({ "name": "Blog", "productType": { "name": "Web", "products": { "nodes": [{ "name": "Shop" }, { "name": "Blog" }] } } })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cascades_to_products() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let keep = app.product_type("Keep").await;
    let kept = app.product(&keep, "Kept").await;
    app.finding(&h.test, "F", "HIGH").await;
    let d = app
        .ok(
            "mutation($id: ID!) { deleteProductType(input: {id: $id}) { deletedId deleted { total counts { typeName count } } } }",
            json!({ "id": h.product_type }),
        )
        .await;
    assert_eq!(d["deleteProductType"]["deletedId"], h.product_type);
    assert_eq!(d["deleteProductType"]["deleted"]["total"], 5);
    assert_eq!(app.count("product_types").await, 1);
    assert_eq!(app.count("products").await, 1);
    assert_eq!(app.count("findings").await, 0);
    let d = app
        .ok(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [h.product_type, h.product, kept] }),
        )
        .await;
    assert_eq!(d["nodes"], json!([null, null, { "id": kept }]));
}
