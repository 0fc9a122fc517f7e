//! The one backoff of the events subsystem: after each failure the wait doubles, from a first
//! wait up to a cap, and a success starts over. Publishing on Redis, reconnecting to Redis and
//! retrying a failed relay round all use it.

use std::time::Duration;

use tokio::time::Instant;

/// Doubling waits between attempts (see the module documentation).
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
    /// The wait the next failure costs.
    next: Duration,
    /// No new attempt before this instant (see [`Backoff::ready`]).
    not_before: Instant,
}

impl Backoff {
    /// Waits of `first`, then twice as long after every further failure, at most `max`.
    pub(crate) fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
            not_before: Instant::now(),
        }
    }

    /// Records a failure; returns how long to wait before the next attempt.
    pub(crate) fn failed(&mut self) -> Duration {
        let wait = self.next;
        self.next = (wait * 2).min(self.max);
        self.not_before = Instant::now() + wait;
        wait
    }

    /// Records a success: the next failure waits the first wait again.
    pub(crate) fn succeeded(&mut self) {
        self.next = self.first;
        self.not_before = Instant::now();
    }

    /// The wait the next failure would cost (the current pace of a loop that retries).
    pub(crate) fn pending(&self) -> Duration {
        self.next
    }

    /// Whether the wait after the last failure is over (always after a success).
    pub(crate) fn ready(&self) -> bool {
        Instant::now() >= self.not_before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_starts_over_after_a_success() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(500));
        assert!(b.ready());
        assert_eq!(b.pending(), ms(100));
        let waits: Vec<_> = (0..5).map(|_| b.failed()).collect();
        assert_eq!(waits, [ms(100), ms(200), ms(400), ms(500), ms(500)]);
        assert!(!b.ready());
        b.succeeded();
        assert!(b.ready());
        assert_eq!(b.failed(), ms(100));
    }
}
