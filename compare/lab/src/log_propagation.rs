//! Flood propagation read from the servers' own logs.
//!
//! `herd-loadgen propagate` measures what a client sees: it polls every
//! other server with WHATSAT until the update shows. On two cores those
//! polls compete with the flood for the same CPUs, so the figure is partly
//! the measurement's own load. Every node also logs each line it receives,
//! with a microsecond timestamp from the same clock: the time from the
//! probe's IAMAT arriving at its server to its AT line arriving at each
//! other server is the propagation itself, with nothing added. The lab
//! reports both.

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use serde_json::{Value, json};

/// A received IAMAT or AT line of a probe (client id starting with
/// `prefix`) in a log line `<time> < <addr> <line received>`: the command,
/// the client id and the time.
fn receipt<'a>(line: &'a str, prefix: &str) -> Option<(&'static str, &'a str, SystemTime)> {
    let mut parts = line.splitn(4, ' ');
    let (Some(time), Some("<"), Some(_addr), Some(received)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let words: Vec<&str> = received.split(' ').collect();
    let (command, client) = match words.as_slice() {
        ["IAMAT", client, ..] => ("IAMAT", *client),
        ["AT", _, _, client, ..] => ("AT", *client),
        _ => return None,
    };
    if !client.starts_with(prefix) {
        return None;
    }
    let at = humantime::parse_rfc3339(time).ok()?;
    Some((command, client, at))
}

/// Per (probe, server) and per probe (slowest server) latencies, in µs, for
/// probe client ids starting with `prefix`, from the `*.log` files in
/// `log_dir`. `None` when no probe is found in the logs.
pub fn measure(log_dir: &Path, prefix: &str) -> Option<Value> {
    let mut iamat: HashMap<String, (String, SystemTime)> = HashMap::new();
    let mut first_at: HashMap<(String, String), SystemTime> = HashMap::new();
    let mut servers = Vec::new();
    for entry in std::fs::read_dir(log_dir).ok()?.flatten() {
        let path = entry.path();
        let Some(server) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .map(str::to_owned)
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        servers.push(server.clone());
        for (command, client, at) in text.lines().filter_map(|l| receipt(l, prefix)) {
            if command == "IAMAT" {
                iamat
                    .entry(client.to_owned())
                    .or_insert((server.clone(), at));
            } else {
                let slot = first_at
                    .entry((server.clone(), client.to_owned()))
                    .or_insert(at);
                *slot = (*slot).min(at);
            }
        }
    }
    let mut pairs = Vec::new();
    let mut all_servers = Vec::new();
    for (client, (origin, sent)) in &iamat {
        let mut slowest: Option<f64> = Some(0.0);
        for server in servers.iter().filter(|s| *s != origin) {
            match first_at.get(&(server.clone(), client.clone())) {
                Some(got) => {
                    let us = got
                        .duration_since(*sent)
                        .map_or(0.0, |d| d.as_secs_f64() * 1e6);
                    pairs.push(us);
                    slowest = slowest.map(|s| s.max(us));
                }
                None => slowest = None,
            }
        }
        if let Some(us) = slowest {
            all_servers.push(us);
        }
    }
    if pairs.is_empty() {
        return None;
    }
    Some(json!({
        "probes": iamat.len(),
        "probes_everywhere": all_servers.len(),
        "pairs_us": stats(&mut pairs),
        "all_servers_us": stats(&mut all_servers),
    }))
}

/// p50, p90, p99 and max (nearest rank) of `values`.
fn stats(values: &mut [f64]) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    values.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        let i = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
        (values[i]).round()
    };
    json!({"p50": rank(0.5), "p90": rank(0.9), "p99": rank(0.99), "max": rank(1.0)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_servers_first_receipt_of_each_probe() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(format!("{name}.log")), text).expect("write")
        };
        write(
            "Bernard",
            "2026-11-26T11:11:53.000100Z < 127.0.0.1:1 IAMAT lgp7-0 +1+2 1.0\n\
             2026-11-26T11:11:53.000200Z > 127.0.0.1:1 AT Bernard +0.1 lgp7-0 +1+2 1.0\n\
             2026-11-26T11:11:53.000300Z < 127.0.0.1:1 IAMAT lgl7-0 +1+2 1.0\n",
        );
        write(
            "Clark",
            "2026-11-26T11:11:53.000400Z < 127.0.0.1:2 AT Bernard +0.1 lgp7-0 +1+2 1.0\n\
             2026-11-26T11:11:53.000900Z < 127.0.0.1:3 AT Bernard +0.1 lgp7-0 +1+2 1.0\n",
        );
        write(
            "Jaquez",
            "2026-11-26T11:11:53.001100Z < 127.0.0.1:2 AT Bernard +0.1 lgp7-0 +1+2 1.0\n",
        );
        let got = measure(dir.path(), "lgp7-").expect("a probe");
        assert_eq!(got["probes"], 1);
        assert_eq!(got["probes_everywhere"], 1);
        assert_eq!(got["pairs_us"]["p50"], 300.0);
        assert_eq!(got["all_servers_us"]["max"], 1000.0);
        assert!(measure(dir.path(), "nothing-").is_none());
    }
}
