//! Ydelsesindeks (SF1490 v6, issue 6) on a secure server, over HTTPS with WS-Security as a
//! vendor's client sends it: KOMBIT-shaped requests (`tests/fixtures/sf1490/`, valid against
//! KOMBIT's schemas, checked again here with `xmllint`) and every answer validated with
//! `xmllint` too. Covered: import of a Bevilling and its effektuering with references to fki's
//! own Organisation and Klassifikation objects; fremsoeg by CPR (OR over both kinds), with
//! intervals, by UUID, with a Filter and an Inkluder; opdater; the rules refusing a write and
//! naming each missing UUID, storing nothing; the validation endpoint; the owner alone changing
//! and removing an entry (audited); readers limited to their myndighed and their agreement's
//! Foelsomhed, an effektuering as sensitive as its Bevilling, in fremsoeg and in the
//! per-citizen overview; change events.

mod common;

use chrono::Utc;
use fki_server::beskedfordeler::BFO_MODTAG;
use fki_server::sts::ENTITY_YDELSESINDEKS;
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
const YI: &str = "urn:oio:sts:ydelse:ydelseindeks:6";
const XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sf1490/alle.xsd"
);
const BEVILLING: &str = "2222aaaa-22aa-33bb-44cc-222222aaaaaa";
const EFFEKTUERING: &str = "3333aaaa-33aa-44bb-55cc-333333aaaaaa";
const CPR: &str = "urn:oio:cpr-nr:0123456789";

/// A fixture's operation element, without the comment before it.
fn fixture(navn: &str) -> String {
    let t = std::fs::read_to_string(format!(
        "{}/tests/fixtures/sf1490/{navn}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let doc = roxmltree::Document::parse(&t).unwrap();
    t[doc.root_element().range()].to_owned()
}

/// `fremsoeg-cpr-interval.xml` without its `SoegRegistrering` (fki searches the entries as
/// they are now), the Bevillinger's slut date from `fra`.
fn interval(fra: &str) -> String {
    let t = fixture("fremsoeg-cpr-interval.xml");
    let a = t.find("<sd:SoegRegistrering>").unwrap();
    let b = t.find("</sd:SoegRegistrering>").unwrap() + "</sd:SoegRegistrering>".len();
    let t = format!("{}{}", &t[..a], &t[b..]);
    assert!(t.contains("2025-06-01T00:00:00+02:00"));
    t.replace("2025-06-01T00:00:00+02:00", fra)
}

/// A fremsoeg of the Bevillinger of the CPR number with `filter` (the content of `yi:Filter`).
fn fremsoeg_bevillinger(filter: &str) -> String {
    format!(
        r#"<yi:FremsoegYdelseIndeksInput xmlns:yi="{YI}" xmlns:bi="urn:oio:sts:ydelse:bevillingindeks:6" xmlns:sd="{SD}" xmlns:gd="urn:oio:sts:generelledefinitioner:6"><yi:SoegUdtryk><yi:SoegBevillingIndeks><bi:AttributListe/><bi:TilstandListe/><bi:RelationListe><bi:Bevillingspart><gd:ReferenceID><sd:URNIdentifikator>{CPR}</sd:URNIdentifikator></gd:ReferenceID></bi:Bevillingspart></bi:RelationListe></yi:SoegBevillingIndeks></yi:SoegUdtryk><yi:Filter>{filter}</yi:Filter></yi:FremsoegYdelseIndeksInput>"#
    )
}

use common::{soap11_body as body_element, texts};

fn statuskoder(svar: &str) -> Vec<String> {
    texts(svar, SD, "StatusKode")
}

/// The counts of a fremsoeg answer: bevillinger, ydelser, effektueringer (those given).
fn antal(svar: &str) -> Vec<(String, String)> {
    let doc = roxmltree::Document::parse(svar).unwrap();
    doc.root_element()
        .children()
        .filter(|n| n.has_tag_name((YI, "Antal")))
        .map(|n| {
            let barn = |l: &str| {
                n.children()
                    .find(|c| c.has_tag_name((YI, l)))
                    .and_then(|c| c.text())
                    .unwrap_or("")
                    .to_owned()
            };
            (barn("Element"), barn("Antal"))
        })
        .collect()
}

struct Env {
    handle: Option<ServerHandle>,
    _dir: tempfile::TempDir,
}

struct System {
    uuid: Uuid,
    cert: Issued,
}

fn foelsomhed(niveauer: &str) -> Vec<Dataafgraensning> {
    vec![Dataafgraensning {
        navn: "Foelsomhed".into(),
        vaerdi: niveauer.into(),
    }]
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
            ENTITY_YDELSESINDEKS,
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
                "7777aaaa-77aa-88bb-99cc-777777aaaaaa",
                json!({"organisationsnavn": "Fiktiv Kommune"}),
            ),
            (
                "organisation",
                "organisationenhed",
                "1111aaaa-11aa-22bb-33cc-111111aaaaaa",
                json!({"enhedsnavn": "Borgerservice, Ydelser"}),
            ),
            (
                "organisation",
                "itsystem",
                "6666aaaa-66aa-77bb-88cc-666666aaaaaa",
                json!({"itsystemnavn": "Fiktivt Ydelsessystem"}),
            ),
            (
                "klassifikation",
                "klasse",
                "4444aaaa-44aa-55bb-66cc-444444aaaaaa",
                json!({"titel": "Sygebehandling"}),
            ),
            (
                "klassifikation",
                "klasse",
                "5555aaaa-55aa-66bb-77cc-555555aaaaaa",
                json!({"titel": "Hjælp til medicin"}),
            ),
        ] {
            common::oio_objekt(self.h(), CVR, service, klasse, uuid, felter).await;
        }
    }

    /// POST `payload` in a signed SOAP 1.1 envelope to `path` as `s` for `cvr` → the answer
    /// element (the request and the answer validated against KOMBIT's schemas).
    async fn soap(&self, path: &str, s: &System, cvr: &str, payload: &str) -> String {
        common::xmllint(XSD, payload);
        let transaktion = Uuid::new_v4();
        let header = format!(
            "<rh:RequestHeader xmlns:rh=\"http://kombit.dk/xml/schemas/RequestHeader/1/\">\
<rh:TransactionUUID>{transaktion}</rh:TransactionUUID></rh:RequestHeader>"
        );
        let (status, text) = common::soap11(
            self.h(),
            &s.cert,
            common::Soap11 {
                path,
                to: None,
                action: "http://kombit.dk/sts/ydelseindeks/x",
                header: &header,
                token: Some((ENTITY_YDELSESINDEKS, cvr)),
                payload,
            },
        )
        .await;
        assert_eq!(status, 200, "{text}");
        // The RequestHeader comes back.
        assert!(text.contains(&transaktion.to_string()), "{text}");
        let svar = body_element(&text);
        common::xmllint(XSD, &svar);
        svar
    }

    async fn yi(&self, s: &System, payload: &str) -> String {
        self.soap("/ydelsesindeks/6", s, CVR, payload).await
    }

    /// The Bevillinger and effektueringer a fremsoeg by the fixtures' CPR finds for `s` at `cvr`.
    async fn find_cpr(&self, s: &System, cvr: &str) -> (Vec<String>, Vec<String>) {
        let svar = self
            .soap("/ydelsesindeks/6", s, cvr, &fixture("fremsoeg-cpr.xml"))
            .await;
        assert_eq!(statuskoder(&svar)[0], "20", "{svar}");
        fundne(&svar)
    }

    async fn valider(&self, body: String) -> serde_json::Value {
        let h = self.h();
        let r = reqwest::Client::new()
            .post(format!("{}/admin/valider/sf1490?myndighed={CVR}", h.url()))
            .bearer_auth(h.state.admin_token.as_ref())
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.json::<serde_json::Value>().await.unwrap()
    }

    /// `GET /indeks/overblik/{part}` as `s` (REST, holder-of-key token for the Sags- og
    /// dokumentindeks, for which `s` gets an agreement here) → (bevillinger, effektueringer)
    /// as their UUIDs and writing systems, `None` where the answer has `null`.
    async fn overblik(
        &self,
        s: &System,
        part: &str,
    ) -> (Option<Vec<(String, String)>>, Option<Vec<(String, String)>>) {
        use base64::Engine;
        let st = &self.h().state;
        common::active_agreement(
            st.adgang.as_ref(),
            s.uuid,
            fki_server::sts::ENTITY_SAGDOKUMENTINDEKS,
            CVR,
            vec![],
            vec![],
        )
        .await;
        let a = saml::issue_assertion(&AssertionSpec::new(
            &st.sts.key,
            s.cert.cert_der(),
            fki_server::sts::ENTITY_SAGDOKUMENTINDEKS,
            CVR,
            &PrivilegeList::for_cvr(CVR, &[]),
            Utc::now(),
        ))
        .unwrap();
        let token = base64::engine::general_purpose::STANDARD.encode(a.xml);
        let https = self.h().https_addr.unwrap();
        let r = common::tls_client(&st.ca, Some(&s.cert), https)
            .get(format!(
                "https://localhost:{}/indeks/overblik/{part}",
                https.port()
            ))
            .header("authorization", format!("Holder-of-key {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        let liste = |k: &str| {
            v[k].as_array().map(|a| {
                a.iter()
                    .map(|o| {
                        (
                            o["id"].as_str().unwrap().to_owned(),
                            o["system"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        };
        (liste("bevillinger"), liste("oekonomiskeffektueringer"))
    }

    async fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), h.shutdown()).await;
        }
    }
}

/// The UUIDs of the Bevillinger and effektueringer of a fremsoeg answer.
fn fundne(svar: &str) -> (Vec<String>, Vec<String>) {
    let doc = roxmltree::Document::parse(svar).unwrap();
    let ids = |el: &str| -> Vec<String> {
        doc.descendants()
            .filter(|n| n.has_tag_name((YI, el)))
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
        ids("BevillingFiltreretOejebliksbillede"),
        ids("OekonomiskEffektueringFiltreretOejebliksbillede"),
    )
}

fn regler(v: &serde_json::Value) -> Vec<String> {
    v["brud"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["regel"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn import_and_fremsoeg_by_cpr_over_soap() {
    let env = Env::start().await;
    env.referencer().await;
    let a = env.system("Ydelsessystem A", CVR, vec![]).await;

    // A subscriber of the municipality's Bevilling events.
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
        Some(json!({"navn": "bevillinger", "ejer": modtager.uuid.to_string(), "myndighed": CVR, "levering": "pull"})),
    )
    .await;
    assert_eq!(s, 201, "{d}");
    let dueslag = d["uuid"].as_str().unwrap().to_owned();
    let (s, ab) = common::admin(
        env.h(),
        reqwest::Method::POST,
        "/admin/beskedfordeler/abonnementer",
        Some(json!({"dueslag": dueslag, "filter": "objektregistrering.objekttype = \"urn:oio:objekttype:bevillingindeks\""})),
    )
    .await;
    assert_eq!(s, 201, "{ab}");

    let svar = env.yi(&a, &fixture("importer-begge.xml")).await;
    assert_eq!(statuskoder(&svar), ["20", "20"], "{svar}");
    assert_eq!(
        texts(&svar, SD, "Type"),
        ["Bevilling", "OekonomiskEffektuering"]
    );
    assert_eq!(
        texts(&svar, SD, "UUIDIdentifikator"),
        [BEVILLING, EFFEKTUERING]
    );

    // The Bevilling's import is an event in the subscriber's dueslag (the payment's is not).
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
    let beskeder: Vec<&str> = v["beskeder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["haendelsesbesked"].as_str().unwrap())
        .collect();
    assert_eq!(beskeder.len(), 1, "{v}");
    assert!(
        beskeder[0].contains(BEVILLING) && beskeder[0].contains("urn:oio:objekthandling:importer")
    );

    // fremsoeg by CPR: OR over both kinds, with the counts and every part the Filter names.
    let svar = env.yi(&a, &fixture("fremsoeg-cpr.xml")).await;
    assert_eq!(
        fundne(&svar),
        (vec![BEVILLING.into()], vec![EFFEKTUERING.into()])
    );
    assert_eq!(
        antal(&svar),
        [
            ("bevillinger".into(), "1".into()),
            ("ydelser".into(), "1".into()),
            ("effektueringer".into(), "1".into())
        ]
    );
    for ventet in [
        "Hjælp til medicin",
        "Sidste bankdag i måneden",
        "Fiktiv Kommune",
        "Borgerservice, Ydelser",
        "<oef:BevilgetYdelseId>1</oef:BevilgetYdelseId>",
        "UDB-2025-01-004711",
        CPR,
    ] {
        assert!(svar.contains(ventet), "{ventet}: {svar}");
    }
    // A Filter naming only the owner aktoer: no other aktoer, no BevilgetYdelse, no part.
    let svar = env
        .yi(
            &a,
            &fremsoeg_bevillinger(
                "<yi:BevillingVis><yi:Vis>aktoer-ejer</yi:Vis></yi:BevillingVis>",
            ),
        )
        .await;
    assert_eq!(fundne(&svar).0, [BEVILLING]);
    assert!(svar.contains("Fiktiv Kommune"), "{svar}");
    for fravaerende in ["Borgerservice, Ydelser", "BevilgetYdelse", CPR, "UDB-2025"] {
        assert!(!svar.contains(fravaerende), "{fravaerende}: {svar}");
    }
    // BevillingInkluder: the payments of the Bevillinger found come along.
    let svar = env
        .yi(
            &a,
            &fremsoeg_bevillinger("<yi:BevillingInkluder>bevilgetydelse</yi:BevillingInkluder>"),
        )
        .await;
    assert_eq!(
        fundne(&svar),
        (vec![BEVILLING.into()], vec![EFFEKTUERING.into()])
    );

    // By UUID only (KOMBIT's sample sends an empty SoegUdtryk).
    let svar = env
        .yi(
            &a,
            &format!(
                r#"<yi:FremsoegYdelseIndeksInput xmlns:yi="{YI}"><yi:OekonomiskEffektueringUuid>{EFFEKTUERING}</yi:OekonomiskEffektueringUuid><yi:SoegUdtryk/></yi:FremsoegYdelseIndeksInput>"#
            ),
        )
        .await;
    assert_eq!(fundne(&svar), (vec![], vec![EFFEKTUERING.into()]));

    // Intervals: Bevillinger ending 2025-06-01 or later (it ends 2025-12-31), 2025's payments;
    // from 2026 the Bevilling is not found, until opdater moves its end to 2026-06-30.
    let svar = env.yi(&a, &interval("2025-06-01T00:00:00+02:00")).await;
    assert_eq!(
        fundne(&svar),
        (vec![BEVILLING.into()], vec![EFFEKTUERING.into()])
    );
    let svar = env.yi(&a, &interval("2026-01-01T00:00:00+01:00")).await;
    assert_eq!(fundne(&svar), (vec![], vec![EFFEKTUERING.into()]));
    let svar = env
        .soap(
            "/ydelseindeks/6",
            &a,
            CVR,
            &fixture("opdater-bevilling.xml"),
        )
        .await;
    assert_eq!(statuskoder(&svar), ["20"], "{svar}");
    let svar = env.yi(&a, &interval("2026-01-01T00:00:00+01:00")).await;
    assert_eq!(fundne(&svar).0, [BEVILLING], "{svar}");
    assert!(svar.contains("2026-06-30"), "{svar}");
    env.finish().await;
}

#[tokio::test]
async fn the_rules_refuse_naming_every_missing_uuid_and_store_nothing() {
    let env = Env::start().await;
    let a = env.system("Ydelsessystem A", CVR, vec![]).await;
    let svar = env.yi(&a, &fixture("importer-begge.xml")).await;
    assert_eq!(statuskoder(&svar), ["40"], "{svar}");
    let tekst = texts(&svar, SD, "FejlbeskedTekst").join(" ");
    for (regel, uuid) in [
        ("YI-REF-ORG", "7777aaaa-77aa-88bb-99cc-777777aaaaaa"),
        ("YI-REF-ORG", "1111aaaa-11aa-22bb-33cc-111111aaaaaa"),
        ("YI-REF-KLASSE", "4444aaaa-44aa-55bb-66cc-444444aaaaaa"),
        ("YI-REF-KLASSE", "5555aaaa-55aa-66bb-77cc-555555aaaaaa"),
        ("YI-REF-ITSYSTEM", "6666aaaa-66aa-77bb-88cc-666666aaaaaa"),
    ] {
        assert!(
            tekst.contains(&format!("[{regel}]")) && tekst.contains(uuid),
            "{regel} {uuid}: {tekst}"
        );
    }
    assert_eq!(
        env.find_cpr(&a, CVR).await,
        (vec![], vec![]),
        "nothing stored"
    );

    // With the references in place, a payment whose Bevilling is not in the index.
    env.referencer().await;
    let svar = env.yi(&a, &fixture("importer-effektuering.xml")).await;
    assert_eq!(statuskoder(&svar), ["40"], "{svar}");
    let tekst = texts(&svar, SD, "FejlbeskedTekst").join(" ");
    assert!(
        tekst.contains("[YI-BEVILLING]") && tekst.contains(BEVILLING),
        "{tekst}"
    );
    assert_eq!(
        env.find_cpr(&a, CVR).await,
        (vec![], vec![]),
        "nothing stored"
    );
    // The refusals are audited as SF1490's.
    let audit = env
        .h()
        .state
        .adgang
        .audit_query(&fki_store::adgang::AuditQuery::default())
        .await
        .unwrap();
    assert!(
        audit.iter().any(|e| e.haendelse == "ydelsesindeks_afvist"
            && e.sf.as_deref() == Some("SF1490")
            && e.aarsag
                .as_deref()
                .is_some_and(|t| t.contains("YI-BEVILLING"))),
        "{audit:#?}"
    );

    // The validation endpoint lists the same without storing anything.
    let v = env.valider(fixture("importer-effektuering.xml")).await;
    assert_eq!(v["gyldig"], false, "{v}");
    assert_eq!(regler(&v), ["YI-BEVILLING"], "{v}");
    let v = env.valider(fixture("importer-begge.xml")).await;
    assert_eq!(v["gyldig"], true, "{v}");
    assert_eq!(
        env.find_cpr(&a, CVR).await,
        (vec![], vec![]),
        "nothing stored"
    );
    // A schema error names the element.
    let v = env
        .valider(fixture("importer-effektuering.xml").replace("450.00<", "450,00<"))
        .await;
    assert_eq!(regler(&v), ["YI-SKEMA"], "{v}");
    assert!(
        v["brud"][0]["tekst"]
            .as_str()
            .unwrap()
            .contains("SamletBruttobeloeb"),
        "{v}"
    );
    // Once the Bevilling is in the index, the payment alone is valid.
    let svar = env.yi(&a, &fixture("importer-bevilling.xml")).await;
    assert_eq!(statuskoder(&svar), ["20"], "{svar}");
    let v = env.valider(fixture("importer-effektuering.xml")).await;
    assert_eq!(v["gyldig"], true, "{v}");
    // A BevilgetYdelse Id the Bevilling does not have.
    let v = env
        .valider(
            fixture("importer-effektuering.xml")
                .replace("<oef:BevilgetYdelseId>1<", "<oef:BevilgetYdelseId>2<"),
        )
        .await;
    assert_eq!(regler(&v), ["YI-BEVILLING"], "{v}");
    env.finish().await;
}

#[tokio::test]
async fn only_the_owner_changes_and_readers_see_their_myndighed_and_foelsomhed() {
    let env = Env::start().await;
    env.referencer().await;
    let alle = "IKKE_FORTROLIGE_DATA,FORTROLIGE_PERSONOPLYSNINGER,FOELSOMME_PERSONOPLYSNINGER";
    let a = env.system("Ydelsessystem A", CVR, vec![]).await;
    let b = env.system("Ydelsessystem B", CVR, foelsomhed(alle)).await;
    let c = env
        .system("Ydelsessystem C", ANDEN_CVR, foelsomhed(alle))
        .await;
    // The default agreement reads IKKE_FORTROLIGE_DATA and FORTROLIGE_PERSONOPLYSNINGER.
    let almindelig = env.system("Overblik", CVR, vec![]).await;
    let svar = env.yi(&a, &fixture("importer-begge.xml")).await;
    assert_eq!(statuskoder(&svar), ["20", "20"], "{svar}");
    let begge = (vec![BEVILLING.to_owned()], vec![EFFEKTUERING.to_owned()]);

    // B reads but may not change or remove A's entries.
    assert_eq!(env.find_cpr(&b, CVR).await, begge);
    for (sti, f) in [
        ("/ydelsesindeks/6", "opdater-bevilling.xml"),
        ("/bevillingindeks/6", "bevillingindeks-fjern.xml"),
        (
            "/oekonomiskeffektueringindeks/6",
            "oekonomiskeffektueringindeks-fjern.xml",
        ),
    ] {
        let svar = env.soap(sti, &b, CVR, &fixture(f)).await;
        assert_eq!(statuskoder(&svar), ["40"], "{f}: {svar}");
        assert!(svar.contains("YI-EJER"), "{f}: {svar}");
    }
    // Another myndighed's system sees nothing; a reader not allowed FOELSOMME_PERSONOPLYSNINGER
    // sees neither the Bevilling nor the payment of it; the owner sees both.
    assert_eq!(env.find_cpr(&c, ANDEN_CVR).await, (vec![], vec![]));
    assert_eq!(env.find_cpr(&almindelig, CVR).await, (vec![], vec![]));
    assert_eq!(env.find_cpr(&a, CVR).await, begge);

    // The per-citizen overview holds the grant and the payment with their writer, under the
    // same restrictions; a system without an agreement for the Ydelsesindeks gets null.
    let skrevet = |u: &str| Some(vec![(u.to_owned(), a.uuid.to_string())]);
    assert_eq!(
        env.overblik(&b, "0123456789").await,
        (skrevet(BEVILLING), skrevet(EFFEKTUERING))
    );
    assert_eq!(
        env.overblik(&almindelig, "0123456789").await,
        (Some(vec![]), Some(vec![]))
    );
    assert_eq!(
        env.overblik(&b, "9876543210").await,
        (Some(vec![]), Some(vec![]))
    );
    let sager = {
        let st = &env.h().state;
        let (uuid, cert) =
            common::register_system(st.adgang.as_ref(), &st.ca, "Kun sager", CVR).await;
        System { uuid, cert }
    };
    assert_eq!(env.overblik(&sager, "0123456789").await, (None, None));

    // The owner removes the payment and the Bevilling for good, audited.
    let svar = env
        .soap(
            "/oekonomiskeffektueringindeks/6",
            &a,
            CVR,
            &fixture("oekonomiskeffektueringindeks-fjern.xml"),
        )
        .await;
    assert_eq!(statuskoder(&svar), ["20"], "{svar}");
    assert_eq!(env.find_cpr(&a, CVR).await, (begge.0.clone(), vec![]));
    let svar = env
        .soap(
            "/bevillingindeks/6",
            &a,
            CVR,
            &fixture("bevillingindeks-fjern.xml"),
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
    let fjernet: Vec<&str> = audit
        .iter()
        .filter(|e| {
            e.haendelse == "ydelsesindeks_fjern"
                && e.system == Some(a.uuid)
                && e.service.as_deref() == Some(ENTITY_YDELSESINDEKS)
        })
        .filter_map(|e| e.aarsag.as_deref())
        .collect();
    assert_eq!(fjernet.len(), 2, "{audit:#?}");
    assert!(fjernet.iter().any(|t| t.contains(BEVILLING)));
    // A removed entry is gone: removing it again finds nothing.
    let svar = env
        .soap(
            "/bevillingindeks/6",
            &a,
            CVR,
            &fixture("bevillingindeks-fjern.xml"),
        )
        .await;
    assert_ne!(statuskoder(&svar), ["20"], "{svar}");
    env.finish().await;
}
