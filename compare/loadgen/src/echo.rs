//! A trivial line server that measures this machine's loopback ceiling:
//! what a server that does no work at all can answer, with one OS thread
//! per connection (`threads`) or one tokio task per connection (`tokio`).
//! Each line gets exactly one line back: an IAMAT gets a well-formed AT line
//! built from its fields (so `run` validates it like a herd answer), any
//! other line gets itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::report;
use crate::stop;

/// Longest line read; a longer one closes the connection.
const MAX_LINE: u64 = 64 * 1024;

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    lines: AtomicU64,
}

/// The answer to one line (given with or without its line ending).
pub fn answer(line: &[u8]) -> Vec<u8> {
    let line = crate::requests::trim_newline(line);
    let mut out = Vec::with_capacity(line.len() + 32);
    if line.starts_with(b"IAMAT ") {
        let fields: Vec<&[u8]> = line
            .split(|&b| b == b' ')
            .filter(|f| !f.is_empty())
            .collect();
        if let [_, client, location, time] = fields.as_slice() {
            out.extend_from_slice(b"AT Echo +0.000000000 ");
            for (i, field) in [client, location, time].into_iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(field);
            }
            out.push(b'\n');
            return out;
        }
    }
    out.extend_from_slice(line);
    out.push(b'\n');
    out
}

/// Prints the ready line, then on SIGTERM/SIGINT the JSON and exits.
fn announce(addr: SocketAddr, model: &'static str, counters: Arc<Counters>) {
    println!("echo listening on {addr}");
    let _ = std::io::stdout().flush();
    stop::on_signal(move || {
        report::emit(&json!({
            "command": report::command_line(),
            "model": model,
            "addr": addr.to_string(),
            "connections": counters.connections.load(Ordering::Relaxed),
            "lines": counters.lines.load(Ordering::Relaxed),
        }));
        let _ = std::io::stdout().flush();
        std::process::exit(0);
    });
}

/// `--model threads`: std listener, one OS thread per connection.
pub fn run_threads(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    let counters = Arc::new(Counters::default());
    announce(listener.local_addr()?, "threads", counters.clone());
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors and the like: wait a little, go on.
                eprintln!("echo: accept: {e}");
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
        };
        counters.connections.fetch_add(1, Ordering::Relaxed);
        let counters = counters.clone();
        let spawned = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let _ = stream.set_nodelay(true);
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                let mut line = Vec::with_capacity(256);
                loop {
                    line.clear();
                    match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if !line.ends_with(b"\n") && line.len() as u64 >= MAX_LINE => return,
                        Ok(_) => {}
                    }
                    counters.lines.fetch_add(1, Ordering::Relaxed);
                    if writer.write_all(&answer(&line)).is_err() {
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            eprintln!("echo: cannot start a thread: {e}");
        }
    }
}

/// `--model tokio`: the runtime's workers, one task per connection.
pub async fn run_tokio(addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let counters = Arc::new(Counters::default());
    announce(listener.local_addr()?, "tokio", counters.clone());
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("echo: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        counters.connections.fetch_add(1, Ordering::Relaxed);
        let counters = counters.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let (read, mut writer) = stream.into_split();
            let mut reader = tokio::io::BufReader::new(read);
            let mut line = Vec::with_capacity(256);
            loop {
                line.clear();
                match (&mut reader)
                    .take(MAX_LINE)
                    .read_until(b'\n', &mut line)
                    .await
                {
                    Ok(0) | Err(_) => return,
                    Ok(_) if !line.ends_with(b"\n") && line.len() as u64 >= MAX_LINE => return,
                    Ok(_) => {}
                }
                counters.lines.fetch_add(1, Ordering::Relaxed);
                if writer.write_all(&answer(&line)).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::answer;

    #[test]
    fn iamat_gets_an_at_line_and_anything_else_itself() {
        assert_eq!(
            answer(b"IAMAT kiwi +34.068930-118.445127 1621464827.959498503\n"),
            b"AT Echo +0.000000000 kiwi +34.068930-118.445127 1621464827.959498503\n"
        );
        assert_eq!(
            answer(b"IAMAT  kiwi +1+2   3\r\n"),
            b"AT Echo +0.000000000 kiwi +1+2 3\n"
        );
        assert_eq!(answer(b"IAMAT kiwi +1+2\n"), b"IAMAT kiwi +1+2\n");
        assert_eq!(answer(b"hello\n"), b"hello\n");
        assert_eq!(answer(b"last"), b"last\n");
    }
}
