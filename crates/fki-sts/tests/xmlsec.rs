//! Independent verification with libxmlsec1's command-line tool (`xmlsec1`, Debian package
//! `xmlsec1`). These tests FAIL (never skip) when `xmlsec1` is missing: what fki signs must
//! verify with the reference implementation that KOMBIT's Java/.NET peers are compatible with.

use std::path::Path;
use std::process::Command;

use chrono::Utc;
use fki_sts::bpp::{Privilege, PrivilegeList};
use fki_sts::ca::Ca;
use fki_sts::saml::{self, AssertionSpec, StsKey};
use fki_sts::xml::ns;
use fki_sts::{wssec, wstrust};

fn xmlsec1(args: &[&str], file: &Path) -> (bool, String) {
    let out = Command::new("xmlsec1")
        .arg("--verify")
        .args(args)
        .arg(file)
        .output()
        .expect("xmlsec1 must be installed (Debian package xmlsec1): this test does not skip");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.contains("OK"), text)
}

struct Setup {
    dir: tempfile::TempDir,
    ca: Ca,
    sts: StsKey,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load_or_create(&dir.path().join("ca")).unwrap();
    let sts = StsKey {
        issuer: "https://sts.fki.test".into(),
        cert_der: ca.sts().cert_der.clone(),
        key_pem: ca.sts().key_pem.clone(),
    };
    Setup { dir, ca, sts }
}

#[test]
fn issued_assertion_verifies_with_xmlsec1() {
    let s = setup();
    let system =
        s.ca.issue_system_certificate("Testkommune", "12345678")
            .unwrap();
    let privileges = PrivilegeList::for_cvr(
        "12345678",
        &[Privilege {
            role: "http://fki.test/roles/x/1".into(),
            constraints: vec![],
        }],
    );
    let a = saml::issue_assertion(&AssertionSpec::new(
        &s.sts,
        system.cert_der(),
        "http://stoettesystemerne.dk/service/organisation/3",
        "12345678",
        &privileges,
        Utc::now(),
    ))
    .unwrap();
    let file = s.dir.path().join("assertion.xml");
    std::fs::write(&file, &a.xml).unwrap();
    let root = s.dir.path().join("ca/root-ca.pem");
    let sts = s.dir.path().join("ca/sts.pem");
    let id_attr = [
        "--id-attr:ID",
        "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
    ];

    // with the STS certificate as the verification key
    let mut args = id_attr.to_vec();
    args.extend(["--pubkey-cert-pem", sts.to_str().unwrap()]);
    let (ok, out) = xmlsec1(&args, &file);
    assert!(ok, "xmlsec1 (STS certificate): {out}");

    // with the root CA as trust anchor and the certificate from KeyInfo
    let mut args = id_attr.to_vec();
    args.extend(["--trusted-pem", root.to_str().unwrap()]);
    let (ok, out) = xmlsec1(&args, &file);
    assert!(ok, "xmlsec1 (root CA trust): {out}");

    // and xmlsec1 refuses the altered assertion (the test can fail)
    std::fs::write(
        &file,
        a.xml.replace(
            "<AttributeValue>12345678</AttributeValue>",
            "<AttributeValue>87654321</AttributeValue>",
        ),
    )
    .unwrap();
    let mut args = id_attr.to_vec();
    args.extend(["--pubkey-cert-pem", sts.to_str().unwrap()]);
    let (ok, out) = xmlsec1(&args, &file);
    assert!(!ok, "xmlsec1 accepted an altered assertion: {out}");
}

/// `--id-attr:Id <ns>:<element>` for every element a WS-Security reference may point at.
fn ws_id_attrs(soap_ns: &str) -> Vec<String> {
    let mut v = Vec::new();
    for (namespace, local) in [
        (soap_ns, "Body"),
        (ns::WSU, "Timestamp"),
        (ns::WSSE, "BinarySecurityToken"),
        (ns::WSA, "Action"),
        (ns::WSA, "MessageID"),
        (ns::WSA, "To"),
        (ns::WSA, "ReplyTo"),
    ] {
        v.push("--id-attr:Id".to_owned());
        v.push(format!("{namespace}:{local}"));
    }
    v
}

#[test]
fn ws_security_issue_request_verifies_with_xmlsec1() {
    let s = setup();
    let system =
        s.ca.issue_system_certificate("Testkommune", "12345678")
            .unwrap();
    let request = wstrust::build_issue_request(
        system.cert_der(),
        system.key_pem(),
        "https://sts.fki.test/sts",
        "http://stoettesystemerne.dk/service/organisation/3",
        "12345678",
        Utc::now(),
    )
    .unwrap();
    let file = s.dir.path().join("issue.xml");
    std::fs::write(&file, &request).unwrap();
    let cert = s.dir.path().join("system.pem");
    std::fs::write(&cert, system.cert_pem()).unwrap();
    let mut args = ws_id_attrs(ns::SOAP12);
    args.extend([
        "--pubkey-cert-pem".to_owned(),
        cert.to_str().unwrap().to_owned(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = xmlsec1(&args, &file);
    assert!(ok, "xmlsec1: {out}");
    assert!(out.contains("References (ok/all): 7/7"), "{out}");

    std::fs::write(
        &file,
        request.replace("12345678</Value>", "87654321</Value>"),
    )
    .unwrap();
    let (ok, out) = xmlsec1(&args, &file);
    assert!(!ok, "xmlsec1 accepted an altered request: {out}");
}

#[test]
fn ws_security_service_request_signature_verifies_with_xmlsec1() {
    // xmlsec1 verifies the first signature in a document, which in a service request is the
    // assertion's. The request signature does not cover the assertion element, so it is
    // checked on a copy without it (the signed parts are untouched).
    let s = setup();
    let system =
        s.ca.issue_system_certificate("Testkommune", "12345678")
            .unwrap();
    let privileges = PrivilegeList::default();
    let a = saml::issue_assertion(&AssertionSpec::new(
        &s.sts,
        system.cert_der(),
        "urn:fki:test:service",
        "12345678",
        &privileges,
        Utc::now(),
    ))
    .unwrap();
    let envelope = format!(
        "<soap:Envelope xmlns:soap=\"{}\"><soap:Header><Action xmlns=\"{wsa}\">urn:op</Action>\
<MessageID xmlns=\"{wsa}\">urn:uuid:1</MessageID><To xmlns=\"{wsa}\">urn:fki:test:service</To>\
</soap:Header><soap:Body><x:Op xmlns:x=\"urn:x\">1</x:Op></soap:Body></soap:Envelope>",
        ns::SOAP11,
        wsa = ns::WSA
    );
    let signed =
        wssec::sign_service_request(&envelope, &a.xml, system.key_pem(), Utc::now()).unwrap();
    assert!(signed.contains(&a.xml));
    let without_assertion = signed.replace(&a.xml, "");
    let file = s.dir.path().join("service.xml");
    std::fs::write(&file, &without_assertion).unwrap();
    let cert = s.dir.path().join("system.pem");
    std::fs::write(&cert, system.cert_pem()).unwrap();
    let mut args = ws_id_attrs(ns::SOAP11);
    args.extend([
        "--pubkey-cert-pem".to_owned(),
        cert.to_str().unwrap().to_owned(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = xmlsec1(&args, &file);
    assert!(ok, "xmlsec1: {out}");
    assert!(out.contains("References (ok/all): 5/5"), "{out}");
}
