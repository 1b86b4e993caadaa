//! The observed compliance checks (issue 8 items 3 and 6) with two scripted vendor systems on a
//! secure server: one well-behaved for I-02, I-04 and I-05 (tokens on every call, a filtered
//! subscription it stops and starts, events pulled and acknowledged, writes to both indexes
//! with valid references) passes every check; one that calls without a token, subscribes to
//! everything and writes references to unknown classes fails exactly those checks, with
//! evidence. Then the active probes (item 4): a careful vendor (a push receiver that takes a
//! repeated message, a narrow filter, a client that gets a new token when refused) passes
//! them; a careless one fails each.

mod common;

use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use fki_server::beskedfordeler::BFO_MODTAG;
use fki_server::sts::{ENTITY_SAGDOKUMENTINDEKS, ENTITY_YDELSESINDEKS};
use fki_server::{Config, ServerHandle};
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

const CVR: &str = "11111111";

/// `tests/fixtures/<sti>`'s root element (`sf1470/…` when `sti` names no folder).
fn fixture(sti: &str) -> String {
    let sti = if sti.contains('/') {
        sti.to_owned()
    } else {
        format!("sf1470/{sti}")
    };
    let t = std::fs::read_to_string(format!(
        "{}/tests/fixtures/{sti}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let doc = roxmltree::Document::parse(&t).unwrap();
    t[doc.root_element().range()].to_owned()
}

struct Env {
    h: ServerHandle,
    _dir: tempfile::TempDir,
}

struct System {
    uuid: Uuid,
    cert: Issued,
}

impl Env {
    async fn system(&self, navn: &str) -> System {
        let st = &self.h.state;
        let (uuid, cert) = common::register_system(st.adgang.as_ref(), &st.ca, navn, CVR).await;
        for e in [ENTITY_SAGDOKUMENTINDEKS, ENTITY_YDELSESINDEKS, BFO_MODTAG] {
            common::active_agreement(st.adgang.as_ref(), uuid, e, CVR, vec![], vec![]).await;
        }
        System { uuid, cert }
    }

    fn assertion(&self, s: &System, entity: &str) -> String {
        saml::issue_assertion(&AssertionSpec::new(
            &self.h.state.sts.key,
            s.cert.cert_der(),
            entity,
            CVR,
            &PrivilegeList::for_cvr(CVR, &[]),
            Utc::now(),
        ))
        .unwrap()
        .xml
    }

    fn client(&self, s: &System) -> reqwest::Client {
        common::tls_client(&self.h.state.ca, Some(&s.cert), self.h.https_addr.unwrap())
    }

    fn https(&self, path: &str) -> String {
        format!(
            "https://localhost:{}{path}",
            self.h.https_addr.unwrap().port()
        )
    }

    /// A SOAP importer request to the Sags- og dokumentindeks, signed with a token, or
    /// (`signeret` false) with none.
    async fn indeks(&self, s: &System, payload: &str, signeret: bool) -> (u16, String) {
        self.importer(
            s,
            "sagdokumentindeks",
            ENTITY_SAGDOKUMENTINDEKS,
            payload,
            signeret,
        )
        .await
    }

    /// A SOAP importer request to the Ydelsesindeks, signed with a token.
    async fn ydelse(&self, s: &System, payload: &str) -> (u16, String) {
        self.importer(s, "ydelseindeks", ENTITY_YDELSESINDEKS, payload, true)
            .await
    }

    async fn importer(
        &self,
        s: &System,
        tjeneste: &str,
        entity: &str,
        payload: &str,
        signeret: bool,
    ) -> (u16, String) {
        common::soap11(
            &self.h,
            &s.cert,
            common::Soap11 {
                path: &format!("/{tjeneste}/6"),
                to: None,
                action: &format!("http://kombit.dk/sts/{tjeneste}/importer"),
                header: "",
                token: signeret.then_some((entity, CVR)),
                payload,
            },
        )
        .await
    }

    /// A pull dueslag of `s` with one abonnement `filter` → (dueslag, abonnement).
    async fn dueslag(&self, s: &System, filter: &str) -> (String, String) {
        let (st, d) = common::admin(
            &self.h,
            Method::POST,
            "/admin/beskedfordeler/dueslag",
            Some(json!({"navn": "indbakke", "ejer": s.uuid.to_string(), "myndighed": CVR, "levering": "pull"})),
        )
        .await;
        assert_eq!(st, 201, "{d}");
        let dueslag = d["uuid"].as_str().unwrap().to_owned();
        let (st, a) = common::admin(
            &self.h,
            Method::POST,
            "/admin/beskedfordeler/abonnementer",
            Some(json!({"dueslag": dueslag, "filter": filter})),
        )
        .await;
        assert_eq!(st, 201, "{a}");
        (dueslag, a["uuid"].as_str().unwrap().to_owned())
    }

    async fn kontroller(&self, s: &System) -> Vec<(String, String)> {
        let (st, v) = common::admin(
            &self.h,
            Method::GET,
            &format!("/admin/compliance/{}", s.uuid),
            None,
        )
        .await;
        assert_eq!(st, 200, "{v}");
        v["kontroller"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["kontrol"].as_str().unwrap().to_owned(),
                    k["udfald"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

async fn referencer(h: &ServerHandle) {
    for (service, klasse, uuid) in [
        (
            "organisation",
            "organisation",
            "3333aaaa-11aa-22bb-33cc-111111aaaaaa",
        ),
        (
            "organisation",
            "organisationenhed",
            "1111aaaa-11aa-22bb-33cc-111111aaaaaa",
        ),
        (
            "organisation",
            "bruger",
            "9999aaaa-11aa-22bb-33cc-111111aaaaaa",
        ),
        (
            "organisation",
            "itsystem",
            "ba537e12-8b0c-44b1-9de7-f75803a4e091",
        ),
        (
            "klassifikation",
            "klasse",
            "4444aaaa-11aa-22bb-33cc-111111aaaaaa",
        ),
        (
            "klassifikation",
            "klasse",
            "5555aaaa-11aa-22bb-33cc-111111aaaaaa",
        ),
        // What the SF1490 fixtures reference besides.
        (
            "organisation",
            "organisation",
            "7777aaaa-77aa-88bb-99cc-777777aaaaaa",
        ),
        (
            "organisation",
            "itsystem",
            "6666aaaa-66aa-77bb-88cc-666666aaaaaa",
        ),
        (
            "klassifikation",
            "klasse",
            "4444aaaa-44aa-55bb-66cc-444444aaaaaa",
        ),
        (
            "klassifikation",
            "klasse",
            "5555aaaa-55aa-66bb-77cc-555555aaaaaa",
        ),
    ] {
        let felter = if klasse == "klasse" {
            json!({"titel": "t"})
        } else {
            json!({})
        };
        common::oio_objekt(h, CVR, service, klasse, uuid, felter).await;
    }
}

#[tokio::test]
async fn a_well_behaved_vendor_passes_and_a_careless_one_fails_exactly_its_faults() {
    let dir = tempfile::tempdir().unwrap();
    let h = fki_server::start(Config::for_test_secure(dir.path().to_path_buf(), None))
        .await
        .unwrap();
    referencer(&h).await;
    let env = Env { h, _dir: dir };
    let god = env.system("Omhyggelig").await;
    let slem = env.system("Sjusket").await;

    // Before anything happened: nothing observed.
    assert!(
        env.kontroller(&god)
            .await
            .iter()
            .all(|(_, u)| u == "not_observed"),
        "{:?}",
        env.kontroller(&god).await
    );

    // The well-behaved vendor: a filtered subscription, stopped and started again …
    let (dueslag, abonnement) = env
        .dueslag(
            &god,
            "objektregistrering.objekttype = \"urn:oio:objekttype:sagindeks\"",
        )
        .await;
    for aktiv in [false, true] {
        let (st, v) = common::admin(
            &env.h,
            Method::POST,
            &format!("/admin/beskedfordeler/abonnementer/{abonnement}/aktiv"),
            Some(json!({"aktiv": aktiv})),
        )
        .await;
        assert_eq!(st, 200, "{v}");
    }
    // … valid index writes with a token, to both indexes …
    let (st, svar) = env.indeks(&god, &fixture("importer-begge.xml"), true).await;
    assert_eq!(st, 200);
    assert!(svar.contains("<sd:StatusKode>20</sd:StatusKode>"), "{svar}");
    let (st, svar) = env
        .ydelse(&god, &fixture("sf1490/importer-begge.xml"))
        .await;
    assert_eq!(st, 200);
    assert!(svar.contains("<sd:StatusKode>20</sd:StatusKode>"), "{svar}");
    // … and the resulting event pulled and acknowledged.
    assert!(env.h.state.haendelser.toem(Duration::from_secs(20)).await);
    let token = base64::engine::general_purpose::STANDARD.encode(env.assertion(&god, BFO_MODTAG));
    let r = env
        .client(&god)
        .get(env.https(&format!(
            "/beskedfordeler/dueslag/{dueslag}/beskeder?antal=10"
        )))
        .header("authorization", format!("Holder-of-key {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    let loebenr: Vec<i64> = v["beskeder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["loebenr"].as_i64().unwrap())
        .collect();
    assert_eq!(loebenr.len(), 1, "{v}");
    let r = env
        .client(&god)
        .post(env.https(&format!("/beskedfordeler/dueslag/{dueslag}/kvitter")))
        .header("authorization", format!("Holder-of-key {token}"))
        .json(&json!({"loebenr": loebenr}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    // The careless vendor: a call without a token, a subscription to everything, and a sag
    // whose primary class does not exist.
    let (st, _) = env
        .indeks(&slem, &fixture("importer-begge.xml"), false)
        .await;
    assert_eq!(st, 500, "an unsigned SOAP request is a fault");
    env.dueslag(&slem, "TRUE").await;
    let forkert = fixture("importer-sag.xml")
        .replace(
            "1111bbbb-11aa-22bb-33cc-111111aaaaaa",
            "7777bbbb-11aa-22bb-33cc-111111aaaaaa",
        )
        .replace(
            "4444aaaa-11aa-22bb-33cc-111111aaaaaa",
            "4444ffff-11aa-22bb-33cc-111111aaaaaa",
        );
    let (st, svar) = env.indeks(&slem, &forkert, true).await;
    assert_eq!(st, 200);
    assert!(svar.contains("SDI-REF-KLASSE"), "{svar}");
    // … and a Bevilling whose Ydelse and Klassifikation classes do not exist.
    let forkert = fixture("sf1490/importer-bevilling.xml")
        .replace(
            "2222aaaa-22aa-33bb-44cc-222222aaaaaa",
            "2222ffff-22aa-33bb-44cc-222222aaaaaa",
        )
        .replace(
            "4444aaaa-44aa-55bb-66cc-444444aaaaaa",
            "4444ffff-44aa-55bb-66cc-444444aaaaaa",
        )
        .replace(
            "5555aaaa-55aa-66bb-77cc-555555aaaaaa",
            "5555ffff-55aa-66bb-77cc-555555aaaaaa",
        );
    let (st, svar) = env.ydelse(&slem, &forkert).await;
    assert_eq!(st, 200);
    assert!(svar.contains("YI-REF-KLASSE"), "{svar}");

    // The records are written in the background.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let g = env.kontroller(&god).await;
    for (k, u) in &g {
        if k == "KLASSIFIKATION_ABONNEMENT" || k.starts_with("PROBE_") {
            assert_eq!(u, "not_observed", "{g:?}");
        } else {
            assert_eq!(u, "pass", "{k}: {g:?}");
        }
    }
    let s = env.kontroller(&slem).await;
    let fejlet: Vec<&str> = s
        .iter()
        .filter(|(_, u)| u == "fail")
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        fejlet,
        [
            "TOKEN",
            "FILTER",
            "INDEKS_KLASSE",
            "INDEKS_REGLER",
            "YDELSE_KLASSE",
            "YDELSE_REGLER"
        ],
        "{s:?}"
    );
    // The evidence names the refused call and the missing class.
    let (_, v) = common::admin(
        &env.h,
        Method::GET,
        &format!("/admin/compliance/{}", slem.uuid),
        None,
    )
    .await;
    let tekst = v.to_string();
    for uuid in [
        "4444ffff-11aa-22bb-33cc-111111aaaaaa",
        "4444ffff-44aa-55bb-66cc-444444aaaaaa",
    ] {
        assert!(tekst.contains(uuid), "{tekst}");
    }
    let token_bevis = &v["kontroller"][0]["beviser"][0];
    assert!(
        token_bevis["id"].as_i64().is_some() && token_bevis["tid"].is_string(),
        "{v}"
    );
    let _ = tokio::time::timeout(Duration::from_secs(10), env.h.shutdown()).await;
}

/// A push receiver: answers StatusKode 20 to a new BeskedId; to a repeated one 20 as well when
/// `taaler_dubletter`, else 40. Counts what it got.
#[derive(Default)]
struct Modtager {
    taaler_dubletter: bool,
    set: std::sync::Mutex<std::collections::HashMap<Uuid, u32>>,
}

async fn modtag_besked(
    axum::extract::State(m): axum::extract::State<std::sync::Arc<Modtager>>,
    body: String,
) -> String {
    use fki_beskedfordeler::kuvert::{Haendelsesbesked, UnikId};
    use fki_beskedfordeler::retur::{StandardRetur, StatusKode};
    let retur = match Haendelsesbesked::parse_modtag_besked_input(&body) {
        Ok(h) => {
            let UnikId::Uuid(id) = h.besked_id else {
                panic!("BeskedId not a UUID")
            };
            let mut set = m.set.lock().unwrap();
            let n = set.entry(id).or_default();
            *n += 1;
            if *n > 1 && !m.taaler_dubletter {
                StandardRetur::fejl(StatusKode::UgyldigInput, "BeskedId already received")
            } else {
                StandardRetur::ok()
            }
        }
        Err(e) => StandardRetur::fejl(StatusKode::UgyldigInput, e.to_string()),
    };
    retur.output_document("ns4", "ModtagBeskedOutput", "urn:oio:sts:1.0.0")
}

impl Modtager {
    /// Serve on 127.0.0.1; the callback URL.
    async fn serve(taaler_dubletter: bool) -> (std::sync::Arc<Modtager>, String) {
        let m = std::sync::Arc::new(Modtager {
            taaler_dubletter,
            ..Default::default()
        });
        let app = axum::Router::new()
            .route("/modtag", axum::routing::post(modtag_besked))
            .with_state(m.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        (m, format!("http://{addr}/modtag"))
    }
}

/// A vendor's working loop: pull from its dueslag every 50 ms with its token until `stop`; on
/// a refusal the careful one (`fornyer`) gets a new token, the careless one keeps its own.
fn arbejd(
    env: std::sync::Arc<Env>,
    s: std::sync::Arc<System>,
    dueslag: String,
    fornyer: bool,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<(u32, u32)> {
    tokio::spawn(async move {
        let ny = || base64::engine::general_purpose::STANDARD.encode(env.assertion(&s, BFO_MODTAG));
        let mut token = ny();
        let (mut ok, mut afvist) = (0, 0);
        while !*stop.borrow() {
            let r = env
                .client(&s)
                .get(env.https(&format!(
                    "/beskedfordeler/dueslag/{dueslag}/beskeder?antal=1"
                )))
                .header("authorization", format!("Holder-of-key {token}"))
                .send()
                .await
                .unwrap();
            match r.status().as_u16() {
                200 => ok += 1,
                401 => {
                    afvist += 1;
                    if fornyer {
                        token = ny();
                    }
                }
                other => panic!("{other}: {}", r.text().await.unwrap()),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (ok, afvist)
    })
}

#[tokio::test]
async fn the_probes_pass_a_careful_vendor_and_name_a_careless_ones_faults() {
    let dir = tempfile::tempdir().unwrap();
    let h = fki_server::start(Config::for_test_secure(dir.path().to_path_buf(), None))
        .await
        .unwrap();
    let env = std::sync::Arc::new(Env { h, _dir: dir });
    let god = std::sync::Arc::new(env.system("Omhyggelig").await);
    let slem = std::sync::Arc::new(env.system("Sjusket").await);

    // Before any probe: the probes are not observed, and a package no probe covers is refused.
    let kontroller = env.kontroller(&god).await;
    for p in ["PROBE_DUBLET", "PROBE_FILTER", "PROBE_TOKEN"] {
        assert!(
            kontroller.contains(&(p.to_owned(), "not_observed".to_owned())),
            "{kontroller:?}"
        );
    }
    let (st, v) = common::admin(
        &env.h,
        Method::POST,
        &format!("/admin/compliance/{}/probe", god.uuid),
        Some(json!({"pakker": ["I-08"]})),
    )
    .await;
    assert_eq!(st, 400, "{v}");

    // Each has a push dueslag with a subscription, and a pull dueslag its working loop reads.
    let mut modtagere = Vec::new();
    for (s, taaler, filter) in [
        (
            &god,
            true,
            "objektregistrering.objekttype = \"urn:oio:objekttype:sagindeks\"",
        ),
        (
            &slem,
            false,
            "NOT beskedtype = \"7654895c-a3f3-4c77-8afd-4c77330f963c\"",
        ),
    ] {
        let (m, url) = Modtager::serve(taaler).await;
        modtagere.push(m);
        let (st, d) = common::admin(
            &env.h,
            Method::POST,
            "/admin/beskedfordeler/dueslag",
            Some(json!({"navn": "push", "ejer": s.uuid.to_string(), "myndighed": CVR, "levering": "push", "callbackUrl": url})),
        )
        .await;
        assert_eq!(st, 201, "{d}");
        let (st, a) = common::admin(
            &env.h,
            Method::POST,
            "/admin/beskedfordeler/abonnementer",
            Some(json!({"dueslag": d["uuid"], "filter": filter})),
        )
        .await;
        assert_eq!(st, 201, "{a}");
    }
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut loekker = Vec::new();
    for (s, fornyer) in [(&god, true), (&slem, false)] {
        let (st, d) = common::admin(
            &env.h,
            Method::POST,
            "/admin/beskedfordeler/dueslag",
            Some(json!({"navn": "pull", "ejer": s.uuid.to_string(), "myndighed": CVR, "levering": "pull"})),
        )
        .await;
        assert_eq!(st, 201, "{d}");
        loekker.push(arbejd(
            env.clone(),
            s.clone(),
            d["uuid"].as_str().unwrap().to_owned(),
            fornyer,
            stop.clone(),
        ));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let probe = |s: Uuid, vent: u64| {
        let env = env.clone();
        async move {
            let (st, v) = common::admin(
                &env.h,
                Method::POST,
                &format!("/admin/compliance/{s}/probe"),
                Some(json!({"vent": vent})),
            )
            .await;
            assert_eq!(st, 200, "{v}");
            let udfald: Vec<(String, String)> = v["prober"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["kontrol"].as_str().unwrap().to_owned(),
                        p["udfald"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            (udfald, v)
        }
    };
    let (udfald, v) = probe(god.uuid, 20).await;
    assert_eq!(
        udfald,
        [
            ("PROBE_DUBLET".to_owned(), "pass".to_owned()),
            ("PROBE_FILTER".to_owned(), "pass".to_owned()),
            ("PROBE_TOKEN".to_owned(), "pass".to_owned())
        ],
        "{v}"
    );
    // The careful receiver got one message twice.
    let set = modtagere[0].set.lock().unwrap().clone();
    assert_eq!(set.values().collect::<Vec<_>>(), [&2], "{set:?}");

    let (udfald, v) = probe(slem.uuid, 2).await;
    assert_eq!(
        udfald,
        [
            ("PROBE_DUBLET".to_owned(), "fail".to_owned()),
            ("PROBE_FILTER".to_owned(), "fail".to_owned()),
            ("PROBE_TOKEN".to_owned(), "fail".to_owned())
        ],
        "{v}"
    );
    let tekst = v.to_string();
    assert!(tekst.contains("StatusKode 40"), "{tekst}");
    assert!(
        tekst.contains("an event of an unknown Beskedtype"),
        "{tekst}"
    );
    assert!(tekst.contains("token_expired"), "{tekst}");
    stop_tx.send_replace(true);
    let mut tal = Vec::new();
    for l in loekker {
        tal.push(l.await.unwrap());
    }
    // The careful vendor was refused once and went on; the careless one never recovered.
    assert!(tal[0].0 > 1 && tal[0].1 >= 1, "{tal:?}");
    assert!(tal[1].1 > 1, "{tal:?}");

    // The stored runs are the probes' verdicts in the checks, and the refusals they provoked
    // do not count against TOKEN.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let g = env.kontroller(&god).await;
    for (k, u) in &g {
        if k.starts_with("PROBE_") || k == "TOKEN" {
            assert_eq!(u, "pass", "{k}: {g:?}");
        }
    }
    let s = env.kontroller(&slem).await;
    for (k, u) in &s {
        if k.starts_with("PROBE_") {
            assert_eq!(u, "fail", "{k}: {s:?}");
        }
    }

    // Only the probes of a package run.
    let (st, v) = common::admin(
        &env.h,
        Method::POST,
        &format!("/admin/compliance/{}/probe", god.uuid),
        Some(json!({"pakker": ["I-04"], "vent": 0})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["prober"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["prober"][0]["kontrol"], "PROBE_TOKEN", "{v}");
    let Ok(env) = std::sync::Arc::try_unwrap(env) else {
        panic!("the working loops have ended")
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), env.h.shutdown()).await;
}
