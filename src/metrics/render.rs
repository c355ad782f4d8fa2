//! The Prometheus text exposition format (version 0.0.4) of a node's metrics.
//!
//! [`render`] reads the node's [`Metrics`](super::Metrics) and the figures
//! other parts of the node already keep (admission count, cache size, queue
//! depths, inbound links, dropped floods) and writes every metric family
//! with its `# HELP` and `# TYPE` lines. Label values are neighbour names
//! from the config and fixed words; they are escaped all the same.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::places::{ERROR_STATUSES, LATENCY_BUCKETS};
use super::{Received, SENT_KINDS, read};
use crate::state::NodeState;
use crate::store::changes::Changes;

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The whole scrape of `state`'s node.
pub fn render(state: &NodeState) -> String {
    let m = &state.metrics;
    let mut out = Text(String::with_capacity(8 * 1024));

    out.family(
        "herd_client_connections_active",
        "gauge",
        "Client connections open: served by a worker or waiting for one (what max_clients bounds).",
    );
    out.sample(
        "herd_client_connections_active",
        &[],
        state.clients.load(Ordering::Relaxed) as u64,
    );
    out.family(
        "herd_client_connections_waiting",
        "gauge",
        "Client connections accepted and queued, not yet taken by a pool worker.",
    );
    out.sample("herd_client_connections_waiting", &[], read(&m.waiting));
    out.family(
        "herd_client_connections_parked",
        "gauge",
        "Quiet client connections parked off the pool until they send again (park_idle_ms).",
    );
    out.sample("herd_client_connections_parked", &[], read(&m.parked));
    out.family(
        "herd_client_connections_refused_total",
        "counter",
        "Client connections closed at once because max_clients were open.",
    );
    out.sample(
        "herd_client_connections_refused_total",
        &[],
        read(&m.refused),
    );

    out.family(
        "herd_lines_received_total",
        "counter",
        "Lines received from clients and neighbours, by command (invalid: answered '? ' or garbage on a link).",
    );
    for (kind, counter) in Received::ALL.iter().zip(&m.received) {
        out.sample(
            "herd_lines_received_total",
            &[("command", kind.label())],
            read(counter),
        );
    }
    out.family(
        "herd_lines_sent_total",
        "counter",
        "Answers sent to clients: AT (to an IAMAT), answer (to a WHATSAT), error ('? ' lines).",
    );
    for (kind, counter) in SENT_KINDS.iter().zip(&m.sent) {
        out.sample("herd_lines_sent_total", &[("kind", kind)], read(counter));
    }
    out.family(
        "herd_invalid_lines_total",
        "counter",
        "Invalid lines, by where they came from (client connections or neighbours' links).",
    );
    for (from, counter) in ["client", "peer"].iter().zip(&m.invalid) {
        out.sample("herd_invalid_lines_total", &[("from", from)], read(counter));
    }

    out.family(
        "herd_cache_clients",
        "gauge",
        "Client ids whose location this node keeps.",
    );
    out.sample("herd_cache_clients", &[], state.cache.len() as u64);
    out.family(
        "herd_cache_evictions_total",
        "counter",
        "Clients evicted from a full cache (max_cached_clients).",
    );
    out.sample("herd_cache_evictions_total", &[], state.cache.evictions());
    if let Some(store) = state.cache.store() {
        store_families(&mut out, store);
    }

    let inbound = state.inbound.connected();
    out.family(
        "herd_link_up",
        "gauge",
        "1 while the link with a neighbour is connected: out (ours, carrying our floods) and in (theirs).",
    );
    for n in &m.neighbours {
        let name = n.name.as_str();
        out.sample(
            "herd_link_up",
            &[("neighbour", name), ("direction", "out")],
            read(&n.link_up),
        );
        let up = u64::from(inbound.iter().any(|i| i == name));
        out.sample(
            "herd_link_up",
            &[("neighbour", name), ("direction", "in")],
            up,
        );
    }
    out.family(
        "herd_link_queue_depth",
        "gauge",
        "Updates waiting in a neighbour's queue for its sender thread.",
    );
    for n in &m.neighbours {
        let depth = state.flooder.queued(&n.name).unwrap_or(0) as u64;
        out.sample("herd_link_queue_depth", &[("neighbour", &n.name)], depth);
    }
    out.family(
        "herd_floods_sent_total",
        "counter",
        "Queued updates (AT lines) written to a neighbour's link.",
    );
    for n in &m.neighbours {
        out.sample(
            "herd_floods_sent_total",
            &[("neighbour", &n.name)],
            read(&n.floods_sent),
        );
    }
    out.family(
        "herd_floods_dropped_total",
        "counter",
        "Updates dropped because a neighbour's queue was full (each forces a catch-up dump).",
    );
    for n in &m.neighbours {
        let dropped = state.flooder.dropped(&n.name).unwrap_or(0);
        out.sample(
            "herd_floods_dropped_total",
            &[("neighbour", &n.name)],
            dropped,
        );
    }
    out.family(
        "herd_floods_received_total",
        "counter",
        "AT lines received from neighbours: applied (newer, flooded on) or stale (changed nothing).",
    );
    out.sample(
        "herd_floods_received_total",
        &[("outcome", "applied")],
        read(&m.floods_applied),
    );
    out.sample(
        "herd_floods_received_total",
        &[("outcome", "stale")],
        read(&m.floods_stale),
    );
    out.family(
        "herd_catchup_dumps_total",
        "counter",
        "Catch-up dumps (the whole cache) sent to a neighbour: on each link up and after an overflow.",
    );
    for n in &m.neighbours {
        out.sample(
            "herd_catchup_dumps_total",
            &[("neighbour", &n.name)],
            read(&n.catchup_dumps),
        );
    }
    out.family(
        "herd_catchup_lines_total",
        "counter",
        "AT lines sent to a neighbour in catch-up dumps.",
    );
    for n in &m.neighbours {
        out.sample(
            "herd_catchup_lines_total",
            &[("neighbour", &n.name)],
            read(&n.catchup_lines),
        );
    }

    let latency = m.places.latency();
    out.family(
        "herd_places_request_seconds",
        "histogram",
        "Time a WHATSAT spent waiting for the Places provider.",
    );
    for (bound, count) in LATENCY_BUCKETS.iter().zip(&latency.cumulative) {
        let le = format!("{bound:?}");
        out.sample("herd_places_request_seconds_bucket", &[("le", &le)], *count);
    }
    out.sample(
        "herd_places_request_seconds_bucket",
        &[("le", "+Inf")],
        latency.count,
    );
    out.line(format_args!(
        "herd_places_request_seconds_sum {}",
        latency.sum_seconds
    ));
    out.sample("herd_places_request_seconds_count", &[], latency.count);
    out.family(
        "herd_places_errors_total",
        "counter",
        "WHATSAT answers whose JSON carries a non-OK status, by that status (other: any unlisted one).",
    );
    for (status, count) in ERROR_STATUSES.iter().zip(m.places.errors()) {
        out.sample("herd_places_errors_total", &[("status", status)], count);
    }

    out.family(
        "herd_pool_workers_busy",
        "gauge",
        "Pool workers serving a client connection.",
    );
    out.sample("herd_pool_workers_busy", &[], read(&m.busy));
    out.family(
        "herd_pool_threads",
        "gauge",
        "Size of the pool of client workers (--threads).",
    );
    out.sample("herd_pool_threads", &[], m.pool_threads);
    out.0
}

/// The text being written; writing to a `String` cannot fail.
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.line(format_args!("# HELP {name} {}", escape_help(help)));
        self.line(format_args!("# TYPE {name} {kind}"));
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        let _ = self.0.write_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{key}=\"{}\"", escape_label(value));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn line(&mut self, text: std::fmt::Arguments<'_>) {
        let _ = self.0.write_fmt(text);
        self.0.push('\n');
    }
}

/// A label value as the format wants it: `\`, `"` and newline escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// HELP text: `\` and newline escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The durable store's families (PROTOCOL §8), only where the node has one.
fn store_families(out: &mut Text, store: &Changes) {
    let stats = &store.stats;
    out.family(
        "herd_store_durable",
        "gauge",
        "1 while the store writes and every answer keeps its sync mode's promise; 0 while it cannot write (answers are then not durable).",
    );
    out.sample("herd_store_durable", &[], u64::from(store.is_healthy()));
    out.family(
        "herd_store_pending_changes",
        "gauge",
        "Clients changed in the cache and not yet written to the store.",
    );
    out.sample("herd_store_pending_changes", &[], store.pending() as u64);
    out.family(
        "herd_store_written_total",
        "counter",
        "Changes written to the store (repeats of one client between two batches count once).",
    );
    out.sample(
        "herd_store_written_total",
        &[],
        stats.written.load(Ordering::Relaxed),
    );
    out.family(
        "herd_store_batches_total",
        "counter",
        "Batches written to the store (one per group commit).",
    );
    out.sample(
        "herd_store_batches_total",
        &[],
        stats.batches.load(Ordering::Relaxed),
    );
    out.family("herd_store_fsyncs_total", "counter", "fsyncs of the store.");
    out.sample(
        "herd_store_fsyncs_total",
        &[],
        stats.syncs.load(Ordering::Relaxed),
    );
    out.family(
        "herd_store_fsync_seconds_total",
        "counter",
        "Time spent in the store's fsyncs.",
    );
    out.line(format_args!(
        "herd_store_fsync_seconds_total {}",
        stats.sync_micros.load(Ordering::Relaxed) as f64 / 1e6
    ));
    out.family(
        "herd_store_failures_total",
        "counter",
        "Writes, fsyncs and reopenings of the store that failed (a full disk, say).",
    );
    out.sample(
        "herd_store_failures_total",
        &[],
        stats.failures.load(Ordering::Relaxed),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape_help("x\\y\nz"), "x\\\\y\\nz");
        let mut text = Text(String::new());
        text.sample("m", &[("neighbour", "Ja\"quez"), ("direction", "in")], 7);
        assert_eq!(text.0, "m{neighbour=\"Ja\\\"quez\",direction=\"in\"} 7\n");
    }
}
