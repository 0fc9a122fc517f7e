//! Engagement rules: whether an engagement accepts new tests and findings, when it is overdue (the one source of the rule: `isOverdue`,
//! the `overdue` filter and the overdue announcement all follow it, the SQL form in
//! `db::engagement::push_overdue` being generated from the items below) and how a copy is named.

use chrono::NaiveDate;

use super::{EngagementStatus, EngagementType};

/// Statuses in which an engagement is never overdue: its work is over.
pub const NEVER_OVERDUE: &[EngagementStatus] =
    &[EngagementStatus::Completed, EngagementStatus::Cancelled];

/// Days after its target end before an engagement counts as overdue (reference §6).
pub fn overdue_grace_days(kind: EngagementType) -> i64 {
    match kind {
        EngagementType::CiCd => 10,
        EngagementType::Interactive => 0,
    }
}

/// Whether an engagement is overdue on `today`: its target end plus the grace period has passed
/// and it is neither COMPLETED nor CANCELLED. Shown, never blocking.
pub fn is_overdue(
    status: EngagementStatus,
    kind: EngagementType,
    target_end: NaiveDate,
    today: NaiveDate,
) -> bool {
    !NEVER_OVERDUE.contains(&status)
        && target_end < today - chrono::Days::new(overdue_grace_days(kind) as u64)
}

/// Whether an engagement in `status` may receive new tests and findings (imports included): not
/// once COMPLETED (reopen it first). Notes, tags and status changes stay allowed.
pub fn accepts_children(status: EngagementStatus) -> bool {
    status != EngagementStatus::Completed
}

/// The `n`th default name of a copy, "<name> (copy N)", the name cut short so that the whole
/// fits `max` characters.
pub fn numbered_copy(name: &str, n: u32, max: usize) -> String {
    let suffix = format!(" (copy {n})");
    let room = max.saturating_sub(suffix.chars().count());
    let base: String = name.chars().take(room).collect();
    format!("{}{suffix}", base.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn overdue_respects_grace_and_status() {
        let today = d("2026-03-20");
        use EngagementStatus::*;
        use EngagementType::*;
        assert!(is_overdue(InProgress, Interactive, d("2026-03-19"), today));
        assert!(!is_overdue(InProgress, Interactive, d("2026-03-20"), today));
        assert!(!is_overdue(InProgress, CiCd, d("2026-03-10"), today));
        assert!(is_overdue(InProgress, CiCd, d("2026-03-09"), today));
        assert!(!is_overdue(Completed, Interactive, d("2020-01-01"), today));
        assert!(!is_overdue(Cancelled, CiCd, d("2020-01-01"), today));
        assert!(is_overdue(OnHold, Interactive, d("2020-01-01"), today));
    }

    #[test]
    fn copies_are_numbered_within_the_width() {
        assert_eq!(numbered_copy("Q1 pentest", 2, 300), "Q1 pentest (copy 2)");
        let long = "x".repeat(300);
        let named = numbered_copy(&long, 12, 300);
        assert_eq!(named.chars().count(), 300);
        assert!(named.ends_with("x (copy 12)"));
        assert_eq!(numbered_copy("ab  cd", 1, 13), "ab (copy 1)");
    }
}
