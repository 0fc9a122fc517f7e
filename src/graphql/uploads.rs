//! Uploads are authorized before their bytes are read. A GraphQL multipart request sends its
//! `operations` (the query and variables) and `map` (which variable each file fills) before the
//! files themselves, so the HTTP layer reads those two parts, calls [`precheck`] — the query's
//! limits, then the permission each upload-taking mutation needs on its target — and only then
//! reads the files. A caller who may not attach anything to the target is refused without a byte
//! of the file being read or stored.
//!
//! Each mutation that takes an `Upload` names its checks in [`upload_checks`]; a root field that
//! receives a file but has no entry there is refused (a test keeps the table complete). The
//! mutation itself checks again in its own transaction: the precheck saves the upload, the
//! transaction decides.

use std::collections::HashSet;

use async_graphql::{
    Name, Request, Response, ServerError, Value,
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};
use async_graphql_value::Value as AstValue;

use super::limits;
use crate::{
    auth::Principal,
    db::Db,
    error::{self, ServiceError, ServiceResult},
    service::Check,
};

/// What must hold before the file of an upload-taking mutation is read.
enum Precheck {
    /// These permissions; `what` names the target in a `NOT_FOUND`.
    Checks(&'static str, Vec<Check>),
    /// The import target (by ids or names; see `service::import::precheck`).
    Import(crate::service::import::ImportTarget, bool),
}

/// The mutations that take files: for each, what its arguments (variables substituted, files
/// still `null`) call for.
fn upload_checks(
    field: &str,
    arguments: &async_graphql::indexmap::IndexMap<Name, Value>,
) -> Option<ServiceResult<Precheck>> {
    match field {
        "uploadFile" => {
            Some(super::note::upload_checks(arguments).map(|(what, c)| Precheck::Checks(what, c)))
        }
        "importScan" | "reimportScan" => {
            Some(super::import::target_of(arguments).map(|(t, auto)| Precheck::Import(t, auto)))
        }
        _ => None,
    }
}

/// The mutation fields [`upload_checks`] knows (for the test that keeps it complete).
pub const UPLOAD_FIELDS: &[&str] = &["importScan", "reimportScan", "uploadFile"];

fn refusal(e: ServiceError) -> Response {
    let e: async_graphql::Error = e.into();
    Response::from_errors(vec![e.into_server_error(Default::default())])
}

fn bad(message: impl Into<String>) -> Response {
    let mut e = ServerError::new(message, None);
    e.extensions
        .get_or_insert_with(Default::default)
        .set("code", Value::from(error::BAD_USER_INPUT));
    Response::from_errors(vec![e])
}

/// Checks a multipart request before its files are read: the query parses and is within
/// `limits`, the operation is a mutation, every variable that receives a file (`file_variables`,
/// the first segment after `variables.` of each `map` path) goes to a mutation field that takes
/// files, and `principal` holds the permission each of those fields needs on its target.
pub async fn precheck(
    db: &Db,
    principal: &Principal,
    request: &Request,
    file_variables: &HashSet<String>,
    query_limits: &limits::QueryLimits,
) -> Result<(), Response> {
    limits::check_length(&request.query, query_limits).map_err(bad)?;
    let doc = async_graphql::parser::parse_query(&request.query)
        .map_err(|e| bad(format!("the query does not parse: {e}")))?;
    limits::check(&doc, &request.variables, query_limits).map_err(bad)?;
    let Some(op) = operation(&doc, request.operation_name.as_deref()) else {
        return Err(bad("the request names no operation of its document"));
    };
    if op.node.ty != OperationType::Mutation {
        return Err(bad("files may be sent only with a mutation"));
    }
    let mut fields = Vec::new();
    root_fields(
        &doc,
        &op.node.selection_set.node,
        &mut HashSet::new(),
        &mut fields,
    );
    let mut served: HashSet<&str> = HashSet::new();
    let mut checks = Vec::new();
    for field in fields {
        let receives: Vec<&str> = file_variables
            .iter()
            .map(String::as_str)
            .filter(|v| field.arguments.iter().any(|(_, a)| uses(&a.node, v)))
            .collect();
        if receives.is_empty() {
            continue;
        }
        let arguments = field
            .arguments
            .iter()
            .map(|(name, value)| {
                let value = value.node.clone().into_const_with(|var| {
                    Ok::<_, std::convert::Infallible>(
                        request.variables.get(&var).cloned().unwrap_or(Value::Null),
                    )
                });
                (name.node.clone(), value.unwrap_or(Value::Null))
            })
            .collect();
        match upload_checks(field.name.node.as_str(), &arguments) {
            None => {
                return Err(bad(format!(
                    "`{}` does not take files",
                    field.name.node.as_str()
                )));
            }
            Some(found) => checks.push(found.map_err(refusal)?),
        }
        served.extend(receives);
    }
    if let Some(unused) = file_variables.iter().find(|v| !served.contains(v.as_str())) {
        return Err(bad(format!(
            "the file for `${unused}` is not passed to any field that takes files"
        )));
    }
    for precheck in checks {
        match precheck {
            Precheck::Checks(what, list) => {
                for check in list {
                    crate::service::check(db, principal, what, check)
                        .await
                        .map_err(refusal)?;
                }
            }
            Precheck::Import(target, auto_create) => {
                crate::service::import::precheck(db, principal, &target, auto_create)
                    .await
                    .map_err(refusal)?;
            }
        }
    }
    Ok(())
}

/// The operation a request selects: the named one, or the only one.
fn operation<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a async_graphql::Positioned<async_graphql::parser::types::OperationDefinition>> {
    let mut ops = doc.operations.iter();
    match name {
        Some(name) => ops
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, op)| op),
        None => {
            let (_, first) = ops.next()?;
            ops.next().is_none().then_some(first)
        }
    }
}

/// The root fields of `set`, through fragments (each fragment once; the limits check has
/// refused cycles already).
fn root_fields<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    seen: &mut HashSet<&'a str>,
    out: &mut Vec<&'a async_graphql::parser::types::Field>,
) {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => out.push(&f.node),
            Selection::InlineFragment(i) => root_fields(doc, &i.node.selection_set.node, seen, out),
            Selection::FragmentSpread(s) => {
                let name = s.node.fragment_name.node.as_str();
                if seen.insert(name)
                    && let Some(def) = doc.fragments.get(name)
                {
                    root_fields(doc, &def.node.selection_set.node, seen, out);
                }
            }
        }
    }
}

/// Whether `value` refers to the variable `name`.
fn uses(value: &AstValue, name: &str) -> bool {
    match value {
        AstValue::Variable(v) => v.as_str() == name,
        AstValue::List(items) => items.iter().any(|v| uses(v, name)),
        AstValue::Object(fields) => fields.values().any(|v| uses(v, name)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_mutation_taking_files_is_prechecked() {
        // Input types with an Upload field, then the mutations taking those inputs.
        let sdl = super::super::sdl();
        let doc = async_graphql::parser::parse_schema(&sdl).unwrap();
        use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
        let mut upload_inputs = Vec::new();
        for def in &doc.definitions {
            if let TypeSystemDefinition::Type(t) = def
                && let TypeKind::InputObject(i) = &t.node.kind
                && i.fields
                    .iter()
                    .any(|f| f.node.ty.node.to_string().contains("Upload"))
            {
                upload_inputs.push(t.node.name.node.to_string());
            }
        }
        let mut taking = Vec::new();
        for def in &doc.definitions {
            if let TypeSystemDefinition::Type(t) = def
                && t.node.name.node == "Mutation"
                && let TypeKind::Object(o) = &t.node.kind
            {
                for f in &o.fields {
                    let takes = f.node.arguments.iter().any(|a| {
                        let ty = a.node.ty.node.to_string();
                        ty.contains("Upload")
                            || upload_inputs.iter().any(|i| ty.contains(i.as_str()))
                    });
                    if takes {
                        taking.push(f.node.name.node.to_string());
                    }
                }
            }
        }
        taking.sort();
        let mut known: Vec<String> = super::UPLOAD_FIELDS.iter().map(|s| s.to_string()).collect();
        known.sort();
        assert_eq!(taking, known, "mutations taking files vs upload_checks");
        for field in super::UPLOAD_FIELDS {
            assert!(
                super::upload_checks(field, &Default::default()).is_some(),
                "{field}"
            );
        }
    }
}
