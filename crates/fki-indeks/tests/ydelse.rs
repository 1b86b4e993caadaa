//! SF1490 Ydelsesindeks: KOMBIT-shaped example requests (`crates/fki-server/tests/fixtures/sf1490/`,
//! each valid against KOMBIT's schemas) are read into the operations and engine JSON they mean,
//! the engine accepts that JSON, what it stores is written back in the schema's shape (checked
//! with `xmllint` against `alle.xsd`), and the `YI-*` rules name every missing reference.

use fki_indeks::operation::{Udtryk, YdelseOperation, Ydelsestjeneste, laes_ydelse};
use fki_indeks::regler::{self, Opslag, Skrivning};
use fki_indeks::sagdok::{self, Efterfilter, Intervaltype, Vaerdisti};
use fki_indeks::svar;
use fki_indeks::ydelse::{BEVILLING, EFFEKTUERING, NS_YI};
use fki_oio::json::{Mode, parse_write};
use fki_oio::model::{Livscyklus, Registrering, RegistreringMeta};
use fki_oio::time::{POS_INF, parse};
use serde_json::Value;
use uuid::Uuid;

const BEVILLING_UUID: &str = "2222aaaa-22aa-33bb-44cc-222222aaaaaa";
const EFFEKTUERING_UUID: &str = "3333aaaa-33aa-44bb-55cc-333333aaaaaa";
const CPR: &str = "urn:oio:cpr-nr:0123456789";

fn sti(navn: &str) -> String {
    format!(
        "{}/../fki-server/tests/fixtures/sf1490/{navn}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn laes_tekst(tjeneste: Ydelsestjeneste, tekst: &str) -> Result<YdelseOperation, String> {
    let doc = roxmltree::Document::parse(tekst).unwrap();
    laes_ydelse(tjeneste, doc.root_element()).map_err(|e| e.tekst)
}

fn operation(tjeneste: Ydelsestjeneste, navn: &str) -> YdelseOperation {
    let tekst = std::fs::read_to_string(sti(navn)).unwrap();
    laes_tekst(tjeneste, &tekst).unwrap_or_else(|e| panic!("{navn}: {e}"))
}

fn importer(navn: &str) -> Vec<fki_indeks::operation::Importobjekt> {
    match operation(Ydelsestjeneste::YdelseIndeks, navn) {
        YdelseOperation::Importer(o) => o,
        x => panic!("{navn}: not an import: {x:?}"),
    }
}

fn xmllint(element: &str) {
    let fil = std::env::temp_dir().join(format!("fki-indeks-ydelse-{}.xml", Uuid::new_v4()));
    std::fs::write(&fil, element).unwrap();
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema", &sti("alle.xsd")])
        .arg(&fil)
        .output()
        .expect("xmllint must be installed (libxml2-utils)");
    let _ = std::fs::remove_file(&fil);
    assert!(
        out.status.success(),
        "not valid against alle.xsd:\n{}\n{element}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the engine would store for an import: the registrering of `data`.
fn registrering(typ: &fki_indeks::sagdok::Indekstype, data: &Value) -> Registrering {
    let a = parse_write(typ.klasse, data, Mode::Create)
        .unwrap_or_else(|e| panic!("{}: {e}\n{data}", typ.navn));
    Registrering {
        id: 1,
        meta: RegistreringMeta {
            fra: parse("2025-02-01T12:00:00+01:00").unwrap(),
            til: POS_INF,
            livscyklus: Livscyklus::Importeret,
            brugerref: None,
            note: a.note,
        },
        data: a.data,
    }
}

#[test]
fn an_import_of_both_reads_into_engine_json_the_engine_accepts() {
    let objekter = importer("importer-begge.xml");
    assert_eq!(objekter.len(), 2);
    assert_eq!(objekter[0].typ, &BEVILLING);
    assert_eq!(objekter[1].typ, &EFFEKTUERING);
    assert_eq!(objekter[0].uuid.to_string(), BEVILLING_UUID);
    for o in &objekter {
        parse_write(o.typ.klasse, &o.data, Mode::Create)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", o.typ.navn, o.data));
    }
    let b = &objekter[0].data;
    let e = &b["attributter"]["bevillingindeksegenskaber"][0];
    assert_eq!(e["foelsomhed"], "FOELSOMME_PERSONOPLYSNINGER");
    assert_eq!(e["slutdato"], "2025-12-31");
    // The BevilgetYdelse: one relation entry, the element kept whole, its references derived.
    let by = &b["relationer"]["bevilgetydelse"];
    assert_eq!(by.as_array().unwrap().len(), 1, "{by}");
    assert_eq!(
        by[0]["urn"],
        format!("urn:sts:bevilling:{BEVILLING_UUID}:Ydelse:1")
    );
    assert_eq!(by[0]["indeks"], "1");
    let xml = by[0]["detaljer"]["xml"].as_str().unwrap();
    assert!(xml.contains("Sidste bankdag i måneden"), "{xml}");
    assert!(xml.starts_with("<bi:BevilgetYdelse"), "{xml}");
    assert_eq!(
        b["relationer"]["ydelse"][0]["uuid"],
        "5555aaaa-55aa-66bb-77cc-555555aaaaaa"
    );
    assert_eq!(
        b["relationer"]["ydelsesklasse"][0]["uuid"],
        "4444aaaa-44aa-55bb-66cc-444444aaaaaa"
    );
    assert_eq!(
        b["relationer"]["ydelsesitsystem"][0]["uuid"],
        "6666aaaa-66aa-77bb-88cc-666666aaaaaa"
    );
    assert_eq!(b["relationer"]["bevillingspart"][0]["urn"], CPR);
    assert_eq!(
        b["relationer"]["bevillingsaktoer"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let part_tillaeg = b["relationer"]["bevillingspart"][0]["detaljer"]["tillaeg"][0]
        .as_str()
        .unwrap();
    assert!(part_tillaeg.contains("Godtfred Lund"), "{part_tillaeg}");
    // The effektuering's BevilgetYdelseRef is the relation `bevilling`.
    let ef = &objekter[1].data;
    assert_eq!(ef["relationer"]["bevilling"][0]["uuid"], BEVILLING_UUID);
    assert_eq!(ef["relationer"]["bevilling"][0]["indeks"], "1");
    assert_eq!(
        ef["relationer"]["oekonomiskeffektueringpart"][0]["urn"],
        CPR
    );
    assert_eq!(
        ef["attributter"]["oekonomiskeffektueringindeksegenskaber"][0]["samletbruttobeloeb"],
        "450.00"
    );
}

#[test]
fn what_the_engine_keeps_is_written_back_valid_and_complete() {
    let objekter = importer("importer-begge.xml");
    let b = registrering(&BEVILLING, &objekter[0].data);
    let e = registrering(&EFFEKTUERING, &objekter[1].data);
    let mut s = svar::ydelse_fremsoeg_start(&[
        ("bevillinger", 1, Some((0, 100))),
        ("ydelser", 1, None),
        ("effektueringer", 1, Some((0, 100))),
    ]);
    sagdok::oejebliksbillede(
        &mut s,
        "yi:BevillingFiltreretOejebliksbillede",
        &BEVILLING,
        objekter[0].uuid,
        std::slice::from_ref(&b),
        sagdok::ALTID,
        None,
    );
    sagdok::oejebliksbillede(
        &mut s,
        "yi:OekonomiskEffektueringFiltreretOejebliksbillede",
        &EFFEKTUERING,
        objekter[1].uuid,
        std::slice::from_ref(&e),
        sagdok::ALTID,
        None,
    );
    svar::luk(&mut s, NS_YI, "FremsoegYdelseIndeksOutput");
    xmllint(&s);
    for ventet in [
        "Hjælp til medicin",
        "Sidste bankdag i måneden",
        "Borgerservice, Ydelser",
        ">12345674</bi:CVR-nr>",
        "32.12.06 Sygebehandling",
        "<oef:BevilgetYdelseId>1</oef:BevilgetYdelseId>",
        "FOELSOMME_PERSONOPLYSNINGER",
        CPR,
    ] {
        assert!(s.contains(ventet), "{ventet} is written back: {s}");
    }
    // The index-only relations are never on the wire.
    assert!(!s.contains("urn:sts:bevilling"), "{s}");
    assert_eq!(s.matches("<bi:ItSystem").count(), 1, "{s}");

    // A Filter naming only the owner aktoer shows the one Bevillingsaktoer of that Rolle.
    let vis = sagdok::Vis {
        dele: vec!["egenskaber"],
        roller: vec![("bevillingsaktoer", fki_indeks::ydelse::ROLLE_BEVILLING_EJER)],
    };
    let mut s = String::new();
    sagdok::registrering(&mut s, &BEVILLING, &b, sagdok::ALTID, Some(&vis));
    assert!(
        s.contains("Fiktiv Kommune") && !s.contains("Borgerservice"),
        "{s}"
    );
    assert!(!s.contains("BevilgetYdelse") && !s.contains(CPR), "{s}");
}

#[test]
fn the_rules_name_every_missing_reference() {
    let objekter = importer("importer-begge.xml");
    let skrivninger: Vec<Skrivning<'_>> = objekter.iter().map(Skrivning::Import).collect();
    let brud = regler::tjek(&skrivninger, &Opslag::default(), Some("system"));
    for (regel, uuid) in [
        ("YI-REF-ORG", "7777aaaa-77aa-88bb-99cc-777777aaaaaa"),
        ("YI-REF-ORG", "1111aaaa-11aa-22bb-33cc-111111aaaaaa"),
        ("YI-REF-KLASSE", "4444aaaa-44aa-55bb-66cc-444444aaaaaa"),
        ("YI-REF-KLASSE", "5555aaaa-55aa-66bb-77cc-555555aaaaaa"),
        ("YI-REF-ITSYSTEM", "6666aaaa-66aa-77bb-88cc-666666aaaaaa"),
    ] {
        assert!(
            brud.iter()
                .any(|b| b.regel == regel && b.tekst.contains(uuid)),
            "{regel} {uuid}: {brud:#?}"
        );
    }
    // The effektuering's Bevilling comes in the same request.
    assert!(!brud.iter().any(|b| b.regel == "YI-BEVILLING"), "{brud:#?}");
    assert!(
        !brud.iter().any(|b| b.regel.starts_with("SDI-")),
        "{brud:#?}"
    );
    // A derived reference is named where it is on the wire.
    assert!(
        brud.iter().any(|b| b.regel == "YI-REF-KLASSE"
            && b.sti
                .contains("AttributListe/BevilgetYdelse[1]/Ydelse/Klassifikation")),
        "{brud:#?}"
    );

    // With everything in place, nothing is broken.
    let mut opslag = Opslag::default();
    for u in regler::referencer(objekter.iter().map(|o| &o.data)) {
        let klasse = match &u.to_string()[..4] {
            "4444" | "5555" => "klasse",
            "6666" => "itsystem",
            "7777" => "organisation",
            "2222" => "bevillingindeks",
            _ => "organisationenhed",
        };
        opslag.klasser.insert(u, klasse.to_owned());
    }
    let brud = regler::tjek(&skrivninger, &opslag, Some("system"));
    assert!(brud.is_empty(), "{brud:#?}");

    // The effektuering alone: its Bevilling is not in the index.
    let bevilling = Uuid::parse_str(BEVILLING_UUID).unwrap();
    opslag.klasser.remove(&bevilling);
    let alene = importer("importer-effektuering.xml");
    let s: Vec<Skrivning<'_>> = alene.iter().map(Skrivning::Import).collect();
    let brud = regler::tjek(&s, &opslag, Some("system"));
    assert_eq!(brud.len(), 1, "{brud:#?}");
    assert_eq!(brud[0].regel, "YI-BEVILLING");
    assert!(brud[0].tekst.contains(BEVILLING_UUID), "{brud:#?}");
    // In the index, but without a BevilgetYdelse of that Id.
    opslag
        .klasser
        .insert(bevilling, "bevillingindeks".to_owned());
    opslag.bevilgede.insert(bevilling, vec!["2".into()]);
    let brud = regler::tjek(&s, &opslag, Some("system"));
    assert!(
        brud.len() == 1 && brud[0].tekst.contains("no BevilgetYdelse with Id '1'"),
        "{brud:#?}"
    );
    opslag.bevilgede.insert(bevilling, vec!["1".into()]);
    assert!(regler::tjek(&s, &opslag, Some("system")).is_empty());
    // Another system's entry: only the owner changes it.
    opslag.ejere.insert(
        Uuid::parse_str(EFFEKTUERING_UUID).unwrap(),
        Some("ejer".into()),
    );
    let brud = regler::tjek(&s, &opslag, Some("system"));
    assert!(brud.iter().any(|b| b.regel == "YI-EJER"), "{brud:#?}");
}

#[test]
fn required_content_is_a_rule() {
    // The Bevilling without Foelsomhed, Bevillingspart, and two BevilgetYdelser with one Id.
    let t = std::fs::read_to_string(sti("importer-bevilling.xml")).unwrap();
    let foer = t.len();
    let t = t
        .replace(
            "<bi:Foelsomhed>FOELSOMME_PERSONOPLYSNINGER</bi:Foelsomhed>",
            "",
        )
        .replacen("<bi:Bevillingspart>", "<bi:Bevillingssag>", 1)
        .replacen("</bi:Bevillingspart>", "</bi:Bevillingssag>", 1);
    assert!(t.len() < foer);
    let by_start = t.find("<bi:BevilgetYdelse>").unwrap();
    let by_slut = t.find("</bi:BevilgetYdelse>").unwrap() + "</bi:BevilgetYdelse>".len();
    let by = t[by_start..by_slut].to_owned();
    let t = format!("{}{by}{}", &t[..by_slut], &t[by_slut..]);
    let YdelseOperation::Importer(o) = laes_tekst(Ydelsestjeneste::YdelseIndeks, &t).unwrap()
    else {
        panic!()
    };
    let s: Vec<Skrivning<'_>> = o.iter().map(Skrivning::Import).collect();
    let brud = regler::tjek(&s, &Opslag::default(), None);
    for regel in ["YI-EGENSKABER", "YI-MODTAGER", "YI-BEVILGETYDELSE"] {
        assert!(brud.iter().any(|b| b.regel == regel), "{regel}: {brud:#?}");
    }
    // A CPR number of nine digits.
    let t = std::fs::read_to_string(sti("importer-bevilling.xml"))
        .unwrap()
        .replace(CPR, "urn:oio:cpr-nr:012345678");
    let YdelseOperation::Importer(o) = laes_tekst(Ydelsestjeneste::YdelseIndeks, &t).unwrap()
    else {
        panic!()
    };
    let s: Vec<Skrivning<'_>> = o.iter().map(Skrivning::Import).collect();
    let brud = regler::tjek(&s, &Opslag::default(), None);
    assert!(
        brud.iter()
            .any(|b| b.regel == "YI-PART" && b.sti.contains("Bevillingspart[1]")),
        "{brud:#?}"
    );
}

#[test]
fn bad_input_names_the_element() {
    let t = std::fs::read_to_string(sti("importer-effektuering.xml")).unwrap();
    for (fra, til, sti_del) in [
        (
            "<oef:SamletBruttobeloeb>450.00<",
            "<oef:SamletBruttobeloeb>450,00<",
            "Egenskaber[1]/SamletBruttobeloeb",
        ),
        (
            "<oef:BevilgetYdelseId>1</oef:BevilgetYdelseId>",
            "",
            "BevilgetYdelseRef",
        ),
        (
            "<oef:Ydelsesbeloeb>450.00<",
            "<oef:Ydelsesbeloeb>mange<",
            "OekonomiskYdelseEffektueringRelation[1]/Ydelsesbeloeb",
        ),
    ] {
        assert!(t.contains(fra), "{fra}");
        let e = laes_tekst(Ydelsestjeneste::YdelseIndeks, &t.replace(fra, til)).unwrap_err();
        assert!(e.contains(sti_del), "{sti_del}: {e}");
    }
    // An effektuering has no UdenNotifikation.
    let x = t.replace(
        "</oef:Registrering>",
        "</oef:Registrering><oef:UdenNotifikation>true</oef:UdenNotifikation>",
    );
    assert!(laes_tekst(Ydelsestjeneste::YdelseIndeks, &x).is_err());
    // A Bevilling's operation at the effektuering's service.
    let fjern = std::fs::read_to_string(sti("bevillingindeks-fjern.xml")).unwrap();
    assert!(laes_tekst(Ydelsestjeneste::OekonomiskEffektueringIndeks, &fjern).is_err());
}

#[test]
fn the_other_requests_read() {
    let YdelseOperation::Opdater(v) =
        operation(Ydelsestjeneste::YdelseIndeks, "opdater-bevilling.xml")
    else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].typ, &BEVILLING);
    let xml = v[0].data["relationer"]["bevilgetydelse"][0]["detaljer"]["xml"]
        .as_str()
        .unwrap();
    assert!(xml.contains("2026-06-30"), "{xml}");
    // Only the AttributListe is given: the wire relations are left as they are.
    assert!(v[0].data["relationer"].get("bevillingspart").is_none());
    parse_write(BEVILLING.klasse, &v[0].data, Mode::Update).unwrap();

    let YdelseOperation::Fremsoeg(f) = operation(Ydelsestjeneste::YdelseIndeks, "fremsoeg-cpr.xml")
    else {
        panic!()
    };
    let u = f.udtryk.clone().unwrap();
    assert!(matches!(&u, Udtryk::Eller(v) if v.len() == 2));
    let blade = u.blade();
    let Udtryk::Bevilling(b) = blade[0] else {
        panic!()
    };
    assert_eq!(b.parametre, [("bevillingspart".to_owned(), CPR.to_owned())]);
    assert_eq!((b.foerste, b.maks), (Some(0), Some(100)));
    let Udtryk::Effektuering(e) = blade[1] else {
        panic!()
    };
    assert_eq!(
        e.parametre,
        [("oekonomiskeffektueringpart".to_owned(), CPR.to_owned())]
    );
    let bvis = f.filter.bevilling.as_ref().unwrap();
    assert!(bvis.dele.contains(&"bevilgetydelse") && bvis.roller.len() == 2);
    assert!(f.filter.effektueringer && f.filter.bevillinger);
    assert_eq!(f.bevilling_sortering[0].element, "Ydelsesnavn");
    assert!(f.effektuering_sortering[0].faldende);

    // Searching in time is refused; the intervals are post-filters.
    let t = std::fs::read_to_string(sti("fremsoeg-cpr-interval.xml")).unwrap();
    let e = laes_tekst(Ydelsestjeneste::YdelseIndeks, &t).unwrap_err();
    assert!(e.contains("SoegRegistrering"), "{e}");
    let t = t.replace(
        "<sd:SoegRegistrering>\n        <sd:LivscyklusKode>Importeret</sd:LivscyklusKode>\n      </sd:SoegRegistrering>",
        "",
    );
    let YdelseOperation::Fremsoeg(f) = laes_tekst(Ydelsestjeneste::YdelseIndeks, &t).unwrap()
    else {
        panic!()
    };
    let u = f.udtryk.unwrap();
    let blade = u.blade();
    let Udtryk::Bevilling(b) = blade[0] else {
        panic!()
    };
    assert_eq!(
        b.efterfiltre,
        [Efterfilter::Interval {
            sti: Vaerdisti::Felt("egenskaber", "slutdato"),
            typ: Intervaltype::Tid,
            fra: Some("2025-06-01T00:00:00+02:00".into()),
            til: None,
        }]
    );
    let Udtryk::Effektuering(e) = blade[1] else {
        panic!()
    };
    assert_eq!(e.efterfiltre.len(), 2, "{:?}", e.efterfiltre);

    for (t, f, typ) in [
        (
            Ydelsestjeneste::BevillingIndeks,
            "bevillingindeks-fjern.xml",
            &BEVILLING,
        ),
        (
            Ydelsestjeneste::OekonomiskEffektueringIndeks,
            "oekonomiskeffektueringindeks-fjern.xml",
            &EFFEKTUERING,
        ),
    ] {
        let YdelseOperation::Fjern { typ: x, note, .. } = operation(t, f) else {
            panic!()
        };
        assert_eq!(x, typ);
        assert!(note.is_some());
    }
}

#[test]
fn post_filters_check_the_values_found() {
    let objekter = importer("importer-begge.xml");
    let b = registrering(&BEVILLING, &objekter[0].data);
    let e = registrering(&EFFEKTUERING, &objekter[1].data);
    let nu = parse("2025-03-01").unwrap();
    let interval = |sti, typ, fra: Option<&str>, til: Option<&str>| Efterfilter::Interval {
        sti,
        typ,
        fra: fra.map(str::to_owned),
        til: til.map(str::to_owned),
    };
    let slut = Vaerdisti::Felt("egenskaber", "slutdato");
    assert!(sagdok::opfylder(
        &b,
        &interval(slut, Intervaltype::Tid, Some("2025-06-01"), None),
        nu
    ));
    assert!(!sagdok::opfylder(
        &b,
        &interval(slut, Intervaltype::Tid, Some("2026-01-01"), None),
        nu
    ));
    // Inside the kept BevilgetYdelse: the plan's amount, and its Navn as text.
    let beloeb = Vaerdisti::Relation(
        "bevilgetydelse",
        "OekonomiskEffektueringsplan/Ydelsesbeloeb",
    );
    assert!(sagdok::opfylder(
        &b,
        &interval(beloeb, Intervaltype::Beloeb, Some("400"), Some("450")),
        nu
    ));
    assert!(!sagdok::opfylder(
        &b,
        &interval(beloeb, Intervaltype::Beloeb, Some("450.01"), None),
        nu
    ));
    assert!(sagdok::opfylder(
        &b,
        &Efterfilter::Tekst(
            Vaerdisti::Relation("bevilgetydelse", "Navn"),
            "hjælp til%".into()
        ),
        nu
    ));
    // What a relation type adds: the effektuering's Ydelsesperiode.
    let periode = Vaerdisti::Relation("oekonomiskydelseeffektuering", "YdelsesperiodeSlutdato");
    assert!(sagdok::opfylder(
        &e,
        &interval(
            periode,
            Intervaltype::Tid,
            Some("2025-01-31T00:00:00+01:00"),
            Some("2025-01-31T00:00:00+01:00")
        ),
        nu
    ));
    // Before the entries are in effect, nothing matches.
    assert!(!sagdok::opfylder(
        &e,
        &interval(periode, Intervaltype::Tid, None, None),
        parse("2024-01-01").unwrap()
    ));
}
