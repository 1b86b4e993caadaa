//! The shared example messages parse strictly and round-trip; malformed messages are refused
//! with the element path and the reason.

use fki_beskedfordeler::kuvert::{Haendelsesbesked, Leverancerute, Tidspunkt, UnikId};

const EXTERN: &str = include_str!("fixtures/externTestBesked.xml");
const PUSH: &str = include_str!("fixtures/push-delivery-message.xml");

#[test]
fn the_example_message_parses_with_every_field() {
    let b = Haendelsesbesked::parse(EXTERN).unwrap();
    assert_eq!(b.besked_id.vaerdi(), "01157488-c45c-4fd2-b076-1de12effbf66");
    assert_eq!(b.besked_version, "1.0");
    let f = &b.beskedkuvert.filtreringsdata;
    assert_eq!(
        f.tilladt_modtager,
        vec![UnikId::urn("urn:oio:cvr-nr:99999999").unwrap()]
    );
    assert_eq!(f.relateret_objekt.len(), 1);
    let r = &f.objekt_registrering[0];
    assert_eq!(
        r.opgave_emne.as_ref().map(UnikId::vaerdi).as_deref(),
        Some("urn:oio:kle:32.01.01")
    );
    // Upper-case UUIDs in the example are read as UUIDs.
    assert_eq!(
        r.registrerings_aktoer.map(|u| u.to_string()).as_deref(),
        Some("d92bb9c2-d826-4028-8fb5-d8b88b4377d4")
    );
    assert_eq!(
        b.beskedkuvert.gyldighed_fra,
        Some(Tidspunkt::Tidsstempel("2022-02-13T08:00:00".into()))
    );
    assert_eq!(b.beskeddata.len(), 1);
    assert!(
        b.beskeddata[0].contains("urn:kombit:test"),
        "{}",
        b.beskeddata[0]
    );
    assert!(b.beskeddata[0].contains("Hello to Beskedfordeler"));
}

#[test]
fn the_examples_round_trip() {
    let b = Haendelsesbesked::parse(EXTERN).unwrap();
    let again = Haendelsesbesked::parse(&b.to_xml()).unwrap();
    assert_eq!(again, b);
    // Writing is stable: the written form writes itself again unchanged.
    assert_eq!(again.to_xml(), b.to_xml());

    let p = Haendelsesbesked::parse_modtag_besked_input(PUSH).unwrap();
    let again = Haendelsesbesked::parse_modtag_besked_input(&p.modtag_besked_input()).unwrap();
    assert_eq!(again, p);
    let sent =
        Haendelsesbesked::parse_beskedfordeler_input(&p.afsend_besked_input(), "AfsendBeskedInput")
            .unwrap();
    assert_eq!(sent, p);
}

#[test]
fn a_hop_is_recorded_and_survives_the_round_trip() {
    let mut b = Haendelsesbesked::parse_modtag_besked_input(PUSH).unwrap();
    b.tilfoej_leverancerute(Leverancerute {
        modtagelses_tidspunkt: Some(Tidspunkt::Tidsstempel("2026-11-29T10:00:00Z".into())),
        leverance_tidspunkt: Some(Tidspunkt::Tidsstempel("2026-11-29T10:00:01.5Z".into())),
        lokal_udvidelse: Some(Default::default()),
        ..Default::default()
    });
    let xml = b.to_xml();
    assert!(
        xml.contains("<ns2:Leveranceruter><ns2:Leverancerute>"),
        "{xml}"
    );
    assert_eq!(Haendelsesbesked::parse(&xml).unwrap(), b);
}

fn refused(xml: &str) -> String {
    match Haendelsesbesked::parse(xml) {
        Ok(b) => panic!("accepted: {b:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_messages_are_refused_with_path_and_reason() {
    let e = refused(&EXTERN.replace("<ns2:BeskedVersion>1.0</ns2:BeskedVersion>", ""));
    assert!(
        e.contains("Haendelsesbesked") && e.contains("BeskedVersion"),
        "{e}"
    );

    let e = refused(&EXTERN.replace("urn:oio:cvr-nr:99999999", "urn:oio:cvr-nr:999"));
    assert!(
        e.contains("TilladtModtager") && e.contains("8 digits"),
        "{e}"
    );

    let e = refused(&EXTERN.replace("urn:oio:cpr-nr:1234567890", "urn:oio:cpr-nr:12345"));
    assert!(
        e.contains("ObjektRegistrering/ObjektId") && e.contains("10 digits"),
        "{e}"
    );

    let e = refused(&EXTERN.replace("urn:oio:kle:32.01.01", "urn:oio:kle:32.1"));
    assert!(e.contains("OpgaveEmne") && e.contains("KLE"), "{e}");

    // The right local name in the wrong namespace.
    let e = refused(&EXTERN.replace(
        "<ns2:BeskedVersion>1.0</ns2:BeskedVersion>",
        "<BeskedVersion>1.0</BeskedVersion>",
    ));
    assert!(e.contains("expected BeskedVersion"), "{e}");

    // Out of order: GyldighedFra before Leveranceinformation.
    let moved = EXTERN.replacen(
        "<ns2:Leveranceinformation>",
        "<ns2:GyldighedFra><TidsstempelDatoTid>2022-02-13T08:00:00</TidsstempelDatoTid></ns2:GyldighedFra><ns2:Leveranceinformation>",
        1,
    );
    let e = refused(&moved);
    assert!(e.contains("Beskedkuvert"), "{e}");

    let e = refused(&EXTERN.replace(
        "<UUIDIdentifikator>01157488-c45c-4fd2-b076-1de12effbf66</UUIDIdentifikator>",
        "<UUIDIdentifikator>not-a-uuid</UUIDIdentifikator>",
    ));
    assert!(e.contains("BeskedId") && e.contains("not a UUID"), "{e}");

    // The first time stamp is the ObjektRegistrering's Registreringstidspunkt.
    let e = refused(&EXTERN.replacen(
        "2022-02-13T08:00:00</TidsstempelDatoTid>",
        "13/02/2022</TidsstempelDatoTid>",
        1,
    ));
    assert!(
        e.contains("Registreringstidspunkt") && e.contains("xs:dateTime"),
        "{e}"
    );
}

#[test]
fn entities_and_oversized_messages_are_refused() {
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
        EXTERN
            .split_once("?>")
            .unwrap()
            .1
            .replace("1.0</ns2:BeskedVersion>", "&e;</ns2:BeskedVersion>")
    );
    let e = refused(&xxe);
    assert!(e.to_lowercase().contains("dtd"), "{e}");
    let big = EXTERN.replace(
        "Hello to Beskedfordeler",
        &"x".repeat(fki_beskedfordeler::kuvert::MAX_BYTES),
    );
    let e = refused(&big);
    assert!(
        e.contains("byte") || e.contains("large") || e.contains("limit"),
        "{e}"
    );
}
