//! The Beskedfordeler end to end over real TLS with tokens: afsend over HTTP (`bfo_afsend/2`),
//! distribution by abonnement, TilladtModtager, receivers' agreements and Værdilister, pull
//! over HTTP (`bfo_modtag/2`) with acknowledgement and fejlkø, duplicates, refusals with
//! StandardRetur, and durability across a restart.
//!
//! Runs on SQLite always, and on PostgreSQL too when `FKI_TEST_POSTGRES_URL` is set.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use fki_beskedfordeler::kuvert::Haendelsesbesked;
use fki_beskedfordeler::retur::StandardRetur;
use fki_server::beskedfordeler::{BFO_AFSEND, BFO_MODTAG};
use fki_server::{Config, ServerHandle};
use fki_store::testing::{DropGuard, fresh_postgres};
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec};
use serde_json::{Value, json};
use uuid::Uuid;

/// KOMBIT's example message (`../shared/specs/sf1460-beskedfordeler/example_messages/`, copied
/// to the library's fixtures); tests vary its BeskedId, TilladtModtager and CPR number.
const EKSEMPEL: &str = include_str!("../../fki-beskedfordeler/tests/fixtures/externTestBesked.xml");
const EKSEMPEL_ID: &str = "01157488-c45c-4fd2-b076-1de12effbf66";
const EKSEMPEL_CVR: &str = "99999999";
const EKSEMPEL_CPR: &str = "2512484916";
const BESKEDTYPE: &str = "7654895c-a3f3-4c77-8afd-4c77330f963c";

const CVR_A: &str = "11111111";
const CVR_B: &str = "22222222";

fn besked(id: Uuid, tilladt_cvr: &str, cpr: &str) -> String {
    EKSEMPEL
        .replace(EKSEMPEL_ID, &id.to_string())
        .replace(EKSEMPEL_CVR, tilladt_cvr)
        .replace(EKSEMPEL_CPR, cpr)
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

struct Env {
    handle: Option<ServerHandle>,
    guard: Option<DropGuard>,
    dir: tempfile::TempDir,
    url: Option<String>,
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
        let handle = fki_server::start(Config::for_test_secure(
            dir.path().to_path_buf(),
            url.clone(),
        ))
        .await
        .unwrap();
        Some(Env {
            https_addr: handle.https_addr.unwrap(),
            handle: Some(handle),
            guard,
            dir,
            url,
        })
    }

    fn handle(&self) -> &ServerHandle {
        self.handle.as_ref().unwrap()
    }

    /// Stop and start the server on the same data (a restart).
    async fn restart(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await.unwrap();
        }
        let handle = fki_server::start(Config::for_test_secure(
            self.dir.path().to_path_buf(),
            self.url.clone(),
        ))
        .await
        .unwrap();
        self.https_addr = handle.https_addr.unwrap();
        self.handle = Some(handle);
    }

    async fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), h.shutdown()).await;
        }
        if let Some(g) = self.guard.take() {
            g.cleanup().await.unwrap();
        }
    }

    /// A sending and a receiving system of CVR A, with their `bfo_afsend` and `bfo_modtag`
    /// agreements.
    async fn afsender_og_modtager(&self) -> (System, System) {
        let afsender = self.system("Afsender", CVR_A).await;
        let modtager = self.system("Modtager", CVR_A).await;
        self.agreement(&afsender, BFO_AFSEND, CVR_A).await;
        self.agreement(&modtager, BFO_MODTAG, CVR_A).await;
        (afsender, modtager)
    }

    async fn system(&self, name: &str, cvr: &str) -> System {
        let st = &self.handle().state;
        let (uuid, cert) = common::register_system(st.adgang.as_ref(), &st.ca, name, cvr).await;
        System { uuid, cert }
    }

    async fn agreement(&self, s: &System, entity_id: &str, cvr: &str) -> Uuid {
        common::active_agreement(
            self.handle().state.adgang.as_ref(),
            s.uuid,
            entity_id,
            cvr,
            vec![],
            vec![],
        )
        .await
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

    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        common::admin(self.handle(), method, path, body).await
    }

    async fn pull_dueslag(&self, ejer: &System, myndighed: &str, filter: &str) -> Uuid {
        let (s, d) = self
            .admin(
                reqwest::Method::POST,
                "/admin/beskedfordeler/dueslag",
                Some(json!({"navn": "indbakke", "ejer": ejer.uuid.to_string(), "myndighed": myndighed, "levering": "pull"})),
            )
            .await;
        assert_eq!(s, 201, "{d}");
        let dueslag: Uuid = d["uuid"].as_str().unwrap().parse().unwrap();
        let (s, a) = self
            .admin(
                reqwest::Method::POST,
                "/admin/beskedfordeler/abonnementer",
                Some(json!({"dueslag": dueslag, "filter": filter})),
            )
            .await;
        assert_eq!(s, 201, "{a}");
        dueslag
    }

    /// POST /beskedfordeler/afsend as `s` with `token` → (HTTP status, StandardRetur).
    async fn afsend(
        &self,
        s: Option<&System>,
        token: Option<&str>,
        body: String,
    ) -> (u16, StandardRetur) {
        let mut r =
            common::tls_client(&self.handle().state.ca, s.map(|s| &s.cert), self.https_addr)
                .post(format!("{}/beskedfordeler/afsend", self.https()))
                .header("content-type", "application/xml")
                .body(body);
        if let Some(t) = token {
            r = r.header("authorization", format!("Holder-of-key {t}"));
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            StandardRetur::find_in(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        )
    }

    /// GET the waiting messages of a dueslag as `s`.
    async fn hent(&self, s: &System, token: &str, dueslag: Uuid, antal: u32) -> (u16, Value) {
        self.hent_q(s, token, dueslag, &format!("antal={antal}"))
            .await
    }

    /// GET the waiting messages of a dueslag as `s`, with the query `q`.
    async fn hent_q(&self, s: &System, token: &str, dueslag: Uuid, q: &str) -> (u16, Value) {
        let r = common::tls_client(&self.handle().state.ca, Some(&s.cert), self.https_addr)
            .get(format!(
                "{}/beskedfordeler/dueslag/{dueslag}/beskeder?{q}",
                self.https()
            ))
            .header("authorization", format!("Holder-of-key {token}"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn kvitter(&self, s: &System, token: &str, dueslag: Uuid, loebenr: i64, op: &str) -> u16 {
        common::tls_client(&self.handle().state.ca, Some(&s.cert), self.https_addr)
            .post(format!(
                "{}/beskedfordeler/dueslag/{dueslag}/beskeder/{loebenr}/{op}",
                self.https()
            ))
            .header("authorization", format!("Holder-of-key {token}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

impl Env {
    /// POST a batch acknowledgement (`body` as JSON) as `s`.
    async fn kvitter_mange(
        &self,
        s: &System,
        token: &str,
        dueslag: Uuid,
        body: Value,
    ) -> (u16, Value) {
        let r = common::tls_client(&self.handle().state.ca, Some(&s.cert), self.https_addr)
            .post(format!(
                "{}/beskedfordeler/dueslag/{dueslag}/kvitter",
                self.https()
            ))
            .header("authorization", format!("Holder-of-key {token}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

fn besked_ids(v: &Value) -> Vec<Uuid> {
    v["beskeder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["beskedId"].as_str().unwrap().parse().unwrap())
        .collect()
}

async fn afsend_fordeling_og_pull(backend: Backend) {
    let Some(mut env) = Env::start(backend).await else {
        return;
    };
    let afsender = env.system("Afsender", CVR_A).await;
    let modtager = env.system("Modtager", CVR_A).await;
    let uden_aftale = env.system("Modtager uden aftale", CVR_A).await;
    env.agreement(&afsender, BFO_AFSEND, CVR_A).await;
    env.agreement(&modtager, BFO_MODTAG, CVR_A).await;
    let d = env
        .pull_dueslag(&modtager, CVR_A, &format!("beskedtype = \"{BESKEDTYPE}\""))
        .await;
    let d_alle = env
        .pull_dueslag(
            &modtager,
            CVR_A,
            "objektregistrering.opgaveemne ^= \"urn:oio:kle:32\"",
        )
        .await;
    // a receiver without a bfo_modtag agreement gets nothing, whatever it subscribes to
    let d_uden = env.pull_dueslag(&uden_aftale, CVR_A, "TRUE").await;
    // a receiver in another myndighed gets nothing from CVR A's messages
    let anden = env.system("Anden kommune", CVR_B).await;
    env.agreement(&anden, BFO_MODTAG, CVR_B).await;
    let d_b = env.pull_dueslag(&anden, CVR_B, "TRUE").await;

    let tok = env.token(&afsender, BFO_AFSEND, CVR_A);
    let mut sendt = Vec::new();
    for _ in 0..5 {
        let id = Uuid::new_v4();
        let (s, r) = env
            .afsend(Some(&afsender), Some(&tok), besked(id, CVR_A, "0101011234"))
            .await;
        assert_eq!((s, r.status_kode), (200, 20), "{r:?}");
        sendt.push(id);
    }
    // TilladtModtager names another CVR: accepted, but nobody here receives it
    let (s, r) = env
        .afsend(
            Some(&afsender),
            Some(&tok),
            besked(Uuid::new_v4(), CVR_B, "0101011234"),
        )
        .await;
    assert_eq!((s, r.status_kode), (200, 20));

    let mtok = env.token(&modtager, BFO_MODTAG, CVR_A);
    let (s, v) = env.hent(&modtager, &mtok, d, 100).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(besked_ids(&v), sendt, "in the order sent");
    let (_, v_alle) = env.hent(&modtager, &mtok, d_alle, 100).await;
    assert_eq!(besked_ids(&v_alle), sendt);
    let utok = env.token(&uden_aftale, BFO_MODTAG, CVR_A);
    // it cannot even read its dueslag without an agreement
    let (s, _) = env.hent(&uden_aftale, &utok, d_uden, 100).await;
    assert_eq!(s, 403);
    let st = &env.handle().state.beskedfordeler.store;
    assert_eq!(st.status(d_uden, i64::MAX).await.unwrap().klar, 0);
    assert_eq!(st.status(d_b, i64::MAX).await.unwrap().klar, 0);

    // the message handed out carries the Beskedfordeler's Leverancerute
    let forste = &v["beskeder"][0];
    let h = Haendelsesbesked::parse(forste["haendelsesbesked"].as_str().unwrap()).unwrap();
    let ruter = h.beskedkuvert.leveranceinformation.leveranceruter.unwrap();
    let rute = ruter.last().unwrap();
    assert_eq!(
        rute.lokal_udvidelse
            .as_ref()
            .unwrap()
            .antal_leveranceforsoeg,
        Some(1)
    );
    assert!(rute.modtagelses_tidspunkt.is_some() && rute.leverance_tidspunkt.is_some());
    assert_eq!(rute.modtaget_fra_system, Some(afsender.uuid));

    // someone else's dueslag does not exist for the caller
    let btok = env.token(&anden, BFO_MODTAG, CVR_B);
    let (s, _) = env.hent(&anden, &btok, d, 1).await;
    assert_eq!(s, 404);

    // at least once: the head stays until acknowledged; acknowledged, the next one is head
    let (_, v1) = env.hent(&modtager, &mtok, d, 1).await;
    assert_eq!(besked_ids(&v1), vec![sendt[0]]);
    let loebenr = v1["beskeder"][0]["loebenr"].as_i64().unwrap();
    assert_eq!(
        env.kvitter(&modtager, &mtok, d, loebenr, "kvitter").await,
        204
    );
    assert_eq!(
        env.kvitter(&modtager, &mtok, d, loebenr, "kvitter").await,
        404
    );
    let (_, v2) = env.hent(&modtager, &mtok, d, 1).await;
    assert_eq!(besked_ids(&v2), vec![sendt[1]]);
    // the receiver gives up on one: it goes to the fejlkø, the next is head
    let loebenr = v2["beskeder"][0]["loebenr"].as_i64().unwrap();
    assert_eq!(
        env.kvitter(&modtager, &mtok, d, loebenr, "fejlkoe").await,
        204
    );
    let (s, fk) = env
        .admin(
            reqwest::Method::GET,
            &format!("/admin/beskedfordeler/dueslag/{d}/fejlkoe"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(fk["fejlkoe"][0]["beskedId"], sendt[1].to_string());

    // a restart loses nothing and keeps the order
    env.restart().await;
    let (_, v3) = env.hent(&modtager, &mtok, d, 100).await;
    assert_eq!(besked_ids(&v3), sendt[2..].to_vec());
    let (s, status) = env
        .admin(
            reqwest::Method::GET,
            &format!("/admin/beskedfordeler/dueslag/{d}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(status["status"]["klar"], 3);
    assert_eq!(status["status"]["kvitteret"], 1);
    assert_eq!(status["status"]["fejlkoe"], 1);

    // many acknowledged at once: those waiting are counted, the others skipped
    let (_, va) = env.hent(&modtager, &mtok, d_alle, 100).await;
    let nr: Vec<i64> = va["beskeder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["loebenr"].as_i64().unwrap())
        .collect();
    assert_eq!(nr.len(), sendt.len());
    let (s, v) = env
        .kvitter_mange(&modtager, &mtok, d_alle, json!({ "loebenr": nr[..3] }))
        .await;
    assert_eq!((s, v["kvitteret"].as_i64()), (200, Some(3)), "{v}");
    let (s, v) = env
        .kvitter_mange(
            &modtager,
            &mtok,
            d_alle,
            json!({ "loebenr": [nr[0], nr[3], 999_999] }),
        )
        .await;
    assert_eq!((s, v["kvitteret"].as_i64()), (200, Some(1)), "{v}");
    let (_, va) = env.hent(&modtager, &mtok, d_alle, 100).await;
    assert_eq!(besked_ids(&va), sendt[4..].to_vec());
    let (s, _) = env
        .kvitter_mange(&modtager, &mtok, d_alle, json!({ "nr": [1] }))
        .await;
    assert_eq!(s, 400);
    let (s, _) = env
        .kvitter_mange(
            &modtager,
            &mtok,
            d_alle,
            json!({ "loebenr": vec![1; 1001] }),
        )
        .await;
    assert_eq!(s, 400);
    // someone else's dueslag does not exist for the caller
    let (s, _) = env
        .kvitter_mange(&anden, &btok, d_alle, json!({ "loebenr": [nr[4]] }))
        .await;
    assert_eq!(s, 404);
    env.finish().await;
}

#[tokio::test]
async fn afsend_fordeling_og_pull_sqlite() {
    afsend_fordeling_og_pull(Backend::Sqlite).await;
}

#[tokio::test]
async fn afsend_fordeling_og_pull_postgres() {
    afsend_fordeling_og_pull(Backend::Postgres).await;
}

/// `vent` makes a pull of an empty dueslag a long poll: it answers when a message arrives, or
/// empty when the time is up.
#[tokio::test]
async fn pull_with_vent_waits_for_the_next_message() {
    let Some(env) = Env::start(Backend::Sqlite).await else {
        return;
    };
    let (afsender, modtager) = env.afsender_og_modtager().await;
    let d = env.pull_dueslag(&modtager, CVR_A, "TRUE").await;
    let tok = env.token(&afsender, BFO_AFSEND, CVR_A);
    let mtok = env.token(&modtager, BFO_MODTAG, CVR_A);

    // Empty and nothing comes: an empty list, after the wait.
    let t = std::time::Instant::now();
    let (s, v) = env.hent_q(&modtager, &mtok, d, "antal=10&vent=300").await;
    assert_eq!(s, 200, "{v}");
    assert!(besked_ids(&v).is_empty());
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );

    // A message sent while the pull waits answers it at once, long before the wait is over.
    let id = Uuid::new_v4();
    let t = std::time::Instant::now();
    let (hentet, sendt) = tokio::join!(
        env.hent_q(&modtager, &mtok, d, "antal=10&vent=20000"),
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            env.afsend(Some(&afsender), Some(&tok), besked(id, CVR_A, "0101011234"))
                .await
        }
    );
    assert_eq!((sendt.0, sendt.1.status_kode), (200, 20));
    assert_eq!(hentet.0, 200, "{}", hentet.1);
    assert_eq!(besked_ids(&hentet.1), vec![id]);
    let ventet = t.elapsed();
    assert!(
        ventet >= Duration::from_millis(300) && ventet < Duration::from_secs(10),
        "{ventet:?}"
    );

    // Not empty: no waiting at all.
    let t = std::time::Instant::now();
    let (_, v) = env.hent_q(&modtager, &mtok, d, "vent=20000").await;
    assert_eq!(besked_ids(&v), vec![id]);
    assert!(t.elapsed() < Duration::from_secs(10));

    for q in ["vent=30001", "vent=-1", "vent=x"] {
        let (s, v) = env.hent_q(&modtager, &mtok, d, q).await;
        assert_eq!(s, 400, "{q}: {v}");
    }
    env.finish().await;
}

/// The pull routes remember a dueslag they looked up; a local change, or a second, ends that
/// (a dueslag removed by another process).
#[tokio::test]
async fn pull_sees_a_removed_dueslag_after_a_change_or_a_second() {
    let Some(env) = Env::start(Backend::Sqlite).await else {
        return;
    };
    let (_, modtager) = env.afsender_og_modtager().await;
    let mtok = env.token(&modtager, BFO_MODTAG, CVR_A);
    let bf = &env.handle().state.beskedfordeler;
    for lokal in [true, false] {
        let d = env.pull_dueslag(&modtager, CVR_A, "TRUE").await;
        let (s, v) = env.hent(&modtager, &mtok, d, 1).await;
        assert_eq!(s, 200, "{v}");
        // Removed behind the server's back, as another process would.
        assert!(bf.store.slet_dueslag(d).await.unwrap());
        if lokal {
            bf.changed();
        } else {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        let (s, v) = env.hent(&modtager, &mtok, d, 1).await;
        assert_eq!(s, 404, "local change {lokal}: {v}");
    }
    env.finish().await;
}

async fn refusals_and_duplicates(backend: Backend) {
    let Some(env) = Env::start(backend).await else {
        return;
    };
    let (afsender, modtager) = env.afsender_og_modtager().await;
    let d = env.pull_dueslag(&modtager, CVR_A, "TRUE").await;
    let tok = env.token(&afsender, BFO_AFSEND, CVR_A);

    // no token: 41
    let (s, r) = env
        .afsend(
            Some(&afsender),
            None,
            besked(Uuid::new_v4(), CVR_A, "0101011234"),
        )
        .await;
    assert_eq!((s, r.status_kode), (401, 41), "{r:?}");
    // a token for CVR B, where the sender has no agreement: 41
    let tok_b = env.token(&afsender, BFO_AFSEND, CVR_B);
    let (s, r) = env
        .afsend(
            Some(&afsender),
            Some(&tok_b),
            besked(Uuid::new_v4(), CVR_A, "0101011234"),
        )
        .await;
    assert_eq!(r.status_kode, 41, "{s} {r:?}");
    // a token for another service: 41
    let tok_modtag = env.token(&afsender, BFO_MODTAG, CVR_A);
    let (_, r) = env
        .afsend(
            Some(&afsender),
            Some(&tok_modtag),
            besked(Uuid::new_v4(), CVR_A, "0101011234"),
        )
        .await;
    assert_eq!(r.status_kode, 41, "{r:?}");
    // not a message: 40, naming what is wrong
    let (s, r) = env.afsend(Some(&afsender), Some(&tok), "<x/>".into()).await;
    assert_eq!((s, r.status_kode), (400, 40));
    assert!(
        r.fejlbesked_tekst
            .as_deref()
            .unwrap()
            .contains("Haendelsesbesked"),
        "{r:?}"
    );
    let bad_cpr = besked(Uuid::new_v4(), CVR_A, "12345");
    let (_, r) = env.afsend(Some(&afsender), Some(&tok), bad_cpr).await;
    assert_eq!(r.status_kode, 40);
    assert!(
        r.fejlbesked_tekst.as_deref().unwrap().contains("cpr"),
        "{r:?}"
    );
    // a DTD is refused before anything else
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
        besked(Uuid::new_v4(), CVR_A, "0101011234")
            .split_once("?>")
            .unwrap()
            .1
    );
    let (_, r) = env.afsend(Some(&afsender), Some(&tok), xxe).await;
    assert_eq!(r.status_kode, 40, "{r:?}");
    // too large: 44
    let big = format!(
        "{}<!--{}-->",
        besked(Uuid::new_v4(), CVR_A, "0101011234"),
        "x".repeat(5 * 1024 * 1024)
    );
    let (s, r) = env.afsend(Some(&afsender), Some(&tok), big).await;
    assert_eq!((s, r.status_kode), (413, 44), "{r:?}");
    // none of those reached the dueslag
    let st = &env.handle().state.beskedfordeler.store;
    assert_eq!(st.status(d, i64::MAX).await.unwrap().klar, 0);

    // the same BeskedId twice (a sender retrying): 20 both times, delivered once
    let id = Uuid::new_v4();
    for _ in 0..2 {
        let (s, r) = env
            .afsend(Some(&afsender), Some(&tok), besked(id, CVR_A, "0101011234"))
            .await;
        assert_eq!((s, r.status_kode), (200, 20));
    }
    assert_eq!(st.status(d, i64::MAX).await.unwrap().klar, 1);
    let m = &env.handle().state.beskedfordeler.metrics;
    assert_eq!(m.duplicates.load(std::sync::atomic::Ordering::Relaxed), 1);
    env.finish().await;
}

#[tokio::test]
async fn refusals_and_duplicates_sqlite() {
    refusals_and_duplicates(Backend::Sqlite).await;
}

#[tokio::test]
async fn refusals_and_duplicates_postgres() {
    refusals_and_duplicates(Backend::Postgres).await;
}

/// A Værdiliste change takes effect on the very next message; stopping and starting an
/// abonnement likewise.
#[tokio::test]
async fn vaerdiliste_and_abonnement_changes_take_effect_at_once() {
    let env = Env::start(Backend::Sqlite).await.unwrap();
    let afsender = env.system("CPR-kilde", CVR_A).await;
    let modtager = env.system("Fagsystem", CVR_A).await;
    env.agreement(&afsender, BFO_AFSEND, CVR_A).await;
    env.agreement(&modtager, BFO_MODTAG, CVR_A).await;
    let (s, l) = env
        .admin(
            reqwest::Method::POST,
            "/admin/beskedfordeler/vaerdilister",
            Some(json!({"navn": "mine borgere", "ejer": modtager.uuid.to_string(), "vaerdier": ["urn:oio:cpr-nr:0101011111"]})),
        )
        .await;
    assert_eq!(s, 201, "{l}");
    let liste = l["uuid"].as_str().unwrap().to_owned();
    let d = env
        .pull_dueslag(
            &modtager,
            CVR_A,
            &format!("relateretobjekt.objektid IN vaerdiliste(\"{liste}\")"),
        )
        .await;
    let tok = env.token(&afsender, BFO_AFSEND, CVR_A);
    let send = |cpr: &'static str| {
        let body = besked(Uuid::new_v4(), CVR_A, cpr);
        let (env, afsender, tok) = (&env, &afsender, &tok);
        async move {
            let (_, r) = env.afsend(Some(afsender), Some(tok), body).await;
            assert_eq!(r.status_kode, 20);
        }
    };
    let klar = || async {
        env.handle()
            .state
            .beskedfordeler
            .store
            .status(d, i64::MAX)
            .await
            .unwrap()
            .klar
    };
    send("0101011111").await;
    send("0202022222").await;
    assert_eq!(klar().await, 1);
    let (s, _) = env
        .admin(
            reqwest::Method::POST,
            &format!("/admin/beskedfordeler/vaerdilister/{liste}/vaerdier"),
            Some(json!({"vaerdier": ["urn:oio:cpr-nr:0202022222"]})),
        )
        .await;
    assert_eq!(s, 200);
    send("0202022222").await;
    assert_eq!(klar().await, 2);
    // stop the abonnement: nothing more arrives; start it: it does again
    let (_, a) = env
        .admin(
            reqwest::Method::GET,
            &format!("/admin/beskedfordeler/abonnementer?dueslag={d}"),
            None,
        )
        .await;
    let abonnement = a["abonnementer"][0]["uuid"].as_str().unwrap().to_owned();
    let aktiv_sti = format!("/admin/beskedfordeler/abonnementer/{abonnement}/aktiv");
    let aktiv = |on: bool| {
        env.admin(
            reqwest::Method::POST,
            &aktiv_sti,
            Some(json!({"aktiv": on})),
        )
    };
    assert_eq!(aktiv(false).await.0, 200);
    send("0101011111").await;
    assert_eq!(klar().await, 2);
    assert_eq!(aktiv(true).await.0, 200);
    send("0101011111").await;
    assert_eq!(klar().await, 3);
    env.finish().await;
}

#[tokio::test]
async fn admin_refuses_bad_dueslag_and_filters() {
    let env = Env::start(Backend::Sqlite).await.unwrap();
    let modtager = env.system("Fagsystem", CVR_A).await;
    let post = |path: &'static str, body: Value| env.admin(reqwest::Method::POST, path, Some(body));
    let ejer = modtager.uuid.to_string();
    let (s, v) = post(
        "/admin/beskedfordeler/dueslag",
        json!({"navn": "x", "ejer": ejer, "myndighed": "123", "levering": "pull"}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = post(
        "/admin/beskedfordeler/dueslag",
        json!({"navn": "x", "ejer": ejer, "myndighed": CVR_A, "levering": "push"}),
    )
    .await;
    assert_eq!(s, 400, "push without callbackUrl");
    let (s, _) = post("/admin/beskedfordeler/dueslag", json!({"navn": "x", "ejer": Uuid::new_v4().to_string(), "myndighed": CVR_A, "levering": "pull"})).await;
    assert_eq!(s, 404, "unknown system");
    let d = env.pull_dueslag(&modtager, CVR_A, "TRUE").await;
    let (s, v) = post(
        "/admin/beskedfordeler/abonnementer",
        json!({"dueslag": d, "filter": "beskedtype = "}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(v["detail"].as_str().unwrap().starts_with("filter:"), "{v}");
    let (s, _) = post("/admin/beskedfordeler/abonnementer", json!({"dueslag": d, "filter": format!("beskedtype IN vaerdiliste(\"{}\")", Uuid::new_v4())})).await;
    assert_eq!(s, 400, "unknown Værdiliste");
    let (s, _) = post(
        "/admin/beskedfordeler/abonnementer",
        json!({"dueslag": Uuid::new_v4(), "filter": "TRUE"}),
    )
    .await;
    assert_eq!(s, 404);
    // the JSON form is accepted as well, and shown in both forms
    let (s, v) = post(
        "/admin/beskedfordeler/abonnementer",
        json!({"dueslag": d, "filter": {"field": "beskedtype", "eq": BESKEDTYPE}}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert!(
        v["filterTekst"].as_str().unwrap().contains(BESKEDTYPE),
        "{v}"
    );
    // without the admin token: refused
    let r = reqwest::Client::new()
        .get(format!(
            "{}/admin/beskedfordeler/dueslag",
            env.handle().url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    env.finish().await;
}

#[tokio::test]
async fn metrics_count_messages_and_show_each_dueslag() {
    let env = Env::start(Backend::Sqlite).await.unwrap();
    let (afsender, modtager) = env.afsender_og_modtager().await;
    let d = env.pull_dueslag(&modtager, CVR_A, "TRUE").await;
    let tok = env.token(&afsender, BFO_AFSEND, CVR_A);
    let id = Uuid::new_v4();
    for body in [
        besked(id, CVR_A, "0101011234"),
        besked(id, CVR_A, "0101011234"),
        besked(Uuid::new_v4(), CVR_A, "0101011234"),
        "<x/>".to_owned(),
    ] {
        env.afsend(Some(&afsender), Some(&tok), body).await;
    }
    let h = env.handle();
    let get = |auth: bool| {
        let mut r = reqwest::Client::new().get(format!("{}/metrics", h.url()));
        if auth {
            r = r.bearer_auth(h.state.admin_token.as_ref());
        }
        r.send()
    };
    assert_eq!(get(false).await.unwrap().status().as_u16(), 401);
    let r = get(true).await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(line("fki_beskedfordeler_accepted_total "), "2");
    assert_eq!(line("fki_beskedfordeler_duplicates_total "), "1");
    assert_eq!(line("fki_beskedfordeler_distributed_total "), "2");
    assert_eq!(line("fki_beskedfordeler_refused_total "), "1");
    assert_eq!(
        line(&format!(
            "fki_beskedfordeler_dueslag_depth{{dueslag=\"{d}\""
        )),
        "2"
    );
    // every token was verified once in full and then answered from the cache
    assert_eq!(line("fki_sts_assertion_verifications_total "), "1");
    assert_eq!(line("fki_sts_assertion_cache_hits_total "), "3");
    env.finish().await;
}

/// The operator's test message: sent through the real distribution, answered with the
/// receiving dueslag.
#[tokio::test]
async fn admin_test_message_reaches_exactly_the_matching_dueslag() {
    let env = Env::start(Backend::Sqlite).await.unwrap();
    let modtager = env.system("Modtager", CVR_A).await;
    env.agreement(&modtager, BFO_MODTAG, CVR_A).await;
    let kle = env
        .pull_dueslag(
            &modtager,
            CVR_A,
            "objektregistrering.opgaveemne ^= \"urn:oio:kle:27\"",
        )
        .await;
    let cpr = env
        .pull_dueslag(
            &modtager,
            CVR_A,
            "relateretobjekt.objektid = \"urn:oio:cpr-nr:0101011234\"",
        )
        .await;
    let send = |body: Value| {
        env.admin(
            reqwest::Method::POST,
            "/admin/beskedfordeler/testbesked",
            Some(body),
        )
    };
    let (s, v) = send(json!({"myndighed": CVR_A, "opgaveemne": "urn:oio:kle:27.35.04"})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["statusKode"], 20);
    assert_eq!(v["dueslag"], json!([kle]));
    let (_, v) = send(json!({"myndighed": CVR_A, "objektId": "urn:oio:cpr-nr:0101011234", "opgaveemne": "urn:oio:kle:27.01"})).await;
    let mut both = vec![kle.to_string(), cpr.to_string()];
    both.sort();
    assert_eq!(v["dueslag"], json!(both));
    let (_, v) = send(json!({"myndighed": CVR_B, "opgaveemne": "urn:oio:kle:27.35"})).await;
    assert_eq!(v["dueslag"], json!([]));
    let st = &env.handle().state.beskedfordeler.store;
    assert_eq!(st.status(kle, i64::MAX).await.unwrap().klar, 2);
    assert_eq!(st.status(cpr, i64::MAX).await.unwrap().klar, 1);
    let (s, v) = send(json!({"myndighed": "12"})).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = send(json!({"myndighed": CVR_A, "objektId": "urn:oio:cpr-nr:12"})).await;
    assert_eq!(s, 400, "{v}");
    env.finish().await;
}
