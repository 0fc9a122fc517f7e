//! Relay pagination: forward and backward, keyset cursors, page info and totals, at the top level
//! and nested (where the pages of all siblings come from one statement).

use serde_json::{Value, json};

use crate::helpers::TestApp;

fn names(conn: &Value) -> Vec<String> {
    conn["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
  productTypes(first: $first, after: $after, last: $last, before: $before) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { name } } nodes { name } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walks_forward_and_backward_through_a_list() {
    let app = TestApp::new().await;
    for i in 1..=7 {
        app.product_type(&format!("pt{i}")).await;
    }
    // Forward in pages of 3: 3 + 3 + 1.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let d = app.ok(PAGE, json!({ "first": 3, "after": after })).await;
        let c = &d["productTypes"];
        assert_eq!(c["totalCount"], 7);
        assert_eq!(c["pageInfo"]["hasPreviousPage"], json!(after.is_some()));
        assert_eq!(names(c).len(), c["edges"].as_array().unwrap().len());
        seen.extend(names(c));
        pages += 1;
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = Some(c["pageInfo"]["endCursor"].as_str().unwrap().to_string());
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        (1..=7).map(|i| format!("pt{i}")).collect::<Vec<_>>(),
        "creation order without orderBy"
    );

    // Backward from the end in pages of 3: 5..7, then 2..4, then 1.
    let d = app.ok(PAGE, json!({ "last": 3 })).await;
    let c = &d["productTypes"];
    assert_eq!(names(c), ["pt5", "pt6", "pt7"]);
    assert_eq!(c["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(c["pageInfo"]["hasNextPage"], false);
    let before = c["pageInfo"]["startCursor"].as_str().unwrap().to_string();
    let d = app.ok(PAGE, json!({ "last": 3, "before": before })).await;
    let c = &d["productTypes"];
    assert_eq!(names(c), ["pt2", "pt3", "pt4"]);
    assert_eq!(c["pageInfo"]["hasNextPage"], true);
    let before = c["pageInfo"]["startCursor"].as_str().unwrap().to_string();
    let d = app.ok(PAGE, json!({ "last": 3, "before": before })).await;
    assert_eq!(names(&d["productTypes"]), ["pt1"]);
    assert_eq!(d["productTypes"]["pageInfo"]["hasPreviousPage"], false);

    // A cursor taken from an edge continues right after that edge.
    let d = app.ok(PAGE, json!({ "first": 7 })).await;
    let third = d["productTypes"]["edges"][2]["cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let d = app.ok(PAGE, json!({ "first": 2, "after": third })).await;
    assert_eq!(names(&d["productTypes"]), ["pt4", "pt5"]);

    // Past the end: empty page, still the right total.
    let last = d["productTypes"]["edges"][1]["cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let d = app.ok(PAGE, json!({ "first": 5, "after": last })).await;
    let d = app
        .ok(
            PAGE,
            json!({ "first": 5, "after": d["productTypes"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(names(&d["productTypes"]), Vec::<String>::new());
    assert_eq!(d["productTypes"]["totalCount"], 7);
    assert_eq!(d["productTypes"]["pageInfo"]["hasNextPage"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_by_the_requested_field() {
    let app = TestApp::new().await;
    for n in ["banana", "Apple", "cherry"] {
        app.product_type(n).await;
    }
    let q = "query($d: OrderDirection!) { productTypes(orderBy: {field: NAME, direction: $d}) { nodes { name } } }";
    let d = app.ok(q, json!({ "d": "ASC" })).await;
    assert_eq!(
        names(&d["productTypes"]),
        ["Apple", "banana", "cherry"],
        "case-insensitive"
    );
    let d = app.ok(q, json!({ "d": "DESC" })).await;
    assert_eq!(names(&d["productTypes"]), ["cherry", "banana", "Apple"]);
    let d = app
        .ok(
            "{ productTypes(orderBy: {field: ID, direction: DESC}) { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(names(&d["productTypes"]), ["cherry", "Apple", "banana"]);
}

const NESTED: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
  products(first: 10) { nodes { name engagements(first: $first, after: $after, last: $last, before: $before) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { name } } } } }";

fn nested(d: &Value, product: usize) -> &Value {
    &d["products"]["nodes"][product]["engagements"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_nested_lists_per_parent() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let a = app.product(&pt, "A").await;
    let b = app.product(&pt, "B").await;
    app.product(&pt, "C").await; // no engagements
    for i in 1..=5 {
        app.engagement(&a, &format!("a{i}")).await;
    }
    for i in 1..=2 {
        app.engagement(&b, &format!("b{i}")).await;
    }

    let d = app.ok(NESTED, json!({ "first": 2 })).await;
    assert_eq!(names(nested(&d, 0)), ["a1", "a2"]);
    assert_eq!(nested(&d, 0)["totalCount"], 5);
    assert_eq!(nested(&d, 0)["pageInfo"]["hasNextPage"], true);
    assert_eq!(names(nested(&d, 1)), ["b1", "b2"]);
    assert_eq!(nested(&d, 1)["pageInfo"]["hasNextPage"], false);
    assert_eq!(names(nested(&d, 2)), Vec::<String>::new());
    assert_eq!(nested(&d, 2)["totalCount"], 0);

    // The cursor of a's page continues a's list.
    let cursor = nested(&d, 0)["pageInfo"]["endCursor"].clone();
    let d = app.ok(NESTED, json!({ "first": 2, "after": cursor })).await;
    assert_eq!(names(nested(&d, 0)), ["a3", "a4"]);
    assert_eq!(nested(&d, 0)["pageInfo"]["hasPreviousPage"], true);
    // A cursor is a place in the order (here: after a2's id), so b's list starts there too: b's
    // engagements were created after a's.
    assert_eq!(names(nested(&d, 1)), ["b1", "b2"]);
    assert_eq!(nested(&d, 1)["totalCount"], 2);
    // Past the end of a list: an empty page, its total still known.
    let cursor = nested(&d, 1)["pageInfo"]["endCursor"].clone();
    let d = app.ok(NESTED, json!({ "first": 2, "after": cursor })).await;
    assert_eq!(names(nested(&d, 1)), Vec::<String>::new());
    assert_eq!(nested(&d, 1)["totalCount"], 2);
    assert_eq!(nested(&d, 1)["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(nested(&d, 2)["totalCount"], 0);

    // Backward: the last two of each.
    let d = app.ok(NESTED, json!({ "last": 2 })).await;
    assert_eq!(names(nested(&d, 0)), ["a4", "a5"]);
    assert_eq!(nested(&d, 0)["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(nested(&d, 0)["pageInfo"]["hasNextPage"], false);
    assert_eq!(names(nested(&d, 1)), ["b1", "b2"]);
    assert_eq!(nested(&d, 1)["pageInfo"]["hasPreviousPage"], false);
    let before = nested(&d, 0)["pageInfo"]["startCursor"].clone();
    let d = app.ok(NESTED, json!({ "last": 2, "before": before })).await;
    assert_eq!(names(nested(&d, 0)), ["a2", "a3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_bad_page_arguments() {
    let app = TestApp::new().await;
    for args in [
        "first: 0",
        "first: 101",
        "last: 0",
        "last: -1",
        "after: \"bm9wZQ==\"",
        "before: \"x\"",
    ] {
        let code = app
            .err(
                &format!("{{ productTypes({args}) {{ totalCount }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{args}");
    }
    let d = app
        .ok("{ productTypes(first: 100) { totalCount } }", json!({}))
        .await;
    assert_eq!(d["productTypes"]["totalCount"], 0);
}

/// Without `totalCount` a nested first page is read per parent (`LATERAL … LIMIT first + 1`):
/// the same rows and page info as the ranked statement that counts, in every order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_first_pages_without_a_total_match_the_counted_ones() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    let a = app.product(&pt, "A").await;
    let b = app.product(&pt, "B").await;
    app.product(&pt, "C").await; // no engagements
    for name in ["m", "c", "x", "a", "q"] {
        app.engagement(&a, name).await;
    }
    app.engagement(&b, "b1").await;
    let query = |total: bool| {
        format!(
            "query($first: Int, $order: EngagementOrder) {{ products(first: 10) {{ nodes {{ name \
             engagements(first: $first, orderBy: $order) {{ {} \
             pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} nodes {{ name }} }} }} }} }}",
            if total { "totalCount" } else { "" }
        )
    };
    for first in [1, 2, 5, 6] {
        for order in [
            json!(null),
            json!({ "field": "NAME", "direction": "ASC" }),
            json!({ "field": "NAME", "direction": "DESC" }),
        ] {
            let vars = json!({ "first": first, "order": order });
            let counted = app.ok(&query(true), vars.clone()).await;
            let read = app.ok(&query(false), vars.clone()).await;
            for product in 0..3 {
                let (c, r) = (nested(&counted, product), nested(&read, product));
                assert_eq!(c["nodes"], r["nodes"], "{vars} product {product}");
                assert_eq!(c["pageInfo"], r["pageInfo"], "{vars} product {product}");
            }
        }
    }
    let d = app
        .ok(
            &query(false),
            json!({ "first": 2, "order": { "field": "NAME", "direction": "DESC" } }),
        )
        .await;
    assert_eq!(names(nested(&d, 0)), ["x", "q"]);
    assert_eq!(nested(&d, 0)["pageInfo"]["hasNextPage"], true);
    assert_eq!(names(nested(&d, 1)), ["b1"]);
    assert_eq!(nested(&d, 1)["pageInfo"]["hasNextPage"], false);
}

const FINDINGS: &str = "query($first: Int, $after: String, $last: Int, $before: String, $order: FindingOrder) {
  findings(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { id title } } }";

fn ids(conn: &Value) -> Vec<String> {
    conn["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

/// Findings with ties in every sort key, NULL SLA dates (Info has none) and equal titles but
/// for case.
async fn varied_findings(app: &TestApp) {
    let pt = app.product_type("PT").await;
    let p = app.product(&pt, "P").await;
    let e = app.engagement(&p, "E").await;
    let t = app.test(&e, "T").await;
    let rows = [
        ("b", "HIGH", "2026-03-01"),
        ("A", "INFO", "2026-01-01"),
        ("a", "CRITICAL", "2026-03-01"),
        ("c", "INFO", "2026-02-01"),
        ("b", "LOW", "2026-01-01"),
        ("B", "HIGH", "2026-02-01"),
        ("d", "INFO", "2026-03-01"),
    ];
    for (title, severity, date) in rows {
        app.finding_with(&t, title, severity, json!({ "date": date }))
            .await;
    }
}

/// Walking a list a page at a time, forward with `first`/`after` and backward with
/// `last`/`before`, gives exactly the whole list, in every order and direction: cursors carry
/// text, date, timestamp and NULL keys and break ties by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_pages_walk_every_order_both_ways() {
    let app = TestApp::new().await;
    varied_findings(&app).await;
    for field in [
        "ID",
        "SEVERITY",
        "DATE",
        "TITLE",
        "SLA_EXPIRATION_DATE",
        "CREATED",
        "UPDATED",
    ] {
        for direction in ["ASC", "DESC"] {
            let order = json!({ "field": field, "direction": direction });
            let whole = app
                .ok(FINDINGS, json!({ "first": 100, "order": order }))
                .await;
            let whole = ids(&whole["findings"]);
            assert_eq!(whole.len(), 7);
            for size in [1, 2, 3] {
                let mut forward = Vec::new();
                let mut after = Value::Null;
                loop {
                    let d = app
                        .ok(
                            FINDINGS,
                            json!({ "first": size, "after": after, "order": order }),
                        )
                        .await;
                    let c = &d["findings"];
                    assert_eq!(c["totalCount"], 7);
                    forward.extend(ids(c));
                    if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                        break;
                    }
                    after = c["pageInfo"]["endCursor"].clone();
                }
                assert_eq!(forward, whole, "{order} forward by {size}");

                let mut backward = Vec::new();
                let mut before = Value::Null;
                loop {
                    let d = app
                        .ok(
                            FINDINGS,
                            json!({ "last": size, "before": before, "order": order }),
                        )
                        .await;
                    let c = &d["findings"];
                    let mut page = ids(c);
                    page.extend(backward);
                    backward = page;
                    if !c["pageInfo"]["hasPreviousPage"].as_bool().unwrap() {
                        break;
                    }
                    before = c["pageInfo"]["startCursor"].clone();
                }
                assert_eq!(backward, whole, "{order} backward by {size}");
            }
        }
    }
}

/// A cursor keeps its place when rows are added before it or when its own row is deleted: the
/// next page starts right after it, with nothing skipped or repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_hold_their_place_under_inserts_and_deletes() {
    let app = TestApp::new().await;
    for n in ["b", "d", "f", "h", "j"] {
        app.product_type(n).await;
    }
    let q = "query($after: String) { productTypes(first: 2, after: $after, orderBy: {field: NAME, direction: ASC}) {
      pageInfo { endCursor } nodes { id name } } }";
    let d = app.ok(q, json!({})).await;
    assert_eq!(names(&d["productTypes"]), ["b", "d"]);
    let cursor = d["productTypes"]["pageInfo"]["endCursor"].clone();
    let d_id = d["productTypes"]["nodes"][1]["id"].clone();
    // Rows sorting before the cursor (and one after it) arrive; the cursor's own row goes.
    for n in ["a", "c", "e"] {
        app.product_type(n).await;
    }
    app.ok(
        "mutation($id: ID!) { deleteProductType(input: {id: $id}) { deletedId } }",
        json!({ "id": d_id }),
    )
    .await;
    let d = app.ok(q, json!({ "after": cursor })).await;
    assert_eq!(names(&d["productTypes"]), ["e", "f"]);
}

/// A cursor is refused, as `BAD_USER_INPUT`, under another order, on another list, and when it
/// is not one this server made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_of_another_list_or_order_are_refused() {
    let app = TestApp::new().await;
    let pt = app.product_type("PT").await;
    app.product(&pt, "P").await;
    let d = app
        .ok(
            "{ productTypes(orderBy: {field: NAME, direction: ASC}) { pageInfo { endCursor } }
               products { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let by_name = d["productTypes"]["pageInfo"]["endCursor"].clone();
    let product = d["products"]["pageInfo"]["endCursor"].clone();
    let cases = [
        // Taken under NAME ASC.
        ("{ productTypes(after: $c) { totalCount } }", &by_name),
        (
            "{ productTypes(after: $c, orderBy: {field: NAME, direction: DESC}) { totalCount } }",
            &by_name,
        ),
        // Taken from products.
        (
            "{ productTypes(before: $c, last: 1) { totalCount } }",
            &product,
        ),
    ];
    for (q, cursor) in cases {
        let q = format!("query($c: String) {q}");
        let code = app.err(&q, json!({ "c": cursor })).await;
        assert_eq!(code, "BAD_USER_INPUT", "{q} {cursor}");
    }
    // The same cursor is fine where it came from.
    app.ok(
        "query($c: String) { productTypes(after: $c, orderBy: {field: NAME, direction: ASC}) { totalCount } }",
        json!({ "c": by_name }),
    )
    .await;
    // Forged: a date key that is text, an id that is not a number, a key under ID order.
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    for (field, raw) in [
        ("TARGET_START", "engagements.TargetStart.Asc|1|sx"),
        ("TARGET_START", "engagements.TargetStart.Asc|x|i1"),
        ("TARGET_START", "engagements.TargetStart.Asc|1|i99999999999"),
        ("ID", "engagements.Id.Asc|1|i5"),
        ("NAME", "engagements.Name.Asc|1|-"),
    ] {
        let q = format!(
            "query($c: String) {{ engagements(after: $c, orderBy: {{field: {field}, direction: ASC}}) {{ totalCount }} }}"
        );
        let code = app
            .err(&q, json!({ "c": URL_SAFE_NO_PAD.encode(raw) }))
            .await;
        assert_eq!(code, "BAD_USER_INPUT", "{raw}");
    }
}
