//! The protocol cases in `tests/cases/*.txt`: a parser and a runner.
//!
//! Cases are data, not Rust, so that every build of the herd (this one and
//! those under `compare/`) is checked against the same lines. The format is
//! described in `tests/cases/README.md`. A case runs on one fresh
//! connection to a server named `Clark`, against any address.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::DEADLINE;

/// One named case from a case file.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: String,
    pub name: String,
    pub line: usize,
    /// The server's `[limits]` table (TOML, empty for the defaults), from
    /// the file's `@limits` lines: cases with different tables run on
    /// different servers.
    pub limits: String,
    steps: Vec<Step>,
}

/// How many repeated lines are sent in one write before their answers are
/// read: a `>repeat` of thousands of lines never waits on full buffers.
const REPEAT_CHUNK: usize = 100;

#[derive(Debug, Clone)]
enum Step {
    /// Bytes to send (placeholders resolved when the case runs).
    Send(String),
    /// Close our sending side.
    HalfClose,
    /// One answer line, without its newline.
    Expect(String),
    /// A WHATSAT JSON block up to its blank line.
    ExpectJson {
        status: String,
        results: usize,
        names: Vec<String>,
    },
    /// The server closes the connection.
    ExpectEof,
    /// `>repeat N text` and its `<repeat N pattern`: N lines, `{i}` from
    /// 1 to N, each answered by a line matching `expect` with the same `i`.
    Repeat {
        count: u64,
        send: String,
        expect: String,
    },
}

/// The directory holding the case files.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("cases")
}

/// Every case of every `*.txt` file in `dir`, in file then line order.
pub fn load_all(dir: &Path) -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("cases directory")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("case file is UTF-8");
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        cases.extend(parse(&file, &text));
    }
    cases
}

/// Cases grouped by the server they need: one group per distinct
/// `[limits]` table, the default server's (empty table) first.
pub fn by_server(cases: &[Case]) -> Vec<(String, Vec<&Case>)> {
    let mut groups: Vec<(String, Vec<&Case>)> = Vec::new();
    for case in cases {
        match groups.iter_mut().find(|(limits, _)| *limits == case.limits) {
            Some((_, group)) => group.push(case),
            None => groups.push((case.limits.clone(), vec![case])),
        }
    }
    groups.sort_by_key(|(limits, _)| !limits.is_empty());
    groups
}

/// `@limits key=value ...` as a `[limits]` TOML table.
fn limits_table(words: &str) -> Option<String> {
    let mut table = String::from("[limits]\n");
    for pair in words.split_whitespace() {
        let (key, value) = pair.split_once('=')?;
        if key.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) || value.is_empty() {
            return None;
        }
        table.push_str(&format!("{key} = {value}\n"));
    }
    Some(table)
}

/// `>repeat N text` or `<repeat N pattern`: the count and the text.
fn repeat_step(rest: &str) -> Option<(u64, String)> {
    let (count, text) = rest.split_once(' ')?;
    let count = count.parse().ok().filter(|n| *n > 0)?;
    Some((count, text.to_owned()))
}

/// Parses one case file; panics with the file and line on a malformed one.
pub fn parse(file: &str, text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let mut limits = String::new();
    // A `>repeat` waiting for its `<repeat` on the next step line.
    let mut repeat: Option<(u64, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let at = || format!("{file}:{}", index + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(words) = line.strip_prefix("@limits ") {
            assert!(cases.is_empty(), "{}: @limits after a case", at());
            let table = limits_table(words)
                .unwrap_or_else(|| panic!("{}: @limits takes key=number words", at()));
            // Several `@limits` lines make one table.
            let keys = table.strip_prefix("[limits]\n").unwrap_or(&table);
            if limits.is_empty() {
                limits.push_str("[limits]\n");
            }
            limits.push_str(keys);
            continue;
        }
        if let Some(rest) = line.strip_prefix("<repeat ") {
            let (count, expect) =
                repeat_step(rest).unwrap_or_else(|| panic!("{}: bad <repeat step", at()));
            let (sent, send) = repeat
                .take()
                .unwrap_or_else(|| panic!("{}: <repeat without a >repeat before it", at()));
            assert_eq!(
                sent,
                count,
                "{}: <repeat count differs from >repeat's",
                at()
            );
            if let Some(case) = cases.last_mut() {
                case.steps.push(Step::Repeat {
                    count,
                    send,
                    expect,
                });
            }
            continue;
        }
        assert!(
            repeat.is_none(),
            "{}: a >repeat must be followed by its <repeat",
            at()
        );
        if let Some(name) = line.strip_prefix("== ") {
            cases.push(Case {
                file: file.to_owned(),
                name: name.trim().to_owned(),
                line: index + 1,
                limits: limits.clone(),
                steps: Vec::new(),
            });
            continue;
        }
        let case = cases
            .last_mut()
            .unwrap_or_else(|| panic!("{}: step before any case", at()));
        if let Some(rest) = line.strip_prefix(">repeat ") {
            repeat =
                Some(repeat_step(rest).unwrap_or_else(|| panic!("{}: bad >repeat step", at())));
            continue;
        }
        let step = if let Some(raw) = line.strip_prefix(">raw ") {
            Step::Send(raw.to_owned())
        } else if line == ">eof" {
            Step::HalfClose
        } else if let Some(rest) = line.strip_prefix('>') {
            Step::Send(format!("{}\\n", rest.strip_prefix(' ').unwrap_or(rest)))
        } else if let Some(rest) = line.strip_prefix("<json ") {
            parse_json_step(rest).unwrap_or_else(|| panic!("{}: bad <json step", at()))
        } else if line == "<eof" {
            Step::ExpectEof
        } else if let Some(rest) = line.strip_prefix("< ") {
            Step::Expect(rest.to_owned())
        } else {
            panic!("{}: unknown step {line:?}", at());
        };
        case.steps.push(step);
    }
    assert!(
        repeat.is_none(),
        "{file}: a >repeat at the end has no <repeat"
    );
    cases
}

/// `<json STATUS COUNT [names=A|B|C]`
fn parse_json_step(rest: &str) -> Option<Step> {
    let (head, names) = match rest.split_once(" names=") {
        Some((head, names)) => (head, names.split('|').map(str::to_owned).collect()),
        None => (rest, Vec::new()),
    };
    let mut words = head.split_whitespace();
    let status = words.next()?.to_owned();
    let results = words.next()?.parse().ok()?;
    Some(Step::ExpectJson {
        status,
        results,
        names,
    })
}

/// Runs `case` on a new connection to `addr`; the error says which step
/// failed and what came instead.
pub fn run(case: &Case, addr: SocketAddr) -> Result<(), String> {
    let stream =
        TcpStream::connect_timeout(&addr, DEADLINE).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(DEADLINE))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(DEADLINE))
        .map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let now = super::node_now();
    for (number, step) in case.steps.iter().enumerate() {
        let fail = |what: String| format!("step {}: {what}", number + 1);
        match step {
            Step::Send(text) => {
                let bytes = resolve(text, now, None);
                writer
                    .write_all(&bytes)
                    .map_err(|e| fail(format!("send: {e}")))?;
            }
            Step::HalfClose => {
                writer
                    .shutdown(Shutdown::Write)
                    .map_err(|e| fail(format!("half-close: {e}")))?;
            }
            Step::Expect(pattern) => {
                let got = read_line(&mut reader).map_err(fail)?;
                let expected = resolve(pattern, now, None);
                if !matches(&expected, &got) {
                    return Err(fail(format!(
                        "expected {:?}\n got {:?}",
                        shorten(&expected),
                        shorten(&got)
                    )));
                }
            }
            Step::ExpectJson {
                status,
                results,
                names,
            } => {
                check_json(&mut reader, status, *results, names).map_err(fail)?;
            }
            Step::ExpectEof => {
                let mut rest = Vec::new();
                match reader.read_to_end(&mut rest) {
                    Ok(_) if rest.is_empty() => {}
                    Ok(_) => return Err(fail(format!("expected EOF, got {:?}", shorten(&rest)))),
                    // A reset after the close is a close too.
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                    Err(e) => return Err(fail(format!("expected EOF: {e}"))),
                }
            }
            Step::Repeat {
                count,
                send,
                expect,
            } => repeat(&mut writer, &mut reader, (*count, send, expect), now).map_err(fail)?,
        }
    }
    Ok(())
}

/// Sends `count` lines made of `send` (`{i}` from 1 to `count`) in writes
/// of [`REPEAT_CHUNK`] lines, reading each write's answers before the next,
/// and checks each answer against `expect` with the same `i`.
fn repeat(
    writer: &mut impl Write,
    reader: &mut impl BufRead,
    (count, send, expect): (u64, &str, &str),
    now: i128,
) -> Result<(), String> {
    let mut first = 1;
    while first <= count {
        let last = count.min(first + REPEAT_CHUNK as u64 - 1);
        let mut bytes = Vec::new();
        for i in first..=last {
            bytes.extend(resolve(send, now, Some(i)));
            bytes.push(b'\n');
        }
        writer
            .write_all(&bytes)
            .map_err(|e| format!("send (i = {first}..{last}): {e}"))?;
        for i in first..=last {
            let got = read_line(reader).map_err(|e| format!("i = {i}: {e}"))?;
            let expected = resolve(expect, now, Some(i));
            if !matches(&expected, &got) {
                return Err(format!(
                    "i = {i}: expected {:?}\n got {:?}",
                    shorten(&expected),
                    shorten(&got)
                ));
            }
        }
        first = last + 1;
    }
    Ok(())
}

fn read_line(reader: &mut impl BufRead) -> Result<Vec<u8>, String> {
    let mut line = Vec::new();
    reader
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("reading an answer: {e}"))?;
    match line.strip_suffix(b"\n") {
        Some(text) => Ok(text.to_vec()),
        None => Err(format!(
            "connection closed; partial answer {:?}",
            shorten(&line)
        )),
    }
}

fn check_json(
    reader: &mut impl BufRead,
    status: &str,
    results: usize,
    names: &[String],
) -> Result<(), String> {
    let mut text = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        text.extend_from_slice(&line);
        text.push(b'\n');
    }
    let json: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("answer is not JSON ({e})"))?;
    let got_status = json["status"].as_str().unwrap_or("<none>");
    let list = json["results"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if got_status != status || list.len() != results {
        return Err(format!(
            "expected status {status} with {results} results, got {got_status} with {}",
            list.len()
        ));
    }
    for (i, name) in names.iter().enumerate() {
        let got = list
            .get(i)
            .and_then(|r| r["name"].as_str())
            .unwrap_or("<none>");
        if got != name {
            return Err(format!("result {i}: expected {name:?}, got {got:?}"));
        }
    }
    Ok(())
}

/// `N`, `+N`, `-N` terms of `{now...}`: `+5`, `-5000+i` (`i` only inside
/// a `>repeat`), summed, in seconds.
fn now_offset(terms: &str, i: Option<u64>) -> i128 {
    let mut total: i128 = 0;
    let mut rest = terms;
    while !rest.is_empty() {
        let negative = rest.starts_with('-');
        let after = rest
            .strip_prefix(['+', '-'])
            .unwrap_or_else(|| panic!("{{now{terms}}}: a term needs a sign"));
        let end = after.find(['+', '-']).unwrap_or(after.len());
        let value: i128 = match &after[..end] {
            "i" => i128::from(i.unwrap_or_else(|| panic!("{{now{terms}}}: {{i}} outside >repeat"))),
            n => n
                .parse()
                .unwrap_or_else(|_| panic!("{{now{terms}}}: bad term {n:?}")),
        };
        total += if negative { -value } else { value };
        rest = &after[end..];
    }
    total
}

/// Resolves escapes (`\n \r \t \v \f \\ \xNN`) and placeholders (`{now}`,
/// `{now+N}`, `{now-N}`, `{now-N+i}`, `{i}`, `{x*N}`); `{diff}`, `{diff+}`
/// and `{diff-}` are kept for [`matches`]. `i`: the index of a `>repeat`
/// line.
fn resolve(text: &str, now: i128, i: Option<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix('\\') {
            let (byte, used) = match after.as_bytes().first() {
                Some(b'n') => (b'\n', 1),
                Some(b'r') => (b'\r', 1),
                Some(b't') => (b'\t', 1),
                Some(b'v') => (0x0b, 1),
                Some(b'f') => (0x0c, 1),
                Some(b'\\') => (b'\\', 1),
                Some(b'x') => {
                    let hex = after.get(1..3).expect("\\x needs two hex digits");
                    (u8::from_str_radix(hex, 16).expect("hex escape"), 3)
                }
                _ => panic!("unknown escape in {text:?}"),
            };
            out.push(byte);
            rest = &after[used..];
        } else if let Some(after) = rest.strip_prefix('{') {
            let (name, tail) = after.split_once('}').expect("unclosed placeholder");
            match name {
                "diff" | "diff+" | "diff-" => {
                    out.extend_from_slice(format!("{{{name}}}").as_bytes())
                }
                "i" => {
                    let i = i.unwrap_or_else(|| panic!("{{i}} outside >repeat in {text:?}"));
                    out.extend_from_slice(i.to_string().as_bytes());
                }
                _ if name.starts_with("now") => {
                    let t = now + now_offset(&name[3..], i) * 1_000_000_000;
                    out.extend_from_slice(
                        format!("{}.{:09}", t / 1_000_000_000, t % 1_000_000_000).as_bytes(),
                    );
                }
                _ if name.starts_with("x*") => {
                    let count: usize = name[2..].parse().expect("{x*N} count");
                    out.extend(std::iter::repeat_n(b'x', count));
                }
                _ => panic!("unknown placeholder {{{name}}}"),
            }
            rest = tail;
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Compares an answer with an expectation in which `{diff}` stands for a
/// time difference (`[+-]D+.DDDDDDDDD`), `{diff+}` for one with `+`, and
/// `{diff-}` for one with `-`.
pub fn matches(expected: &[u8], got: &[u8]) -> bool {
    let tokens: [(&[u8], Option<u8>); 3] = [
        (b"{diff+}", Some(b'+')),
        (b"{diff-}", Some(b'-')),
        (b"{diff}", None),
    ];
    let next = tokens
        .iter()
        .filter_map(|(token, sign)| find(expected, token).map(|at| (at, *token, *sign)))
        .min_by_key(|(at, _, _)| *at);
    let Some((at, token, sign)) = next else {
        return expected == got;
    };
    if got.len() < at || got[..at] != expected[..at] {
        return false;
    }
    let rest = &got[at..];
    let Some(&first) = rest.first() else {
        return false;
    };
    if !(first == b'+' || first == b'-') || sign.is_some_and(|s| s != first) {
        return false;
    }
    let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    let frac = &rest[1 + digits..];
    if digits == 0 || frac.first() != Some(&b'.') || frac.len() < 10 {
        return false;
    }
    if !frac[1..10].iter().all(u8::is_ascii_digit) || frac.get(10).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    matches(&expected[at + token.len()..], &frac[10..])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn shorten(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() > 200 {
        format!(
            "{}... ({} bytes)",
            &text[..text.floor_char_boundary(200)],
            bytes.len()
        )
    } else {
        text.into_owned()
    }
}

/// Reads with a short timeout whether the server sent anything more.
pub fn nothing_more(stream: &mut TcpStream, wait: Duration) -> bool {
    let _ = stream.set_read_timeout(Some(wait));
    let mut byte = [0u8; 1];
    !matches!(stream.read(&mut byte), Ok(n) if n > 0)
}
