//! Legacy Nearby Search paging: pages of 20, at most 60 results, and the
//! `next_page_token` that becomes usable only after a delay.
//!
//! Input: the full, ordered result list of a first request, and later the
//! tokens clients send back. Output: the page to answer with and, while
//! more results remain, a token for the next page. A token is usable from
//! `page_token_delay` after the answer that carried it was made (earlier:
//! [`TokenError::TooEarly`], which a client may retry), may be used again,
//! and is forgotten [`TOKEN_LIFETIME`] after it was made (then, like any
//! token never issued: [`TokenError::Unknown`]). Tokens are 48 lowercase
//! hex digits derived from the seed and a serial number, so a seeded run
//! issues the same tokens.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::faults::splitmix64;
use herd::places::Place;

/// Results per page.
pub const PAGE: usize = 20;

/// Results over all pages of one search.
pub const MAX_RESULTS: usize = 60;

/// How long a token is kept (Google does not document its own).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// Most tokens kept at once; the oldest go first.
const MAX_TOKENS: usize = 100_000;

/// Why a token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Never issued, or expired.
    Unknown,
    /// Issued, but its delay has not passed yet.
    TooEarly,
}

/// One page of places and the token for the next, if more remain.
pub type Page = (Vec<&'static Place>, Option<String>);

/// The tokens of one stand-in.
pub struct Pages {
    delay: Duration,
    seed: u64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    serial: u64,
    tokens: HashMap<String, Token>,
    /// Tokens in the order they were made, for expiry.
    order: VecDeque<(Instant, String)>,
}

struct Token {
    /// Every result from this token's page on.
    rest: Vec<&'static Place>,
    made: Instant,
    ready_at: Instant,
    /// The token of the page after, made when this one is first used.
    next: Option<String>,
}

impl Pages {
    pub fn new(delay: Duration, seed: u64) -> Pages {
        Pages {
            delay,
            seed,
            state: Mutex::new(State::default()),
        }
    }

    /// The first page of `found` (cut to [`MAX_RESULTS`]) and a token for
    /// the rest, made at `now`.
    pub fn first_page(&self, mut found: Vec<&'static Place>, now: Instant) -> Page {
        found.truncate(MAX_RESULTS);
        if found.len() <= PAGE {
            return (found, None);
        }
        let rest = found.split_off(PAGE);
        let token = self.state.lock().issue(rest, now, self);
        (found, Some(token))
    }

    /// The page `token` stands for, and the token for the page after.
    pub fn redeem(&self, token: &str, now: Instant) -> Result<Page, TokenError> {
        let mut state = self.state.lock();
        let entry = state.tokens.get(token).ok_or(TokenError::Unknown)?;
        if now.saturating_duration_since(entry.made) > TOKEN_LIFETIME {
            return Err(TokenError::Unknown);
        }
        if now < entry.ready_at {
            return Err(TokenError::TooEarly);
        }
        let page: Vec<_> = entry.rest.iter().take(PAGE).copied().collect();
        let (next, tail) = match (&entry.next, entry.rest.get(PAGE..)) {
            (Some(next), _) => (Some(next.clone()), None),
            (None, Some(tail)) if !tail.is_empty() => (None, Some(tail.to_vec())),
            _ => (None, None),
        };
        let next = match tail {
            Some(tail) => {
                let next = state.issue(tail, now, self);
                if let Some(entry) = state.tokens.get_mut(token) {
                    entry.next = Some(next.clone());
                }
                Some(next)
            }
            None => next,
        };
        Ok((page, next))
    }
}

impl State {
    /// Stores a new token for `rest`, made at `now`, dropping expired and
    /// surplus tokens first.
    fn issue(&mut self, rest: Vec<&'static Place>, now: Instant, pages: &Pages) -> String {
        while let Some((made, old)) = self.order.front() {
            let expired = now.saturating_duration_since(*made) > TOKEN_LIFETIME;
            if !expired && self.order.len() < MAX_TOKENS {
                break;
            }
            self.tokens.remove(old);
            self.order.pop_front();
        }
        self.serial += 1;
        let mix = splitmix64(pages.seed ^ splitmix64(self.serial));
        let text = format!("{mix:016x}{:016x}{:016x}", splitmix64(mix), self.serial);
        let token = Token {
            rest,
            made: now,
            ready_at: now + pages.delay,
            next: None,
        };
        self.tokens.insert(text.clone(), token);
        self.order.push_back((now, text.clone()));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herd::places::OfflineIndex;

    const DELAY: Duration = Duration::from_millis(100);

    fn places(n: usize) -> Vec<&'static Place> {
        OfflineIndex::shared().unwrap().places()[..n]
            .iter()
            .collect()
    }

    fn ids(list: &[&Place]) -> Vec<String> {
        list.iter().map(|p| p.place_id().to_owned()).collect()
    }

    #[test]
    fn three_pages_at_most() {
        let pages = Pages::new(DELAY, 1);
        let all = places(75);
        let t0 = Instant::now();
        let (first, token) = pages.first_page(all.clone(), t0);
        assert_eq!(ids(&first), ids(&all[..20]));
        let token = token.unwrap();
        assert_eq!(token.len(), 48);
        let t1 = t0 + DELAY;
        let (second, token2) = pages.redeem(&token, t1).unwrap();
        assert_eq!(ids(&second), ids(&all[20..40]));
        let token2 = token2.unwrap();
        assert_eq!(
            pages.redeem(&token2, t1 + DELAY / 2).unwrap_err(),
            TokenError::TooEarly,
            "the third page's delay runs from the second page's answer"
        );
        let (third, token3) = pages.redeem(&token2, t1 + DELAY).unwrap();
        assert_eq!(ids(&third), ids(&all[40..60]));
        assert_eq!(token3, None, "60 results at most");
        // A token may be used again and gives the same page and next token.
        assert_eq!(
            pages.redeem(&token, t1 + DELAY).unwrap(),
            (second, Some(token2))
        );
    }

    #[test]
    fn short_lists_have_no_token() {
        let pages = Pages::new(DELAY, 1);
        let now = Instant::now();
        assert_eq!(pages.first_page(places(20), now).1, None);
        assert_eq!(pages.first_page(Vec::new(), now), (Vec::new(), None));
        let (_, token) = pages.first_page(places(21), now);
        let (last, next) = pages.redeem(&token.unwrap(), now + DELAY).unwrap();
        assert_eq!((last.len(), next), (1, None));
    }

    #[test]
    fn early_unknown_and_expired_tokens() {
        let pages = Pages::new(DELAY, 1);
        let t0 = Instant::now();
        let token = pages.first_page(places(30), t0).1.unwrap();
        assert_eq!(pages.redeem(&token, t0).unwrap_err(), TokenError::TooEarly);
        assert_eq!(
            pages.redeem(&token, t0 + DELAY - Duration::from_nanos(1)),
            Err(TokenError::TooEarly)
        );
        assert!(pages.redeem(&token, t0 + DELAY).is_ok());
        assert_eq!(pages.redeem("nope", t0 + DELAY), Err(TokenError::Unknown));
        let late = t0 + TOKEN_LIFETIME + Duration::from_secs(1);
        assert_eq!(pages.redeem(&token, late), Err(TokenError::Unknown));
        // Issuing after the lifetime forgets the old token for good.
        let fresh = pages.first_page(places(30), late).1.unwrap();
        assert!(pages.state.lock().tokens.len() == 1 && fresh != token);
    }

    #[test]
    fn tokens_are_seeded() {
        let now = Instant::now();
        let make = |seed| Pages::new(DELAY, seed).first_page(places(30), now).1;
        assert_eq!(make(5), make(5));
        assert_ne!(make(5), make(6));
    }
}
