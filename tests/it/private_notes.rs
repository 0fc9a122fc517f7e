//! Private notes: shown only to their author, to superusers and to those whose role on the
//! note's product allows editing notes (WRITER and above, directly, through a group, through the
//! product type, or globally). To everyone else a private note does not exist: not in `notes`
//! lists, `node`, `nodes` or `deletePreview` counts, and `updateNote` / `deleteNote` answer
//! NOT_FOUND without writing anything.

use std::collections::BTreeSet;

use dojoql::auth::Principal;
use serde_json::{Value, json};

use crate::helpers::{Hierarchy, TestApp, TestUser, error_code};

const ADD: &str = "mutation($p: ID!, $e: String!, $private: Boolean!) { addNote(input: {parentId: $p, entry: $e, private: $private}) { note { id } } }";
const UPDATE: &str =
    "mutation($id: ID!) { updateNote(input: {id: $id, entry: \"edited\"}) { note { id } } }";
const DELETE: &str = "mutation($id: ID!) { deleteNote(input: {id: $id}) { deletedId } }";
const LISTS: &str = "query($ids: [ID!]!) { nodes(ids: $ids) { \
    ... on Engagement { notes { id } } ... on Test { notes { id } } ... on Finding { notes { id } } } }";

/// One kind of caller and what it should see.
struct Caller {
    name: &'static str,
    principal: Principal,
    /// Sees every private note on the product (may edit notes there).
    sees_private: bool,
    /// Wrote the author's private notes.
    is_author: bool,
    /// May delete notes (MAINTAINER and above).
    deletes: bool,
}

async fn add_note(
    app: &TestApp,
    as_: &Principal,
    parent: &str,
    entry: &str,
    private: bool,
) -> String {
    let r = app
        .gql_as(
            as_,
            ADD,
            json!({ "p": parent, "e": entry, "private": private }),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    r["data"]["addNote"]["note"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Runs `query` as `principal`: the error code, or `None`; a refusal must write nothing.
async fn code_of(
    app: &TestApp,
    principal: &Principal,
    query: &str,
    variables: Value,
) -> Option<String> {
    let before = app.snapshot().await;
    let r = app.gql_as(principal, query, variables).await;
    let code = error_code(&r).map(str::to_string);
    if code.is_some() {
        assert_eq!(
            app.snapshot().await,
            before,
            "a refused {query} wrote something"
        );
    }
    code
}

async fn principal(app: &TestApp, user: &TestUser) -> Principal {
    app.refresh(user).await
}

/// A product with public and private notes on its engagement, test and finding, and one
/// caller of each kind.
struct Notes {
    app: TestApp,
    h: Hierarchy,
    finding: String,
    public_f: String,
    private_f: String,
    private_e: String,
    private_t: String,
    public_e: String,
    as_author: Principal,
    reader: TestUser,
    callers: Vec<Caller>,
}

impl Notes {
    /// Every note, in creation order.
    fn every(&self) -> Vec<&String> {
        vec![
            &self.public_f,
            &self.private_f,
            &self.private_e,
            &self.private_t,
            &self.public_e,
        ]
    }

    /// Whether `caller` sees the note `id`.
    fn visible(&self, caller: &Caller, id: &String) -> bool {
        [&self.public_f, &self.public_e].contains(&id)
            || caller.sees_private
            || (caller.is_author && [&self.private_f, &self.private_e].contains(&id))
    }

    /// The notes `caller` sees.
    fn expected(&self, caller: &Caller) -> BTreeSet<String> {
        self.every()
            .into_iter()
            .filter(|id| self.visible(caller, id))
            .map(|id| id.to_string())
            .collect()
    }
}

async fn notes() -> Notes {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let finding = app.finding(&h.test, "F", "HIGH").await;
    // Another product type, where the global reader is a WRITER: that role shows nothing in P.
    let other_type = app.product_type("Other").await;
    let other = app.product(&other_type, "Q").await;

    let author = app.user("author").await;
    let reader = app.user("reader").await;
    let writer = app.user("writer").await;
    let maintainer = app.user("maintainer").await;
    let global_reader = app.user("global_reader").await;
    let global_writer = app.user("global_writer").await;
    let group_writer = app.user("group_writer").await;
    let type_writer = app.user("type_writer").await;
    app.grant_product(&h.product, &author.id, "READER").await;
    app.grant_product(&h.product, &reader.id, "READER").await;
    app.grant_product(&h.product, &writer.id, "WRITER").await;
    app.grant_product(&h.product, &maintainer.id, "MAINTAINER")
        .await;
    app.grant_product(&other, &global_reader.id, "WRITER").await;
    for (user, role) in [(&global_reader, "READER"), (&global_writer, "WRITER")] {
        app.ok(
            "mutation($u: ID!, $r: Role!) { setGlobalRole(input: {userId: $u, role: $r}) { user { id } } }",
            json!({ "u": user.id, "r": role }),
        )
        .await;
    }
    let group = app
        .ok_id(
            "mutation { createGroup(input: {name: \"Sec\"}) { group { id } } }",
            json!({}),
            "/createGroup/group/id",
        )
        .await;
    app.ok(
        "mutation($g: ID!, $u: ID!) { addGroupMember(input: {groupId: $g, userId: $u, role: READER}) { groupMember { id } } }",
        json!({ "g": group, "u": group_writer.id }),
    )
    .await;
    app.ok(
        "mutation($p: ID!, $g: ID!) { addProductMember(input: {productId: $p, groupId: $g, role: WRITER}) { membership { id } } }",
        json!({ "p": h.product, "g": group }),
    )
    .await;
    app.ok(
        "mutation($pt: ID!, $u: ID!) { addProductTypeMember(input: {productTypeId: $pt, userId: $u, role: WRITER}) { membership { id } } }",
        json!({ "pt": h.product_type, "u": type_writer.id }),
    )
    .await;

    // The author (a READER, who may add notes) writes private notes on the finding and the
    // engagement; the writer a private one on the test; everyone sees the public ones.
    let as_author = principal(&app, &author).await;
    let as_writer = principal(&app, &writer).await;
    let public_f = add_note(&app, &as_writer, &finding, "public on F", false).await;
    let private_f = add_note(&app, &as_author, &finding, "private on F", true).await;
    let private_e = add_note(&app, &as_author, &h.engagement, "private on E", true).await;
    let private_t = add_note(&app, &as_writer, &h.test, "private on T", true).await;
    let public_e = add_note(&app, &app.root, &h.engagement, "public on E", false).await;

    let c = |name, principal, sees_private, deletes| Caller {
        name,
        principal,
        sees_private,
        is_author: name == "author",
        deletes,
    };
    let callers = vec![
        c("author", as_author.clone(), false, false),
        c("reader", principal(&app, &reader).await, false, false),
        c("writer", as_writer.clone(), true, false),
        c("maintainer", principal(&app, &maintainer).await, true, true),
        c("superuser", app.root.clone(), true, true),
        c(
            "global_reader",
            principal(&app, &global_reader).await,
            false,
            false,
        ),
        c(
            "global_writer",
            principal(&app, &global_writer).await,
            true,
            false,
        ),
        c(
            "group_writer",
            principal(&app, &group_writer).await,
            true,
            false,
        ),
        c(
            "type_writer",
            principal(&app, &type_writer).await,
            true,
            false,
        ),
    ];
    Notes {
        app,
        h,
        finding,
        public_f,
        private_f,
        private_e,
        private_t,
        public_e,
        as_author,
        reader,
        callers,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_lists_show_private_notes_only_to_their_author_and_editors() {
    let n = notes().await;
    let (app, h) = (&n.app, &n.h);
    for caller in &n.callers {
        let who = caller.name;
        // Lists on the engagement, the test and the finding.
        let r = app
            .gql_as(
                &caller.principal,
                LISTS,
                json!({ "ids": [h.engagement, h.test, n.finding] }),
            )
            .await;
        assert!(r.get("errors").is_none(), "{who}: {r}");
        let listed: BTreeSet<String> = r["data"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|n| n["notes"].as_array().unwrap().clone())
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(listed, n.expected(caller), "{who}: notes lists");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_nodes_answer_null_for_a_hidden_private_note() {
    let n = notes().await;
    let app = &n.app;
    let every = n.every();
    for caller in &n.callers {
        let who = caller.name;
        // node and nodes: a hidden private note is null, like a missing id.
        for id in &every {
            let r = app
                .gql_as(
                    &caller.principal,
                    "query($id: ID!) { node(id: $id) { id } }",
                    json!({ "id": id }),
                )
                .await;
            assert!(r.get("errors").is_none(), "{who}: {r}");
            assert_eq!(
                r["data"]["node"].is_null(),
                !n.visible(caller, id),
                "{who}: node {id}"
            );
        }
        let r = app
            .gql_as(
                &caller.principal,
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                json!({ "ids": every }),
            )
            .await;
        let got: Vec<bool> = r["data"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| !n.is_null())
            .collect();
        let want: Vec<bool> = every.iter().map(|id| n.visible(caller, id)).collect();
        assert_eq!(got, want, "{who}: nodes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_preview_counts_only_the_notes_the_caller_sees() {
    let n = notes().await;
    let (app, h) = (&n.app, &n.h);
    for caller in &n.callers {
        let who = caller.name;
        // deletePreview of the engagement counts only the notes the caller sees.
        let r = app
            .gql_as(
                &caller.principal,
                "query($id: ID!) { deletePreview(id: $id) { counts { typeName count } } }",
                json!({ "id": h.engagement }),
            )
            .await;
        let notes = r["data"]["deletePreview"]["counts"]
            .as_array()
            .unwrap_or_else(|| panic!("{who}: {r}"))
            .iter()
            .find(|c| c["typeName"] == "Note")
            .map(|c| c["count"].as_u64().unwrap())
            .unwrap_or(0);
        assert_eq!(
            notes as usize,
            n.expected(caller).len(),
            "{who}: deletePreview"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_editors_update_a_private_note() {
    let n = notes().await;
    let app = &n.app;
    for caller in &n.callers {
        let who = caller.name;
        // Editing the author's private note: editors may, the author sees it but may not
        // (a READER), everyone else is told it does not exist.
        let want = if caller.sees_private {
            None
        } else if caller.is_author {
            Some("FORBIDDEN".to_string())
        } else {
            Some("NOT_FOUND".to_string())
        };
        assert_eq!(
            code_of(app, &caller.principal, UPDATE, json!({ "id": n.private_f })).await,
            want,
            "{who}: updateNote"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_maintainers_delete_a_private_note() {
    let n = notes().await;
    let app = &n.app;
    for caller in &n.callers {
        let who = caller.name;
        // Deleting one: MAINTAINER and above may; a WRITER or the author sees it and is
        // FORBIDDEN; everyone else NOT_FOUND.
        let doomed = add_note(app, &n.as_author, &n.finding, "to delete", true).await;
        let want = if caller.deletes {
            None
        } else if caller.sees_private || caller.is_author {
            Some("FORBIDDEN".to_string())
        } else {
            Some("NOT_FOUND".to_string())
        };
        assert_eq!(
            code_of(app, &caller.principal, DELETE, json!({ "id": doomed })).await,
            want,
            "{who}: deleteNote"
        );
        if want.is_some() {
            app.ok(DELETE, json!({ "id": doomed })).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_may_not_edit_a_public_note_it_sees() {
    let n = notes().await;
    let app = &n.app;
    // Public notes stay readable and editable by their rules: a READER reads them and is
    // FORBIDDEN (not NOT_FOUND) to edit them.
    let as_reader = principal(app, &n.reader).await;
    assert_eq!(
        code_of(app, &as_reader, UPDATE, json!({ "id": n.public_f })).await,
        Some("FORBIDDEN".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn making_a_note_private_hides_it_and_copies_stay_private() {
    let app = TestApp::new().await;
    let h = app.hierarchy().await;
    let reader = app.user("reader").await;
    app.grant_product(&h.product, &reader.id, "READER").await;
    let note = add_note(&app, &app.root, &h.engagement, "soon private", false).await;
    let as_reader = principal(&app, &reader).await;
    let seen = |r: Value| !r["data"]["node"].is_null();
    let node = "query($id: ID!) { node(id: $id) { id } }";
    assert!(seen(
        app.gql_as(&as_reader, node, json!({ "id": note })).await
    ));
    app.ok(
        "mutation($id: ID!) { updateNote(input: {id: $id, private: true}) { note { private } } }",
        json!({ "id": note }),
    )
    .await;
    assert!(!seen(
        app.gql_as(&as_reader, node, json!({ "id": note })).await
    ));

    // A copy of the engagement keeps the note private.
    let copy = app
        .ok_id(
            "mutation($id: ID!) { copyEngagement(input: {id: $id, name: \"copy\"}) { engagement { id } } }",
            json!({ "id": h.engagement }),
            "/copyEngagement/engagement/id",
        )
        .await;
    let d = app
        .ok_as(
            &reader,
            "query($id: ID!) { node(id: $id) { ... on Engagement { notes { id } } } }",
            json!({ "id": copy }),
        )
        .await;
    assert_eq!(d["node"]["notes"], json!([]));
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Engagement { notes { entry private } } } }",
            json!({ "id": copy }),
        )
        .await;
    assert_eq!(
        d["node"]["notes"],
        json!([{ "entry": "soon private", "private": true }])
    );
}
