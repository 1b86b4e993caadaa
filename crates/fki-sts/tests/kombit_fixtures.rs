//! What fki produces has the shape of KOMBIT's material (`tests/fixtures/README.md`), and fki's
//! verifiers parse KOMBIT's messages.

use chrono::{DateTime, Utc};
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Ca;
use fki_sts::saml::{self, AssertionSpec, StsKey, TokenError};
use fki_sts::wssec::{self, WsSecConfig, WsSecError};
use fki_sts::wstrust;
use fki_sts::xml::{self, Limits, ns};
use roxmltree::Node;

const EXAMPLE: &str = include_str!("fixtures/kombit-signed-request-with-issued-assertion.xml");
const TEMPLATE: &str = include_str!("fixtures/kombit-SAMLTokenSoapTemplate.xml");
const EXAMPLE_AUDIENCE: &str = "http://organisation.serviceplatformen.dk/service/organisation/5";
const EXAMPLE_ISSUER: &str = "https://saml.adgangsstyring.eksterntest-stoettesystemerne.dk";

/// `{ns}local` of the element children.
fn child_names(node: Node<'_, '_>) -> Vec<String> {
    node.children()
        .filter(|n| n.is_element())
        .map(|n| xml::qname(n.tag_name().namespace().unwrap_or(""), n.tag_name().name()))
        .collect()
}

/// The element structure of a subtree as indented names (text ignored), for shape comparisons.
fn shape(node: Node<'_, '_>, depth: usize, out: &mut Vec<String>) {
    out.push(format!(
        "{}{}",
        " ".repeat(depth),
        xml::qname(
            node.tag_name().namespace().unwrap_or(""),
            node.tag_name().name()
        )
    ));
    for c in node.children().filter(|n| n.is_element()) {
        shape(c, depth + 1, out);
    }
}

fn example_assertion_text() -> String {
    let doc = xml::parse(EXAMPLE, Limits::default()).unwrap();
    let a = xml::only_descendant(doc.root_element(), ns::SAML, "Assertion").unwrap();
    xml::standalone_fragment(EXAMPLE, a).unwrap()
}

fn example_sts_cert() -> Vec<u8> {
    use base64::Engine;
    let a = example_assertion_text();
    let doc = xml::parse(&a, Limits::default()).unwrap();
    let sig = xml::only_child(doc.root_element(), ns::DS, "Signature").unwrap();
    let cert = sig
        .descendants()
        .find(|n| xml::is(*n, ns::DS, "X509Certificate"))
        .unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(xml::text_no_ws(cert))
        .unwrap()
}

fn example_now() -> DateTime<Utc> {
    "2020-07-02T09:42:30Z".parse().unwrap()
}

#[test]
fn our_assertion_has_the_shape_of_kombits() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load_or_create(dir.path()).unwrap();
    let system = ca
        .issue_system_certificate("Testkommune", "99999999")
        .unwrap();
    let sts = StsKey {
        issuer: EXAMPLE_ISSUER.into(),
        cert_der: ca.sts().cert_der.clone(),
        key_pem: ca.sts().key_pem.clone(),
    };
    let privileges = PrivilegeList::for_cvr(
        "99999999",
        &[fki_sts::bpp::Privilege {
            role: "http://serviceplatformen.serviceplatformen.dk/roles/servicesystemrole/dummy/1"
                .into(),
            constraints: vec![],
        }],
    );
    let ours = saml::issue_assertion(&AssertionSpec::new(
        &sts,
        system.cert_der(),
        EXAMPLE_AUDIENCE,
        "99999999",
        &privileges,
        Utc::now(),
    ))
    .unwrap();

    let theirs = example_assertion_text();
    let (d1, d2) = (
        xml::parse(&ours.xml, Limits::default()).unwrap(),
        xml::parse(&theirs, Limits::default()).unwrap(),
    );
    let (mut s1, mut s2) = (Vec::new(), Vec::new());
    shape(d1.root_element(), 0, &mut s1);
    shape(d2.root_element(), 0, &mut s2);
    assert_eq!(s1, s2, "element structure differs from KOMBIT's assertion");

    // attributes of the key elements, and the attribute names/values that carry meaning
    {
        let (a, b) = (d1.root_element(), d2.root_element());
        let attrs = |n: Node<'_, '_>| {
            let mut v: Vec<String> = n.attributes().map(|a| a.name().to_owned()).collect();
            v.sort();
            v
        };
        assert_eq!(attrs(a), attrs(b));
        let attr_list = |n: Node<'_, '_>| -> Vec<(String, String, String)> {
            let st = xml::only_child(n, ns::SAML, "AttributeStatement").unwrap();
            xml::children(st, ns::SAML, "Attribute")
                .map(|at| {
                    (
                        at.attribute("Name").unwrap().to_owned(),
                        at.attribute("NameFormat").unwrap().to_owned(),
                        xml::text(xml::only_child(at, ns::SAML, "AttributeValue").unwrap()),
                    )
                })
                .collect()
        };
        assert_eq!(
            attr_list(a),
            attr_list(b),
            "attributes (names, formats, values)"
        );
    }
    let conf = |d: &roxmltree::Document<'_>| {
        let sc = xml::only_descendant(d.root_element(), ns::SAML, "SubjectConfirmation").unwrap();
        let scd = xml::only_child(sc, ns::SAML, "SubjectConfirmationData").unwrap();
        (
            sc.attribute("Method").unwrap().to_owned(),
            scd.attribute((ns::XSI, "type")).unwrap().to_owned(),
            scd.attribute("Recipient").unwrap().to_owned(),
        )
    };
    assert_eq!(conf(&d1), conf(&d2));
    let sig = |d: &roxmltree::Document<'_>| {
        let s = xml::only_child(d.root_element(), ns::DS, "Signature").unwrap();
        s.descendants()
            .filter_map(|n| n.attribute("Algorithm").map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert_eq!(sig(&d1), sig(&d2), "signature algorithms");
}

#[test]
fn kombit_assertion_parses_and_fails_only_on_its_reformatted_digest() {
    let a = example_assertion_text();
    let cert = example_sts_cert();
    let info = fki_sts::ca::cert_info(&cert).unwrap();
    assert!(
        info.subject.contains("CVR:19435075-FID:60492788"),
        "{}",
        info.subject
    );
    // not trusted: refused as such, before any crypto
    let err = saml::verify_assertion(
        &a,
        &[],
        EXAMPLE_ISSUER,
        EXAMPLE_AUDIENCE,
        example_now(),
        chrono::Duration::minutes(5),
    )
    .unwrap_err();
    assert!(matches!(err, TokenError::UntrustedSigner(_)), "{err}");
    // trusted: every shape and algorithm check passes; the digest does not match because the
    // fixture was pretty-printed after signing (xmlsec1 agrees, see the next test)
    let err = saml::verify_assertion(
        &a,
        &[cert],
        EXAMPLE_ISSUER,
        EXAMPLE_AUDIENCE,
        example_now(),
        chrono::Duration::minutes(5),
    )
    .unwrap_err();
    assert!(
        matches!(&err, TokenError::BadSignature(m) if m.to_lowercase().contains("digest")),
        "{err}"
    );
}

#[test]
fn xmlsec1_also_rejects_the_reformatted_kombit_assertion() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.xml");
    std::fs::write(&file, example_assertion_text()).unwrap();
    let pem = dir.path().join("sts.pem");
    std::fs::write(
        &pem,
        fki_sts::ca::der_to_pem(&example_sts_cert(), "CERTIFICATE"),
    )
    .unwrap();
    let out = std::process::Command::new("xmlsec1")
        .args([
            "--verify",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            "--pubkey-cert-pem",
        ])
        .arg(&pem)
        .arg(&file)
        .output()
        .expect("xmlsec1 must be installed");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains("data and digest do not match"), "{text}");
}

#[test]
fn kombit_service_request_reaches_the_assertion_check() {
    // The envelope's structure (Security header, Timestamp, Assertion, STR, Signature) is
    // accepted; the reformatted assertion then fails its digest.
    let config = WsSecConfig::default();
    let err = wssec::verify_service_request(
        EXAMPLE.as_bytes(),
        &[example_sts_cert()],
        EXAMPLE_ISSUER,
        EXAMPLE_AUDIENCE,
        example_now(),
        &config,
    )
    .unwrap_err();
    assert!(
        matches!(&err, WsSecError::Token(TokenError::BadSignature(m)) if m.to_lowercase().contains("digest")),
        "{err}"
    );
}

#[test]
fn our_issue_request_has_the_shape_of_the_template() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load_or_create(dir.path()).unwrap();
    let system = ca
        .issue_system_certificate("Testkommune", "12345678")
        .unwrap();
    let ours = wstrust::build_issue_request(
        system.cert_der(),
        system.key_pem(),
        "https://sts.fki.test",
        "http://stoettesystemerne.dk/service/organisation/3",
        "12345678",
        Utc::now(),
    )
    .unwrap();
    let (d1, d2) = (
        xml::parse(&ours, Limits::default()).unwrap(),
        xml::parse(TEMPLATE, Limits::default()).unwrap(),
    );
    let (mut s1, mut s2) = (Vec::new(), Vec::new());
    shape(d1.root_element(), 0, &mut s1);
    shape(d2.root_element(), 0, &mut s2);
    assert_eq!(s1, s2, "element structure differs from the template");
    // every element the template gives a wsu:Id has one in ours, and our signature references
    // the same set of elements (by name) as the template's
    let referenced = |d: &roxmltree::Document<'_>| {
        let mut names: Vec<String> = d
            .descendants()
            .filter(|n| xml::is(*n, ns::DS, "Reference"))
            .map(|r| {
                let id = r.attribute("URI").unwrap().trim_start_matches('#');
                let target = d
                    .descendants()
                    .find(|n| xml::wsu_id(*n) == Some(id))
                    .unwrap();
                target.tag_name().name().to_owned()
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(referenced(&d1), referenced(&d2));
    let rst = |d: &roxmltree::Document<'_>| {
        child_names(
            xml::only_descendant(d.root_element(), ns::WST, "RequestSecurityToken").unwrap(),
        )
    };
    assert_eq!(rst(&d1), rst(&d2));
    // the unsigned template itself is refused, not crashed on
    let err =
        wstrust::verify_issue_request(TEMPLATE.as_bytes(), Utc::now(), &WsSecConfig::default())
            .unwrap_err();
    assert!(
        matches!(
            err,
            WsSecError::Malformed(_)
                | WsSecError::BadSignature(_)
                | WsSecError::InvalidTimestamp(_)
        ),
        "{err}"
    );
}
