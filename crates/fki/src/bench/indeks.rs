//! `fki bench indeks`: the Sags- og dokumentindeks (SF1470) on each backend (issue 6 item 8).
//!
//! Per backend: a throw-away store is filled directly through the engine (one transaction of
//! multi-row inserts, `Bulk::importer_nye`, per 10,000 entries) with `--sager` sager of `--people` citizens, each sag with
//! `--dokumenter-per-sag` documents journalised on it and having the same citizen as part; the
//! direct load rate is reported. A system is registered with an agreement for the index, and
//! the Klasse and OrganisationEnhed the SOAP imports reference are created. Then `fki serve`
//! runs as a child process and two phases are measured over SOAP 1.2 with WS-Security (requests
//! signed before each phase into a pool, as in `fki bench cpr`):
//! - **import**: `importer` of one sag and one document journalised on it (new UUIDs), with the
//!   index rules checked (the references looked up); entries/s = 2 × requests/s;
//! - **fremsoeg per CPR**: `(SoegSag part=X) OR (SoegDokument part=X)` for a random citizen,
//!   with a Filter showing egenskaber; latency p50/p99 (target p99 < 50 ms).
//!
//! As in every benchmark server `--dev-open` is on; the bench fails if the server let any
//! request through unverified.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use fki_indeks::klasser::{DOKUMENTINDEKS, SAGINDEKS};
use fki_indeks::regler::{ROLLE_ANSVARLIG, ROLLE_PRIMAER_KLASSE, ROLLE_PRIMAER_PART};
use fki_oio::json::{Mode, parse_write};
use fki_oio::{Engine, Kontekst, Skriv, spec};
use fki_server::sts::ENTITY_SAGDOKUMENTINDEKS;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

use super::http::{self, Expect, Phase};
use super::server::ServerProcess;
use super::{BackendChoice, cpu, soap};

#[derive(Args, Debug, Clone)]
pub struct IndeksArgs {
    /// Sager to load.
    #[arg(long, default_value_t = 100_000)]
    sager: usize,
    /// Documents journalised on each sag.
    #[arg(long, default_value_t = 5)]
    dokumenter_per_sag: usize,
    /// Distinct citizens (parts); default: one per 4 sager.
    #[arg(long)]
    people: Option<usize>,
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
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

const NS_SDI: &str = "urn:oio:sts:sagdok:sagdokumentindeks:6";
const NS_SAG: &str = "urn:oio:sts:sagdok:sag:6";
const NS_DI: &str = "urn:oio:sts:sagdok:dokumentindeks:6";
const NS_GD: &str = "urn:oio:sts:generelledefinitioner:6";
const NS_SD: &str = "urn:oio:sagdok:3.0.0";
/// Type "Klasse", "Person", "OrganisationsEnhed" of KOMBIT's examples
/// (`../shared/specs/sf1470-sagdokumentindeks/client.properties.example`).
const TYPE_KLASSE: Uuid = Uuid::from_u128(0x267235ea_526d_4a18_8001_f2a0e563eba1);
const TYPE_PERSON: Uuid = Uuid::from_u128(0xc189ba35_de4b_4363_a8b7_67f1456cf56f);
const TYPE_ENHED: Uuid = Uuid::from_u128(0xc5fc3b3b_5197_49ee_92e6_ae6ba1957174);
/// The Klasse and OrganisationEnhed every entry references.
const KLASSE: Uuid = Uuid::from_u128(0x4444aaaa_11aa_22bb_33cc_111111aaaaaa);
const ENHED: Uuid = Uuid::from_u128(0x1111aaaa_11aa_22bb_33cc_111111aaaaaa);
/// Entries per load transaction.
const PORTION: usize = 10_000;
const POOL_PER_S: f64 = 1_500.0;
const POOL_MAX: usize = 30_000;

fn cpr(i: usize) -> String {
    format!("urn:oio:cpr-nr:{:010}", 1_000_000_000 + i)
}

fn rel(maal: Value, rolle: Uuid, typ: Uuid) -> Value {
    let mut e = json!({"rolle": {"uuid": rolle.to_string()}, "type": {"uuid": typ.to_string()},
        "virkning": {"from": "2020-01-01", "to": "infinity"}});
    e.as_object_mut()
        .unwrap()
        .extend(maal.as_object().unwrap().clone());
    e
}

/// Engine JSON of a sag of `part` journalising `dokumenter`, owned by `system`.
fn sag(i: usize, part: &str, dokumenter: &[Uuid], system: &str) -> Value {
    let v = json!({"from": "2020-01-01", "to": "infinity"});
    json!({
        "attributter": {
            "sagindeksegenskaber": [{"brugervendtnoegle": format!("S{i}"), "sagsnummer": format!("2026-{i:09}"),
                "titel": format!("Sag {i} om forebyggende hjemmebesøg"), "virkning": v}],
            "sagindeksindeksegenskaber": [{"foelsomhed": "FORTROLIGE_PERSONOPLYSNINGER", "virkning": v}],
            "sagindeksejer": [{"system": system, "virkning": {"from": "-infinity", "to": "infinity"}}]
        },
        "tilstande": {"sagindeksfremdrift": [{"fremdrift": "Opstaaet", "virkning": v}]},
        "relationer": {
            "sagspart": [rel(json!({"urn": part}), ROLLE_PRIMAER_PART, TYPE_PERSON)],
            "sagsklasse": [rel(json!({"uuid": KLASSE.to_string()}), ROLLE_PRIMAER_KLASSE, TYPE_KLASSE)],
            "sagsaktoer": [rel(json!({"uuid": ENHED.to_string()}), ROLLE_ANSVARLIG, TYPE_ENHED)],
            "journalpost": dokumenter.iter().map(|d| json!({"uuid": d.to_string(), "virkning": v})).collect::<Vec<_>>()
        }
    })
}

fn dokument(i: usize, part: &str, system: &str) -> Value {
    let v = json!({"from": "2020-01-01", "to": "infinity"});
    json!({
        "attributter": {
            "dokumentindeksegenskaber": [{"titel": format!("Brev {i}"), "brevdato": "2026-01-15",
                "foelsomhed": "IKKE_FORTROLIGE_DATA", "virkning": v}],
            "dokumentindeksejer": [{"system": system, "virkning": {"from": "-infinity", "to": "infinity"}}]
        },
        "tilstande": {"dokumentindeksfremdrift": [{"fremdrift": "Endeligt", "virkning": v}]},
        "relationer": {
            "dokumentpart": [rel(json!({"urn": part}), ROLLE_PRIMAER_PART, TYPE_PERSON)],
            "dokumentklasse": [rel(json!({"uuid": KLASSE.to_string()}), ROLLE_PRIMAER_KLASSE, TYPE_KLASSE)]
        }
    })
}

/// A `gd:RelationType` entry in `prefix`'s namespace.
fn xml_rel(prefix: &str, element: &str, rolle: Uuid, typ: Uuid, reference: &str) -> String {
    let r = if reference.starts_with("urn:") {
        format!("<sd:URNIdentifikator>{reference}</sd:URNIdentifikator>")
    } else {
        format!("<sd:UUIDIdentifikator>{reference}</sd:UUIDIdentifikator>")
    };
    format!(
        "<{prefix}:{element}><gd:Rolle><sd:UUIDIdentifikator>{rolle}</sd:UUIDIdentifikator></gd:Rolle>\
<gd:Type><sd:UUIDIdentifikator>{typ}</sd:UUIDIdentifikator></gd:Type><gd:ReferenceID>{r}</gd:ReferenceID></{prefix}:{element}>"
    )
}

/// An `ImporterSagDokumentIndeksInput` of a new document and a new sag journalising it.
fn importer(rng: &mut StdRng, people: usize) -> String {
    let part = cpr(rng.random_range(0..people));
    let (s, d) = (Uuid::from_u128(rng.random()), Uuid::from_u128(rng.random()));
    let n: u32 = rng.random();
    format!(
        "<sdi:ImporterSagDokumentIndeksInput xmlns:sdi=\"{NS_SDI}\" xmlns:sag=\"{NS_SAG}\" xmlns:di=\"{NS_DI}\" xmlns:gd=\"{NS_GD}\" xmlns:sd=\"{NS_SD}\">\
<sdi:DokumentIndeks><sd:UUIDIdentifikator>{d}</sd:UUIDIdentifikator><di:Registrering>\
<di:AttributListe><di:Egenskaber><di:Titel>Brev {n}</di:Titel><di:Foelsomhed>IKKE_FORTROLIGE_DATA</di:Foelsomhed></di:Egenskaber></di:AttributListe>\
<di:TilstandListe><di:Fremdrift><di:FremdriftStatusKode>Endeligt</di:FremdriftStatusKode></di:Fremdrift></di:TilstandListe>\
<di:RelationListe>{}{}</di:RelationListe></di:Registrering></sdi:DokumentIndeks>\
<sdi:SagIndeks><sd:UUIDIdentifikator>{s}</sd:UUIDIdentifikator><sag:Registrering>\
<sag:AttributListe><sag:Egenskaber><sag:Sagsnummer>B-{n}</sag:Sagsnummer><sag:Titel>Sag {n}</sag:Titel></sag:Egenskaber></sag:AttributListe>\
<sag:TilstandListe><sag:Fremdrift><sag:FremdriftStatusKode>Opstaaet</sag:FremdriftStatusKode></sag:Fremdrift></sag:TilstandListe>\
<sag:RelationListe>{}{}{}<sag:Journalpost><gd:ReferenceID><sd:UUIDIdentifikator>{d}</sd:UUIDIdentifikator></gd:ReferenceID></sag:Journalpost>\
</sag:RelationListe></sag:Registrering></sdi:SagIndeks></sdi:ImporterSagDokumentIndeksInput>",
        xml_rel("di", "Dokumentpart", ROLLE_PRIMAER_PART, TYPE_PERSON, &part),
        xml_rel(
            "di",
            "Dokumentklasse",
            ROLLE_PRIMAER_KLASSE,
            TYPE_KLASSE,
            &KLASSE.to_string()
        ),
        xml_rel(
            "sag",
            "Sagsaktoer",
            ROLLE_ANSVARLIG,
            TYPE_ENHED,
            &ENHED.to_string()
        ),
        xml_rel(
            "sag",
            "Sagsklasse",
            ROLLE_PRIMAER_KLASSE,
            TYPE_KLASSE,
            &KLASSE.to_string()
        ),
        xml_rel("sag", "Sagspart", ROLLE_PRIMAER_PART, TYPE_PERSON, &part),
    )
}

/// A fremsoeg of everything of one citizen.
fn fremsoeg(rng: &mut StdRng, people: usize) -> String {
    let part = cpr(rng.random_range(0..people));
    format!(
        "<sdi:FremsoegSagDokumentIndeksInput xmlns:sdi=\"{NS_SDI}\" xmlns:sag=\"{NS_SAG}\" xmlns:di=\"{NS_DI}\" xmlns:gd=\"{NS_GD}\" xmlns:sd=\"{NS_SD}\">\
<sdi:SoegUdtryk><sdi:operation>OR</sdi:operation>\
<sdi:SoegSag><sag:AttributListe/><sag:TilstandListe/><sag:RelationListe><sag:Sagspart><gd:ReferenceID><sd:URNIdentifikator>{part}</sd:URNIdentifikator></gd:ReferenceID></sag:Sagspart></sag:RelationListe></sdi:SoegSag>\
<sdi:SoegDokument><di:AttributListe/><di:TilstandListe/><di:RelationListe><di:Dokumentpart><gd:ReferenceID><sd:URNIdentifikator>{part}</sd:URNIdentifikator></gd:ReferenceID></di:Dokumentpart></di:RelationListe></sdi:SoegDokument>\
</sdi:SoegUdtryk><sdi:Filter><sdi:SagVis><sdi:Vis>egenskaber</sdi:Vis></sdi:SagVis><sdi:DokumentVis><sdi:Vis>egenskaber</sdi:Vis></sdi:DokumentVis></sdi:Filter>\
</sdi:FremsoegSagDokumentIndeksInput>"
    )
}

fn envelope12(payload: &str) -> String {
    format!(
        "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Header>\
<Action xmlns=\"http://www.w3.org/2005/08/addressing\">http://kombit.dk/sts/sagdokumentindeks/x</Action>\
<MessageID xmlns=\"http://www.w3.org/2005/08/addressing\">urn:uuid:{}</MessageID>\
<To xmlns=\"http://www.w3.org/2005/08/addressing\">https://localhost/sagdokumentindeks/6</To>\
</env:Header><env:Body>{payload}</env:Body></env:Envelope>",
        Uuid::new_v4()
    )
}

pub async fn run(a: IndeksArgs) -> anyhow::Result<()> {
    if !(a.seconds > 0.0 && a.seconds.is_finite()) || a.sager == 0 || a.concurrency == 0 {
        bail!("--seconds, --sager and --concurrency must be positive");
    }
    let people = a.people.unwrap_or((a.sager / 4).max(1));
    let mut alle = Vec::new();
    let backends: &[(&str, bool)] = match a.backend {
        BackendChoice::Sqlite => &[("sqlite", false)],
        BackendChoice::Postgres => &[("postgres", true)],
        BackendChoice::Both => &[("sqlite", false), ("postgres", true)],
    };
    for (navn, pg) in backends {
        alle.push(backend(&a, people, navn, *pg).await?);
    }
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_vec_pretty(&alle)?)?;
    }
    Ok(())
}

async fn backend(a: &IndeksArgs, people: usize, navn: &str, pg: bool) -> anyhow::Result<Value> {
    eprintln!("\n== {navn}: loading ==");
    let dir = tempfile::Builder::new().prefix("fki-bench-").tempdir()?;
    let (db, _guard) = if pg {
        let (url, guard) = fki_store::testing::fresh_postgres(&a.postgres_url)
            .await
            .with_context(|| format!("cannot create a database on {}", a.postgres_url))?;
        (Some(url), Some(guard))
    } else {
        (None, None)
    };
    let signer =
        Arc::new(soap::prepare_for(dir.path(), db.as_deref(), ENTITY_SAGDOKUMENTINDEKS).await?);
    let system = signer.system.to_string();
    let stores = fki_store::open_stores(db.as_deref(), dir.path()).await?;
    let engine = Engine::new(stores.oio.clone());
    let ctx = Kontekst {
        scope: fki_oio::store::Scope::All,
        myndighed: Some(signer.cvr.clone()),
        faelles: false,
        brugerref: None,
    };
    // The Klasse and OrganisationEnhed the entries reference.
    let v = json!({"from": "2020-01-01", "to": "infinity"});
    for (service, klasse, uuid, felter) in [
        (
            "klassifikation",
            "klasse",
            KLASSE,
            json!({"brugervendtnoegle": "27.35.04", "titel": "Forebyggende hjemmebesøg"}),
        ),
        (
            "organisation",
            "organisationenhed",
            ENHED,
            json!({"brugervendtnoegle": "FT", "enhedsnavn": "Forebyggelsesteamet"}),
        ),
    ] {
        let s = spec::class(service, klasse).expect("engine class");
        let mut e = felter;
        e["virkning"] = v.clone();
        let st = &s.states[0];
        let body = json!({"attributter": {s.key("egenskaber"): [e]},
            "tilstande": {s.key(st.name): [{st.name: st.values[0], "virkning": v}]}});
        engine
            .write(
                &ctx,
                s,
                uuid,
                Skriv::Importer(parse_write(s, &body, Mode::Create)?),
            )
            .await?;
    }
    let total = a.sager * (1 + a.dokumenter_per_sag);
    let pb = crate::seed::progress(total as u64, "index entries", true);
    let t = Instant::now();
    let mut rng = StdRng::seed_from_u64(a.seed);
    // Portions of new entries, each one transaction of multi-row inserts
    // (`Bulk::importer_nye`): documents first, then the sager journalising them.
    let mut dokumenter = Vec::new();
    let mut sager = Vec::new();
    for i in 0..a.sager {
        let part = cpr(i % people);
        let doks: Vec<Uuid> = (0..a.dokumenter_per_sag)
            .map(|_| Uuid::from_u128(rng.random()))
            .collect();
        for (j, d) in doks.iter().enumerate() {
            let body = dokument(i * a.dokumenter_per_sag + j, &part, &system);
            dokumenter.push((*d, parse_write(&DOKUMENTINDEKS, &body, Mode::Create)?));
        }
        let body = sag(i, &part, &doks, &system);
        sager.push((
            Uuid::from_u128(rng.random()),
            parse_write(&SAGINDEKS, &body, Mode::Create)?,
        ));
        if dokumenter.len() + sager.len() >= PORTION || i + 1 == a.sager {
            let n = (dokumenter.len() + sager.len()) as u64;
            let mut bulk = engine.bulk().await?;
            bulk.importer_nye(&ctx, &DOKUMENTINDEKS, std::mem::take(&mut dokumenter))
                .await?;
            bulk.importer_nye(&ctx, &SAGINDEKS, std::mem::take(&mut sager))
                .await?;
            bulk.commit().await?;
            pb.inc(n);
        }
    }
    let load_s = t.elapsed().as_secs_f64();
    pb.finish_and_clear();
    eprintln!(
        "loaded {total} entries ({} sager, {} documents, {people} citizens) in {load_s:.1} s ({:.0} entries/s, directly through the engine)",
        a.sager,
        a.sager * a.dokumenter_per_sag,
        total as f64 / load_s
    );
    drop(engine);
    drop(stores);

    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(a.concurrency)
        .timeout(Duration::from_secs(60))
        .build()?;
    let log = dir.path().join("server.log");
    let server = ServerProcess::start(dir.path(), db.as_deref(), log.clone(), &client).await?;
    let url = format!("{}/sagdokumentindeks/6", server.url);
    let measured = Duration::from_secs_f64(a.seconds);
    let mut resultater = Vec::new();
    for (key, title, lav) in [
        (
            "indeks_importer",
            "SF1470 importer (1 sag + 1 document, rules checked)",
            importer as fn(&mut StdRng, usize) -> String,
        ),
        ("indeks_fremsoeg_cpr", "SF1470 fremsoeg per CPR", fremsoeg),
    ] {
        let n = ((a.seconds * POOL_PER_S) as usize).clamp(100, POOL_MAX);
        eprintln!("  signing {n} {key} requests …");
        let s = signer.clone();
        let seed = a.seed ^ n as u64;
        let pool = tokio::task::spawn_blocking(move || {
            s.pool_in(
                n,
                seed,
                &move |rng: &mut StdRng| lav(rng, people),
                &envelope12,
            )
        })
        .await
        .context("the signing task panicked")??;
        let phase = Phase {
            key,
            title,
            expect: Expect::Soap,
            url: {
                let url = url.clone();
                Arc::new(move |_: &mut StdRng| url.clone())
            },
            body: Some(soap::from_pool(pool)),
        };
        let before = cpu::Snapshot::take(server.pid());
        let mut r = http::run(&client, &phase, a.concurrency, measured, a.seed).await;
        let after = cpu::Snapshot::take(server.pid());
        r.cpu = before.zip(after).map(|(b, a)| a.since(&b));
        let wall = r.elapsed.as_secs_f64();
        println!(
            "{navn}: {title}: {:.0} req/s{}, p50 {:.2} ms, p99 {:.2} ms, errors {}; server CPU/bench/other/idle {} % of a core",
            r.req_per_s(),
            if key == "indeks_importer" {
                format!(" ({:.0} entries/s)", 2.0 * r.req_per_s())
            } else {
                String::new()
            },
            r.ms(0.5),
            r.ms(0.99),
            r.errors,
            r.cpu.map_or("-".into(), |c| c.shares(wall)),
        );
        for e in &r.error_samples {
            eprintln!("  error: {e}");
        }
        resultater.push(
            json!({"key": key, "req_per_s": r.req_per_s(), "p50_ms": r.ms(0.5),
            "p99_ms": r.ms(0.99), "errors": r.errors, "seconds": wall}),
        );
        if r.errors > 0 {
            server.stop().await?;
            bail!("{navn}: {key}: {} requests failed", r.errors);
        }
    }
    let mem = server.mem();
    server.stop().await?;
    let let_through = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("let through")
        .count();
    if let_through > 0 {
        bail!("{let_through} requests were let through unverified (see the server log)");
    }
    Ok(json!({
        "backend": navn,
        "sager": a.sager,
        "dokumenter": a.sager * a.dokumenter_per_sag,
        "people": people,
        "load_seconds": load_s,
        "load_entries_per_s": total as f64 / load_s,
        "server_rss_mb": mem.map(|m| m.rss),
        "phases": resultater,
    }))
}
