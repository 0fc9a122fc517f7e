//! Managing access and its escalation rules (threat model A5), re-parenting checked on both
//! sides (A6), ids nested in inputs (A8), and revocation taking effect at once (A9).

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_json_snapshot, error_code};

/// Grants `role` on `on` (a product type or product) to `user`; as `by` (the superuser when
/// `None`). Returns the membership id or the error code.
async fn grant_as(
    app: &TestApp,
    by: Option<&TestUser>,
    field: &str,
    key: &str,
    on: &str,
    user: &str,
    role: &str,
) -> Result<String, String> {
    let input_type = if field == "addProductTypeMember" {
        "AddProductTypeMemberInput"
    } else {
        "AddProductMemberInput"
    };
    let q = format!(
        "mutation($i: {input_type}!) {{ {field}(input: $i) {{ membership {{ id role }} }} }}"
    );
    let vars = json!({ "i": { key: on, "userId": user, "role": role } });
    let principal = match by {
        Some(u) => app.refresh(u).await,
        None => app.root.clone(),
    };
    let r = app.gql_as(&principal, &q, vars).await;
    match error_code(&r) {
        Some(code) => Err(code.to_string()),
        None => Ok(r["data"][field]["membership"]["id"]
            .as_str()
            .unwrap()
            .to_string()),
    }
}

async fn on_type(
    app: &TestApp,
    by: Option<&TestUser>,
    pt: &str,
    user: &str,
    role: &str,
) -> Result<String, String> {
    grant_as(
        app,
        by,
        "addProductTypeMember",
        "productTypeId",
        pt,
        user,
        role,
    )
    .await
}

async fn on_product(
    app: &TestApp,
    by: Option<&TestUser>,
    p: &str,
    user: &str,
    role: &str,
) -> Result<String, String> {
    grant_as(app, by, "addProductMember", "productId", p, user, role).await
}

/// Runs `query` as `user` and asserts its error code is `want` (`None`: success); a refused
/// mutation must leave the database unchanged.
async fn expect(app: &TestApp, user: &TestUser, query: &str, variables: Value, want: Option<&str>) {
    let before = app.snapshot().await;
    let r = app.gql_as(&app.refresh(user).await, query, variables).await;
    let code = error_code(&r);
    assert_eq!(code, want, "{} ran {query}: {r}", user.principal.username);
    if code.is_some() {
        assert_eq!(
            app.snapshot().await,
            before,
            "a refused {query} changed the database"
        );
    }
}

const UPDATE_MEMBER: &str = "mutation($id: ID!, $r: Role!) { updateMember(input: {id: $id, role: $r}) { membership { role } } }";
const REMOVE_MEMBER: &str = "mutation($id: ID!) { removeMember(input: {id: $id}) { removedId } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_owners_grant_change_or_remove_owner() {
    let app = TestApp::new().await;
    let pt = app.product_type("A").await;
    let product = app.product(&pt, "A1").await;
    let owner = app.user("owner").await;
    let maintainer = app.user("maintainer").await;
    let other = app.user("other").await;
    let owner_m = on_type(&app, None, &pt, &owner.id, "OWNER").await.unwrap();
    let maint_m = on_type(&app, None, &pt, &maintainer.id, "MAINTAINER")
        .await
        .unwrap();

    // A maintainer may not grant OWNER, on the product type or a product…
    assert_eq!(
        on_type(&app, Some(&maintainer), &pt, &other.id, "OWNER").await,
        Err("FORBIDDEN".into())
    );
    assert_eq!(
        on_product(&app, Some(&maintainer), &product, &other.id, "OWNER").await,
        Err("FORBIDDEN".into())
    );
    // …promote itself, demote or remove the owner.
    for (query, vars) in [
        (UPDATE_MEMBER, json!({ "id": maint_m, "r": "OWNER" })),
        (UPDATE_MEMBER, json!({ "id": owner_m, "r": "READER" })),
        (REMOVE_MEMBER, json!({ "id": owner_m })),
    ] {
        expect(&app, &maintainer, query, vars, Some("FORBIDDEN")).await;
    }
    // It may grant and change lesser roles.
    let other_m = on_product(&app, Some(&maintainer), &product, &other.id, "READER")
        .await
        .unwrap();
    expect(
        &app,
        &maintainer,
        UPDATE_MEMBER,
        json!({ "id": other_m, "r": "WRITER" }),
        None,
    )
    .await;
    // An owner may grant OWNER.
    expect(
        &app,
        &owner,
        UPDATE_MEMBER,
        json!({ "id": other_m, "r": "OWNER" }),
        None,
    )
    .await;
    let d = app
        .ok_as(
            &other,
            "query($p: ID!) { node(id: $p) { ... on Product { myPermissions { role } } } }",
            json!({ "p": product }),
        )
        .await;
    assert_eq!(d["node"]["myPermissions"]["role"], "OWNER");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_owner_stays() {
    let app = TestApp::new().await;
    let pt = app.product_type("A").await;
    let product = app.product(&pt, "A1").await;
    let owner = app.user("owner").await;
    let second = app.user("second").await;
    let owner_m = on_type(&app, None, &pt, &owner.id, "OWNER").await.unwrap();
    let product_owner_m = on_product(&app, None, &product, &owner.id, "OWNER")
        .await
        .unwrap();
    for id in [&owner_m, &product_owner_m] {
        expect(
            &app,
            &owner,
            REMOVE_MEMBER,
            json!({ "id": id }),
            Some("CONFLICT"),
        )
        .await;
        expect(
            &app,
            &owner,
            UPDATE_MEMBER,
            json!({ "id": id, "r": "MAINTAINER" }),
            Some("CONFLICT"),
        )
        .await;
    }
    // With a second owner the first may leave.
    on_type(&app, Some(&owner), &pt, &second.id, "OWNER")
        .await
        .unwrap();
    expect(&app, &owner, REMOVE_MEMBER, json!({ "id": owner_m }), None).await;
    // Anyone may leave: a reader removes its own membership.
    let reader = app.user("reader").await;
    let reader_m = on_product(&app, None, &product, &reader.id, "READER")
        .await
        .unwrap();
    expect(
        &app,
        &reader,
        REMOVE_MEMBER,
        json!({ "id": reader_m }),
        None,
    )
    .await;
    // Granting twice is a conflict.
    let again = on_product(&app, None, &product, &second.id, "READER")
        .await
        .unwrap();
    assert!(!again.is_empty());
    assert_eq!(
        on_product(&app, None, &product, &second.id, "WRITER").await,
        Err("CONFLICT".into())
    );
}

const ADD_TO_GROUP: &str = "mutation($g: ID!, $u: ID!, $r: Role!) { addGroupMember(input: {groupId: $g, userId: $u, role: $r}) { groupMember { id role } } }";
const LEAVE_GROUP: &str = "mutation($g: ID!, $u: ID!) { removeGroupMember(input: {groupId: $g, userId: $u}) { removedId } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_grant_roles_to_their_members_and_keep_an_owner() {
    let app = TestApp::new().await;
    let pt = app.product_type("A").await;
    let product = app.product(&pt, "A1").await;
    let creator = app.user("creator").await;
    // Creating groups needs a global MAINTAINER role; the creator becomes the group's owner.
    expect(
        &app,
        &creator,
        "mutation { createGroup(input: {name: \"Sec\"}) { group { id } } }",
        json!({}),
        Some("FORBIDDEN"),
    )
    .await;
    app.ok("mutation($u: ID!) { setGlobalRole(input: {userId: $u, role: MAINTAINER}) { user { id } } }", json!({ "u": creator.id })).await;
    let d = app
        .ok_as(&creator, "mutation { createGroup(input: {name: \"Sec\"}) { group { id members { role user { username } } } } }", json!({}))
        .await;
    let group = d["createGroup"]["group"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        d["createGroup"]["group"]["members"],
        json!([{ "role": "OWNER", "user": { "username": "creator" } }])
    );
    let maintainer = app.user("maintainer").await;
    let member = app.user("member").await;
    expect(
        &app,
        &creator,
        ADD_TO_GROUP,
        json!({ "g": group, "u": maintainer.id, "r": "MAINTAINER" }),
        None,
    )
    .await;
    // A group maintainer adds members but not owners.
    expect(
        &app,
        &maintainer,
        ADD_TO_GROUP,
        json!({ "g": group, "u": member.id, "r": "OWNER" }),
        Some("FORBIDDEN"),
    )
    .await;
    expect(
        &app,
        &maintainer,
        ADD_TO_GROUP,
        json!({ "g": group, "u": member.id, "r": "READER" }),
        None,
    )
    .await;
    // The group's role on the product reaches its members, and leaves with them.
    app.ok(
        "mutation($p: ID!, $g: ID!) { addProductMember(input: {productId: $p, groupId: $g, role: WRITER}) { membership { id group { name } } } }",
        json!({ "p": product, "g": group }),
    )
    .await;
    let q = "query($p: ID!) { node(id: $p) { ... on Product { myPermissions { role } } } }";
    let d = app.ok_as(&member, q, json!({ "p": product })).await;
    assert_eq!(d["node"]["myPermissions"]["role"], "WRITER");
    let d = app
        .ok_as(
            &member,
            "{ me { roles { role group { name } product { name } } groups { name } } }",
            json!({}),
        )
        .await;
    assert_json_snapshot!("me_through_a_group", d["me"]);
    expect(
        &app,
        &member,
        LEAVE_GROUP,
        json!({ "g": group, "u": member.id }),
        None,
    )
    .await;
    let d = app.ok_as(&member, q, json!({ "p": product })).await;
    assert!(d["node"].is_null(), "no stale role after leaving the group");
    // The last owner cannot leave.
    expect(
        &app,
        &creator,
        LEAVE_GROUP,
        json!({ "g": group, "u": creator.id }),
        Some("CONFLICT"),
    )
    .await;
    // A group the granter cannot see cannot be granted anything (A8).
    let pm = app.user("pm").await;
    on_product(&app, None, &product, &pm.id, "OWNER")
        .await
        .unwrap();
    expect(
        &app,
        &pm,
        "mutation($p: ID!, $g: ID!) { addProductMember(input: {productId: $p, groupId: $g, role: READER}) { membership { id } } }",
        json!({ "p": product, "g": group }),
        Some("NOT_FOUND"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_flags_and_global_roles_are_for_superusers() {
    let app = TestApp::new().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let update = "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { firstName email isSuperuser } } }";
    for input in [
        json!({ "id": alice.id, "isSuperuser": true }),
        json!({ "id": alice.id, "isActive": false }),
        json!({ "id": bob.id, "email": "mine@evil.test" }),
        json!({ "id": bob.id, "firstName": "B" }),
    ] {
        // {input}
        expect(
            &app,
            &alice,
            update,
            json!({ "i": input }),
            Some("FORBIDDEN"),
        )
        .await;
    }
    expect(
        &app,
        &alice,
        "mutation($u: ID!) { setGlobalRole(input: {userId: $u, role: OWNER}) { user { id } } }",
        json!({ "u": alice.id }),
        Some("FORBIDDEN"),
    )
    .await;
    // Users edit their own names and email.
    let d = app
        .ok_as(
            &alice,
            update,
            json!({ "i": { "id": alice.id, "firstName": "Alice", "email": "alice@corp.test" } }),
        )
        .await;
    assert_eq!(
        d["updateUser"]["user"],
        json!({ "firstName": "Alice", "email": "alice@corp.test", "isSuperuser": false })
    );
    // A superuser deactivates a user: its token stops working at once.
    app.ok(update, json!({ "i": { "id": bob.id, "isActive": false } }))
        .await;
    assert!(
        dojoql::auth::authenticate(&app.state.db, &bob.header())
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_maintainers_create_product_types_and_own_them() {
    let app = TestApp::new().await;
    let lead = app.user("lead").await;
    let create = "mutation { createProductType(input: {name: \"Mine\"}) { productType { id myPermissions { role } members { role user { username } } } } }";
    expect(&app, &lead, create, json!({}), Some("FORBIDDEN")).await;
    app.ok("mutation($u: ID!) { setGlobalRole(input: {userId: $u, role: MAINTAINER}) { user { globalRole } } }", json!({ "u": lead.id })).await;
    let d = app.ok_as(&lead, create, json!({})).await;
    let pt = &d["createProductType"]["productType"];
    assert_eq!(pt["myPermissions"]["role"], "OWNER");
    assert_eq!(
        pt["members"],
        json!([{ "role": "OWNER", "user": { "username": "lead" } }])
    );
}

const MOVE_PRODUCT: &str = "mutation($id: ID!, $pt: ID!) { updateProduct(input: {id: $id, productTypeId: $pt}) { product { productType { name } } } }";
const MOVE_ENGAGEMENT: &str = "mutation($id: ID!, $p: ID!) { updateEngagement(input: {id: $id, productId: $p}) { engagement { product { name } } } }";
const MOVE_TEST: &str = "mutation($id: ID!, $e: ID!) { updateTest(input: {id: $id, engagementId: $e}) { test { engagement { name } } } }";

/// Two product types A and B with a product each (A1, B1); in A1 an engagement E with a test T
/// and a CRITICAL finding F, in B1 an engagement BE. `user` ("mover") is a MAINTAINER of A.
struct Moving {
    app: TestApp,
    b: String,
    a1: String,
    b1: String,
    engagement: String,
    test: String,
    finding: String,
    b_engagement: String,
    user: TestUser,
}

async fn moving() -> Moving {
    let app = TestApp::new().await;
    let a = app.product_type("A").await;
    let b = app.product_type("B").await;
    let a1 = app.product(&a, "A1").await;
    let b1 = app.product(&b, "B1").await;
    let engagement = app.engagement(&a1, "E").await;
    let test = app.test(&engagement, "T").await;
    let finding = app.finding(&test, "F", "CRITICAL").await;
    let b_engagement = app.engagement(&b1, "BE").await;

    let user = app.user("mover").await;
    on_type(&app, None, &a, &user.id, "MAINTAINER")
        .await
        .unwrap();
    Moving {
        app,
        b,
        a1,
        b1,
        engagement,
        test,
        finding,
        b_engagement,
        user,
    }
}

impl Moving {
    /// Makes the mover a READER of B, then a WRITER; returns that membership's id.
    async fn writer_on_b(&self) -> Value {
        let (app, b) = (&self.app, &self.b);
        on_type(app, None, b, &self.user.id, "READER")
            .await
            .unwrap();
        let m = app.ok("query($b: ID!) { node(id: $b) { ... on ProductType { members { id user { username } } } } }", json!({ "b": b })).await;
        let membership = m["node"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["user"]["username"] == "mover")
            .unwrap()["id"]
            .clone();
        app.ok(UPDATE_MEMBER, json!({ "id": membership, "r": "WRITER" }))
            .await;
        membership
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_into_a_parent_needs_write_rights_on_it() {
    let Moving {
        app,
        b,
        a1,
        b1,
        engagement,
        test,
        b_engagement,
        user,
        ..
    } = moving().await;
    // B is invisible: moving into it is NOT_FOUND, like a missing id. Readable but not
    // writable: FORBIDDEN.
    let moves = [
        (MOVE_PRODUCT, json!({ "id": a1, "pt": b })),
        (MOVE_ENGAGEMENT, json!({ "id": engagement, "p": b1 })),
        (MOVE_TEST, json!({ "id": test, "e": b_engagement })),
    ];
    for (query, vars) in &moves {
        expect(&app, &user, query, vars.clone(), Some("NOT_FOUND")).await;
    }
    on_type(&app, None, &b, &user.id, "READER").await.unwrap();
    for (query, vars) in &moves {
        expect(&app, &user, query, vars.clone(), Some("FORBIDDEN")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_out_of_a_parent_needs_rights_on_it() {
    let Moving {
        app,
        b,
        b1,
        engagement,
        ..
    } = moving().await;
    // The source side counts too: a writer on B alone cannot pull A's objects over.
    let puller = app.user("puller").await;
    on_type(&app, None, &b, &puller.id, "OWNER").await.unwrap();
    expect(
        &app,
        &puller,
        MOVE_ENGAGEMENT,
        json!({ "id": engagement, "p": b1 }),
        Some("NOT_FOUND"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_moves_with_its_findings_but_not_into_a_completed_engagement() {
    let m = moving().await;
    m.writer_on_b().await;
    let Moving {
        app,
        engagement,
        test,
        finding,
        b_engagement,
        user,
        ..
    } = m;
    // With rights on both sides the test moves, and its finding with it.
    expect(
        &app,
        &user,
        MOVE_TEST,
        json!({ "id": test, "e": b_engagement }),
        None,
    )
    .await;
    let d = app
        .ok("query($f: ID!) { node(id: $f) { ... on Finding { product { name } engagement { name } } } }", json!({ "f": finding }))
        .await;
    assert_eq!(
        d["node"],
        json!({ "product": { "name": "B1" }, "engagement": { "name": "BE" } })
    );
    // A move into a COMPLETED engagement is refused like adding a test there.
    app.ok(
        "mutation($e: ID!) { closeEngagement(input: {id: $e}) { engagement { id } } }",
        json!({ "e": engagement }),
    )
    .await;
    expect(
        &app,
        &user,
        MOVE_TEST,
        json!({ "id": test, "e": engagement }),
        Some("ENGAGEMENT_COMPLETED"),
    )
    .await;
    app.ok(
        "mutation($e: ID!) { reopenEngagement(input: {id: $e}) { engagement { id } } }",
        json!({ "e": engagement }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_engagement_brings_its_findings_under_the_new_products_sla() {
    let m = moving().await;
    m.writer_on_b().await;
    let Moving {
        app,
        a1,
        b1,
        engagement,
        b_engagement,
        user,
        ..
    } = m;
    // The engagement moves to B with everything in it; its findings follow B1's SLA.
    let other = app.test(&b_engagement, "T2").await;
    app.finding(&other, "G", "HIGH").await;
    let strict = app
        .ok("mutation { createSlaConfiguration(input: {name: \"Strict\", critical: 1}) { slaConfiguration { id } } }", json!({}))
        .await;
    app.ok(
        "mutation($p: ID!, $s: ID!) { updateProduct(input: {id: $p, slaConfigurationId: $s}) { product { id } } }",
        json!({ "p": a1, "s": strict["createSlaConfiguration"]["slaConfiguration"]["id"] }),
    )
    .await;
    let t3 = app.test(&engagement, "T3").await;
    let critical = app.finding(&t3, "C", "CRITICAL").await;
    let days = |d: &Value| d["node"]["slaDaysRemaining"].as_i64().unwrap();
    let sla_q =
        "query($f: ID!) { node(id: $f) { ... on Finding { slaDaysRemaining product { name } } } }";
    let before = app.ok(sla_q, json!({ "f": critical })).await;
    expect(
        &app,
        &user,
        MOVE_ENGAGEMENT,
        json!({ "id": engagement, "p": b1 }),
        None,
    )
    .await;
    let after = app.ok(sla_q, json!({ "f": critical })).await;
    assert_eq!(after["node"]["product"]["name"], "B1");
    assert_eq!(
        days(&after) - days(&before),
        6,
        "7 days for CRITICAL under B1's default SLA instead of 1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_product_needs_maintainer_on_the_target_product_type() {
    let m = moving().await;
    let membership = m.writer_on_b().await;
    let Moving {
        app, b, a1, user, ..
    } = m;
    // The product itself moves between the product types.
    // WRITER on B may not add products
    expect(
        &app,
        &user,
        MOVE_PRODUCT,
        json!({ "id": a1, "pt": b }),
        Some("FORBIDDEN"),
    )
    .await;
    app.ok(
        UPDATE_MEMBER,
        json!({ "id": membership, "r": "MAINTAINER" }),
    )
    .await;
    expect(
        &app,
        &user,
        MOVE_PRODUCT,
        json!({ "id": a1, "pt": b }),
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_nested_in_inputs_are_checked() {
    let app = TestApp::new().await;
    let a = app.product_type("A").await;
    let b = app.product_type("B").await;
    let a1 = app.product(&a, "A1").await;
    let b1 = app.product(&b, "B1").await;
    let test_a = app.test(&app.engagement(&a1, "E").await, "T").await;
    let test_b = app.test(&app.engagement(&b1, "E").await, "T").await;
    let finding_a = app.finding(&test_a, "F", "HIGH").await;
    let finding_b = app.finding(&test_b, "F", "HIGH").await;
    let writer = app.user("writer").await;
    on_type(&app, None, &a, &writer.id, "WRITER").await.unwrap();
    // duplicateOfId naming a finding the caller cannot see.
    expect(&app, &writer, "mutation($f: ID!, $d: ID!) { updateFinding(input: {id: $f, duplicateOfId: $d}) { finding { id } } }", json!({ "f": finding_a, "d": finding_b }), Some("NOT_FOUND")).await;
    // Notes are written in the caller's name; only superusers name another author.
    expect(&app, &writer, "mutation($p: ID!, $a: ID!) { addNote(input: {parentId: $p, entry: \"x\", authorId: $a}) { note { id } } }", json!({ "p": finding_a, "a": app.user("victim").await.id }), Some("FORBIDDEN")).await;
    let d = app
        .ok_as(&writer, "mutation($p: ID!) { addNote(input: {parentId: $p, entry: \"x\"}) { note { author { username } } } }", json!({ "p": finding_a }))
        .await;
    assert_eq!(d["addNote"]["note"]["author"]["username"], "writer");
    // Findings record their reporter.
    let d = app
        .ok_as(&writer, "mutation($t: ID!) { createFinding(input: {testId: $t, title: \"N\", severity: LOW, description: \"d\"}) { finding { reporter { username } } } }", json!({ "t": test_a }))
        .await;
    assert_eq!(
        d["createFinding"]["finding"]["reporter"]["username"],
        "writer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_role_takes_effect_on_the_next_request() {
    let app = TestApp::new().await;
    let a = app.product_type("A").await;
    let a1 = app.product(&a, "A1").await;
    let user = app.user("temp").await;
    let m = on_type(&app, None, &a, &user.id, "WRITER").await.unwrap();
    let q = "{ products(first: 10) { totalCount } }";
    assert_eq!(
        app.ok_as(&user, q, json!({})).await["products"]["totalCount"],
        1
    );
    app.ok(REMOVE_MEMBER, json!({ "id": m })).await;
    assert_eq!(
        app.ok_as(&user, q, json!({})).await["products"]["totalCount"],
        0
    );
    expect(&app, &user, "mutation($p: ID!) { createEngagement(input: {productId: $p, name: \"x\", targetStart: \"2026-01-01\", targetEnd: \"2026-01-02\"}) { engagement { id } } }", json!({ "p": a1 }), Some("NOT_FOUND")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_owners_leaving_at_once_leave_one_owner() {
    let app = TestApp::new().await;
    let pt = app.product_type("A").await;
    for round in 0..5 {
        let product = app.product(&pt, &format!("P{round}")).await;
        let first = app.user(&format!("first{round}")).await;
        let second = app.user(&format!("second{round}")).await;
        let m1 = on_product(&app, None, &product, &first.id, "OWNER")
            .await
            .unwrap();
        let m2 = on_product(&app, None, &product, &second.id, "OWNER")
            .await
            .unwrap();
        let (p1, p2) = (app.refresh(&first).await, app.refresh(&second).await);
        let (r1, r2) = tokio::join!(
            app.gql_as(&p1, REMOVE_MEMBER, json!({ "id": m1 })),
            app.gql_as(&p2, REMOVE_MEMBER, json!({ "id": m2 })),
        );
        let codes: Vec<Option<&str>> = [&r1, &r2].iter().map(|r| error_code(r)).collect();
        assert!(
            codes.contains(&None) && codes.contains(&Some("CONFLICT")),
            "round {round}: exactly one leaves, the other is refused: {r1} {r2}"
        );
        let d = app
            .ok(
                "query($p: ID!) { node(id: $p) { ... on Product { members { role } } } }",
                json!({ "p": product }),
            )
            .await;
        assert_eq!(d["node"]["members"], json!([{ "role": "OWNER" }]));
    }
}
