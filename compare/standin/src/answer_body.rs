//! The HTTP body of a stand-in answer: whole, or cut short with the
//! connection dropped, which no ready-made body type does.
//!
//! Input: the answer's bytes and how it ends. Output: a `hyper` body. A
//! whole body announces its exact length (hyper writes `Content-Length`).
//! A dropped body announces the full length too, yields the first half,
//! waits [`DROP_AFTER`] (so that hyper flushes the headers and that half to
//! the socket) and then fails, which makes hyper close the connection
//! mid-answer.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, SizeHint};
use tokio::time::Sleep;

/// How long a dropped answer stays half-sent before the connection closes.
pub const DROP_AFTER: Duration = Duration::from_millis(20);

/// An answer body.
pub struct AnswerBody {
    /// What is still to be sent.
    data: Option<Bytes>,
    /// The length announced.
    announced: u64,
    /// `Some`: fail (drop the connection) when this timer fires.
    drop_timer: Option<Pin<Box<Sleep>>>,
}

impl AnswerBody {
    /// All of `bytes`.
    pub fn whole(bytes: impl Into<Bytes>) -> AnswerBody {
        let data: Bytes = bytes.into();
        AnswerBody {
            announced: data.len() as u64,
            data: (!data.is_empty()).then_some(data),
            drop_timer: None,
        }
    }

    /// Announces all of `bytes`, sends the first half, then drops the
    /// connection.
    pub fn dropped_midway(bytes: impl Into<Bytes>) -> AnswerBody {
        let data: Bytes = bytes.into();
        AnswerBody {
            announced: data.len() as u64,
            data: Some(data.slice(..data.len() / 2)).filter(|d| !d.is_empty()),
            drop_timer: Some(Box::pin(tokio::time::sleep(DROP_AFTER))),
        }
    }
}

/// The error that makes hyper drop the connection.
#[derive(Debug)]
pub struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("answer dropped on purpose")
    }
}

impl Error for Dropped {}

impl Body for AnswerBody {
    type Data = Bytes;
    type Error = Dropped;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Dropped>>> {
        let this = self.get_mut();
        if let Some(data) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        match &mut this.drop_timer {
            None => Poll::Ready(None),
            Some(timer) => match timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Dropped))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.drop_timer.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.announced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn whole_body_is_all_the_bytes() {
        let body = AnswerBody::whole(&b"hello"[..]);
        assert_eq!(body.size_hint().exact(), Some(5));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"hello");
        assert!(AnswerBody::whole(Vec::new()).is_end_stream());
    }

    #[tokio::test]
    async fn dropped_body_sends_half_then_fails() {
        let mut body = AnswerBody::dropped_midway(&b"0123456789"[..]);
        assert_eq!(body.size_hint().exact(), Some(10));
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"01234");
        assert!(body.frame().await.unwrap().is_err());
    }
}
