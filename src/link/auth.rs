//! Authenticated peer links (PROTOCOL §7), as plain functions over lines;
//! shared by both Rust builds.
//!
//! Where the herd has a shared secret, a link opens with a mutual
//! HMAC-SHA256 challenge-response instead of a bare `PEER` line, so that
//! whoever can reach a port cannot write to the herd's cache:
//!
//! ```text
//! opener   -> PEER <opener> <nonce_o>
//! acceptor -> CHALLENGE <nonce_a>
//! opener   -> PROOF <hmac(secret, "herd-peer|<opener>|<acceptor>|<nonce_o>|<nonce_a>")>
//! acceptor -> WELCOME <hmac(secret, "herd-welcome|<acceptor>|<opener>|<nonce_a>|<nonce_o>")>
//! ```
//!
//! This file holds the secret, the nonces, the two MACs and every check; it
//! does no I/O. `handshake.rs` (blocking) and the tokio build read and
//! write the lines, so every Rust side hashes exactly the same text. MACs
//! are compared with `hmac`'s constant-time verify. The secret never leaves
//! [`HerdSecret`]: its `Debug` is redacted and nothing here formats it.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::ConfigError;
use crate::protocol;

type HmacSha256 = Hmac<Sha256>;

/// Hex digits in a nonce (16 random bytes).
const NONCE_HEX: usize = 32;
/// Hex digits in a MAC (32 bytes of SHA-256).
const MAC_HEX: usize = 64;

/// The herd's shared secret: the bytes of the environment variable that
/// `[herd] secret_env` names. Never printed.
#[derive(Clone)]
pub struct HerdSecret(Vec<u8>);

impl fmt::Debug for HerdSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HerdSecret(redacted)")
    }
}

impl HerdSecret {
    /// A secret from raw bytes; `None` if empty (an empty secret would let
    /// anyone compute the proofs).
    pub fn new(bytes: Vec<u8>) -> Option<HerdSecret> {
        (!bytes.is_empty()).then_some(HerdSecret(bytes))
    }

    /// Reads the secret from the environment variable `var`. Unset or empty
    /// is a config error, which names the variable but never a value.
    pub fn from_env(var: &str) -> Result<HerdSecret, ConfigError> {
        let bytes = std::env::var_os(var).map(std::os::unix::ffi::OsStringExt::into_vec);
        bytes.and_then(HerdSecret::new).ok_or_else(|| {
            ConfigError(format!(
                "[herd] secret_env: the environment variable {var} is not set or is empty"
            ))
        })
    }

    /// The MAC of `fields` joined with `|`.
    fn mac(&self, fields: &[&str]) -> HmacSha256 {
        // HMAC takes a key of any length; this cannot fail.
        let mut mac = match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        };
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                mac.update(b"|");
            }
            mac.update(field.as_bytes());
        }
        mac
    }
}

/// Why a handshake failed, for the node's log (never sent to the peer).
pub type Why = &'static str;

/// A fresh nonce: 16 bytes from the OS's CSPRNG as 32 lowercase hex digits.
pub fn new_nonce() -> std::io::Result<String> {
    let mut bytes = [0u8; NONCE_HEX / 2];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(to_hex(&bytes))
}

/// 32 hex digits, either case (used verbatim in the MACs).
pub fn is_nonce(text: &str) -> bool {
    text.len() == NONCE_HEX && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The opener's proof, as lowercase hex.
pub fn proof(
    secret: &HerdSecret,
    opener: &str,
    acceptor: &str,
    nonce_o: &str,
    nonce_a: &str,
) -> String {
    let mac = secret.mac(&["herd-peer", opener, acceptor, nonce_o, nonce_a]);
    to_hex(&mac.finalize().into_bytes())
}

/// The acceptor's answer to a good proof, as lowercase hex.
pub fn welcome(
    secret: &HerdSecret,
    acceptor: &str,
    opener: &str,
    nonce_a: &str,
    nonce_o: &str,
) -> String {
    let mac = secret.mac(&["herd-welcome", acceptor, opener, nonce_a, nonce_o]);
    to_hex(&mac.finalize().into_bytes())
}

/// True if `received` is the MAC `mac` computes: exactly 64 lowercase hex
/// digits, compared in constant time.
fn verify(mac: HmacSha256, received: &str) -> bool {
    match from_hex(received) {
        Some(bytes) if received.len() == MAC_HEX => mac.verify_slice(&bytes).is_ok(),
        _ => false,
    }
}

/// What an acceptor does with a neighbour's first line, `PEER <name>
/// [<nonce>]`.
#[derive(Debug)]
pub enum Hello {
    /// No secret in this herd and a bare hello from a neighbour: a link.
    Link(String),
    /// A secret and a well-formed hello from a neighbour: send
    /// [`Challenge::line`] and wait for the proof.
    Challenge(Challenge),
    /// Refuse: answer `? ` + the line and close.
    Refuse(Why),
}

/// Judges a `PEER` hello. `is_neighbour` says whether `name` is one of
/// this server's configured neighbours.
pub fn on_hello(
    secret: Option<&HerdSecret>,
    is_neighbour: bool,
    name: &str,
    nonce: Option<&str>,
) -> std::io::Result<Hello> {
    Ok(match (secret, nonce) {
        _ if !is_neighbour => Hello::Refuse("not a neighbour"),
        (None, None) => Hello::Link(name.to_owned()),
        (None, Some(_)) => Hello::Refuse("a nonce, but this herd has no secret"),
        (Some(_), None) => Hello::Refuse("a bare PEER, but this herd has a secret"),
        (Some(_), Some(nonce)) if !is_nonce(nonce) => Hello::Refuse("a malformed nonce"),
        (Some(_), Some(nonce)) => Hello::Challenge(Challenge {
            opener: name.to_owned(),
            nonce_o: nonce.to_owned(),
            nonce_a: new_nonce()?,
        }),
    })
}

/// The acceptor's half of a handshake in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    opener: String,
    nonce_o: String,
    nonce_a: String,
}

impl Challenge {
    /// The neighbour that said hello.
    pub fn opener(&self) -> &str {
        &self.opener
    }

    /// `CHALLENGE <nonce_a>`.
    pub fn line(&self) -> String {
        format!("CHALLENGE {}", self.nonce_a)
    }

    /// Checks the opener's `PROOF` line; on success returns the `WELCOME`
    /// line to send. `me` is this server's name.
    pub fn check_proof(&self, secret: &HerdSecret, me: &str, line: &str) -> Result<String, Why> {
        let received = operand(line, "PROOF").ok_or("not a PROOF line")?;
        let expected = secret.mac(&["herd-peer", &self.opener, me, &self.nonce_o, &self.nonce_a]);
        if !verify(expected, received) {
            return Err("wrong proof");
        }
        let answer = welcome(secret, me, &self.opener, &self.nonce_a, &self.nonce_o);
        Ok(format!("WELCOME {answer}"))
    }
}

/// The opener's half of a handshake.
#[derive(Debug)]
pub struct Opening {
    me: String,
    neighbour: String,
    nonce_o: String,
}

/// What the opener still expects after sending its proof.
#[derive(Debug)]
pub struct AwaitWelcome {
    expected: HmacSha256,
}

impl Opening {
    /// Starts a handshake from `me` to `neighbour` with a fresh nonce.
    pub fn new(me: &str, neighbour: &str) -> std::io::Result<Opening> {
        Ok(Opening {
            me: me.to_owned(),
            neighbour: neighbour.to_owned(),
            nonce_o: new_nonce()?,
        })
    }

    /// `PEER <me> <nonce_o>`.
    pub fn hello(&self) -> String {
        format!("PEER {} {}", self.me, self.nonce_o)
    }

    /// Answers the acceptor's `CHALLENGE` line with the `PROOF` line to
    /// send, and what its `WELCOME` must be.
    pub fn answer(&self, secret: &HerdSecret, line: &str) -> Result<(String, AwaitWelcome), Why> {
        let nonce_a = match operand(line, "CHALLENGE") {
            Some(nonce) if is_nonce(nonce) => nonce,
            Some(_) => return Err("a malformed CHALLENGE"),
            None if line.starts_with("? ") => return Err("the neighbour refused our PEER line"),
            None => return Err("no CHALLENGE"),
        };
        let proof = proof(secret, &self.me, &self.neighbour, &self.nonce_o, nonce_a);
        let expected = secret.mac(&[
            "herd-welcome",
            &self.neighbour,
            &self.me,
            nonce_a,
            &self.nonce_o,
        ]);
        Ok((format!("PROOF {proof}"), AwaitWelcome { expected }))
    }
}

impl AwaitWelcome {
    /// Checks the acceptor's `WELCOME` line.
    pub fn check(self, line: &str) -> Result<(), Why> {
        match operand(line, "WELCOME") {
            Some(mac) if verify(self.expected, mac) => Ok(()),
            Some(_) => Err("wrong WELCOME"),
            None if line.starts_with("? ") => Err("the neighbour refused our proof"),
            None => Err("no WELCOME"),
        }
    }
}

/// The one operand of `<verb> <operand>`, or `None` if the line is not that.
fn operand<'a>(line: &'a str, verb: &str) -> Option<&'a str> {
    let mut fields = protocol::fields(line);
    match (fields.next(), fields.next(), fields.next()) {
        (Some(v), Some(operand), None) if v == verb => Some(operand),
        _ => None,
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Lowercase hex only: a MAC is written one way.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE_O: &str = "0123456789abcdef0123456789abcdef";
    const NONCE_A: &str = "fedcba9876543210fedcba9876543210";
    /// Computed independently (Python's `hmac`); every build checks these.
    const PROOF: &str = "f1db1357d5bc2504b23185348dfad00427eb3b94de04cc3dbf9f23f4cd2ec1c5";
    const WELCOME: &str = "331a9ac7f4601041ca798c5cea263c380d22d6bd11900d73354b09c98d1ce67a";

    fn secret(text: &str) -> HerdSecret {
        HerdSecret::new(text.as_bytes().to_vec()).expect("non-empty")
    }

    #[test]
    fn the_shared_test_vector() {
        let s = secret("s3cret");
        assert_eq!(proof(&s, "Clark", "Jaquez", NONCE_O, NONCE_A), PROOF);
        assert_eq!(welcome(&s, "Jaquez", "Clark", NONCE_A, NONCE_O), WELCOME);
    }

    fn challenge() -> Challenge {
        Challenge {
            opener: "Clark".into(),
            nonce_o: NONCE_O.into(),
            nonce_a: NONCE_A.into(),
        }
    }

    #[test]
    fn the_acceptor_welcomes_the_right_proof_only() {
        let s = secret("s3cret");
        assert_eq!(
            challenge().check_proof(&s, "Jaquez", &format!("PROOF {PROOF}")),
            Ok(format!("WELCOME {WELCOME}"))
        );
        let upper = format!("PROOF {}", PROOF.to_uppercase());
        let short = format!("PROOF {}", &PROOF[..63]);
        let other = format!(
            "PROOF {}",
            proof(&secret("other"), "Clark", "Jaquez", NONCE_O, NONCE_A)
        );
        for line in [upper.as_str(), &short, &other, "PROOF", "PROOF zz", "AT x"] {
            assert!(
                challenge().check_proof(&s, "Jaquez", line).is_err(),
                "{line}"
            );
        }
        // The proof names the acceptor: one made for Jaquez fails at Juzang.
        assert_eq!(
            challenge().check_proof(&s, "Juzang", &format!("PROOF {PROOF}")),
            Err("wrong proof")
        );
    }

    #[test]
    fn the_opener_checks_the_welcome() {
        let s = secret("s3cret");
        let opening = Opening {
            me: "Clark".into(),
            neighbour: "Jaquez".into(),
            nonce_o: NONCE_O.into(),
        };
        assert_eq!(opening.hello(), format!("PEER Clark {NONCE_O}"));
        let (line, welcome) = opening
            .answer(&s, &format!("CHALLENGE {NONCE_A}"))
            .expect("a good challenge");
        assert_eq!(line, format!("PROOF {PROOF}"));
        assert_eq!(welcome.check(&format!("WELCOME {WELCOME}")), Ok(()));
        let (_, welcome) = opening
            .answer(&s, &format!("CHALLENGE {NONCE_A}"))
            .expect("ok");
        assert_eq!(
            welcome.check(&format!("WELCOME {PROOF}")),
            Err("wrong WELCOME")
        );
        assert!(opening.answer(&s, "CHALLENGE 123").is_err());
        assert!(
            opening
                .answer(&s, &format!("? PEER Clark {NONCE_O}"))
                .is_err()
        );
    }

    #[test]
    fn hellos_are_judged_by_secret_name_and_nonce() {
        let s = secret("s3cret");
        let judge =
            |secret, neighbour, nonce| on_hello(secret, neighbour, "Clark", nonce).expect("rng");
        assert!(matches!(judge(None, true, None), Hello::Link(name) if name == "Clark"));
        assert!(matches!(judge(None, false, None), Hello::Refuse(_)));
        assert!(matches!(judge(None, true, Some(NONCE_O)), Hello::Refuse(_)));
        assert!(matches!(judge(Some(&s), true, None), Hello::Refuse(_)));
        assert!(matches!(
            judge(Some(&s), false, Some(NONCE_O)),
            Hello::Refuse(_)
        ));
        assert!(matches!(
            judge(Some(&s), true, Some("xyz")),
            Hello::Refuse(_)
        ));
        match judge(Some(&s), true, Some(NONCE_O)) {
            Hello::Challenge(c) => {
                let nonce = c.line().strip_prefix("CHALLENGE ").map(str::to_owned);
                assert!(nonce.is_some_and(|n| is_nonce(&n) && n != NONCE_A));
            }
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    #[test]
    fn nonces_are_fresh_hex() {
        let a = new_nonce().expect("rng");
        let b = new_nonce().expect("rng");
        assert!(is_nonce(&a) && is_nonce(&b));
        assert_eq!(a, a.to_lowercase());
        assert_ne!(a, b);
        assert!(is_nonce("ABCDEFabcdef01234567890123456789"));
        assert!(!is_nonce("g123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn the_secret_is_never_printed() {
        let s = secret("hunter2-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
        let var = "HERD_TEST_SECRET_THAT_IS_NOT_SET_ANYWHERE";
        let e = HerdSecret::from_env(var).expect_err("unset");
        assert!(
            e.0.contains(var) && e.0.contains("not set or is empty"),
            "{e}"
        );
    }
}
