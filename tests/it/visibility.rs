//! Every read path only shows what the caller may read (threat model A1–A3): lists and their
//! `totalCount`, nested lists, `findingCounts`, `node`/`nodes`, `deletePreview`, members,
//! groups, file downloads, and user details. Objects of other tenants are NOT_FOUND or null,
//! exactly like ids that do not exist.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{TestApp, TestUser, assert_code, assert_json_snapshot};

/// One product type's objects.
struct Tree {
    product_type: String,
    /// Two products: the first has an engagement, a test, two active findings, a note and a file.
    products: Vec<String>,
    engagement: String,
    test: String,
    findings: Vec<String>,
    note: String,
    file: String,
    /// The file's download path.
    download: String,
}

async fn tree(app: &TestApp, name: &str) -> Tree {
    let product_type = app.product_type(name).await;
    let p1 = app.product(&product_type, &format!("{name}1")).await;
    let p2 = app.product(&product_type, &format!("{name}2")).await;
    let engagement = app.engagement(&p1, "E").await;
    let test = app.test(&engagement, "T").await;
    let f1 = app.finding(&test, "SQLi", "CRITICAL").await;
    let f2 = app.finding(&test, "XSS", "HIGH").await;
    // The second product has one finding of its own.
    let e2 = app.engagement(&p2, "E").await;
    let t2 = app.test(&e2, "T").await;
    app.finding(&t2, "Other", "LOW").await;
    let d = app
        .ok(
            "mutation($p: ID!) { addNote(input: {parentId: $p, entry: \"secret note\"}) { note { id } } }",
            json!({ "p": f1 }),
        )
        .await;
    let note = d["addNote"]["note"]["id"].as_str().unwrap().to_string();
    let r = app
        .gql_upload_as(
            &app.root,
            "mutation($p: ID!, $f: Upload!) { uploadFile(input: {parentId: $p, file: $f}) { file { id downloadUrl } } }",
            json!({ "p": f1, "f": null }),
            b"evidence",
        )
        .await;
    let file = &r["data"]["uploadFile"]["file"];
    Tree {
        product_type,
        products: vec![p1, p2],
        engagement,
        test,
        findings: vec![f1, f2],
        note,
        file: file["id"].as_str().unwrap().to_string(),
        download: file["downloadUrl"].as_str().unwrap().to_string(),
    }
}

impl Tree {
    fn ids(&self) -> Vec<&String> {
        let mut ids = vec![
            &self.product_type,
            &self.engagement,
            &self.test,
            &self.note,
            &self.file,
        ];
        ids.extend(&self.products);
        ids.extend(&self.findings);
        ids
    }
}

struct World {
    app: TestApp,
    a: Tree,
    b: Tree,
    /// READER on product type A.
    reader_a: TestUser,
    /// READER on the first product of A only.
    product_reader: TestUser,
    /// Global READER.
    global_reader: TestUser,
    /// No role at all.
    nobody: TestUser,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let a = tree(&app, "A").await;
    let b = tree(&app, "B").await;
    let reader_a = app.user("reader_a").await;
    app.ok(
        "mutation($pt: ID!, $u: ID!) { addProductTypeMember(input: {productTypeId: $pt, userId: $u, role: READER}) { membership { id } } }",
        json!({ "pt": a.product_type, "u": reader_a.id }),
    )
    .await;
    let product_reader = app.user("product_reader").await;
    app.ok(
        "mutation($p: ID!, $u: ID!) { addProductMember(input: {productId: $p, userId: $u, role: READER}) { membership { id } } }",
        json!({ "p": a.products[0], "u": product_reader.id }),
    )
    .await;
    let global_reader = app.user("global_reader").await;
    app.ok(
        "mutation($u: ID!) { setGlobalRole(input: {userId: $u, role: READER}) { user { id } } }",
        json!({ "u": global_reader.id }),
    )
    .await;
    let nobody = app.user("nobody").await;
    World {
        app,
        a,
        b,
        reader_a,
        product_reader,
        global_reader,
        nobody,
    }
}

const TOTALS: &str = "{ productTypes(first: 100) { totalCount nodes { name findingCounts { total } products(first: 100) { totalCount nodes { name } } } }
  products(first: 100) { totalCount nodes { name } }
  engagements(first: 100) { totalCount }
  tests(first: 100) { totalCount }
  findings(first: 100) { totalCount nodes { title } }
  groups(first: 100) { totalCount } }";

fn names(v: &Value) -> Vec<String> {
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n["name"]
                .as_str()
                .or(n["title"].as_str())
                .unwrap()
                .to_string()
        })
        .collect()
}

async fn node_is_null(app: &TestApp, user: &TestUser, id: &str) {
    let d = app
        .ok_as(
            user,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(
        d["node"].is_null(),
        "{} reads {id}: {d}",
        user.principal.username
    );
}

async fn download(app: &TestApp, user: &TestUser, path: &str) -> StatusCode {
    app.raw_router()
        .oneshot(
            Request::get(path)
                .header(header::AUTHORIZATION, user.header())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_roles_sees_nothing() {
    let w = world().await;
    let (app, nobody) = (&w.app, &w.nobody);
    let d = app.ok_as(nobody, TOTALS, json!({})).await;
    for list in [
        "productTypes",
        "products",
        "engagements",
        "tests",
        "findings",
        "groups",
    ] {
        assert_eq!(d[list]["totalCount"], 0, "{list}: {d}");
        assert_eq!(d[list]["nodes"].as_array().map_or(0, Vec::len), 0, "{list}");
    }
    for id in w.a.ids().into_iter().chain(w.b.ids()) {
        node_is_null(app, nobody, id).await;
    }
    let all: Vec<&String> = w.a.ids();
    let d = app
        .ok_as(
            nobody,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": all }),
        )
        .await;
    assert!(d["nodes"].as_array().unwrap().iter().all(Value::is_null));
    // deletePreview of a foreign object answers exactly like a missing id.
    let missing = dojoql::domain::ids::encode(dojoql::domain::ids::NodeKind::Product, 99_999);
    let r1 = app
        .gql_as(
            &nobody.principal,
            "query($id: ID!) { deletePreview(id: $id) { total } }",
            json!({ "id": w.a.products[0] }),
        )
        .await;
    let r2 = app
        .gql_as(
            &nobody.principal,
            "query($id: ID!) { deletePreview(id: $id) { total } }",
            json!({ "id": missing }),
        )
        .await;
    assert_code(&r1, "NOT_FOUND");
    assert_eq!(r1["errors"][0]["message"], r2["errors"][0]["message"]);
    assert_eq!(
        download(app, nobody, &w.a.download).await,
        StatusCode::NOT_FOUND
    );
    let d = app
        .ok_as(
            nobody,
            "{ me { globalRole roles { id } groups { id } user { username } } }",
            json!({}),
        )
        .await;
    assert_json_snapshot!("me_without_roles", d["me"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_type_reader_sees_only_that_product_type() {
    let w = world().await;
    let (app, reader) = (&w.app, &w.reader_a);
    let d = app.ok_as(reader, TOTALS, json!({})).await;
    assert_eq!(d["productTypes"]["totalCount"], 1);
    assert_eq!(names(&d["productTypes"]), ["A"]);
    assert_eq!(d["productTypes"]["nodes"][0]["findingCounts"]["total"], 3);
    assert_eq!(d["productTypes"]["nodes"][0]["products"]["totalCount"], 2);
    assert_eq!(names(&d["products"]), ["A1", "A2"]);
    assert_eq!(d["products"]["totalCount"], 2);
    assert_eq!(d["engagements"]["totalCount"], 2);
    assert_eq!(d["tests"]["totalCount"], 2);
    assert_eq!(d["findings"]["totalCount"], 3);
    assert_eq!(names(&d["findings"]), ["SQLi", "XSS", "Other"]);
    // Filters cannot reach B either.
    let d = app
        .ok_as(
            reader,
            "query($pt: ID!) { products(first: 10, filter: {productTypeId: $pt}) { totalCount } findings(first: 10, filter: {productTypeId: $pt}) { totalCount } }",
            json!({ "pt": w.b.product_type }),
        )
        .await;
    assert_eq!(d["products"]["totalCount"], 0);
    assert_eq!(d["findings"]["totalCount"], 0);
    for id in w.b.ids() {
        node_is_null(app, reader, id).await;
    }
    for id in w.a.ids() {
        let d = app
            .ok_as(
                reader,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(d["node"]["id"], id.as_str());
    }
    // Walking up from A stays in A; the delete preview of A counts A.
    let d = app
        .ok_as(
            reader,
            "query($f: ID!, $pt: ID!) { node(id: $f) { ... on Finding { product { productType { name } } notes { entry } files { filename } } } deletePreview(id: $pt) { counts { typeName count } } }",
            json!({ "f": w.a.findings[0], "pt": w.a.product_type }),
        )
        .await;
    assert_eq!(d["node"]["product"]["productType"]["name"], "A");
    assert_eq!(d["node"]["notes"][0]["entry"], "secret note");
    assert_json_snapshot!("product_type_reader_delete_preview", d["deletePreview"]);
    let r = app
        .gql_as(
            &reader.principal,
            "query($id: ID!) { deletePreview(id: $id) { total } }",
            json!({ "id": w.b.product_type }),
        )
        .await;
    assert_code(&r, "NOT_FOUND");
    assert_eq!(download(app, reader, &w.a.download).await, StatusCode::OK);
    assert_eq!(
        download(app, reader, &w.b.download).await,
        StatusCode::NOT_FOUND
    );
    // Its permissions, for a dashboard to hide buttons.
    let d = app
        .ok_as(
            reader,
            "query($p: ID!) { node(id: $p) { ... on Product { myPermissions { role isSuperuser permissions } } } }",
            json!({ "p": w.a.products[0] }),
        )
        .await;
    assert_json_snapshot!("product_reader_permissions", d["node"]["myPermissions"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_reader_sees_its_product_type_through_its_product_only() {
    let w = world().await;
    let (app, reader) = (&w.app, &w.product_reader);
    let d = app.ok_as(reader, TOTALS, json!({})).await;
    assert_eq!(names(&d["productTypes"]), ["A"]);
    let pt = &d["productTypes"]["nodes"][0];
    assert_eq!(pt["products"]["totalCount"], 1, "A2 stays hidden: {pt}");
    assert_eq!(names(&pt["products"]), ["A1"]);
    assert_eq!(
        pt["findingCounts"]["total"], 2,
        "the product type's counts include only A1's findings"
    );
    assert_eq!(d["products"]["totalCount"], 1);
    assert_eq!(d["findings"]["totalCount"], 2);
    node_is_null(app, reader, &w.a.products[1]).await;
    let d = app
        .ok_as(
            reader,
            "query($pt: ID!) { deletePreview(id: $pt) { counts { typeName count } } node(id: $pt) { ... on ProductType { myPermissions { role permissions } members { role } } } }",
            json!({ "pt": w.a.product_type }),
        )
        .await;
    // The preview counts only A1's side of A; no role on the product type itself; the one
    // member listed is reader_a's membership on the product type.
    assert_json_snapshot!("product_reader_on_its_product_type", d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_reader_sees_everything_and_changes_nothing() {
    let w = world().await;
    let (app, reader) = (&w.app, &w.global_reader);
    let d = app.ok_as(reader, TOTALS, json!({})).await;
    assert_eq!(d["productTypes"]["totalCount"], 2);
    assert_eq!(d["products"]["totalCount"], 4);
    assert_eq!(d["findings"]["totalCount"], 6);
    assert_eq!(
        d["groups"]["totalCount"], 0,
        "global roles do not reach groups"
    );
    let d = app.ok_as(reader, "{ me { globalRole } }", json!({})).await;
    assert_eq!(d["me"]["globalRole"], "READER");
    let code = app
        .err_as(
            reader,
            "mutation($id: ID!) { updateFinding(input: {id: $id, title: \"x\"}) { finding { id } } }",
            json!({ "id": w.b.findings[0] }),
        )
        .await;
    assert_eq!(code, "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_details_are_private() {
    let w = world().await;
    let app = &w.app;
    app.ok(
        "mutation($u: ID!) { updateUser(input: {id: $u, email: \"nobody@corp.test\"}) { user { id } } }",
        json!({ "u": w.nobody.id }),
    )
    .await;
    let q = "query($s: String) { users(first: 100, filter: {search: $s}) { nodes { username email isSuperuser isActive globalRole } } }";
    let d = app.ok_as(&w.reader_a, q, json!({ "s": "nobody" })).await;
    assert_eq!(
        d["users"]["nodes"],
        json!([{ "username": "nobody", "email": null, "isSuperuser": null, "isActive": null, "globalRole": null }]),
        "another user's email and flags are hidden"
    );
    // Searching by email would reveal it: only superusers search emails.
    let d = app.ok_as(&w.reader_a, q, json!({ "s": "corp.test" })).await;
    assert_eq!(d["users"]["nodes"], json!([]));
    let d = app.ok(q, json!({ "s": "corp.test" })).await;
    assert_eq!(d["users"]["nodes"][0]["email"], "nobody@corp.test");
    // Users see their own details.
    let d = app.ok_as(&w.nobody, q, json!({ "s": "nobody" })).await;
    assert_eq!(d["users"]["nodes"][0]["email"], "nobody@corp.test");
    assert_eq!(d["users"]["nodes"][0]["isSuperuser"], false);
    // Tokens of others cannot be read.
    let d = app
        .ok(
            "mutation($u: ID!) { createApiToken(input: {userId: $u, name: \"x\"}) { apiToken { id } } }",
            json!({ "u": w.nobody.id }),
        )
        .await;
    let token = d["createApiToken"]["apiToken"]["id"].as_str().unwrap();
    node_is_null(app, &w.reader_a, token).await;
    let d = app
        .ok_as(
            &w.nobody,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": token }),
        )
        .await;
    assert_eq!(d["node"]["id"], token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_are_refused_except_health_ready_and_graphiql() {
    let w = world().await;
    let router = w.app.raw_router();
    for (method, path, body) in [
        (
            "POST",
            "/graphql",
            r#"{"query":"{ productTypes(first: 1) { totalCount } }"}"#,
        ),
        ("GET", &*w.a.download, ""),
    ] {
        let r = router
            .clone()
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    for path in ["/health", "/ready", "/", "/graphql"] {
        let r = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
}
