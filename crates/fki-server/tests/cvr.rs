//! SF1530 CVR Online v2 (issue 7 item 5) on a secure server, over HTTPS with the system's
//! certificate: a population written where `fki population generate` writes it, requests
//! signed in the WS-Security shape of KOMBIT's example, every request and answer of the five
//! operations validated by `xmllint` against KOMBIT's schemas (`tests/fixtures/sf1530/`) and
//! compared with the generated companies. Refusals: unsigned, no agreement for the service, a
//! token for another CVR, an AuthorityContext (not part of SF1530's requests), an
//! InvocationContext naming another system, service or agreement, a SOAPAction of another
//! operation, an unknown CVR or P-number, a malformed request.

mod common;

use chrono::Utc;
use fki_cpr::cvr::{
    KOMBIT_SERVICE_UUID, NS_CVR, NS_DKCC2005, NS_MSG, NS_WSDL, STI, reklamebeskyttet, startdato,
    virksomhedsform,
};
use fki_cpr::personlookup::{NS_AUTCTX, NS_FAULT, NS_INVCTX};
use fki_cpr::population::{Parametre, Population, Virksomhed, generate};
use fki_server::cpr::ENTITY_CPR_PERSONBASEDATAEXTENDED;
use fki_server::cvr::ENTITY_CVR_ONLINE;
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
    "/tests/fixtures/sf1530/OnlineServiceMsg.xsd"
);
const FAULT_XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sf1530/sp/ServiceplatformFault_1.xsd"
);

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
            .unwrap_or_else(|| panic!("a fault without detail: {envelope}"));
    }
    envelope[el.range()].to_owned()
}

fn texts(xml: &str, ns: &str, local: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name((ns, local)))
        .map(|n| n.text().unwrap_or("").to_owned())
        .collect()
}

fn more_results(xml: &str) -> bool {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let n = doc
        .descendants()
        .find(|n| n.attribute("moreResultsExistIndicator").is_some())
        .unwrap_or_else(|| panic!("no moreResultsExistIndicator: {xml}"));
    n.attribute("moreResultsExistIndicator") == Some("true")
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

/// How a request is sent: signed by a system with a token for a CVR, or unsigned.
#[derive(Clone, Copy)]
enum Afsender<'a> {
    System(&'a System, &'a str),
    Usigneret,
}

impl Env {
    async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        // The population file, as `fki population generate --municipality 0751` writes it;
        // enough companies for some with two production units.
        let mut p = Parametre::new("0751", 300, 5);
        p.virksomheder = 120;
        let pop = generate(&p, |_| {});
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

    /// A system with an active agreement for `entity_id` and `cvr`.
    async fn system(&self, name: &str, cvr: &str, entity_id: &str) -> System {
        let st = &self.h().state;
        let (uuid, cert) = common::register_system(st.adgang.as_ref(), &st.ca, name, cvr).await;
        let aftale =
            common::active_agreement(st.adgang.as_ref(), uuid, entity_id, cvr, vec![], vec![])
                .await;
        System { uuid, cert, aftale }
    }

    /// POST `payload` in a SOAP 1.1 Body to `path` over HTTPS with the system's certificate,
    /// with `SOAPAction: action` if given → (status, envelope).
    async fn post_to(
        &self,
        path: &str,
        fra: Afsender<'_>,
        action: Option<&str>,
        payload: &str,
    ) -> (u16, String) {
        let envelope = format!(
            "<soap:Envelope xmlns:soap=\"{SOAP11}\"><soap:Header>\
<Action xmlns=\"http://www.w3.org/2005/08/addressing\">{}</Action>\
<MessageID xmlns=\"http://www.w3.org/2005/08/addressing\">urn:uuid:{}</MessageID>\
<To xmlns=\"http://www.w3.org/2005/08/addressing\">https://localhost{STI}</To>\
</soap:Header><soap:Body>{payload}</soap:Body></soap:Envelope>",
            action.unwrap_or(""),
            Uuid::new_v4()
        );
        let (body, identity) = match fra {
            Afsender::System(s, cvr) => {
                let a = saml::issue_assertion(&AssertionSpec::new(
                    &self.h().state.sts.key,
                    s.cert.cert_der(),
                    ENTITY_CVR_ONLINE,
                    cvr,
                    &PrivilegeList::for_cvr(cvr, &[]),
                    Utc::now(),
                ))
                .unwrap();
                let signed = fki_sts::wssec::sign_service_request(
                    &envelope,
                    &a.xml,
                    s.cert.key_pem(),
                    Utc::now(),
                )
                .unwrap();
                (signed, Some(&s.cert))
            }
            Afsender::Usigneret => (envelope, None),
        };
        let https = self.h().https_addr.unwrap();
        let client = common::tls_client(&self.h().state.ca, identity, https);
        let mut r = client
            .post(format!("https://localhost:{}{path}", https.port()))
            .header("content-type", "text/xml; charset=utf-8")
            .body(body);
        if let Some(a) = action {
            r = r.header("SOAPAction", format!("\"{a}\""));
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn post(&self, fra: Afsender<'_>, action: Option<&str>, payload: &str) -> (u16, String) {
        self.post_to(STI, fra, action, payload).await
    }

    /// A request that must succeed: the request and the answer valid against the schemas, the
    /// answer the operation's response → the answer element.
    async fn ok(&self, s: &System, op: &str, payload: &str) -> String {
        common::xmllint(MSG_XSD, payload);
        let action = format!("http://rep.oio.dk/eogs/xml.wsdl/2/{op}");
        let (status, text) = self
            .post(Afsender::System(s, CVR), Some(&action), payload)
            .await;
        assert_eq!(status, 200, "{text}");
        let svar = body_element(&text);
        common::xmllint(MSG_XSD, &svar);
        let doc = roxmltree::Document::parse(&svar).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().namespace(), Some(NS_MSG), "{svar}");
        assert!(root.tag_name().name().ends_with("Response"), "{op}: {svar}");
        svar
    }

    async fn finish(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), h.shutdown()).await;
        }
    }
}

/// `OnlineServiceMsg.xsd`'s wrapper `op` around CVR's request `op` with `attr` and `indhold`,
/// after an InvocationContext `ic` (agreement, system, service) and `foer` when given.
fn request(
    op: &str,
    attr: &str,
    indhold: &str,
    ic: Option<(Uuid, Uuid, Uuid)>,
    foer: &str,
) -> String {
    let mut s = format!(
        "<m:{op} xmlns:m=\"{NS_MSG}\" xmlns:w=\"{NS_WSDL}\" xmlns:c=\"{NS_CVR}\" \
xmlns:i=\"{NS_INVCTX}\" xmlns:a=\"{NS_AUTCTX}\" xmlns:dkcc2005=\"{NS_DKCC2005}\">{foer}"
    );
    if let Some((aftale, system, service)) = ic {
        s.push_str(&format!(
            "<i:InvocationContext><i:ServiceAgreementUUID>{aftale}</i:ServiceAgreementUUID>\
<i:UserSystemUUID>{system}</i:UserSystemUUID><i:UserUUID>{}</i:UserUUID>\
<i:ServiceUUID>{service}</i:ServiceUUID></i:InvocationContext>",
            Uuid::new_v4()
        ));
    }
    s.push_str(&format!("<w:{op}{attr}>{indhold}</w:{op}></m:{op}>"));
    s
}

fn get_legal_unit(cvr: &str, ic: Option<(Uuid, Uuid, Uuid)>) -> String {
    request(
        "GetLegalUnitRequest",
        " level=\"10\"",
        &format!("<c:LegalUnitIdentifier>{cvr}</c:LegalUnitIdentifier>"),
        ic,
        "",
    )
}

/// A refusal: HTTP 500, a SOAP 1.1 fault whose ServiceplatformFault (schema-valid) has `code`.
fn fault(status: u16, envelope: &str, code: &str) {
    assert_eq!(status, 500, "{envelope}");
    let detail = body_element(envelope);
    common::xmllint(FAULT_XSD, &detail);
    let doc = roxmltree::Document::parse(&detail).unwrap();
    let c = doc
        .descendants()
        .find(|n| n.has_tag_name((NS_FAULT, "ErrorCode")))
        .and_then(|n| n.text())
        .unwrap();
    assert_eq!(c, code, "{envelope}");
}

/// A refusal by WS-Security or the agreement check: a SOAP fault without an answer.
fn refused(status: u16, envelope: &str) {
    assert_eq!(status, 500, "{envelope}");
    assert!(
        envelope.contains("Fault") && !envelope.contains("Response"),
        "{envelope}"
    );
}

#[tokio::test]
async fn cvr_online_operations() {
    let env = Env::start().await;
    let a = env.system("Fagsystem", CVR, ENTITY_CVR_ONLINE).await;
    let ic = Some((a.aftale, a.uuid, KOMBIT_SERVICE_UUID));
    let mut sorteret: Vec<&Virksomhed> = env.pop.virksomheder.iter().collect();
    sorteret.sort_by(|x, y| x.cvr.cmp(&y.cvr));
    let v = env
        .pop
        .virksomheder
        .iter()
        .find(|v| v.p_numre.len() == 2)
        .expect("a company with two production units");

    // ---- getLegalUnit, with the InvocationContext a client copies KOMBIT's service UUID into
    let svar = env
        .ok(&a, "getLegalUnit", &get_legal_unit(&v.cvr, ic))
        .await;
    assert_eq!(
        texts(&svar, NS_CVR, "LegalUnitIdentifier"),
        vec![v.cvr.clone()]
    );
    assert_eq!(texts(&svar, NS_CVR, "name"), vec![v.navn.clone()]);
    assert_eq!(texts(&svar, NS_CVR, "ProductionUnitIdentifier"), v.p_numre);
    assert_eq!(
        texts(&svar, NS_CVR, "StartDate"),
        vec![startdato(v).format("%Y-%m-%d").to_string()]
    );
    assert_eq!(
        texts(&svar, NS_DKCC2005, "StreetName"),
        vec![v.adresse.vejnavn.clone()]
    );
    assert_eq!(
        texts(&svar, NS_DKCC2005, "PostCodeIdentifier"),
        vec![format!("{:04}", v.adresse.postnummer)]
    );
    assert_eq!(
        texts(&svar, NS_CVR, "ActivityCode"),
        vec![v.branchekode.clone()]
    );
    assert_eq!(
        texts(&svar, NS_CVR, "BusinessFormatCode"),
        vec![virksomhedsform(v).to_string()]
    );
    assert_eq!(
        texts(&svar, NS_CVR, "AdvertisingProtectionIndicator"),
        vec![reklamebeskyttet(&v.cvr).to_string()]
    );
    // With fki's UUID of the service, on the trailing-slash path, without a SOAPAction.
    let req = get_legal_unit(
        &sorteret[0].cvr,
        Some((a.aftale, a.uuid, kendt_service_uuid(ENTITY_CVR_ONLINE))),
    );
    let (status, text) = env
        .post_to(&format!("{STI}/"), Afsender::System(&a, CVR), None, &req)
        .await;
    assert_eq!(status, 200, "{text}");
    let svar = body_element(&text);
    common::xmllint(MSG_XSD, &svar);
    assert_eq!(texts(&svar, NS_CVR, "name"), vec![sorteret[0].navn.clone()]);

    // ---- getProductionUnit: the second unit, not the main division
    let req = request(
        "GetProductionUnitRequest",
        " level=\"1\"",
        &format!(
            "<c:ProductionUnitIdentifier>{}</c:ProductionUnitIdentifier>",
            v.p_numre[1]
        ),
        ic,
        "",
    );
    let svar = env.ok(&a, "getProductionUnit", &req).await;
    assert_eq!(
        texts(&svar, NS_CVR, "ProductionUnitIdentifier"),
        vec![v.p_numre[1].clone()]
    );
    assert_eq!(texts(&svar, NS_CVR, "name"), vec![v.navn.clone()]);
    assert_eq!(texts(&svar, NS_CVR, "MainDivisionIndicator"), vec!["false"]);
    assert_eq!(
        texts(&svar, NS_CVR, "LegalUnitIdentifier"),
        vec![v.cvr.clone()]
    );
    assert_eq!(
        texts(&svar, NS_DKCC2005, "DistrictName"),
        vec![v.adresse.postdistrikt.clone()]
    );

    // ---- getRelatedProductionUnitNameAndAddress
    let req = request(
        "GetRelatedProductionUnitNameAndAddressRequest",
        "",
        &format!("<c:LegalUnitIdentifier>{}</c:LegalUnitIdentifier>", v.cvr),
        None,
        "",
    );
    let svar = env
        .ok(&a, "getRelatedProductionUnitNameAndAddress", &req)
        .await;
    assert_eq!(texts(&svar, NS_CVR, "ProductionUnitIdentifier"), v.p_numre);
    assert_eq!(texts(&svar, NS_CVR, "name"), vec![v.navn.clone(); 2]);
    assert_eq!(
        texts(&svar, NS_DKCC2005, "StreetName"),
        vec![v.adresse.vejnavn.clone(); 2]
    );

    // ---- searchLegalUnit: a word of the name and the postal code
    let ord = v.navn.split(' ').next().unwrap();
    let req = request(
        "SearchLegalUnitRequest",
        "",
        &format!(
            "<w:SearchName>{}</w:SearchName><w:SearchAddress>\
<dkcc2005:PostCodeIdentifier>{:04}</dkcc2005:PostCodeIdentifier></w:SearchAddress>",
            ord.to_lowercase(),
            v.adresse.postnummer
        ),
        ic,
        "",
    );
    let svar = env.ok(&a, "searchLegalUnit", &req).await;
    let forventet: Vec<String> = sorteret
        .iter()
        .filter(|x| {
            x.navn.to_lowercase().contains(&ord.to_lowercase())
                && x.adresse.postnummer == v.adresse.postnummer
        })
        .map(|x| x.cvr.clone())
        .collect();
    assert!(forventet.contains(&v.cvr));
    assert_eq!(texts(&svar, NS_CVR, "LegalUnitIdentifier"), forventet);
    assert!(!more_results(&svar));
    // Bounded: the first two in CVR-number order, and more exist.
    let req = request(
        "SearchLegalUnitRequest",
        " maximumNumberOfResultsType=\"2\"",
        "<w:SearchLifecycleStatus>all</w:SearchLifecycleStatus>",
        None,
        "",
    );
    let svar = env.ok(&a, "searchLegalUnit", &req).await;
    assert_eq!(
        texts(&svar, NS_CVR, "LegalUnitIdentifier"),
        vec![sorteret[0].cvr.clone(), sorteret[1].cvr.clone()]
    );
    assert!(more_results(&svar));
    // Nothing found: no collection, no more.
    let req = request(
        "SearchLegalUnitRequest",
        "",
        "<w:SearchName>ingen-virksomhed-hedder-saadan</w:SearchName>",
        None,
        "",
    );
    let svar = env.ok(&a, "searchLegalUnit", &req).await;
    assert!(texts(&svar, NS_CVR, "LegalUnitIdentifier").is_empty());
    assert!(!more_results(&svar));

    // ---- searchProductionUnit: the units of one company, and by activity
    let req = request(
        "SearchProductionUnitRequest",
        "",
        &format!("<c:LegalUnitIdentifier>{}</c:LegalUnitIdentifier>", v.cvr),
        ic,
        "",
    );
    let svar = env.ok(&a, "searchProductionUnit", &req).await;
    let mut p = v.p_numre.clone();
    p.sort();
    assert_eq!(texts(&svar, NS_CVR, "ProductionUnitIdentifier"), p);
    let req = request(
        "SearchProductionUnitRequest",
        " maximumNumberOfResultsType=\"1000\"",
        &format!("<c:ActivityCode>{}</c:ActivityCode>", v.branchekode),
        None,
        "",
    );
    let svar = env.ok(&a, "searchProductionUnit", &req).await;
    let mut forventet: Vec<String> = env
        .pop
        .virksomheder
        .iter()
        .filter(|x| x.branchekode == v.branchekode)
        .flat_map(|x| x.p_numre.iter().cloned())
        .collect();
    forventet.sort();
    assert_eq!(texts(&svar, NS_CVR, "ProductionUnitIdentifier"), forventet);
    env.finish().await;
}

#[tokio::test]
async fn cvr_online_refusals() {
    let env = Env::start().await;
    let a = env.system("Fagsystem", CVR, ENTITY_CVR_ONLINE).await;
    // A system whose only agreement is for CPR, not CVR.
    let kun_cpr = env
        .system("Kun CPR", CVR, ENTITY_CPR_PERSONBASEDATAEXTENDED)
        .await;
    let v = &env.pop.virksomheder[0];
    let req = get_legal_unit(&v.cvr, None);
    let service = kendt_service_uuid(ENTITY_CVR_ONLINE);
    let fra = Afsender::System(&a, CVR);

    // Unknown numbers (a valid CVR number no company has; a P-number no unit has).
    let ukendt = (10_000_000..)
        .map(|n: u32| n.to_string())
        .find(|c| {
            fki_cpr::nummer::cvr_gyldig(c) && !env.pop.virksomheder.iter().any(|v| v.cvr == *c)
        })
        .unwrap();
    let (s, t) = env.post(fra, None, &get_legal_unit(&ukendt, None)).await;
    fault(s, &t, "VirksomhedIkkeFundet");
    let (s, t) = env
        .post(
            fra,
            None,
            &request(
                "GetRelatedProductionUnitNameAndAddressRequest",
                "",
                &format!("<c:LegalUnitIdentifier>{ukendt}</c:LegalUnitIdentifier>"),
                None,
                "",
            ),
        )
        .await;
    fault(s, &t, "VirksomhedIkkeFundet");
    let req_p = request(
        "GetProductionUnitRequest",
        " level=\"1\"",
        "<c:ProductionUnitIdentifier>9999999999</c:ProductionUnitIdentifier>",
        None,
        "",
    );
    common::xmllint(MSG_XSD, &req_p);
    let (s, t) = env.post(fra, None, &req_p).await;
    fault(s, &t, "ProduktionsenhedIkkeFundet");

    // No token: the WS-Security fault.
    let (s, t) = env.post(Afsender::Usigneret, None, &req).await;
    refused(s, &t);
    assert!(t.contains("wsse:") || t.contains("Security"), "{t}");
    // A token for CVR, but the system's only agreement is for CPR.
    let (s, t) = env.post(Afsender::System(&kun_cpr, CVR), None, &req).await;
    refused(s, &t);
    assert!(t.contains("serviceaftale"), "{t}");
    // A token for another municipality than the agreement's.
    let (s, t) = env.post(Afsender::System(&a, "11111111"), None, &req).await;
    refused(s, &t);

    // An AuthorityContext is not part of SF1530's requests, whatever it names.
    for m in [CVR, "12345678"] {
        let med = request(
            "GetLegalUnitRequest",
            " level=\"1\"",
            &format!("<c:LegalUnitIdentifier>{}</c:LegalUnitIdentifier>", v.cvr),
            None,
            &format!(
                "<a:AuthorityContext><a:MunicipalityCVR>{m}</a:MunicipalityCVR></a:AuthorityContext>"
            ),
        );
        let (s, t) = env.post(fra, None, &med).await;
        fault(s, &t, "UgyldigForespoergsel");
        assert!(t.contains("AuthorityContext"), "{t}");
    }

    // An InvocationContext naming another agreement, system or service.
    for ic in [
        (Uuid::new_v4(), a.uuid, service),
        (kun_cpr.aftale, a.uuid, service),
        (a.aftale, Uuid::new_v4(), service),
        (
            a.aftale,
            a.uuid,
            kendt_service_uuid(ENTITY_CPR_PERSONBASEDATAEXTENDED),
        ),
    ] {
        let (s, t) = env.post(fra, None, &get_legal_unit(&v.cvr, Some(ic))).await;
        fault(s, &t, "InvocationContextAfvist");
    }

    // A SOAPAction of another operation than the Body's.
    let (s, t) = env
        .post(
            fra,
            Some("http://rep.oio.dk/eogs/xml.wsdl/2/searchLegalUnit"),
            &req,
        )
        .await;
    fault(s, &t, "UgyldigForespoergsel");
    // Malformed: no LegalUnitIdentifier; no level; an element of another service.
    for bad in [
        request("GetLegalUnitRequest", " level=\"1\"", "", None, ""),
        request(
            "GetLegalUnitRequest",
            "",
            &format!("<c:LegalUnitIdentifier>{}</c:LegalUnitIdentifier>", v.cvr),
            None,
            "",
        ),
        format!("<x:Andet xmlns:x=\"{NS_MSG}\"/>"),
    ] {
        let (s, t) = env.post(fra, None, &bad).await;
        fault(s, &t, "UgyldigForespoergsel");
    }
    // Still answering the caller with the right agreement.
    let (s, t) = env
        .post(
            fra,
            None,
            &get_legal_unit(&v.cvr, Some((a.aftale, a.uuid, service))),
        )
        .await;
    assert_eq!(s, 200, "{t}");
    env.finish().await;
}
