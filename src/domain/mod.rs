//! Pure domain rules: enumerations, global ids, SLA deadlines, engagement overdue rules, finding
//! status invariants and input validation. Nothing here does I/O.
//!
//! The enumerations derive diesel's `AsExpression`/`FromSqlRow` markers (they are stored as their
//! SCREAMING_CASE names in text columns); their SQL conversions live in `db::enums`. The typed
//! ids of [`ids`] (`ProductId`, `EngagementId`, …) do the same for integer columns, with their
//! conversions in `db::ids`: rows hold them directly, and nothing here depends on diesel beyond
//! those derived markers.

#[macro_use]
mod enums;
pub mod dedup;
pub mod engagement;
pub mod events;
pub mod finding_status;
pub mod ids;
pub mod import;
pub mod rbac;
pub mod report;
pub mod sla;

pub use enums::*;

use chrono::NaiveDate;

/// A rejected input value, with a message naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Target start must not be after target end.
pub fn check_date_range(start: NaiveDate, end: NaiveDate) -> Result<(), Invalid> {
    if start > end {
        return Err(Invalid(format!(
            "targetEnd ({end}) must not be before targetStart ({start})"
        )));
    }
    Ok(())
}

/// A required name: trimmed, not empty, at most `max` characters.
pub fn clean_name(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Invalid(format!("{field} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(Invalid(format!("{field} must be at most {max} characters")));
    }
    Ok(v.to_string())
}

/// A link a user may follow: `http(s)://` (plus `ssh://`, `git://` and `git@host:` when
/// `allow_scm` is set). Refuses `javascript:`, `data:` and every other scheme.
pub fn check_url(field: &str, value: &str, max: usize, allow_scm: bool) -> Result<String, Invalid> {
    let v = value.trim();
    if v.chars().count() > max {
        return Err(Invalid(format!("{field} must be at most {max} characters")));
    }
    let lower = v.to_ascii_lowercase();
    let ok = lower.starts_with("https://")
        || lower.starts_with("http://")
        || (allow_scm
            && (lower.starts_with("ssh://")
                || lower.starts_with("git://")
                || lower.starts_with("git@")));
    if !ok || v.contains(char::is_whitespace) {
        return Err(Invalid(format!("{field} must be an http(s) URL")));
    }
    Ok(v.to_string())
}

/// The most items a stored list may hold (tags, technologies, regulations, vulnerability ids):
/// every list a query returns is bounded, so that its cost can be counted before it runs.
pub const MAX_LIST_ITEMS: usize = 100;

/// Refuses a list of more than [`MAX_LIST_ITEMS`] items.
pub fn check_list_len<T>(field: &str, items: &[T]) -> Result<(), Invalid> {
    if items.len() > MAX_LIST_ITEMS {
        return Err(Invalid(format!(
            "{field} may hold at most {MAX_LIST_ITEMS} items, not {}",
            items.len()
        )));
    }
    Ok(())
}

/// Tags are lowercased, trimmed, deduplicated and sorted (DefectDojo forces lowercase).
pub fn clean_tags(tags: &[String]) -> Result<Vec<String>, Invalid> {
    check_list_len("tags", tags)?;
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        let t = t.trim().to_lowercase();
        if t.is_empty() {
            return Err(Invalid("tags must not be empty strings".into()));
        }
        if t.chars().count() > 100 {
            return Err(Invalid("a tag must be at most 100 characters".into()));
        }
        out.push(t);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn validation() {
        assert!(check_date_range(d("2026-01-02"), d("2026-01-01")).is_err());
        assert!(check_date_range(d("2026-01-01"), d("2026-01-01")).is_ok());
        assert_eq!(clean_name("name", "  Web ", 10).unwrap(), "Web");
        assert!(clean_name("name", "   ", 10).is_err());
        assert!(clean_name("name", "abcdefghijk", 10).is_err());
        assert!(check_url("tracker", "javascript:alert(1)", 200, false).is_err());
        assert!(check_url("tracker", "https://x.test/a", 200, false).is_ok());
        assert!(check_url("scm", "git@github.com:a/b.git", 600, true).is_ok());
        assert!(check_url("scm", "git@github.com:a/b.git", 600, false).is_err());
        assert_eq!(
            clean_tags(&["B".into(), "a".into(), "b ".into()]).unwrap(),
            vec!["a".to_string(), "b".to_string()]
        );
    }
}
