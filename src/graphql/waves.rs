//! Dataloader batches cut at the executor's own waves instead of after a fixed delay.
//!
//! async-graphql resolves the siblings of a list in one poll of the request's future: every
//! sibling asks its dataloader for its key before the poll returns. A batch task that started
//! during that poll, on another worker thread, could take the keys queued so far and leave the
//! rest to a second statement; the usual cure is a fixed delay before the batch runs (a few
//! milliseconds on every level of every request). Here the request's future runs inside
//! [`Waves`]: the dataloaders' spawner ([`spawn_batch`]) hands a batch task to it, which starts
//! the task when the current poll is over (so the batch holds every key of the wave) and runs it
//! beside the request, in the request's own task.
//!
//! "One poll" is not quite one call of `poll`: futures' `FuturesUnordered` (behind async-graphql's
//! joins of list items and fields) polls at most as many children as it holds and then yields,
//! waking itself, and a list of lists is many such joins. So a wave lasts until the request stops
//! waking itself: [`Waves`] polls it again while it did (bounded by [`MAX_REPOLLS`]), and only
//! then starts the batches. Without that, a dashboard of 50 products ran its counts in 25
//! statements of two products each.

use std::{
    cell::RefCell,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
};

use futures_util::{Stream, StreamExt, future::BoxFuture, stream::FuturesUnordered};

tokio::task_local! {
    /// Batch tasks queued during the current poll of a [`Waves`].
    static WAVE: RefCell<Vec<BoxFuture<'static, ()>>>;
}

/// The dataloaders' spawner: inside [`Waves`], the task runs in the request's task once the
/// current poll is over; elsewhere it is spawned at once.
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

/// Runs one poll with a wave open; returns its result and the batch tasks it queued.
fn in_wave<T>(poll: impl FnOnce() -> T) -> (T, Vec<BoxFuture<'static, ()>>) {
    WAVE.sync_scope(RefCell::new(Vec::new()), || {
        let out = poll();
        (
            out,
            WAVE.with(|wave| std::mem::take(&mut *wave.borrow_mut())),
        )
    })
}

/// A request's future (or a subscription's stream) that runs its own dataloader batches: a
/// batch starts when the poll that queued its keys is over, and a batch that finishes hands all
/// its results over before the request is polled again (so the next wave is whole too: batches
/// run on other threads would wake the request while still handing results out).
pub struct Waves<F> {
    inner: Pin<Box<F>>,
    batches: FuturesUnordered<BoxFuture<'static, ()>>,
    /// The waker the inner future is polled with (the task's, noting when it was used).
    waker: Option<Arc<NotedWaker>>,
}

/// How many times in a row a wave polls a request that keeps waking itself before it lets the
/// batches start anyway (a request that yields for good reason is not held up for long).
pub const MAX_REPOLLS: usize = 64;

/// A task's waker that notes that it was woken.
struct NotedWaker {
    task: Waker,
    woken: AtomicBool,
}

impl Wake for NotedWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}

impl<F> Waves<F> {
    pub fn new(inner: F) -> Self {
        Self {
            inner: Box::pin(inner),
            batches: FuturesUnordered::new(),
            waker: None,
        }
    }

    /// The task's waker wrapped in a [`NotedWaker`] (kept while the task's waker is the same).
    fn noted(&mut self, cx: &Context<'_>) -> Arc<NotedWaker> {
        match &self.waker {
            Some(w) if w.task.will_wake(cx.waker()) => w.clone(),
            _ => {
                let w = Arc::new(NotedWaker {
                    task: cx.waker().clone(),
                    woken: AtomicBool::new(false),
                });
                self.waker = Some(w.clone());
                w
            }
        }
    }

    /// Polls `poll_inner` with a wave open (again while it woke itself), then the batches, and
    /// all of it again while a batch finished.
    fn drive<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut poll_inner: impl FnMut(Pin<&mut F>, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let noted = self.noted(cx);
        let waker = Waker::from(noted.clone());
        let mut inner_cx = Context::from_waker(&waker);
        loop {
            let mut repolls = 0;
            let out = loop {
                noted.woken.store(false, Ordering::Release);
                let (out, queued) = in_wave(|| poll_inner(self.inner.as_mut(), &mut inner_cx));
                self.batches.extend(queued);
                if out.is_ready() || !noted.woken.load(Ordering::Acquire) || repolls == MAX_REPOLLS
                {
                    break out;
                }
                repolls += 1;
            };
            if out.is_ready() {
                return out;
            }
            let mut finished = false;
            while let Poll::Ready(Some(())) = self.batches.poll_next_unpin(cx) {
                finished = true;
            }
            if !finished {
                return Poll::Pending;
            }
        }
    }
}

impl<F: Future> Future for Waves<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.get_mut().drive(cx, |inner, cx| inner.poll(cx))
    }
}

impl<S: Stream> Stream for Waves<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.get_mut().drive(cx, |inner, cx| inner.poll_next(cx))
    }
}
