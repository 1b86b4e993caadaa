//! `fki bench cpr`: SF1520 PersonLookup per second with the token checks on (issue 7 item 8).
//!
//! A population of `--people` is generated and written where `fki population generate` writes
//! it; a system is registered with an agreement for the CPR service; `fki serve` is started as a
//! child process (it reads the population at start: the start-up time includes that). Requests
//! are SOAP 1.1 PersonLookups of random people with AuthorityContext and InvocationContext, each
//! signed by the system's holder-of-key with its own MessageID, so the server verifies a
//! signature, the token, the agreement and both contexts per request. As in `fki bench oio`'s
//! SOAP phases the signing is done before each phase into a pool (the client's RSA work does
//! not compete with the server while measuring).
//!
//! The server runs with `--dev-open` like every benchmark server, which would let a request
//! whose WS-Security fails through unchecked; the bench therefore counts the server's
//! "let through" warnings and fails if there is one: every measured request was verified.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use fki_cpr::personlookup::{NS, NS_AUTCTX, NS_INVCTX, NS_PNR, STI};
use fki_cpr::population::{Parametre, generate};
use fki_server::cpr::ENTITY_CPR_PERSONBASEDATAEXTENDED;
use fki_store::adgang::kendt_service_uuid;
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::json;
use uuid::Uuid;

use super::http::{self, Expect, Phase};
use super::server::ServerProcess;
use super::{cpu, soap};

#[derive(Args, Debug, Clone)]
pub struct CprArgs {
    /// People in the generated population.
    #[arg(long, default_value_t = 100_000)]
    people: usize,
    /// Length of the measured phase, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Concurrent client tasks.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Requests signed per second of phase (capped): more than the server can answer.
const POOL_PER_S: f64 = 3_000.0;
const POOL_MAX: usize = 40_000;

fn envelope11(payload: &str) -> String {
    format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header>\
<Action xmlns=\"http://www.w3.org/2005/08/addressing\">http://serviceplatformen.dk/xml/wsdl/soap11/CPR/PersonBaseDataExtended/4/PersonLookup</Action>\
<MessageID xmlns=\"http://www.w3.org/2005/08/addressing\">urn:uuid:{}</MessageID>\
<To xmlns=\"http://www.w3.org/2005/08/addressing\">https://localhost{STI}</To>\
</soap:Header><soap:Body>{payload}</soap:Body></soap:Envelope>",
        Uuid::new_v4()
    )
}

pub async fn run(a: CprArgs) -> anyhow::Result<()> {
    if !(a.seconds > 0.0 && a.seconds.is_finite()) {
        bail!("--seconds must be a positive number");
    }
    if a.people == 0 || a.concurrency == 0 {
        bail!("--people and --concurrency must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    eprintln!("generating {} people (seed {}) …", a.people, a.seed);
    let t = Instant::now();
    let p = Parametre::new("0751", a.people, a.seed);
    let pop = tokio::task::spawn_blocking(move || generate(&p, |_| {})).await?;
    let generate_seconds = t.elapsed().as_secs_f64();
    crate::population::write(&pop, &dir.path().join("cpr").join("0751.jsonl"), true)?;
    let cprs: Arc<Vec<String>> = Arc::new(pop.personer.iter().map(|p| p.cpr.as_digits()).collect());
    drop(pop);

    let signer =
        Arc::new(soap::prepare_for(dir.path(), None, ENTITY_CPR_PERSONBASEDATAEXTENDED).await?);
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(a.concurrency)
        .timeout(Duration::from_secs(60))
        .build()?;
    let log = dir.path().join("server.log");
    let t = Instant::now();
    let server = ServerProcess::start(dir.path(), None, log.clone(), &client).await?;
    let startup_seconds = t.elapsed().as_secs_f64();
    eprintln!(
        "server up at {} in {startup_seconds:.1} s, {} people loaded (RSS {:.0} MB)",
        server.url,
        cprs.len(),
        server.mem().map_or(0.0, |m| m.rss)
    );

    let service = kendt_service_uuid(ENTITY_CPR_PERSONBASEDATAEXTENDED);
    let (cvr, system, aftale) = (signer.cvr.clone(), signer.system, signer.aftale);
    let payload = {
        let cprs = cprs.clone();
        Arc::new(move |rng: &mut StdRng| {
            let pnr = &cprs[rng.random_range(0..cprs.len())];
            format!(
                "<p:PersonLookupRequest xmlns:p=\"{NS}\" xmlns:a=\"{NS_AUTCTX}\" xmlns:i=\"{NS_INVCTX}\" xmlns:c=\"{NS_PNR}\">\
<a:AuthorityContext><a:MunicipalityCVR>{cvr}</a:MunicipalityCVR></a:AuthorityContext>\
<i:InvocationContext><i:ServiceAgreementUUID>{aftale}</i:ServiceAgreementUUID><i:UserSystemUUID>{system}</i:UserSystemUUID>\
<i:UserUUID>{}</i:UserUUID><i:ServiceUUID>{service}</i:ServiceUUID></i:InvocationContext>\
<c:PNR>{pnr}</c:PNR></p:PersonLookupRequest>",
                Uuid::new_v4()
            )
        })
    };
    let measured = Duration::from_secs_f64(a.seconds);
    let warmup = Duration::from_secs_f64((a.seconds / 5.0).min(2.0));
    let mut pools = Vec::new();
    for (d, salt) in [(warmup, 1u64), (measured, 2)] {
        let n = ((d.as_secs_f64() * POOL_PER_S) as usize).clamp(100, POOL_MAX);
        eprintln!("  signing {n} PersonLookup requests …");
        let (signer, payload) = (signer.clone(), payload.clone());
        let seed = a.seed ^ salt;
        let pool =
            tokio::task::spawn_blocking(move || signer.pool_in(n, seed, &*payload, &envelope11))
                .await
                .context("the signing task panicked")??;
        pools.push(soap::from_pool(pool));
    }
    let url = format!("{}{STI}", server.url);
    let phase = |body| Phase {
        key: "cpr_personlookup",
        title: "SF1520 PersonLookup (signed)",
        expect: Expect::Element("PersonLookupResponse"),
        url: {
            let url = url.clone();
            Arc::new(move |_: &mut StdRng| url.clone())
        },
        body: Some(body),
    };
    let measured_pool = pools.pop().expect("two pools");
    let warm_pool = pools.pop().expect("two pools");
    let w = http::run(
        &client,
        &phase(warm_pool),
        a.concurrency,
        warmup,
        a.seed ^ 0xffff,
    )
    .await;
    let before = cpu::Snapshot::take(server.pid());
    let mut r = http::run(
        &client,
        &phase(measured_pool),
        a.concurrency,
        measured,
        a.seed,
    )
    .await;
    let after = cpu::Snapshot::take(server.pid());
    r.errors += w.errors;
    r.requests += w.errors;
    r.error_samples.extend(w.error_samples.into_iter().take(2));
    r.cpu = before.zip(after).map(|(b, a)| a.since(&b));
    let mem = server.mem();
    let peak = server.peak_rss().ok();
    server.stop().await?;

    // Every request must have been verified, not let through by --dev-open.
    let let_through = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("let through")
        .count();
    let wall = r.elapsed.as_secs_f64();
    println!(
        "SF1520 PersonLookup, {} people, {} clients, {:.0} s: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms; \
server CPU/bench/other/idle {} % of a core; server RSS {:.0} MB (peak {:.0} MB); errors {}; \
generated in {generate_seconds:.1} s, server start (loading the population) {startup_seconds:.1} s",
        cprs.len(),
        a.concurrency,
        wall,
        r.req_per_s(),
        r.ms(0.5),
        r.ms(0.99),
        r.cpu.map_or("-".into(), |c| c.shares(wall)),
        mem.map_or(0.0, |m| m.rss),
        peak.map_or(0.0, |p| p as f64 / (1024.0 * 1024.0)),
        r.errors
    );
    for e in &r.error_samples {
        eprintln!("  error: {e}");
    }
    if let Some(path) = &a.json {
        let v = json!({
            "people": cprs.len(),
            "concurrency": a.concurrency,
            "seconds": wall,
            "req_per_s": r.req_per_s(),
            "p50_ms": r.ms(0.5),
            "p99_ms": r.ms(0.99),
            "errors": r.errors,
            "server_rss_mb": mem.map(|m| m.rss),
            "cpu": r.cpu.map(|c| c.to_json(wall, r.requests)),
            "generate_seconds": generate_seconds,
            "startup_seconds": startup_seconds,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&v)?)?;
    }
    if let_through > 0 {
        bail!("{let_through} requests were let through unverified (see the server log)");
    }
    if r.errors > 0 {
        bail!("{} requests failed", r.errors);
    }
    Ok(())
}
