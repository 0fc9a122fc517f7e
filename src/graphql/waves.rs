//! Dataloader batches cut at the executor's own waves instead of after a fixed delay.
//!
//! async-graphql resolves the siblings of a list in one poll of the request's future: every
//! sibling asks its dataloader for its key before the poll returns. A batch task that started
//! during that poll, on another worker thread, could take the keys queued so far and leave the
//! rest to a second statement; the usual cure is a fixed delay before the batch runs (a few
//! milliseconds on every level of every request). Here the request's future runs inside
//! [`Waves`]: the dataloaders' spawner ([`spawn_batch`]) holds a batch task back until the
//! current poll is over, so the batch holds every key of the wave, and runs at once.

use std::{
    cell::RefCell,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use futures_util::{Stream, future::BoxFuture};

tokio::task_local! {
    /// Batch tasks queued during the current poll of a [`Waves`].
    static WAVE: RefCell<Vec<BoxFuture<'static, ()>>>;
}

/// The dataloaders' spawner: inside [`Waves`], the task starts when the current poll is over;
/// elsewhere at once.
pub fn spawn_batch(task: BoxFuture<'static, ()>) {
    let mut task = Some(task);
    let _ = WAVE.try_with(|wave| {
        if let Some(t) = task.take() {
            wave.borrow_mut().push(t);
        }
    });
    if let Some(t) = task {
        tokio::spawn(t);
    }
}

/// Runs one poll with a wave open, then starts the batch tasks it queued.
fn in_wave<T>(poll: impl FnOnce() -> T) -> T {
    let (out, queued) = WAVE.sync_scope(RefCell::new(Vec::new()), || {
        let out = poll();
        (
            out,
            WAVE.with(|wave| std::mem::take(&mut *wave.borrow_mut())),
        )
    });
    for task in queued {
        tokio::spawn(task);
    }
    out
}

/// A request's future (or a subscription's stream) whose dataloader batches start when a poll
/// of it is over.
pub struct Waves<F>(Pin<Box<F>>);

impl<F> Waves<F> {
    pub fn new(inner: F) -> Self {
        Self(Box::pin(inner))
    }
}

impl<F: Future> Future for Waves<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let inner = self.get_mut().0.as_mut();
        in_wave(|| inner.poll(cx))
    }
}

impl<S: Stream> Stream for Waves<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let inner = self.get_mut().0.as_mut();
        in_wave(|| inner.poll_next(cx))
    }
}
