//! `dojoql import`: uploads a scanner report to a running dojoql (or DefectDojo) server through
//! the `/api/v2/import-scan/` or `/api/v2/reimport-scan/` endpoint, the way a CI pipeline without
//! curl would, and prints the statistics. Blocking HTTP (ureq, rustls for `https://`).

use std::fmt::Write;

use serde_json::Value;

/// What to upload, and where.
#[derive(Debug, Clone, Default)]
pub struct ImportCommand {
    /// Base URL of the server (`https://dojo.example.com`).
    pub url: String,
    pub token: String,
    pub scan_type: String,
    pub file: std::path::PathBuf,
    pub reimport: bool,
    /// DefectDojo's form fields besides `scan_type` and `file` (name, value), in order.
    pub fields: Vec<(String, String)>,
}

/// Builds a `multipart/form-data` body; returns it with its content type.
fn multipart(fields: &[(String, String)], file_name: &str, file: &[u8]) -> (Vec<u8>, String) {
    let boundary = format!("dojoqlImport{:016x}", rand_u64());
    let mut body = Vec::with_capacity(file.len() + 1024);
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n",
                name.replace('"', "")
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            file_name.replace(['"', '\r', '\n'], "")
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// Uploads and returns the server's JSON answer; an error says what the server answered.
pub fn run(cmd: &ImportCommand) -> anyhow::Result<Value> {
    let bytes = std::fs::read(&cmd.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", cmd.file.display()))?;
    let file_name = cmd
        .file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "report".into());
    let mut fields = vec![("scan_type".to_string(), cmd.scan_type.clone())];
    fields.extend(cmd.fields.iter().cloned());
    let (body, content_type) = multipart(&fields, &file_name, &bytes);
    let endpoint = if cmd.reimport {
        "reimport-scan"
    } else {
        "import-scan"
    };
    let url = format!("{}/api/v2/{endpoint}/", cmd.url.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(&url)
        .header("Authorization", &format!("Token {}", cmd.token))
        .header("Content-Type", &content_type)
        .send(&body[..])
        .map_err(|e| anyhow::anyhow!("cannot reach {url}: {e}"))?;
    let status = response.status();
    let text = response
        .into_body()
        .read_to_string()
        .map_err(|e| anyhow::anyhow!("cannot read the answer of {url}: {e}"))?;
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    if !status.is_success() {
        let message = json
            .get("message")
            .or_else(|| json.get("detail"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or(text);
        anyhow::bail!("{} answered {status}: {message}", url);
    }
    Ok(json)
}

/// The statistics of an answer as a few lines of text.
pub fn summary(answer: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "test {} (engagement {}, product {}, product type {})",
        answer["test_id"], answer["engagement_id"], answer["product_id"], answer["product_type_id"]
    );
    let stats = &answer["statistics"];
    let line = |s: &Value| {
        ["critical", "high", "medium", "low", "info", "total"]
            .iter()
            .map(|k| format!("{k} {}", s[k]["total"].as_i64().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(delta) = stats.get("delta") {
        for action in ["created", "closed", "reactivated", "untouched"] {
            let _ = writeln!(out, "{action:>12}: {}", line(&delta[action]));
        }
    }
    let after = &stats["after"];
    let _ = writeln!(out, "{:>12}: {}", "findings", line(after));
    let _ = writeln!(
        out,
        "{:>12}: {}",
        "active",
        ["critical", "high", "medium", "low", "info", "total"]
            .iter()
            .map(|k| format!("{k} {}", after[k]["active"].as_i64().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_form_with_the_file_last() {
        let (body, ct) = multipart(&[("product_name".into(), "shop".into())], "r.json", b"{}");
        let text = String::from_utf8(body).unwrap();
        let boundary = ct.split("boundary=").nth(1).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"product_name\"\r\n\r\nshop\r\n"));
        assert!(text.contains("filename=\"r.json\""));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }

    #[test]
    fn summarizes_statistics() {
        let answer = serde_json::json!({
            "test_id": 1, "engagement_id": 2, "product_id": 3, "product_type_id": 4,
            "statistics": { "after": { "high": { "total": 2, "active": 1 }, "total": { "total": 2, "active": 1 } } }
        });
        let s = summary(&answer);
        assert!(s.contains("test 1 (engagement 2, product 3, product type 4)"));
        assert!(s.contains("high 2"));
        assert!(s.contains("total 1"));
    }
}
