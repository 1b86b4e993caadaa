//! Shared by the integration tests that talk to a secure server: registering systems and
//! agreements directly in the store, and HTTPS clients presenting a system certificate.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use fki_store::adgang::{AdgangStore, AftaleStatus, ItSystem, Serviceaftale, SystemRolle};
use fki_sts::ca::{Ca, Issued};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use uuid::Uuid;

/// A new system certificate from `ca`, registered as an anvendersystem.
pub async fn register_system(
    adgang: &dyn AdgangStore,
    ca: &Ca,
    name: &str,
    cvr: &str,
) -> (Uuid, Issued) {
    let cert = ca.issue_system_certificate(name, cvr).unwrap();
    let uuid = Uuid::new_v4();
    adgang
        .put_system(&ItSystem {
            uuid,
            navn: name.into(),
            cvr: cvr.into(),
            rolle: SystemRolle::Anvendersystem,
            certifikat_sha256: fki_sts::ca::fingerprint_sha256(cert.cert_der()),
            certifikat_der: cert.cert_der().to_vec(),
            subject: fki_sts::ca::cert_info(cert.cert_der()).unwrap().subject,
            oprettet: Utc::now().timestamp_micros(),
        })
        .await
        .unwrap();
    (uuid, cert)
}

/// An agreement for `system` × `entity_id` × `cvr`, taken through its lifecycle to Aktiv.
pub async fn active_agreement(
    adgang: &dyn AdgangStore,
    system: Uuid,
    entity_id: &str,
    cvr: &str,
    roller: Vec<String>,
    dataafgraensninger: Vec<fki_store::adgang::Dataafgraensning>,
) -> Uuid {
    let service = adgang
        .service_by_entity_id(entity_id)
        .await
        .unwrap()
        .expect("seeded service");
    let uuid = Uuid::new_v4();
    adgang
        .put_aftale(&Serviceaftale {
            uuid,
            system,
            service: service.uuid,
            myndighed: cvr.into(),
            roller,
            dataafgraensninger,
            status: AftaleStatus::Anmodet,
            aendret: Utc::now().timestamp_micros(),
        })
        .await
        .unwrap();
    for s in [AftaleStatus::Godkendt, AftaleStatus::Aktiv] {
        adgang
            .set_aftale_status(uuid, s, Utc::now().timestamp_micros())
            .await
            .unwrap()
            .unwrap();
    }
    uuid
}

/// An HTTPS client for `localhost` (resolved to `addr`) trusting `ca`, presenting `identity`
/// (or no client certificate).
pub fn tls_client(ca: &Ca, identity: Option<&Issued>, addr: SocketAddr) -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.root_cert_der().to_vec()))
        .unwrap();
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let tls = match identity {
        Some(i) => b
            .with_client_auth_cert(
                vec![CertificateDer::from(i.cert_der().to_vec())],
                PrivateKeyDer::from_pem_slice(i.key_pem().as_bytes()).unwrap(),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .resolve("localhost", addr)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// An admin API call with the server's bearer token → (status, JSON body or null).
pub async fn admin(
    h: &fki_server::ServerHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut r = reqwest::Client::new()
        .request(method, format!("{}{path}", h.url()))
        .bearer_auth(h.state.admin_token.as_ref());
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    (
        r.status().as_u16(),
        r.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// Validate `element` (a standalone XML element) against the schema file `xsd` with xmllint,
/// independently of fki's own reading of the schemas; panic with xmllint's words if it is not
/// valid.
pub fn xmllint(xsd: &str, element: &str) {
    use std::io::Write;
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(element.as_bytes()).unwrap();
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema", xsd])
        .arg(f.path())
        .output()
        .expect("xmllint must be installed (libxml2-utils; .ci/run installs it)");
    assert!(
        out.status.success(),
        "not valid against {xsd}:\n{}\n{element}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Create (import) the OIO object `uuid` of `service`/`klasse` owned by `cvr`, with one
/// `egenskaber` entry of `felter` (its `brugervendtnoegle` the UUID) and the class's first
/// state, both in effect from 2020: the Organisation and Klassifikation objects a request
/// refers to.
pub async fn oio_objekt(
    h: &fki_server::ServerHandle,
    cvr: &str,
    service: &str,
    klasse: &str,
    uuid: &str,
    felter: serde_json::Value,
) {
    use fki_oio::json::{Mode, parse_write};
    use serde_json::json;
    let ctx = fki_oio::Kontekst {
        scope: fki_oio::store::Scope::All,
        myndighed: Some(cvr.into()),
        faelles: false,
        brugerref: None,
    };
    let virk = json!({"from": "2020-01-01", "to": "infinity"});
    let spec = fki_oio::spec::class(service, klasse).expect("an engine class");
    let mut e = felter;
    e["brugervendtnoegle"] = json!(uuid);
    e["virkning"] = virk.clone();
    let mut body = json!({"attributter": {spec.key("egenskaber"): [e]}});
    if let Some(s) = spec.states.first() {
        body["tilstande"] = json!({spec.key(s.name): [{s.name: s.values[0], "virkning": virk}]});
    }
    let a = parse_write(spec, &body, Mode::Create).unwrap();
    h.state
        .engine
        .write(
            &ctx,
            spec,
            Uuid::parse_str(uuid).unwrap(),
            fki_oio::Skriv::Importer(a),
        )
        .await
        .unwrap();
}

/// SOAP 1.1's envelope namespace.
pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// What [`soap11`] sends.
#[derive(Clone, Copy)]
pub struct Soap11<'a> {
    /// Path on the server's HTTPS listener, e.g. `/sagdokumentindeks/6`.
    pub path: &'a str,
    /// The WS-Addressing To; `None`: `https://localhost` and the path.
    pub to: Option<&'a str>,
    /// The WS-Addressing Action.
    pub action: &'a str,
    /// More header elements before WS-Addressing's (e.g. KOMBIT's RequestHeader).
    pub header: &'a str,
    /// Sign with a token for this entity and CVR, issued by the server's STS to the system's
    /// certificate; `None`: send it unsigned.
    pub token: Option<(&'a str, &'a str)>,
    /// The Body's element.
    pub payload: &'a str,
}

/// A SOAP 1.1 request as KOMBIT's clients send it, over HTTPS with the system's certificate
/// `cert` → (HTTP status, answer).
pub async fn soap11(h: &fki_server::ServerHandle, cert: &Issued, s: Soap11<'_>) -> (u16, String) {
    let body = soap11_request(h, Some(cert), &s);
    let https = h.https_addr.unwrap();
    let r = tls_client(&h.state.ca, Some(cert), https)
        .post(format!("https://localhost:{}{}", https.port(), s.path))
        .header("content-type", "text/xml; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The envelope [`soap11`] sends: WS-Addressing headers after `s.header`, the Body `s.payload`,
/// signed with `cert`'s key and a token issued by the server's STS to `cert` when `s.token` is
/// set (then `cert` is required).
pub fn soap11_request(
    h: &fki_server::ServerHandle,
    cert: Option<&Issued>,
    s: &Soap11<'_>,
) -> String {
    let Soap11 {
        path,
        to,
        action,
        header,
        token,
        payload,
    } = *s;
    let to = to.map_or_else(|| format!("https://localhost{path}"), str::to_owned);
    let envelope = format!(
        "<soap:Envelope xmlns:soap=\"{SOAP11}\"><soap:Header>{header}\
<Action xmlns=\"http://www.w3.org/2005/08/addressing\">{action}</Action>\
<MessageID xmlns=\"http://www.w3.org/2005/08/addressing\">urn:uuid:{}</MessageID>\
<To xmlns=\"http://www.w3.org/2005/08/addressing\">{to}</To>\
</soap:Header><soap:Body>{payload}</soap:Body></soap:Envelope>",
        Uuid::new_v4()
    );
    let Some((entity, cvr)) = token else {
        return envelope;
    };
    let cert = cert.expect("a signed request needs the system's certificate");
    let a = fki_sts::saml::issue_assertion(&fki_sts::saml::AssertionSpec::new(
        &h.state.sts.key,
        cert.cert_der(),
        entity,
        cvr,
        &fki_sts::bpp::PrivilegeList::for_cvr(cvr, &[]),
        Utc::now(),
    ))
    .unwrap();
    fki_sts::wssec::sign_service_request(&envelope, &a.xml, cert.key_pem(), Utc::now()).unwrap()
}

/// The first element of a SOAP 1.1 envelope's Body (its namespace declarations are on it).
pub fn soap11_body(envelope: &str) -> String {
    let doc = roxmltree::Document::parse(envelope).unwrap();
    let body = doc
        .descendants()
        .find(|n| n.has_tag_name((SOAP11, "Body")))
        .unwrap_or_else(|| panic!("no SOAP 1.1 Body: {envelope}"));
    let el = body.first_element_child().unwrap();
    envelope[el.range()].to_owned()
}

/// The texts of every element `{ns}local` in `xml`, in document order.
pub fn texts(xml: &str, ns: &str, local: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name((ns, local)))
        .map(|n| n.text().unwrap_or("").to_owned())
        .collect()
}
