//! `fki bench beskedfordeler`: the Beskedfordeler (SF1460) end to end over HTTP — afsend,
//! distribution by a thousand abonnementer, push to a receiver in this process, pull by tasks
//! of this process — and, for reference, RabbitMQ's own publish-confirm rate.
//!
//! Per backend (SQLite in a temporary directory, PostgreSQL in a throw-away database that is
//! dropped afterwards):
//!
//! 1. `fki serve --dev-open` starts as a child process ([`ServerProcess`]). Through the admin
//!    API the bench creates one system, `--vaerdilister` Værdilister of `--vaerdier` CPR URNs
//!    each (in batches of [`VALUE_BATCH`]), `--dueslag` dueslag (even-numbered: push to the
//!    receiver this process serves on 127.0.0.1; odd: pull) and `--abonnementer` abonnementer,
//!    each on a random dueslag, with mixed filters ([`Pools::filter_text`]): beskedtype
//!    equality, KLE prefixes on opgaveemne, NOT/OR combinations, and one in ten
//!    `relateretobjekt.objektid IN vaerdiliste(…)`.
//! 2. The receivers run from then on: the push receiver (on a thread and runtime of its own,
//!    apart from the senders, as a receiver elsewhere would be) answers every
//!    `ModtagBeskedInput` with StatusKode 20 and records when it arrived; one pull task per pull dueslag takes up
//!    to 100 messages (`GET …/beskeder?antal=100`), records their arrival, acknowledges them
//!    all with one batch `POST …/dueslag/{uuid}/kvitter`; an empty dueslag is long-polled
//!    (`vent=--pull-vent-ms`, the server answers when a message arrives), or with
//!    `--pull-vent-ms 0` polled again after `--pull-interval-ms`.
//! 3. Warm-up (unmeasured; it also makes the server read the Værdilister), then the phases,
//!    each `--seconds` long with `--concurrency` senders and followed by a drain (until every
//!    levering the server made has been delivered, at most `--drain-seconds`):
//!    - **max rate**: the senders afsend back to back;
//!    - **half rate**: paced senders at 50 % of the accepted rate of max rate.
//! 4. Afterwards, off the clock, every accepted message is checked against the dueslag its
//!    filters select (the messages are parsed again and the abonnementer's filters evaluated
//!    with `fki_beskedfordeler::filter`): each must have arrived there exactly, nowhere else.
//!
//! Messages: KOMBIT's `externTestBesked.xml` with a fresh BeskedId, the bench CVR as
//! TilladtModtager, and a random beskedtype, opgaveemne (KLE), objekthandling and CPR
//! (RelateretObjekt/ObjektId), drawn from pools sized so that a message reaches about two
//! dueslag whatever `--abonnementer` is ([`Pools`]). The send time of every message is kept in
//! a map from BeskedId ([`Tracker`]), registered before the request leaves.
//!
//! Figures: accepted msgs/s (afsend answered StatusKode 20), leveringer distributed/s (the
//! server's counter), delivered/s (push receipts + pull acknowledgements, counted when they
//! happened, inside the phase's window), **end-to-end msgs/s** (messages of the phase all of
//! whose leveringer were delivered before the phase ended, per second; a message no filter
//! selects counts when accepted), the backlog the server still held at the end of the phase,
//! and end-to-end latency (receiver's arrival − send) for push and pull.
//!
//! With `--transport amqp` the same run goes through RabbitMQ ([`over_amqp`]): the server gets
//! `FKI_AMQP_URL` and an afsend queue of its own, the senders afsend as KOMBIT's AMQP RPC
//! (`AFSEND_BESKED_EXCHANGE`, direct reply-to, one channel per sender), the odd dueslag are
//! `levering: amqp` and are read by consumers of their RabbitMQ queues (arrival when the
//! delivery is read, delivered when it is acknowledged to the broker), and the accepted rate
//! at max rate is set against RabbitMQ's raw publish-confirm rate of the same shape. `--pull
//! http|amqp` reads the non-push dueslag otherwise than `--transport` says, so the two AMQP
//! halves can be measured apart.
//!
//! Every request goes to 127.0.0.1 and every phase is bounded in time. Any failed request, any
//! message delivered where its filters do not send it, or missing after a completed drain, is an
//! error: a run with errors says so and exits non-zero.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::extract::{Path as AxPath, State};
use axum::response::IntoResponse;
use clap::Args;
use fki_beskedfordeler::filter::Filter;
use fki_beskedfordeler::kuvert::{Haendelsesbesked, NS_STS};
use fki_beskedfordeler::retur::StandardRetur;
use futures::StreamExt;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::server::ServerProcess;
use super::{Backend, BackendChoice, amqp, cpu, git_state};

mod over_amqp;

/// Targets the figures are compared with.
const TARGET_E2E_PER_S: f64 = 5_000.0;
const TARGET_P99_MS: f64 = 100.0;
/// fki's AMQP afsend against RabbitMQ's raw publish-confirm rate.
const TARGET_AMQP_SHARE: f64 = 0.5;

/// The myndighed the messages are sent for and the dueslag receive for.
const CVR: &str = fki_demo::DEMO_CVR;
/// KOMBIT's sample message, the template of every message.
const FIXTURE: &str =
    include_str!("../../../fki-beskedfordeler/tests/fixtures/externTestBesked.xml");
/// Values per admin call when filling a Værdiliste.
const VALUE_BATCH: usize = 20_000;
/// Admin calls in flight while creating abonnementer.
const SETUP_CONCURRENCY: usize = 8;
/// Messages a pull task asks for at once (the most the API gives).
const PULL_BATCH: u32 = 100;
/// Error samples kept.
const ERROR_SAMPLES: usize = 12;
/// Highest latency the histograms track, µs.
const MAX_LATENCY_US: u64 = 600_000_000;
/// Shards of the tracker's map.
const SHARDS: usize = 64;

#[derive(Args, Debug, Clone)]
pub struct BeskedfordelerArgs {
    /// Which store(s) to measure.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    backend: BackendChoice,
    /// PostgreSQL server for the throw-away database (a user allowed to CREATE DATABASE).
    #[arg(
        long,
        env = "FKI_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
    /// Length of each measured phase, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Concurrent senders.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Write all figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Seed of the filters and messages.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Abonnementer to create.
    #[arg(long, default_value_t = 1_000)]
    abonnementer: usize,
    /// Dueslag the abonnementer are spread over (even-numbered push, odd-numbered pull).
    #[arg(long, default_value_t = 40)]
    dueslag: usize,
    /// Værdilister of CPR URNs (one abonnement in ten filters on one).
    #[arg(long, default_value_t = 4)]
    vaerdilister: usize,
    /// Values per Værdiliste.
    #[arg(long, default_value_t = 100_000)]
    vaerdier: usize,
    /// How long a pull task waits after finding its dueslag empty, in milliseconds (only
    /// with `--pull-vent-ms 0`).
    #[arg(long, default_value_t = 20)]
    pull_interval_ms: u64,
    /// Long poll of the HTTP pull tasks: the server holds a pull of an empty dueslag up to this
    /// many milliseconds until a message arrives (`vent`); 0 = poll with `--pull-interval-ms`.
    #[arg(long, default_value_t = 1000)]
    pull_vent_ms: u64,
    /// Longest wait for the backlog to drain after a phase, in seconds.
    #[arg(long, default_value_t = 120.0)]
    drain_seconds: f64,
    /// RabbitMQ for the raw publish-confirm figures (skipped when unreachable).
    #[arg(
        long,
        env = "FKI_BENCH_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Do not measure RabbitMQ.
    #[arg(long)]
    skip_amqp: bool,
    /// How messages go in and the non-push dueslag are read: `http` (afsend and pull over
    /// HTTP) or `amqp` (afsend as KOMBIT's AMQP RPC, odd dueslag `levering: amqp` consumed from
    /// their RabbitMQ queues; needs RabbitMQ at `--amqp-url`).
    #[arg(long, value_enum, default_value_t = Transport::Http)]
    transport: Transport,
    /// How the non-push dueslag are read, when not as `--transport` says: `http` (pull over
    /// HTTP) or `amqp` (amqp dueslag read from RabbitMQ). E.g. `--transport amqp --pull http`
    /// measures the AMQP afsend without the forwarders' traffic.
    #[arg(long, value_enum)]
    pull: Option<Transport>,
}

impl BeskedfordelerArgs {
    /// How the non-push dueslag are read.
    fn pull(&self) -> Transport {
        self.pull.unwrap_or(self.transport)
    }
}

/// How the senders and the non-push receivers talk to the server.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Http,
    Amqp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Amqp => "amqp",
        }
    }
}

pub async fn run(a: BeskedfordelerArgs) -> anyhow::Result<()> {
    if !(a.seconds > 0.0 && a.seconds.is_finite()) {
        bail!("--seconds must be a positive number");
    }
    if !(a.drain_seconds >= 0.0 && a.drain_seconds.is_finite()) {
        bail!("--drain-seconds must be a number ≥ 0");
    }
    if a.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if a.dueslag < 2 || a.dueslag > u16::MAX as usize {
        bail!("--dueslag must be 2..65535 (one push and one pull at least)");
    }
    if a.abonnementer < a.dueslag {
        bail!("--abonnementer must be at least --dueslag (every dueslag gets one)");
    }
    if a.vaerdilister > 0 && a.vaerdier == 0 {
        bail!("--vaerdier must be at least 1 when there are Værdilister");
    }
    if a.vaerdier > 10_000_000 {
        bail!("--vaerdier: at most 10,000,000");
    }
    let backends = match a.backend {
        BackendChoice::Sqlite => vec![Backend::Sqlite],
        BackendChoice::Postgres => vec![Backend::Postgres],
        BackendChoice::Both => vec![Backend::Sqlite, Backend::Postgres],
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let (git_commit, git_dirty) = git_state();
    let common = Common {
        cores,
        git_commit,
        git_dirty,
    };

    let mut runs = Vec::new();
    let mut failures = Vec::new();
    for b in backends {
        match bench_backend(b, &a).await {
            Ok(r) => {
                println!("{}", r.table(&a, &common));
                runs.push(r);
            }
            Err(e) => {
                eprintln!("\n!!! the {} benchmark failed: {e:#}\n", b.name());
                failures.push(format!("{}: {e:#}", b.name()));
            }
        }
    }

    // RabbitMQ's own rate, with messages of the size the afsend phases sent.
    let payload = Pools::new(a.abonnementer, Vec::new(), 0, a.seed)
        .xml(Uuid::nil(), &Fields::default())
        .into_bytes();
    let amqp = if a.skip_amqp {
        AmqpOutcome::Skipped("--skip-amqp".into())
    } else {
        eprintln!(
            "\n== RabbitMQ publish-confirm at {}: {} s per shape, {}-byte persistent messages ==",
            redact(&a.amqp_url),
            a.seconds,
            payload.len()
        );
        // The floor shapes forward to as many queues as the run has amqp dueslag (the odd ones).
        match amqp::measure(
            &a.amqp_url,
            a.seconds,
            a.concurrency,
            &payload,
            (a.dueslag / 2).max(1),
        )
        .await
        {
            Ok(r) => AmqpOutcome::Measured(r),
            Err(amqp::Failure::Unreachable(e)) => AmqpOutcome::Skipped(format!("unreachable: {e}")),
            Err(amqp::Failure::Failed(e)) => {
                failures.push(format!("amqp: {e}"));
                AmqpOutcome::Failed(e)
            }
        }
    };
    println!("{}", amqp_table(&amqp, payload.len()));
    let amqp_path = amqp_path(a.transport, &runs, &amqp);
    println!("{}", amqp_path_table(&amqp_path));

    let errors: u64 = runs.iter().map(|r| r.errors).sum();
    if let Some(path) = &a.json {
        let doc = json!({
            "benchmark": "fki bench beskedfordeler",
            "date": chrono::Local::now().to_rfc3339(),
            "abonnementer": a.abonnementer,
            "dueslag": a.dueslag,
            "vaerdilister": a.vaerdilister,
            "vaerdier": a.vaerdier,
            "seed": a.seed,
            "concurrency": a.concurrency,
            "seconds": a.seconds,
            "pull_interval_ms": a.pull_interval_ms,
            "pull_vent_ms": a.pull_vent_ms,
            "cores": common.cores,
            "git_commit": common.git_commit,
            "git_dirty": common.git_dirty,
            "errors": errors,
            "failures": failures,
            "runs": runs.iter().map(|r| r.to_json(&a)).collect::<Vec<_>>(),
            "amqp_publish_confirm": amqp.to_json(payload.len()),
            "transport": a.transport.name(),
            "pull": a.pull().name(),
            "amqp_path": amqp_path,
        });
        let text = serde_json::to_string_pretty(&doc)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("figures written to {}", path.display());
    }
    if !failures.is_empty() {
        bail!("{} part(s) failed: {}", failures.len(), failures.join("; "));
    }
    if errors > 0 {
        eprintln!("\n{}", "!".repeat(72));
        eprintln!("!!! THIS RUN HAD {errors} ERROR(S) (see above).");
        eprintln!("!!! Its figures do not describe a healthy Beskedfordeler.");
        eprintln!("{}\n", "!".repeat(72));
        bail!("{errors} error(s) during the benchmark");
    }
    Ok(())
}

/// fki's own AMQP path next to RabbitMQ's raw rate (issue 4's "≥ 50 % of the raw
/// publish-confirm rate on the AMQP path"): the AMQP afsend rate accepted at max rate per
/// backend against the raw shape the senders have (`--concurrency` channels, one unconfirmed
/// message each: an AMQP sender, like KOMBIT's, waits for its answer before the next), and
/// against the floor ([`amqp::FLOOR`]): the broker traffic of the same path with nothing in
/// between: fki's own work (store, token check, parsing, distribution) only comes on top, so
/// the floor's share of raw bounds fki's on this broker and machine.
fn amqp_path(transport: Transport, runs: &[BackendResult], raw: &AmqpOutcome) -> Value {
    if transport != Transport::Amqp {
        return json!({
            "measured": false,
            "why": "this run used --transport http; --transport amqp measures fki's AMQP afsend and amqp dueslag",
        });
    }
    let shape = |key: &str| match raw {
        AmqpOutcome::Measured(r) => r.iter().find(|r| r.key == key).map(amqp::Run::per_s),
        _ => None,
    };
    let sync = shape("sync");
    let floor = shape(amqp::FLOOR);
    let r2 = |x: f64| (x * 100.0).round() / 100.0;
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "measured": true,
        "raw_sync_confirmed_per_s": sync.map(r2),
        "floor_answered_per_s": floor.map(r2),
        "floor_share_of_raw": floor.zip(sync).map(|(f, s)| r3(f / s)),
        "target_share": TARGET_AMQP_SHARE,
        "backends": runs.iter().map(|r| {
            let accepted = r.phase("max_rate").map(Phase::accepted_per_s);
            let share = accepted.zip(sync).map(|(a, s)| a / s);
            json!({
                "backend": r.backend.name(),
                "accepted_per_s": accepted.map(r2),
                "share_of_raw": share.map(r3),
                "share_of_floor": accepted.zip(floor).map(|(a, f)| r3(a / f)),
                "met": share.map(|x| x >= TARGET_AMQP_SHARE),
            })
        }).collect::<Vec<_>>(),
    })
}

fn amqp_path_table(v: &Value) -> String {
    if v["measured"] != json!(true) {
        return format!(
            "fki's own AMQP afsend/pull: not measured ({})",
            v["why"].as_str().unwrap_or("-")
        );
    }
    let pct = |x: &Value| {
        x.as_f64()
            .map_or("-".into(), |x| format!("{:.1} %", 100.0 * x))
    };
    let per_s = |x: &Value| x.as_f64().map_or("-".into(), |x| format!("{x:.0}"));
    let mut t = String::from(
        "fki's AMQP afsend at max rate against RabbitMQ's raw rate of the same shape:",
    );
    for b in v["backends"].as_array().into_iter().flatten() {
        let _ = write!(
            t,
            "\n  {:<10} {:>9} msgs/s accepted = {} of {} msgs/s raw (target ≥ {:.0} %: {}); {} of the floor",
            b["backend"].as_str().unwrap_or("-"),
            per_s(&b["accepted_per_s"]),
            pct(&b["share_of_raw"]),
            per_s(&v["raw_sync_confirmed_per_s"]),
            100.0 * TARGET_AMQP_SHARE,
            match b["met"].as_bool() {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "unknown",
            },
            pct(&b["share_of_floor"]),
        );
    }
    let _ = write!(
        t,
        "\n  {:<10} {:>9} msgs/s answered = {} of raw: the broker's traffic of this path with nothing between (fki's own work comes on top)",
        "floor",
        per_s(&v["floor_answered_per_s"]),
        pct(&v["floor_share_of_raw"]),
    );
    t
}

/// An AMQP URL without its password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:…@{}", &url[..s + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

struct Common {
    cores: usize,
    git_commit: Option<String>,
    git_dirty: Option<bool>,
}

enum AmqpOutcome {
    Measured(Vec<amqp::Run>),
    Skipped(String),
    Failed(String),
}

impl AmqpOutcome {
    fn to_json(&self, size: usize) -> Value {
        match self {
            AmqpOutcome::Measured(runs) => json!({
                "measured": true,
                "message_bytes": size,
                "persistent": true,
                "durable_queue": true,
                "runs": runs.iter().map(|r| (r.key.to_owned(), r.to_json())).collect::<serde_json::Map<_, _>>(),
            }),
            AmqpOutcome::Skipped(why) => json!({"measured": false, "skipped": why}),
            AmqpOutcome::Failed(why) => json!({"measured": false, "failed": why}),
        }
    }
}

fn amqp_table(o: &AmqpOutcome, size: usize) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "RabbitMQ publish-confirm ({size}-byte persistent messages, durable queue), and the floor of fki's AMQP path:"
    );
    match o {
        AmqpOutcome::Measured(runs) => {
            for r in runs {
                let _ = writeln!(
                    t,
                    "  {:<60} {:>9.0} msgs/s  {} p50 {:>6.2} ms  p99 {:>6.2} ms{}",
                    r.title,
                    r.per_s(),
                    if r.key.starts_with(amqp::FLOOR) {
                        "answer "
                    } else {
                        "confirm"
                    },
                    r.ms(0.5),
                    r.ms(0.99),
                    if r.nacked > 0 {
                        format!("  {} NACKED", r.nacked)
                    } else {
                        String::new()
                    }
                );
            }
        }
        AmqpOutcome::Skipped(why) => {
            let _ = writeln!(t, "  not measured: {why}");
        }
        AmqpOutcome::Failed(why) => {
            let _ = writeln!(t, "  FAILED: {why}");
        }
    }
    t
}

// ---------------------------------------------------------------------------------------------
// Messages and filters

/// A message's variable fields (indexes into [`Pools`]).
#[derive(Debug, Clone, Copy, Default)]
struct Fields {
    beskedtype: u32,
    /// KLE `AA.BB.CC` as indexes (AA = 10 + kle[0]).
    kle: [u8; 3],
    handling: u8,
    /// The CPR number's index ([`cpr`]).
    cpr: u64,
}

/// A piece of the message template.
#[derive(Debug)]
enum Piece {
    Text(String),
    BeskedId,
    Beskedtype,
    Cpr,
    Handling,
    Kle,
}

/// Handlinger (objekthandling) in the messages.
const HANDLINGER: usize = 4;
/// KLE main groups (AA) in the messages.
const KLE_A: u32 = 25;
/// KLE topics (CC) per group.
const KLE_C: u32 = 10;
/// Outside CPR numbers are drawn from this many (never in a Værdiliste).
const OUTSIDE_CPR: u64 = 160_000_000;

/// What the messages and filters draw from. Sizes follow the number of abonnementer, so that
/// a message is selected by about two abonnementer on average whatever their number:
/// `N` beskedtyper, `25 × N/50` KLE groups `AA.BB`, and a share `min(0.9, 10 L / N)` of
/// messages about a CPR number in one of the `L` Værdilister.
struct Pools {
    beskedtyper: Vec<Uuid>,
    handlinger: Vec<Uuid>,
    kle_b: u32,
    lister: Vec<Uuid>,
    vaerdier: usize,
    /// Share of messages whose CPR number is in a Værdiliste.
    liste_andel: f64,
    template: Vec<Piece>,
}

/// The CPR URN of index `k` (a bijection of `0..336,000,000` onto DDMMYYSSSS with valid-looking
/// days and months). Values of Værdiliste `l` of `L` are the even indexes `2 (j L + l)`;
/// numbers outside every list are odd.
fn cpr(k: u64) -> String {
    let seq = k % 10_000;
    let r = k / 10_000;
    let yy = r % 100;
    let r = r / 100;
    let mm = r % 12 + 1;
    let dd = (r / 12) % 28 + 1;
    format!("urn:oio:cpr-nr:{dd:02}{mm:02}{yy:02}{seq:04}")
}

fn liste_vaerdi(j: usize, l: usize, lister: usize) -> u64 {
    2 * (j as u64 * lister as u64 + l as u64)
}

impl Pools {
    fn new(abonnementer: usize, lister: Vec<Uuid>, vaerdier: usize, seed: u64) -> Pools {
        let ns = Uuid::from_u128(0x6b1f_5a4e_0d2c_4c1a_9a7e_3f0b_c2d1_e4f5);
        let beskedtyper = (0..abonnementer.max(20))
            .map(|i| Uuid::new_v5(&ns, format!("beskedtype-{seed}-{i}").as_bytes()))
            .collect();
        let handlinger = (0..HANDLINGER)
            .map(|i| Uuid::new_v5(&ns, format!("handling-{i}").as_bytes()))
            .collect();
        let kle_b = (abonnementer / 50).clamp(1, 100) as u32;
        let liste_andel = if lister.is_empty() {
            0.0
        } else {
            (10.0 * lister.len() as f64 / abonnementer as f64).min(0.9)
        };
        Pools {
            beskedtyper,
            handlinger,
            kle_b,
            lister,
            vaerdier,
            liste_andel,
            template: template(),
        }
    }

    fn kle(&self, k: [u8; 3]) -> String {
        format!("urn:oio:kle:{:02}.{:02}.{:02}", 10 + k[0], k[1], k[2])
    }

    fn random(&self, rng: &mut StdRng) -> Fields {
        let cpr = if !self.lister.is_empty() && rng.random_bool(self.liste_andel) {
            let l = rng.random_range(0..self.lister.len());
            let j = rng.random_range(0..self.vaerdier);
            liste_vaerdi(j, l, self.lister.len())
        } else {
            2 * rng.random_range(0..OUTSIDE_CPR) + 1
        };
        Fields {
            beskedtype: rng.random_range(0..self.beskedtyper.len() as u32),
            kle: [
                rng.random_range(0..KLE_A) as u8,
                rng.random_range(0..self.kle_b) as u8,
                rng.random_range(0..KLE_C) as u8,
            ],
            handling: rng.random_range(0..HANDLINGER as u8),
            cpr,
        }
    }

    /// The message with BeskedId `id` and fields `f`.
    fn xml(&self, id: Uuid, f: &Fields) -> String {
        let mut s = String::with_capacity(FIXTURE.len() + 64);
        for p in &self.template {
            match p {
                Piece::Text(t) => s.push_str(t),
                Piece::BeskedId => {
                    let _ = write!(s, "{id}");
                }
                Piece::Beskedtype => {
                    let _ = write!(s, "{}", self.beskedtyper[f.beskedtype as usize]);
                }
                Piece::Cpr => s.push_str(&cpr(f.cpr)),
                Piece::Handling => {
                    let _ = write!(s, "{}", self.handlinger[f.handling as usize]);
                }
                Piece::Kle => s.push_str(&self.kle(f.kle)),
            }
        }
        s
    }

    /// The filter (text form) of abonnement `a`: kinds by `a % 10`.
    fn filter_text(&self, a: usize, rng: &mut StdRng) -> String {
        let typ = |rng: &mut StdRng| {
            format!(
                "\"{}\"",
                self.beskedtyper[rng.random_range(0..self.beskedtyper.len())]
            )
        };
        let aa = |rng: &mut StdRng| 10 + rng.random_range(0..KLE_A);
        let bb = |rng: &mut StdRng| rng.random_range(0..self.kle_b);
        let kind = if a % 10 == 9 && self.lister.is_empty() {
            0
        } else {
            a % 10
        };
        match kind {
            // 40 %: one beskedtype.
            0..=3 => format!("beskedtype = {}", typ(rng)),
            // 20 %: a KLE group (prefix).
            4 | 5 => format!(
                "objektregistrering.opgaveemne ^= \"urn:oio:kle:{:02}.{:02}\"",
                aa(rng),
                bb(rng)
            ),
            // 10 %: OR and NOT.
            6 => format!(
                "(beskedtype = {} OR beskedtype = {}) AND NOT objektregistrering.opgaveemne ^= \"urn:oio:kle:{:02}\"",
                typ(rng),
                typ(rng),
                aa(rng)
            ),
            // 10 %: one ObjektRegistrering with a KLE group and not one handling.
            7 => format!(
                "objektregistrering {{ opgaveemne ^= \"urn:oio:kle:{:02}.{:02}\" AND NOT objekthandling = \"{}\" }}",
                aa(rng),
                bb(rng),
                self.handlinger[rng.random_range(0..HANDLINGER)]
            ),
            // 10 %: a set of types or one exact KLE topic.
            8 => format!(
                "beskedtype IN [{}, {}, {}] OR objektregistrering.opgaveemne = \"urn:oio:kle:{:02}.{:02}.{:02}\"",
                typ(rng),
                typ(rng),
                typ(rng),
                aa(rng),
                bb(rng),
                rng.random_range(0..KLE_C)
            ),
            // 10 %: a Værdiliste of CPR numbers, alone or with ten types.
            _ => {
                let i = a / 10;
                let l = self.lister[i % self.lister.len()];
                if (i / self.lister.len()).is_multiple_of(2) {
                    format!("relateretobjekt.objektid IN vaerdiliste(\"{l}\")")
                } else {
                    let typer: Vec<String> = (0..10).map(|_| typ(rng)).collect();
                    format!(
                        "relateretobjekt.objektid IN vaerdiliste(\"{l}\") AND beskedtype IN [{}]",
                        typer.join(", ")
                    )
                }
            }
        }
    }

    /// The values of Værdiliste number `l`.
    fn liste_vaerdier(&self, l: usize) -> impl Iterator<Item = String> + '_ {
        (0..self.vaerdier).map(move |j| cpr(liste_vaerdi(j, l, self.lister.len())))
    }
}

/// The fixture cut at the variable places.
fn template() -> Vec<Piece> {
    let text = FIXTURE.replace("urn:oio:cvr-nr:99999999", &format!("urn:oio:cvr-nr:{CVR}"));
    let marks = [
        ("01157488-c45c-4fd2-b076-1de12effbf66", 'I'),
        ("7654895c-a3f3-4c77-8afd-4c77330f963c", 'T'),
        ("urn:oio:cpr-nr:2512484916", 'C'),
        ("urn:oio:cpr-nr:1234567890", 'C'),
        ("1e5bb089-5445-44f8-9b65-bc854053f423", 'H'),
        ("urn:oio:kle:32.01.01", 'K'),
    ];
    let mut text = text;
    for (needle, m) in marks {
        assert!(text.contains(needle), "the fixture lost {needle}");
        text = text.replace(needle, &format!("\u{0}{m}\u{0}"));
    }
    text.split('\u{0}')
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 0 {
                Piece::Text(p.to_owned())
            } else {
                match p {
                    "I" => Piece::BeskedId,
                    "T" => Piece::Beskedtype,
                    "C" => Piece::Cpr,
                    "H" => Piece::Handling,
                    _ => Piece::Kle,
                }
            }
        })
        .collect()
}

/// The BeskedId of a pushed `ModtagBeskedInput` (the first UUID after `BeskedId>`).
fn besked_id(xml: &str) -> Option<Uuid> {
    let rest = &xml[xml.find("BeskedId>")?..];
    const TAG: &str = "UUIDIdentifikator>";
    let j = rest.find(TAG)? + TAG.len();
    rest.get(j..j + 36)?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// What happened to each message

/// One arrival of a message in a dueslag.
#[derive(Debug, Clone, Copy)]
struct Receipt {
    dueslag: u16,
    /// When the receiver got it (push: the request; pull: the answer of the GET).
    arrived: Instant,
    /// When it counted as delivered: push at arrival (the receiver answers 20), pull when the
    /// kvitter was answered 204.
    delivered: Option<Instant>,
}

#[derive(Debug)]
struct Sent {
    sent: Instant,
    phase: usize,
    fields: Fields,
    /// `None` while the afsend answer is outstanding.
    accepted: Option<bool>,
    receipts: Vec<Receipt>,
}

/// Every message sent, by BeskedId, with its arrivals.
struct Tracker {
    shards: Vec<Mutex<HashMap<Uuid, Sent>>>,
    /// Distinct (message, dueslag) deliveries.
    delivered: AtomicU64,
    duplicates: AtomicU64,
}

impl Tracker {
    fn new() -> Tracker {
        Tracker {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
        }
    }

    fn shard(&self, id: Uuid) -> std::sync::MutexGuard<'_, HashMap<Uuid, Sent>> {
        self.shards[(id.as_u128() % SHARDS as u128) as usize]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self, id: Uuid, s: Sent) {
        self.shard(id).insert(id, s);
    }

    fn answered(&self, id: Uuid, ok: bool) {
        if let Some(s) = self.shard(id).get_mut(&id) {
            s.accepted = Some(ok);
        }
    }

    /// An arrival; push arrivals are deliveries at once.
    fn arrived(&self, id: Uuid, dueslag: u16, at: Instant, push: bool) -> Result<(), String> {
        let mut shard = self.shard(id);
        let Some(s) = shard.get_mut(&id) else {
            return Err(format!(
                "dueslag {dueslag} got message {id}, which this bench never sent"
            ));
        };
        if s.receipts.iter().any(|r| r.dueslag == dueslag) {
            self.duplicates.fetch_add(1, Relaxed);
            return Ok(());
        }
        s.receipts.push(Receipt {
            dueslag,
            arrived: at,
            delivered: push.then_some(at),
        });
        if push {
            self.delivered.fetch_add(1, Relaxed);
        }
        Ok(())
    }

    /// A pull acknowledgement answered 204.
    fn acknowledged(&self, id: Uuid, dueslag: u16, at: Instant) {
        if let Some(s) = self.shard(id).get_mut(&id)
            && let Some(r) = s
                .receipts
                .iter_mut()
                .find(|r| r.dueslag == dueslag && r.delivered.is_none())
        {
            r.delivered = Some(at);
            self.delivered.fetch_add(1, Relaxed);
        }
    }

    fn take_all(&self) -> Vec<(Uuid, Sent)> {
        let mut all = Vec::new();
        for s in &self.shards {
            all.extend(s.lock().unwrap_or_else(|p| p.into_inner()).drain());
        }
        all
    }
}

/// Errors of a run, with a few samples.
#[derive(Default)]
struct Errors {
    n: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl Errors {
    fn note(&self, s: String) {
        self.n.fetch_add(1, Relaxed);
        let mut v = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if v.len() < ERROR_SAMPLES {
            v.push(s);
        }
    }

    fn note_many(&self, n: u64, samples: &[String]) {
        self.n.fetch_add(n, Relaxed);
        let mut v = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        for s in samples {
            if v.len() < ERROR_SAMPLES {
                v.push(s.clone());
            }
        }
    }

    fn count(&self) -> u64 {
        self.n.load(Relaxed)
    }

    fn samples(&self) -> Vec<String> {
        self.samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Talking to the server

/// The bench's view of one server.
struct Ctx {
    http: reqwest::Client,
    base: String,
    token: String,
    system: Uuid,
    pools: Pools,
    tracker: Arc<Tracker>,
    errors: Arc<Errors>,
    /// RabbitMQ, when afsend or the non-push dueslag go through it.
    amqp: Option<Arc<lapin::Connection>>,
    /// Afsend over AMQP (else HTTP).
    afsend_amqp: bool,
    /// The non-push dueslag are amqp dueslag (else pulled over HTTP).
    pull_amqp: bool,
}

/// The server's Beskedfordeler counters (`/metrics`).
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    accepted: u64,
    duplicates: u64,
    distributed: u64,
    delivered: u64,
    retried: u64,
    dead_lettered: u64,
    refused: u64,
    /// Sum of the dueslag depths (Klar leveringer).
    depth: u64,
    /// Group commits of accepted messages, and the time they took in the store (µs).
    group_commits: u64,
    group_commit_us: u64,
}

impl Counters {
    fn backlog(&self) -> i64 {
        self.distributed as i64 - self.delivered as i64 - self.dead_lettered as i64
    }

    fn to_json(self) -> Value {
        json!({
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "distributed": self.distributed,
            "delivered": self.delivered,
            "retried": self.retried,
            "dead_lettered": self.dead_lettered,
            "refused": self.refused,
            "depth": self.depth,
            "group_commits": self.group_commits,
            "group_commit_us": self.group_commit_us,
        })
    }
}

impl Ctx {
    async fn admin_post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = r.status();
        let text = r.text().await.with_context(|| format!("POST {path}"))?;
        if !status.is_success() {
            bail!("POST {path}: {status}: {}", &text[..text.len().min(500)]);
        }
        serde_json::from_str(&text).with_context(|| format!("POST {path}: not JSON"))
    }

    async fn counters(&self) -> anyhow::Result<Counters> {
        let r = self
            .http
            .get(format!("{}/metrics", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .context("GET /metrics")?;
        let status = r.status();
        let text = r.text().await.context("GET /metrics")?;
        if !status.is_success() {
            bail!("GET /metrics: {status}");
        }
        let mut c = Counters::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let v: u64 = value.parse::<f64>().map_or(0, |v| v as u64);
            match name {
                "fki_beskedfordeler_group_commits_total" => c.group_commits = v,
                "fki_beskedfordeler_group_commit_seconds_sum" => {
                    c.group_commit_us = value.parse::<f64>().map_or(0, |v| (v * 1e6) as u64)
                }
                "fki_beskedfordeler_accepted_total" => c.accepted = v,
                "fki_beskedfordeler_duplicates_total" => c.duplicates = v,
                "fki_beskedfordeler_distributed_total" => c.distributed = v,
                "fki_beskedfordeler_delivered_total" => c.delivered = v,
                "fki_beskedfordeler_retried_total" => c.retried = v,
                "fki_beskedfordeler_dead_lettered_total" => c.dead_lettered = v,
                "fki_beskedfordeler_refused_total" => c.refused = v,
                n if n.starts_with("fki_beskedfordeler_dueslag_depth{") => c.depth += v,
                _ => {}
            }
        }
        Ok(c)
    }

    /// One afsend: `Ok` when answered 200 with StatusKode 20.
    async fn afsend(&self, xml: String) -> Result<(), String> {
        let r = self
            .http
            .post(format!("{}/beskedfordeler/afsend", self.base))
            .header("X-FKI-Myndighed", CVR)
            .header("X-FKI-System", self.system.to_string())
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .body(xml)
            .send()
            .await
            .map_err(|e| format!("afsend: request failed: {e}"))?;
        let status = r.status();
        let text = r
            .text()
            .await
            .map_err(|e| format!("afsend: {status}, body failed: {e}"))?;
        match StandardRetur::find_in(&text) {
            Ok(s) if s.status_kode == 20 && status.is_success() => Ok(()),
            Ok(s) => Err(format!(
                "afsend: {status}, StatusKode {}: {}",
                s.status_kode,
                s.fejlbesked_tekst.unwrap_or_default()
            )),
            Err(e) => Err(format!(
                "afsend: {status} without a StandardRetur ({e}): {}",
                &text[..text.len().min(300)]
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Receivers

#[derive(Clone)]
struct Receiver {
    tracker: Arc<Tracker>,
    errors: Arc<Errors>,
    answer: Arc<String>,
}

async fn push_received(
    State(r): State<Receiver>,
    AxPath(dueslag): AxPath<u16>,
    body: String,
) -> axum::response::Response {
    let at = Instant::now();
    match besked_id(&body) {
        Some(id) => {
            if let Err(e) = r.tracker.arrived(id, dueslag, at, true) {
                r.errors.note(format!("push: {e}"));
            }
        }
        None => r.errors.note(format!(
            "push to dueslag {dueslag}: no BeskedId in {}",
            &body[..body.len().min(200)]
        )),
    }
    (
        [(axum::http::header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        r.answer.as_str().to_owned(),
    )
        .into_response()
}

/// The push receiver's thread: [`ReceiverHandle::abort`] stops it.
struct ReceiverHandle(Arc<tokio::sync::Notify>);

impl ReceiverHandle {
    fn abort(&self) {
        self.0.notify_one();
    }
}

/// Serve the push receiver on 127.0.0.1, on a thread with a runtime of its own: a receiver
/// runs apart from the senders (on another machine, in real life), so the senders' tasks in
/// this process must not delay its answers, which would slow push delivery down and be
/// measured as the server's. Its base URL and handle.
async fn serve_receiver(
    tracker: Arc<Tracker>,
    errors: Arc<Errors>,
) -> anyhow::Result<(String, ReceiverHandle)> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("binding the push receiver")?;
    l.set_nonblocking(true)?;
    let addr = l.local_addr()?;
    let state = Receiver {
        tracker,
        errors,
        answer: Arc::new(StandardRetur::ok().output_document("ns4", "ModtagBeskedOutput", NS_STS)),
    };
    let app = axum::Router::new()
        .route("/push/{dueslag}", axum::routing::post(push_received))
        .with_state(state);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("the push receiver's runtime")?;
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopper = stop.clone();
    std::thread::Builder::new()
        .name("bench-push-receiver".into())
        .spawn(move || {
            rt.block_on(async move {
                let l = match tokio::net::TcpListener::from_std(l) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(error = %e, "the push receiver cannot listen");
                        return;
                    }
                };
                tokio::select! {
                    _ = axum::serve(l, app) => {}
                    _ = stopper.notified() => {}
                }
            });
        })
        .context("starting the push receiver's thread")?;
    Ok((format!("http://{addr}"), ReceiverHandle(stop)))
}

#[derive(Deserialize)]
struct Pulled {
    beskeder: Vec<PulledBesked>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PulledBesked {
    loebenr: i64,
    besked_id: Uuid,
}

/// One pull dueslag's receiver: take, record, acknowledge, until `stop`.
async fn pull_task(
    ctx: Arc<Ctx>,
    idx: u16,
    dueslag: Uuid,
    stop: Arc<AtomicBool>,
    interval: Duration,
    vent: u64,
) {
    let base = format!("{}/beskedfordeler/dueslag/{dueslag}", ctx.base);
    let hent = if vent > 0 {
        format!("{base}/beskeder?antal={PULL_BATCH}&vent={vent}")
    } else {
        format!("{base}/beskeder?antal={PULL_BATCH}")
    };
    let kvitter = format!("{base}/kvitter");
    while !stop.load(Relaxed) {
        let pulled = async {
            let r = ctx
                .http
                .get(&hent)
                .header("X-FKI-Myndighed", CVR)
                .send()
                .await
                .map_err(|e| format!("request failed: {e}"))?;
            let status = r.status();
            let body = r.bytes().await.map_err(|e| format!("{status}: {e}"))?;
            if !status.is_success() {
                return Err(format!(
                    "{status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ));
            }
            serde_json::from_slice::<Pulled>(&body).map_err(|e| format!("{status}: {e}"))
        }
        .await;
        let at = Instant::now();
        let pulled = match pulled {
            Ok(p) => p,
            Err(e) => {
                ctx.errors
                    .note(format!("pull from dueslag {idx}: GET: {e}"));
                tokio::time::sleep(interval).await;
                continue;
            }
        };
        if pulled.beskeder.is_empty() {
            // A long poll already waited on the server.
            if vent == 0 {
                tokio::time::sleep(interval).await;
            }
            continue;
        }
        for b in &pulled.beskeder {
            if let Err(e) = ctx.tracker.arrived(b.besked_id, idx, at, false) {
                ctx.errors.note(format!("pull: {e}"));
            }
        }
        // One batch acknowledgement for everything taken.
        let loebenr: Vec<i64> = pulled.beskeder.iter().map(|b| b.loebenr).collect();
        let r = async {
            let r = ctx
                .http
                .post(&kvitter)
                .header("X-FKI-Myndighed", CVR)
                .json(&serde_json::json!({ "loebenr": loebenr }))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = r.status();
            let body = r.bytes().await.map_err(|e| format!("{status}: {e}"))?;
            if status != reqwest::StatusCode::OK {
                return Err(format!(
                    "{status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ));
            }
            serde_json::from_slice::<Kvitteret>(&body)
                .map(|k| k.kvitteret)
                .map_err(|e| format!("{status}: {e}"))
        }
        .await;
        match r {
            Ok(n) if n == loebenr.len() as u64 => {
                let nu = Instant::now();
                for b in &pulled.beskeder {
                    ctx.tracker.acknowledged(b.besked_id, idx, nu);
                }
            }
            Ok(n) => ctx.errors.note(format!(
                "pull from dueslag {idx}: kvitter of {} acknowledged {n}",
                loebenr.len()
            )),
            Err(e) => ctx
                .errors
                .note(format!("pull from dueslag {idx}: kvitter: {e}")),
        }
    }
}

#[derive(Deserialize)]
struct Kvitteret {
    kvitteret: u64,
}

// ---------------------------------------------------------------------------------------------
// Setup

struct DueslagInfo {
    uuid: Uuid,
    push: bool,
}

struct Abonnement {
    dueslag: usize,
    text: String,
    filter: Filter,
}

struct Setup {
    dueslag: Vec<DueslagInfo>,
    abonnementer: Vec<Abonnement>,
    lists_seconds: f64,
    seconds: f64,
}

/// Create the system, Værdilister, dueslag and abonnementer through the admin API; returns the
/// context with the pools.
async fn setup(
    http: reqwest::Client,
    server: &ServerProcess,
    data_dir: &std::path::Path,
    receiver: (&str, Arc<Tracker>, Arc<Errors>),
    amqp: Option<Arc<lapin::Connection>>,
    a: &BeskedfordelerArgs,
) -> anyhow::Result<(Arc<Ctx>, Setup)> {
    let (push_base, tracker, errors) = receiver;
    let t = Instant::now();
    let token = std::fs::read_to_string(data_dir.join(fki_server::admin::TOKEN_FILE))
        .context("reading the server's admin token")?
        .trim()
        .to_owned();
    let mut ctx = Ctx {
        http,
        base: server.url.clone(),
        token,
        system: Uuid::nil(),
        pools: Pools::new(a.abonnementer, Vec::new(), a.vaerdier, a.seed),
        tracker,
        errors,
        amqp,
        afsend_amqp: a.transport == Transport::Amqp,
        pull_amqp: a.pull() == Transport::Amqp,
    };
    let s = ctx
        .admin_post(
            "/admin/systemer",
            &json!({"navn": "fki-bench-modtager", "cvr": CVR}),
        )
        .await?;
    ctx.system = s["system"]["uuid"]
        .as_str()
        .and_then(|u| u.parse().ok())
        .context("the new system has no UUID")?;

    // Værdilister.
    let tl = Instant::now();
    let mut lister = Vec::new();
    for l in 0..a.vaerdilister {
        let v = ctx
            .admin_post(
                "/admin/beskedfordeler/vaerdilister",
                &json!({"navn": format!("bench-cpr-{l}"), "ejer": ctx.system.to_string()}),
            )
            .await?;
        lister.push(
            v["uuid"]
                .as_str()
                .and_then(|u| u.parse::<Uuid>().ok())
                .context("the new Værdiliste has no UUID")?,
        );
    }
    ctx.pools = Pools::new(a.abonnementer, lister.clone(), a.vaerdier, a.seed);
    for (l, uuid) in lister.iter().enumerate() {
        let values: Vec<String> = ctx.pools.liste_vaerdier(l).collect();
        for chunk in values.chunks(VALUE_BATCH) {
            let r = ctx
                .admin_post(
                    &format!("/admin/beskedfordeler/vaerdilister/{uuid}/vaerdier"),
                    &json!({ "vaerdier": chunk }),
                )
                .await?;
            if r["tilfoejet"].as_u64() != Some(chunk.len() as u64) {
                bail!("adding {} values to a Værdiliste: {r}", chunk.len());
            }
        }
    }
    let lists_seconds = tl.elapsed().as_secs_f64();
    eprintln!(
        "  {} Værdilister × {} values in {lists_seconds:.1} s",
        a.vaerdilister, a.vaerdier
    );

    // Dueslag: even push, odd pull (over HTTP or AMQP).
    let pull = if ctx.pull_amqp { "amqp" } else { "pull" };
    let mut dueslag = Vec::new();
    for i in 0..a.dueslag {
        let push = i % 2 == 0;
        let body = if push {
            json!({"navn": format!("bench-{i}-push"), "ejer": ctx.system.to_string(), "myndighed": CVR,
                   "levering": "push", "callbackUrl": format!("{push_base}/push/{i}")})
        } else {
            json!({"navn": format!("bench-{i}-{pull}"), "ejer": ctx.system.to_string(), "myndighed": CVR,
                   "levering": pull})
        };
        let d = ctx
            .admin_post("/admin/beskedfordeler/dueslag", &body)
            .await?;
        dueslag.push(DueslagInfo {
            uuid: d["uuid"]
                .as_str()
                .and_then(|u| u.parse().ok())
                .context("the new dueslag has no UUID")?,
            push,
        });
    }

    // Abonnementer: every dueslag gets at least one, the rest at random.
    let mut rng = StdRng::seed_from_u64(a.seed ^ 0xab0e_e4e7);
    let mut hvor: Vec<usize> = (0..a.abonnementer).map(|i| i % a.dueslag).collect();
    hvor.shuffle(&mut rng);
    let mut abonnementer = Vec::with_capacity(a.abonnementer);
    for (i, &d) in hvor.iter().enumerate() {
        let text = ctx.pools.filter_text(i, &mut rng);
        let filter = Filter::parse(&text)
            .map_err(|e| anyhow::anyhow!("the bench made a bad filter {text:?}: {e}"))?;
        abonnementer.push(Abonnement {
            dueslag: d,
            text,
            filter,
        });
    }
    let ctx = Arc::new(ctx);
    let mut calls = futures::stream::iter(abonnementer.iter().map(|ab| {
        let ctx = ctx.clone();
        let body = json!({"dueslag": dueslag[ab.dueslag].uuid, "filter": ab.text});
        async move {
            ctx.admin_post("/admin/beskedfordeler/abonnementer", &body)
                .await
        }
    }))
    .buffer_unordered(SETUP_CONCURRENCY);
    while let Some(r) = calls.next().await {
        r?;
    }
    drop(calls);
    Ok((
        ctx,
        Setup {
            dueslag,
            abonnementer,
            lists_seconds,
            seconds: t.elapsed().as_secs_f64(),
        },
    ))
}

// ---------------------------------------------------------------------------------------------
// Phases

/// A paced schedule: message `n` is due at `start + n / rate`.
struct Pace {
    start: Instant,
    rate: f64,
    next: AtomicU64,
}

/// What one sender did.
struct Sender {
    sent: u64,
    accepted: u64,
    failed: u64,
    /// afsend request → answer, µs.
    hist: Histogram<u64>,
}

impl Sender {
    fn new() -> Sender {
        Sender {
            sent: 0,
            accepted: 0,
            failed: 0,
            hist: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds"),
        }
    }

    fn merge(&mut self, o: Sender) {
        self.sent += o.sent;
        self.accepted += o.accepted;
        self.failed += o.failed;
        let _ = self.hist.add(&o.hist);
    }
}

async fn sender(
    ctx: Arc<Ctx>,
    phase: usize,
    deadline: Instant,
    pace: Option<Arc<Pace>>,
    seed: u64,
) -> Sender {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut r = Sender::new();
    let mut rpc = match ctx.amqp.as_ref().filter(|_| ctx.afsend_amqp) {
        Some(c) => match over_amqp::Rpc::open(c, ctx.system).await {
            Ok(rpc) => Some(rpc),
            Err(e) => {
                ctx.errors.note(e);
                return r;
            }
        },
        None => None,
    };
    loop {
        match &pace {
            Some(p) => {
                let n = p.next.fetch_add(1, Relaxed);
                let due = p.start + Duration::from_secs_f64(n as f64 / p.rate);
                if due >= deadline {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
            }
            None => {
                if Instant::now() >= deadline {
                    break;
                }
            }
        }
        let fields = ctx.pools.random(&mut rng);
        let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
        let xml = ctx.pools.xml(id, &fields);
        let t0 = Instant::now();
        ctx.tracker.register(
            id,
            Sent {
                sent: t0,
                phase,
                fields,
                accepted: None,
                receipts: Vec::new(),
            },
        );
        let outcome = match &mut rpc {
            Some(rpc) => rpc.afsend(id, xml).await,
            None => ctx.afsend(xml).await,
        };
        r.hist.saturating_record(micros(t0.elapsed()));
        r.sent += 1;
        match outcome {
            Ok(()) => {
                r.accepted += 1;
                ctx.tracker.answered(id, true);
            }
            Err(e) => {
                r.failed += 1;
                ctx.tracker.answered(id, false);
                ctx.errors.note(e);
            }
        }
    }
    if let Some(rpc) = rpc {
        rpc.close().await;
    }
    r
}

/// How a drain ended.
#[derive(Debug, Clone, Copy)]
struct Drain {
    complete: bool,
    seconds: f64,
    /// Leveringer still waiting when it ended.
    left: i64,
}

/// Wait until the server has no undelivered leveringer and the bench has seen every delivery
/// the server counted, at most `bound`.
async fn drain(ctx: &Ctx, bound: Duration) -> anyhow::Result<Drain> {
    let t = Instant::now();
    loop {
        let c = ctx.counters().await?;
        let seen = ctx.tracker.delivered.load(Relaxed);
        if c.backlog() <= 0 && seen >= c.delivered {
            return Ok(Drain {
                complete: true,
                seconds: t.elapsed().as_secs_f64(),
                left: 0,
            });
        }
        if t.elapsed() >= bound {
            return Ok(Drain {
                complete: false,
                seconds: t.elapsed().as_secs_f64(),
                left: c.backlog(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One measured phase.
struct Phase {
    key: &'static str,
    title: String,
    /// Paced rate, when paced.
    target_rate: Option<f64>,
    start: Instant,
    /// When the last sender finished.
    end: Instant,
    senders: Sender,
    errors: u64,
    before: Counters,
    after: Counters,
    cpu: Option<cpu::Usage>,
    mem: Option<super::server::Mem>,
    drain: Option<Drain>,
    /// Filled by [`analyse`].
    found: PhaseFindings,
}

#[derive(Default)]
struct PhaseFindings {
    /// Deliveries (any message's) inside the window.
    delivered_push: u64,
    delivered_pull: u64,
    /// Leveringer the filters select for the phase's accepted messages.
    expected: u64,
    /// Messages of the phase all of whose leveringer were delivered inside the window.
    complete_in_window: u64,
    /// Messages of the phase with no receiving dueslag.
    unselected: u64,
    /// Leveringer of the phase's messages never delivered.
    undelivered: u64,
    /// Arrival − send, µs.
    push: Option<Histogram<u64>>,
    pull: Option<Histogram<u64>>,
}

impl Phase {
    fn secs(&self) -> f64 {
        (self.end - self.start).as_secs_f64().max(1e-9)
    }

    fn accepted_per_s(&self) -> f64 {
        self.senders.accepted as f64 / self.secs()
    }

    fn distributed_per_s(&self) -> f64 {
        self.after
            .distributed
            .saturating_sub(self.before.distributed) as f64
            / self.secs()
    }

    fn delivered_per_s(&self) -> f64 {
        (self.found.delivered_push + self.found.delivered_pull) as f64 / self.secs()
    }

    fn e2e_per_s(&self) -> f64 {
        self.found.complete_in_window as f64 / self.secs()
    }

    /// Messages per group commit in the phase, and the mean time of one in ms.
    fn group_commits(&self) -> (f64, f64) {
        let n = self
            .after
            .group_commits
            .saturating_sub(self.before.group_commits)
            .max(1) as f64;
        let beskeder = (self.after.accepted + self.after.duplicates)
            .saturating_sub(self.before.accepted + self.before.duplicates)
            as f64;
        let us = self
            .after
            .group_commit_us
            .saturating_sub(self.before.group_commit_us) as f64;
        (beskeder / n, us / n / 1000.0)
    }

    /// Leveringer per accepted message of the phase.
    fn fanout(&self) -> f64 {
        self.found.expected as f64 / (self.senders.accepted.max(1)) as f64
    }

    fn p(h: &Option<Histogram<u64>>, q: f64) -> Option<f64> {
        h.as_ref()
            .filter(|h| !h.is_empty())
            .map(|h| h.value_at_quantile(q) as f64 / 1000.0)
    }

    fn to_json(&self) -> Value {
        let r2 = |x: f64| (x * 100.0).round() / 100.0;
        let lat = |h: &Option<Histogram<u64>>| match h.as_ref().filter(|h| !h.is_empty()) {
            Some(h) => json!({
                "count": h.len(),
                "p50_ms": r2(h.value_at_quantile(0.5) as f64 / 1000.0),
                "p90_ms": r2(h.value_at_quantile(0.9) as f64 / 1000.0),
                "p99_ms": r2(h.value_at_quantile(0.99) as f64 / 1000.0),
                "max_ms": r2(h.max() as f64 / 1000.0),
                "mean_ms": r2(h.mean() / 1000.0),
            }),
            None => Value::Null,
        };
        let h = &self.senders.hist;
        let mut v = json!({
            "title": self.title,
            "seconds": r2(self.secs()),
            "target_per_s": self.target_rate.map(r2),
            "sent": self.senders.sent,
            "accepted": self.senders.accepted,
            "failed": self.senders.failed,
            "errors": self.errors,
            "accepted_per_s": r2(self.accepted_per_s()),
            "afsend_p50_ms": r2(h.value_at_quantile(0.5) as f64 / 1000.0),
            "afsend_p99_ms": r2(h.value_at_quantile(0.99) as f64 / 1000.0),
            "afsend_max_ms": r2(h.max() as f64 / 1000.0),
            "distributed_per_s": r2(self.distributed_per_s()),
            "delivered_per_s": r2(self.delivered_per_s()),
            "delivered_push_per_s": r2(self.found.delivered_push as f64 / self.secs()),
            "delivered_pull_per_s": r2(self.found.delivered_pull as f64 / self.secs()),
            "end_to_end_msgs_per_s": r2(self.e2e_per_s()),
            "fanout": r2(self.fanout()),
            "messages_per_group_commit": r2(self.group_commits().0),
            "group_commit_mean_ms": r2(self.group_commits().1),
            "unselected_messages": self.found.unselected,
            "undelivered_leveringer": self.found.undelivered,
            "backlog_at_end": self.after.backlog(),
            "server_counters_before": self.before.to_json(),
            "server_counters_after": self.after.to_json(),
            "latency_push": lat(&self.found.push),
            "latency_pull": lat(&self.found.pull),
        });
        if let Some(d) = self.drain {
            v["drain"] = json!({"complete": d.complete, "seconds": r2(d.seconds), "left": d.left});
        }
        if let Some(c) = &self.cpu {
            v["cpu"] = c.to_json(self.secs(), self.senders.sent);
        }
        if let Some(m) = self.mem {
            v["server_mem_after"] =
                json!({"rss_mb": r2(m.rss), "peak_rss_mb": r2(m.hwm), "rss_anon_mb": r2(m.anon)});
        }
        v
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_phase(
    ctx: &Arc<Ctx>,
    server: &ServerProcess,
    key: &'static str,
    title: String,
    phase: usize,
    duration: Duration,
    concurrency: usize,
    rate: Option<f64>,
    seed: u64,
) -> anyhow::Result<Phase> {
    let before = ctx.counters().await?;
    let errors_before = ctx.errors.count();
    let cpu_before = cpu::Snapshot::take(server.pid());
    let start = Instant::now();
    let deadline = start + duration;
    let pace = rate.map(|rate| {
        Arc::new(Pace {
            start,
            rate,
            next: AtomicU64::new(0),
        })
    });
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            tokio::spawn(sender(
                ctx.clone(),
                phase,
                deadline,
                pace.clone(),
                seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
            ))
        })
        .collect();
    let mut senders = Sender::new();
    for t in tasks {
        match t.await {
            Ok(s) => senders.merge(s),
            Err(e) => ctx.errors.note(format!("a sender failed: {e}")),
        }
    }
    let end = Instant::now();
    let cpu_after = cpu::Snapshot::take(server.pid());
    let after = ctx.counters().await?;
    Ok(Phase {
        key,
        title,
        target_rate: rate,
        start,
        end,
        senders,
        errors: ctx.errors.count() - errors_before,
        before,
        after,
        cpu: cpu_before.zip(cpu_after).map(|(b, a)| a.since(&b)),
        mem: server.mem(),
        drain: None,
        found: PhaseFindings::default(),
    })
}

// ---------------------------------------------------------------------------------------------
// A backend

struct BackendResult {
    backend: Backend,
    setup: Setup,
    push_dueslag: usize,
    pull_dueslag: usize,
    startup_seconds: f64,
    phases: Vec<Phase>,
    check: Check,
    errors: u64,
    error_samples: Vec<String>,
    peak_rss_bytes: Option<u64>,
    peak_anon_mb: Option<f64>,
    final_counters: Counters,
}

async fn bench_backend(b: Backend, a: &BeskedfordelerArgs) -> anyhow::Result<BackendResult> {
    eprintln!("\n== {}: setting up ==", b.name());
    let dir = tempfile::Builder::new()
        .prefix("fki-bench-bf-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let db = match b {
        Backend::Sqlite => None,
        Backend::Postgres => Some(
            fki_store::testing::fresh_postgres(&a.postgres_url)
                .await
                .with_context(|| {
                    format!(
                        "cannot create a database on {} (FKI_BENCH_POSTGRES_URL)",
                        a.postgres_url
                    )
                })?,
        ),
    };
    let result = measure(b, a, dir.path(), db.as_ref().map(|(u, _)| u.as_str())).await;
    if let Some((_, guard)) = db
        && let Err(e) = guard.cleanup().await
    {
        eprintln!("warning: could not drop the benchmark database: {e}");
    }
    result
}

async fn measure(
    b: Backend,
    a: &BeskedfordelerArgs,
    data_dir: &std::path::Path,
    database_url: Option<&str>,
) -> anyhow::Result<BackendResult> {
    let pool = a.concurrency + a.dueslag + 8;
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(pool)
        .timeout(Duration::from_secs(60))
        .build()?;
    let tracker = Arc::new(Tracker::new());
    let errors = Arc::new(Errors::default());
    let (push_base, receiver_task) = serve_receiver(tracker.clone(), errors.clone()).await?;
    // When afsend or pull go through RabbitMQ the server talks to it, with an afsend queue of
    // its own.
    let (afsend_queue, amqp) = match (a.transport, a.pull()) {
        (Transport::Http, Transport::Http) => (None, None),
        _ => match over_amqp::connect(&a.amqp_url).await {
            Ok(c) => (
                Some(format!("fki.bench.afsend.{}", Uuid::new_v4().simple())),
                Some(Arc::new(c)),
            ),
            Err(e) => {
                receiver_task.abort();
                return Err(e.context(format!("RabbitMQ at {}", redact(&a.amqp_url))));
            }
        },
    };
    let env: Vec<(&str, &str)> = match &afsend_queue {
        Some(q) => vec![
            ("FKI_AMQP_URL", a.amqp_url.as_str()),
            ("FKI_AMQP_AFSEND_QUEUE", q.as_str()),
        ],
        None => Vec::new(),
    };
    let t = Instant::now();
    let server = ServerProcess::start_with_env(
        data_dir,
        database_url,
        data_dir.join("server.log"),
        &http,
        &env,
    )
    .await;
    let server = match server {
        Ok(s) => s,
        Err(e) => {
            receiver_task.abort();
            return Err(e);
        }
    };
    let startup_seconds = t.elapsed().as_secs_f64();
    eprintln!("  server up at {} in {startup_seconds:.1} s", server.url);
    let anon = server.anon_sampler();
    let exercised = exercise(
        &server,
        a,
        data_dir,
        http,
        (&push_base, tracker, errors.clone()),
        amqp,
    )
    .await;
    let peak = server.peak_rss();
    let peak_anon_mb = Some(anon.peak_mb()).filter(|m| *m > 0.0);
    drop(anon);
    let stopped = server.stop().await;
    receiver_task.abort();
    if let Some(q) = &afsend_queue {
        let mut queues = vec![q.clone()];
        if let Ok(x) = &exercised
            && a.pull() == Transport::Amqp
        {
            queues.extend(
                x.setup
                    .dueslag
                    .iter()
                    .filter(|d| !d.push)
                    .map(|d| d.uuid.to_string()),
            );
        }
        over_amqp::delete_queues(&a.amqp_url, &queues).await;
    }
    let Exercised {
        ctx,
        setup,
        mut phases,
        final_counters,
    } = exercised?;
    stopped.context("stopping the server")?;
    let peak_rss_bytes = match peak {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("warning: could not read the server's peak RSS: {e:#}");
            None
        }
    };

    eprintln!("  checking every message against the filters …");
    let drained = phases.iter().all(|p| p.drain.is_none_or(|d| d.complete));
    let all = ctx.tracker.take_all();
    let (check, phases) = {
        let ctx = ctx.clone();
        tokio::task::spawn_blocking(move || {
            let check = analyse(&ctx, &setup, all, &mut phases, drained, final_counters);
            (check, phases, setup)
        })
        .await
        .map(|(c, p, s)| ((c, s), p))
        .context("the check panicked")?
    };
    let (check, setup) = check;
    ctx.errors.note_many(check.error_count, &check.errors);
    let errors = ctx.errors.count();
    Ok(BackendResult {
        backend: b,
        push_dueslag: setup.dueslag.iter().filter(|d| d.push).count(),
        pull_dueslag: setup.dueslag.iter().filter(|d| !d.push).count(),
        setup,
        startup_seconds,
        phases,
        check,
        errors,
        error_samples: ctx.errors.samples(),
        peak_rss_bytes,
        peak_anon_mb,
        final_counters,
    })
}

struct Exercised {
    ctx: Arc<Ctx>,
    setup: Setup,
    phases: Vec<Phase>,
    final_counters: Counters,
}

/// Set up, run the receivers, the warm-up and the phases.
async fn exercise(
    server: &ServerProcess,
    a: &BeskedfordelerArgs,
    data_dir: &std::path::Path,
    http: reqwest::Client,
    receiver: (&str, Arc<Tracker>, Arc<Errors>),
    amqp: Option<Arc<lapin::Connection>>,
) -> anyhow::Result<Exercised> {
    let (ctx, setup) = setup(http, server, data_dir, receiver, amqp, a).await?;
    eprintln!(
        "  set up in {:.1} s: {} abonnementer on {} dueslag; the server's RSS {:.0} MB",
        setup.seconds,
        setup.abonnementer.len(),
        setup.dueslag.len(),
        server.mem().map_or(0.0, |m| m.rss)
    );
    let stop = Arc::new(AtomicBool::new(false));
    let interval = Duration::from_millis(a.pull_interval_ms);
    let vent = a.pull_vent_ms;
    let pulls: Vec<_> = setup
        .dueslag
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.push)
        .map(|(i, d)| {
            if ctx.pull_amqp {
                tokio::spawn(over_amqp::pull_task(
                    ctx.clone(),
                    i as u16,
                    d.uuid,
                    stop.clone(),
                ))
            } else {
                tokio::spawn(pull_task(
                    ctx.clone(),
                    i as u16,
                    d.uuid,
                    stop.clone(),
                    interval,
                    vent,
                ))
            }
        })
        .collect();
    let bound = Duration::from_secs_f64(a.drain_seconds);
    let measured = Duration::from_secs_f64(a.seconds);
    let run = async {
        let warm = Duration::from_secs_f64((a.seconds / 5.0).clamp(0.5, 2.0));
        let mut w = run_phase(
            &ctx,
            server,
            "warmup",
            "warm-up (unmeasured)".into(),
            0,
            warm,
            a.concurrency,
            None,
            a.seed ^ 0x3a3a,
        )
        .await?;
        w.drain = Some(drain(&ctx, bound).await?);
        report(&w);

        let mut max = run_phase(
            &ctx,
            server,
            "max_rate",
            "max rate".into(),
            1,
            measured,
            a.concurrency,
            None,
            a.seed,
        )
        .await?;
        max.drain = Some(drain(&ctx, bound).await?);
        report(&max);

        let rate = 0.5 * max.accepted_per_s();
        if rate.is_nan() || rate <= 0.0 {
            bail!("nothing was accepted at max rate: no half rate to pace");
        }
        let mut half = run_phase(
            &ctx,
            server,
            "half_rate",
            format!("half rate ({rate:.0}/s)"),
            2,
            measured,
            a.concurrency,
            Some(rate),
            a.seed.wrapping_add(7919),
        )
        .await?;
        half.drain = Some(drain(&ctx, bound).await?);
        report(&half);
        let final_counters = ctx.counters().await?;
        Ok((vec![w, max, half], final_counters))
    }
    .await;
    stop.store(true, Relaxed);
    for p in pulls {
        let _ = p.await;
    }
    let (phases, final_counters) = run?;
    Ok(Exercised {
        ctx,
        setup,
        phases,
        final_counters,
    })
}

/// A line per phase while the run goes on.
fn report(p: &Phase) {
    let d = p.drain.unwrap_or(Drain {
        complete: false,
        seconds: 0.0,
        left: 0,
    });
    eprintln!(
        "  {:<24} {:>8.0} accepted/s  {:>8.0} leveringer/s  afsend p50 {:>6.2} ms p99 {:>7.2} ms  {:.1} msgs per group commit of {:.2} ms  backlog at end {:>7}  drained in {:.1} s{}{}",
        p.title,
        p.accepted_per_s(),
        p.distributed_per_s(),
        p.senders.hist.value_at_quantile(0.5) as f64 / 1000.0,
        p.senders.hist.value_at_quantile(0.99) as f64 / 1000.0,
        p.group_commits().0,
        p.group_commits().1,
        p.after.backlog(),
        d.seconds,
        if d.complete {
            String::new()
        } else {
            format!(" (NOT drained: {} left)", d.left)
        },
        if p.errors > 0 {
            format!("  {} ERRORS", p.errors)
        } else {
            String::new()
        }
    );
}

/// Compare every message with the dueslag its filters select, and fill in the phases'
/// findings (deliveries in each window, end-to-end completions, latencies).
fn analyse(
    ctx: &Ctx,
    setup: &Setup,
    all: Vec<(Uuid, Sent)>,
    phases: &mut [Phase],
    drained: bool,
    server: Counters,
) -> Check {
    let pools = &ctx.pools;
    let lister: HashMap<Uuid, HashSet<String>> = pools
        .lister
        .iter()
        .enumerate()
        .map(|(l, u)| (*u, pools.liste_vaerdier(l).collect()))
        .collect();
    let mut per_dueslag: Vec<Vec<&Abonnement>> = setup.dueslag.iter().map(|_| Vec::new()).collect();
    for ab in &setup.abonnementer {
        per_dueslag[ab.dueslag].push(ab);
    }
    let hist = || Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds");
    for p in phases.iter_mut() {
        p.found = PhaseFindings {
            push: Some(hist()),
            pull: Some(hist()),
            ..Default::default()
        };
    }
    let windows: Vec<(Instant, Instant)> = phases.iter().map(|p| (p.start, p.end)).collect();
    let mut c = Check {
        complete: drained,
        duplicates: ctx.tracker.duplicates.load(Relaxed),
        ..Default::default()
    };
    let mut examples_push = 0;
    let mut examples_pull = 0;
    for (id, s) in all {
        c.messages += 1;
        for r in &s.receipts {
            if let Some(t) = r.delivered {
                for (i, (a, b)) in windows.iter().enumerate() {
                    if t >= *a && t <= *b {
                        let f = &mut phases[i].found;
                        if setup.dueslag[r.dueslag as usize].push {
                            f.delivered_push += 1;
                        } else {
                            f.delivered_pull += 1;
                        }
                    }
                }
            }
        }
        if s.accepted != Some(true) {
            if !s.receipts.is_empty() {
                c.unexpected += s.receipts.len() as u64;
                c.error(format!(
                    "message {id} was not accepted but arrived in {} dueslag",
                    s.receipts.len()
                ));
            }
            continue;
        }
        c.accepted += 1;
        let xml = pools.xml(id, &s.fields);
        let data = match Haendelsesbesked::parse(&xml) {
            Ok(h) => h.beskedkuvert.filtreringsdata,
            Err(e) => {
                c.error(format!("the bench's own message {id} does not parse: {e}"));
                continue;
            }
        };
        let expected: Vec<u16> = per_dueslag
            .iter()
            .enumerate()
            .filter(|(_, abs)| abs.iter().any(|ab| ab.filter.matcher(&data, &lister)))
            .map(|(d, _)| d as u16)
            .collect();
        let phase_end = windows[s.phase].1;
        let f = &mut phases[s.phase].found;
        f.expected += expected.len() as u64;
        c.expected += expected.len() as u64;
        if expected.is_empty() {
            f.unselected += 1;
        }
        let complete = expected.iter().all(|d| {
            s.receipts
                .iter()
                .any(|r| r.dueslag == *d && r.delivered.is_some_and(|t| t <= phase_end))
        });
        if complete {
            f.complete_in_window += 1;
        }
        for r in &s.receipts {
            if !expected.contains(&r.dueslag) {
                c.unexpected += 1;
                c.error(format!(
                    "message {id} arrived in dueslag {} ({}), which none of its abonnementer selects",
                    r.dueslag, setup.dueslag[r.dueslag as usize].uuid
                ));
                continue;
            }
            let us = micros(r.arrived.saturating_duration_since(s.sent));
            let h = if setup.dueslag[r.dueslag as usize].push {
                f.push.as_mut()
            } else {
                f.pull.as_mut()
            };
            if let Some(h) = h {
                h.saturating_record(us);
            }
            if r.delivered.is_some() {
                c.delivered += 1;
            }
        }
        for d in &expected {
            let got = s
                .receipts
                .iter()
                .any(|r| r.dueslag == *d && r.delivered.is_some());
            if !got {
                f.undelivered += 1;
                c.missing += 1;
                if drained {
                    c.error(format!(
                        "message {id} never reached dueslag {d} ({}) although its filters select it",
                        setup.dueslag[*d as usize].uuid
                    ));
                }
            }
        }
        // Examples: single-dueslag messages, checked exactly.
        if expected.len() == 1 {
            let d = expected[0] as usize;
            let push = setup.dueslag[d].push;
            let want = if push {
                &mut examples_push
            } else {
                &mut examples_pull
            };
            if *want < 2 {
                *want += 1;
                let uuid = |i: u16| setup.dueslag[i as usize].uuid.to_string();
                let received: Vec<String> = s.receipts.iter().map(|r| uuid(r.dueslag)).collect();
                c.examples.push(json!({
                    "besked_id": id,
                    "levering": if push { "push" } else { "pull" },
                    "beskedtype": pools.beskedtyper[s.fields.beskedtype as usize],
                    "opgaveemne": pools.kle(s.fields.kle),
                    "cpr": cpr(s.fields.cpr),
                    "expected_dueslag": [uuid(expected[0])],
                    "received_dueslag": received,
                    "matching_filters": per_dueslag[d]
                        .iter()
                        .filter(|ab| ab.filter.matcher(&data, &lister))
                        .map(|ab| ab.text.clone())
                        .collect::<Vec<_>>(),
                }));
            }
        }
    }
    // The server's own counts must agree with what the filters select.
    if server.accepted != c.accepted {
        c.error(format!(
            "the server counted {} accepted messages, the bench {}",
            server.accepted, c.accepted
        ));
    }
    if server.distributed != c.expected {
        c.error(format!(
            "the server made {} leveringer, the filters select {}",
            server.distributed, c.expected
        ));
    }
    if server.dead_lettered > 0 {
        c.error(format!(
            "{} leveringer went to a fejlkø",
            server.dead_lettered
        ));
    }
    c
}

impl BackendResult {
    fn phase(&self, key: &str) -> Option<&Phase> {
        self.phases.iter().find(|p| p.key == key)
    }

    fn peak_rss_mb(&self) -> Option<f64> {
        self.peak_rss_bytes.map(|b| b as f64 / (1024.0 * 1024.0))
    }

    /// Each target: (description, measured, met).
    fn targets(&self) -> Vec<(String, Option<f64>, Option<bool>)> {
        let e2e = self.phase("max_rate").map(Phase::e2e_per_s);
        let half = self.phase("half_rate");
        let push = half.and_then(|p| Phase::p(&p.found.push, 0.99));
        let pull = half.and_then(|p| Phase::p(&p.found.pull, 0.99));
        let mut t = vec![(
            format!(
                "end-to-end ≥ {TARGET_E2E_PER_S} msgs/s{}",
                if self.backend == Backend::Sqlite {
                    ""
                } else {
                    " (set for SQLite)"
                }
            ),
            e2e,
            e2e.map(|v| v >= TARGET_E2E_PER_S),
        )];
        t.push((
            format!("push p99 < {TARGET_P99_MS} ms at half rate"),
            push,
            push.map(|v| v < TARGET_P99_MS),
        ));
        t.push((
            format!("pull p99 < {TARGET_P99_MS} ms at half rate"),
            pull,
            pull.map(|v| v < TARGET_P99_MS),
        ));
        t
    }

    fn table(&self, a: &BeskedfordelerArgs, common: &Common) -> String {
        let mut t = String::new();
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "fki bench beskedfordeler — {} — afsend over {}, pull over {} — {} abonnementer on {} dueslag ({} push, {} pull), {} Værdilister × {} CPR URNs; {} senders, {} s per phase, {} cores, commit {}{}",
            self.backend.name(),
            a.transport.name(),
            a.pull().name(),
            self.setup.abonnementer.len(),
            self.setup.dueslag.len(),
            self.push_dueslag,
            self.pull_dueslag,
            a.vaerdilister,
            a.vaerdier,
            a.concurrency,
            a.seconds,
            common.cores,
            common
                .git_commit
                .as_deref()
                .map_or("unknown", |c| &c[..c.len().min(12)]),
            if common.git_dirty == Some(true) {
                " (dirty)"
            } else {
                ""
            },
        );
        let _ = writeln!(
            t,
            "setup {:.1} s (Værdilister {:.1} s), server start {:.1} s; fan-out {:.2} leveringer per message ({:.1} % of messages reach no dueslag); pull tasks {} on an empty dueslag",
            self.setup.seconds,
            self.setup.lists_seconds,
            self.startup_seconds,
            self.check.expected as f64 / self.check.accepted.max(1) as f64,
            100.0 * self.phases.iter().map(|p| p.found.unselected).sum::<u64>() as f64
                / self.check.accepted.max(1) as f64,
            if a.pull_vent_ms > 0 {
                format!("long-poll (vent={} ms)", a.pull_vent_ms)
            } else {
                format!("wait {} ms", a.pull_interval_ms)
            },
        );
        let _ = writeln!(
            t,
            "{:<22} {:>9} {:>9} {:>12} {:>11} {:>10} {:>15} {:>15} {:>15} {:>9} {:>8}  cpu % (server/bench/other/idle)",
            "phase",
            "msgs/s",
            "e2e msg/s",
            "leveringer/s",
            "delivered/s",
            "push/pull",
            "afsend p50/p99",
            "push p50/p99",
            "pull p50/p99",
            "backlog",
            "drain s",
        );
        let ms = |h: &Option<Histogram<u64>>| match (Phase::p(h, 0.5), Phase::p(h, 0.99)) {
            (Some(a), Some(b)) => format!("{a:.1}/{b:.1}"),
            _ => "-".into(),
        };
        for p in self.phases.iter().filter(|p| p.key != "warmup") {
            let h = &p.senders.hist;
            let _ = writeln!(
                t,
                "{:<22} {:>9.0} {:>9.0} {:>12.0} {:>11.0} {:>10} {:>15} {:>15} {:>15} {:>9} {:>8}  {}",
                p.title,
                p.accepted_per_s(),
                p.e2e_per_s(),
                p.distributed_per_s(),
                p.delivered_per_s(),
                format!(
                    "{:.0}/{:.0}",
                    p.found.delivered_push as f64 / p.secs(),
                    p.found.delivered_pull as f64 / p.secs()
                ),
                format!(
                    "{:.1}/{:.1}",
                    h.value_at_quantile(0.5) as f64 / 1000.0,
                    h.value_at_quantile(0.99) as f64 / 1000.0
                ),
                ms(&p.found.push),
                ms(&p.found.pull),
                p.after.backlog(),
                p.drain.map_or_else(
                    || "-".to_owned(),
                    |d| if d.complete {
                        format!("{:.1}", d.seconds)
                    } else {
                        format!(">{:.0}", d.seconds)
                    }
                ),
                p.cpu.map_or_else(|| "-".to_owned(), |c| c.shares(p.secs())),
            );
        }
        let c = &self.check;
        let _ = writeln!(
            t,
            "check: {} messages accepted, {} leveringer selected by the filters, {} delivered; {} missing, {} delivered where no filter sends them, {} duplicate deliveries{}",
            c.accepted,
            c.expected,
            c.delivered,
            c.missing,
            c.unexpected,
            c.duplicates,
            if c.complete {
                ""
            } else {
                " (a drain did not finish: missing ones may only be late)"
            }
        );
        let _ = writeln!(
            t,
            "server peak RSS (VmHWM): {}; peak anonymous RSS (sampled every 100 ms): {}",
            self.peak_rss_mb()
                .map_or_else(|| "unknown".to_owned(), |m| format!("{m:.1} MB")),
            self.peak_anon_mb
                .map_or_else(|| "unknown".to_owned(), |m| format!("{m:.1} MB")),
        );
        let targets: Vec<String> = self
            .targets()
            .into_iter()
            .map(|(d, v, ok)| {
                let verdict = match ok {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "unknown",
                };
                match v {
                    Some(v) => format!("{d}: {v:.1} — {verdict}"),
                    None => format!("{d}: {verdict}"),
                }
            })
            .collect();
        let _ = writeln!(t, "targets: {}", targets.join("; "));
        if self.errors > 0 {
            let _ = writeln!(t, "!!! {} ERROR(S) in this run; samples:", self.errors);
            for s in &self.error_samples {
                let _ = writeln!(t, "!!!   {s}");
            }
        }
        t
    }

    fn to_json(&self, a: &BeskedfordelerArgs) -> Value {
        let r2 = |x: f64| (x * 100.0).round() / 100.0;
        let c = &self.check;
        let mut v = json!({
            "backend": self.backend.name(),
            "abonnementer": self.setup.abonnementer.len(),
            "dueslag": self.setup.dueslag.len(),
            "push_dueslag": self.push_dueslag,
            "pull_dueslag": self.pull_dueslag,
            "vaerdilister": a.vaerdilister,
            "vaerdier": a.vaerdier,
            "setup_seconds": r2(self.setup.seconds),
            "vaerdilister_seconds": r2(self.setup.lists_seconds),
            "server_start_seconds": r2(self.startup_seconds),
            "peak_rss_mb": self.peak_rss_mb().map(r2),
            "peak_rss_anon_mb": self.peak_anon_mb.map(r2),
            "errors": self.errors,
            "error_samples": self.error_samples,
            "server_counters_final": self.final_counters.to_json(),
            "check": {
                "messages": c.messages,
                "accepted": c.accepted,
                "expected_leveringer": c.expected,
                "delivered_leveringer": c.delivered,
                "missing": c.missing,
                "unexpected": c.unexpected,
                "duplicates": c.duplicates,
                "drained": c.complete,
                "fanout": r2(c.expected as f64 / c.accepted.max(1) as f64),
                "examples": c.examples,
            },
            "filter_examples": self.setup.abonnementer.iter().take(10).map(|a| a.text.clone()).collect::<Vec<_>>(),
        });
        for p in &self.phases {
            v[p.key] = p.to_json();
        }
        v["targets"] = self
            .targets()
            .into_iter()
            .map(|(d, val, ok)| json!({ "target": d, "value": val.map(r2), "met": ok }))
            .collect();
        v
    }
}

// ---------------------------------------------------------------------------------------------
// The check afterwards

#[derive(Default)]
struct Check {
    messages: u64,
    accepted: u64,
    expected: u64,
    delivered: u64,
    missing: u64,
    unexpected: u64,
    duplicates: u64,
    /// Whether every drain finished (so a missing levering is an error, not lateness).
    complete: bool,
    examples: Vec<Value>,
    /// Errors found, and the first few of them.
    error_count: u64,
    errors: Vec<String>,
}

impl Check {
    fn error(&mut self, s: String) {
        self.error_count += 1;
        if self.errors.len() < ERROR_SAMPLES {
            self.errors.push(s);
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fki_beskedfordeler::kuvert::UnikId;

    #[test]
    fn cpr_numbers_are_distinct_and_well_formed() {
        let mut seen = HashSet::new();
        for k in (0..20_000).chain([335_999_999, 2 * OUTSIDE_CPR - 1, 2 * OUTSIDE_CPR + 1]) {
            let c = cpr(k);
            let digits = c.strip_prefix("urn:oio:cpr-nr:").unwrap();
            assert_eq!(digits.len(), 10, "{c}");
            let dd: u32 = digits[0..2].parse().unwrap();
            let mm: u32 = digits[2..4].parse().unwrap();
            assert!((1..=28).contains(&dd) && (1..=12).contains(&mm), "{c}");
            assert!(seen.insert(c));
        }
        // List values are even indexes, outside numbers odd: never the same.
        assert_eq!(liste_vaerdi(3, 1, 4) % 2, 0);
    }

    #[test]
    fn messages_carry_their_fields_and_parse() {
        let lists = vec![Uuid::from_u128(1), Uuid::from_u128(2)];
        let pools = Pools::new(50, lists, 1000, 7);
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..50 {
            let f = pools.random(&mut rng);
            let id = Uuid::new_v4();
            let xml = pools.xml(id, &f);
            assert_eq!(xml.len(), pools.xml(Uuid::nil(), &Fields::default()).len());
            let h = Haendelsesbesked::parse(&xml).unwrap();
            assert_eq!(h.besked_id, UnikId::Uuid(id));
            let d = &h.beskedkuvert.filtreringsdata;
            assert_eq!(
                d.beskedtype,
                Some(UnikId::Uuid(pools.beskedtyper[f.beskedtype as usize]))
            );
            assert_eq!(
                d.tilladt_modtager,
                vec![UnikId::urn(&format!("urn:oio:cvr-nr:{CVR}")).unwrap()]
            );
            assert_eq!(
                d.relateret_objekt[0].objekt_id,
                UnikId::urn(&cpr(f.cpr)).unwrap()
            );
            assert_eq!(
                d.objekt_registrering[0].opgave_emne,
                Some(UnikId::urn(&pools.kle(f.kle)).unwrap())
            );
            // What a receiver finds in the pushed document.
            assert_eq!(besked_id(&h.modtag_besked_input()), Some(id));
        }
    }

    #[test]
    fn every_filter_kind_parses_and_some_messages_match() {
        let lists = vec![Uuid::from_u128(1), Uuid::from_u128(2)];
        let pools = Pools::new(100, lists.clone(), 1000, 7);
        let mut rng = StdRng::seed_from_u64(5);
        let filters: Vec<Filter> = (0..100)
            .map(|a| Filter::parse(&pools.filter_text(a, &mut rng)).unwrap())
            .collect();
        let values: HashMap<Uuid, HashSet<String>> = lists
            .iter()
            .enumerate()
            .map(|(l, u)| (*u, pools.liste_vaerdier(l).collect()))
            .collect();
        let (mut matches, n) = (0usize, 2000);
        for _ in 0..n {
            let f = pools.random(&mut rng);
            let h = Haendelsesbesked::parse(&pools.xml(Uuid::new_v4(), &f)).unwrap();
            let d = &h.beskedkuvert.filtreringsdata;
            matches += filters.iter().filter(|x| x.matcher(d, &values)).count();
        }
        // About two abonnementer per message (see Pools).
        let mean = matches as f64 / n as f64;
        assert!((1.0..4.0).contains(&mean), "{mean}");
    }

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            redact("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:…@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact("amqp://h:5672"), "amqp://h:5672");
    }
}
