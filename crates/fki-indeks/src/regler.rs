//! The index rules: what a write must satisfy beyond the schema, each with an identifier a
//! vendor can look up (docs/indeks.md lists them). The write path refuses a request that breaks
//! any; the validation mode (`fki validate sf1470`, `POST /admin/valider/sf1470`) lists every
//! one a request breaks without storing anything.
//!
//! The rules read only the request and an [`Opslag`] of the objects it references, which the
//! server fills from the store beforehand (one read for all referenced UUIDs): they are pure
//! and synchronous.
//!
//! The role UUIDs are those of KOMBIT's examples
//! (`../shared/specs/sf1470-sagdokumentindeks/client.properties.example`).
//!
//! SF1470's rules are `SDI-*`, SF1490's (Ydelsesindeks) `YI-*`; [`tjek`] applies each type's.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use uuid::Uuid;

use crate::operation::{Importobjekt, Opdatering};
use crate::sagdok::{DOKUMENT, Indekstype, SAG};
use crate::ydelse::{self, BEVILLING, EFFEKTUERING};

/// Rolle "Primær klasse" of a Sagsklasse / Dokumentklasse.
pub const ROLLE_PRIMAER_KLASSE: Uuid = Uuid::from_u128(0xa86c6581_ec85_412d_a655_31a1f1d5b14f);
/// Rolle "Ansvarlig" of a Sagsaktoer.
pub const ROLLE_ANSVARLIG: Uuid = Uuid::from_u128(0xa1263342_d348_44ba_a566_233f37c4cb67);
/// Rolle "Primær part" of a Sagspart / Dokumentpart.
pub const ROLLE_PRIMAER_PART: Uuid = Uuid::from_u128(0xd839f26a_d4d1_4441_b2d6_3dbbb12a9404);

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Brud {
    /// The rule's identifier (`SDI-REF-KLASSE` …).
    pub regel: &'static str,
    /// Where: the object and, if it applies, the relation or field.
    pub sti: String,
    pub tekst: String,
}

impl std::fmt::Display for Brud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}: {}", self.regel, self.sti, self.tekst)
    }
}

/// The rules, for the documentation and the report: identifier and what it demands.
pub const REGLER: &[(&str, &str)] = &[
    (
        "SDI-SKEMA",
        "The request follows the WSDL/XSD: element names, namespaces, order, value forms.",
    ),
    (
        "SDI-SAG-TITEL",
        "A Sag has a Titel and a Sagsnummer in its Egenskaber.",
    ),
    (
        "SDI-SAG-PRIMAERKLASSE",
        "A Sag has exactly one Sagsklasse with Rolle 'Primær klasse' (a86c6581-…) at any time.",
    ),
    (
        "SDI-SAG-ANSVARLIG",
        "A Sag has a Sagsaktoer with Rolle 'Ansvarlig' (a1263342-…).",
    ),
    ("SDI-DOK-TITEL", "A Dokument has a Titel in its Egenskaber."),
    (
        "SDI-ROLLE",
        "Every Sagsaktoer, Sagsklasse, Sagspart, Dokumentaktoer, Dokumentklasse and Dokumentpart names its Rolle and Type.",
    ),
    (
        "SDI-REF-ORG",
        "An aktør given by UUID exists in fki's Organisation (SF1500) for the caller's myndighed or as fælleskommunal.",
    ),
    (
        "SDI-REF-KLASSE",
        "A Sagsklasse or Dokumentklasse given by UUID exists as a Klasse in fki's Klassifikation (SF1510).",
    ),
    (
        "SDI-REF-ITSYSTEM",
        "An IT-system relation given by UUID exists as an ItSystem in fki's Organisation.",
    ),
    (
        "SDI-PART",
        "A part is a CPR number (urn:oio:cpr-nr:<10 digits>), a CVR number (urn:oio:cvr-nr:<8 digits>) or a UUID.",
    ),
    (
        "SDI-JOURNALPOST",
        "A Journalpost points, by UUID, at a Dokument that is in the index or in the same request.",
    ),
    (
        "SDI-FOELSOMHED",
        "Foelsomhed is one of IKKE_FORTROLIGE_DATA, FORTROLIGE_PERSONOPLYSNINGER, FOELSOMME_PERSONOPLYSNINGER, VIP_SAGER.",
    ),
    (
        "SDI-EJER",
        "Only the anvendersystem that wrote an entry changes or removes it.",
    ),
    (
        "YI-SKEMA",
        "The request follows the WSDL/XSD of SF1490: element names, namespaces, order, value forms (dates, amounts, booleans, lengths, enumerations).",
    ),
    (
        "YI-EGENSKABER",
        "A Bevilling has Egenskaber with BrugervendtNoegle and Foelsomhed (KOMBIT's sample client: mandatory); an OekonomiskEffektuering has Egenskaber with Dispositionsdato (the interface's only sort key for payments).",
    ),
    (
        "YI-FOELSOMHED",
        "A Bevilling's Foelsomhed is one of IKKE_FORTROLIGE_DATA, FORTROLIGE_PERSONOPLYSNINGER, FOELSOMME_PERSONOPLYSNINGER, VIP_SAGER.",
    ),
    (
        "YI-MODTAGER",
        "A Bevilling has a Bevillingspart and an OekonomiskEffektuering an OekonomiskEffektueringPart: whom the grant or payment is for.",
    ),
    (
        "YI-BEVILGETYDELSE",
        "Every BevilgetYdelse has an Id, unique within its Bevilling (an effektuering's BevilgetYdelseRef names it by Id).",
    ),
    (
        "YI-ROLLE",
        "Every Bevillingspart, Bevillingsaktoer, Ydelse, Klassifikation, OekonomiskYdelseEffektueringRelation, Aktoer and OekonomiskEffektueringPart names its Rolle and Type.",
    ),
    (
        "YI-REF-ORG",
        "A Bevillingsaktoer or an effektuering's Aktoer given by UUID exists in fki's Organisation (SF1500) for the caller's myndighed or as fælleskommunal.",
    ),
    (
        "YI-REF-KLASSE",
        "A BevilgetYdelse's Ydelse and Klassifikation and an OekonomiskYdelseEffektueringRelation point, by UUID, at a Klasse in fki's Klassifikation (SF1510).",
    ),
    (
        "YI-REF-ITSYSTEM",
        "A BevilgetYdelse's ItSystem and an effektuering's ItSystem given by UUID exist as ItSystem in fki's Organisation.",
    ),
    (
        "YI-PART",
        "A Bevillingspart or OekonomiskEffektueringPart is a CPR number (urn:oio:cpr-nr:<10 digits>), a CVR number (urn:oio:cvr-nr:<8 digits>) or a UUID.",
    ),
    (
        "YI-BEVILLING",
        "An OekonomiskEffektuering names its Bevilling (a BevilgetYdelseRef in an OekonomiskYdelseEffektueringRelation); each BevilgetYdelseRef names a Bevilling in the index or in the same request, and one of that Bevilling's BevilgetYdelse Ids.",
    ),
    (
        "YI-EJER",
        "Only the anvendersystem that wrote a Bevilling or OekonomiskEffektuering changes or removes it.",
    ),
];

/// The Foelsomhed values (`si:FoelsomhedType`, `di:FoelsomhedType`).
pub const FOELSOMHED: &[&str] = &[
    "IKKE_FORTROLIGE_DATA",
    "FORTROLIGE_PERSONOPLYSNINGER",
    "FOELSOMME_PERSONOPLYSNINGER",
    "VIP_SAGER",
];

/// What the server knows about the referenced objects.
#[derive(Debug, Clone, Default)]
pub struct Opslag {
    /// Visible objects by UUID: their engine class (`organisationenhed`, `klasse`,
    /// `dokumentindeks` …).
    pub klasser: HashMap<Uuid, String>,
    /// Existing index entries by UUID: the anvendersystem that owns them.
    pub ejere: HashMap<Uuid, Option<String>>,
    /// Visible Bevillinger in the index by UUID: the Ids of their BevilgetYdelser.
    pub bevilgede: HashMap<Uuid, Vec<String>>,
}

/// The organisation classes an aktør may be.
const AKTOER_KLASSER: &[&str] = &[
    "organisation",
    "organisationenhed",
    "organisationfunktion",
    "bruger",
    "interessefaellesskab",
    "itsystem",
    "person",
    "virksomhed",
];

/// Every UUID the objects reference (to look up before [`tjek`]).
pub fn referencer<'a>(data: impl IntoIterator<Item = &'a Value>) -> HashSet<Uuid> {
    let mut out = HashSet::new();
    for d in data {
        for entries in d
            .get("relationer")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.values())
        {
            for e in entries.as_array().into_iter().flatten() {
                if let Some(u) = e
                    .get("uuid")
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok())
                {
                    out.insert(u);
                }
            }
        }
    }
    out
}

/// A write to check: an import (the whole entry) or an opdater (the lists it changes).
#[derive(Debug, Clone, Copy)]
pub enum Skrivning<'a> {
    Import(&'a Importobjekt),
    Opdater(&'a Opdatering),
}

impl Skrivning<'_> {
    fn typ(&self) -> &'static Indekstype {
        match self {
            Skrivning::Import(o) => o.typ,
            Skrivning::Opdater(o) => o.typ,
        }
    }
    fn uuid(&self) -> Uuid {
        match self {
            Skrivning::Import(o) => o.uuid,
            Skrivning::Opdater(o) => o.uuid,
        }
    }
    fn data(&self) -> &Value {
        match self {
            Skrivning::Import(o) => &o.data,
            Skrivning::Opdater(o) => &o.data,
        }
    }
}

/// Check the writes of one request, by the anvendersystem `system`. Returns every broken rule:
/// SF1470's for sager and documents, SF1490's ([`tjek_ydelse`]) for Bevillinger and
/// effektueringer.
pub fn tjek(skrivninger: &[Skrivning<'_>], opslag: &Opslag, system: Option<&str>) -> Vec<Brud> {
    let mut brud = tjek_sagdok(skrivninger, opslag, system);
    brud.extend(tjek_ydelse(skrivninger, opslag, system));
    brud
}

fn tjek_sagdok(skrivninger: &[Skrivning<'_>], opslag: &Opslag, system: Option<&str>) -> Vec<Brud> {
    let mut brud = Vec::new();
    // Documents the request itself brings.
    let nye_dokumenter: HashSet<Uuid> = skrivninger
        .iter()
        .filter(|s| std::ptr::eq(s.typ(), &DOKUMENT))
        .map(|s| s.uuid())
        .collect();
    for s in skrivninger {
        let typ = s.typ();
        if typ != &SAG && typ != &DOKUMENT {
            continue;
        }
        let uuid = s.uuid();
        let sti = format!("{} {uuid}", typ.navn);
        let data = s.data();
        let mut b = |regel: &'static str, hvor: &str, tekst: String| {
            let sti = if hvor.is_empty() {
                sti.clone()
            } else {
                format!("{sti} {hvor}")
            };
            brud.push(Brud { regel, sti, tekst });
        };
        // Ownership.
        if let Some(Some(ejer)) = opslag.ejere.get(&uuid)
            && system.is_some_and(|s| s != ejer)
        {
            b(
                "SDI-EJER",
                "",
                format!("the entry belongs to anvendersystem {ejer}; only it may change the entry"),
            );
        }
        let attr = |gruppe: &str| -> Vec<&serde_json::Map<String, Value>> {
            data.get("attributter")
                .and_then(|a| a.get(typ.klasse.key(gruppe)))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .collect()
        };
        let har_felt = |felt: &str| {
            attr("egenskaber").iter().any(|e| {
                e.get(felt)
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.trim().is_empty())
            })
        };
        let import = matches!(s, Skrivning::Import(_));
        if import {
            if std::ptr::eq(typ, &SAG) {
                for (felt, navn) in [("titel", "Titel"), ("sagsnummer", "Sagsnummer")] {
                    if !har_felt(felt) {
                        b(
                            "SDI-SAG-TITEL",
                            "AttributListe/Egenskaber",
                            format!("{navn} is missing"),
                        );
                    }
                }
            } else if !har_felt("titel") {
                b(
                    "SDI-DOK-TITEL",
                    "AttributListe/Egenskaber",
                    "Titel is missing".into(),
                );
            }
        }
        for gruppe in ["egenskaber", "indeksegenskaber"] {
            for e in attr(gruppe) {
                if let Some(f) = e.get("foelsomhed").and_then(Value::as_str)
                    && !FOELSOMHED.contains(&f)
                {
                    b(
                        "SDI-FOELSOMHED",
                        "Foelsomhed",
                        format!("'{f}' is not one of {}", FOELSOMHED.join(", ")),
                    );
                }
            }
        }
        let Some(rel) = data.get("relationer").and_then(Value::as_object) else {
            continue;
        };
        let entries = |navn: &str| -> Vec<&Value> {
            rel.get(navn)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .collect()
        };
        let rolle = |e: &Value| -> Option<Uuid> {
            e.get("rolle")
                .and_then(|r| r.get("uuid"))
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
        };
        let maal_uuid = |e: &Value| -> Option<Uuid> {
            e.get("uuid")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
        };
        let (aktoer, klasse, part, itsystem) = if std::ptr::eq(typ, &SAG) {
            ("sagsaktoer", "sagsklasse", "sagspart", "sagsitsystem")
        } else {
            (
                "dokumentaktoer",
                "dokumentklasse",
                "dokumentpart",
                "dokumentitsystem",
            )
        };
        let stort = |s: &str| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        };
        for navn in [aktoer, klasse, part] {
            for (i, e) in entries(navn).iter().enumerate() {
                if e.get("rolle").is_none() || e.get("type").is_none() {
                    b(
                        "SDI-ROLLE",
                        &format!("RelationListe/{}[{}]", stort(navn), i + 1),
                        "give Rolle and Type".into(),
                    );
                }
            }
        }
        for (i, e) in entries(aktoer).iter().enumerate() {
            if let Some(u) = maal_uuid(e) {
                match opslag.klasser.get(&u) {
                    Some(k) if AKTOER_KLASSER.contains(&k.as_str()) => {}
                    Some(k) => b(
                        "SDI-REF-ORG",
                        &format!("RelationListe/{}[{}]", stort(aktoer), i + 1),
                        format!("{u} is a {k}, not an organisation object"),
                    ),
                    None => b(
                        "SDI-REF-ORG",
                        &format!("RelationListe/{}[{}]", stort(aktoer), i + 1),
                        format!(
                            "{u} does not exist in Organisation (or is not visible to the caller's myndighed)"
                        ),
                    ),
                }
            }
        }
        for (i, e) in entries(klasse).iter().enumerate() {
            let hvor = format!("RelationListe/{}[{}]", stort(klasse), i + 1);
            match maal_uuid(e) {
                Some(u) => match opslag.klasser.get(&u).map(String::as_str) {
                    Some("klasse") => {}
                    Some(k) => b(
                        "SDI-REF-KLASSE",
                        &hvor,
                        format!("{u} is a {k}, not a Klasse"),
                    ),
                    None => b(
                        "SDI-REF-KLASSE",
                        &hvor,
                        format!("Klasse {u} does not exist in Klassifikation"),
                    ),
                },
                None => b(
                    "SDI-REF-KLASSE",
                    &hvor,
                    "refer to the Klasse by its UUID".into(),
                ),
            }
        }
        for (i, e) in entries(itsystem).iter().enumerate() {
            if let Some(u) = maal_uuid(e)
                && opslag.klasser.get(&u).map(String::as_str) != Some("itsystem")
            {
                b(
                    "SDI-REF-ITSYSTEM",
                    &format!(
                        "RelationListe/LokalUdvidelseListe/{}[{}]",
                        stort(itsystem),
                        i + 1
                    ),
                    format!("ItSystem {u} does not exist in Organisation"),
                );
            }
        }
        for (i, e) in entries(part).iter().enumerate() {
            let ok = match e.get("urn").and_then(Value::as_str) {
                Some(urn) => gyldig_part(urn),
                None => maal_uuid(e).is_some(),
            };
            if !ok {
                b(
                    "SDI-PART",
                    &format!("RelationListe/{}[{}]", stort(part), i + 1),
                    format!(
                        "'{}' is not urn:oio:cpr-nr:<10 digits>, urn:oio:cvr-nr:<8 digits> or a UUID",
                        e.get("urn").and_then(Value::as_str).unwrap_or("")
                    ),
                );
            }
        }
        if std::ptr::eq(typ, &SAG) {
            for (i, e) in entries("journalpost").iter().enumerate() {
                let hvor = format!("RelationListe/Journalpost[{}]", i + 1);
                match maal_uuid(e) {
                    Some(u)
                        if nye_dokumenter.contains(&u)
                            || opslag.klasser.get(&u).map(String::as_str)
                                == Some("dokumentindeks") => {}
                    Some(u) => b(
                        "SDI-JOURNALPOST",
                        &hvor,
                        format!(
                            "Dokument {u} is not in the index; import it first or in the same request"
                        ),
                    ),
                    None => b(
                        "SDI-JOURNALPOST",
                        &hvor,
                        "refer to the Dokument by its UUID".into(),
                    ),
                }
            }
            if import {
                let primaer = entries(klasse)
                    .iter()
                    .filter(|e| rolle(e) == Some(ROLLE_PRIMAER_KLASSE))
                    .count();
                if primaer != 1 {
                    b(
                        "SDI-SAG-PRIMAERKLASSE",
                        "RelationListe/Sagsklasse",
                        format!(
                            "{primaer} Sagsklasse with Rolle Primær klasse ({ROLLE_PRIMAER_KLASSE}); give exactly one"
                        ),
                    );
                }
                if !entries(aktoer)
                    .iter()
                    .any(|e| rolle(e) == Some(ROLLE_ANSVARLIG))
                {
                    b(
                        "SDI-SAG-ANSVARLIG",
                        "RelationListe/Sagsaktoer",
                        format!("no Sagsaktoer with Rolle Ansvarlig ({ROLLE_ANSVARLIG})"),
                    );
                }
            }
        }
    }
    brud
}

/// A part's URN: a CPR or CVR number of the right length.
pub fn gyldig_part(urn: &str) -> bool {
    let cifre = |s: &str, n: usize| s.len() == n && s.bytes().all(|c| c.is_ascii_digit());
    urn.strip_prefix("urn:oio:cpr-nr:")
        .is_some_and(|s| cifre(s, 10))
        || urn
            .strip_prefix("urn:oio:cvr-nr:")
            .is_some_and(|s| cifre(s, 8))
}

/// The SF1490 rules (`YI-*` in [`REGLER`]) for the Bevillinger and effektueringer of a request.
pub fn tjek_ydelse(
    skrivninger: &[Skrivning<'_>],
    opslag: &Opslag,
    system: Option<&str>,
) -> Vec<Brud> {
    let mut brud = Vec::new();
    // The Bevillinger the request itself brings, with their BevilgetYdelse Ids (`None`: an
    // opdater that leaves them as they are).
    let nye_bevillinger: HashMap<Uuid, Option<Vec<String>>> = skrivninger
        .iter()
        .filter(|s| s.typ() == &BEVILLING)
        .map(|s| (s.uuid(), ydelse::bevilgede_ider_json(s.data())))
        .collect();
    for s in skrivninger {
        let typ = s.typ();
        if typ != &BEVILLING && typ != &EFFEKTUERING {
            continue;
        }
        let bevilling = typ == &BEVILLING;
        let uuid = s.uuid();
        let sti = format!("{} {uuid}", typ.navn);
        let data = s.data();
        let import = matches!(s, Skrivning::Import(_));
        let mut b = |regel: &'static str, hvor: &str, tekst: String| {
            let sti = if hvor.is_empty() {
                sti.clone()
            } else {
                format!("{sti} {hvor}")
            };
            brud.push(Brud { regel, sti, tekst });
        };
        if let Some(Some(ejer)) = opslag.ejere.get(&uuid)
            && system.is_some_and(|s| s != ejer)
        {
            b(
                "YI-EJER",
                "",
                format!("the entry belongs to anvendersystem {ejer}; only it may change the entry"),
            );
        }
        let egenskaber: Vec<&serde_json::Map<String, Value>> = data
            .get("attributter")
            .and_then(|a| a.get(typ.klasse.key("egenskaber")))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .collect();
        let har_felt = |felt: &str| {
            egenskaber.iter().any(|e| {
                e.get(felt)
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.trim().is_empty())
            })
        };
        if import {
            let kraevet: &[(&str, &str)] = if bevilling {
                &[
                    ("brugervendtnoegle", "BrugervendtNoegle"),
                    ("foelsomhed", "Foelsomhed"),
                ]
            } else {
                &[("dispositionsdato", "Dispositionsdato")]
            };
            for (felt, navn) in kraevet {
                if !har_felt(felt) {
                    b(
                        "YI-EGENSKABER",
                        "AttributListe/Egenskaber",
                        format!("{navn} is missing"),
                    );
                }
            }
        }
        for e in &egenskaber {
            if let Some(f) = e.get("foelsomhed").and_then(Value::as_str)
                && !FOELSOMHED.contains(&f)
            {
                b(
                    "YI-FOELSOMHED",
                    "AttributListe/Egenskaber/Foelsomhed",
                    format!("'{f}' is not one of {}", FOELSOMHED.join(", ")),
                );
            }
        }
        let Some(rel) = data.get("relationer").and_then(Value::as_object) else {
            continue;
        };
        let entries = |navn: &str| -> Vec<&Value> {
            rel.get(navn)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .collect()
        };
        // Where an entry is on the wire: a RelationListe element, or where a derived entry
        // came from.
        let hvor = |navn: &str, i: usize, e: &Value| -> String {
            if let Some(s) = e.pointer("/detaljer/sti").and_then(Value::as_str) {
                return s.to_owned();
            }
            let element = typ
                .relationer
                .iter()
                .find(|d| d.relation == navn)
                .map_or(navn, |d| d.element);
            format!("RelationListe/{element}[{}]", i + 1)
        };
        let maal_uuid = |e: &Value| -> Option<Uuid> {
            e.get("uuid")
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
        };
        let (roller, org, klasser, itsystemer, parter): (&[&str], &[&str], &[&str], &[&str], &str) =
            if bevilling {
                (
                    &[
                        "bevillingspart",
                        "bevillingsaktoer",
                        "ydelse",
                        "ydelsesklasse",
                    ],
                    &["bevillingsaktoer"],
                    &["ydelse", "ydelsesklasse"],
                    &["ydelsesitsystem"],
                    "bevillingspart",
                )
            } else {
                (
                    &[
                        "oekonomiskydelseeffektuering",
                        "aktoer",
                        "oekonomiskeffektueringpart",
                    ],
                    &["aktoer"],
                    &["oekonomiskydelseeffektuering"],
                    &["itsystem"],
                    "oekonomiskeffektueringpart",
                )
            };
        for navn in roller {
            for (i, e) in entries(navn).iter().enumerate() {
                if e.get("rolle").is_none() || e.get("type").is_none() {
                    b("YI-ROLLE", &hvor(navn, i, e), "give Rolle and Type".into());
                }
            }
        }
        for navn in org {
            for (i, e) in entries(navn).iter().enumerate() {
                if let Some(u) = maal_uuid(e) {
                    match opslag.klasser.get(&u) {
                        Some(k) if AKTOER_KLASSER.contains(&k.as_str()) => {}
                        Some(k) => b(
                            "YI-REF-ORG",
                            &hvor(navn, i, e),
                            format!("{u} is a {k}, not an organisation object"),
                        ),
                        None => b(
                            "YI-REF-ORG",
                            &hvor(navn, i, e),
                            format!(
                                "{u} does not exist in Organisation (or is not visible to the caller's myndighed)"
                            ),
                        ),
                    }
                }
            }
        }
        for navn in klasser {
            for (i, e) in entries(navn).iter().enumerate() {
                let h = hvor(navn, i, e);
                match maal_uuid(e) {
                    Some(u) => match opslag.klasser.get(&u).map(String::as_str) {
                        Some("klasse") => {}
                        Some(k) => b("YI-REF-KLASSE", &h, format!("{u} is a {k}, not a Klasse")),
                        None => b(
                            "YI-REF-KLASSE",
                            &h,
                            format!("Klasse {u} does not exist in Klassifikation"),
                        ),
                    },
                    None => b(
                        "YI-REF-KLASSE",
                        &h,
                        "refer to the Klasse by its UUID".into(),
                    ),
                }
            }
        }
        for navn in itsystemer {
            for (i, e) in entries(navn).iter().enumerate() {
                if let Some(u) = maal_uuid(e)
                    && opslag.klasser.get(&u).map(String::as_str) != Some("itsystem")
                {
                    b(
                        "YI-REF-ITSYSTEM",
                        &hvor(navn, i, e),
                        format!("ItSystem {u} does not exist in Organisation"),
                    );
                }
            }
        }
        let part = entries(parter);
        for (i, e) in part.iter().enumerate() {
            let ok = match e.get("urn").and_then(Value::as_str) {
                Some(urn) => gyldig_part(urn),
                None => maal_uuid(e).is_some(),
            };
            if !ok {
                b(
                    "YI-PART",
                    &hvor(parter, i, e),
                    format!(
                        "'{}' is not urn:oio:cpr-nr:<10 digits>, urn:oio:cvr-nr:<8 digits> or a UUID",
                        e.get("urn").and_then(Value::as_str).unwrap_or("")
                    ),
                );
            }
        }
        if import && part.is_empty() {
            let element = if bevilling {
                "Bevillingspart"
            } else {
                "OekonomiskEffektueringPart"
            };
            b(
                "YI-MODTAGER",
                &format!("RelationListe/{element}"),
                format!("no {element}: whom is it for?"),
            );
        }
        if bevilling {
            let mut set = HashSet::new();
            for (i, e) in entries(ydelse::BEVILGETYDELSE).iter().enumerate() {
                let h = format!("AttributListe/BevilgetYdelse[{}]", i + 1);
                match e.get("indeks").and_then(Value::as_str) {
                    None => b("YI-BEVILGETYDELSE", &h, "Id is missing".into()),
                    Some(id) if !set.insert(id) => b(
                        "YI-BEVILGETYDELSE",
                        &h,
                        format!("Id '{id}' is given to more than one BevilgetYdelse"),
                    ),
                    Some(_) => {}
                }
            }
        } else {
            let refs = entries("bevilling");
            if import && refs.is_empty() {
                b(
                    "YI-BEVILLING",
                    "RelationListe/OekonomiskYdelseEffektueringRelation",
                    "no BevilgetYdelseRef: name the Bevilling and the BevilgetYdelse the payment is for".into(),
                );
            }
            for (i, e) in refs.iter().enumerate() {
                let h = hvor("bevilling", i, e);
                let Some(u) = maal_uuid(e) else { continue };
                let id = e.get("indeks").and_then(Value::as_str).unwrap_or("");
                let ider: Option<&Vec<String>> = match nye_bevillinger.get(&u) {
                    Some(Some(ider)) => Some(ider),
                    Some(None) | None
                        if opslag.klasser.get(&u).map(String::as_str)
                            == Some(BEVILLING.klasse.name) =>
                    {
                        opslag.bevilgede.get(&u)
                    }
                    _ => {
                        b(
                            "YI-BEVILLING",
                            &h,
                            format!(
                                "Bevilling {u} is not in the index; import it first or in the same request"
                            ),
                        );
                        continue;
                    }
                };
                if !ider.is_some_and(|v| v.iter().any(|x| x == id)) {
                    b(
                        "YI-BEVILLING",
                        &h,
                        format!("Bevilling {u} has no BevilgetYdelse with Id '{id}'"),
                    );
                }
            }
        }
    }
    brud
}
