//! GraphQL through the schema, as the test superuser or as any principal, and the assertions
//! on what comes back: `data` without errors ([`TestApp::ok`]), error codes checked on every
//! error ([`assert_code`], [`error_code`], [`TestApp::err`]), orderings ([`assert_orders`]) and
//! ids ([`db_id`]).

use std::sync::atomic::{AtomicUsize, Ordering};

use dojoql::{auth::Principal, graphql};
use serde_json::{Value, json};

use super::{TestApp, TestUser};

static UPLOADS: AtomicUsize = AtomicUsize::new(0);

impl TestApp {
    /// Executes a GraphQL operation through the schema as the test superuser; returns the
    /// whole response as JSON.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(&self.root.clone(), query, variables).await
    }

    /// Like [`Self::ok`], as `user` (its current roles).
    pub async fn ok_as(&self, user: &TestUser, query: &str, variables: Value) -> Value {
        let r = self
            .gql_as(&self.refresh(user).await, query, variables)
            .await;
        assert!(
            r.get("errors").is_none(),
            "unexpected errors for {}: {:#}",
            user.principal.username,
            r["errors"]
        );
        r["data"].clone()
    }

    /// Executes a GraphQL operation as `principal`.
    pub async fn gql_as(&self, principal: &Principal, query: &str, variables: Value) -> Value {
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        self.execute_as(principal, request).await
    }

    /// Executes a prepared request as `principal`, the way the HTTP handler does.
    async fn execute_as(&self, principal: &Principal, request: async_graphql::Request) -> Value {
        let request = graphql::prepare(
            request,
            &self.state.db.session(),
            self.state.config.loader_delay,
            principal.clone(),
        );
        serde_json::to_value(
            graphql::execute(
                &self.state.schema,
                request,
                &self.state.config.query_limits,
                self.state.config.request_timeout,
            )
            .await,
        )
        .unwrap()
    }

    /// Like [`Self::gql`], asserting there are no errors; returns `data`.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let r = self.gql(query, variables).await;
        assert!(
            r.get("errors").is_none(),
            "unexpected errors: {:#}",
            r["errors"]
        );
        r["data"].clone()
    }

    /// Like [`Self::gql`], asserting there is an error and that every error carries the same
    /// code ([`error_code`]); returns that code.
    pub async fn err(&self, query: &str, variables: Value) -> String {
        let r = self.gql(query, variables).await;
        error_code(&r)
            .unwrap_or_else(|| panic!("expected an error, got {r:#}"))
            .to_string()
    }

    /// Like [`Self::err`], as `user` (its current roles): the code every error carries.
    pub async fn err_as(&self, user: &TestUser, query: &str, variables: Value) -> String {
        let r = self
            .gql_as(&self.refresh(user).await, query, variables)
            .await;
        error_code(&r)
            .unwrap_or_else(|| panic!("expected an error with a code, got {r:#}"))
            .to_string()
    }

    /// Like [`Self::ok`]; returns the string at the JSON `pointer` into `data` (e.g.
    /// `/createGroup/group/id`).
    pub async fn ok_id(&self, query: &str, variables: Value, pointer: &str) -> String {
        let d = self.ok(query, variables).await;
        d.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string at {pointer} in {d}"))
            .to_string()
    }

    /// Runs `query` as `principal` with one uploaded file bound to the variable `$f`.
    pub async fn gql_upload_as(
        &self,
        principal: &Principal,
        query: &str,
        variables: Value,
        bytes: &[u8],
    ) -> Value {
        use std::io::{Seek, Write};
        let mut file = tempfile_in_target();
        file.write_all(bytes).unwrap();
        file.rewind().unwrap();
        let mut request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        request.set_upload(
            "variables.f",
            async_graphql::UploadValue {
                filename: "proof.txt".into(),
                content_type: Some("text/plain".into()),
                content: file,
            },
        );
        self.execute_as(principal, request).await
    }

    /// `slaExpirationDate` of a product's findings, in creation order.
    pub async fn sla_dates(&self, product: &str) -> Vec<Value> {
        let d = self
            .ok(
                "query($id: ID!) { node(id: $id) { ... on Product { findings(first: 10) { nodes { slaExpirationDate } } } } }",
                json!({ "id": product }),
            )
            .await;
        d["node"]["findings"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["slaExpirationDate"].clone())
            .collect()
    }
}

/// Asserts that `response` holds at least one error and that EVERY error carries `code` as its
/// `extensions.code`, not only the first: a response with several errors (several root fields,
/// list items, validation) passes only if none of them answers differently.
///
/// `response` is a whole GraphQL response (`{"data": ..., "errors": [...]}`, also a websocket
/// `next` payload) or a list of errors (a websocket `error` payload).
#[track_caller]
pub fn assert_code(response: &Value, code: &str) {
    let errors = errors_of(response)
        .filter(|errors| !errors.is_empty())
        .unwrap_or_else(|| panic!("expected errors with code {code}, got {response:#}"));
    let codes: Vec<Option<&str>> = errors
        .iter()
        .map(|e| e["extensions"]["code"].as_str())
        .collect();
    assert!(
        codes.iter().all(|c| *c == Some(code)),
        "expected every error to carry {code}, got {codes:?}: {response:#}"
    );
}

/// The code of `response`'s errors, or `None` when it has no errors; asserts (with
/// [`assert_code`]) that every error carries that same code.
#[track_caller]
pub fn error_code(response: &Value) -> Option<&str> {
    let first = errors_of(response)?.first()?;
    let code = first["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("error without code: {response:#}"));
    assert_code(response, code);
    Some(code)
}

fn errors_of(response: &Value) -> Option<&Vec<Value>> {
    match response {
        Value::Array(errors) => Some(errors),
        _ => response.get("errors").and_then(Value::as_array),
    }
}

/// Asserts, for each `(field, ids in ascending order)`, that `list(orderBy)` returns that order
/// with `ASC` and with the default direction, and the reverse with `DESC`.
pub async fn assert_orders(
    orders: Vec<(&str, Vec<String>)>,
    list: impl AsyncFn(Value) -> Vec<String>,
) {
    for (field, asc) in orders {
        assert_eq!(
            list(json!({ "field": field, "direction": "ASC" })).await,
            asc,
            "{field} ASC"
        );
        assert_eq!(
            list(json!({ "field": field })).await,
            asc,
            "{field} default"
        );
        let desc: Vec<String> = asc.iter().rev().cloned().collect();
        assert_eq!(
            list(json!({ "field": field, "direction": "DESC" })).await,
            desc,
            "{field} DESC"
        );
    }
}

/// The `databaseId` inside a global id.
pub fn db_id(global: &str) -> i32 {
    dojoql::domain::ids::decode(global).unwrap().1
}

/// A new anonymous file (removed when closed) for uploads.
fn tempfile_in_target() -> std::fs::File {
    let path = std::env::temp_dir().join(format!(
        "dojoql-upload-{}-{}",
        std::process::id(),
        UPLOADS.fetch_add(1, Ordering::SeqCst)
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}
