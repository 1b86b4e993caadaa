//! Sags- og dokumentindeks (SF1470 v6, issue 6) on a secure server, over HTTPS with WS-Security
//! as a vendor's client sends it: KOMBIT-shaped requests (`tests/fixtures/sf1470/`, valid
//! against KOMBIT's schemas, checked again here with `xmllint`) and every answer validated with
//! `xmllint` too. Covered: import of a Sag and a Dokument with references to fki's own
//! Organisation and Klassifikation objects; fremsoeg by CPR (OR over sager and documents) and
//! with NOT; the rules refusing a write and naming each missing UUID, storing nothing; the
//! owner alone changing, deleting and removing an entry; readers limited to their myndighed
//! and their agreement's Foelsomhed; the validation endpoint; change events in a subscriber's
//! dueslag.

mod common;

use chrono::Utc;
use fki_server::beskedfordeler::BFO_MODTAG;
use fki_server::sts::ENTITY_SAGDOKUMENTINDEKS;
use fki_server::{Config, ServerHandle};
use fki_store::adgang::Dataafgraensning;
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec};
use serde_json::json;
use uuid::Uuid;

const CVR: &str = "11111111";
const ANDEN_CVR: &str = "22222222";
const SD: &str = "urn:oio:sagdok:3.0.0";
const XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sf1470/alle.xsd"
);
const SAG: &str = "1111bbbb-11aa-22bb-33cc-111111aaaaaa";
const DOK: &str = "2222bbbb-11aa-22bb-33cc-111111aaaaaa";

/// A fixture's operation element, without the XML declaration and comments around it.
fn fixture(navn: &str) -> String {
    let t = std::fs::read_to_string(format!(
        "{}/tests/fixtures/sf1470/{navn}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let doc = roxmltree::Document::parse(&t).unwrap();
    t[doc.root_element().range()].to_owned()
}

use common::{soap11_body as body_element, texts};

fn statuskoder(svar: &str) -> Vec<String> {
    texts(svar, SD, "StatusKode")
}

struct Env {
    handle: Option<ServerHandle>,
    _dir: tempfile::TempDir,
}

struct System {
    uuid: Uuid,
    cert: Issued,
}

impl Env {
    async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let handle = fki_server::start(Config::for_test_secure(dir.path().to_path_buf(), None))
            .await
            .unwrap();
        Env {
            handle: Some(handle),
            _dir: dir,
        }
    }

    fn h(&self) -> &ServerHandle {
        self.handle.as_ref().unwrap()
    }

    async fn system(&self, name: &str, cvr: &str, afgr: Vec<Dataafgraensning>) -> System {
        let st = &self.h().state;
        let (uuid, cert) = common::register_system(st.adgang.as_ref(), &st.ca, name, cvr).await;
        common::active_agreement(
            st.adgang.as_ref(),
            uuid,
            ENTITY_SAGDOKUMENTINDEKS,
            cvr,
            vec![],
            afgr,
        )
        .await;
        System { uuid, cert }
    }

    /// The Organisation and Klassifikation objects the fixtures reference, owned by `CVR`.
    async fn referencer(&self) {
        for (service, klasse, uuid, felter) in [
            (
                "organisation",
                "organisation",
                "3333aaaa-11aa-22bb-33cc-111111aaaaaa",
                json!({}),
            ),
            (
                "organisation",
                "organisationenhed",
                "1111aaaa-11aa-22bb-33cc-111111aaaaaa",
                json!({"enhedsnavn": "Forebyggelsesteamet"}),
            ),
            (
                "organisation",
                "bruger",
                "9999aaaa-11aa-22bb-33cc-111111aaaaaa",
                json!({"brugernavn": "Ulla Jakobsen"}),
            ),
            (
                "organisation",
                "itsystem",
                "ba537e12-8b0c-44b1-9de7-f75803a4e091",
                json!({"itsystemnavn": "STS testklient 29"}),
            ),
            (
                "klassifikation",
                "klasse",
                "4444aaaa-11aa-22bb-33cc-111111aaaaaa",
                json!({"titel": "Forebyggende hjemmebesøg"}),
            ),
            (
                "klassifikation",
                "klasse",
                "5555aaaa-11aa-22bb-33cc-111111aaaaaa",
                json!({"titel": "Sagsbehandling"}),
            ),
        ] {
            common::oio_objekt(self.h(), CVR, service, klasse, uuid, felter).await;
        }
    }

    /// POST `payload` in a signed SOAP 1.1 envelope to `path` as `s` for `cvr` → the answer
    /// element (validated against KOMBIT's schemas).
    async fn soap(&self, path: &str, s: &System, cvr: &str, payload: &str) -> String {
        common::xmllint(XSD, payload);
        let (status, text) = common::soap11(
            self.h(),
            &s.cert,
            common::Soap11 {
                path,
                to: None,
                action: "http://kombit.dk/sts/sagdokumentindeks/x",
                header: "",
                token: Some((ENTITY_SAGDOKUMENTINDEKS, cvr)),
                payload,
            },
        )
        .await;
        assert_eq!(status, 200, "{text}");
        let svar = body_element(&text);
        common::xmllint(XSD, &svar);
        svar
    }

    async fn sdi(&self, s: &System, payload: &str) -> String {
        self.soap("/sagdokumentindeks/6", s, CVR, payload).await
    }

    /// The sager and documents a fremsoeg by the fixtures' CPR finds for `s` at `cvr`.
    async fn find_cpr(&self, s: &System, cvr: &str) -> (Vec<String>, Vec<String>) {
        let svar = self
            .soap("/sagdokumentindeks/6", s, cvr, &fixture("fremsoeg-cpr.xml"))
            .await;
        assert_eq!(statuskoder(&svar)[0], "20", "{svar}");
        let doc = roxmltree::Document::parse(&svar).unwrap();
        let ids = |el: &str| -> Vec<String> {
            doc.descendants()
                .filter(|n| n.tag_name().name() == el)
                .map(|n| {
                    n.descendants()
                        .find(|c| c.has_tag_name((SD, "UUIDIdentifikator")))
                        .and_then(|c| c.text())
                        .unwrap_or("")
                        .to_owned()
                })
                .collect()
        };
        (
            ids("SagFiltreretOejebliksbillede"),
            ids("DokumentFiltreretOejebliksbillede"),
        )
    }

    /// `GET /indeks/overblik/{part}` as `s` (REST, holder-of-key token for the index).
    async fn overblik(&self, s: &System, part: &str, tid: Option<&str>) -> serde_json::Value {
        use base64::Engine;
        let a = saml::issue_assertion(&AssertionSpec::new(
            &self.h().state.sts.key,
            s.cert.cert_der(),
            ENTITY_SAGDOKUMENTINDEKS,
            CVR,
            &PrivilegeList::for_cvr(CVR, &[]),
            Utc::now(),
        ))
        .unwrap();
        let token = base64::engine::general_purpose::STANDARD.encode(a.xml);
        let https = self.h().https_addr.unwrap();
        let mut url = reqwest::Url::parse(&format!(
            "https://localhost:{}/indeks/overblik/{part}",
            https.port()
        ))
        .unwrap();
        if let Some(t) = tid {
            url.query_pairs_mut().append_pair("registreringstid", t);
        }
        let r = common::tls_client(&self.h().state.ca, Some(&s.cert), https)
            .get(url)
            .header("authorization", format!("Holder-of-key {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.json().await.unwrap()
    }

    async fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), h.shutdown()).await;
        }
    }
}

#[tokio::test]
async fn import_and_fremsoeg_by_cpr_over_soap() {
    let env = Env::start().await;
    env.referencer().await;
    let a = env.system("Fagsystem A", CVR, vec![]).await;

    // A subscriber of the municipality's sag events.
    let modtager = env.system("Overblik", CVR, vec![]).await;
    common::active_agreement(
        env.h().state.adgang.as_ref(),
        modtager.uuid,
        BFO_MODTAG,
        CVR,
        vec![],
        vec![],
    )
    .await;
    let (s, d) = common::admin(
        env.h(),
        reqwest::Method::POST,
        "/admin/beskedfordeler/dueslag",
        Some(json!({"navn": "sager", "ejer": modtager.uuid.to_string(), "myndighed": CVR, "levering": "pull"})),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    let dueslag = d["uuid"].as_str().unwrap().to_owned();
    let (s, ab) = common::admin(
        env.h(),
        reqwest::Method::POST,
        "/admin/beskedfordeler/abonnementer",
        Some(json!({"dueslag": dueslag, "filter": "objektregistrering.objekttype = \"urn:oio:objekttype:sagindeks\""})),
    )
    .await;
    assert_eq!(s, 201, "{ab}");

    let svar = env.sdi(&a, &fixture("importer-begge.xml")).await;
    assert_eq!(statuskoder(&svar), ["20", "20"], "{svar}");
    assert_eq!(texts(&svar, SD, "Type"), ["DokumentIndeks", "SagIndeks"]);

    // A sag imported with UdenNotifikation is stored without an event.
    let stille = "3333bbbb-11aa-22bb-33cc-111111aaaaaa";
    let stille_svar = env
        .sdi(
            &a,
            &fixture("importer-sag.xml")
                .replace(SAG, stille)
                .replace("0123456789", "1212121212")
                .replace(
                    "</sdi:SagIndeks>",
                    "<sag:UdenNotifikation>true</sag:UdenNotifikation></sdi:SagIndeks>",
                ),
        )
        .await;
    assert_eq!(statuskoder(&stille_svar), ["20"], "{stille_svar}");
    assert_eq!(
        env.overblik(&a, "1212121212", None).await["sager"][0]["id"],
        stille
    );

    // The sag's import is an event in the subscriber's dueslag (the document's is not, nor
    // the silent one's).
    assert!(
        env.h()
            .state
            .haendelser
            .toem(std::time::Duration::from_secs(20))
            .await
    );
    let token = {
        use base64::Engine;
        let a = saml::issue_assertion(&AssertionSpec::new(
            &env.h().state.sts.key,
            modtager.cert.cert_der(),
            BFO_MODTAG,
            CVR,
            &PrivilegeList::for_cvr(CVR, &[]),
            Utc::now(),
        ))
        .unwrap();
        base64::engine::general_purpose::STANDARD.encode(a.xml)
    };
    let https = env.h().https_addr.unwrap();
    let r = common::tls_client(&env.h().state.ca, Some(&modtager.cert), https)
        .get(format!(
            "https://localhost:{}/beskedfordeler/dueslag/{dueslag}/beskeder?antal=100",
            https.port()
        ))
        .header("authorization", format!("Holder-of-key {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let beskeder: Vec<String> = v["beskeder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["haendelsesbesked"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(beskeder.len(), 1, "{v}");
    assert!(beskeder[0].contains(SAG) && beskeder[0].contains("urn:oio:objekthandling:importer"));
    assert_eq!(texts(&svar, SD, "UUIDIdentifikator"), [DOK, SAG]);

    let (sager, dokumenter) = env.find_cpr(&a, CVR).await;
    assert_eq!(sager, [SAG]);
    assert_eq!(dokumenter, [DOK]);
    // The Filter shows the sag's egenskaber and parts, not its other relations.
    let svar = env.sdi(&a, &fixture("fremsoeg-cpr.xml")).await;
    assert!(svar.contains("2020-123456789"), "{svar}");
    assert!(svar.contains("urn:oio:cpr-nr:0123456789"), "{svar}");
    assert!(!svar.contains("Sagsklasse>"), "{svar}");
    assert!(
        svar.contains("Godtfred Lund"),
        "the part's LokalUdvidelse comes back: {svar}"
    );

    // AND NOT: the sager of the class that are not closed (this one and the silent one);
    // after opdater closes this one, it is excluded.
    let svar = env.sdi(&a, &fixture("fremsoeg-not.xml")).await;
    assert_eq!(
        texts(&svar, "urn:oio:sts:sagdok:sagdokumentindeks:6", "Antal")
            .iter()
            .filter(|t| !t.trim().is_empty())
            .cloned()
            .collect::<Vec<_>>(),
        ["2"],
        "{svar}"
    );
    // The per-citizen overview, now and as registered before the opdater.
    let foer = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // The Titel in effect from now on (the entry whose virkning runs to infinity).
    let titel = |v: &serde_json::Value| {
        v["sager"][0]["registreringer"][0]["attributter"]["sagindeksegenskaber"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["virkning"]["to"] == "infinity")
            .and_then(|e| e["titel"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let v = env.overblik(&a, "0123456789", None).await;
    assert_eq!(v["part"], "urn:oio:cpr-nr:0123456789");
    assert_eq!(v["sager"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["dokumenter"][0]["id"], DOK, "{v}");
    assert_eq!(v["sager"][0]["system"], a.uuid.to_string(), "{v}");
    let titel_foer = titel(&v);
    assert!(!titel_foer.is_empty(), "{v}");
    assert!(
        v["sager"][0]["registreringer"][0]["attributter"]
            .get("sagindeksejer")
            .is_none()
    );

    let svar = env.sdi(&a, &fixture("opdater-sag.xml")).await;
    assert_eq!(statuskoder(&svar), ["20"], "{svar}");
    let nu = env.overblik(&a, "0123456789", None).await;
    assert_ne!(titel(&nu), titel_foer, "opdater changed the Titel: {nu}");
    let da = env
        .overblik(&a, "0123456789", Some(&foer.to_rfc3339()))
        .await;
    assert_eq!(titel(&da), titel_foer, "as registered before: {da}");
    assert_eq!(
        env.overblik(&a, "0987654321", None).await["sager"],
        serde_json::json!([])
    );
    let svar = env.sdi(&a, &fixture("fremsoeg-not.xml")).await;
    assert!(
        !svar.contains(SAG),
        "a closed sag is excluded by the NOT: {svar}"
    );
    env.finish().await;
}

#[tokio::test]
async fn the_rules_refuse_naming_every_missing_uuid_and_store_nothing() {
    let env = Env::start().await;
    let a = env.system("Fagsystem A", CVR, vec![]).await;
    let svar = env.sdi(&a, &fixture("importer-sag.xml")).await;
    assert_eq!(statuskoder(&svar), ["40"], "{svar}");
    let tekst = texts(&svar, SD, "FejlbeskedTekst").join(" ");
    for (regel, uuid) in [
        ("SDI-REF-KLASSE", "4444aaaa-11aa-22bb-33cc-111111aaaaaa"),
        ("SDI-REF-KLASSE", "5555aaaa-11aa-22bb-33cc-111111aaaaaa"),
        ("SDI-REF-ORG", "1111aaaa-11aa-22bb-33cc-111111aaaaaa"),
        ("SDI-REF-ORG", "9999aaaa-11aa-22bb-33cc-111111aaaaaa"),
        ("SDI-REF-ITSYSTEM", "ba537e12-8b0c-44b1-9de7-f75803a4e091"),
        ("SDI-JOURNALPOST", DOK),
    ] {
        assert!(
            tekst.contains(regel) && tekst.contains(uuid),
            "{regel} {uuid}: {tekst}"
        );
    }
    let (sager, _) = env.find_cpr(&a, CVR).await;
    assert!(sager.is_empty(), "nothing was stored");

    // The validation endpoint lists the same, and nothing once the references exist.
    let valider = |body: String| {
        let h = env.h();
        async move {
            let r = reqwest::Client::new()
                .post(format!("{}/admin/valider/sf1470?myndighed={CVR}", h.url()))
                .bearer_auth(h.state.admin_token.as_ref())
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let v = valider(fixture("importer-sag.xml")).await;
    assert_eq!(v["gyldig"], false);
    let regler: Vec<&str> = v["brud"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["regel"].as_str().unwrap())
        .collect();
    assert!(
        regler.contains(&"SDI-REF-KLASSE") && regler.contains(&"SDI-JOURNALPOST"),
        "{v}"
    );
    env.referencer().await;
    let v = valider(fixture("importer-begge.xml")).await;
    assert_eq!(v["gyldig"], true, "{v}");
    // Without the document in the same request, the journalpost still points nowhere.
    let v = valider(fixture("importer-sag.xml")).await;
    assert_eq!(v["brud"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["brud"][0]["regel"], "SDI-JOURNALPOST");
    env.finish().await;
}

#[tokio::test]
async fn only_the_owner_changes_and_readers_see_their_myndighed_and_foelsomhed() {
    let env = Env::start().await;
    env.referencer().await;
    let a = env.system("Fagsystem A", CVR, vec![]).await;
    let b = env.system("Fagsystem B", CVR, vec![]).await;
    let c = env.system("Fagsystem C", ANDEN_CVR, vec![]).await;
    let ikke_fortrolig = env
        .system(
            "Overblik",
            CVR,
            vec![Dataafgraensning {
                navn: "Foelsomhed".into(),
                vaerdi: "IKKE_FORTROLIGE_DATA".into(),
            }],
        )
        .await;
    let svar = env.sdi(&a, &fixture("importer-begge.xml")).await;
    assert_eq!(statuskoder(&svar), ["20", "20"], "{svar}");

    // B may read but not change, remove, passivate or dispose of A's entries.
    assert_eq!(env.find_cpr(&b, CVR).await.0, [SAG]);
    for (sti, f) in [
        ("/sagdokumentindeks/6", "opdater-sag.xml"),
        ("/sagdokumentindeks/6", "fjern-sag.xml"),
        ("/sagindeks/6", "sagindeks-passiver.xml"),
        ("/sagindeks/6", "sagindeks-kasser.xml"),
        ("/dokumentindeks/6", "dokumentindeks-slet.xml"),
    ] {
        let svar = env.soap(sti, &b, CVR, &fixture(f)).await;
        assert_eq!(statuskoder(&svar), ["40"], "{f}: {svar}");
        assert!(svar.contains("SDI-EJER"), "{f}: {svar}");
    }
    // Another myndighed's system sees nothing; a reader limited to IKKE_FORTROLIGE_DATA does
    // not see the sag (FORTROLIGE_PERSONOPLYSNINGER) but does see the document.
    assert_eq!(env.find_cpr(&c, ANDEN_CVR).await, (vec![], vec![]));
    let (sager, dokumenter) = env.find_cpr(&ikke_fortrolig, CVR).await;
    assert!(sager.is_empty());
    assert_eq!(dokumenter, [DOK]);

    // The owner passivates the document, and removes the sag with its documents.
    let svar = env
        .soap(
            "/dokumentindeks/6",
            &a,
            CVR,
            &fixture("dokumentindeks-passiver.xml"),
        )
        .await;
    assert_eq!(statuskoder(&svar), ["20"], "{svar}");
    let svar = env.sdi(&a, &fixture("fjern-sag.xml")).await;
    assert_eq!(
        statuskoder(&svar),
        ["20"],
        "EfterladSagsloeseDokumenter: the document stays: {svar}"
    );
    let (sager, dokumenter) = env.find_cpr(&a, CVR).await;
    assert!(sager.is_empty());
    assert_eq!(dokumenter, [DOK]);
    let svar = env
        .soap(
            "/dokumentindeks/6",
            &a,
            CVR,
            &fixture("dokumentindeks-kasser.xml"),
        )
        .await;
    assert_eq!(statuskoder(&svar), ["20"], "{svar}");
    assert_eq!(env.find_cpr(&a, CVR).await, (vec![], vec![]));
    let audit = env
        .h()
        .state
        .adgang
        .audit_query(&fki_store::adgang::AuditQuery::default())
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.haendelse == "sagdokumentindeks_fjern" && e.system == Some(a.uuid)),
        "removals are audited"
    );
    env.finish().await;
}
