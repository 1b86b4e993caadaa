//! KOMBIT-shaped example requests (`crates/fki-server/tests/fixtures/sf1470/`, each valid
//! against KOMBIT's schemas) are read into the operations and engine JSON they mean, and what
//! the engine accepts is written back in the schema's shape.

use fki_indeks::operation::{Operation, Tjeneste, Udtryk, laes};
use fki_indeks::regler::{self, Opslag, Skrivning};
use fki_oio::json::{Mode, parse_write};
use serde_json::Value;

fn fixture(navn: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../fki-server/tests/fixtures/sf1470/{navn}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn operation(tjeneste: Tjeneste, navn: &str) -> Operation {
    let tekst = fixture(navn);
    let doc = roxmltree::Document::parse(&tekst).unwrap();
    laes(tjeneste, doc.root_element()).unwrap_or_else(|e| panic!("{navn}: {}", e.tekst))
}

#[test]
fn an_import_of_both_types_reads_into_engine_json_the_engine_accepts() {
    let Operation::Importer(objekter) =
        operation(Tjeneste::SagDokumentIndeks, "importer-begge.xml")
    else {
        panic!("not an import")
    };
    assert_eq!(objekter.len(), 2);
    assert_eq!(objekter[0].typ.navn, "DokumentIndeks");
    assert_eq!(objekter[1].typ.navn, "SagIndeks");
    for o in &objekter {
        parse_write(o.typ.klasse, &o.data, Mode::Create)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", o.typ.navn, o.data));
    }
    let sag = &objekter[1].data;
    let egenskaber = &sag["attributter"]["sagindeksegenskaber"][0];
    assert_eq!(egenskaber["sagsnummer"], "2020-123456789");
    assert_eq!(
        sag["attributter"]["sagindeksindeksegenskaber"][0]["foelsomhed"],
        "FORTROLIGE_PERSONOPLYSNINGER"
    );
    assert_eq!(
        sag["tilstande"]["sagindeksfremdrift"][0]["fremdrift"],
        "Opstaaet"
    );
    let part = &sag["relationer"]["sagspart"][0];
    assert_eq!(part["urn"], "urn:oio:cpr-nr:0123456789");
    assert_eq!(
        part["rolle"]["uuid"],
        "d839f26a-d4d1-4441-b2d6-3dbbb12a9404"
    );
    // The part's LokalUdvidelse is kept, self-contained.
    let lokal = part["detaljer"]["lokaludvidelse"][0].as_str().unwrap();
    assert!(lokal.contains("Godtfred Lund"), "{lokal}");
    assert!(lokal.contains("xmlns"), "{lokal}");
    // The IT-system relation comes from the RelationListe's LokalUdvidelseListe.
    assert!(
        sag["relationer"]["sagsitsystem"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    let jp = &sag["relationer"]["journalpost"][0];
    assert_eq!(jp["uuid"], "2222bbbb-11aa-22bb-33cc-111111aaaaaa");
    assert!(
        jp["detaljer"]["tillaeg"][0]
            .as_str()
            .unwrap()
            .contains("JournalpostEgenskaber")
    );
}

#[test]
fn the_rules_name_every_missing_reference() {
    let Operation::Importer(objekter) = operation(Tjeneste::SagDokumentIndeks, "importer-sag.xml")
    else {
        panic!("not an import")
    };
    let skrivninger: Vec<Skrivning<'_>> = objekter.iter().map(Skrivning::Import).collect();
    let refs = regler::referencer(objekter.iter().map(|o| &o.data));
    // Nothing exists: every UUID reference is a broken rule, naming the UUID.
    let brud = regler::tjek(&skrivninger, &Opslag::default(), Some("system"));
    let regler: Vec<&str> = brud.iter().map(|b| b.regel).collect();
    assert!(regler.contains(&"SDI-REF-ORG"), "{brud:?}");
    assert!(regler.contains(&"SDI-REF-KLASSE"), "{brud:?}");
    assert!(regler.contains(&"SDI-JOURNALPOST"), "{brud:?}");
    assert!(
        brud.iter()
            .any(|b| b.tekst.contains("4444aaaa-11aa-22bb-33cc-111111aaaaaa"))
    );
    // With everything in place, nothing is broken.
    let mut opslag = Opslag::default();
    for u in refs {
        let s = u.to_string();
        let klasse = if s.starts_with("4444") || s.starts_with("5555") {
            "klasse"
        } else if s.starts_with("2222") {
            "dokumentindeks"
        } else if s.starts_with("ba537e12") || s.starts_with("251c24fd") {
            "itsystem"
        } else {
            "organisationenhed"
        };
        opslag.klasser.insert(u, klasse.to_owned());
    }
    let brud = regler::tjek(&skrivninger, &opslag, Some("system"));
    assert!(brud.is_empty(), "{brud:#?}");
}

#[test]
fn the_other_requests_read() {
    assert!(matches!(
        operation(Tjeneste::SagDokumentIndeks, "opdater-sag.xml"),
        Operation::Opdater(v) if v.len() == 1
    ));
    let Operation::Fremsoeg(f) = operation(Tjeneste::SagDokumentIndeks, "fremsoeg-cpr.xml") else {
        panic!()
    };
    let u = f.udtryk.unwrap();
    assert!(matches!(&u, Udtryk::Eller(v) if v.len() == 2));
    let blade = u.blade();
    let Udtryk::Sag(b) = blade[0] else { panic!() };
    assert!(
        b.parametre.contains(&(
            "sagspart".to_owned(),
            "urn:oio:cpr-nr:0123456789".to_owned()
        )),
        "{:?}",
        b.parametre
    );
    assert!(matches!(
        operation(Tjeneste::SagDokumentIndeks, "fremsoeg-not.xml"),
        Operation::Fremsoeg(f) if fki_indeks::soeg::har_ikke(f.udtryk.as_ref().unwrap())
    ));
    assert!(matches!(
        operation(Tjeneste::SagDokumentIndeks, "fjern-sag.xml"),
        Operation::Fjern { sager, efterlad_sagsloese_dokumenter: true, .. } if sager.len() == 1
    ));
    for (t, f) in [
        (Tjeneste::SagIndeks, "sagindeks-passiver.xml"),
        (Tjeneste::SagIndeks, "sagindeks-slet.xml"),
        (Tjeneste::SagIndeks, "sagindeks-kasser.xml"),
        (Tjeneste::DokumentIndeks, "dokumentindeks-passiver.xml"),
        (Tjeneste::DokumentIndeks, "dokumentindeks-slet.xml"),
        (Tjeneste::DokumentIndeks, "dokumentindeks-kasser.xml"),
    ] {
        let _ = operation(t, f);
    }
    let _: Value = Value::Null;
}
