//! Reading the rest of a request body that a handler refused, so the client sees the refusal.
//!
//! A handler that answers before it has read the whole body (a 413 from a body limit, a 401
//! before the body is looked at) drops the body. hyper then closes the connection as soon as the
//! answer is written, while the client may still be sending: the kernel answers the unread bytes
//! with a TCP reset, and a client that is still writing sees "broken pipe" or "connection reset"
//! instead of the answer. Web servers avoid this with a *lingering close*; this layer is fki's:
//! every request body is wrapped, and a body dropped before its end is handed to a task that
//! reads and discards the rest, bounded by [`LINGER_BYTES`] and [`LINGER_TIME`]. While that task
//! reads, hyper keeps the connection open and writes the answer; once the client has sent
//! everything it reads the answer.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;

/// At most this much of a refused body is read and thrown away.
pub const LINGER_BYTES: u64 = 64 * 1024 * 1024;
/// For at most this long.
pub const LINGER_TIME: Duration = Duration::from_secs(10);

/// Middleware for [`axum::middleware::map_request`]: wrap the body of `req`.
pub async fn wrap(req: Request) -> Request {
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return Request::from_parts(parts, body);
    }
    Request::from_parts(parts, Body::new(Lingering { inner: Some(body) }))
}

/// A request body that drains itself in the background when dropped unfinished.
struct Lingering {
    inner: Option<Body>,
}

impl http_body::Body for Lingering {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(&mut *inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            // Finished (or broken): nothing left to drain.
            self.inner = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        // Without a runtime (a body dropped during shutdown) the connection just closes.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(drain(body));
        }
    }
}

/// Read and discard `body` up to the bounds.
async fn drain(mut body: Body) {
    let _ = tokio::time::timeout(LINGER_TIME, async {
        let mut read = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                read += data.len() as u64;
                if read > LINGER_BYTES {
                    break;
                }
            }
        }
    })
    .await;
}
