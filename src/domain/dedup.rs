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
    // Unicode's default case folding maps only A-Z among ASCII characters (to a-z), so ASCII
    // text folds in place; caseless walks every character through its tables (a sixth of the
    // server's CPU in a SARIF import).
    let folded = if text.is_ascii() {
        text.make_ascii_lowercase();
        text
    } else {
        caseless::default_case_fold_str(&text)
    };
    // Python's bytes.strip(): ASCII whitespace at both ends.
    let bytes = folded.as_bytes().trim_ascii();
    format!("{:x}", Sha256::digest(bytes))
}

/// A finding as deduplication compares it: stored findings of the scope and the new ones of
/// the import alike (a new finding can be the original of a later one of the same report).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidate {
    /// Ascending in creation order: only an older finding can be an original.
    pub id: i64,
    pub engagement_id: i32,
    /// Whether its engagement deduplicates only inside itself.
    pub dedup_on_engagement: bool,
    /// Whether it comes from a test of the importing test's type (unique ids are per tool).
    pub same_test_type: bool,
    pub hash_code: Option<String>,
    pub unique_id_from_tool: Option<String>,
    pub title: String,
    pub cwe: i32,
    pub file_path: Option<String>,
    pub line: Option<i32>,
    pub static_finding: bool,
    /// Normalized endpoint URLs, and their (host, path) pairs.
    pub endpoint_urls: Vec<String>,
    pub endpoint_host_paths: Vec<(Option<String>, Option<String>)>,
    pub duplicate: bool,
    pub active: bool,
    pub is_mitigated: bool,
    pub has_mitigated_date: bool,
    pub false_p: bool,
    pub out_of_scope: bool,
}

impl Candidate {
    /// DefectDojo's `finding_mitigated`: inactive and mitigated.
    fn mitigated(&self) -> bool {
        !self.active && (self.is_mitigated || self.has_mitigated_date)
    }
}

/// Whether `a` and `b` may not be compared because one of their engagements deduplicates only
/// inside itself.
fn engagement_mismatch(a: &Candidate, b: &Candidate) -> bool {
    a.engagement_id != b.engagement_id && (a.dedup_on_engagement || b.dedup_on_engagement)
}

/// DefectDojo's endpoint check (`DEDUPE_ALGO_ENDPOINT_FIELDS = [host, path]`): both without
/// endpoints, or one pair equal on host and path.
fn endpoints_match(a: &Candidate, b: &Candidate) -> bool {
    (a.endpoint_host_paths.is_empty() && b.endpoint_host_paths.is_empty())
        || a.endpoint_host_paths
            .iter()
            .any(|x| b.endpoint_host_paths.contains(x))
}

/// The original `new` duplicates under `algorithm`, among `candidates` (in ascending id), or
/// `None`. Mirrors DefectDojo's `match_*_candidate` followed by `set_duplicate`: the first
/// candidate that passes the algorithm's checks is the only one tried; marking is refused when
/// it is itself a duplicate, or closed by a scanner while the new one is open (a regression:
/// the new finding stays an original), or when the new one is a duplicate and it is closed.
pub fn find_original<'a>(
    new: &Candidate,
    candidates: impl IntoIterator<Item = &'a Candidate>,
    algorithm: DedupAlgorithm,
) -> Option<i64> {
    let older = |c: &&Candidate| c.id < new.id;
    let mut candidates = candidates.into_iter().filter(older);
    let found = match algorithm {
        DedupAlgorithm::HashCode => {
            let hash = new.hash_code.as_ref()?;
            candidates.find(|c| {
                c.hash_code.as_ref() == Some(hash)
                    && !engagement_mismatch(new, c)
                    && endpoints_match(new, c)
            })
        }
        DedupAlgorithm::UniqueIdFromTool => {
            let uid = new.unique_id_from_tool.as_ref()?;
            candidates.find(|c| {
                c.same_test_type
                    && c.unique_id_from_tool.as_ref() == Some(uid)
                    && !engagement_mismatch(new, c)
            })
        }
        DedupAlgorithm::UniqueIdFromToolOrHashCode => {
            let mut found = None;
            for c in candidates {
                let by_uid = c.same_test_type
                    && new.unique_id_from_tool.is_some()
                    && c.unique_id_from_tool == new.unique_id_from_tool;
                let by_hash = new.hash_code.is_some() && c.hash_code == new.hash_code;
                if !(by_uid || by_hash) {
                    continue;
                }
                // DefectDojo stops at the first such candidate of another engagement when
                // either engagement deduplicates only inside itself.
                if engagement_mismatch(new, c) {
                    return None;
                }
                if endpoints_match(new, c) {
                    found = Some(c);
                    break;
                }
            }
            found
        }
        DedupAlgorithm::Legacy => candidates.find(|c| {
            let related = (!new.title.is_empty() && c.title == new.title)
                || (new.cwe != 0 && c.cwe == new.cwe);
            if !related || engagement_mismatch(new, c) {
                return false;
            }
            let located = if !c.endpoint_urls.is_empty() && !new.endpoint_urls.is_empty() {
                c.endpoint_urls
                    .iter()
                    .all(|u| new.endpoint_urls.contains(u))
            } else if new.static_finding && new.file_path.as_deref().is_some_and(|p| !p.is_empty())
            {
                c.line == new.line && c.file_path == new.file_path
            } else {
                false
            };
            located && c.hash_code == new.hash_code
        }),
    }?;
    let refused = found.duplicate
        || found.id == new.id
        || (found.mitigated() && !found.false_p && !found.out_of_scope && !new.mitigated())
        || (new.duplicate && found.mitigated());
    (!refused).then_some(found.id)
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

    fn cand(id: i64, hash: &str) -> Candidate {
        Candidate {
            id,
            engagement_id: 1,
            same_test_type: true,
            hash_code: Some(hash.into()),
            active: true,
            ..Default::default()
        }
    }

    #[test]
    fn the_oldest_matching_candidate_is_the_original() {
        let pool = [cand(1, "a"), cand(2, "b"), cand(3, "a")];
        assert_eq!(
            find_original(&cand(4, "a"), &pool, DedupAlgorithm::HashCode),
            Some(1)
        );
        assert_eq!(
            find_original(&cand(1, "a"), &pool, DedupAlgorithm::HashCode),
            None
        );
        // Endpoints must share host and path when either has any.
        let mut web = cand(5, "a");
        web.endpoint_host_paths = vec![(Some("h".into()), Some("p".into()))];
        assert_eq!(find_original(&web, &pool, DedupAlgorithm::HashCode), None);
        let mut other_engagement = cand(6, "a");
        other_engagement.engagement_id = 2;
        other_engagement.dedup_on_engagement = true;
        assert_eq!(
            find_original(&other_engagement, &pool, DedupAlgorithm::HashCode),
            None
        );
    }

    #[test]
    fn regressions_and_duplicates_are_not_originals() {
        let mut closed = cand(1, "a");
        closed.active = false;
        closed.is_mitigated = true;
        assert_eq!(
            find_original(&cand(2, "a"), [&closed], DedupAlgorithm::HashCode),
            None
        );
        let mut dup = cand(1, "a");
        dup.duplicate = true;
        assert_eq!(
            find_original(&cand(2, "a"), [&dup], DedupAlgorithm::HashCode),
            None
        );
        let mut fp = closed.clone();
        fp.false_p = true;
        assert_eq!(
            find_original(&cand(2, "a"), [&fp], DedupAlgorithm::HashCode),
            Some(1)
        );
    }

    #[test]
    fn unique_ids_count_only_within_one_tool() {
        let mut a = cand(1, "x");
        a.unique_id_from_tool = Some("u".into());
        let mut b = cand(2, "y");
        b.unique_id_from_tool = Some("u".into());
        assert_eq!(
            find_original(&b, [&a], DedupAlgorithm::UniqueIdFromTool),
            Some(1)
        );
        assert_eq!(
            find_original(&b, [&a], DedupAlgorithm::UniqueIdFromToolOrHashCode),
            Some(1)
        );
        a.same_test_type = false;
        assert_eq!(
            find_original(&b, [&a], DedupAlgorithm::UniqueIdFromTool),
            None
        );
    }

    #[test]
    fn legacy_needs_a_location() {
        let mut a = cand(1, "h");
        a.title = "T".into();
        a.file_path = Some("f".into());
        a.line = Some(3);
        let mut b = a.clone();
        b.id = 2;
        assert_eq!(
            find_original(&b, [&a], DedupAlgorithm::Legacy),
            None,
            "dynamic"
        );
        b.static_finding = true;
        assert_eq!(find_original(&b, [&a], DedupAlgorithm::Legacy), Some(1));
        b.line = Some(4);
        assert_eq!(find_original(&b, [&a], DedupAlgorithm::Legacy), None);
    }

    #[test]
    fn ascii_folds_as_unicode_folds_it() {
        let ascii: String = (0u8..128).map(char::from).collect();
        assert_eq!(
            ascii.to_ascii_lowercase(),
            caseless::default_case_fold_str(&ascii)
        );
        let mut a = finding();
        a.title = "SQL Injection In LOGIN".into();
        let mut b = finding();
        b.title = "sql injection in login".into();
        let r = rule("Generic Findings Import");
        assert_eq!(hash_code(&a, &r, None), hash_code(&b, &r, None));
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
