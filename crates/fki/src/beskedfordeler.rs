//! `fki dueslag|abonnement|vaerdiliste`: operating the Beskedfordeler from the command line, on
//! the store `fki serve` uses. The validation and steps are those of the admin API
//! (`fki_server::beskedfordeler::admin`); a running server sees the changes within a second.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use fki_server::beskedfordeler::admin::{self as bfadmin, NytDueslag};
use fki_store::Stores;
use fki_store::besked::Vaerdiliste;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::StoreArgs;

#[derive(Subcommand)]
pub enum DueslagCommand {
    /// Create a dueslag for a registered system.
    Create {
        #[arg(long)]
        name: String,
        /// The receiving system (UUID or name).
        #[arg(long)]
        system: String,
        /// The myndighed (CVR) it receives for.
        #[arg(long)]
        cvr: String,
        /// Push to this callback URL (otherwise the receiver pulls).
        #[arg(long)]
        push: Option<String>,
        /// Pull over AMQP instead of HTTP.
        #[arg(long, conflicts_with = "push")]
        amqp: bool,
        /// Push attempts before a message moves to the fejlkø.
        #[arg(long)]
        max_attempts: Option<i32>,
    },
    /// List the dueslag with their depth, oldest waiting message and fejlkø.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One dueslag with its counts and the head of its fejlkø.
    Show { uuid: String },
    /// Put a message (by its løbenummer) at the end of the dueslag again.
    Replay { uuid: String, loebenr: i64 },
    /// Stop distribution into a dueslag (it keeps its messages).
    Deactivate { uuid: String },
    /// Start distribution into a dueslag again.
    Activate { uuid: String },
}

#[derive(Subcommand)]
pub enum AbonnementCommand {
    /// Subscribe a dueslag with a filter (text form, see `docs/beskedfordeler.md`).
    Create {
        #[arg(long)]
        dueslag: String,
        #[arg(long)]
        filter: String,
    },
    /// List abonnementer (of one dueslag).
    List {
        #[arg(long)]
        dueslag: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Stop an abonnement (no new messages from it).
    Stop { uuid: String },
    /// Start a stopped abonnement again.
    Start { uuid: String },
}

#[derive(Subcommand)]
pub enum BeskedCommand {
    /// Send a test message through a running server's Beskedfordeler (its admin API) and show
    /// which dueslag received it.
    Send {
        /// The myndighed (CVR) it is sent for.
        #[arg(long)]
        cvr: String,
        /// Beskedtype (UUID); default: fki's test message type.
        #[arg(long)]
        beskedtype: Option<String>,
        /// RelateretObjekt/ObjektId, e.g. urn:oio:cpr-nr:0101011234.
        #[arg(long)]
        objekt_id: Option<String>,
        /// ObjektRegistrering/OpgaveEmne, e.g. urn:oio:kle:27.35.04.
        #[arg(long)]
        opgaveemne: Option<String>,
        /// The running server (its plain HTTP listener).
        #[arg(long, env = "FKI_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
    },
}

#[derive(Subcommand)]
pub enum VaerdilisteCommand {
    /// Create a Værdiliste, optionally with values from a file (one per line).
    Create {
        #[arg(long)]
        name: String,
        /// The owning system (UUID or name).
        #[arg(long)]
        system: String,
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// List the Værdilister.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add the values of a file (one per line).
    Add { uuid: String, file: PathBuf },
    /// Remove the values of a file (one per line).
    Remove { uuid: String, file: PathBuf },
}

async fn open(store: &StoreArgs) -> anyhow::Result<Stores> {
    fki_store::open_stores(store.database_url.as_deref(), &store.data_dir)
        .await
        .with_context(|| match &store.database_url {
            Some(_) => "while opening the PostgreSQL database of FKI_DATABASE_URL".to_owned(),
            None => format!(
                "while opening the SQLite database in {}",
                store.data_dir.display()
            ),
        })
}

fn uuid(what: &str, s: &str) -> anyhow::Result<Uuid> {
    s.trim()
        .parse()
        .with_context(|| format!("{what} must be a UUID, got {s:?}"))
}

fn print(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

fn values(file: &PathBuf) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

pub async fn dueslag(store: StoreArgs, cmd: DueslagCommand) -> anyhow::Result<()> {
    let s = open(&store).await?;
    let b = s.besked.as_ref();
    match cmd {
        DueslagCommand::Create {
            name,
            system,
            cvr,
            push,
            amqp,
            max_attempts,
        } => {
            let levering = match (&push, amqp) {
                (Some(_), _) => "push",
                (None, true) => "amqp",
                (None, false) => "pull",
            };
            let d = bfadmin::opret_dueslag(
                b,
                s.adgang.as_ref(),
                NytDueslag {
                    navn: name,
                    ejer: system,
                    myndighed: cvr,
                    levering: levering.into(),
                    callback_url: push,
                    maks_forsoeg: max_attempts,
                },
            )
            .await?;
            print(&bfadmin::dueslag_json(&d));
        }
        DueslagCommand::List { json } => {
            let mut all = Vec::new();
            for d in b.list_dueslag(None).await? {
                all.push(bfadmin::dueslag_status(b, &d).await?);
            }
            if json {
                print(&json!({ "dueslag": all }));
            } else {
                println!(
                    "{:<36}  {:<8}  {:<5}  {:>7}  {:>7}  {:>9}  navn",
                    "uuid", "cvr", "lev.", "klar", "fejlkø", "ældste s"
                );
                for d in all {
                    let st = &d["status"];
                    println!(
                        "{:<36}  {:<8}  {:<5}  {:>7}  {:>7}  {:>9}  {}{}",
                        d["uuid"].as_str().unwrap_or_default(),
                        d["myndighed"].as_str().unwrap_or_default(),
                        d["levering"].as_str().unwrap_or_default(),
                        st["klar"],
                        st["fejlkoe"],
                        st["aeldsteKlarAlderSekunder"]
                            .as_f64()
                            .map_or("-".into(), |s| format!("{s:.1}")),
                        d["navn"].as_str().unwrap_or_default(),
                        if d["aktiv"] == true { "" } else { " (inaktiv)" },
                    );
                }
            }
        }
        DueslagCommand::Show { uuid: u } => {
            let u = uuid("dueslag", &u)?;
            let d = b
                .hent_dueslag(u)
                .await?
                .with_context(|| format!("no dueslag {u}"))?;
            let mut v = bfadmin::dueslag_status(b, &d).await?;
            v["fejlkoe"] = b
                .fejlkoe(u, 20)
                .await?
                .iter()
                .map(bfadmin::levering_json)
                .collect();
            print(&v);
        }
        DueslagCommand::Replay { uuid: u, loebenr } => {
            let u = uuid("dueslag", &u)?;
            match b.genafspil(u, loebenr, fki_oio::time::now()).await? {
                Some(ny) => println!("message {loebenr} of {u} is waiting again as {ny}"),
                None => bail!("no message {loebenr} in dueslag {u}"),
            }
        }
        DueslagCommand::Activate { uuid: u } => dueslag_aktiv(b, &u, true).await?,
        DueslagCommand::Deactivate { uuid: u } => dueslag_aktiv(b, &u, false).await?,
    }
    Ok(())
}

async fn dueslag_aktiv(
    b: &dyn fki_store::besked::BeskedStore,
    u: &str,
    on: bool,
) -> anyhow::Result<()> {
    let u = uuid("dueslag", u)?;
    if !b.saet_dueslag_aktiv(u, on).await? && b.hent_dueslag(u).await?.is_none() {
        bail!("no dueslag {u}");
    }
    println!("dueslag {u} {}", if on { "active" } else { "inactive" });
    Ok(())
}

pub async fn abonnement(store: StoreArgs, cmd: AbonnementCommand) -> anyhow::Result<()> {
    let s = open(&store).await?;
    let b = s.besked.as_ref();
    match cmd {
        AbonnementCommand::Create { dueslag, filter } => {
            let f = bfadmin::parse_filter(&Value::String(filter))?;
            let a = bfadmin::opret_abonnement(b, uuid("dueslag", &dueslag)?, &f).await?;
            print(&bfadmin::abonnement_json(&a));
        }
        AbonnementCommand::List { dueslag, json } => {
            let d = dueslag.map(|d| uuid("dueslag", &d)).transpose()?;
            let all: Vec<Value> = b
                .list_abonnementer(d)
                .await?
                .iter()
                .map(bfadmin::abonnement_json)
                .collect();
            if json {
                print(&json!({ "abonnementer": all }));
            } else {
                for a in all {
                    println!(
                        "{}  dueslag {}  {}  {}",
                        a["uuid"].as_str().unwrap_or_default(),
                        a["dueslag"].as_str().unwrap_or_default(),
                        if a["aktiv"] == true {
                            "aktiv  "
                        } else {
                            "stoppet"
                        },
                        a["filterTekst"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        AbonnementCommand::Stop { uuid: u } => aktiv(b, &u, false).await?,
        AbonnementCommand::Start { uuid: u } => aktiv(b, &u, true).await?,
    }
    Ok(())
}

async fn aktiv(b: &dyn fki_store::besked::BeskedStore, u: &str, on: bool) -> anyhow::Result<()> {
    let u = uuid("abonnement", u)?;
    if !b.saet_abonnement_aktiv(u, on, fki_oio::time::now()).await?
        && b.hent_abonnement(u).await?.is_none()
    {
        bail!("no abonnement {u}");
    }
    println!("abonnement {u} {}", if on { "started" } else { "stopped" });
    Ok(())
}

async fn kendt_liste(b: &dyn fki_store::besked::BeskedStore, u: &str) -> anyhow::Result<Uuid> {
    let u = uuid("vaerdiliste", u)?;
    b.hent_vaerdiliste(u)
        .await?
        .with_context(|| format!("no Værdiliste {u}"))?;
    Ok(u)
}

pub async fn vaerdiliste(store: StoreArgs, cmd: VaerdilisteCommand) -> anyhow::Result<()> {
    let s = open(&store).await?;
    let b = s.besked.as_ref();
    match cmd {
        VaerdilisteCommand::Create { name, system, file } => {
            if name.trim().is_empty() {
                bail!("--name must not be empty");
            }
            let ejer = fki_server::admin::resolve_system(s.adgang.as_ref(), &system).await?;
            let l = Vaerdiliste::ny(Uuid::new_v4(), name.trim(), ejer.uuid, fki_oio::time::now());
            b.opret_vaerdiliste(&l).await?;
            if let Some(f) = file {
                let n = b.tilfoej_vaerdier(l.uuid, &values(&f)?).await?;
                eprintln!("{n} values added");
            }
            let l = b
                .hent_vaerdiliste(l.uuid)
                .await?
                .context("the new list vanished")?;
            print(&bfadmin::vaerdiliste_json(&l));
        }
        VaerdilisteCommand::List { json } => {
            let all: Vec<Value> = b
                .list_vaerdilister(None)
                .await?
                .iter()
                .map(bfadmin::vaerdiliste_json)
                .collect();
            if json {
                print(&json!({ "vaerdilister": all }));
            } else {
                for l in all {
                    println!(
                        "{}  v{}  {}",
                        l["uuid"].as_str().unwrap_or_default(),
                        l["version"],
                        l["navn"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        VaerdilisteCommand::Add { uuid: u, file } => {
            let u = kendt_liste(b, &u).await?;
            let n = b.tilfoej_vaerdier(u, &values(&file)?).await?;
            println!("{n} values added to {u}");
        }
        VaerdilisteCommand::Remove { uuid: u, file } => {
            let u = kendt_liste(b, &u).await?;
            let n = b.fjern_vaerdier(u, &values(&file)?).await?;
            println!("{n} values removed from {u}");
        }
    }
    Ok(())
}

pub async fn besked(store: StoreArgs, cmd: BeskedCommand) -> anyhow::Result<()> {
    match cmd {
        BeskedCommand::Send {
            cvr,
            beskedtype,
            objekt_id,
            opgaveemne,
            url,
        } => {
            let token_file = store.data_dir.join(fki_server::admin::TOKEN_FILE);
            let token = std::fs::read_to_string(&token_file).with_context(|| {
                format!(
                    "cannot read the admin token {} (the server's --data-dir)",
                    token_file.display()
                )
            })?;
            let mut body = json!({"myndighed": cvr});
            if let Some(b) = beskedtype {
                body["beskedtype"] = json!(b);
            }
            if let Some(o) = objekt_id {
                body["objektId"] = json!(o);
            }
            if let Some(o) = opgaveemne {
                body["opgaveemne"] = json!(o);
            }
            let r = reqwest::Client::new()
                .post(format!(
                    "{}/admin/beskedfordeler/testbesked",
                    url.trim_end_matches('/')
                ))
                .bearer_auth(token.trim())
                .json(&body)
                .send()
                .await
                .with_context(|| format!("cannot reach the server at {url}"))?;
            let status = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                bail!(
                    "{}",
                    v["detail"]
                        .as_str()
                        .unwrap_or("the server refused the test message")
                );
            }
            print(&v);
            if v["statusKode"] != 20 {
                bail!("the Beskedfordeler answered StatusKode {}", v["statusKode"]);
            }
        }
    }
    Ok(())
}
