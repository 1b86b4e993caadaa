//! `fki bench oio`: load a synthetic organisation into a fresh store, serve it from a child
//! process of this binary and measure the OIO REST API over HTTP.
//!
//! Per backend (SQLite in a temporary directory, PostgreSQL in a throw-away database that is
//! dropped afterwards):
//!
//! 1. `fki_demo::scaled(seed, units, users)` is loaded through [`crate::seed::load`] (the
//!    engine, in transactions), then the planner statistics are updated (`ANALYZE` /
//!    `PRAGMA optimize`, as autovacuum or an operator would; `--skip-analyze` leaves them out);
//! 2. `fki serve` starts as a child process on a free loopback port (`FKI_LOG=warn`);
//! 3. five bounded phases run against it, each `--seconds` long after a short unmeasured
//!    warm-up, with `--concurrency` tasks: laes, list (10 UUIDs), and three searches (a bvn
//!    prefix, one relation, two relations and gyldighed). Their arguments come from the
//!    generated data ([`sample`]);
//! 4. the child's peak RSS (`VmHWM`) is read, the child is stopped (SIGTERM, then SIGKILL).
//!
//! The figures are printed as a table and, with `--json`, written to a file. Any non-2xx answer
//! counts as an error; a run with errors says so and exits non-zero. All traffic goes to
//! 127.0.0.1 and every phase is bounded in time.

mod amqp;
mod beskedfordeler;
mod cpr;
mod cpu;
mod http;
mod indeks;
mod sample;
mod server;
mod soap;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use fki_oio::Engine;
use fki_oio::store::Store;
use rand::Rng;
use serde_json::{Value, json};

use self::http::{Expect, Phase, PhaseResult};
use self::sample::Samples;
use self::server::ServerProcess;
use crate::seed;

/// Targets the numbers are compared with.
const TARGET_SOEG_C_P99_MS: f64 = 50.0;
const TARGET_LAES_PER_S: f64 = 5_000.0;
const TARGET_RSS_MB: f64 = 300.0;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Benchmark the OIO REST API (load, then laes, list and search over HTTP).
    Oio(OioArgs),
    /// Benchmark the Beskedfordeler (afsend, distribution by 1,000 abonnementer, push and pull
    /// delivery over HTTP) and RabbitMQ's publish-confirm rate.
    Beskedfordeler(beskedfordeler::BeskedfordelerArgs),
    /// Benchmark SF1520 PersonLookup (signed SOAP 1.1, token, agreement and context checks)
    /// on a generated population.
    Cpr(cpr::CprArgs),
    /// Benchmark the Sags- og dokumentindeks (SF1470): direct load, SOAP import with the
    /// index rules, fremsoeg per CPR; on SQLite and PostgreSQL.
    Indeks(indeks::IndeksArgs),
}

#[derive(Args, Debug, Clone)]
pub struct OioArgs {
    /// Organisationenheder to generate.
    #[arg(long, default_value_t = 100_000)]
    units: usize,
    /// Brugere to generate (each with an engagement).
    #[arg(long, default_value_t = 100_000)]
    users: usize,
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
    /// Concurrent client tasks.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Write all figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Do not update planner statistics after loading.
    #[arg(long)]
    skip_analyze: bool,
    /// Keep the loaded data (the SQLite directory, the PostgreSQL database) for inspection and
    /// print where it is, instead of removing it.
    #[arg(long)]
    keep: bool,
    /// Measure data kept by an earlier `--keep` run instead of loading anew: the kept data
    /// directory (SQLite) or database URL (PostgreSQL). Needs a single `--backend` and the same
    /// `--units`/`--users`/`--seed` as the run that loaded it.
    #[arg(long, value_name = "DIR_OR_URL")]
    reuse: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Oio(a) => oio(a).await,
        BenchCommand::Beskedfordeler(a) => beskedfordeler::run(a).await,
        BenchCommand::Cpr(a) => cpr::run(a).await,
        BenchCommand::Indeks(a) => indeks::run(a).await,
    }
}

/// Facts about the run shared by every backend.
struct Common {
    cores: usize,
    git_commit: Option<String>,
    git_dirty: Option<bool>,
    samples: Samples,
    generate_seconds: f64,
}

async fn oio(a: OioArgs) -> anyhow::Result<()> {
    if !(a.seconds > 0.0 && a.seconds.is_finite()) {
        bail!("--seconds must be a positive number");
    }
    if a.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if a.reuse.is_some() && a.backend == BackendChoice::Both {
        bail!("--reuse needs a single --backend (sqlite or postgres)");
    }
    let backends = match a.backend {
        BackendChoice::Sqlite => vec![Backend::Sqlite],
        BackendChoice::Postgres => vec![Backend::Postgres],
        BackendChoice::Both => vec![Backend::Sqlite, Backend::Postgres],
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let (git_commit, git_dirty) = git_state();

    eprintln!(
        "generating {} units and {} users (seed {}) to pick query arguments …",
        a.units, a.users, a.seed
    );
    let t = Instant::now();
    let (seed_, units, users) = (a.seed, a.units, a.users);
    let samples = tokio::task::spawn_blocking(move || {
        Samples::collect(fki_demo::scaled(seed_, units, users), seed_)
    })
    .await
    .context("the generator panicked")?;
    let generate_seconds = t.elapsed().as_secs_f64();
    if let Some(why) = samples.missing() {
        bail!("cannot benchmark this data: {why} (try more --units/--users)");
    }
    eprintln!(
        "{} objects in {generate_seconds:.1} s: {} units, {} users, {} parents, {} active unit/user pairs, {} bvn prefixes (mean {:.1} units each)",
        samples.objects,
        samples.units.len(),
        samples.users.len(),
        samples.parents.len(),
        samples.pairs.len(),
        samples.prefixes.len(),
        samples.mean_prefix_hits()
    );
    let common = Common {
        cores,
        git_commit,
        git_dirty,
        samples,
        generate_seconds,
    };

    let mut runs = Vec::new();
    let mut failures = Vec::new();
    for b in backends {
        match bench_backend(b, &a, &common).await {
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

    let errors: u64 = runs.iter().map(BackendResult::errors).sum();
    if let Some(path) = &a.json {
        let doc = json!({
            "benchmark": "fki bench oio",
            "units": a.units,
            "users": a.users,
            "seed": a.seed,
            "concurrency": a.concurrency,
            "seconds": a.seconds,
            "cores": common.cores,
            "git_commit": common.git_commit,
            "git_dirty": common.git_dirty,
            "errors": errors,
            "failures": failures,
            "runs": runs.iter().map(|r| r.to_json(&a, &common)).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&doc)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("figures written to {}", path.display());
    }
    if !failures.is_empty() {
        bail!(
            "{} backend(s) failed: {}",
            failures.len(),
            failures.join("; ")
        );
    }
    if errors > 0 {
        eprintln!("\n{}", "!".repeat(72));
        eprintln!(
            "!!! THIS RUN HAD {errors} ERROR(S): non-2xx answers or failed requests (see above)."
        );
        eprintln!("!!! Its figures do not describe a healthy server.");
        eprintln!("{}\n", "!".repeat(72));
        bail!("{errors} request(s) failed during the benchmark");
    }
    Ok(())
}

/// A store opened by the bench for loading.
enum Opened {
    Sqlite(fki_store::SqliteStore),
    Postgres(fki_store::PgStore),
}

impl Opened {
    fn store(&self) -> Arc<dyn Store> {
        match self {
            Opened::Sqlite(s) => Arc::new(s.clone()),
            Opened::Postgres(s) => Arc::new(s.clone()),
        }
    }

    async fn update_statistics(&self) -> anyhow::Result<()> {
        match self {
            Opened::Sqlite(s) => s.optimize().await?,
            Opened::Postgres(s) => s.analyze().await?,
        }
        Ok(())
    }

    async fn close(&self) {
        match self {
            Opened::Sqlite(s) => s.close().await,
            Opened::Postgres(s) => s.close().await,
        }
    }
}

struct BackendResult {
    backend: Backend,
    objects: usize,
    /// `None` when the data was reused.
    load_seconds: Option<f64>,
    analyze_seconds: Option<f64>,
    startup_seconds: f64,
    phases: Vec<PhaseResult>,
    peak_rss_bytes: Option<u64>,
    /// Largest anonymous RSS seen while sampling during the phases.
    peak_anon_mb: Option<f64>,
    mem_end: Option<server::Mem>,
}

async fn bench_backend(b: Backend, a: &OioArgs, common: &Common) -> anyhow::Result<BackendResult> {
    if let Some(reuse) = &a.reuse {
        let mut loaded = Loaded::reused(b, reuse)?;
        loaded.objects = common.samples.objects;
        return measure(b, a, common, loaded).await;
    }
    eprintln!("\n== {}: loading ==", b.name());
    let dir = tempfile::Builder::new()
        .prefix("fki-bench-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let (opened, db) = match b {
        Backend::Sqlite => {
            let path = dir.path().join(fki_store::DEFAULT_SQLITE_FILE);
            (
                Opened::Sqlite(fki_store::SqliteStore::open_path(&path).await?),
                None,
            )
        }
        Backend::Postgres => {
            let (url, guard) = fki_store::testing::fresh_postgres(&a.postgres_url)
                .await
                .with_context(|| {
                    format!(
                        "cannot create a database on {} (FKI_BENCH_POSTGRES_URL)",
                        a.postgres_url
                    )
                })?;
            let store = fki_store::PgStore::open_url(&url).await?;
            (Opened::Postgres(store), Some((url, Some(guard))))
        }
    };

    let engine = Engine::new(opened.store());
    let pb = seed::progress(common.samples.objects as u64, b.name(), true);
    let t = Instant::now();
    let loaded = seed::load(
        &engine,
        fki_demo::DEMO_CVR,
        fki_demo::scaled(a.seed, a.units, a.users),
        &pb,
    )
    .await;
    let load_seconds = t.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let objects = loaded.context("loading the generated data")?;
    eprintln!(
        "loaded {objects} objects in {load_seconds:.1} s ({:.0} objects/s)",
        objects as f64 / load_seconds
    );
    let analyze_seconds = if a.skip_analyze {
        None
    } else {
        let t = Instant::now();
        opened
            .update_statistics()
            .await
            .context("updating planner statistics")?;
        let s = t.elapsed().as_secs_f64();
        eprintln!("planner statistics updated in {s:.1} s");
        Some(s)
    };
    drop(engine);
    opened.close().await;
    let loaded = Loaded {
        dir: Some(dir),
        data_dir: None,
        db,
        objects,
        load_seconds: Some(load_seconds),
        analyze_seconds,
    };
    measure(b, a, common, loaded).await
}

/// Data ready to be served: loaded by this run (a temporary directory, perhaps a throw-away
/// database) or kept by an earlier one (`--reuse`).
struct Loaded {
    /// The temporary directory of this run (removed unless `--keep`).
    dir: Option<tempfile::TempDir>,
    /// A kept data directory (`--reuse` with SQLite).
    data_dir: Option<PathBuf>,
    db: Option<(String, Option<fki_store::testing::DropGuard>)>,
    objects: usize,
    load_seconds: Option<f64>,
    analyze_seconds: Option<f64>,
}

impl Loaded {
    fn reused(b: Backend, reuse: &str) -> anyhow::Result<Loaded> {
        let (data_dir, db) = match b {
            Backend::Sqlite => {
                let d = PathBuf::from(reuse);
                if !d.join(fki_store::DEFAULT_SQLITE_FILE).is_file() {
                    bail!(
                        "--reuse {reuse}: no {} there",
                        fki_store::DEFAULT_SQLITE_FILE
                    );
                }
                (d, None)
            }
            Backend::Postgres => {
                let d = tempfile::Builder::new()
                    .prefix("fki-bench-")
                    .tempdir()
                    .context("cannot create a temporary directory")?
                    .keep();
                (d, Some((reuse.to_string(), None)))
            }
        };
        eprintln!("\n== {}: reusing {reuse} ==", b.name());
        Ok(Loaded {
            dir: None,
            data_dir: Some(data_dir),
            db,
            objects: 0,
            load_seconds: None,
            analyze_seconds: None,
        })
    }

    fn path(&self) -> &std::path::Path {
        match (&self.dir, &self.data_dir) {
            (Some(d), _) => d.path(),
            (None, Some(d)) => d,
            (None, None) => std::path::Path::new("."),
        }
    }
}

/// Serve `loaded` from a child process and run the phases against it.
async fn measure(
    b: Backend,
    a: &OioArgs,
    common: &Common,
    loaded: Loaded,
) -> anyhow::Result<BackendResult> {
    let Loaded {
        objects,
        load_seconds,
        analyze_seconds,
        ..
    } = loaded;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(a.concurrency)
        .timeout(Duration::from_secs(60))
        .build()?;
    let signer = Arc::new(
        soap::prepare(
            loaded.path(),
            loaded.db.as_ref().map(|(url, _)| url.as_str()),
        )
        .await?,
    );
    let t = Instant::now();
    let server = ServerProcess::start(
        loaded.path(),
        loaded.db.as_ref().map(|(url, _)| url.as_str()),
        loaded.path().join("server.log"),
        &client,
    )
    .await?;
    let startup_seconds = t.elapsed().as_secs_f64();
    eprintln!(
        "== {}: server up at {} in {startup_seconds:.1} s (RSS {:.0} MB); measuring ==",
        b.name(),
        server.url,
        server.mem().map_or(0.0, |m| m.rss),
    );

    let mut phases: Vec<(Phase, Option<Phase>)> = phases(&server.url, &common.samples)
        .into_iter()
        .map(|p| (p, None))
        .collect();
    let measured = Duration::from_secs_f64(a.seconds);
    let warmup = Duration::from_secs_f64((a.seconds / 5.0).min(2.0));
    // The SOAP phases: pools of signed requests for warm-up and measurement.
    for (key, title, payload) in soap_phases(&common.samples) {
        let mut pools = Vec::new();
        for (d, salt) in [(warmup, 1u64), (measured, 2)] {
            let n = ((d.as_secs_f64() * SOAP_POOL_PER_S) as usize).clamp(100, SOAP_POOL_MAX);
            eprintln!("  signing {n} requests for {title} …");
            let (signer, payload) = (signer.clone(), payload.clone());
            let seed = a.seed ^ salt;
            let pool = tokio::task::spawn_blocking(move || signer.pool(n, seed, &*payload))
                .await
                .context("the signing task panicked")??;
            pools.push(soap::from_pool(pool));
        }
        let url = format!("{}/organisation/organisationenhed/6/", server.url);
        let phase = |body| Phase {
            key,
            title,
            expect: Expect::Soap,
            url: {
                let url = url.clone();
                Arc::new(move |_: &mut rand::rngs::StdRng| url.clone())
            },
            body: Some(body),
        };
        let measured_pool = pools.pop().expect("two pools");
        let warm_pool = pools.pop().expect("two pools");
        phases.push((phase(measured_pool), Some(phase(warm_pool))));
    }
    let mut results = Vec::new();
    let anon = server.anon_sampler();
    for (i, (p, warm)) in phases.iter().enumerate() {
        let seed = a.seed.wrapping_add(i as u64 * 7919);
        let w = http::run(
            &client,
            warm.as_ref().unwrap_or(p),
            a.concurrency,
            warmup,
            seed ^ 0xffff,
        )
        .await;
        let before = cpu::Snapshot::take(server.pid());
        let r = http::run(&client, p, a.concurrency, measured, seed).await;
        let after = cpu::Snapshot::take(server.pid());
        // Errors during warm-up count too: they are real failures of the server.
        let mut r = r;
        r.errors += w.errors;
        r.requests += w.errors;
        r.error_samples.extend(w.error_samples.into_iter().take(2));
        r.cpu = before.zip(after).map(|(b, a)| a.since(&b));
        r.mem = server.mem();
        eprintln!(
            "  {:<34} {:>9.1} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  server RSS {:.0} MB (anon {:.0}){}",
            p.title,
            r.req_per_s(),
            r.ms(0.5),
            r.ms(0.99),
            r.mem.map_or(0.0, |m| m.rss),
            r.mem.map_or(0.0, |m| m.anon),
            if r.errors > 0 {
                format!("  {} ERRORS", r.errors)
            } else {
                String::new()
            }
        );
        results.push(r);
    }

    let peak = server.peak_rss();
    let mem_end = server.mem();
    let peak_anon_mb = Some(anon.peak_mb()).filter(|m| *m > 0.0);
    drop(anon);
    let stopped = server.stop().await;
    match loaded.db {
        Some((url, Some(guard))) if a.keep => {
            eprintln!("kept the PostgreSQL database: {url}");
            // The guard would drop the database.
            std::mem::forget(guard);
        }
        Some((_, Some(guard))) => {
            if let Err(e) = guard.cleanup().await {
                eprintln!("warning: could not drop the benchmark database: {e}");
            }
        }
        _ => {}
    }
    if let (true, Some(dir)) = (a.keep, loaded.dir) {
        eprintln!("kept the data directory: {}", dir.keep().display());
    }
    let peak_rss_bytes = match peak {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("warning: could not read the server's peak RSS: {e:#}");
            None
        }
    };
    stopped.context("stopping the server")?;
    Ok(BackendResult {
        backend: b,
        objects,
        load_seconds,
        analyze_seconds,
        startup_seconds,
        phases: results,
        peak_rss_bytes,
        peak_anon_mb,
        mem_end,
    })
}

/// Signed SOAP requests prepared per second of a phase (more than this machine's server
/// verifies; a phase that uses its pool up ends early).
const SOAP_POOL_PER_S: f64 = 3_000.0;
/// At most this many per pool: the server's replay cache holds 100,000 message IDs for five
/// minutes, and two phases with warm-ups must fit.
const SOAP_POOL_MAX: usize = 30_000;

type SoapPayload = Arc<dyn Fn(&mut rand::rngs::StdRng) -> String + Send + Sync>;

/// The SOAP phases: key, title and the payload of each request.
fn soap_phases(s: &Samples) -> Vec<(&'static str, &'static str, SoapPayload)> {
    let units = Arc::new(s.units.clone());
    let prefixes: Arc<Vec<String>> = Arc::new(
        s.prefixes
            .iter()
            .map(|p| {
                form_urlencoded::parse(format!("x={}", p.encoded).as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            })
            .collect(),
    );
    vec![
        (
            "soap_laes",
            "SOAP laes (enhed by uuid, signed)",
            Arc::new(move |rng: &mut rand::rngs::StdRng| soap::laes(pick(&units, rng))),
        ),
        (
            "soap_soeg_a",
            "SOAP soeg a: bvn prefix (signed)",
            Arc::new(move |rng: &mut rand::rngs::StdRng| soap::soeg_bvn(pick_str(&prefixes, rng))),
        ),
    ]
}

/// The five phases, drawing their arguments from `s`.
fn phases(base: &str, s: &Samples) -> Vec<Phase> {
    let units = Arc::new(s.units.clone());
    let users = Arc::new(s.users.clone());
    let parents = Arc::new(s.parents.clone());
    let pairs = Arc::new(s.pairs.clone());
    let prefixes: Arc<Vec<String>> =
        Arc::new(s.prefixes.iter().map(|p| p.encoded.clone()).collect());
    let enhed = format!("{base}/organisation/organisationenhed");
    let bruger = format!("{base}/organisation/bruger");
    let funktion = format!("{base}/organisation/organisationfunktion");

    let laes = {
        let (units, users, enhed, bruger) = (units.clone(), users.clone(), enhed.clone(), bruger);
        move |rng: &mut rand::rngs::StdRng| {
            if rng.random_bool(0.5) {
                format!("{enhed}/{}", pick(&units, rng))
            } else {
                format!("{bruger}/{}", pick(&users, rng))
            }
        }
    };
    let list = {
        let (units, enhed) = (units, enhed.clone());
        move |rng: &mut rand::rngs::StdRng| {
            let mut u = String::with_capacity(enhed.len() + 10 * 42);
            u.push_str(&enhed);
            // Ten distinct units (the server would merge repeats).
            let n = units.len().min(10);
            for (i, j) in rand::seq::index::sample(rng, units.len(), n)
                .into_iter()
                .enumerate()
            {
                let _ = write!(u, "{}uuid={}", if i == 0 { '?' } else { '&' }, units[j]);
            }
            u
        }
    };
    let bvn = {
        let enhed = enhed.clone();
        move |rng: &mut rand::rngs::StdRng| format!("{enhed}?bvn={}", pick_str(&prefixes, rng))
    };
    let overordnet =
        move |rng: &mut rand::rngs::StdRng| format!("{enhed}?overordnet={}", pick(&parents, rng));
    let to_rel = move |rng: &mut rand::rngs::StdRng| {
        let (e, b) = pick(&pairs, rng);
        format!("{funktion}?tilknyttedeenheder={e}&tilknyttedebrugere={b}&gyldighed=Aktiv")
    };
    vec![
        Phase {
            key: "laes",
            title: "laes (enhed/bruger by uuid)",
            expect: Expect::Ok,
            url: Arc::new(laes),
            body: None,
        },
        Phase {
            key: "list",
            title: "list (10 enheder by uuid)",
            expect: Expect::Results,
            url: Arc::new(list),
            body: None,
        },
        Phase {
            key: "soeg_a",
            title: "soeg a: bvn prefix",
            expect: Expect::Results,
            url: Arc::new(bvn),
            body: None,
        },
        Phase {
            key: "soeg_b",
            title: "soeg b: overordnet",
            expect: Expect::Results,
            url: Arc::new(overordnet),
            body: None,
        },
        Phase {
            key: "soeg_c",
            title: "soeg c: 2 relations + gyldighed",
            expect: Expect::Results,
            url: Arc::new(to_rel),
            body: None,
        },
    ]
}

fn pick<T: Copy>(xs: &[T], rng: &mut impl Rng) -> T {
    xs[rng.random_range(0..xs.len())]
}

fn pick_str<'a>(xs: &'a [String], rng: &mut impl Rng) -> &'a str {
    &xs[rng.random_range(0..xs.len())]
}

impl BackendResult {
    fn phase(&self, key: &str) -> Option<&PhaseResult> {
        self.phases.iter().find(|p| p.key == key)
    }

    fn errors(&self) -> u64 {
        self.phases.iter().map(|p| p.errors).sum()
    }

    fn objects_per_s(&self) -> Option<f64> {
        self.load_seconds.map(|s| self.objects as f64 / s.max(1e-9))
    }

    fn peak_rss_mb(&self) -> Option<f64> {
        self.peak_rss_bytes.map(|b| b as f64 / (1024.0 * 1024.0))
    }

    /// Each target: (description, value, met).
    fn targets(&self) -> Vec<(String, Option<bool>)> {
        let c = self.phase("soeg_c").map(|p| p.ms(0.99));
        let l = self.phase("laes").map(PhaseResult::req_per_s);
        let m = self.peak_rss_mb();
        vec![
            (
                format!("soeg c p99 < {TARGET_SOEG_C_P99_MS} ms"),
                c.map(|c| c < TARGET_SOEG_C_P99_MS),
            ),
            (
                format!("laes ≥ {TARGET_LAES_PER_S} /s"),
                l.map(|l| l >= TARGET_LAES_PER_S),
            ),
            (
                format!("server peak RSS < {TARGET_RSS_MB} MB"),
                m.map(|m| m < TARGET_RSS_MB),
            ),
        ]
    }

    fn table(&self, a: &OioArgs, common: &Common) -> String {
        let mut t = String::new();
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "fki bench oio — {} — {} units, {} users (seed {}), {} objects; {} connections, {} s per phase, {} cores, commit {}{}",
            self.backend.name(),
            a.units,
            a.users,
            a.seed,
            self.objects,
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
        let _ = match (self.load_seconds, self.objects_per_s()) {
            (Some(secs), Some(rate)) => writeln!(
                t,
                "load: {} objects in {secs:.1} s = {rate:.0} objects/s{}; server start {:.1} s",
                self.objects,
                self.analyze_seconds.map_or_else(
                    || " (no ANALYZE)".to_owned(),
                    |s| format!(" (+ statistics {s:.1} s)")
                ),
                self.startup_seconds,
            ),
            _ => writeln!(
                t,
                "load: reused data kept by an earlier run; server start {:.1} s",
                self.startup_seconds,
            ),
        };
        let _ = writeln!(
            t,
            "{:<34} {:>10} {:>11} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6}  cpu % (server/bench/other/idle)",
            "phase", "req/s", "items/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "empty"
        );
        for p in &self.phases {
            let results = p.expect != Expect::Ok;
            let _ = writeln!(
                t,
                "{:<34} {:>10.1} {:>11} {:>8.2} {:>8.2} {:>8.2} {:>8.1} {:>7} {:>6}  {}",
                p.title,
                p.req_per_s(),
                if results {
                    format!("{:.0}", p.items_per_s())
                } else {
                    "-".into()
                },
                p.ms(0.5),
                p.ms(0.9),
                p.ms(0.99),
                p.max_ms(),
                p.errors,
                if results {
                    p.empty.to_string()
                } else {
                    "-".into()
                },
                p.cpu
                    .map_or_else(|| "-".to_owned(), |c| c.shares(p.elapsed.as_secs_f64())),
            );
        }
        let _ = writeln!(
            t,
            "server peak RSS (VmHWM): {}; peak anonymous RSS (heap, sampled every 100 ms): {}; file-backed RSS at the end: {}",
            self.peak_rss_mb()
                .map_or_else(|| "unknown".to_owned(), |m| format!("{m:.1} MB")),
            self.peak_anon_mb
                .map_or_else(|| "unknown".to_owned(), |m| format!("{m:.1} MB")),
            self.mem_end
                .map_or_else(|| "unknown".to_owned(), |m| format!("{:.1} MB", m.file)),
        );
        let targets: Vec<String> = self
            .targets()
            .into_iter()
            .map(|(d, ok)| {
                let v = match ok {
                    Some(true) => "met",
                    Some(false) => "MISSED",
                    None => "unknown",
                };
                format!("{d}: {v}")
            })
            .collect();
        let _ = writeln!(t, "targets: {}", targets.join("; "));
        let errors = self.errors();
        if errors > 0 {
            let _ = writeln!(t, "!!! {errors} ERROR(S) in this run; samples:");
            for p in &self.phases {
                for s in &p.error_samples {
                    let _ = writeln!(t, "!!!   [{}] {s}", p.key);
                }
            }
        }
        let empty: u64 = self.phases.iter().map(|p| p.empty).sum();
        if empty > 0 {
            let _ = writeln!(
                t,
                "note: {empty} answer(s) had no results although their arguments come from current data"
            );
        }
        t
    }

    fn to_json(&self, a: &OioArgs, common: &Common) -> Value {
        let r2 = |x: f64| (x * 100.0).round() / 100.0;
        let mut v = json!({
            "backend": self.backend.name(),
            "units": a.units,
            "users": a.users,
            "seed": a.seed,
            "objects": self.objects,
            "generate_seconds": r2(common.generate_seconds),
            "load_seconds": self.load_seconds.map(r2),
            "objects_per_s": self.objects_per_s().map(r2),
            "analyze_seconds": self.analyze_seconds.map(r2),
            "server_start_seconds": r2(self.startup_seconds),
            "peak_rss_mb": self.peak_rss_mb().map(r2),
            "peak_rss_anon_mb": self.peak_anon_mb.map(r2),
            "rss_file_mb_at_end": self.mem_end.map(|m| r2(m.file)),
            "concurrency": a.concurrency,
            "seconds": a.seconds,
            "cores": common.cores,
            "git_commit": common.git_commit,
            "git_dirty": common.git_dirty,
            "errors": self.errors(),
            "bvn_prefix_mean_units": r2(common.samples.mean_prefix_hits()),
        });
        for p in &self.phases {
            v[p.key] = p.to_json();
        }
        v["targets"] = self
            .targets()
            .into_iter()
            .map(|(d, ok)| json!({ "target": d, "met": ok }))
            .collect();
        v
    }
}

/// `git rev-parse HEAD` and whether the work tree has changes, when git works here.
fn git_state() -> (Option<String>, Option<bool>) {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = run(&["rev-parse", "HEAD"]).filter(|c| !c.is_empty());
    let dirty = commit
        .as_ref()
        .and_then(|_| run(&["status", "--porcelain", "--untracked-files=no"]))
        .map(|s| !s.is_empty());
    (commit, dirty)
}
