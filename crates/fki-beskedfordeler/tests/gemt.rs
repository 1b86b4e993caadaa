//! A stored message with the Beskedfordeler's hop spliced in is the same text, byte for byte,
//! as the message parsed, given the hop and written again, for every shape of envelope the
//! writer produces; text the writer did not produce is parsed instead.

use fki_beskedfordeler::gemt::{self, GemtBesked};
use fki_beskedfordeler::kuvert::{
    Haendelsesbesked, Leverancerute, LeveranceruteLokalUdvidelse, Tidspunkt, UnikId,
};
use proptest::prelude::*;

const EXTERN: &str = include_str!("fixtures/externTestBesked.xml");
const PUSH: &str = include_str!("fixtures/push-delivery-message.xml");

/// `EXTERN` with every optional part of `Leveranceinformation` chosen by the flags, and
/// Beskeddata and extensions whose text looks like the envelope's own tags.
fn besked(ruter: u8, lokal: bool, fixed: bool, drilsk: bool) -> Haendelsesbesked {
    let mut info = String::from("<ns2:Leveranceinformation>");
    if fixed {
        info.push_str(
            "<ns2:Dannelsestidspunkt><TidsstempelDatoTid>2026-11-30T10:00:00Z</TidsstempelDatoTid></ns2:Dannelsestidspunkt>\
             <ns2:TransaktionsId><UUIDIdentifikator>c8673551-981e-4be1-b1a6-180cf6fa61f0</UUIDIdentifikator></ns2:TransaktionsId>\
             <ns2:KildesystemAkkreditiver>&lt;/ns2:Leveranceinformation&gt; a &gt; b</ns2:KildesystemAkkreditiver>",
        );
    }
    match ruter {
        0 => {}
        1 => info.push_str("<ns2:Leveranceruter></ns2:Leveranceruter>"),
        _ => {
            info.push_str("<ns2:Leveranceruter>");
            for i in 1..ruter {
                info.push_str(&format!(
                    "<ns2:Leverancerute><ns2:Fordelingssystem><UUIDIdentifikator>00000000-0000-0000-0000-00000000000{i}</UUIDIdentifikator></ns2:Fordelingssystem>\
                     <ns2:LeveranceruteLokalUdvidelse><ns2:AntalLeveranceforsoeg>{i}</ns2:AntalLeveranceforsoeg>\
                     <x:Leveranceruter xmlns:x=\"urn:x\" a=\"&gt;/&gt;\">&lt;/ns2:Leveranceruter&gt;</x:Leveranceruter></ns2:LeveranceruteLokalUdvidelse></ns2:Leverancerute>"
                ));
            }
            info.push_str("</ns2:Leveranceruter>");
        }
    }
    if lokal {
        info.push_str(
            "<ns2:LeveranceinformationLokalUdvidelse><y:Leveranceruter xmlns:y=\"urn:y\"/><ns2:Leveranceinformation xmlns:ns2=\"urn:y\"/></ns2:LeveranceinformationLokalUdvidelse>",
        );
    }
    info.push_str("</ns2:Leveranceinformation>");
    let start = EXTERN.find("<ns2:Leveranceinformation>").unwrap();
    let slut =
        EXTERN.find("</ns2:Leveranceinformation>").unwrap() + "</ns2:Leveranceinformation>".len();
    let mut xml = format!("{}{}{}", &EXTERN[..start], info, &EXTERN[slut..]);
    if drilsk {
        xml = xml.replace(
            "Hello to Beskedfordeler",
            "<![CDATA[</ns2:Leveranceruter></ns2:Leveranceinformation>]]> <z:a xmlns:z=\"urn:z\" t='&lt;x&gt;'/>",
        );
    }
    Haendelsesbesked::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
}

fn rute(n: u64) -> Leverancerute {
    Leverancerute {
        fordelingssystem: Some(UnikId::Uuid(uuid::Uuid::from_u128(n as u128))),
        modtagelses_tidspunkt: Some(Tidspunkt::Tidsstempel("2026-11-30T10:00:00.5Z".into())),
        leverance_tidspunkt: Some(Tidspunkt::Tidsstempel(format!("2026-11-30T10:00:0{n}Z"))),
        modtaget_fra_system: Some(uuid::Uuid::from_u128(7)),
        er_leveret_i_henhold_til: None,
        lokal_udvidelse: Some(LeveranceruteLokalUdvidelse {
            antal_leveranceforsoeg: Some(n),
            andet: Vec::new(),
        }),
    }
}

/// Spliced and parsed-and-written agree, and the splice was taken.
fn same(b: &Haendelsesbesked, r: Leverancerute) {
    let gemt = b.to_xml();
    let g = GemtBesked::find(&gemt).unwrap_or_else(|| panic!("not recognised:\n{gemt}"));
    let mut forventet = b.clone();
    forventet.tilfoej_leverancerute(r.clone());
    assert_eq!(g.to_xml_med(&r), forventet.to_xml());
    assert_eq!(
        g.modtag_besked_input_med(&r),
        forventet.modtag_besked_input()
    );
    // And the result reads as the message with the hop (the parser trims text, so compare
    // what both read as).
    let laest = Haendelsesbesked::parse(&g.to_xml_med(&r)).unwrap();
    assert_eq!(laest, Haendelsesbesked::parse(&forventet.to_xml()).unwrap());
    assert_eq!(
        laest
            .beskedkuvert
            .leveranceinformation
            .leveranceruter
            .unwrap()
            .last(),
        Some(&r)
    );
}

#[test]
fn every_envelope_shape_gets_the_hop_where_the_writer_puts_it() {
    for ruter in 0..4 {
        for lokal in [false, true] {
            for fixed in [false, true] {
                for drilsk in [false, true] {
                    same(
                        &besked(ruter, lokal, fixed, drilsk),
                        rute(u64::from(ruter) + 1),
                    );
                }
            }
        }
    }
    same(
        &Haendelsesbesked::parse_modtag_besked_input(PUSH).unwrap(),
        rute(1),
    );
}

#[test]
fn hops_added_one_after_another_stay_in_order() {
    let mut b = besked(0, true, true, true);
    let mut gemt = b.to_xml();
    for n in 1..5 {
        let g = GemtBesked::find(&gemt).unwrap();
        gemt = g.to_xml_med(&rute(n));
        b.tilfoej_leverancerute(rute(n));
        assert_eq!(gemt, b.to_xml());
    }
    assert_eq!(
        b.beskedkuvert
            .leveranceinformation
            .leveranceruter
            .as_ref()
            .map(Vec::len),
        Some(4)
    );
}

#[test]
fn text_the_writer_did_not_produce_is_parsed_instead() {
    // The example as KOMBIT wrote it: other layout and whitespace.
    assert!(GemtBesked::find(EXTERN).is_none());
    let spliced = gemt::med_leverancerute(EXTERN, rute(1)).unwrap();
    let mut b = Haendelsesbesked::parse(EXTERN).unwrap();
    b.tilfoej_leverancerute(rute(1));
    assert_eq!(spliced, b.to_xml());
    assert_eq!(
        gemt::modtag_besked_input_med_leverancerute(EXTERN, rute(1)).unwrap(),
        b.modtag_besked_input()
    );
    // Broken text is refused, not spliced.
    let written = besked(2, false, false, false).to_xml();
    let cut = &written[..written.find("</ns2:Leveranceruter>").unwrap()];
    assert!(GemtBesked::find(cut).is_none());
    assert!(gemt::med_leverancerute(cut, rute(1)).is_err());
    // An unexpected element where Leveranceinformation's children are.
    let odd = written.replace(
        "<ns2:Leveranceruter>",
        "<ns2:Ukendt></ns2:Ukendt><ns2:Leveranceruter>",
    );
    assert!(GemtBesked::find(&odd).is_none());
}

proptest! {
    /// Whatever text values the envelope carries (escaped as the writer escapes them), the
    /// splice lands where parsing puts the hop.
    #[test]
    fn any_text_in_the_envelope(akk in "\\PC{0,40}", data in "[<>&\"' a-z/:]{0,40}", ruter in 0u8..3, lokal: bool) {
        let mut b = besked(ruter, lokal, true, false);
        b.beskedkuvert.leveranceinformation.kildesystem_akkreditiver = Some(format!("{akk}{data}"));
        same(&b, rute(3));
    }
}
