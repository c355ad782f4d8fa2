//! Answers already made, by request, so that the same question is not
//! searched and rendered again: under load a lab asks about the same few
//! places over and over, and the stand-in must not be the bottleneck.
//!
//! Input: a request's identity (every part its answer depends on: for
//! legacy the query string; for New the query string, the key and
//! field-mask headers and the body) and a way to make its answer. Output:
//! the answer, shared. Only answers that are the same every time are kept
//! (not legacy pages that carry or redeem a page token, whose token and
//! timing differ); at most [`CAPACITY`] of them; a full cache is emptied
//! and filled again. Faults, latency and the request count are applied
//! outside, per request, so a cached answer changes nothing a client sees.

use std::collections::HashMap;

use parking_lot::Mutex;

use super::Reply;

/// Most answers kept.
pub const CAPACITY: usize = 4096;

/// The answers of one stand-in.
#[derive(Default)]
pub struct AnswerCache {
    map: Mutex<HashMap<Vec<u8>, Reply>>,
}

impl AnswerCache {
    /// The answer for `key`: the kept one, or `make()`'s, kept when `make`
    /// says it may be reused.
    pub fn get_or_make(&self, key: Vec<u8>, make: impl FnOnce() -> (Reply, bool)) -> Reply {
        if let Some(reply) = self.map.lock().get(&key) {
            return reply.clone();
        }
        let (reply, reusable) = make();
        if reusable {
            let mut map = self.map.lock();
            if map.len() >= CAPACITY {
                map.clear();
            }
            map.insert(key, reply.clone());
        }
        reply
    }
}

/// A request identity from its parts; each part is marked present or
/// absent and length-prefixed, so different parts never give the same key.
pub fn key(parts: &[Option<&[u8]>]) -> Vec<u8> {
    let size = parts.iter().map(|p| p.map_or(1, |p| p.len() + 9)).sum();
    let mut key = Vec::with_capacity(size);
    for part in parts {
        match part {
            None => key.push(0),
            Some(bytes) => {
                key.push(1);
                key.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
                key.extend_from_slice(bytes);
            }
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn keeps_only_reusable_answers() {
        let cache = AnswerCache::default();
        let made = Cell::new(0);
        let make = |reusable| {
            made.set(made.get() + 1);
            (Reply::json(200, format!("answer {}", made.get())), reusable)
        };
        let a = cache.get_or_make(key(&[Some(b"a")]), || make(true));
        let again = cache.get_or_make(key(&[Some(b"a")]), || make(true));
        assert_eq!((a.body.clone(), made.get()), (again.body, 1));
        cache.get_or_make(key(&[Some(b"b")]), || make(false));
        let b = cache.get_or_make(key(&[Some(b"b")]), || make(false));
        assert_eq!((&b.body[..], made.get()), (&b"answer 3"[..], 3));
    }

    #[test]
    fn keys_do_not_collide() {
        assert_ne!(
            key(&[Some(b"ab"), Some(b"c")]),
            key(&[Some(b"a"), Some(b"bc")])
        );
        assert_ne!(key(&[None, Some(b"")]), key(&[Some(b""), None]));
        assert_ne!(key(&[Some(b"")]), key(&[None]));
    }

    #[test]
    fn a_full_cache_starts_again() {
        let cache = AnswerCache::default();
        for i in 0..CAPACITY + 10 {
            let name = i.to_string();
            cache.get_or_make(key(&[Some(name.as_bytes())]), || {
                (Reply::json(200, name.clone()), true)
            });
        }
        assert_eq!(cache.map.lock().len(), 10);
    }
}
