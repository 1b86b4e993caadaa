//! Loading generated data (the demo municipality) through the engine, with a progress bar.

use anyhow::Context;
use fki_oio::json::{Mode, parse_write};
use fki_oio::spec;
use fki_oio::store::RegWindow;
use fki_oio::{Engine, Kontekst, Skriv};
use indicatif::{ProgressBar, ProgressStyle};

/// Objects per transaction when loading.
pub const CHUNK: usize = 500;

pub fn progress(len: u64, what: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_owned());
    pb
}

/// Load objects (LoRa write bodies) with `importer`, in transactions of [`CHUNK`] objects.
/// Fælleskommunale objects are owned by the same myndighed but marked fælles.
pub async fn load(
    engine: &Engine,
    myndighed: &str,
    objects: impl IntoIterator<Item = fki_demo::DemoObjekt>,
    pb: &ProgressBar,
) -> anyhow::Result<usize> {
    let ctx = |faelles: bool| Kontekst {
        myndighed: Some(myndighed.to_owned()),
        faelles,
        ..Kontekst::system()
    };
    let mut total = 0;
    let mut batch: Vec<(&'static spec::ClassSpec, uuid::Uuid, Skriv)> = Vec::with_capacity(CHUNK);
    let mut batch_faelles = false;
    for o in objects {
        let spec = spec::class(o.service, o.klasse)
            .with_context(|| format!("generated an unknown class {}/{}", o.service, o.klasse))?;
        let a = parse_write(spec, &o.body, Mode::Create)
            .with_context(|| format!("generated an invalid {} {}", o.klasse, o.uuid))?;
        if (batch.len() >= CHUNK || o.faelles != batch_faelles) && !batch.is_empty() {
            total += engine
                .write_many(&ctx(batch_faelles), batch.drain(..))
                .await?;
            pb.set_position(total as u64);
        }
        batch_faelles = o.faelles;
        batch.push((spec, o.uuid, Skriv::Importer(a)));
    }
    if !batch.is_empty() {
        total += engine
            .write_many(&ctx(batch_faelles), batch.drain(..))
            .await?;
    }
    pb.set_position(total as u64);
    Ok(total)
}

/// Seed the demo municipality unless its first object is already stored.
pub async fn demo(engine: &Engine, seed: u64, show_progress: bool) -> anyhow::Result<()> {
    let cfg = fki_demo::DemoConfig {
        seed,
        ..Default::default()
    };
    let objects = fki_demo::municipality(&cfg);
    let first = objects
        .first()
        .context("the demo generator produced nothing")?
        .uuid;
    if !engine
        .store()
        .read(&[first], RegWindow::Current)
        .await?
        .is_empty()
    {
        tracing::info!("demo data already present; not seeding again");
        return Ok(());
    }
    let pb = progress(objects.len() as u64, "demo", show_progress);
    let started = std::time::Instant::now();
    let n = load(engine, fki_demo::DEMO_CVR, objects, &pb).await?;
    pb.finish_and_clear();
    tracing::info!(
        objects = n,
        seconds = started.elapsed().as_secs_f64(),
        "demo municipality seeded"
    );
    Ok(())
}
