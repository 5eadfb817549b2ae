//! How much one request may ask of the server: how large its body may be, and how long it may
//! take to send it.

use axum::body::Body;
use axum::extract::Request;
use bytes::Bytes;
use http_body::Frame;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// A rating is a few hundred bytes; 8 KiB leaves room for a long comment in any script.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// A write's body must have arrived this long after its headers. Past it the request is
/// answered `408` having stored nothing: the write is queued only once its body is complete.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// For the write routes (`ServiceBuilder::map_request`): the body must arrive within
/// `BODY_DEADLINE`.
pub fn body_deadline(request: Request) -> Request {
    let deadline = Instant::now() + BODY_DEADLINE;
    request.map(|body| Body::new(DeadlineBody::new(body, deadline)))
}

/// The body ran past `BODY_DEADLINE`.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} s", BODY_DEADLINE.as_secs())]
pub struct BodyTooSlow;

/// A body that fails once its deadline passes. tower-http's `TimeoutBody` restarts its timer
/// on every frame, so a client sending a byte every few seconds would never be cut off; this
/// deadline is one for the whole body.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Body, deadline: Instant) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTooSlow.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Whether a body error (as an extractor reports it) is `BodyTooSlow`.
pub fn is_too_slow(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<BodyTooSlow>() {
            return true;
        }
        cause = error.source();
    }
    false
}
