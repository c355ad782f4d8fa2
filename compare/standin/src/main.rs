//! The `herd-standin` command line (formerly `herd places serve`): parses
//! the flags, starts the stand-in, prints one ready line on stdout and
//! serves until SIGINT or SIGTERM.
//!
//! Errors leave here as one line on stderr (`herd-standin: ...`) and an exit
//! code: 2 for a bad command line (before any port is opened), 1 for
//! anything that fails while running.

#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use herd::cli::{self, Failure, resolve_flag_addr};
use herd_standin::{FaultRates, StandinOptions};

/// Serve both Google Nearby Search endpoints from the offline data set.
///
/// Legacy (GET /maps/api/place/nearbysearch/json) and New (POST
/// /v1/places:searchNearby), with optional latency and faults, until
/// SIGINT or SIGTERM. Prints one line with the address and both URLs
/// when ready.
#[derive(Parser)]
#[command(name = "herd-standin", version, about)]
struct ServeArgs {
    /// Where to listen; port 0 picks a free port (the ready line shows it).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    addr: String,
    /// An accepted API key (repeat for more; PLACES_STANDIN_KEYS adds a
    /// comma-separated list). With none, any non-empty key is accepted.
    #[arg(long = "key", value_name = "K")]
    keys: Vec<String>,
    /// Fixed delay before every answer.
    #[arg(long, value_name = "N", default_value_t = 0)]
    latency_ms: u64,
    /// Extra delay per request, drawn uniformly from 0 to N ms.
    #[arg(long, value_name = "N", default_value_t = 0)]
    jitter_ms: u64,
    /// Seed of the jitter, fault and page-token draws.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// How long a legacy next_page_token is refused after it was issued.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    page_token_delay_ms: u64,
    /// Share of requests answered HTTP 500 (from 0, the default, to 1).
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    fault_http500: Option<String>,
    /// Share answered UNKNOWN_ERROR (legacy) / 503 UNAVAILABLE (New).
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    fault_unknown_error: Option<String>,
    /// Share answered OVER_QUERY_LIMIT (legacy) / 429 RESOURCE_EXHAUSTED (New).
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    fault_over_query_limit: Option<String>,
    /// Share answered 200 with the body cut in half.
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    fault_broken_json: Option<String>,
    /// Share whose connection is closed halfway through the body.
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    fault_drop: Option<String>,
    /// Share never answered (until the client gives up or the stand-in stops).
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    fault_hang: Option<String>,
}

fn main() -> ExitCode {
    cli::init_logging(&[]);
    cli::exit("herd-standin", run(ServeArgs::parse()))
}

fn run(args: ServeArgs) -> Result<(), Failure> {
    let env_keys = std::env::var("PLACES_STANDIN_KEYS").ok();
    let options = standin_options(&args, env_keys.as_deref())?;
    // Catch SIGINT/SIGTERM before the port opens: from the moment a client
    // can see the stand-in, a signal means a clean stop.
    let mut signals = Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Failure::running(format!("cannot install signal handlers: {e}")))?;
    let standin = herd_standin::start(options).map_err(|e| {
        Failure::running(format!(
            "places stand-in: cannot start on {}: {e}",
            args.addr
        ))
    })?;
    let mut stdout = io::stdout();
    writeln!(
        stdout,
        "places stand-in on {} legacy {} new {}",
        standin.addr(),
        standin.legacy_url(),
        standin.new_url()
    )
    .and_then(|()| stdout.flush())
    .map_err(|e| Failure::running(format!("stdout: {e}")))?;
    let _ = signals.forever().next();
    let requests = standin.requests();
    standin.stop();
    log::info!("places stand-in stopped after {requests} requests");
    Ok(())
}

/// The stand-in's options from the command line and `PLACES_STANDIN_KEYS`;
/// any bad value is a one-line error with exit code 2. Keys are never shown.
fn standin_options(args: &ServeArgs, env_keys: Option<&str>) -> Result<StandinOptions, Failure> {
    let addr = resolve_flag_addr("--addr", &args.addr)?;
    let mut keys = args.keys.clone();
    keys.extend(
        env_keys
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned),
    );
    if keys.iter().any(String::is_empty) {
        return Err(Failure::config("--key: an API key cannot be empty"));
    }
    let faults = FaultRates {
        http_500: parse_rate("fault-http500", args.fault_http500.as_deref())?,
        unknown_error: parse_rate("fault-unknown-error", args.fault_unknown_error.as_deref())?,
        over_query_limit: parse_rate(
            "fault-over-query-limit",
            args.fault_over_query_limit.as_deref(),
        )?,
        broken_json: parse_rate("fault-broken-json", args.fault_broken_json.as_deref())?,
        drop_connection: parse_rate("fault-drop", args.fault_drop.as_deref())?,
        never_answer: parse_rate("fault-hang", args.fault_hang.as_deref())?,
    };
    let options = StandinOptions {
        addr,
        keys,
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        seed: args.seed,
        faults,
        page_token_delay: Duration::from_millis(args.page_token_delay_ms),
    };
    options.validate().map_err(Failure::config)?;
    Ok(options)
}

/// A fault rate: a number from 0 to 1; absent, 0.
fn parse_rate(flag: &str, text: Option<&str>) -> Result<f64, Failure> {
    let Some(text) = text else {
        return Ok(0.0);
    };
    match text.trim().parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(Failure::config(format!(
            "--{flag} {text:?}: a fault rate is a number from 0 to 1"
        ))),
    }
}
