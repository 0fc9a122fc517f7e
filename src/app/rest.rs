//! DefectDojo's CI endpoints, so that a pipeline changes only its base URL:
//! `POST /api/v2/import-scan/` and `POST /api/v2/reimport-scan/` take DefectDojo's multipart
//! form fields and value spellings (`true`/`True`/`on`, severities `Info` … `Critical`) and answer
//! with DefectDojo's JSON shape (`test`, `test_id`, `engagement_id`, `product_id`,
//! `product_type_id`, `statistics`, the parameters echoed), status 201.
//!
//! They go through what `/graphql` does: the token (`Authorization: Token …`) checked before the
//! body is read, the same body caps and read deadline, the request timeout; the import itself is
//! `service::import`, the very operation the GraphQL mutations run. Errors are JSON
//! `{"message", "code"}` with the matching status (400 for bad input and unreadable reports).

use std::collections::HashMap;

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{AppState, authenticate};
use crate::{
    domain::{
        Severity,
        ids::{EngagementId, TestId, UserId},
    },
    error::{self as codes, ServiceError},
    service::import::{self, ImportOptions, ImportResult},
};

/// A failed request, as JSON with its code.
fn failure(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "message": message.into(), "code": code })),
    )
        .into_response()
}

fn bad(message: impl Into<String>) -> Response {
    failure(StatusCode::BAD_REQUEST, codes::BAD_USER_INPUT, message)
}

/// A service error with DefectDojo-style statuses.
fn service_failure(e: ServiceError) -> Response {
    if let ServiceError::Internal(cause) = &e {
        tracing::error!(error = format!("{cause:#}"), "internal error");
    }
    let status = match &e {
        ServiceError::BadUserInput(_)
        | ServiceError::ParseError(_)
        | ServiceError::EngagementCompleted(_) => StatusCode::BAD_REQUEST,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        ServiceError::Unauthenticated => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::ServiceUnavailable | ServiceError::Lagged(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    failure(status, e.code(), e.message())
}

/// DefectDojo's boolean form values.
fn boolean(field: &str, raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "1" | "yes" => Ok(true),
        "false" | "off" | "0" | "no" | "" => Ok(false),
        _ => Err(format!("{field} must be true or false, not {raw:?}")),
    }
}

fn date(field: &str, raw: &str) -> Result<chrono::NaiveDate, String> {
    let raw = raw.trim();
    raw.get(..10)
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| format!("{field} must be a date (YYYY-MM-DD), not {raw:?}"))
}

fn number(field: &str, raw: &str) -> Result<i32, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("{field} must be a whole number, not {raw:?}"))
}

/// A check of the fields before the file is read.
type Check = std::pin::Pin<Box<dyn Future<Output = Result<(), Response>> + Send>>;

/// The form of one request: text fields (a field given twice keeps every value: `tags`) and the
/// report.
struct Form {
    fields: HashMap<String, Vec<String>>,
    file: Option<(Option<String>, Vec<u8>)>,
}

impl Form {
    fn one(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

/// Reads a `multipart/form-data` body: fields up to `max_field` bytes, the file up to
/// `max_file`. `before_file` sees the fields sent before the file, before a byte of it is read,
/// and may refuse the request.
async fn read_form(
    body: Body,
    content_type: &str,
    max_field: usize,
    max_file: usize,
    before_file: impl Fn(&Form) -> Option<Check>,
) -> Result<Form, Response> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| bad("multipart/form-data needs a boundary parameter"))?;
    let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut form = Form {
        fields: HashMap::new(),
        file: None,
    };
    let read_error = |e: multer::Error| {
        let text = e.to_string();
        if text.contains("length limit exceeded") {
            failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::PAYLOAD_TOO_LARGE,
                "the request body is too large",
            )
        } else if text.contains(super::BODY_TIMEOUT) {
            super::body_timeout()
        } else {
            bad(format!("invalid multipart request: {text}"))
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(read_error)? {
        let name = field.name().unwrap_or("").to_string();
        let is_file = name == "file";
        if is_file
            && form.file.is_none()
            && let Some(check) = before_file(&form)
        {
            check.await?;
        }
        let max = if is_file { max_file } else { max_field };
        let file_name = field.file_name().map(str::to_string);
        let mut data = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(read_error)? {
            if data.len() + chunk.len() > max {
                return Err(failure(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    codes::PAYLOAD_TOO_LARGE,
                    format!("the {name} field must be at most {max} bytes"),
                ));
            }
            data.extend_from_slice(&chunk);
        }
        if is_file {
            if form.file.is_some() {
                return Err(bad("send one file"));
            }
            form.file = Some((file_name, data));
        } else {
            let text = String::from_utf8(data)
                .map_err(|_| bad(format!("the {name} field is not UTF-8 text")))?;
            if text.contains('\0') {
                return Err(bad(format!(
                    "the {name} field must not contain the NUL character (U+0000)"
                )));
            }
            form.fields.entry(name).or_default().push(text);
        }
    }
    Ok(form)
}

/// The import options a form asks for (or what is wrong with it).
fn options(form: &Form, reimport: bool) -> Result<ImportOptions, String> {
    let scan_type = form
        .one("scan_type")
        .ok_or_else(|| "scan_type is required".to_string())?;
    let mut o = ImportOptions::new(scan_type.trim());
    let b = |name: &str| form.one(name).map(|v| boolean(name, v)).transpose();
    let s = |name: &str| form.one(name).map(|v| v.trim().to_string());
    o.target.engagement_id = form
        .one("engagement")
        .map(|v| number("engagement", v).map(EngagementId::new))
        .transpose()?;
    if reimport {
        o.target.test_id = form
            .one("test")
            .map(|v| number("test", v).map(TestId::new))
            .transpose()?;
    }
    o.target.product_type_name = s("product_type_name");
    o.target.product_name = s("product_name");
    o.target.engagement_name = s("engagement_name");
    o.target.test_title = s("test_title");
    o.auto_create_context = b("auto_create_context")?.unwrap_or(false);
    o.engagement_end_date = form
        .one("engagement_end_date")
        .map(|v| date("engagement_end_date", v))
        .transpose()?;
    o.deduplication_on_engagement = b("deduplication_on_engagement")?;
    if let Some(raw) = form.one("minimum_severity") {
        o.minimum_severity = Severity::parse_loose(raw.trim()).ok_or_else(|| {
            format!("minimum_severity must be Info, Low, Medium, High or Critical, not {raw:?}")
        })?;
    }
    o.active = b("active")?;
    o.verified = b("verified")?;
    o.scan_date = form
        .one("scan_date")
        .map(|v| date("scan_date", v))
        .transpose()?;
    if let Some(d) = o.scan_date
        && d > crate::db::today()
    {
        return Err("scan_date must not be in the future".into());
    }
    o.close_old_findings = b("close_old_findings")?;
    o.close_old_findings_product_scope = b("close_old_findings_product_scope")?.unwrap_or(false);
    o.do_not_reactivate = b("do_not_reactivate")?.unwrap_or(false);
    o.version = s("version");
    o.build_id = s("build_id");
    o.commit_hash = s("commit_hash");
    o.branch_tag = s("branch_tag");
    o.service = s("service");
    o.environment = s("environment");
    o.source_code_management_uri = s("source_code_management_uri");
    o.lead_id = form
        .one("lead")
        .map(|v| number("lead", v).map(UserId::new))
        .transpose()?;
    o.apply_tags_to_findings = b("apply_tags_to_findings")?.unwrap_or(false);
    // `tags` repeated, or comma separated in one field.
    o.tags = form
        .fields
        .get("tags")
        .into_iter()
        .flatten()
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    o.file_name = form.file.as_ref().and_then(|(n, _)| n.clone());
    Ok(o)
}

/// DefectDojo's response: the parameters echoed, the objects' ids, the statistics.
fn answer(o: &ImportOptions, r: &ImportResult) -> Value {
    let s = &r.statistics;
    let statistics = match s.before {
        None => json!({ "after": s.after }),
        Some(before) => json!({ "before": before, "delta": s.delta, "after": s.after }),
    };
    json!({
        "scan_type": o.scan_type,
        "scan_date": o.scan_date,
        "minimum_severity": crate::domain::dedup::severity_label(o.minimum_severity),
        "active": o.active,
        "verified": o.verified,
        "product_type_name": o.target.product_type_name,
        "product_name": o.target.product_name,
        "engagement_name": o.target.engagement_name,
        "engagement_end_date": o.engagement_end_date,
        "source_code_management_uri": o.source_code_management_uri,
        "test_title": o.target.test_title,
        "auto_create_context": o.auto_create_context,
        "deduplication_on_engagement": o.deduplication_on_engagement,
        "lead": o.lead_id,
        "push_to_jira": false,
        "environment": o.environment,
        "version": o.version,
        "build_id": o.build_id,
        "branch_tag": o.branch_tag,
        "commit_hash": o.commit_hash,
        "service": o.service,
        "tags": o.tags,
        "apply_tags_to_findings": o.apply_tags_to_findings,
        "close_old_findings": o.close_old_findings.unwrap_or(r.statistics.before.is_some()),
        "close_old_findings_product_scope": o.close_old_findings_product_scope,
        "do_not_reactivate": o.do_not_reactivate,
        "engagement": r.engagement_id,
        "test": r.test.id,
        "test_id": r.test.id,
        "engagement_id": r.engagement_id,
        "product_id": r.product_id,
        "product_type_id": r.product_type_id,
        "statistics": statistics,
        "deduplication_complete": true,
    })
}

async fn run(state: AppState, headers: HeaderMap, body: Body, reimport: bool) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if super::media_type(&content_type) != "multipart/form-data" {
        return failure(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            codes::BAD_USER_INPUT,
            "send multipart/form-data (curl -F scan_type=… -F file=@report …)",
        );
    }
    // The token before a byte of the body.
    let principal = match authenticate(&state, &headers).await {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    let c = state.config.clone();
    let limit = c.max_body_bytes.saturating_add(c.max_upload_bytes);
    let body = Body::new(http_body_util::Limited::new(body, limit));
    // When the target fields come before the file (as `dojoql import` sends them), the right to
    // import there is checked before the report is read.
    // (An incomplete form so far is judged once it is all read.)
    let precheck = |fields: &Form| -> Option<Check> {
        let o = options(fields, reimport).ok()?;
        let (db, p) = (state.db.clone(), principal.clone());
        Some(Box::pin(async move {
            import::precheck(&db, &p, &o.target, o.auto_create_context)
                .await
                .map_err(service_failure)
        }))
    };
    let form = match read_form(body, &content_type, 64 * 1024, c.max_upload_bytes, precheck).await {
        Ok(f) => f,
        Err(refusal) => return refusal,
    };
    let options = match options(&form, reimport) {
        Ok(o) => o,
        Err(message) => return bad(message),
    };
    let Some((_, bytes)) = form.file else {
        return bad("file is required (the scanner's report)");
    };
    let db = state.db.clone();
    let echo = options.clone();
    let work = async move {
        if reimport {
            import::reimport_scan(&db, &principal, options, bytes).await
        } else {
            import::import_scan(&db, &principal, options, bytes).await
        }
    };
    match tokio::time::timeout(c.request_timeout, work).await {
        Err(_) => failure(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::SERVICE_UNAVAILABLE,
            format!(
                "the import took longer than {} ms",
                c.request_timeout.as_millis()
            ),
        ),
        Ok(Err(e)) => service_failure(e),
        Ok(Ok(result)) => (StatusCode::CREATED, Json(answer(&echo, &result))).into_response(),
    }
}

/// `POST /api/v2/import-scan/`
pub(crate) async fn import_scan(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(state, headers, body, false).await
}

/// `POST /api/v2/reimport-scan/`
pub(crate) async fn reimport_scan(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(state, headers, body, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_defectdojo_spellings() {
        assert!(boolean("x", "True").unwrap());
        assert!(boolean("x", "on").unwrap());
        assert!(!boolean("x", "false").unwrap());
        assert!(boolean("x", "maybe").is_err());
        assert_eq!(
            date("d", "2026-01-02").unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()
        );
        assert!(date("d", "tomorrow").is_err());
    }

    #[test]
    fn maps_a_form_to_options() {
        let mut fields = HashMap::new();
        for (k, v) in [
            ("scan_type", "Trivy Scan"),
            ("product_name", "shop"),
            ("engagement_name", "ci"),
            ("auto_create_context", "True"),
            ("minimum_severity", "High"),
            ("tags", "a,b"),
            ("tags", "c"),
        ] {
            fields
                .entry(k.to_string())
                .or_insert_with(Vec::new)
                .push(v.to_string());
        }
        let form = Form {
            fields,
            file: Some((Some("r.json".into()), vec![])),
        };
        let o = options(&form, false).unwrap();
        assert_eq!(o.scan_type, "Trivy Scan");
        assert!(o.auto_create_context);
        assert_eq!(o.minimum_severity, Severity::High);
        assert_eq!(o.tags, ["a", "b", "c"]);
        assert_eq!(o.file_name.as_deref(), Some("r.json"));
    }
}
