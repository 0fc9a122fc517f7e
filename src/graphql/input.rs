//! Shared helpers for decoding input objects: optional fields (`MaybeUndefined`) as changeset
//! fields, text lengths, links, tags and lists of names. Entity files use these; none of them
//! imports another entity file for a helper.

use async_graphql::{ID, MaybeUndefined};

use super::ids;
use crate::{
    domain::{self, ids::TypedId},
    error::{ServiceError, ServiceResult},
};

/// `MaybeUndefined` (absent / null / value) as a changeset field (keep / clear / set).
pub fn maybe<T>(v: MaybeUndefined<T>) -> Option<Option<T>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// `MaybeUndefined` global id of a `T` as a changeset field (keep / clear / set).
pub fn maybe_id<T: TypedId>(v: MaybeUndefined<ID>) -> ServiceResult<Option<Option<T>>> {
    Ok(match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(id) => Some(Some(ids::decode::<T>(&id)?)),
    })
}

/// The text a `MaybeUndefined` field sets, if any (for [`check_lengths`]).
pub fn maybe_str(v: &MaybeUndefined<String>) -> Option<&str> {
    v.value().map(String::as_str)
}

/// A text-array column as a list (Postgres arrays may hold NULLs; ours never do).
pub fn strings(v: &[Option<String>]) -> Vec<String> {
    v.iter().flatten().cloned().collect()
}

/// Refuses a text longer than its column holds (`max` characters) as BAD_USER_INPUT, instead of
/// letting Postgres fail the write with an internal "value too long" error.
pub fn check_len(field: &str, value: Option<&str>, max: usize) -> ServiceResult<()> {
    match value {
        Some(v) if v.chars().count() > max => Err(ServiceError::bad_input(format!(
            "{field} must be at most {max} characters"
        ))),
        _ => Ok(()),
    }
}

/// [`check_len`] for several fields: `(name, value, max)`.
pub fn check_lengths(fields: &[(&str, Option<&str>, usize)]) -> ServiceResult<()> {
    for (field, value, max) in fields {
        check_len(field, *value, *max)?;
    }
    Ok(())
}

/// Validated, lowercased tags.
pub fn clean_tags(tags: Vec<String>) -> ServiceResult<Vec<String>> {
    domain::clean_tags(&tags).map_err(ServiceError::from)
}

/// A list of names (`field` names one), each trimmed and at most 200 characters.
pub fn clean_strings(field: &str, v: Vec<String>) -> ServiceResult<Vec<String>> {
    domain::check_list_len(&format!("{field}s"), &v)?;
    v.iter()
        .map(|s| domain::clean_name(field, s, 200).map_err(ServiceError::from))
        .collect()
}

/// An optional link (see `domain::check_url`).
pub fn url(field: &str, v: Option<String>, max: usize, scm: bool) -> ServiceResult<Option<String>> {
    v.map(|v| domain::check_url(field, &v, max, scm))
        .transpose()
        .map_err(ServiceError::from)
}

/// An optional link as a changeset field.
pub fn maybe_url(
    field: &str,
    v: MaybeUndefined<String>,
    max: usize,
    scm: bool,
) -> ServiceResult<Option<Option<String>>> {
    Ok(match maybe(v) {
        Some(Some(v)) => Some(Some(
            domain::check_url(field, &v, max, scm).map_err(ServiceError::from)?,
        )),
        other => other,
    })
}

/// Input naming one object.
#[derive(async_graphql::InputObject, Debug, Clone)]
pub struct IdInput {
    pub id: ID,
}

/// The largest accepted upload, in bytes (schema data).
#[derive(Debug, Clone, Copy)]
pub struct UploadLimit(pub usize);
