//! The permission matrix (reference §7.1, threat model A4): every mutation of the schema × every
//! kind of user × a target in product type A and one in product type B. Allowed exactly where
//! the matrix says; on a deny the error code is FORBIDDEN (the target is visible) or NOT_FOUND
//! (it is not), and a snapshot of the whole database is unchanged.
//!
//! The allowed roles of each mutation are written out here from the reference table, not taken
//! from the code under test.

use std::sync::atomic::{AtomicUsize, Ordering};

use diesel_async::SimpleAsyncConnection;
use dojoql::domain::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, db_id, error_code};

/// The users of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Superuser,
    /// This role on product type A (and so on all its products).
    OnA(Role),
    /// WRITER on product type A through a group (READER inside the group).
    GroupWriter,
    /// OWNER of product A1 only (not of product type A).
    ProductOwner,
    /// Global READER.
    GlobalReader,
    NoRole,
}

const USERS: &[Who] = &[
    Who::Superuser,
    Who::OnA(Role::Reader),
    Who::OnA(Role::ApiImporter),
    Who::OnA(Role::Writer),
    Who::OnA(Role::Maintainer),
    Who::OnA(Role::Owner),
    Who::GroupWriter,
    Who::ProductOwner,
    Who::GlobalReader,
    Who::NoRole,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

/// What a mutation's permission is checked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    ProductType,
    Product,
    /// Nothing in A or B: a global role (MAINTAINER or OWNER) or a superuser.
    GlobalMaintainer,
    /// Superusers only; everyone else is FORBIDDEN.
    Superuser,
    /// Another user's token: superusers only; to everyone else it does not exist.
    ForeignToken,
    /// A group whose only member among the matrix users is the group writer (a READER there).
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Forbidden,
    NotFound,
}

use Role::*;

const IMPORTER_UP: &[Role] = &[ApiImporter, Writer, Maintainer, Owner];
const WRITER_UP: &[Role] = &[Writer, Maintainer, Owner];
const MAINTAINER_UP: &[Role] = &[Maintainer, Owner];
const OWNER: &[Role] = &[Owner];
const NOTE_ADDERS: &[Role] = &[Reader, Writer, Maintainer, Owner];

/// Every mutation: what it is checked on and the roles that may run it (reference §7.1).
const MATRIX: &[(&str, On, &[Role])] = &[
    ("createProductType", On::GlobalMaintainer, &[]),
    ("updateProductType", On::ProductType, MAINTAINER_UP),
    ("deleteProductType", On::ProductType, OWNER),
    ("createProduct", On::ProductType, MAINTAINER_UP),
    ("updateProduct", On::Product, MAINTAINER_UP),
    ("deleteProduct", On::Product, OWNER),
    ("createEngagement", On::Product, IMPORTER_UP),
    ("updateEngagement", On::Product, IMPORTER_UP),
    ("deleteEngagement", On::Product, MAINTAINER_UP),
    ("closeEngagement", On::Product, IMPORTER_UP),
    ("reopenEngagement", On::Product, IMPORTER_UP),
    ("copyEngagement", On::Product, IMPORTER_UP),
    ("createTest", On::Product, WRITER_UP),
    ("updateTest", On::Product, IMPORTER_UP),
    ("deleteTest", On::Product, MAINTAINER_UP),
    ("createFinding", On::Product, WRITER_UP),
    ("updateFinding", On::Product, WRITER_UP),
    ("deleteFinding", On::Product, MAINTAINER_UP),
    ("addNote", On::Product, NOTE_ADDERS),
    ("updateNote", On::Product, WRITER_UP),
    ("deleteNote", On::Product, MAINTAINER_UP),
    ("uploadFile", On::Product, WRITER_UP),
    ("importScan", On::Product, IMPORTER_UP),
    ("reimportScan", On::Product, IMPORTER_UP),
    ("deleteFile", On::Product, WRITER_UP),
    ("addProductTypeMember", On::ProductType, MAINTAINER_UP),
    ("addProductMember", On::Product, MAINTAINER_UP),
    ("updateMember", On::Product, MAINTAINER_UP),
    ("removeMember", On::Product, MAINTAINER_UP),
    ("createUser", On::Superuser, &[]),
    ("updateUser", On::Superuser, &[]),
    ("createApiToken", On::Superuser, &[]),
    ("revokeApiToken", On::ForeignToken, &[]),
    ("createSlaConfiguration", On::Superuser, &[]),
    ("updateSlaConfiguration", On::Superuser, &[]),
    ("deleteSlaConfiguration", On::Superuser, &[]),
    ("setGlobalRole", On::Superuser, &[]),
    (
        "updateNotificationSettings",
        On::Product,
        &[Reader, ApiImporter, Writer, Maintainer, Owner],
    ),
    ("updateSystemSettings", On::Superuser, &[]),
    ("createGroup", On::GlobalMaintainer, &[]),
    ("addGroupMember", On::Group, &[]),
    ("removeGroupMember", On::Group, &[]),
];

/// The roles `who` holds where `on` is checked on `side`, and whether it sees the target.
fn roles(who: Who, on: On, side: Side) -> (bool, Vec<Role>) {
    match (who, side) {
        (Who::Superuser, _) => (true, Role::ALL.to_vec()),
        (Who::GlobalReader, _) => (true, vec![Reader]),
        (Who::OnA(r), Side::A) => (true, vec![r]),
        (Who::GroupWriter, Side::A) => (true, vec![Writer]),
        (Who::ProductOwner, Side::A) => match on {
            On::Product => (true, vec![Owner]),
            // It sees product type A through its product, but holds no role on it.
            _ => (true, vec![]),
        },
        _ => (false, vec![]),
    }
}

fn expected(who: Who, on: On, side: Side, allowed: &[Role]) -> Outcome {
    let superuser = who == Who::Superuser;
    match on {
        On::GlobalMaintainer | On::Superuser if superuser => Outcome::Allowed,
        On::GlobalMaintainer | On::Superuser => Outcome::Forbidden,
        On::ForeignToken if superuser => Outcome::Allowed,
        On::ForeignToken => Outcome::NotFound,
        On::Group => match who {
            Who::Superuser => Outcome::Allowed,
            Who::GroupWriter => Outcome::Forbidden,
            _ => Outcome::NotFound,
        },
        On::ProductType | On::Product => {
            let (visible, held) = roles(who, on, side);
            if !visible {
                Outcome::NotFound
            } else if held.iter().any(|r| allowed.contains(r)) {
                Outcome::Allowed
            } else {
                Outcome::Forbidden
            }
        }
    }
}

/// Objects of one side, created by the superuser.
struct SideIds {
    product_type: String,
    product: String,
    /// Receives new tests and findings (never closed).
    engagement: String,
    /// Closed and reopened by the matrix.
    lifecycle: String,
    test: String,
    finding: String,
    note: String,
}

struct Fixture {
    app: TestApp,
    users: Vec<(Who, TestUser)>,
    a: SideIds,
    b: SideIds,
    /// The group through which the group writer holds WRITER on product type A.
    group: String,
    bystander: TestUser,
    sla: String,
}

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", UNIQUE.fetch_add(1, Ordering::SeqCst))
}

impl Fixture {
    fn side(&self, side: Side) -> &SideIds {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    async fn build() -> Fixture {
        let app = TestApp::new().await;
        let a = side_ids(&app, "A").await;
        let b = side_ids(&app, "B").await;
        let group = app
            .ok_id(
                "mutation { createGroup(input: {name: \"G\"}) { group { id } } }",
                json!({}),
                "/createGroup/group/id",
            )
            .await;
        grant_type(&app, &a.product_type, json!({ "groupId": group }), "WRITER").await;
        let mut users = Vec::new();
        for who in USERS {
            let user = match who {
                Who::Superuser => {
                    let u = app.user("super").await;
                    app.ok(
                        "mutation($u: ID!) { updateUser(input: {id: $u, isSuperuser: true}) { user { id } } }",
                        json!({ "u": u.id }),
                    )
                    .await;
                    u
                }
                Who::OnA(r) => {
                    let u = app.user(&format!("a_{}", r.as_str().to_lowercase())).await;
                    grant_type(&app, &a.product_type, json!({ "userId": u.id }), r.as_str()).await;
                    u
                }
                Who::GroupWriter => {
                    let u = app.user("group_writer").await;
                    app.ok(
                        "mutation($g: ID!, $u: ID!) { addGroupMember(input: {groupId: $g, userId: $u, role: READER}) { groupMember { id } } }",
                        json!({ "g": group, "u": u.id }),
                    )
                    .await;
                    u
                }
                Who::ProductOwner => {
                    let u = app.user("product_owner").await;
                    app.ok(
                        "mutation($p: ID!, $u: ID!) { addProductMember(input: {productId: $p, userId: $u, role: OWNER}) { membership { id } } }",
                        json!({ "p": a.product, "u": u.id }),
                    )
                    .await;
                    u
                }
                Who::GlobalReader => {
                    let u = app.user("global_reader").await;
                    app.ok(
                        "mutation($u: ID!) { setGlobalRole(input: {userId: $u, role: READER}) { user { id } } }",
                        json!({ "u": u.id }),
                    )
                    .await;
                    u
                }
                Who::NoRole => app.user("nobody").await,
            };
            users.push((*who, user));
        }
        let bystander = app.user("bystander").await;
        let sla = app
            .ok_id(
                "mutation { createSlaConfiguration(input: {name: \"Strict\"}) { slaConfiguration { id } } }",
                json!({}),
                "/createSlaConfiguration/slaConfiguration/id",
            )
            .await;
        Fixture {
            app,
            users,
            a,
            b,
            group,
            bystander,
            sla,
        }
    }

    /// A fresh engagement in the side's product.
    async fn engagement(&self, side: Side) -> String {
        self.app
            .engagement(&self.side(side).product, &unique("E"))
            .await
    }

    /// A fresh finding in the side's test.
    async fn finding(&self, side: Side) -> String {
        self.app
            .finding(&self.side(side).test, &unique("F"), "HIGH")
            .await
    }

    /// The query and variables that run `mutation` against a fresh or fixture target of `side`.
    async fn prepare(&self, mutation: &str, side: Side) -> (String, Value) {
        let app = &self.app;
        let s = self.side(side);
        let input = |q: &str, i: Value| (q.to_string(), json!({ "i": i }));
        match mutation {
            "createProductType" => input(
                "mutation($i: CreateProductTypeInput!) { createProductType(input: $i) { productType { id } } }",
                json!({ "name": unique("PT") }),
            ),
            "updateProductType" => input(
                "mutation($i: UpdateProductTypeInput!) { updateProductType(input: $i) { productType { id } } }",
                json!({ "id": s.product_type, "description": unique("d") }),
            ),
            "deleteProductType" => {
                // A fresh product type, with a product, carrying the same memberships as the
                // side's product type and product.
                let pt = app.product_type(&unique("PT")).await;
                copy_memberships(app, "product_type_id", &s.product_type, &pt).await;
                let p = app.product(&pt, &unique("P")).await;
                copy_memberships(app, "product_id", &s.product, &p).await;
                input(
                    "mutation($i: IdInput!) { deleteProductType(input: $i) { deletedId } }",
                    json!({ "id": pt }),
                )
            }
            "createProduct" => input(
                "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } } }",
                json!({ "name": unique("P"), "description": "d", "productTypeId": s.product_type }),
            ),
            "updateProduct" => input(
                "mutation($i: UpdateProductInput!) { updateProduct(input: $i) { product { id } } }",
                json!({ "id": s.product, "description": unique("d") }),
            ),
            "deleteProduct" => {
                let p = app.product(&s.product_type, &unique("P")).await;
                copy_memberships(app, "product_id", &s.product, &p).await;
                input(
                    "mutation($i: IdInput!) { deleteProduct(input: $i) { deletedId } }",
                    json!({ "id": p }),
                )
            }
            "createEngagement" => input(
                "mutation($i: CreateEngagementInput!) { createEngagement(input: $i) { engagement { id } } }",
                json!({ "productId": s.product, "name": unique("E"), "targetStart": "2026-01-01", "targetEnd": "2026-02-01" }),
            ),
            "updateEngagement" => input(
                "mutation($i: UpdateEngagementInput!) { updateEngagement(input: $i) { engagement { id } } }",
                json!({ "id": s.engagement, "description": unique("d") }),
            ),
            "deleteEngagement" => input(
                "mutation($i: IdInput!) { deleteEngagement(input: $i) { deletedId } }",
                json!({ "id": self.engagement(side).await }),
            ),
            "closeEngagement" => input(
                "mutation($i: IdInput!) { closeEngagement(input: $i) { engagement { id } } }",
                json!({ "id": s.lifecycle }),
            ),
            "reopenEngagement" => input(
                "mutation($i: IdInput!) { reopenEngagement(input: $i) { engagement { id } } }",
                json!({ "id": s.lifecycle }),
            ),
            "copyEngagement" => input(
                "mutation($i: CopyEngagementInput!) { copyEngagement(input: $i) { engagement { id } } }",
                json!({ "id": s.engagement, "name": unique("copy") }),
            ),
            "createTest" => input(
                "mutation($i: CreateTestInput!) { createTest(input: $i) { test { id } } }",
                json!({ "engagementId": s.engagement, "testType": "Pen Test", "targetStart": "2026-01-01", "targetEnd": "2026-01-02" }),
            ),
            "updateTest" => input(
                "mutation($i: UpdateTestInput!) { updateTest(input: $i) { test { id } } }",
                json!({ "id": s.test, "description": unique("d") }),
            ),
            "deleteTest" => {
                let e = self.engagement(side).await;
                input(
                    "mutation($i: IdInput!) { deleteTest(input: $i) { deletedId } }",
                    json!({ "id": app.test(&e, "T").await }),
                )
            }
            "createFinding" => input(
                "mutation($i: CreateFindingInput!) { createFinding(input: $i) { finding { id } } }",
                json!({ "testId": s.test, "title": unique("F"), "severity": "LOW", "description": "d" }),
            ),
            "updateFinding" => input(
                "mutation($i: UpdateFindingInput!) { updateFinding(input: $i) { finding { id } } }",
                json!({ "id": s.finding, "description": unique("d") }),
            ),
            "deleteFinding" => input(
                "mutation($i: IdInput!) { deleteFinding(input: $i) { deletedId } }",
                json!({ "id": self.finding(side).await }),
            ),
            "addNote" => input(
                "mutation($i: AddNoteInput!) { addNote(input: $i) { note { id } } }",
                json!({ "parentId": s.finding, "entry": unique("n") }),
            ),
            "updateNote" => input(
                "mutation($i: UpdateNoteInput!) { updateNote(input: $i) { note { id } } }",
                json!({ "id": s.note, "entry": unique("n") }),
            ),
            "deleteNote" => {
                let d = app
                    .ok(
                        "mutation($p: ID!) { addNote(input: {parentId: $p, entry: \"x\"}) { note { id } } }",
                        json!({ "p": s.finding }),
                    )
                    .await;
                input(
                    "mutation($i: IdInput!) { deleteNote(input: $i) { deletedId } }",
                    json!({ "id": d["addNote"]["note"]["id"] }),
                )
            }
            "uploadFile" => (UPLOAD.into(), json!({ "p": s.finding, "f": null })),
            "importScan" => (
                "mutation($e: ID!, $f: Upload!) { importScan(input: {scanType: \"ZAP Scan\", engagementId: $e, file: $f}) { test { id } } }".into(),
                json!({ "e": s.engagement, "f": null }),
            ),
            "reimportScan" => (
                "mutation($t: ID!, $f: Upload!) { reimportScan(input: {scanType: \"ZAP Scan\", testId: $t, file: $f}) { test { id } } }".into(),
                json!({ "t": s.test, "f": null }),
            ),
            "deleteFile" => {
                let r = app
                    .gql_upload_as(
                        &app.root,
                        UPLOAD,
                        json!({ "p": s.finding, "f": null }),
                        b"x",
                    )
                    .await;
                input(
                    "mutation($i: IdInput!) { deleteFile(input: $i) { deletedId } }",
                    json!({ "id": r["data"]["uploadFile"]["file"]["id"] }),
                )
            }
            "addProductTypeMember" => {
                let u = app.user(&unique("u")).await;
                input(
                    "mutation($i: AddProductTypeMemberInput!) { addProductTypeMember(input: $i) { membership { id } } }",
                    json!({ "productTypeId": s.product_type, "userId": u.id, "role": "READER" }),
                )
            }
            "addProductMember" => {
                let u = app.user(&unique("u")).await;
                input(
                    "mutation($i: AddProductMemberInput!) { addProductMember(input: $i) { membership { id } } }",
                    json!({ "productId": s.product, "userId": u.id, "role": "READER" }),
                )
            }
            "updateMember" => input(
                "mutation($i: UpdateMemberInput!) { updateMember(input: $i) { membership { id role } } }",
                json!({ "id": self.membership(side).await, "role": "WRITER" }),
            ),
            "removeMember" => input(
                "mutation($i: IdInput!) { removeMember(input: $i) { removedId } }",
                json!({ "id": self.membership(side).await }),
            ),
            "createUser" => input(
                "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
                json!({ "username": unique("u") }),
            ),
            "updateUser" => input(
                "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { id } } }",
                json!({ "id": self.bystander.id, "firstName": unique("f") }),
            ),
            "createApiToken" => input(
                "mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token } }",
                json!({ "userId": self.bystander.id, "name": "x" }),
            ),
            "revokeApiToken" => {
                let d = app
                    .ok(
                        "mutation($u: ID!) { createApiToken(input: {userId: $u, name: \"x\"}) { apiToken { id } } }",
                        json!({ "u": self.bystander.id }),
                    )
                    .await;
                input(
                    "mutation($i: IdInput!) { revokeApiToken(input: $i) { apiToken { id } } }",
                    json!({ "id": d["createApiToken"]["apiToken"]["id"] }),
                )
            }
            "createSlaConfiguration" => input(
                "mutation($i: CreateSlaConfigurationInput!) { createSlaConfiguration(input: $i) { slaConfiguration { id } } }",
                json!({ "name": unique("SLA") }),
            ),
            "updateSlaConfiguration" => input(
                "mutation($i: UpdateSlaConfigurationInput!) { updateSlaConfiguration(input: $i) { slaConfiguration { id } } }",
                json!({ "id": self.sla, "description": unique("d") }),
            ),
            "deleteSlaConfiguration" => {
                let d = app
                    .ok(
                        "mutation($n: String!) { createSlaConfiguration(input: {name: $n}) { slaConfiguration { id } } }",
                        json!({ "n": unique("SLA") }),
                    )
                    .await;
                input(
                    "mutation($i: IdInput!) { deleteSlaConfiguration(input: $i) { deletedId } }",
                    json!({ "id": d["createSlaConfiguration"]["slaConfiguration"]["id"] }),
                )
            }
            "setGlobalRole" => input(
                "mutation($i: SetGlobalRoleInput!) { setGlobalRole(input: $i) { user { id } } }",
                json!({ "userId": self.bystander.id, "role": "READER" }),
            ),
            "updateNotificationSettings" => input(
                "mutation($i: UpdateNotificationSettingsInput!) { updateNotificationSettings(input: $i) { notificationSettings { kinds } } }",
                json!({ "productId": s.product, "kinds": ["FINDING_CHANGED"] }),
            ),
            "updateSystemSettings" => input(
                "mutation($i: UpdateSystemSettingsInput!) { updateSystemSettings(input: $i) { systemSettings { engagementAutoCloseDays } } }",
                json!({ "engagementAutoCloseDays": UNIQUE.fetch_add(1, Ordering::SeqCst) % 100 }),
            ),
            "createGroup" => input(
                "mutation($i: CreateGroupInput!) { createGroup(input: $i) { group { id } } }",
                json!({ "name": unique("G") }),
            ),
            "addGroupMember" => {
                let u = app.user(&unique("u")).await;
                input(
                    "mutation($i: AddGroupMemberInput!) { addGroupMember(input: $i) { groupMember { id } } }",
                    json!({ "groupId": self.group, "userId": u.id, "role": "READER" }),
                )
            }
            "removeGroupMember" => {
                let u = app.user(&unique("u")).await;
                app.ok(
                    "mutation($g: ID!, $u: ID!) { addGroupMember(input: {groupId: $g, userId: $u, role: READER}) { groupMember { id } } }",
                    json!({ "g": self.group, "u": u.id }),
                )
                .await;
                input(
                    "mutation($i: RemoveGroupMemberInput!) { removeGroupMember(input: $i) { removedId } }",
                    json!({ "groupId": self.group, "userId": u.id }),
                )
            }
            other => panic!("no matrix preparation for {other}"),
        }
    }

    /// A fresh READER membership of a fresh user on the side's product.
    async fn membership(&self, side: Side) -> String {
        let u = self.app.user(&unique("m")).await;
        self.app
            .grant_product(&self.side(side).product, &u.id, "READER")
            .await
    }
}

const UPLOAD: &str = "mutation($p: ID!, $f: Upload!) { uploadFile(input: {parentId: $p, file: $f}) { file { id } } }";

async fn side_ids(app: &TestApp, name: &str) -> SideIds {
    let product_type = app.product_type(name).await;
    let product = app.product(&product_type, &format!("{name}1")).await;
    let engagement = app.engagement(&product, "E").await;
    let lifecycle = app.engagement(&product, "Lifecycle").await;
    let test = app.test(&engagement, "T").await;
    let finding = app.finding(&test, "F", "HIGH").await;
    let d = app
        .ok(
            "mutation($p: ID!) { addNote(input: {parentId: $p, entry: \"n\"}) { note { id } } }",
            json!({ "p": finding }),
        )
        .await;
    SideIds {
        product_type,
        product,
        engagement,
        lifecycle,
        test,
        finding,
        note: d["addNote"]["note"]["id"].as_str().unwrap().to_string(),
    }
}

async fn grant_type(app: &TestApp, product_type: &str, member: Value, role: &str) {
    let mut input = json!({ "productTypeId": product_type, "role": role });
    crate::helpers::merge(&mut input, member);
    app.ok(
        "mutation($i: AddProductTypeMemberInput!) { addProductTypeMember(input: $i) { membership { id } } }",
        json!({ "i": input }),
    )
    .await;
}

/// Copies the memberships held on one product type or product (`column`) to another.
async fn copy_memberships(app: &TestApp, column: &str, from: &str, to: &str) {
    let mut c = app.sql().await;
    c.batch_execute(&format!(
        "INSERT INTO memberships ({column}, user_id, group_id, role) \
         SELECT {}, user_id, group_id, role FROM memberships WHERE {column} = {}",
        db_id(to),
        db_id(from)
    ))
    .await
    .unwrap();
}

/// Runs every case of the mutations in `names`; returns the failures.
async fn run(names: &[&str]) -> Vec<String> {
    let fx = Fixture::build().await;
    let mut failures = Vec::new();
    for name in names {
        let (_, on, allowed) = MATRIX
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("{name} has no matrix row"));
        let sides: &[Side] = match on {
            On::ProductType | On::Product => &[Side::A, Side::B],
            _ => &[Side::A],
        };
        for side in sides {
            for (who, user) in &fx.users {
                let want = expected(*who, *on, *side, allowed);
                let (query, variables) = fx.prepare(name, *side).await;
                let before = fx.app.snapshot().await;
                let principal = fx.app.refresh(user).await;
                let r = if *name == "uploadFile" {
                    fx.app
                        .gql_upload_as(&principal, &query, variables, b"proof")
                        .await
                } else if name.ends_with("importScan") || *name == "reimportScan" {
                    let zap = std::fs::read(concat!(
                        env!("CARGO_MANIFEST_DIR"),
                        "/tests/fixtures/scans/zap/0_zap_sample.xml"
                    ))
                    .unwrap();
                    fx.app
                        .gql_upload_as(&principal, &query, variables, &zap)
                        .await
                } else {
                    fx.app.gql_as(&principal, &query, variables).await
                };
                let code = error_code(&r);
                let got = match code {
                    None => Outcome::Allowed,
                    Some("FORBIDDEN") => Outcome::Forbidden,
                    Some("NOT_FOUND") => Outcome::NotFound,
                    Some(other) => {
                        failures.push(format!("{name} {side:?} {who:?}: unexpected {other}: {r}"));
                        continue;
                    }
                };
                if got != want {
                    failures.push(format!(
                        "{name} {side:?} {who:?}: expected {want:?}, got {got:?}: {r}"
                    ));
                } else if got != Outcome::Allowed && fx.app.snapshot().await != before {
                    failures.push(format!(
                        "{name} {side:?} {who:?}: refused but the database changed"
                    ));
                }
            }
        }
    }
    failures
}

async fn assert_matrix(names: &[&str]) {
    let failures = run(names).await;
    assert!(
        failures.is_empty(),
        "{} matrix failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The mutations of the schema, by introspection.
async fn schema_mutations() -> Vec<String> {
    let schema = dojoql::graphql::build(None, None, &Default::default());
    let r = schema
        .execute("{ __schema { mutationType { fields { name } } } }")
        .await
        .into_result()
        .unwrap();
    let data = r.data.into_json().unwrap();
    data["__schema"]["mutationType"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

const HIERARCHY: &[&str] = &[
    "createProductType",
    "updateProductType",
    "deleteProductType",
    "createProduct",
    "updateProduct",
    "deleteProduct",
    "createEngagement",
    "updateEngagement",
    "deleteEngagement",
    "closeEngagement",
    "reopenEngagement",
    "copyEngagement",
];

const BELOW: &[&str] = &[
    "createTest",
    "updateTest",
    "deleteTest",
    "createFinding",
    "updateFinding",
    "deleteFinding",
    "addNote",
    "updateNote",
    "deleteNote",
    "uploadFile",
    "deleteFile",
];

const ADMINISTRATION: &[&str] = &[
    "addProductTypeMember",
    "addProductMember",
    "updateMember",
    "removeMember",
    "createUser",
    "updateUser",
    "createApiToken",
    "revokeApiToken",
    "createSlaConfiguration",
    "updateSlaConfiguration",
    "deleteSlaConfiguration",
    "setGlobalRole",
    "updateNotificationSettings",
    "updateSystemSettings",
    "createGroup",
    "addGroupMember",
    "removeGroupMember",
];

#[tokio::test]
async fn every_mutation_has_a_matrix_row() {
    let mut in_schema = schema_mutations().await;
    in_schema.sort();
    let mut in_matrix: Vec<String> = MATRIX.iter().map(|(n, _, _)| n.to_string()).collect();
    in_matrix.sort();
    assert_eq!(
        in_schema, in_matrix,
        "every mutation of the schema needs a row in rbac::MATRIX (and nothing else may have one)"
    );
    let mut run: Vec<&str> = [HIERARCHY, BELOW, ADMINISTRATION, IMPORTS].concat();
    run.sort();
    let mut rows: Vec<&str> = MATRIX.iter().map(|(n, _, _)| *n).collect();
    rows.sort();
    assert_eq!(
        run, rows,
        "every matrix row is run by one of the matrix tests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_product_types_products_and_engagements() {
    assert_matrix(HIERARCHY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_tests_findings_notes_and_files() {
    assert_matrix(BELOW).await;
}

/// Scan import (by engagement id) and re-import (by test id).
const IMPORTS: &[&str] = &["importScan", "reimportScan"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_scan_import() {
    assert_matrix(IMPORTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_members_users_tokens_sla_and_groups() {
    assert_matrix(ADMINISTRATION).await;
}
