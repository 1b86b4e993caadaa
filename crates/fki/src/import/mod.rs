//! `fki import kle|organisation FILE` and `fki export organisation FILE`: bulk loading.
//!
//! Every import is one store transaction fed object by object as the file is read
//! ([`fki_oio::Engine::bulk`]): memory does not grow with the file, and the first invalid object
//! rolls everything back (nothing is stored, the command exits non-zero naming the line or
//! element and the reason). Each object is validated by `fki_oio::json::parse_write`, exactly as
//! the REST API validates a body, and written with `importer` under its given UUID; an object
//! whose data equals what is stored is left alone, so importing the same file twice changes
//! nothing the second time. The formats are documented in `docs/organisation.md` ("Bulk import
//! and export").
//!
//! - [`ndjson`]: fki's own format, one object a line (import and export);
//! - [`kle`]: KLE-Online's published `KLE-Emneplan` XML, mapped to Klassifikation.

pub mod kle;
pub mod ndjson;

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use fki_oio::Udfald;
use indicatif::{ProgressBar, ProgressStyle};

use crate::StoreArgs;

/// The Organisation-side classes `fki import|export organisation` carries.
pub const ORGANISATION_CLASSES: &[&str] = &[
    "organisation",
    "organisationenhed",
    "organisationfunktion",
    "bruger",
    "adresse",
    "itsystem",
    "interessefaellesskab",
    "person",
    "virksomhed",
    "myndighed",
];

/// The Klassifikation classes `fki import kle` accepts in fki's own format.
pub const KLASSIFIKATION_CLASSES: &[&str] = &["klassifikation", "facet", "klasse"];

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Load KLE (Kommunernes Landsdækkende Emnesystematik) as Klassifikation: KLE-Online's
    /// KLE-Emneplan XML, or fki's own export format (newline-delimited JSON). All or nothing.
    Kle {
        /// The file (XML if it starts with '<', otherwise newline-delimited JSON).
        file: PathBuf,
        /// Myndighed (CVR) recorded as owner of the (fælleskommunale) KLE objects.
        #[arg(long)]
        myndighed: Option<String>,
    },
    /// Load Organisation objects from fki's export format (newline-delimited JSON). All or
    /// nothing.
    Organisation {
        file: PathBuf,
        /// Myndighed (CVR) that owns the imported objects.
        #[arg(long, required = true)]
        myndighed: String,
    },
}

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Write the current registrering of every Organisation object (not deleted ones) in the
    /// format `fki import organisation` reads.
    Organisation {
        file: PathBuf,
        /// Only objects owned by this myndighed (CVR).
        #[arg(long)]
        myndighed: Option<String>,
    },
}

async fn engine(store: StoreArgs) -> anyhow::Result<fki_oio::Engine> {
    let config = fki_server::Config {
        data_dir: store.data_dir,
        database_url: store.database_url,
        ..fki_server::Config::for_test(PathBuf::new(), None)
    };
    Ok(fki_oio::Engine::new(fki_server::open_store(&config).await?))
}

pub async fn import(store: StoreArgs, cmd: ImportCommand) -> anyhow::Result<()> {
    let engine = engine(store).await?;
    let started = Instant::now();
    let (file, rapport) = match cmd {
        ImportCommand::Kle { file, myndighed } => {
            let mut r = Fil::open(&file)?;
            let xml = r.first_byte()? == Some(b'<');
            let rapport = if xml {
                kle::import(&engine, &mut r, myndighed).await
            } else {
                ndjson::import(&engine, &mut r, KLASSIFIKATION_CLASSES, myndighed, true).await
            };
            r.pb.finish_and_clear();
            (file, rapport)
        }
        ImportCommand::Organisation { file, myndighed } => {
            if myndighed.len() != 8 || !myndighed.bytes().all(|b| b.is_ascii_digit()) {
                anyhow::bail!("--myndighed {myndighed:?} is not a CVR number (8 digits)");
            }
            let mut r = Fil::open(&file)?;
            let rapport = ndjson::import(
                &engine,
                &mut r,
                ORGANISATION_CLASSES,
                Some(myndighed),
                false,
            )
            .await;
            r.pb.finish_and_clear();
            (file, rapport)
        }
    };
    let rapport = rapport
        .with_context(|| format!("import of {} failed; nothing was stored", file.display()))?;
    rapport.print(&file, started.elapsed().as_secs_f64());
    Ok(())
}

pub async fn export(store: StoreArgs, cmd: ExportCommand) -> anyhow::Result<()> {
    let engine = engine(store).await?;
    match cmd {
        ExportCommand::Organisation { file, myndighed } => {
            let started = Instant::now();
            let n = ndjson::export(&engine, &file, ORGANISATION_CLASSES, myndighed.as_deref())
                .await
                .with_context(|| format!("export to {} failed", file.display()))?;
            println!(
                "exported {n} objects to {} in {:.2} s",
                file.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

/// What an import did, per class.
#[derive(Debug, Default)]
pub struct Rapport {
    /// klasse -> (created, updated, unchanged)
    pub klasser: BTreeMap<&'static str, [u64; 3]>,
}

impl Rapport {
    pub fn tael(&mut self, klasse: &'static str, u: Udfald) {
        let c = self.klasser.entry(klasse).or_default();
        match u {
            Udfald::Oprettet => c[0] += 1,
            Udfald::Aendret => c[1] += 1,
            Udfald::Uaendret => c[2] += 1,
        }
    }

    fn print(&self, file: &std::path::Path, seconds: f64) {
        let mut total = [0u64; 3];
        println!("imported {}", file.display());
        for (k, c) in &self.klasser {
            println!(
                "{k:<22} created {:>8}  updated {:>8}  unchanged {:>8}",
                c[0], c[1], c[2]
            );
            for (t, x) in total.iter_mut().zip(c) {
                *t += x;
            }
        }
        println!(
            "{:<22} created {:>8}  updated {:>8}  unchanged {:>8}",
            "total", total[0], total[1], total[2]
        );
        println!("seconds {seconds:.2}");
    }
}

/// The input file: buffered, counting bytes and lines as they are consumed, with a progress
/// bar of bytes read (stderr; hidden when stderr is not a terminal).
pub struct Fil {
    inner: std::io::BufReader<std::fs::File>,
    /// Bytes consumed.
    pub pos: u64,
    /// Newlines consumed (the current line is `lines + 1`).
    pub lines: u64,
    pub pb: ProgressBar,
}

impl Fil {
    fn open(path: &std::path::Path) -> anyhow::Result<Fil> {
        let f =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        pb.set_message("import");
        Ok(Fil {
            inner: std::io::BufReader::with_capacity(256 * 1024, f),
            pos: 0,
            lines: 0,
            pb,
        })
    }

    fn first_byte(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            let b = self.inner.fill_buf()?;
            match b.iter().position(|c| !c.is_ascii_whitespace()) {
                Some(i) => return Ok(Some(b[i])),
                None if b.is_empty() => return Ok(None),
                // Only whitespace in the buffer: consume it (counting lines) and look further.
                None => {
                    let n = b.len();
                    self.consume(n);
                }
            }
        }
    }

    /// Move the progress bar to the bytes consumed.
    pub fn tick(&self) {
        self.pb.set_position(self.pos);
    }
}

impl Read for Fil {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        self.lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(n)
    }
}

impl BufRead for Fil {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        // The buffer is filled already: this returns it without I/O.
        if let Ok(b) = self.inner.fill_buf() {
            let n = amt.min(b.len());
            self.lines += b[..n].iter().filter(|&&c| c == b'\n').count() as u64;
        }
        self.pos += amt as u64;
        self.inner.consume(amt);
    }
}
