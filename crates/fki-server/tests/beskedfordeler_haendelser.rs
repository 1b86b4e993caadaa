//! Change events of Organisation and Klassifikation objects (issue 5 item 6), end to end over
//! real TLS with tokens: objects written over the OIO REST API become Haendelsesbeskeder that
//! subscribers pull from their dueslag under the normal Beskedfordeler rules (a `bfo_modtag/2`
//! agreement, a matching abonnement, the owner's myndighed).
//!
//! Runs on SQLite always, and on PostgreSQL too when `FKI_TEST_POSTGRES_URL` is set.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use fki_beskedfordeler::kuvert::{Haendelsesbesked, UnikId};
use fki_server::beskedfordeler::BFO_MODTAG;
use fki_server::beskedfordeler::haendelser::BESKEDTYPE_OBJEKTAENDRING;
use fki_server::sts::{ENTITY_KLASSIFIKATION, ENTITY_ORGANISATION, ENTITY_SAGDOKUMENTINDEKS};
use fki_server::{Config, ServerHandle};
use fki_store::adgang::kendt_service_uuid;
use fki_store::testing::{DropGuard, fresh_postgres};
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

const CVR_A: &str = "11111111";
const CVR_B: &str = "22222222";

const ENHED_TYPE: &str = "urn:oio:objekttype:organisationenhed";

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

struct Env {
    handle: Option<ServerHandle>,
    guard: Option<DropGuard>,
    _dir: tempfile::TempDir,
    https_addr: SocketAddr,
}

struct System {
    uuid: Uuid,
    cert: Issued,
}

impl Env {
    async fn start(backend: Backend) -> Option<Env> {
        let dir = tempfile::tempdir().unwrap();
        let (url, guard) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => {
                let Ok(base) = std::env::var("FKI_TEST_POSTGRES_URL") else {
                    eprintln!("skipped on PostgreSQL: FKI_TEST_POSTGRES_URL is not set");
                    return None;
                };
                let (u, g) = fresh_postgres(&base).await.unwrap();
                (Some(u), Some(g))
            }
        };
        let handle = fki_server::start(Config::for_test_secure(dir.path().to_path_buf(), url))
            .await
            .unwrap();
        Some(Env {
            https_addr: handle.https_addr.unwrap(),
            handle: Some(handle),
            guard,
            _dir: dir,
        })
    }

    fn handle(&self) -> &ServerHandle {
        self.handle.as_ref().unwrap()
    }

    async fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), h.shutdown()).await;
        }
        if let Some(g) = self.guard.take() {
            g.cleanup().await.unwrap();
        }
    }

    async fn system(&self, name: &str, cvr: &str) -> System {
        let st = &self.handle().state;
        let (uuid, cert) = common::register_system(st.adgang.as_ref(), &st.ca, name, cvr).await;
        System { uuid, cert }
    }

    async fn agreement(&self, s: &System, entity_id: &str, cvr: &str) {
        common::active_agreement(
            self.handle().state.adgang.as_ref(),
            s.uuid,
            entity_id,
            cvr,
            vec![],
            vec![],
        )
        .await;
    }

    /// A token (base64 assertion) from fki's STS key, as the STS would issue it.
    fn token(&self, s: &System, entity_id: &str, cvr: &str) -> String {
        let sts = &self.handle().state.sts;
        let a = saml::issue_assertion(&AssertionSpec::new(
            &sts.key,
            s.cert.cert_der(),
            entity_id,
            cvr,
            &PrivilegeList::for_cvr(cvr, &[]),
            Utc::now(),
        ))
        .unwrap();
        base64::engine::general_purpose::STANDARD.encode(a.xml)
    }

    fn https(&self) -> String {
        format!("https://localhost:{}", self.https_addr.port())
    }

    fn client(&self, s: &System) -> reqwest::Client {
        common::tls_client(&self.handle().state.ca, Some(&s.cert), self.https_addr)
    }

    /// An OIO REST call as `s` with `token` → (status, JSON body).
    async fn oio(
        &self,
        s: &System,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut r = self
            .client(s)
            .request(method, format!("{}{path}", self.https()))
            .header("authorization", format!("Holder-of-key {token}"));
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// POST a new object; its UUID.
    async fn opret(
        &self,
        s: &System,
        token: &str,
        path: &str,
        body: Value,
        extra: &[(&str, &str)],
    ) -> Uuid {
        let (st, v) = self
            .oio(s, token, Method::POST, path, Some(body), extra)
            .await;
        assert_eq!(st, 201, "{path}: {v}");
        v["uuid"].as_str().unwrap().parse().unwrap()
    }

    /// A pull dueslag of `ejer` for `myndighed` with one abonnement.
    async fn pull_dueslag(&self, ejer: &System, myndighed: &str, filter: &str) -> Uuid {
        let (s, d) = common::admin(
            self.handle(),
            Method::POST,
            "/admin/beskedfordeler/dueslag",
            Some(json!({"navn": "indbakke", "ejer": ejer.uuid.to_string(), "myndighed": myndighed, "levering": "pull"})),
        )
        .await;
        assert_eq!(s, 201, "{d}");
        let dueslag: Uuid = d["uuid"].as_str().unwrap().parse().unwrap();
        let (s, a) = common::admin(
            self.handle(),
            Method::POST,
            "/admin/beskedfordeler/abonnementer",
            Some(json!({"dueslag": dueslag, "filter": filter})),
        )
        .await;
        assert_eq!(s, 201, "{a}");
        dueslag
    }

    /// The messages waiting in `dueslag` (not acknowledged), as its owner `s` pulls them.
    async fn hent(&self, s: &System, token: &str, dueslag: Uuid) -> Vec<Haendelsesbesked> {
        let r = self
            .client(s)
            .get(format!(
                "{}/beskedfordeler/dueslag/{dueslag}/beskeder?antal=100",
                self.https()
            ))
            .header("authorization", format!("Holder-of-key {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.json().await.unwrap();
        v["beskeder"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| Haendelsesbesked::parse(b["haendelsesbesked"].as_str().unwrap()).unwrap())
            .collect()
    }

    /// Pull until at least `n` messages wait in `dueslag` (at most 20 s); all waiting ones.
    async fn vent(
        &self,
        s: &System,
        token: &str,
        dueslag: Uuid,
        n: usize,
    ) -> Vec<Haendelsesbesked> {
        let frist = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let b = self.hent(s, token, dueslag).await;
            if b.len() >= n || std::time::Instant::now() > frist {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait until every change event queued so far is stored.
    async fn publiceret(&self) {
        assert!(
            self.handle()
                .state
                .haendelser
                .toem(Duration::from_secs(20))
                .await,
            "change events still queued"
        );
    }

    async fn metric(&self, name: &str) -> u64 {
        let text = reqwest::Client::new()
            .get(format!("{}/metrics", self.handle().url()))
            .bearer_auth(self.handle().state.admin_token.as_ref())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
    }
}

/// What a subscriber sees of an event: (ObjektHandling, ObjektId, ObjektAnsvarligMyndighed,
/// ObjektType).
fn haendelse(b: &Haendelsesbesked) -> (String, String, String, String) {
    let r = &b.beskedkuvert.filtreringsdata.objekt_registrering[0];
    let v = |x: &Option<UnikId>| x.as_ref().map(UnikId::vaerdi).unwrap_or_default();
    (
        v(&r.objekt_handling),
        v(&r.objekt_id),
        v(&r.objekt_ansvarlig_myndighed),
        v(&r.objekt_type),
    )
}

fn ids(bs: &[Haendelsesbesked]) -> Vec<UnikId> {
    bs.iter().map(|b| b.besked_id.clone()).collect()
}

fn enhed(navn: &str) -> Value {
    json!({
        "attributter": {"organisationenhedegenskaber": [{
            "brugervendtnoegle": navn, "enhedsnavn": navn,
            "virkning": {"from": "2020-01-01", "to": "infinity"}
        }]},
        "tilstande": {"organisationenhedgyldighed": [{
            "gyldighed": "Aktiv", "virkning": {"from": "2020-01-01", "to": "infinity"}
        }]}
    })
}

fn navn(navn: &str) -> Value {
    json!({"attributter": {"organisationenhedegenskaber": [{
        "enhedsnavn": navn, "virkning": {"from": "2020-01-01", "to": "infinity"}
    }]}})
}

fn facet(bvn: &str) -> Value {
    json!({
        "attributter": {"facetegenskaber": [{
            "brugervendtnoegle": bvn, "beskrivelse": "en facet",
            "virkning": {"from": "2020-01-01", "to": "infinity"}
        }]},
        "tilstande": {"facetpubliceret": [{
            "publiceret": "Publiceret", "virkning": {"from": "2020-01-01", "to": "infinity"}
        }]}
    })
}

fn sag(bvn: &str) -> Value {
    json!({
        "attributter": {"sagegenskaber": [{
            "brugervendtnoegle": bvn, "beskrivelse": "en sag", "kassationskode": "K1",
            "sagsnummer": "2020-001", "titel": "Sagen", "afleveret": false, "principiel": true,
            "virkning": {"from": "2020-01-01", "to": "infinity"}
        }]},
        "tilstande": {"sagfremdrift": [{
            "fremdrift": "Opstaaet", "virkning": {"from": "2020-01-01", "to": "infinity"}
        }]}
    })
}

/// opret, ret, passiver and slet of an organisationenhed reach a subscriber filtering on
/// ObjektType organisationenhed, in order and with the right fields; a ret that changes
/// nothing and a write to a Sag publish nothing; a receiver without a `bfo_modtag` agreement
/// gets nothing.
async fn enhedens_livsloeb(backend: Backend) {
    let Some(env) = Env::start(backend).await else {
        return;
    };
    let fag = env.system("Fagsystem", CVR_A).await;
    env.agreement(&fag, ENTITY_ORGANISATION, CVR_A).await;
    env.agreement(&fag, ENTITY_SAGDOKUMENTINDEKS, CVR_A).await;
    let modtager = env.system("Modtager", CVR_A).await;
    env.agreement(&modtager, BFO_MODTAG, CVR_A).await;
    let uden_aftale = env.system("Modtager uden aftale", CVR_A).await;

    let d_enhed = env
        .pull_dueslag(
            &modtager,
            CVR_A,
            &format!("objektregistrering.objekttype = \"{ENHED_TYPE}\""),
        )
        .await;
    let d_alle = env.pull_dueslag(&modtager, CVR_A, "TRUE").await;
    let d_uden = env.pull_dueslag(&uden_aftale, CVR_A, "TRUE").await;

    let org = env.token(&fag, ENTITY_ORGANISATION, CVR_A);
    let sdi = env.token(&fag, ENTITY_SAGDOKUMENTINDEKS, CVR_A);
    let path = "/organisation/organisationenhed";
    let u = env.opret(&fag, &org, path, enhed("E1"), &[]).await;
    let upath = format!("{path}/{u}");
    let (s, v) = env
        .oio(&fag, &org, Method::PATCH, &upath, Some(navn("E2")), &[])
        .await;
    assert_eq!(s, 200, "{v}");
    // the same again: nothing changes, nothing is stored, nothing is published
    let (s, v) = env
        .oio(&fag, &org, Method::PATCH, &upath, Some(navn("E2")), &[])
        .await;
    assert_eq!(s, 200, "{v}");
    // a Sag is not an Organisation or Klassifikation object
    let sag_uuid = env.opret(&fag, &sdi, "/sag/sag", sag("S1"), &[]).await;
    let (s, v) = env
        .oio(
            &fag,
            &sdi,
            Method::PATCH,
            &format!("/sag/sag/{sag_uuid}"),
            Some(json!({"note": "ændret", "attributter": {"sagegenskaber": [{
                "titel": "Ny titel", "virkning": {"from": "2020-01-01", "to": "infinity"}}]}})),
            &[],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = env
        .oio(
            &fag,
            &org,
            Method::PATCH,
            &upath,
            Some(json!({"livscyklus": "Passiv"})),
            &[],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = env.oio(&fag, &org, Method::DELETE, &upath, None, &[]).await;
    assert_eq!(s, 202, "{v}");

    let mtok = env.token(&modtager, BFO_MODTAG, CVR_A);
    let beskeder = env.vent(&modtager, &mtok, d_enhed, 4).await;
    env.publiceret().await;
    let cvr = format!("urn:oio:cvr-nr:{CVR_A}");
    let forventet: Vec<_> = ["opret", "ret", "passiver", "slet"]
        .iter()
        .map(|h| {
            (
                format!("urn:oio:objekthandling:{h}"),
                u.to_string(),
                cvr.clone(),
                ENHED_TYPE.to_owned(),
            )
        })
        .collect();
    let beskeder_nu = env.hent(&modtager, &mtok, d_enhed).await;
    assert_eq!(beskeder_nu.len(), beskeder.len(), "nothing came later");
    assert_eq!(
        beskeder.iter().map(haendelse).collect::<Vec<_>>(),
        forventet,
        "opret, ret, passiver, slet in order; the unchanged ret published nothing"
    );

    // sent by fki's Organisation service, as an object change event, each change its own
    let org_service = kendt_service_uuid(ENTITY_ORGANISATION);
    for b in &beskeder {
        let f = &b.beskedkuvert.filtreringsdata;
        assert_eq!(f.beskedtype, Some(UnikId::Uuid(BESKEDTYPE_OBJEKTAENDRING)));
        assert_eq!(f.besked_ansvarlig_aktoer, Some(org_service));
        let l = &b.beskedkuvert.leveranceinformation;
        assert_eq!(l.kildesystem, Some(org_service));
        let rute = l.leveranceruter.as_ref().unwrap().last().unwrap();
        assert_eq!(rute.modtaget_fra_system, Some(org_service));
        assert!(f.objekt_registrering[0].registreringstidspunkt.is_some());
    }
    let mut unikke = ids(&beskeder);
    unikke.sort_by_key(UnikId::vaerdi);
    unikke.dedup();
    assert_eq!(unikke.len(), 4);

    // the subscriber of everything got the same four: nothing for the Sag
    let alle = env.hent(&modtager, &mtok, d_alle).await;
    assert_eq!(ids(&alle), ids(&beskeder));
    // without a bfo_modtag agreement: nothing, whatever the abonnement
    let st = &env.handle().state.beskedfordeler.store;
    assert_eq!(st.status(d_uden, i64::MAX).await.unwrap().klar, 0);

    assert_eq!(
        env.metric("fki_beskedfordeler_oio_events_published_total")
            .await,
        4
    );
    assert_eq!(
        env.metric("fki_beskedfordeler_oio_events_lost_total").await,
        0
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enhedens_livsloeb_sqlite() {
    enhedens_livsloeb(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enhedens_livsloeb_postgres() {
    enhedens_livsloeb(Backend::Postgres).await;
}

/// Events follow the owner: another CVR's organisationenhed is not delivered to an abonnement
/// on a different ObjektAnsvarligMyndighed, nor to another myndighed's dueslag; a
/// fælleskommunal Klassifikation object reaches every myndighed's matching dueslag, a
/// non-fælles one only its owner's.
async fn ejer_og_faelles(backend: Backend) {
    let Some(env) = Env::start(backend).await else {
        return;
    };
    let fag_a = env.system("Fagsystem A", CVR_A).await;
    env.agreement(&fag_a, ENTITY_ORGANISATION, CVR_A).await;
    env.agreement(&fag_a, ENTITY_KLASSIFIKATION, CVR_A).await;
    let fag_b = env.system("Fagsystem B", CVR_B).await;
    env.agreement(&fag_b, ENTITY_ORGANISATION, CVR_B).await;
    let modtager = env.system("Modtager", CVR_A).await;
    env.agreement(&modtager, BFO_MODTAG, CVR_A).await;
    env.agreement(&modtager, BFO_MODTAG, CVR_B).await;

    let enhed_filter = format!("objektregistrering.objekttype = \"{ENHED_TYPE}\"");
    let d_a_alle = env.pull_dueslag(&modtager, CVR_A, "TRUE").await;
    let d_b_paa_a = env
        .pull_dueslag(
            &modtager,
            CVR_B,
            &format!("objektregistrering.objektansvarligmyndighed = \"urn:oio:cvr-nr:{CVR_A}\""),
        )
        .await;
    let d_b_enhed = env.pull_dueslag(&modtager, CVR_B, &enhed_filter).await;
    let d_b_facet = env
        .pull_dueslag(
            &modtager,
            CVR_B,
            "objektregistrering.objekttype = \"urn:oio:objekttype:facet\"",
        )
        .await;

    let tok_b = env.token(&fag_b, ENTITY_ORGANISATION, CVR_B);
    let u_b = env
        .opret(
            &fag_b,
            &tok_b,
            "/organisation/organisationenhed",
            enhed("B1"),
            &[],
        )
        .await;
    let klas_a = env.token(&fag_a, ENTITY_KLASSIFIKATION, CVR_A);
    let egen = env
        .opret(&fag_a, &klas_a, "/klassifikation/facet", facet("F1"), &[])
        .await;
    let faelles = env
        .opret(
            &fag_a,
            &klas_a,
            "/klassifikation/facet",
            facet("F2"),
            &[("x-fki-faelles", "true")],
        )
        .await;
    let org_a = env.token(&fag_a, ENTITY_ORGANISATION, CVR_A);
    let u_a = env
        .opret(
            &fag_a,
            &org_a,
            "/organisation/organisationenhed",
            enhed("A1"),
            &[],
        )
        .await;

    let tok_ma = env.token(&modtager, BFO_MODTAG, CVR_A);
    let tok_mb = env.token(&modtager, BFO_MODTAG, CVR_B);
    env.vent(&modtager, &tok_ma, d_a_alle, 3).await;
    env.vent(&modtager, &tok_mb, d_b_enhed, 1).await;
    env.publiceret().await;

    let objekter = |bs: &[Haendelsesbesked]| -> Vec<(String, String)> {
        bs.iter()
            .map(|b| {
                let (_, id, myndighed, _) = haendelse(b);
                (id, myndighed)
            })
            .collect()
    };
    let a = |u: Uuid| (u.to_string(), format!("urn:oio:cvr-nr:{CVR_A}"));
    let b = |u: Uuid| (u.to_string(), format!("urn:oio:cvr-nr:{CVR_B}"));
    // CVR A's subscriber of everything: A's objects only, not B's enhed
    assert_eq!(
        objekter(&env.hent(&modtager, &tok_ma, d_a_alle).await),
        vec![a(egen), a(faelles), a(u_a)]
    );
    // in CVR B: B's enhed reaches the abonnement on organisationenhed ...
    assert_eq!(
        objekter(&env.hent(&modtager, &tok_mb, d_b_enhed).await),
        vec![b(u_b)]
    );
    // ... but not the one on ObjektAnsvarligMyndighed A, which gets only A's fælles facet
    assert_eq!(
        objekter(&env.hent(&modtager, &tok_mb, d_b_paa_a).await),
        vec![a(faelles)]
    );
    // A's fælles facet reaches B's facet abonnement, A's own facet does not
    assert_eq!(
        objekter(&env.hent(&modtager, &tok_mb, d_b_facet).await),
        vec![a(faelles)]
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ejer_og_faelles_sqlite() {
    ejer_og_faelles(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ejer_og_faelles_postgres() {
    ejer_og_faelles(Backend::Postgres).await;
}
