//! CPR events (SF1320_A) and Persondata Samling Hent (SF1525), end to end over real TLS with
//! tokens: `POST /admin/cpr/simuler` changes the register, and a subscriber whose abonnement
//! filters on a Værdiliste of CPR numbers receives exactly the events of its people; stopping
//! the abonnement stops them, starting it resumes them; the register's new state and history
//! show in SF1525; a restart replays the log, and a day logged but not published is published
//! at start.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use chrono::{NaiveDate, Utc};
use fki_beskedfordeler::kuvert::{Haendelsesbesked, UnikId};
use fki_cpr::haendelse::{Logbog, planlaeg_dag};
use fki_cpr::population::{Parametre, Population, Status, generate};
use fki_cpr::register::Register;
use fki_server::beskedfordeler::BFO_MODTAG;
use fki_server::cpr::haendelser::{BESKEDTYPE_CPR_HAENDELSE, OBJEKTTYPE_PERSON, log_sti};
use fki_server::cpr::samling::ENTITY_CPR_PERSONDATASAMLING;
use fki_server::{Config, ServerHandle};
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

const CVR: &str = "29189846";

struct System {
    uuid: Uuid,
    cert: Issued,
}

fn skriv_population(dir: &Path, pop: &Population) {
    std::fs::create_dir_all(dir.join("cpr")).unwrap();
    let f = std::fs::File::create(dir.join("cpr/0751.jsonl")).unwrap();
    fki_cpr::register::skriv_jsonl(pop, f, || {}).unwrap();
}

async fn start(dir: &Path) -> ServerHandle {
    fki_server::start(Config::for_test_secure(dir.to_path_buf(), None))
        .await
        .unwrap()
}

async fn stop(h: ServerHandle) {
    let _ = tokio::time::timeout(Duration::from_secs(15), h.shutdown()).await;
}

async fn system(h: &ServerHandle, name: &str, aftaler: &[(&str, &[(&str, &str)])]) -> System {
    let st = &h.state;
    let (uuid, cert) = common::register_system(st.adgang.as_ref(), &st.ca, name, CVR).await;
    for (entity, begr) in aftaler {
        common::active_agreement(
            st.adgang.as_ref(),
            uuid,
            entity,
            CVR,
            vec![],
            begr.iter()
                .map(|(n, v)| fki_store::adgang::Dataafgraensning {
                    navn: (*n).into(),
                    vaerdi: (*v).into(),
                })
                .collect(),
        )
        .await;
    }
    System { uuid, cert }
}

fn token(h: &ServerHandle, s: &System, entity: &str) -> String {
    let a = saml::issue_assertion(&AssertionSpec::new(
        &h.state.sts.key,
        s.cert.cert_der(),
        entity,
        CVR,
        &PrivilegeList::for_cvr(CVR, &[]),
        Utc::now(),
    ))
    .unwrap();
    base64::engine::general_purpose::STANDARD.encode(a.xml)
}

/// GET over TLS as `s` with `Holder-of-key <token>` (or none) → (status, JSON).
async fn get(h: &ServerHandle, s: &System, path: &str, token: Option<&str>) -> (u16, Value) {
    let https = h.https_addr.unwrap();
    let client = common::tls_client(&h.state.ca, Some(&s.cert), https);
    let mut r = client.get(format!("https://localhost:{}{path}", https.port()));
    if let Some(t) = token {
        r = r.header("authorization", format!("Holder-of-key {t}"));
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Everything waiting in `dueslag`, acknowledged as it is taken.
async fn tag_alle(h: &ServerHandle, s: &System, dueslag: Uuid) -> Vec<Haendelsesbesked> {
    let t = token(h, s, BFO_MODTAG);
    let https = h.https_addr.unwrap();
    let client = common::tls_client(&h.state.ca, Some(&s.cert), https);
    let base = format!(
        "https://localhost:{}/beskedfordeler/dueslag/{dueslag}",
        https.port()
    );
    let mut alle = Vec::new();
    loop {
        let r = client
            .get(format!("{base}/beskeder?antal=100"))
            .header("authorization", format!("Holder-of-key {t}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.json().await.unwrap();
        let beskeder = v["beskeder"].as_array().unwrap().clone();
        if beskeder.is_empty() {
            return alle;
        }
        let loebenr: Vec<i64> = beskeder
            .iter()
            .map(|b| b["loebenr"].as_i64().unwrap())
            .collect();
        let r = client
            .post(format!("{base}/kvitter"))
            .header("authorization", format!("Holder-of-key {t}"))
            .json(&json!({ "loebenr": loebenr }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        alle.extend(
            beskeder
                .iter()
                .map(|b| Haendelsesbesked::parse(b["haendelsesbesked"].as_str().unwrap()).unwrap()),
        );
    }
}

async fn simuler(h: &ServerHandle, body: Value) -> Value {
    let (s, v) = common::admin(h, Method::POST, "/admin/cpr/simuler", Some(body)).await;
    assert_eq!(s, 200, "{v}");
    v
}

/// The ids of the simulated changes of the people whose numbers are in `liste`.
fn forventet(v: &Value, liste: &BTreeSet<String>) -> BTreeSet<Uuid> {
    v["haendelser"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| liste.contains(h["pnr"].as_str().unwrap()))
        .map(|h| h["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn ids(bs: &[Haendelsesbesked]) -> BTreeSet<Uuid> {
    bs.iter()
        .map(|b| match &b.besked_id {
            UnikId::Uuid(u) => *u,
            x => panic!("BeskedId {x:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpr_events_reach_exactly_the_subscribed_people_and_history_shows() {
    let dir = tempfile::tempdir().unwrap();
    let pop = generate(&Parametre::new("0751", 3000, 21), |_| {});
    skriv_population(dir.path(), &pop);
    let h = start(dir.path()).await;

    // A municipality's system follows every other person of the population.
    let fag = system(&h, "Fagsystem", &[(BFO_MODTAG, &[])]).await;
    let liste: BTreeSet<String> = pop
        .personer
        .iter()
        .step_by(2)
        .map(|p| p.cpr.as_digits())
        .collect();
    let (s, vl) = common::admin(
        &h,
        Method::POST,
        "/admin/beskedfordeler/vaerdilister",
        Some(json!({
            "navn": "borgere",
            "ejer": fag.uuid.to_string(),
            "vaerdier": liste.iter().map(|c| format!("urn:oio:cpr-nr:{c}")).collect::<Vec<_>>(),
        })),
    )
    .await;
    assert_eq!(s, 201, "{vl}");
    let (s, d) = common::admin(
        &h,
        Method::POST,
        "/admin/beskedfordeler/dueslag",
        Some(json!({"navn": "cpr", "ejer": fag.uuid.to_string(), "myndighed": CVR, "levering": "pull"})),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    let dueslag: Uuid = d["uuid"].as_str().unwrap().parse().unwrap();
    let (s, ab) = common::admin(
        &h,
        Method::POST,
        "/admin/beskedfordeler/abonnementer",
        Some(json!({
            "dueslag": dueslag,
            "filter": format!(
                "beskedtype = \"{BESKEDTYPE_CPR_HAENDELSE}\" AND objektregistrering.objektid IN vaerdiliste(\"{}\")",
                vl["uuid"].as_str().unwrap()
            ),
        })),
    )
    .await;
    assert_eq!(s, 201, "{ab}");
    let abonnement = ab["uuid"].as_str().unwrap().to_owned();

    // 1. Ninety days: exactly the events of the followed people arrive.
    let v = simuler(&h, json!({"dage": 90, "seed": 4, "fra": "2026-01-01"})).await;
    assert_eq!(v["fra"], "2026-01-01");
    assert_eq!(v["til"], "2026-03-31");
    let alle = v["haendelser"].as_array().unwrap();
    assert!(alle.len() > 30, "{} changes in 90 days", alle.len());
    let arter: BTreeSet<&str> = alle.iter().map(|x| x["art"].as_str().unwrap()).collect();
    assert!(
        arter.contains("flytning") && arter.contains("foedsel"),
        "{arter:?}"
    );
    let vent = forventet(&v, &liste);
    assert!(!vent.is_empty() && vent.len() < alle.len());
    let modtaget = tag_alle(&h, &fag, dueslag).await;
    assert_eq!(ids(&modtaget), vent);
    assert_eq!(modtaget.len(), vent.len(), "each event once");
    for b in &modtaget {
        let r = &b.beskedkuvert.filtreringsdata.objekt_registrering[0];
        let pnr = r.objekt_id.as_ref().unwrap().vaerdi();
        assert!(
            liste.contains(pnr.strip_prefix("urn:oio:cpr-nr:").unwrap()),
            "{pnr}"
        );
        assert_eq!(r.objekt_type, Some(UnikId::Uuid(OBJEKTTYPE_PERSON)));
        assert!(r.objekt_handling.is_some() && r.opgave_emne.is_some());
    }
    // in the order they happened
    let dage: Vec<String> = modtaget
        .iter()
        .map(|b| format!("{:?}", b.beskedkuvert.gyldighed_fra))
        .collect();
    let mut sorteret = dage.clone();
    sorteret.sort();
    assert_eq!(dage, sorteret);

    // 2. SF1525 shows the register's new state and its history.
    let laeser = system(
        &h,
        "Sagssystem",
        &[(ENTITY_CPR_PERSONDATASAMLING, &[]), (BFO_MODTAG, &[])],
    )
    .await;
    let t = token(&h, &laeser, ENTITY_CPR_PERSONDATASAMLING);
    let flyt = alle
        .iter()
        .find(|x| {
            x["art"] == "flytning"
                && pop
                    .personer
                    .iter()
                    .any(|p| p.cpr.as_digits() == x["pnr"] && !p.adressebeskyttelse)
        })
        .expect("a move of an unprotected person");
    let pnr = flyt["pnr"].as_str().unwrap();
    let (s, sam) = get(
        &h,
        &laeser,
        &format!("/cpr/personer/{pnr}/samling"),
        Some(&t),
    )
    .await;
    assert_eq!(s, 200, "{sam}");
    let adr = &sam["dataomraader"]["adresse"];
    assert!(
        adr["historik"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["fraflytningsdato"] == flyt["dato"]),
        "{adr}"
    );
    let foer = pop
        .personer
        .iter()
        .find(|p| p.cpr.as_digits() == pnr)
        .unwrap();
    assert!(
        adr["historik"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["vejnavn"] == foer.adresse.vejnavn
                && a["husnummer"] == foer.adresse.husnummer),
        "the old address is history: {adr}"
    );
    // a newborn is in the register
    let barn = alle.iter().find(|x| x["art"] == "foedsel").unwrap();
    let (s, b) = get(
        &h,
        &laeser,
        &format!(
            "/cpr/personer/{}/samling?omraader=relationer,status&historik=false",
            barn["pnr"].as_str().unwrap()
        ),
        Some(&t),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["dataomraader"]["relationer"]["mor"]["personnummer"],
        barn["relaterede"][0]
    );
    assert_eq!(b["dataomraader"]["status"]["aktuel"]["kode"], "01");
    assert!(b["dataomraader"].get("navn").is_none());
    // refusals: no token, no agreement, a bad number, an unknown person, an unknown area
    assert_eq!(
        get(&h, &laeser, &format!("/cpr/personer/{pnr}/samling"), None)
            .await
            .0,
        401
    );
    let uden = system(&h, "Uden aftale", &[]).await;
    let tu = token(&h, &uden, ENTITY_CPR_PERSONDATASAMLING);
    assert_eq!(
        get(
            &h,
            &uden,
            &format!("/cpr/personer/{pnr}/samling"),
            Some(&tu)
        )
        .await
        .0,
        403
    );
    assert_eq!(
        get(&h, &laeser, "/cpr/personer/12345/samling", Some(&t))
            .await
            .0,
        400
    );
    let ukendt = (1000..2000)
        .filter_map(|n| fki_cpr::nummer::Cpr::new(NaiveDate::from_ymd_opt(1950, 1, 1).unwrap(), n))
        .find(|c| pop.personer.iter().all(|p| p.cpr != *c))
        .unwrap();
    assert_eq!(
        get(
            &h,
            &laeser,
            &format!("/cpr/personer/{}/samling", ukendt.as_digits()),
            Some(&t)
        )
        .await
        .0,
        404
    );
    let (s, e) = get(
        &h,
        &laeser,
        &format!("/cpr/personer/{pnr}/samling?omraader=bil"),
        Some(&t),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    // an agreement without addresses
    let uden_adr = system(
        &h,
        "Uden adresser",
        &[(ENTITY_CPR_PERSONDATASAMLING, &[("Udelad", "adresse")])],
    )
    .await;
    let ta = token(&h, &uden_adr, ENTITY_CPR_PERSONDATASAMLING);
    let (s, x) = get(
        &h,
        &uden_adr,
        &format!("/cpr/personer/{pnr}/samling"),
        Some(&ta),
    )
    .await;
    assert_eq!(s, 200);
    assert!(x["dataomraader"].get("adresse").is_none() && x["dataomraader"].get("navn").is_some());

    // 3. Stopped, the abonnement lets nothing through; started again, the next events arrive.
    let (s, _) = common::admin(
        &h,
        Method::POST,
        &format!("/admin/beskedfordeler/abonnementer/{abonnement}/aktiv"),
        Some(json!({"aktiv": false})),
    )
    .await;
    assert_eq!(s, 200);
    let v = simuler(&h, json!({"dage": 45, "seed": 4})).await;
    assert_eq!(v["fra"], "2026-04-01", "continues after the last day");
    assert!(
        !forventet(&v, &liste).is_empty(),
        "followed people changed meanwhile"
    );
    assert!(tag_alle(&h, &fag, dueslag).await.is_empty());
    let (s, _) = common::admin(
        &h,
        Method::POST,
        &format!("/admin/beskedfordeler/abonnementer/{abonnement}/aktiv"),
        Some(json!({"aktiv": true})),
    )
    .await;
    assert_eq!(s, 200);
    let v = simuler(&h, json!({"dage": 45, "seed": 4})).await;
    let vent = forventet(&v, &liste);
    assert!(!vent.is_empty());
    assert_eq!(ids(&tag_alle(&h, &fag, dueslag).await), vent);
    // a day already simulated cannot be simulated again
    let (s, e) = common::admin(
        &h,
        Method::POST,
        "/admin/cpr/simuler",
        Some(json!({"dage": 1, "fra": "2026-02-01"})),
    )
    .await;
    assert_eq!(s, 409, "{e}");
    let (s, _) = common::admin(
        &h,
        Method::POST,
        "/admin/cpr/simuler",
        Some(json!({"dage": 0})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = reqwest::Client::new()
        .post(format!("{}/admin/cpr/simuler", h.url()))
        .json(&json!({"dage": 1}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(s, 401, "the admin API needs its token");

    // 4. A restart replays the log: the same state, and the simulation goes on from there.
    let (_, foer_restart) = get(
        &h,
        &laeser,
        &format!("/cpr/personer/{pnr}/samling"),
        Some(&t),
    )
    .await;
    stop(h).await;
    let h = start(dir.path()).await;
    let t = token(&h, &laeser, ENTITY_CPR_PERSONDATASAMLING);
    let (s, efter) = get(
        &h,
        &laeser,
        &format!("/cpr/personer/{pnr}/samling"),
        Some(&t),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(efter, foer_restart);
    let v = simuler(&h, json!({"dage": 1, "seed": 4})).await;
    assert_eq!(
        v["fra"], "2026-06-30",
        "the day after the last of 90 + 45 + 45"
    );
    stop(h).await;
}

/// A day that reached the log but not the Beskedfordeler (a crash between the two) is published
/// when the server starts, and marked so: the events are not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_day_not_yet_published_is_published_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let pop = generate(&Parametre::new("0751", 3000, 22), |_| {});
    skriv_population(dir.path(), &pop);
    // Subscriptions first (the store outlives the server).
    let h = start(dir.path()).await;
    let fag = system(&h, "Fagsystem", &[(BFO_MODTAG, &[])]).await;
    let (s, d) = common::admin(
        &h,
        Method::POST,
        "/admin/beskedfordeler/dueslag",
        Some(json!({"navn": "cpr", "ejer": fag.uuid.to_string(), "myndighed": CVR, "levering": "pull"})),
    )
    .await;
    assert_eq!(s, 201);
    let dueslag: Uuid = d["uuid"].as_str().unwrap().parse().unwrap();
    let (s, _) = common::admin(
        &h,
        Method::POST,
        "/admin/beskedfordeler/abonnementer",
        Some(json!({"dueslag": dueslag, "filter": format!("beskedtype = \"{BESKEDTYPE_CPR_HAENDELSE}\"")})),
    )
    .await;
    assert_eq!(s, 201);
    stop(h).await;
    // Ten days written to the log as the server does, the last three without "publiceret".
    let mut reg = Register::new();
    reg.tilfoej(pop.clone());
    let sti = log_sti(&dir.path().join("cpr"));
    std::fs::create_dir_all(sti.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(&sti).unwrap();
    let mut upubliceret = BTreeSet::new();
    let start_dag = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
    for i in 0..10 {
        let dag = start_dag + chrono::Days::new(i);
        let plan = planlaeg_dag(&reg, dag, 8);
        for x in &plan {
            reg.anvend(x).unwrap();
        }
        Logbog::skriv_dag(&mut f, dag, &plan).unwrap();
        if i < 7 {
            Logbog::skriv_publiceret(&mut f, dag).unwrap();
        } else {
            upubliceret.extend(plan.iter().map(|x| x.id));
        }
    }
    drop(f);
    assert!(!upubliceret.is_empty());
    let h = start(dir.path()).await;
    let frist = std::time::Instant::now() + Duration::from_secs(20);
    let mut modtaget = BTreeSet::new();
    while modtaget.len() < upubliceret.len() && std::time::Instant::now() < frist {
        modtaget.extend(ids(&tag_alle(&h, &fag, dueslag).await));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        modtaget, upubliceret,
        "exactly the unpublished days' events"
    );
    // the register holds the ten days
    let dod = reg
        .orden()
        .iter()
        .find(|c| matches!(reg.person(c).unwrap().status, Status::Doed(d) if d >= start_dag));
    if let Some(c) = dod {
        assert!(matches!(
            h.state.cpr.laes().person(c).unwrap().status,
            Status::Doed(_)
        ));
    }
    assert_eq!(h.state.cpr.laes().antal_personer(), reg.antal_personer());
    // and they are marked: the next start publishes nothing again
    let log = std::fs::read_to_string(&sti).unwrap();
    for i in 7..10 {
        let dag = start_dag + chrono::Days::new(i);
        let vent = std::time::Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&sti)
            .unwrap()
            .contains(&format!("{{\"publiceret\":\"{dag}\"}}"))
        {
            assert!(
                std::time::Instant::now() < vent,
                "day {dag} not marked published:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    stop(h).await;
}
