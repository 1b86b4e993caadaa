//! SF1520 PersonLookup (issue 7 item 2) on a secure server: a population written where
//! `fki population generate` writes it, requests signed in the WS-Security shape of KOMBIT's
//! example, and every request and answer validated by `xmllint` against KOMBIT's schemas
//! (`tests/fixtures/sf1520/`). Refusals: unsigned, another CVR in AuthorityContext, an
//! InvocationContext naming another system, service or agreement, an unknown person, a
//! malformed request.

mod common;

use chrono::{NaiveDate, Utc};
use fki_cpr::personlookup::{NS, NS_AUTCTX, NS_FAULT, NS_INVCTX, NS_PNR, STI};
use fki_cpr::population::{Parametre, Population, Status, generate};
use fki_server::cpr::ENTITY_CPR_PERSONBASEDATAEXTENDED;
use fki_server::{Config, ServerHandle};
use fki_store::adgang::kendt_service_uuid;
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec};
use uuid::Uuid;

const CVR: &str = "29189854";
const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const MSG_XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sf1520/PersonBaseDataExtendedServiceMsg.xsd"
);
const FAULT_XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sf1520/sp/ServiceplatformFault_1.xsd"
);

fn valider(xsd: &str, element: &str) {
    common::xmllint(xsd, element);
}

/// The first element child of the Body (or of the Fault's `detail`), as a standalone string.
fn body_element(envelope: &str) -> String {
    let doc = roxmltree::Document::parse(envelope).unwrap();
    let body = doc
        .descendants()
        .find(|n| n.has_tag_name((SOAP11, "Body")))
        .unwrap_or_else(|| panic!("no SOAP 1.1 Body: {envelope}"));
    let mut el = body.first_element_child().unwrap();
    if el.has_tag_name((SOAP11, "Fault")) {
        el = el
            .children()
            .find(|n| n.has_tag_name("detail"))
            .and_then(|d| d.first_element_child())
            .unwrap();
    }
    envelope[el.range()].to_owned()
}

fn texts(xml: &str, local: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name((NS, local)))
        .map(|n| n.text().unwrap_or("").to_owned())
        .collect()
}

struct Env {
    handle: Option<ServerHandle>,
    _dir: tempfile::TempDir,
    pop: Population,
}

struct System {
    uuid: Uuid,
    cert: Issued,
    aftale: Uuid,
}

impl Env {
    async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        // The population file, as `fki population generate --municipality 0751` writes it.
        let pop = generate(&Parametre::new("0751", 300, 5), |_| {});
        std::fs::create_dir_all(dir.path().join("cpr")).unwrap();
        let f = std::fs::File::create(dir.path().join("cpr/0751.jsonl")).unwrap();
        fki_cpr::register::skriv_jsonl(&pop, f, || {}).unwrap();
        let handle = fki_server::start(Config::for_test_secure(dir.path().to_path_buf(), None))
            .await
            .unwrap();
        Env {
            handle: Some(handle),
            _dir: dir,
            pop,
        }
    }

    fn h(&self) -> &ServerHandle {
        self.handle.as_ref().unwrap()
    }

    /// A system with an active agreement with the data restrictions `begr` (navn, værdi).
    async fn system(&self, name: &str, cvr: &str, begr: &[(&str, &str)]) -> System {
        let st = &self.h().state;
        let (uuid, cert) = common::register_system(st.adgang.as_ref(), &st.ca, name, cvr).await;
        let aftale = common::active_agreement(
            st.adgang.as_ref(),
            uuid,
            ENTITY_CPR_PERSONBASEDATAEXTENDED,
            cvr,
            vec![],
            begr.iter()
                .map(|(n, v)| fki_store::adgang::Dataafgraensning {
                    navn: (*n).into(),
                    vaerdi: (*v).into(),
                })
                .collect(),
        )
        .await;
        System { uuid, cert, aftale }
    }

    /// POST a SOAP 1.1 PersonLookupRequest with `payload` in the Body, signed by `s` with a
    /// token for `cvr` unless `s` is `None` → (status, envelope).
    async fn post(&self, s: Option<(&System, &str)>, payload: &str) -> (u16, String) {
        let body = common::soap11_request(
            self.h(),
            s.map(|(s, _)| &s.cert),
            &common::Soap11 {
                path: STI,
                to: None,
                action: "http://serviceplatformen.dk/xml/wsdl/soap11/CPR/PersonBaseDataExtended/4/PersonLookup",
                header: "",
                token: s.map(|(_, cvr)| (ENTITY_CPR_PERSONBASEDATAEXTENDED, cvr)),
                payload,
            },
        );
        let r = reqwest::Client::new()
            .post(format!("{}{STI}", self.h().url()))
            .header("content-type", "text/xml; charset=utf-8")
            .header(
                "SOAPAction",
                "\"http://serviceplatformen.dk/xml/wsdl/soap11/CPR/PersonBaseDataExtended/4/PersonLookup\"",
            )
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), h.shutdown()).await;
        }
    }
}

fn request(pnr: &str, cvr: Option<&str>, ic: Option<(Uuid, Uuid, Uuid)>) -> String {
    let mut s = format!(
        "<p:PersonLookupRequest xmlns:p=\"{NS}\" xmlns:a=\"{NS_AUTCTX}\" xmlns:i=\"{NS_INVCTX}\" xmlns:c=\"{NS_PNR}\">"
    );
    if let Some(c) = cvr {
        s.push_str(&format!(
            "<a:AuthorityContext><a:MunicipalityCVR>{c}</a:MunicipalityCVR></a:AuthorityContext>"
        ));
    }
    if let Some((aftale, system, service)) = ic {
        s.push_str(&format!(
            "<i:InvocationContext><i:ServiceAgreementUUID>{aftale}</i:ServiceAgreementUUID>\
<i:UserSystemUUID>{system}</i:UserSystemUUID><i:UserUUID>{}</i:UserUUID>\
<i:ServiceUUID>{service}</i:ServiceUUID></i:InvocationContext>",
            Uuid::new_v4()
        ));
    }
    s.push_str(&format!("<c:PNR>{pnr}</c:PNR></p:PersonLookupRequest>"));
    s
}

/// A refusal: HTTP 500, a SOAP 1.1 fault whose ServiceplatformFault (schema-valid) has `code`.
fn fault(status: u16, envelope: &str, code: &str) {
    assert_eq!(status, 500, "{envelope}");
    let detail = body_element(envelope);
    valider(FAULT_XSD, &detail);
    let doc = roxmltree::Document::parse(&detail).unwrap();
    let c = doc
        .descendants()
        .find(|n| n.has_tag_name((NS_FAULT, "ErrorCode")))
        .and_then(|n| n.text())
        .unwrap();
    assert_eq!(c, code, "{envelope}");
}

#[tokio::test]
async fn person_lookup() {
    let env = Env::start().await;
    let a = env
        .system("Fagsystem", CVR, &[("SeBeskyttetAdresse", "true")])
        .await;
    let begraenset = env
        .system("Begrænset", CVR, &[("Udelad", "cpr,adresse")])
        .await;
    let service = kendt_service_uuid(ENTITY_CPR_PERSONBASEDATAEXTENDED);
    let idag = Utc::now().date_naive();

    // A parent with a spouse and children, and one of the children.
    let p = env
        .pop
        .personer
        .iter()
        .find(|p| p.aegtefaelle.is_some() && !p.boern.is_empty() && p.status == Status::Aktiv)
        .unwrap()
        .clone();
    let req = request(
        &p.cpr.as_digits(),
        Some(CVR),
        Some((a.aftale, a.uuid, service)),
    );
    valider(MSG_XSD, &req);
    let (status, text) = env.post(Some((&a, CVR)), &req).await;
    assert_eq!(status, 200, "{text}");
    let svar = body_element(&text);
    valider(MSG_XSD, &svar);
    assert_eq!(texts(&svar, "personnummer")[0], p.cpr.as_digits());
    assert_eq!(texts(&svar, "fornavn"), vec![p.fornavne.clone()]);
    assert_eq!(texts(&svar, "efternavn"), vec![p.efternavn.clone()]);
    assert_eq!(
        texts(&svar, "dato")[0],
        p.foedselsdato.format("%Y-%m-%d").to_string()
    );
    assert_eq!(texts(&svar, "alder"), vec![p.alder(idag).to_string()]);
    assert_eq!(texts(&svar, "vejnavn")[0], p.adresse.vejnavn);
    assert_eq!(
        texts(&svar, "postnummer"),
        vec![p.adresse.postnummer.to_string()]
    );
    // `civilstand` wraps `civilstand`: the inner one carries the code.
    assert_eq!(
        texts(&svar, "civilstand")[1],
        p.civilstand.kode().to_string()
    );
    let doc = roxmltree::Document::parse(&svar).unwrap();
    let rel = |navn: &str| -> Vec<String> {
        doc.descendants()
            .filter(|n| n.has_tag_name((NS, navn)))
            .map(|n| n.first_element_child().unwrap().text().unwrap().to_owned())
            .collect()
    };
    assert_eq!(rel("aegtefaelle"), vec![p.aegtefaelle.unwrap().as_digits()]);
    assert_eq!(
        rel("barn"),
        p.boern.iter().map(|c| c.as_digits()).collect::<Vec<_>>()
    );

    // Without the optional contexts too; a child shows its custody.
    let barn = env
        .pop
        .personer
        .iter()
        .find(|b| !b.foraeldremyndighed.is_empty())
        .unwrap();
    let (status, text) = env
        .post(Some((&a, CVR)), &request(&barn.cpr.as_digits(), None, None))
        .await;
    assert_eq!(status, 200, "{text}");
    let svar = body_element(&text);
    valider(MSG_XSD, &svar);
    assert!(svar.contains(&format!(
        "<relationPersonnummer>{}</relationPersonnummer>",
        barn.foraeldremyndighed[0].as_digits()
    )));

    // A dead or emigrated person: no current address.
    if let Some(d) = env.pop.personer.iter().find(|p| p.status != Status::Aktiv) {
        let (_, text) = env
            .post(Some((&a, CVR)), &request(&d.cpr.as_digits(), None, None))
            .await;
        let svar = body_element(&text);
        valider(MSG_XSD, &svar);
        assert!(!svar.contains("aktuelAdresse"), "{svar}");
    }

    // An agreement that leaves out CPR numbers and addresses: still schema-valid, without them.
    let (status, text) = env
        .post(
            Some((&begraenset, CVR)),
            &request(&p.cpr.as_digits(), None, None),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let svar = body_element(&text);
    valider(MSG_XSD, &svar);
    for c in std::iter::once(&p.cpr)
        .chain(&p.boern)
        .chain(&p.aegtefaelle)
    {
        assert!(!svar.contains(&c.as_digits()), "{svar}");
    }
    assert!(texts(&svar, "adresse").is_empty() && !texts(&svar, "relationer").is_empty());
    assert_eq!(texts(&svar, "efternavn"), vec![p.efternavn.clone()]);

    // ---- refusals
    let pnr = p.cpr.as_digits();
    let (status, text) = env.post(None, &request(&pnr, None, None)).await;
    assert_eq!(status, 500, "unsigned: {text}");
    assert!(
        text.contains("wsse:") || text.contains("Security"),
        "{text}"
    );
    let (s, t) = env
        .post(Some((&a, CVR)), &request(&pnr, Some("12345678"), None))
        .await;
    fault(s, &t, "AuthorityContextAfvist");
    for ic in [
        (Uuid::new_v4(), a.uuid, service),
        (a.aftale, Uuid::new_v4(), service),
        (a.aftale, a.uuid, Uuid::new_v4()),
    ] {
        let (s, t) = env
            .post(Some((&a, CVR)), &request(&pnr, Some(CVR), Some(ic)))
            .await;
        fault(s, &t, "InvocationContextAfvist");
    }
    let ukendt = fki_cpr::nummer::Cpr::new(NaiveDate::from_ymd_opt(1901, 1, 1).unwrap(), 1)
        .unwrap()
        .as_digits();
    let (s, t) = env
        .post(Some((&a, CVR)), &request(&ukendt, None, None))
        .await;
    fault(s, &t, "PersonIkkeFundet");
    let (s, t) = env
        .post(
            Some((&a, CVR)),
            &format!("<p:PersonLookupRequest xmlns:p=\"{NS}\"/>"),
        )
        .await;
    fault(s, &t, "UgyldigForespoergsel");
    // A token for another CVR than the agreement's: refused by WS-Security.
    let (s, t) = env
        .post(Some((&a, "11111111")), &request(&pnr, None, None))
        .await;
    assert_eq!(s, 500, "{t}");
    assert!(!t.contains("PersonLookupResponse"));
    env.finish().await;
}

/// The Query service over REST: a token for the CPR service on HTTPS with its certificate,
/// search by name and birth date and by address, the data restrictions, and refusals.
#[tokio::test]
async fn person_query() {
    use base64::Engine as _;
    let env = Env::start().await;
    let a = env.system("Fagsystem", CVR, &[]).await;
    let uden_cpr = env.system("Uden CPR", CVR, &[("Udelad", "cpr")]).await;
    let https = env.h().https_addr.unwrap();
    let token = |s: &System| {
        let x = saml::issue_assertion(&AssertionSpec::new(
            &env.h().state.sts.key,
            s.cert.cert_der(),
            ENTITY_CPR_PERSONBASEDATAEXTENDED,
            CVR,
            &PrivilegeList::for_cvr(CVR, &[]),
            Utc::now(),
        ))
        .unwrap();
        base64::engine::general_purpose::STANDARD.encode(x.xml)
    };
    let get = |s: &System, q: String, auth: Option<String>| {
        let client = common::tls_client(&env.h().state.ca, Some(&s.cert), https);
        async move {
            let mut r = client.get(format!(
                "https://localhost:{}/cpr/personer?{q}",
                https.port()
            ));
            if let Some(t) = auth {
                r = r.header("authorization", t);
            }
            let r = r.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    let p = env
        .pop
        .personer
        .iter()
        .find(|p| p.status == Status::Aktiv && !p.adressebeskyttelse)
        .unwrap()
        .clone();
    let q = format!(
        "navn={}&foedselsdato={}",
        urlencode(&p.efternavn),
        p.foedselsdato.format("%Y-%m-%d")
    );
    let (s, v) = get(&a, q.clone(), Some(format!("Bearer {}", token(&a)))).await;
    assert_eq!(s, 200, "{v}");
    let personer = v["personer"].as_array().unwrap();
    let fundet = personer
        .iter()
        .find(|x| x["personnummer"] == p.cpr.as_digits())
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(fundet["adresse"]["vejnavn"], p.adresse.vejnavn.as_str());
    assert!(
        personer
            .iter()
            .all(|x| x["foedselsdato"] == p.foedselsdato.format("%Y-%m-%d").to_string())
    );
    // By address.
    let q2 = format!(
        "vejnavn={}&husnummer={}&postnummer={}",
        urlencode(&p.adresse.vejnavn),
        urlencode(&p.adresse.husnummer),
        p.adresse.postnummer
    );
    let (s, v) = get(&a, q2, Some(format!("Holder-of-key {}", token(&a)))).await;
    assert_eq!(s, 200);
    assert!(
        v["personer"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["personnummer"] == p.cpr.as_digits())
    );
    // An agreement without CPR numbers: the same people, no numbers.
    let (s, v) = get(
        &uden_cpr,
        q.clone(),
        Some(format!("Bearer {}", token(&uden_cpr))),
    )
    .await;
    assert_eq!(s, 200);
    assert!(!v["personer"].as_array().unwrap().is_empty());
    assert!(!v.to_string().contains(&p.cpr.as_digits()), "{v}");
    // Refusals: no token, no criterion, a bad one, a token presented by another system.
    assert_eq!(get(&a, q.clone(), None).await.0, 401);
    assert_eq!(
        get(&a, String::new(), Some(format!("Bearer {}", token(&a))))
            .await
            .0,
        400
    );
    assert_eq!(
        get(
            &a,
            "foedselsdato=i-gaar".into(),
            Some(format!("Bearer {}", token(&a)))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        get(&uden_cpr, q, Some(format!("Bearer {}", token(&a))))
            .await
            .0,
        401
    );
    env.finish().await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every call is recorded in the audit log (issue 8): the caller's system and CVR, the SF
/// number, the operation, the status and the outcome; a refused call without its system.
#[tokio::test]
async fn calls_are_recorded() {
    use reqwest::Method;
    let env = Env::start().await;
    let a = env.system("Fagsystem", CVR, &[]).await;
    let p = env.pop.personer[0].clone();
    let (s, _) = env
        .post(
            Some((&a, CVR)),
            &request(&p.cpr.as_digits(), Some(CVR), None),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = env
        .post(None, &request(&p.cpr.as_digits(), Some(CVR), None))
        .await;
    assert_ne!(s, 200);
    // the records are written in the background
    let frist = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let kald = loop {
        let (s, v) = common::admin(
            env.h(),
            Method::GET,
            "/admin/audit?haendelse=kald&sf=SF1520",
            None,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let v = v["audit"].as_array().cloned().unwrap_or_default();
        if v.len() >= 2 || std::time::Instant::now() > frist {
            break v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(kald.len(), 2, "{kald:?}");
    // newest first: the refused call, then the answered one
    let (afvist, ok) = (&kald[0], &kald[1]);
    assert_eq!(ok["system"], a.uuid.to_string());
    assert_eq!(ok["myndighed"], CVR);
    assert_eq!(ok["operation"], "PersonLookup");
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["resultat"], "ok");
    assert_eq!(ok["service"], ENTITY_CPR_PERSONBASEDATAEXTENDED);
    assert!(afvist["system"].is_null(), "{afvist}");
    assert_eq!(afvist["operation"], "PersonLookup");
    assert_ne!(afvist["resultat"], "ok");
    assert_eq!(afvist["sf"], "SF1520");
    env.finish().await;
}
