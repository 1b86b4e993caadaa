//! Fuzzing the SOAP reading chain as a bounded property test on stable, in every `cargo test`
//! (the coverage-guided cargo-fuzz target `fuzz/fuzz_targets/organisation_soap.rs` runs the same
//! chain in CI): valid operation elements of every type and operation, mutated (byte flips,
//! truncations, element duplication, insertions), through
//! [`fki_organisation::kaede::laes_alt`]. Nothing may panic, and every refusal is an `Err` with
//! a text.
//!
//! `FKI_WRITE_FUZZ_SEEDS=<fuzz dir> cargo test -p fki-organisation --test fuzz_props -- --ignored`
//! writes the valid seeds (a starting corpus for a cargo-fuzz target) into
//! `<fuzz dir>/corpus/organisation_soap/`.

use fki_organisation::typer::{
    self, Form, NS_ORGFAELLES, NS_SD, NS_STS, Ns, Objekttype, RelForm, Tilstand,
};
use proptest::prelude::*;

const FRA: &str = "2020-01-01T00:00:00+01:00";
const U1: &str = "5f1a3b7e-2a55-4a3e-9d0c-7b3f2c1e9a01";
const U2: &str = "0c9d7e4a-8b1f-4c2d-a3e5-6f7a8b9c0d12";
const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";

// ------------------------------------------------------------------------------ the chain

/// The chain the server runs ([`fki_organisation::kaede::laes_alt`], also the cargo-fuzz
/// target's).
fn kaede(data: &[u8]) -> Result<usize, String> {
    fki_organisation::kaede::laes_alt(data)
}

// ------------------------------------------------------------------------------ seeds

fn decl(typ: &Objekttype) -> String {
    format!(
        "xmlns:t=\"{}\" xmlns:sd=\"{NS_SD}\" xmlns:sts=\"{NS_STS}\" xmlns:orgfaelles=\"{NS_ORGFAELLES}\"",
        typ.ns
    )
}

fn prefix(ns: Ns) -> &'static str {
    match ns {
        Ns::Sd => "sd",
        Ns::Sts => "sts",
        Ns::Egen => "t",
    }
}

fn virkning() -> String {
    format!(
        "<sd:Virkning><sd:FraTidspunkt><sd:TidsstempelDatoTid>{FRA}</sd:TidsstempelDatoTid></sd:FraTidspunkt>\
<sd:TilTidspunkt><sd:GraenseIndikator>true</sd:GraenseIndikator></sd:TilTidspunkt></sd:Virkning>"
    )
}

/// A value the element's schema type accepts.
fn vaerdi(element: &str) -> &'static str {
    match element {
        "CVR-NummerTekst" | "SE-NummerTekst" => "12345678",
        "P-NummerTekst" | "CPR-NummerTekst" => "1234567890",
        "MyndighedsKode" => "101",
        "PlanIdentifikator" | "Sortering" => "7",
        _ => "en tekst",
    }
}

fn lister(typ: &Objekttype) -> String {
    let mut s = format!("<t:AttributListe><t:Egenskab>{}", virkning());
    for f in typ.egenskaber {
        let (p, el) = (prefix(f.ns), f.element);
        match f.form {
            Form::Tekst => s.push_str(&format!("<{p}:{el}>{}</{p}:{el}>", vaerdi(el))),
            Form::Liste => s.push_str(&format!("<{p}:{el}>a</{p}:{el}><{p}:{el}>b</{p}:{el}>")),
            Form::Soegeord => s.push_str(&format!(
                "<{p}:{el}><sd:SoegeordIdentifikator>id</sd:SoegeordIdentifikator>\
<sd:BeskrivelseTekst>om</sd:BeskrivelseTekst><sd:SoegeordKategoriTekst>kat</sd:SoegeordKategoriTekst></{p}:{el}>"
            )),
        }
    }
    s.push_str("</t:Egenskab></t:AttributListe><t:TilstandListe>");
    match typ.tilstand {
        Tilstand::Ingen => {}
        Tilstand::Gyldighed => s.push_str(&format!(
            "<orgfaelles:Gyldighed>{}<orgfaelles:GyldighedStatusKode>Aktiv</orgfaelles:GyldighedStatusKode></orgfaelles:Gyldighed>",
            virkning()
        )),
        Tilstand::Publiceret => s.push_str(&format!(
            "<t:PubliceretStatus>{}<sd:ErPubliceretIndikator>true</sd:ErPubliceretIndikator></t:PubliceretStatus>",
            virkning()
        )),
    }
    s.push_str("</t:TilstandListe><t:RelationListe>");
    for r in typ.relationer {
        let el = r.element;
        s.push_str(&format!(
            "<sd:{el}>{}<sd:ReferenceID><sd:UUIDIdentifikator>{U1}</sd:UUIDIdentifikator></sd:ReferenceID>",
            virkning()
        ));
        match r.form {
            RelForm::Enkel => {}
            RelForm::Dynamisk => s.push_str(&format!(
                "<sd:Rolle><sd:UUIDIdentifikator>{U2}</sd:UUIDIdentifikator><sd:Label>rolle</sd:Label></sd:Rolle>\
<sd:Type><sd:URNIdentifikator>urn:dk:type:x</sd:URNIdentifikator></sd:Type><sd:Indeks>1</sd:Indeks>"
            )),
            RelForm::DynamiskRolle => s.push_str(&format!(
                "<sd:Rolle><sd:UUIDIdentifikator>{U2}</sd:UUIDIdentifikator><sd:Label>rolle</sd:Label></sd:Rolle>\
<sd:Type><sd:UUIDIdentifikator>{U1}</sd:UUIDIdentifikator></sd:Type>\
<sd:Indeks><sd:UUIDIdentifikator>{U2}</sd:UUIDIdentifikator></sd:Indeks>"
            )),
        }
        s.push_str(&format!("</sd:{el}>"));
    }
    s.push_str("</t:RelationListe>");
    s
}

/// Valid operation elements: every operation of every type, and two whole envelopes. Each is
/// named `<klasse>-<operation>`.
fn seeds() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for typ in typer::alle() {
        let d = decl(typ);
        let k = match typ.version {
            6 => typ.klasse.to_owned(),
            v => format!("{}-v{v}", typ.klasse),
        };
        let el = typ.element;
        let uuid_op = |op: &str, rest: &str| {
            format!("<t:{op} {d}><sd:UUIDIdentifikator>{U1}</sd:UUIDIdentifikator>{rest}</t:{op}>")
        };
        let opret = format!(
            "<t:OpretInput {d}><sd:NoteTekst>ny</sd:NoteTekst>{}</t:OpretInput>",
            lister(typ)
        );
        out.push((format!("{k}-opret"), opret));
        out.push((
            format!("{k}-ret"),
            uuid_op(
                "RetInput",
                &format!("<sd:NoteTekst>ret</sd:NoteTekst>{}", lister(typ)),
            ),
        ));
        out.push((
            format!("{k}-import"),
            format!(
                "<t:ImportInput {d}><t:{el}><sd:UUIDIdentifikator>{U2}</sd:UUIDIdentifikator><t:Registrering>\
<sd:NoteTekst>importeret</sd:NoteTekst>{}</t:Registrering></t:{el}></t:ImportInput>",
                lister(typ)
            ),
        ));
        out.push((
            format!("{k}-passiver"),
            uuid_op("PassiverInput", "<sd:NoteTekst>p</sd:NoteTekst>"),
        ));
        out.push((format!("{k}-slet"), uuid_op("SletInput", "")));
        out.push((format!("{k}-laes"), uuid_op("LaesInput", "")));
        out.push((
            format!("{k}-list"),
            format!(
                "<t:ListInput {d}><sd:UUIDIdentifikator>{U1}</sd:UUIDIdentifikator>\
<sd:UUIDIdentifikator>{U2}</sd:UUIDIdentifikator></t:ListInput>"
            ),
        ));
        // A search names values without Virkning (as crates/fki-server/tests/organisation_soap.rs).
        let mut soeg = format!(
            "<t:SoegInput {d}><sd:MaksimalAntalKvantitet>100</sd:MaksimalAntalKvantitet><t:AttributListe>"
        );
        if let Some(f) = typ.egenskaber.iter().find(|f| f.form == Form::Tekst) {
            let (p, el) = (prefix(f.ns), f.element);
            soeg.push_str(&format!(
                "<t:Egenskab><{p}:{el}>{}</{p}:{el}></t:Egenskab>",
                vaerdi(el)
            ));
        }
        soeg.push_str("</t:AttributListe><t:TilstandListe>");
        match typ.tilstand {
            Tilstand::Ingen => {}
            Tilstand::Gyldighed => soeg.push_str(
                "<orgfaelles:Gyldighed><orgfaelles:GyldighedStatusKode>Aktiv</orgfaelles:GyldighedStatusKode></orgfaelles:Gyldighed>",
            ),
            Tilstand::Publiceret => soeg.push_str(
                "<t:PubliceretStatus><sd:ErPubliceretIndikator>true</sd:ErPubliceretIndikator></t:PubliceretStatus>",
            ),
        }
        soeg.push_str("</t:TilstandListe><t:RelationListe>");
        if let Some(r) = typ.relationer.first() {
            soeg.push_str(&format!(
                "<sd:{0}><sd:ReferenceID><sd:UUIDIdentifikator>{U1}</sd:UUIDIdentifikator></sd:ReferenceID></sd:{0}>",
                r.element
            ));
        }
        soeg.push_str("</t:RelationListe></t:SoegInput>");
        out.push((format!("{k}-soeg"), soeg));
    }
    let enhed = typer::ved_sti("organisation", "organisationenhed").expect("organisationenhed");
    for (navn, env) in [("soap11", SOAP11), ("soap12", SOAP12)] {
        out.push((
            format!("envelope-{navn}"),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><s:Envelope xmlns:s=\"{env}\"><s:Header/><s:Body>\
<t:LaesInput {}><sd:UUIDIdentifikator>{U1}</sd:UUIDIdentifikator></t:LaesInput></s:Body></s:Envelope>",
                decl(enhed)
            ),
        ));
    }
    out
}

// ------------------------------------------------------------------------------ mutations

#[derive(Debug, Clone)]
enum Mutation {
    /// XOR the byte at (position mod length) with a non-zero value.
    Flip(usize, u8),
    /// Cut the input at (position mod length + 1).
    Truncate(usize),
    /// Repeat the (index mod count)-th element of the current text right after itself.
    DuplicateElement(usize),
    /// Remove the (index mod count)-th element.
    RemoveElement(usize),
    /// Insert a fragment at (position mod length + 1).
    Insert(usize, &'static str),
}

const FRAGMENTS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "&amp;",
    "&#0;",
    "&#x110000;",
    "\u{0}",
    "\"",
    "<!DOCTYPE x [<!ENTITY e \"ee\">]>",
    "<?pi x?>",
    "<![CDATA[x]]>",
    "<!-- c -->",
    "xmlns:sd=\"urn:x\"",
    "æøå",
    "\u{FEFF}",
    "<sd:UUIDIdentifikator>00000000-0000-0000-0000-000000000000</sd:UUIDIdentifikator>",
    "<sd:GraenseIndikator>false</sd:GraenseIndikator>",
    "<sd:TidsstempelDatoTid>9999-12-31T23:59:59Z</sd:TidsstempelDatoTid>",
    "<sd:TidsstempelDatoTid>-infinity</sd:TidsstempelDatoTid>",
    " ",
    "\r\n",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 1u8..=255).prop_map(|(p, b)| Mutation::Flip(p, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        2 => any::<usize>().prop_map(Mutation::DuplicateElement),
        2 => any::<usize>().prop_map(Mutation::RemoveElement),
        2 => (any::<usize>(), proptest::sample::select(FRAGMENTS))
            .prop_map(|(p, f)| Mutation::Insert(p, f)),
    ]
}

/// The element ranges of `bytes` if it is still well-formed XML.
fn element_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    let Ok(doc) = roxmltree::Document::parse(text) else {
        return Vec::new();
    };
    doc.descendants()
        .filter(|n| n.is_element())
        .map(|n| n.range())
        .collect()
}

fn apply(mut bytes: Vec<u8>, m: &Mutation) -> Vec<u8> {
    match *m {
        Mutation::Flip(p, x) if !bytes.is_empty() => {
            let i = p % bytes.len();
            bytes[i] ^= x;
        }
        Mutation::Truncate(p) if !bytes.is_empty() => bytes.truncate(p % bytes.len() + 1),
        Mutation::DuplicateElement(i) | Mutation::RemoveElement(i) => {
            let ranges = element_ranges(&bytes);
            if !ranges.is_empty() {
                let r = ranges[i % ranges.len()].clone();
                if matches!(m, Mutation::DuplicateElement(_)) {
                    let copy = bytes[r.clone()].to_vec();
                    bytes.splice(r.end..r.end, copy);
                } else {
                    bytes.drain(r);
                }
            }
        }
        Mutation::Insert(p, f) => {
            let i = p % (bytes.len() + 1);
            bytes.splice(i..i, f.bytes());
        }
        _ => {}
    }
    bytes
}

// ------------------------------------------------------------------------------ tests

#[test]
fn every_seed_goes_the_whole_way() {
    for (navn, seed) in seeds() {
        let u = kaede(seed.as_bytes()).unwrap_or_else(|e| panic!("{navn}: {e}"));
        // Parsed, read as an operation, and accepted by the engine's parser.
        assert_eq!(u, 3, "{navn} stopped early");
    }
}

#[test]
#[ignore = "writes the fuzz seeds; run with FKI_WRITE_FUZZ_SEEDS=<fuzz dir>"]
fn write_fuzz_seeds() {
    let dir = std::env::var("FKI_WRITE_FUZZ_SEEDS").expect("FKI_WRITE_FUZZ_SEEDS=<fuzz dir>");
    let dir = format!("{dir}/corpus/organisation_soap");
    std::fs::create_dir_all(&dir).unwrap();
    for (navn, seed) in seeds() {
        std::fs::write(format!("{dir}/{navn}.xml"), seed).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_requests_never_panic_and_refusals_have_a_text(
        seed in any::<proptest::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        let (_, seed) = &seeds[seed.index(seeds.len())];
        let mut bytes = seed.clone().into_bytes();
        for m in &mutations {
            bytes = apply(bytes, m);
        }
        if let Err(e) = kaede(&bytes) {
            prop_assert!(false, "{e}\ninput: {}", String::from_utf8_lossy(&bytes));
        }
    }
}
