//! The observed compliance checks (issue 8 items 3 and 6) with two scripted vendor systems on a
//! secure server: one well-behaved for I-02 and I-04 (tokens on every call, a filtered
//! subscription it stops and starts, events pulled and acknowledged, index writes with valid
//! references) passes every check; one that calls without a token, subscribes to everything and
//! writes a reference to an unknown class fails exactly those checks, with evidence.

mod common;

use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use fki_server::beskedfordeler::BFO_MODTAG;
use fki_server::sts::ENTITY_SAGDOKUMENTINDEKS;
use fki_server::{Config, ServerHandle};
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

const CVR: &str = "11111111";
const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";

fn fixture(navn: &str) -> String {
    let t = std::fs::read_to_string(format!(
        "{}/tests/fixtures/sf1470/{navn}",
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
        for e in [ENTITY_SAGDOKUMENTINDEKS, BFO_MODTAG] {
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

    /// A SOAP request to the index, signed with a token, or (`signeret` false) with none.
    async fn indeks(&self, s: &System, payload: &str, signeret: bool) -> (u16, String) {
        let envelope = format!(
            "<soap:Envelope xmlns:soap=\"{SOAP11}\"><soap:Header>\
<Action xmlns=\"http://www.w3.org/2005/08/addressing\">http://kombit.dk/sts/sagdokumentindeks/importer</Action>\
<MessageID xmlns=\"http://www.w3.org/2005/08/addressing\">urn:uuid:{}</MessageID>\
<To xmlns=\"http://www.w3.org/2005/08/addressing\">https://localhost/sagdokumentindeks/6</To>\
</soap:Header><soap:Body>{payload}</soap:Body></soap:Envelope>",
            Uuid::new_v4()
        );
        let body = if signeret {
            fki_sts::wssec::sign_service_request(
                &envelope,
                &self.assertion(s, ENTITY_SAGDOKUMENTINDEKS),
                s.cert.key_pem(),
                Utc::now(),
            )
            .unwrap()
        } else {
            envelope
        };
        let r = self
            .client(s)
            .post(self.https("/sagdokumentindeks/6"))
            .header("content-type", "text/xml; charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
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
    // … valid index writes with a token …
    let (st, svar) = env.indeks(&god, &fixture("importer-begge.xml"), true).await;
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

    // The records are written in the background.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let g = env.kontroller(&god).await;
    for (k, u) in &g {
        if k == "KLASSIFIKATION_ABONNEMENT" {
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
        ["TOKEN", "FILTER", "INDEKS_KLASSE", "INDEKS_REGLER"],
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
    assert!(
        tekst.contains("4444ffff-11aa-22bb-33cc-111111aaaaaa"),
        "{tekst}"
    );
    let token_bevis = &v["kontroller"][0]["beviser"][0];
    assert!(
        token_bevis["id"].as_i64().is_some() && token_bevis["tid"].is_string(),
        "{v}"
    );
    let _ = tokio::time::timeout(Duration::from_secs(10), env.h.shutdown()).await;
}
