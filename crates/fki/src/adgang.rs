//! `fki ca|system|service|aftale|audit`: the Adgangsstyring registries and the local CA from
//! the command line, on the store `fki serve` uses (`--data-dir`, `FKI_DATABASE_URL`) and the CA
//! in `<data-dir>/ca`. Validation and the registry steps are shared with the admin API
//! (`fki_server::admin`); this module parses arguments, writes files and prints.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use fki_server::admin::{self, NyAftale};
use fki_store::adgang::{AdgangStore, AftaleFilter, AftaleStatus, AuditQuery};
use fki_sts::ca::{self, Ca};
use serde_json::json;

use crate::StoreArgs;

/// Password of the PKCS#12 file when none is given.
const DEFAULT_P12_PASSWORD: &str = "fki";

#[derive(Subcommand)]
pub enum CaCommand {
    /// Print the root CA certificate (PEM), or write it to a file: what clients must trust.
    Export {
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show the CA: directory, root and STS certificates.
    Show,
}

#[derive(Subcommand)]
pub enum SystemCommand {
    /// Issue a function certificate from the fki CA and register an anvendersystem with it;
    /// writes <name>.crt.pem, <name>.key.pem (0600) and <name>.p12.
    Create {
        #[arg(long)]
        name: String,
        /// CVR of the organisation owning the system (8 digits).
        #[arg(long)]
        cvr: String,
        /// Directory for the files (default: the current directory).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Password of the PKCS#12 file.
        #[arg(long, default_value = DEFAULT_P12_PASSWORD)]
        password: String,
        /// anvendersystem or serviceudbyder.
        #[arg(long, default_value = "anvendersystem")]
        rolle: String,
    },
    /// Register a system with an existing certificate (PEM or DER).
    Register {
        #[arg(long)]
        name: String,
        #[arg(long)]
        cvr: String,
        /// The certificate file.
        #[arg(long)]
        cert: PathBuf,
        /// anvendersystem or serviceudbyder.
        #[arg(long, default_value = "anvendersystem")]
        rolle: String,
    },
    /// List the registered systems.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum ServiceCommand {
    /// List the services (the known KOMBIT services are seeded).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a service (or update the one with this entity ID).
    Add {
        #[arg(long)]
        entity_id: String,
        #[arg(long)]
        name: String,
        /// The interface, e.g. SF1500.
        #[arg(long)]
        sf: String,
    },
}

#[derive(Args, Clone)]
pub struct NyAftaleArgs {
    /// System UUID or name.
    #[arg(long)]
    system: String,
    /// Service entity ID (or UUID).
    #[arg(long)]
    service: String,
    /// CVR of the municipality (8 digits).
    #[arg(long)]
    cvr: String,
    /// A granted role (repeatable).
    #[arg(long = "rolle")]
    roller: Vec<String>,
    /// A data restriction NAVN=VAERDI (repeatable).
    #[arg(long = "begraensning")]
    begraensninger: Vec<String>,
}

#[derive(Subcommand)]
pub enum AftaleCommand {
    /// Request a serviceaftale (status anmodet).
    Create(NyAftaleArgs),
    /// Create a serviceaftale and approve and activate it at once (for CI and development).
    Grant(NyAftaleArgs),
    /// anmodet -> godkendt.
    Approve { uuid: String },
    /// godkendt -> aktiv.
    Activate { uuid: String },
    /// Any status but tilbagekaldt -> tilbagekaldt.
    Revoke { uuid: String },
    /// List serviceaftaler.
    List {
        /// System UUID or name.
        #[arg(long)]
        system: Option<String>,
        /// Service entity ID (or UUID).
        #[arg(long)]
        service: Option<String>,
        #[arg(long)]
        cvr: Option<String>,
        /// anmodet, godkendt, aktiv or tilbagekaldt.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct AuditArgs {
    /// From this instant (RFC 3339, e.g. 2026-01-31T12:00:00Z), inclusive.
    #[arg(long)]
    since: Option<String>,
    /// Before this instant.
    #[arg(long)]
    until: Option<String>,
    /// System UUID or name.
    #[arg(long)]
    system: Option<String>,
    #[arg(long)]
    cvr: Option<String>,
    /// Only this event (token_issued, token_refused, …).
    #[arg(long)]
    haendelse: Option<String>,
    /// Recorded calls and deliveries of this SF number (e.g. SF1520).
    #[arg(long)]
    sf: Option<String>,
    /// At most this many entries, newest first.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    #[arg(long)]
    json: bool,
}

// ---------------------------------------------------------------------------------------------

async fn open(store: &StoreArgs) -> anyhow::Result<Arc<dyn AdgangStore>> {
    let stores = fki_store::open_stores(store.database_url.as_deref(), &store.data_dir)
        .await
        .with_context(|| match &store.database_url {
            Some(_) => "while opening the PostgreSQL database of FKI_DATABASE_URL".to_owned(),
            None => format!(
                "while opening the SQLite database in {}",
                store.data_dir.display()
            ),
        })?;
    Ok(stores.adgang)
}

fn load_ca(store: &StoreArgs) -> anyhow::Result<Ca> {
    admin::load_ca(&store.data_dir)
}

pub async fn ca(store: StoreArgs, cmd: CaCommand) -> anyhow::Result<()> {
    let ca = load_ca(&store)?;
    match cmd {
        CaCommand::Export { out: None } => {
            print!("{}", ca.root_cert_pem());
        }
        CaCommand::Export { out: Some(path) } => {
            std::fs::write(&path, ca.root_cert_pem())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("root CA certificate written to {}", path.display());
        }
        CaCommand::Show => {
            let root = ca::cert_info(ca.root_cert_der())?;
            let sts = ca::cert_info(&ca.sts().cert_der)?;
            println!("directory     {}", ca.dir().display());
            for (what, i) in [("root CA", &root), ("STS signing", &sts)] {
                println!("{what}");
                println!("  subject     {}", i.subject);
                println!("  issuer      {}", i.issuer);
                println!("  valid       {} .. {}", i.not_before, i.not_after);
                println!("  sha256      {}", i.sha256_hex);
            }
        }
    }
    Ok(())
}

/// `name` as a file name: letters, digits, `-`, `_`, `.`; anything else becomes `-`.
fn file_stem(name: &str) -> String {
    let s: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(|c| c == '.' || c == '-').to_owned();
    if s.is_empty() { "system".into() } else { s }
}

/// Create `path` (never overwriting) with `mode` and `content`.
fn write_new(path: &Path, content: &[u8], private: bool) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts.open(path).with_context(|| {
        format!(
            "cannot create {} (an existing file is never overwritten)",
            path.display()
        )
    })?;
    f.write_all(content)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub async fn system(store: StoreArgs, cmd: SystemCommand) -> anyhow::Result<()> {
    match cmd {
        SystemCommand::Create {
            name,
            cvr,
            out,
            password,
            rolle,
        } => {
            // Check everything cheap before the store is opened or a key is made.
            admin::check_cvr(&cvr)?;
            let rolle = admin::parse_rolle(&rolle)?;
            let stem = file_stem(&name);
            let paths = [
                out.join(format!("{stem}.crt.pem")),
                out.join(format!("{stem}.key.pem")),
                out.join(format!("{stem}.p12")),
            ];
            if let Some(p) = paths.iter().find(|p| p.exists()) {
                bail!(
                    "{} exists already; choose another --out or --name",
                    p.display()
                );
            }
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let ca = Arc::new(load_ca(&store)?);
            let adgang = open(&store).await?;
            let (sys, issued) =
                admin::issue_system(&*adgang, ca.clone(), &name, &cvr, rolle).await?;
            let p12 = issued
                .pkcs12_der(&password)
                .context("building the PKCS#12 file")?;
            let written = write_new(&paths[0], issued.cert_pem().as_bytes(), false)
                .and_then(|()| write_new(&paths[1], issued.key_pem().as_bytes(), true))
                .and_then(|()| write_new(&paths[2], &p12, true));
            if let Err(e) = written {
                return Err(e.context(format!(
                    "system {} is registered, but its files could not all be written; \
                     the key is lost: register a new system",
                    sys.uuid
                )));
            }
            println!("system       {}", sys.uuid);
            println!("name         {}", sys.navn);
            println!("cvr          {}", sys.cvr);
            println!("subject      {}", sys.subject);
            println!("sha256       {}", sys.certifikat_sha256);
            println!("certificate  {}", paths[0].display());
            println!("key          {}", paths[1].display());
            println!(
                "pkcs12       {} (password: {})",
                paths[2].display(),
                if password == DEFAULT_P12_PASSWORD {
                    "fki, the default"
                } else {
                    "as given"
                }
            );
            println!(
                "trust        the fki root CA: fki ca export --out fki-root-ca.pem (in {})",
                ca.dir().display()
            );
        }
        SystemCommand::Register {
            name,
            cvr,
            cert,
            rolle,
        } => {
            admin::check_cvr(&cvr)?;
            let rolle = admin::parse_rolle(&rolle)?;
            let bytes =
                std::fs::read(&cert).with_context(|| format!("reading {}", cert.display()))?;
            let adgang = open(&store).await?;
            let sys = admin::register_system(&*adgang, &name, &cvr, rolle, &bytes).await?;
            println!("system       {}", sys.uuid);
            println!("subject      {}", sys.subject);
            println!("sha256       {}", sys.certifikat_sha256);
        }
        SystemCommand::List { json } => {
            let adgang = open(&store).await?;
            let systems = adgang.systems().await?;
            if json {
                let v: Vec<_> = systems
                    .iter()
                    .map(|s| admin::system_json(s, false))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("UUID\tNAME\tCVR\tROLLE\tSHA256");
                for s in systems {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        s.uuid,
                        s.navn,
                        s.cvr,
                        s.rolle.as_str(),
                        s.certifikat_sha256
                    );
                }
            }
        }
    }
    Ok(())
}

pub async fn service(store: StoreArgs, cmd: ServiceCommand) -> anyhow::Result<()> {
    let adgang = open(&store).await?;
    match cmd {
        ServiceCommand::List { json } => {
            let services = adgang.services().await?;
            if json {
                let v: Vec<_> = services.iter().map(admin::service_json).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("SF\tENTITY ID\tNAME");
                for s in services {
                    println!("{}\t{}\t{}", s.sf, s.entity_id, s.navn);
                }
            }
        }
        ServiceCommand::Add {
            entity_id,
            name,
            sf,
        } => {
            let s = admin::put_service(&*adgang, &entity_id, &name, &sf).await?;
            println!("service      {}", s.uuid);
            println!("entity ID    {}", s.entity_id);
        }
    }
    Ok(())
}

fn ny_aftale(a: NyAftaleArgs) -> anyhow::Result<NyAftale> {
    admin::check_cvr(&a.cvr)?;
    Ok(NyAftale {
        system: a.system,
        service: a.service,
        cvr: a.cvr,
        roller: a.roller,
        dataafgraensninger: a
            .begraensninger
            .iter()
            .map(|b| admin::parse_begraensning(b))
            .collect::<Result<_, _>>()?,
    })
}

fn print_aftale(a: &fki_store::adgang::Serviceaftale) {
    println!("aftale       {}", a.uuid);
    println!("status       {}", a.status.as_str());
}

pub async fn aftale(store: StoreArgs, cmd: AftaleCommand) -> anyhow::Result<()> {
    let step = |uuid: &str| -> anyhow::Result<uuid::Uuid> {
        uuid::Uuid::parse_str(uuid.trim())
            .map_err(|_| anyhow::anyhow!("an agreement is named by its UUID, got {uuid:?}"))
    };
    match cmd {
        AftaleCommand::Create(a) => {
            let ny = ny_aftale(a)?;
            let adgang = open(&store).await?;
            print_aftale(&admin::create_aftale(&*adgang, &ny, false).await?);
        }
        AftaleCommand::Grant(a) => {
            let ny = ny_aftale(a)?;
            let adgang = open(&store).await?;
            print_aftale(&admin::create_aftale(&*adgang, &ny, true).await?);
        }
        AftaleCommand::Approve { uuid } => {
            let u = step(&uuid)?;
            let adgang = open(&store).await?;
            print_aftale(&admin::transition(&*adgang, u, AftaleStatus::Godkendt).await?);
        }
        AftaleCommand::Activate { uuid } => {
            let u = step(&uuid)?;
            let adgang = open(&store).await?;
            print_aftale(&admin::transition(&*adgang, u, AftaleStatus::Aktiv).await?);
        }
        AftaleCommand::Revoke { uuid } => {
            let u = step(&uuid)?;
            let adgang = open(&store).await?;
            print_aftale(&admin::transition(&*adgang, u, AftaleStatus::Tilbagekaldt).await?);
        }
        AftaleCommand::List {
            system,
            service,
            cvr,
            status,
            json,
        } => {
            let mut f = AftaleFilter {
                status: status.as_deref().map(admin::parse_status).transpose()?,
                ..Default::default()
            };
            if let Some(c) = cvr {
                admin::check_cvr(&c)?;
                f.myndighed = Some(c);
            }
            let adgang = open(&store).await?;
            if let Some(s) = system {
                f.system = Some(admin::resolve_system(&*adgang, &s).await?.uuid);
            }
            if let Some(s) = service {
                f.service = Some(admin::resolve_service(&*adgang, &s).await?.uuid);
            }
            let aftaler = adgang.aftaler(&f).await?;
            let services = adgang.services().await?;
            if json {
                let v: Vec<_> = aftaler
                    .iter()
                    .map(|a| admin::aftale_json(a, &services))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("UUID\tSTATUS\tSYSTEM\tCVR\tSERVICE");
                for a in aftaler {
                    let service = services
                        .iter()
                        .find(|s| s.uuid == a.service)
                        .map_or_else(|| a.service.to_string(), |s| s.entity_id.clone());
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        a.uuid,
                        a.status.as_str(),
                        a.system,
                        a.myndighed,
                        service
                    );
                }
            }
        }
    }
    Ok(())
}

pub async fn audit(store: StoreArgs, a: AuditArgs) -> anyhow::Result<()> {
    if a.limit == 0 {
        bail!("--limit must be at least 1");
    }
    let mut q = AuditQuery {
        fra: a
            .since
            .as_deref()
            .map(|s| admin::parse_time("--since", s))
            .transpose()?,
        til: a
            .until
            .as_deref()
            .map(|s| admin::parse_time("--until", s))
            .transpose()?,
        haendelse: a.haendelse,
        sf: a.sf,
        limit: Some(a.limit),
        ..Default::default()
    };
    if let Some(c) = a.cvr {
        admin::check_cvr(&c)?;
        q.myndighed = Some(c);
    }
    let adgang = open(&store).await?;
    if let Some(s) = a.system {
        q.system = Some(admin::resolve_system(&*adgang, &s).await?.uuid);
    }
    let entries = adgang.audit_query(&q).await?;
    if a.json {
        let v: Vec<_> = entries.iter().map(admin::audit_json).collect();
        println!("{}", serde_json::to_string_pretty(&json!(v))?);
    } else {
        println!("TID\tHAENDELSE\tRESULTAT\tSYSTEM\tCVR\tSERVICE\tSF\tOPERATION\tSTATUS\tAARSAG");
        for e in entries {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                fki_oio::time::format_iso(e.tid),
                e.haendelse,
                e.resultat,
                e.system.map(|u| u.to_string()).unwrap_or_default(),
                e.myndighed.unwrap_or_default(),
                e.service.unwrap_or_default(),
                e.sf.unwrap_or_default(),
                e.operation.unwrap_or_default(),
                e.status.map(|s| s.to_string()).unwrap_or_default(),
                e.aarsag.unwrap_or_default()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn file_stems() {
        assert_eq!(file_stem("Testkommune ESDH"), "Testkommune-ESDH");
        assert_eq!(file_stem("../etc/passwd"), "etc-passwd");
        assert_eq!(file_stem("  "), "system");
        assert_eq!(file_stem("æøå.v2"), "æøå.v2");
    }
}
