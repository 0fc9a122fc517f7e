//! Deduplication rules, as DefectDojo defines them (reference §3.2–3.3): which algorithm each scan
//! type uses, which fields make its hash code, and the hash code itself — the same SHA-256 over
//! the same case-folded text as DefectDojo, so hash codes are comparable between the two.

use sha2::{Digest, Sha256};

use super::{Severity, UnknownVariant, report::ParsedFinding};

text_enum!(
    /// How new findings are matched against existing ones: same hash code (and, when both have
    /// endpoints, a common host and path); same `unique_id_from_tool` from the same test type;
    /// either of the two; or DefectDojo's legacy rule (same title or CWE, then same hash code
    /// and location).
    DedupAlgorithm {
        HashCode => "HASH_CODE",
        UniqueIdFromTool => "UNIQUE_ID_FROM_TOOL",
        UniqueIdFromToolOrHashCode => "UNIQUE_ID_FROM_TOOL_OR_HASH_CODE",
        Legacy => "LEGACY",
    }
);

/// A finding field that may go into a hash code (DefectDojo's `HASHCODE_ALLOWED_FIELDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashField {
    Title,
    Cwe,
    Cwes,
    VulnerabilityIds,
    Line,
    FilePath,
    Payload,
    ComponentName,
    ComponentVersion,
    Description,
    Endpoints,
    UniqueIdFromTool,
    Severity,
    VulnIdFromTool,
    Mitigation,
}

/// How one scan type deduplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupRule {
    pub algorithm: DedupAlgorithm,
    /// The hash code's fields, in order; `None`: DefectDojo's legacy fields.
    pub fields: Option<&'static [HashField]>,
    /// Whether a finding without a CWE may use `fields` (else it falls back to the legacy
    /// fields, as DefectDojo's `HASHCODE_ALLOWS_NULL_CWE` says).
    pub allows_null_cwe: bool,
}

/// DefectDojo's defaults for the formats dojoql parses (`DEDUPLICATION_ALGORITHM_PER_PARSER`,
/// `HASHCODE_FIELDS_PER_SCANNER`, `HASHCODE_ALLOWS_NULL_CWE`); any other scan type: legacy.
pub fn rule(scan_type: &str) -> DedupRule {
    use DedupAlgorithm::*;
    use HashField as F;
    let (algorithm, fields): (DedupAlgorithm, Option<&'static [HashField]>) = match scan_type {
        "SARIF" | "Semgrep JSON Report" => (UniqueIdFromToolOrHashCode, None),
        "Trivy Scan" => (
            HashCode,
            Some(&[
                F::Title,
                F::Severity,
                F::VulnerabilityIds,
                F::Cwe,
                F::Description,
            ]),
        ),
        "Generic Findings Import" | "Gitleaks Scan" | "GitLab SAST Report" | "Checkov Scan" => {
            (HashCode, None)
        }
        "ZAP Scan" => (HashCode, Some(&[F::Title, F::Cwe, F::Severity])),
        "Dependency Check Scan" => (HashCode, Some(&[F::Title, F::Cwe, F::FilePath])),
        "NPM Audit Scan" | "Yarn Audit Scan" => (
            HashCode,
            Some(&[
                F::Title,
                F::Severity,
                F::FilePath,
                F::VulnerabilityIds,
                F::Cwe,
            ]),
        ),
        "NPM Audit v7+ Scan" => (
            HashCode,
            Some(&[F::Title, F::Severity, F::Cwe, F::VulnIdFromTool]),
        ),
        "Bandit Scan" => (HashCode, Some(&[F::FilePath, F::Line, F::VulnIdFromTool])),
        "Anchore Grype" => (
            HashCode,
            Some(&[F::Title, F::Severity, F::ComponentName, F::ComponentVersion]),
        ),
        "Snyk Scan" => (
            HashCode,
            Some(&[
                F::VulnIdFromTool,
                F::FilePath,
                F::ComponentName,
                F::ComponentVersion,
            ]),
        ),
        "Snyk Code Scan" => (HashCode, Some(&[F::VulnIdFromTool, F::FilePath])),
        "Nuclei Scan" => (
            HashCode,
            Some(&[F::Title, F::Cwe, F::Severity, F::ComponentName]),
        ),
        "Trufflehog Scan" => (HashCode, Some(&[F::Title, F::Description, F::Line])),
        "OSV Scan" => (HashCode, Some(&[F::Title, F::Description, F::Severity])),
        _ => (Legacy, None),
    };
    DedupRule {
        algorithm,
        fields,
        allows_null_cwe: scan_type != "ZAP Scan",
    }
}

/// DefectDojo's spelling of a severity (`"High"`), as hash codes use it.
pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Info",
    }
}

/// Python's `str()` of an optional value: `None` when absent.
fn py_str<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "None".to_string(), |v| v.to_string())
}

/// The hash code of `f` under `rule`, with the import's `service` (DefectDojo always appends a
/// non-empty service): SHA-256 hex of the concatenated fields, case-folded and trimmed.
pub fn hash_code(f: &ParsedFinding, rule: &DedupRule, service: Option<&str>) -> String {
    let cwe = f.cwe.unwrap_or(0);
    let configured = rule.fields.filter(|_| cwe != 0 || rule.allows_null_cwe);
    let mut text = String::new();
    match configured {
        None => {
            // compute_hash_code_legacy: title + cwe + line + file_path + description
            text.push_str(&f.title);
            text.push_str(&cwe.to_string());
            text.push_str(&py_str(&f.line));
            text.push_str(&py_str(&f.file_path));
            text.push_str(&f.description);
        }
        Some(fields) => {
            for field in fields {
                match field {
                    HashField::Title => text.push_str(&f.title),
                    HashField::Cwe => text.push_str(&cwe.to_string()),
                    HashField::Cwes => {
                        let mut labels: Vec<String> =
                            f.cwes.iter().map(|c| format!("CWE-{c}")).collect();
                        labels.sort();
                        labels.dedup();
                        text.push_str(&labels.concat());
                    }
                    HashField::VulnerabilityIds => {
                        let mut ids = f.vulnerability_ids.clone();
                        ids.sort();
                        ids.dedup();
                        text.push_str(&ids.concat());
                    }
                    HashField::Line => text.push_str(&py_str(&f.line)),
                    HashField::FilePath => text.push_str(&py_str(&f.file_path)),
                    HashField::Payload => text.push_str(&py_str(&f.payload)),
                    HashField::ComponentName => text.push_str(&py_str(&f.component_name)),
                    HashField::ComponentVersion => text.push_str(&py_str(&f.component_version)),
                    HashField::Description => text.push_str(&f.description),
                    HashField::Endpoints => {
                        let mut urls: Vec<String> = f.endpoints.iter().map(|e| e.url()).collect();
                        urls.sort();
                        urls.dedup();
                        text.push_str(&urls.concat());
                    }
                    HashField::UniqueIdFromTool => text.push_str(&py_str(&f.unique_id_from_tool)),
                    HashField::Severity => text.push_str(severity_label(f.severity)),
                    HashField::VulnIdFromTool => text.push_str(&py_str(&f.vuln_id_from_tool)),
                    HashField::Mitigation => text.push_str(&py_str(&f.mitigation)),
                }
            }
        }
    }
    if let Some(s) = service.filter(|s| !s.is_empty()) {
        text.push_str(s);
    }
    let folded = caseless::default_case_fold_str(&text);
    // Python's bytes.strip(): ASCII whitespace at both ends.
    let bytes = folded.as_bytes().trim_ascii();
    format!("{:x}", Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding() -> ParsedFinding {
        let mut f = ParsedFinding::new("SQL Injection", Severity::High, "Some Description\n");
        f.cwe = Some(89);
        f.file_path = Some("src/Main.java".into());
        f.vulnerability_ids = vec!["CVE-2021-2".into(), "CVE-2021-1".into()];
        f
    }

    // The expected values were computed with DefectDojo's formula in Python:
    // hashlib.sha256(text.casefold().encode("utf-8").strip()).hexdigest()
    #[test]
    fn legacy_hash_matches_defectdojo() {
        // "SQL Injection" + "89" + "None" + "src/Main.java" + "Some Description\n"
        let h = hash_code(&finding(), &rule("Generic Findings Import"), None);
        assert_eq!(
            h,
            "61f7244bb199c5b867e27fad172efc05e4b23bceec8dba2148d3662a93cd2951"
        );
    }

    #[test]
    fn configured_fields_sort_ids_and_append_the_service() {
        // "SQL Injection" + "High" + "CVE-2021-1CVE-2021-2" + "89" + "Some Description\n" + "api"
        let h = hash_code(&finding(), &rule("Trivy Scan"), Some("api"));
        assert_eq!(
            h,
            "1e54cf37349d472033ea5e9739b6d7ad369b4b948e14ab8c9079c279668ee05f"
        );
    }

    #[test]
    fn zap_without_cwe_falls_back_to_legacy_fields() {
        let mut f = finding();
        f.cwe = None;
        let zap = hash_code(&f, &rule("ZAP Scan"), None);
        let legacy = hash_code(&f, &rule("Some Unknown Scan"), None);
        assert_eq!(zap, legacy);
        f.cwe = Some(79);
        assert_ne!(hash_code(&f, &rule("ZAP Scan"), None), legacy);
    }

    #[test]
    fn case_folds_like_python() {
        let mut a = finding();
        a.title = "STRASSE".into();
        let mut b = finding();
        b.title = "straße".into();
        let r = rule("Generic Findings Import");
        assert_eq!(hash_code(&a, &r, None), hash_code(&b, &r, None));
    }
}
