//! GraphQL multipart requests (<https://github.com/jaydenseric/graphql-multipart-request-spec>),
//! read as a stream in the spec's order: `operations` (the query and variables), `map` (which
//! variables each file fills), then the files. [`start`] reads the first two parts only, so the
//! caller can check the operation (`graphql::uploads::precheck`) before [`Pending::files`] reads
//! a byte of any file. Files are spooled to anonymous temporary files, each at most
//! `max_file_bytes`, at most `max_files` of them.

use std::{
    collections::{HashMap, HashSet},
    io::{Seek, SeekFrom},
};

use axum::{body::Body, http::StatusCode, response::Response};
use tokio::io::AsyncWriteExt;

use super::request_error;
use crate::error as codes;

/// The caps of one multipart request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The `operations` and `map` parts, each.
    pub(crate) max_json_bytes: usize,
    /// Each file.
    pub(crate) max_file_bytes: usize,
    /// Files per request.
    pub(crate) max_files: usize,
}

/// A multipart request whose operations have been read and whose files have not.
pub(crate) struct Pending {
    multipart: multer::Multipart<'static>,
    pub(crate) request: async_graphql::Request,
    /// File part name → the variable paths it fills (`variables.input.file`).
    map: HashMap<String, Vec<String>>,
    limits: Limits,
}

fn bad(message: impl Into<String>) -> Response {
    request_error(StatusCode::BAD_REQUEST, codes::BAD_USER_INPUT, message)
}

fn too_large(message: impl Into<String>) -> Response {
    request_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::PAYLOAD_TOO_LARGE,
        message,
    )
}

/// A failed read of the body: too large, too slow, or malformed.
fn read_error(e: multer::Error) -> Response {
    let text = e.to_string();
    if matches!(e, multer::Error::StreamSizeExceeded { .. })
        || text.contains("length limit exceeded")
    {
        too_large("the request body is too large")
    } else if text.contains(super::BODY_TIMEOUT) {
        super::body_timeout()
    } else {
        bad(format!("invalid multipart request: {text}"))
    }
}

/// Reads the next part, which must be called `name`, up to `max` bytes.
async fn json_part(
    multipart: &mut multer::Multipart<'static>,
    name: &str,
    max: usize,
) -> Result<Vec<u8>, Response> {
    let Some(mut field) = multipart.next_field().await.map_err(read_error)? else {
        return Err(bad(format!(
            "the multipart request has no `{name}` part (operations, map, then files)"
        )));
    };
    if field.name() != Some(name) {
        return Err(bad(format!(
            "expected the `{name}` part, got {:?} (operations, map, then files)",
            field.name().unwrap_or("")
        )));
    }
    let mut out = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(read_error)? {
        if out.len() + chunk.len() > max {
            return Err(too_large(format!(
                "the `{name}` part must be at most {max} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Reads `operations` and `map` from a `multipart/form-data` body.
pub(crate) async fn start(
    body: Body,
    content_type: &str,
    limits: Limits,
) -> Result<Pending, Response> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| bad("multipart/form-data needs a boundary parameter"))?;
    let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
    let operations = json_part(&mut multipart, "operations", limits.max_json_bytes).await?;
    if operations.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(bad("batched operations are not supported"));
    }
    let request: async_graphql::Request = serde_json::from_slice(&operations)
        .map_err(|e| bad(format!("invalid `operations` part: {e}")))?;
    let raw_map = json_part(&mut multipart, "map", limits.max_json_bytes).await?;
    let map: HashMap<String, Vec<String>> =
        serde_json::from_slice(&raw_map).map_err(|e| bad(format!("invalid `map` part: {e}")))?;
    if map.len() > limits.max_files {
        return Err(too_large(format!(
            "at most {} files may be sent at once, not {}",
            limits.max_files,
            map.len()
        )));
    }
    for paths in map.values() {
        if paths.is_empty() {
            return Err(bad("every entry of `map` must name at least one variable"));
        }
        if let Some(p) = paths.iter().find(|p| !p.starts_with("variables.")) {
            return Err(bad(format!(
                "`map` paths must start with `variables.`, not {p:?}"
            )));
        }
    }
    Ok(Pending {
        multipart,
        request,
        map,
        limits,
    })
}

impl Pending {
    /// The variables that receive files (`input` for `variables.input.file`).
    pub(crate) fn file_variables(&self) -> HashSet<String> {
        self.map
            .values()
            .flatten()
            .filter_map(|p| p.strip_prefix("variables.")?.split('.').next())
            .map(str::to_string)
            .collect()
    }

    /// Reads the files into the request. Every file `map` names must come, once; nothing else
    /// may.
    pub(crate) async fn files(mut self) -> Result<async_graphql::Request, Response> {
        let mut received: HashSet<String> = HashSet::new();
        while let Some(mut field) = self.multipart.next_field().await.map_err(read_error)? {
            let name = field.name().unwrap_or("").to_string();
            let Some(paths) = self.map.get(&name) else {
                return Err(bad(format!(
                    "the multipart part {name:?} is not named in `map`"
                )));
            };
            if !received.insert(name.clone()) {
                return Err(bad(format!("the file part {name:?} came twice")));
            }
            let filename = field.file_name().unwrap_or("").to_string();
            if filename.contains('\0') {
                return Err(bad(
                    "a file name must not contain the NUL character (U+0000)",
                ));
            }
            let content_type = field.content_type().map(|m| m.to_string());
            let std_file =
                tempfile::tempfile().map_err(|e| super::internal("cannot spool the upload", e))?;
            let mut file = tokio::fs::File::from_std(std_file);
            let mut size = 0usize;
            while let Some(chunk) = field.chunk().await.map_err(read_error)? {
                size += chunk.len();
                if size > self.limits.max_file_bytes {
                    return Err(too_large(format!(
                        "files must be at most {} bytes",
                        self.limits.max_file_bytes
                    )));
                }
                file.write_all(&chunk)
                    .await
                    .map_err(|e| super::internal("cannot spool the upload", e))?;
            }
            file.flush()
                .await
                .map_err(|e| super::internal("cannot spool the upload", e))?;
            let mut file = file.into_std().await;
            file.seek(SeekFrom::Start(0))
                .map_err(|e| super::internal("cannot spool the upload", e))?;
            for path in paths {
                let content = file
                    .try_clone()
                    .map_err(|e| super::internal("cannot spool the upload", e))?;
                self.request.set_upload(
                    path,
                    async_graphql::UploadValue {
                        filename: filename.clone(),
                        content_type: content_type.clone(),
                        content,
                    },
                );
            }
        }
        if let Some(missing) = self.map.keys().find(|k| !received.contains(*k)) {
            return Err(bad(format!(
                "the file part {missing:?} named in `map` is missing"
            )));
        }
        Ok(self.request)
    }
}
