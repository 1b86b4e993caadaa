//! `fki population …`: the synthetic CPR/CVR population (issue 7).
//!
//! `generate` writes the population as JSON Lines, one person or company per line, to
//! `<data-dir>/cpr/<kommunekode>.jsonl` (or `--out`): `{"person": {...}}` then
//! `{"virksomhed": {...}}` lines. The file is the population's interchange form until the CPR
//! services (SF1520/SF1525) keep it in the store; generating is deterministic, so the same
//! parameters reproduce the file byte for byte.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use fki_cpr::population::{Parametre, Population, generate};
use serde_json::json;

use crate::seed;

#[derive(Subcommand)]
pub enum PopulationCommand {
    /// Generate a deterministic synthetic population (people and companies).
    Generate(GenerateArgs),
    /// Play days of CPR changes (moves, births, deaths, marriages, divorces, name changes,
    /// emigration) on a running server's register; each change is logged under
    /// <data-dir>/cpr/haendelser/ and published to the Beskedfordeler as a CPR event (SF1320_A).
    Simulate(SimulateArgs),
}

#[derive(Args)]
pub struct SimulateArgs {
    /// Days to play, one after another.
    #[arg(long)]
    days: u32,
    /// Seed of the changes (the same register, days and seed give the same changes).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The first day when nothing was simulated yet (default: today); later runs continue
    /// after the last simulated day.
    #[arg(long)]
    from: Option<NaiveDate>,
    /// The running server (its plain HTTP listener).
    #[arg(long, env = "FKI_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The server's data directory (for its admin token).
    #[arg(long, env = "FKI_DATA_DIR", default_value = "./fki-data")]
    data_dir: PathBuf,
    /// Print every change as a JSON line.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct GenerateArgs {
    /// Kommunekode (4 digits), e.g. 0751 for Aarhus.
    #[arg(long)]
    municipality: String,
    /// Number of people.
    #[arg(long, default_value_t = 10_000)]
    people: usize,
    /// Number of companies (default: one per 25 people).
    #[arg(long)]
    companies: Option<usize>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The reference day (ages, statuses), YYYY-MM-DD.
    #[arg(long, default_value = "2026-01-01")]
    as_of: NaiveDate,
    /// Directory for state (the file goes to <data-dir>/cpr/).
    #[arg(long, env = "FKI_DATA_DIR", default_value = "./fki-data")]
    data_dir: PathBuf,
    /// Write here instead.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Generate the population of `p` and write it to `out` (JSON Lines, see the module docs);
/// returns (people, companies, seconds spent generating).
pub fn write_file(p: &Parametre, out: &Path, show: bool) -> anyhow::Result<(usize, usize, f64)> {
    let pb = seed::progress(p.personer as u64, "people", show);
    let t = Instant::now();
    let pop = generate(p, |n| pb.set_position(n as u64));
    pb.finish_and_clear();
    let generated = t.elapsed().as_secs_f64();
    write(&pop, out, show)?;
    Ok((pop.personer.len(), pop.virksomheder.len(), generated))
}

/// Write a generated population to `out` (JSON Lines, see the module docs).
pub fn write(pop: &Population, out: &Path, show: bool) -> anyhow::Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let pb = seed::progress(
        (pop.personer.len() + pop.virksomheder.len()) as u64,
        "writing",
        show,
    );
    fki_cpr::register::skriv_jsonl(pop, &mut w, || pb.inc(1))?;
    pb.finish_and_clear();
    Ok(())
}

pub async fn run(cmd: PopulationCommand) -> anyhow::Result<()> {
    match cmd {
        PopulationCommand::Generate(a) => generate_cmd(a),
        PopulationCommand::Simulate(a) => simulate_cmd(a).await,
    }
}

/// `fki population simulate`: one admin call per day (`POST /admin/cpr/simuler`), so the
/// progress bar moves and a stop loses at most the day in flight (which the server finishes).
async fn simulate_cmd(a: SimulateArgs) -> anyhow::Result<()> {
    if a.days == 0 {
        bail!("--days must be at least 1");
    }
    let token_file = a.data_dir.join(fki_server::admin::TOKEN_FILE);
    let token = std::fs::read_to_string(&token_file).with_context(|| {
        format!(
            "cannot read the admin token {} (the server's --data-dir)",
            token_file.display()
        )
    })?;
    let url = format!("{}/admin/cpr/simuler", a.url.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let pb = seed::progress(u64::from(a.days), "days", !a.json);
    let mut arter: std::collections::BTreeMap<String, u64> = Default::default();
    let (mut antal, mut modtaget, mut leveringer) = (0u64, 0u64, 0u64);
    let (mut fra, mut til) = (None, None);
    for i in 0..a.days {
        let mut body = json!({ "dage": 1, "seed": a.seed });
        if i == 0
            && let Some(f) = a.from
        {
            body["fra"] = json!(f);
        }
        let r = client
            .post(&url)
            .bearer_auth(token.trim())
            .json(&body)
            .send()
            .await
            .with_context(|| format!("cannot reach the server at {}", a.url))?;
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
        if !status.is_success() {
            pb.abandon();
            bail!(
                "the server refused day {} of {}: {}",
                i + 1,
                a.days,
                v["detail"]
                    .as_str()
                    .or(v["message"].as_str())
                    .unwrap_or("(no reason given)")
            );
        }
        fra = fra.or_else(|| v["fra"].as_str().map(str::to_owned));
        til = v["til"].as_str().map(str::to_owned);
        antal += v["antal"].as_u64().unwrap_or(0);
        modtaget += v["modtaget"].as_u64().unwrap_or(0);
        leveringer += v["leveringer"].as_u64().unwrap_or(0);
        if let Some(m) = v["arter"].as_object() {
            for (k, n) in m {
                *arter.entry(k.clone()).or_default() += n.as_u64().unwrap_or(0);
            }
        }
        if a.json {
            for h in v["haendelser"].as_array().into_iter().flatten() {
                println!("{h}");
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    eprintln!(
        "{} days simulated ({} to {}): {antal} changes ({}); {modtaget} events received by some dueslag, {leveringer} deliveries",
        a.days,
        fra.unwrap_or_default(),
        til.unwrap_or_default(),
        arter
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

fn generate_cmd(a: GenerateArgs) -> anyhow::Result<()> {
    if a.municipality.len() != 4 || !a.municipality.bytes().all(|b| b.is_ascii_digit()) {
        bail!(
            "--municipality {:?}: expected a kommunekode of 4 digits, e.g. 0751",
            a.municipality
        );
    }
    if a.people == 0 {
        bail!("--people must be at least 1");
    }
    let mut p = Parametre::new(&a.municipality, a.people, a.seed);
    p.as_of = a.as_of;
    if let Some(c) = a.companies {
        p.virksomheder = c;
    }
    let out = a.out.unwrap_or_else(|| {
        a.data_dir
            .join("cpr")
            .join(format!("{}.jsonl", a.municipality))
    });
    let (personer, virksomheder, generated) = write_file(&p, &out, true)?;
    eprintln!(
        "{} people and {} companies of municipality {} (seed {}, as of {}) generated in {generated:.1} s, written to {}",
        personer,
        virksomheder,
        a.municipality,
        a.seed,
        a.as_of,
        out.display()
    );
    Ok(())
}
