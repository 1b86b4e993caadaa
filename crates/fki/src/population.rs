//! `fki population …`: the synthetic CPR/CVR population (issue 7).
//!
//! `generate` writes the population as JSON Lines, one person or company per line, to
//! `<data-dir>/cpr/<kommunekode>.jsonl` (or `--out`): `{"person": {...}}` then
//! `{"virksomhed": {...}}` lines. The file is the population's interchange form until the CPR
//! services (SF1520/SF1525) keep it in the store; generating is deterministic, so the same
//! parameters reproduce the file byte for byte.

use std::io::Write as _;
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
    for x in &pop.personer {
        serde_json::to_writer(&mut w, &json!({ "person": x }))?;
        w.write_all(b"\n")?;
        pb.inc(1);
    }
    for v in &pop.virksomheder {
        serde_json::to_writer(&mut w, &json!({ "virksomhed": v }))?;
        w.write_all(b"\n")?;
        pb.inc(1);
    }
    w.flush()?;
    pb.finish_and_clear();
    Ok(())
}

pub fn run(cmd: PopulationCommand) -> anyhow::Result<()> {
    match cmd {
        PopulationCommand::Generate(a) => generate_cmd(a),
    }
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
