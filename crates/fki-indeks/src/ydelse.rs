//! The Bevilling and OekonomiskEffektuering of the Ydelsesindeks (SF1490 v6) on the wire,
//! declared as data like SF1470's Sag and Dokument ([`crate::sagdok`]), and what SF1490 needs
//! beyond SF1470's shapes.
//!
//! Sources: `../shared/specs/sf1490-ydelsesindeks/xsd/6.0.STS-0/BevillingIndeks.xsd`,
//! `OekonomiskEffektueringIndeks.xsd`, `BevillingIndeksOperationer.xsd`,
//! `OekonomiskEffektueringIndeksOperationer.xsd`, `YdelseIndeksOperationer.xsd`. Namespaces as
//! SF1470's: a registrering's lists and entries are in the type's namespace (`bi:`, `oef:`), the
//! children of a `gd:RelationType` in `gd:`, the `sd:VirkningType` children in `sd:`.
//!
//! Beyond SF1470:
//! - **BevilgetYdelse** (`bi:BevilgetYdelseType`, `BevillingIndeks.xsd:167`): a granted benefit
//!   inside the Bevilling's AttributListe, with its own Virkning, values, up to two `ItSystem`s,
//!   a `Ydelse` with its `Klassifikation`, and `OekonomiskEffektueringsplan`s. Several are
//!   granted in the same period, which an engine attribute group (whose entries may not overlap
//!   in time) cannot hold; so each is one entry of the engine relation `bevilgetydelse`, the
//!   element kept whole in `detaljer.xml` and written back as given, `indeks` = its `Id`, the
//!   target `urn:sts:bevilling:<uuid>:Ydelse:<Id>` (the schema's comment on `BevilgetYdelseRef`,
//!   `OekonomiskEffektueringIndeks.xsd:82`). Its references become the index-only relations
//!   `ydelsesitsystem`, `ydelse`, `ydelsesklasse` (searchable, checked by the rules, never on the
//!   wire), with the BevilgetYdelse's Virkning and its Id as `indeks`.
//! - **Relations without virkning** (`bi:RelationUdenVirkningType`, `BevillingIndeks.xsd:203`):
//!   the BevilgetYdelse's relations have their base children in `bi:` and no Virkning; read with
//!   [`sagdok::relation_i`] and checked strictly here.
//! - **BevilgetYdelseRef** (`OekonomiskEffektueringIndeks.xsd:89`): an effektuering's
//!   OekonomiskYdelseEffektueringRelation names the Bevilling and the BevilgetYdelse it pays;
//!   kept as the relation's XML and derived as the index-only relation `bevilling` (target the
//!   Bevilling, `indeks` the BevilgetYdelse's Id).
//! - **Search intervals** in the Soeg lists' `LokalUdvidelseListe`
//!   (`bi:SoegEgenskaberLokalUdvidelse` …), checked on the entries found
//!   ([`sagdok::Efterfilter`]).

use fki_organisation::Fejl;
use fki_organisation::forespoergsel::{Boern, tekst, tidsstempel, ugyldig, uuid_element, virkning};
use fki_organisation::typer::NS_SD;
use roxmltree::Node;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::klasser::{BEVILLINGINDEKS, OEKONOMISKEFFEKTUERINGINDEKS};
use crate::sagdok::{
    Attributdel, Attributelement, Efterfilter, Form, Indekstype, Intervaltype, Soegeudvidelse,
    Vaerdisti, boolsk, er_beloeb, ff, fragment, r, relation_i, tf,
};

/// `urn:oio:sts:ydelse:ydelseindeks:6`: the YdelseIndeks operations.
pub const NS_YI: &str = "urn:oio:sts:ydelse:ydelseindeks:6";
/// `urn:oio:sts:ydelse:bevillingindeks:6`: the Bevilling and its operations.
pub const NS_BI: &str = "urn:oio:sts:ydelse:bevillingindeks:6";
/// `urn:oio:sts:ydelse:oekonomiskeffektueringindeks:6`: the OekonomiskEffektuering.
pub const NS_OEF: &str = "urn:oio:sts:ydelse:oekonomiskeffektueringindeks:6";

/// The namespace declarations every SF1490 answer's root carries.
pub const XMLNS: &str = concat!(
    " xmlns:sd=\"urn:oio:sagdok:3.0.0\"",
    " xmlns:gd=\"urn:oio:sts:generelledefinitioner:6\"",
    " xmlns:go=\"urn:oio:sts:generelleoperationer:6\"",
    " xmlns:yi=\"urn:oio:sts:ydelse:ydelseindeks:6\"",
    " xmlns:bi=\"urn:oio:sts:ydelse:bevillingindeks:6\"",
    " xmlns:oef=\"urn:oio:sts:ydelse:oekonomiskeffektueringindeks:6\"",
);

/// Rolle "Ejer" of a Bevillingsaktoer (KOMBIT's sample client, `client.properties` of
/// github.com/kombit/kosdy_infrastructureSamplesYdelse-java, "to be revised by KOMBIT").
pub const ROLLE_BEVILLING_EJER: &str = "abdf4d3e-f113-4282-b13e-6cd32a82621c";
/// Rolle "Ansvarlig" of a Bevillingsaktoer (the same source).
pub const ROLLE_BEVILLING_ANSVARLIG: &str = "fbe1016a-170a-4dea-8652-2813c1a566c0";

/// The relation holding the BevilgetYdelser.
pub const BEVILGETYDELSE: &str = "bevilgetydelse";

/// The Bevilling (`bi:BevillingIndeksType`, `BevillingIndeks.xsd:21`).
pub static BEVILLING: Indekstype = Indekstype {
    klasse: &BEVILLINGINDEKS,
    navn: "Bevilling",
    ns: NS_BI,
    prefix: "bi",
    udv_ns: NS_BI,
    udv_prefix: "bi",
    egenskaber: &[
        tf("BrugervendtNoegle", "brugervendtnoegle"),
        tf("Bevillingstartdato", "startdato"),
        tf("Bevillingslutdato", "slutdato"),
        tf("Begrundelse", "begrundelse"),
        tf("Foelsomhed", "foelsomhed"),
    ],
    udvidelse: None,
    relationer: &[
        r("Bevillingssag", "bevillingssag"),
        r("Bevillingspart", "bevillingspart"),
        r("Bevillingsaktoer", "bevillingsaktoer"),
        r("Sikkerhedsprofil", "sikkerhedsprofil"),
    ],
    regel_skema: "YI-SKEMA",
    regel_ejer: "YI-EJER",
    uden_notifikation: true,
    attributelement: Some(Attributelement {
        element: "BevilgetYdelse",
        relation: BEVILGETYDELSE,
        afledte: &["ydelsesitsystem", "ydelse", "ydelsesklasse"],
        laes: bevilget_ydelse,
    }),
    afled: None,
    soegeudvidelser: &[
        // BevillingIndeksOperationer.xsd:122
        Soegeudvidelse {
            relation: None,
            element: "SoegEgenskaberLokalUdvidelse",
            intervaller: &[
                (
                    "BevillingStartDatoInterval",
                    Intervaltype::Tid,
                    Vaerdisti::Felt("egenskaber", "startdato"),
                ),
                (
                    "BevillingSlutDatoInterval",
                    Intervaltype::Tid,
                    Vaerdisti::Felt("egenskaber", "slutdato"),
                ),
            ],
        },
        // BevillingIndeksOperationer.xsd:131
        Soegeudvidelse {
            relation: None,
            element: "SoegBevilgetYdelseLokalUdvidelse",
            intervaller: &[
                (
                    "BevilgetYdelseStartDatoInterval",
                    Intervaltype::Tid,
                    Vaerdisti::Relation(BEVILGETYDELSE, "BevilgetYdelseStartdato"),
                ),
                (
                    "BevilgetYdelseSlutDatoInterval",
                    Intervaltype::Tid,
                    Vaerdisti::Relation(BEVILGETYDELSE, "BevilgetYdelseSlutdato"),
                ),
                (
                    "EffektueringsplanStartDatoInterval",
                    Intervaltype::Tid,
                    Vaerdisti::Relation(
                        BEVILGETYDELSE,
                        "OekonomiskEffektueringsplan/EffektueringsplanStartdato",
                    ),
                ),
                (
                    "EffektueringsplanSlutDatoInterval",
                    Intervaltype::Tid,
                    Vaerdisti::Relation(
                        BEVILGETYDELSE,
                        "OekonomiskEffektueringsplan/EffektueringsplanSlutdato",
                    ),
                ),
                (
                    "YdelseBeloebInterval",
                    Intervaltype::Beloeb,
                    Vaerdisti::Relation(
                        BEVILGETYDELSE,
                        "OekonomiskEffektueringsplan/Ydelsesbeloeb",
                    ),
                ),
            ],
        },
    ],
};

/// The OekonomiskEffektuering (`oef:OekonomiskEffektueringIndeksType`,
/// `OekonomiskEffektueringIndeks.xsd:20`).
pub static EFFEKTUERING: Indekstype = Indekstype {
    klasse: &OEKONOMISKEFFEKTUERINGINDEKS,
    navn: "OekonomiskEffektuering",
    ns: NS_OEF,
    prefix: "oef",
    udv_ns: NS_OEF,
    udv_prefix: "oef",
    egenskaber: &[
        tf("BrugervendtNoegle", "brugervendtnoegle"),
        ff("Startdato", "startdato", Form::Tidsstempel),
        ff("Slutdato", "slutdato", Form::Tidsstempel),
        ff("SamletBruttobeloeb", "samletbruttobeloeb", Form::Beloeb),
        ff("Dispositionsdato", "dispositionsdato", Form::Tidsstempel),
        ff("BeloebEfterSkatATP", "beloebefterskatatp", Form::Beloeb),
        ff(
            "BeloebSendtTilUdbetaling",
            "beloebsendttiludbetaling",
            Form::Beloeb,
        ),
        ff("BeloebUdbetalt", "beloebudbetalt", Form::Beloeb),
        tf("Udbetalingsafdeling", "udbetalingsafdeling"),
        tf("SendtTilUdbetalingTekst", "sendttiludbetalingtekst"),
        tf("UdbetaltTekst", "udbetalttekst"),
    ],
    udvidelse: None,
    relationer: &[
        r(
            "OekonomiskYdelseEffektueringRelation",
            "oekonomiskydelseeffektuering",
        ),
        r("Aktoer", "aktoer"),
        r("ItSystem", "itsystem"),
        r("OekonomiskEffektueringPart", "oekonomiskeffektueringpart"),
    ],
    regel_skema: "YI-SKEMA",
    regel_ejer: "YI-EJER",
    uden_notifikation: false,
    attributelement: None,
    afled: Some(effektuering_relationer),
    soegeudvidelser: &[
        // OekonomiskEffektueringIndeksOperationer.xsd:121
        Soegeudvidelse {
            relation: None,
            element: "SoegEgenskaberLokalUdvidelse",
            intervaller: &[
                (
                    "StartDatoInterval",
                    Intervaltype::Tid,
                    Vaerdisti::Felt("egenskaber", "startdato"),
                ),
                (
                    "SlutDatoInterval",
                    Intervaltype::Tid,
                    Vaerdisti::Felt("egenskaber", "slutdato"),
                ),
                (
                    "DispositionsDatoInterval",
                    Intervaltype::Tid,
                    Vaerdisti::Felt("egenskaber", "dispositionsdato"),
                ),
                (
                    "SamletBruttoBeloebInterval",
                    Intervaltype::Beloeb,
                    Vaerdisti::Felt("egenskaber", "samletbruttobeloeb"),
                ),
                (
                    "BeloebUdbetaltInterval",
                    Intervaltype::Beloeb,
                    Vaerdisti::Felt("egenskaber", "beloebudbetalt"),
                ),
                (
                    "BeloebEfterSkatATPInterval",
                    Intervaltype::Beloeb,
                    Vaerdisti::Felt("egenskaber", "beloebefterskatatp"),
                ),
                (
                    "BeloebSendtTilUdbetalingInterval",
                    Intervaltype::Beloeb,
                    Vaerdisti::Felt("egenskaber", "beloebsendttiludbetaling"),
                ),
            ],
        },
        // OekonomiskEffektueringIndeksOperationer.xsd:136
        Soegeudvidelse {
            relation: Some("oekonomiskydelseeffektuering"),
            element: "SoegOekonomiskYdelseEffektueringRelationLokalUdvidelse",
            intervaller: &[
                (
                    "YdelsesperiodeStartDatoInterval",
                    Intervaltype::Tid,
                    Vaerdisti::Relation("oekonomiskydelseeffektuering", "YdelsesperiodeStartdato"),
                ),
                (
                    "YdelsesperiodeSlutDatoInterval",
                    Intervaltype::Tid,
                    Vaerdisti::Relation("oekonomiskydelseeffektuering", "YdelsesperiodeSlutdato"),
                ),
                (
                    "YdelsesBeloebInterval",
                    Intervaltype::Beloeb,
                    Vaerdisti::Relation("oekonomiskydelseeffektuering", "Ydelsesbeloeb"),
                ),
            ],
        },
    ],
};

// ---------------------------------------------------------------------------------------------
// BevilgetYdelse.

/// The form of a BevilgetYdelse value (`BevillingIndeks.xsd:167`, `:266`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum V {
    /// A string of at most this many characters (0: any), at least one if `true`.
    Tekst(usize, bool),
    Tid,
    Bool,
    Beloeb,
    /// One of these.
    En(&'static [&'static str]),
}

/// The BevilgetYdelse's values before its relations, in schema order.
const BEVILGET_YDELSE: &[(&str, V)] = &[
    ("Id", V::Tekst(36, true)),
    ("Navn", V::Tekst(0, false)),
    ("BevilgetYdelseStartdato", V::Tid),
    ("BevilgetYdelseSlutdato", V::Tid),
    ("Begrundelse", V::Tekst(4096, false)),
    ("Tilbagebetalingspligtig", V::Bool),
    ("Meddelelse", V::Tekst(0, false)),
];

/// An OekonomiskEffektueringsplan's values, in schema order.
const EFFEKTUERINGSPLAN: &[(&str, V)] = &[
    ("Id", V::Tekst(0, false)),
    ("EffektueringsplanStartdato", V::Tid),
    ("EffektueringsplanSlutdato", V::Tid),
    ("Beregningsfrekvens", V::Tekst(50, true)),
    ("ForudBagud", V::En(&["Forud", "Bagud"])),
    ("Dispositionsdag", V::Tekst(50, false)),
    ("Ydelsesbeloeb", V::Beloeb),
    ("ManueltGodkendes", V::Bool),
];

/// Check one value; its text.
fn vaerdi(n: Node<'_, '_>, form: V, sti: &str) -> Result<String, Fejl> {
    let t = tekst(n)?;
    match form {
        V::Tekst(maks, ikke_tom) => {
            let l = t.chars().count();
            if (maks > 0 && l > maks) || (ikke_tom && l == 0) {
                return Err(ugyldig(format!(
                    "{sti}: {l} characters; allowed {}..{}",
                    usize::from(ikke_tom),
                    if maks > 0 {
                        maks.to_string()
                    } else {
                        "n".into()
                    }
                )));
            }
        }
        V::Tid => {
            tidsstempel(n).map_err(|e| ugyldig(format!("{sti}: {}", e.tekst)))?;
        }
        V::Bool => {
            boolsk(n, sti)?;
        }
        V::Beloeb => {
            if !er_beloeb(t.trim()) {
                return Err(ugyldig(format!("{sti}: '{t}' is not an amount")));
            }
        }
        V::En(tilladte) => {
            if !tilladte.contains(&t.trim()) {
                return Err(ugyldig(format!(
                    "{sti}: '{t}' is not one of {}",
                    tilladte.join(", ")
                )));
            }
        }
    }
    Ok(t.trim().to_owned())
}

/// Read values in schema order; each present one as (element, text). In a search each
/// becomes a post-filter on `sti_i` (the path below the BevilgetYdelse): a time matches the
/// same instant, anything else as text.
fn vaerdier(
    b: &mut Boern<'_, '_>,
    felter: &[(&'static str, V)],
    under: &'static [(&'static str, &'static str)],
    sti: &str,
    filtre: Option<&mut Vec<Efterfilter>>,
) -> Result<Vec<(&'static str, String)>, Fejl> {
    let mut out = Vec::new();
    let mut filtre = filtre;
    for (element, form) in felter {
        let Some(n) = b.opt(NS_BI, element) else {
            continue;
        };
        let t = vaerdi(n, *form, &format!("{sti}/{element}"))?;
        if let Some(f) = filtre.as_deref_mut() {
            let sti_i = under
                .iter()
                .find(|(e, _)| e == element)
                .map(|(_, s)| *s)
                .expect("every value has its path");
            let v = Vaerdisti::Relation(BEVILGETYDELSE, sti_i);
            f.push(if *form == V::Tid {
                Efterfilter::Interval {
                    sti: v,
                    typ: Intervaltype::Tid,
                    fra: Some(t.clone()),
                    til: Some(t.clone()),
                }
            } else {
                Efterfilter::Tekst(v, t.clone())
            });
        }
        out.push((*element, t));
    }
    Ok(out)
}

/// The paths of the values below a BevilgetYdelse (for the post-filters).
const BEVILGET_YDELSE_STIER: &[(&str, &str)] = &[
    ("Id", "Id"),
    ("Navn", "Navn"),
    ("BevilgetYdelseStartdato", "BevilgetYdelseStartdato"),
    ("BevilgetYdelseSlutdato", "BevilgetYdelseSlutdato"),
    ("Begrundelse", "Begrundelse"),
    ("Tilbagebetalingspligtig", "Tilbagebetalingspligtig"),
    ("Meddelelse", "Meddelelse"),
];
const PLAN_STIER: &[(&str, &str)] = &[
    ("Id", "OekonomiskEffektueringsplan/Id"),
    (
        "EffektueringsplanStartdato",
        "OekonomiskEffektueringsplan/EffektueringsplanStartdato",
    ),
    (
        "EffektueringsplanSlutdato",
        "OekonomiskEffektueringsplan/EffektueringsplanSlutdato",
    ),
    (
        "Beregningsfrekvens",
        "OekonomiskEffektueringsplan/Beregningsfrekvens",
    ),
    ("ForudBagud", "OekonomiskEffektueringsplan/ForudBagud"),
    (
        "Dispositionsdag",
        "OekonomiskEffektueringsplan/Dispositionsdag",
    ),
    ("Ydelsesbeloeb", "OekonomiskEffektueringsplan/Ydelsesbeloeb"),
    (
        "ManueltGodkendes",
        "OekonomiskEffektueringsplan/ManueltGodkendes",
    ),
];

/// Check the elements a relation without virkning's type adds after the base ones, in order
/// (`ItSystemRelationType`, `YdelseRelationType`, `BevillingsklasseRelationType`); `None`: an
/// element checked by its own reader (the Ydelse's `Klassifikation`).
fn tillaeg(e: Node<'_, '_>, tilladte: &[(&str, Option<V>)], sti: &str) -> Result<(), Fejl> {
    const BASIS: &[&str] = &[
        "Rolle",
        "Type",
        "Indeks",
        "ReferenceID",
        "LokalUdvidelseListe",
    ];
    let mut b = Boern::new(e, sti)?;
    for navn in BASIS {
        let _ = b.opt(NS_BI, navn);
    }
    for (element, form) in tilladte {
        if let Some(n) = b.opt(NS_BI, element)
            && let Some(form) = form
        {
            vaerdi(n, *form, &format!("{sti}/{element}"))?;
        }
    }
    b.slut()
}

/// The relative path of an element inside the registrering (from `AttributListe`), for the
/// rules' messages.
fn relativ(sti: &str) -> String {
    sti.find("AttributListe/")
        .map(|i| sti[i..].to_owned())
        .unwrap_or_else(|| sti.to_owned())
}

/// A derived entry: the relation entry with the BevilgetYdelse's Virkning and Id, and where it
/// came from.
fn afledt(mut v: Value, virk: &Value, id: Option<&str>, sti: &str) -> Value {
    let m = v.as_object_mut().expect("a relation entry is an object");
    m.insert("virkning".into(), virk.clone());
    match id {
        Some(i) => m.insert("indeks".into(), json!(i)),
        None => m.remove("indeks"),
    };
    m.insert("detaljer".into(), json!({"sti": relativ(sti)}));
    v
}

/// Read one `bi:BevilgetYdelse` (see the module docs).
pub fn bevilget_ydelse(
    e: Node<'_, '_>,
    ejer: Option<Uuid>,
    sti: &str,
) -> Result<Attributdel, Fejl> {
    let soeg = ejer.is_none();
    let mut filtre = Vec::new();
    let mut b = Boern::new(e, sti)?;
    let virk = match b.opt(NS_BI, "Virkning") {
        Some(v) => virkning(v, &format!("{sti}/"))?,
        None => json!({"from": "-infinity", "to": "infinity"}),
    };
    let felter = vaerdier(
        &mut b,
        BEVILGET_YDELSE,
        BEVILGET_YDELSE_STIER,
        sti,
        soeg.then_some(&mut filtre),
    )?;
    let id = felter
        .iter()
        .find(|(e, _)| *e == "Id")
        .map(|(_, t)| t.clone());
    let mut out: Vec<(&'static str, Value)> = Vec::new();
    let mut reference = |n: Node<'_, '_>, relation: &'static str, p: &str| -> Result<(), Fejl> {
        let v = relation_i(n, NS_BI, false, !soeg, p)?;
        if v.get("uuid").is_some() || v.get("urn").is_some() {
            out.push((relation, afledt(v, &virk, id.as_deref(), p)));
        }
        Ok(())
    };
    let itsystemer = b.many(NS_BI, "ItSystem");
    if itsystemer.len() > 2 {
        return Err(ugyldig(format!(
            "{sti}/ItSystem: at most 2 (BevillingIndeks.xsd:192), got {}",
            itsystemer.len()
        )));
    }
    for (i, n) in itsystemer.into_iter().enumerate() {
        let p = format!("{sti}/ItSystem[{}]", i + 1);
        tillaeg(
            n,
            &[
                ("SystemNavn", Some(V::Tekst(0, false))),
                ("SystemURI", Some(V::Tekst(255, false))),
            ],
            &p,
        )?;
        reference(n, "ydelsesitsystem", &p)?;
    }
    if let Some(n) = b.opt(NS_BI, "Ydelse") {
        let p = format!("{sti}/Ydelse");
        tillaeg(
            n,
            &[
                ("Ydelsesnavn", Some(V::Tekst(255, true))),
                ("Klassifikation", None),
            ],
            &p,
        )?;
        reference(n, "ydelse", &p)?;
        if let Some(k) = n
            .children()
            .find(|c| c.is_element() && c.has_tag_name((NS_BI, "Klassifikation")))
        {
            let p = format!("{p}/Klassifikation");
            tillaeg(
                k,
                &[
                    ("BrugervendtNoegle", Some(V::Tekst(50, false))),
                    ("Klassetitel", Some(V::Tekst(255, false))),
                ],
                &p,
            )?;
            reference(k, "ydelsesklasse", &p)?;
        }
        if soeg
            && let Some(yn) = n
                .children()
                .find(|c| c.is_element() && c.has_tag_name((NS_BI, "Ydelsesnavn")))
        {
            filtre.push(Efterfilter::Tekst(
                Vaerdisti::Relation(BEVILGETYDELSE, "Ydelse/Ydelsesnavn"),
                tekst(yn)?.trim().to_owned(),
            ));
        }
    }
    for (i, n) in b
        .many(NS_BI, "OekonomiskEffektueringsplan")
        .into_iter()
        .enumerate()
    {
        let p = format!("{sti}/OekonomiskEffektueringsplan[{}]", i + 1);
        let mut pb = Boern::new(n, &p)?;
        vaerdier(
            &mut pb,
            EFFEKTUERINGSPLAN,
            PLAN_STIER,
            &p,
            soeg.then_some(&mut filtre),
        )?;
        pb.slut()?;
    }
    b.slut()?;
    if let Some(ejer) = ejer {
        let mut m = Map::new();
        m.insert(
            "urn".into(),
            json!(format!(
                "urn:sts:bevilling:{ejer}:Ydelse:{}",
                id.as_deref().unwrap_or("")
            )),
        );
        if let Some(i) = &id {
            m.insert("indeks".into(), json!(i));
        }
        m.insert("virkning".into(), virk.clone());
        m.insert("detaljer".into(), json!({"xml": fragment(e)?}));
        out.insert(0, (BEVILGETYDELSE, Value::Object(m)));
    }
    Ok((out, filtre))
}

// ---------------------------------------------------------------------------------------------
// The effektuering's relations.

/// What an OekonomiskYdelseEffektueringRelation adds after the `gd:RelationType` children
/// (`OekonomiskEffektueringIndeks.xsd:66`), in order.
const YDELSE_EFFEKTUERING: &[&str] = &[
    "YdelsesperiodeStartdato",
    "YdelsesperiodeSlutdato",
    "Ydelsesbeloeb",
    "Klassifikationsbeskrivelse",
    "BevilgetYdelseRef",
];

/// After an effektuering's RelationListe is read: check what each
/// OekonomiskYdelseEffektueringRelation adds (kept as XML) and derive the relation `bevilling`
/// from its `BevilgetYdelseRef` (always set, so that an opdater's RelationListe replaces it).
pub fn effektuering_relationer(rel: &mut Map<String, Value>) -> Result<(), Fejl> {
    let mut bevillinger = Vec::new();
    for (i, e) in rel
        .get("oekonomiskydelseeffektuering")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let sti = format!(
            "RelationListe/OekonomiskYdelseEffektueringRelation[{}]",
            i + 1
        );
        let mut naeste = 0;
        for t in e
            .pointer("/detaljer/tillaeg")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let doc = roxmltree::Document::parse(t).map_err(|x| ugyldig(format!("{sti}: {x}")))?;
            let n = doc.root_element();
            let navn = n.tag_name().name();
            let plads = YDELSE_EFFEKTUERING
                .iter()
                .position(|x| *x == navn)
                .filter(|p| *p >= naeste && n.tag_name().namespace() == Some(NS_OEF))
                .ok_or_else(|| {
                    ugyldig(format!(
                        "{sti}: unexpected element {navn} here (wrong name, namespace or order)"
                    ))
                })?;
            naeste = plads + 1;
            let p = format!("{sti}/{navn}");
            match navn {
                "YdelsesperiodeStartdato" | "YdelsesperiodeSlutdato" => {
                    tidsstempel(n).map_err(|x| ugyldig(format!("{p}: {}", x.tekst)))?;
                }
                "Ydelsesbeloeb" => {
                    let t = tekst(n)?;
                    if !er_beloeb(t.trim()) {
                        return Err(ugyldig(format!("{p}: '{t}' is not an amount")));
                    }
                }
                "Klassifikationsbeskrivelse" => {
                    let t = tekst(n)?;
                    if t.chars().count() > 255 {
                        return Err(ugyldig(format!("{p}: more than 255 characters")));
                    }
                }
                _ => {
                    let mut b = Boern::new(n, &p)?;
                    let bevilling = uuid_element(b.one(NS_SD, "UUIDIdentifikator")?)?;
                    let id = tekst(b.one(NS_OEF, "BevilgetYdelseId")?)?.trim().to_owned();
                    b.slut()?;
                    bevillinger.push(json!({
                        "uuid": bevilling.to_string(),
                        "indeks": id,
                        "virkning": e.get("virkning").cloned().unwrap_or(json!({"from": "-infinity", "to": "infinity"})),
                        "detaljer": {"sti": p},
                    }));
                }
            }
        }
    }
    rel.insert("bevilling".into(), Value::Array(bevillinger));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// For the rules and the server.

/// The Ids of the BevilgetYdelser in engine JSON `relationer` (an import's or opdater's).
pub fn bevilgede_ider_json(data: &Value) -> Option<Vec<String>> {
    let liste = data.pointer(&format!("/relationer/{BEVILGETYDELSE}"))?;
    Some(
        liste
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("indeks").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
    )
}

/// The Ids of a stored Bevilling's BevilgetYdelser (empty for any other entry).
pub fn bevilgede_ider(d: &fki_oio::model::Data) -> Vec<String> {
    d.relationer
        .get(BEVILGETYDELSE)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ekstra.get("indeks").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// The Vis values of `yi:BevillingVisFilterType` (`YdelseIndeksOperationer.xsd:129`) as parts
/// of a [`crate::sagdok::Vis`]: engine relation names, or a relation's entries of one Rolle.
pub fn bevilling_vis(v: &str) -> Option<Result<&'static str, (&'static str, &'static str)>> {
    Some(match v {
        "egenskaber" => Ok("egenskaber"),
        // The AttributListe's LokalUdvidelseListe: fki keeps none for a Bevilling.
        "egenskaberlokaludvidelse" => Ok("egenskaberlokaludvidelse"),
        "bevilgetydelse" => Ok(BEVILGETYDELSE),
        "sag" => Ok("bevillingssag"),
        "part" => Ok("bevillingspart"),
        "aktoer-ejer" => Err(("bevillingsaktoer", ROLLE_BEVILLING_EJER)),
        "aktoer-ansvarlig" => Err(("bevillingsaktoer", ROLLE_BEVILLING_ANSVARLIG)),
        "sikkerhedsprofil" => Ok("sikkerhedsprofil"),
        _ => return None,
    })
}

/// The Vis values of `yi:OekonomiskEffektueringVisFilterType` (`YdelseIndeksOperationer.xsd:169`).
pub fn effektuering_vis(v: &str) -> Option<&'static str> {
    Some(match v {
        "egenskaber" => "egenskaber",
        "aktoer" => "aktoer",
        "oekonomiskeydelseeffektueringer" => "oekonomiskydelseeffektuering",
        "itsystem" => "itsystem",
        _ => return None,
    })
}

/// The Vis value that names nothing a Bevilling carries in fki (see [`bevilling_vis`]).
pub const INGEN_DEL: &str = "egenskaberlokaludvidelse";

#[cfg(test)]
mod tests {
    use super::*;

    fn laes(xml: &str) -> Result<Attributdel, Fejl> {
        let doc = roxmltree::Document::parse(xml).unwrap();
        bevilget_ydelse(
            doc.root_element(),
            Some(Uuid::from_u128(1)),
            "AttributListe/BevilgetYdelse[1]",
        )
    }

    const KLASSE: &str = "4444aaaa-44aa-55bb-66cc-444444aaaaaa";

    fn ydelse(ekstra: &str) -> String {
        format!(
            r#"<bi:BevilgetYdelse xmlns:bi="{NS_BI}" xmlns:sd="urn:oio:sagdok:3.0.0"><bi:Id>7</bi:Id>{ekstra}<bi:Ydelse><bi:ReferenceID><sd:UUIDIdentifikator>5555aaaa-55aa-66bb-77cc-555555aaaaaa</sd:UUIDIdentifikator></bi:ReferenceID><bi:Ydelsesnavn>Hjælp</bi:Ydelsesnavn><bi:Klassifikation><bi:ReferenceID><sd:UUIDIdentifikator>{KLASSE}</sd:UUIDIdentifikator></bi:ReferenceID></bi:Klassifikation></bi:Ydelse></bi:BevilgetYdelse>"#
        )
    }

    #[test]
    fn a_bevilget_ydelse_is_kept_whole_and_its_references_derived() {
        let (entries, filtre) = laes(&ydelse("")).unwrap();
        assert!(filtre.is_empty());
        let navne: Vec<&str> = entries.iter().map(|(n, _)| *n).collect();
        assert_eq!(navne, [BEVILGETYDELSE, "ydelse", "ydelsesklasse"]);
        let (_, b) = &entries[0];
        assert_eq!(
            b["urn"],
            format!("urn:sts:bevilling:{}:Ydelse:7", Uuid::from_u128(1))
        );
        assert_eq!(b["indeks"], "7");
        assert!(b["detaljer"]["xml"].as_str().unwrap().contains("Hjælp"));
        let (_, k) = &entries[2];
        assert_eq!(k["uuid"], KLASSE);
        assert_eq!(k["indeks"], "7");
        assert_eq!(
            k["detaljer"]["sti"],
            "AttributListe/BevilgetYdelse[1]/Ydelse/Klassifikation"
        );
    }

    #[test]
    fn bad_values_are_refused_naming_the_element() {
        let e = laes(&ydelse(
            "<bi:BevilgetYdelseStartdato>1. januar</bi:BevilgetYdelseStartdato>",
        ))
        .unwrap_err();
        assert!(
            e.tekst
                .contains("AttributListe/BevilgetYdelse[1]/BevilgetYdelseStartdato"),
            "{}",
            e.tekst
        );
        // Out of order: Navn after the Ydelse.
        let x = ydelse("").replace("</bi:Ydelse>", "</bi:Ydelse><bi:Navn>for sent</bi:Navn>");
        assert!(laes(&x).is_err());
        // A third ItSystem.
        let it = format!(
            r#"<bi:ItSystem><bi:ReferenceID><sd:UUIDIdentifikator>{KLASSE}</sd:UUIDIdentifikator></bi:ReferenceID></bi:ItSystem>"#
        );
        let x = ydelse("").replace("<bi:Ydelse>", &format!("{it}{it}{it}<bi:Ydelse>"));
        assert!(laes(&x).unwrap_err().tekst.contains("at most 2"));
    }
}
