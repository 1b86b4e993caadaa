//! The Sag and Dokument of the Sags- og dokumentindeks on the wire, declared as data, and the
//! generic reading and writing of their registreringer. SF1490's Bevilling and
//! OekonomiskEffektuering ([`crate::ydelse`]) are declared the same way; what they need beyond
//! SF1470's shapes is data of [`Indekstype`] too (an AttributListe element kept as relations,
//! derived relations, search extensions checked as [`Efterfilter`]s).
//!
//! Source: `../shared/specs/sf1470-sagdokumentindeks/wsdl/xsd/6.0.STS-0/Sag.xsd`,
//! `SagIndeks.xsd`, `DokumentIndeks.xsd` and `GenerelleDefinitioner.xsd`. The namespaces follow
//! from `elementFormDefault="qualified"`: a registrering's lists and their entries are in the
//! type's namespace (`sag:`, `di:`), the children of a `gd:RelationType` (Virkning, Rolle, Type,
//! Indeks, ReferenceID, LokalUdvidelseListe) in `gd:`, the `sd:VirkningType` children and the
//! registrering's header in `sd:`, and the index extensions (`si:SagIndeksEgenskaber`,
//! `si:SagsitsystemRelation`, `di:DokumentitsystemRelation` …) in `si:` / `di:`.
//!
//! What the engine does not model is kept, not dropped: a relation's `LokalUdvidelseListe`
//! content (`si:SagspartLokalUdvidelse` …) and what a relation type adds after the
//! `gd:RelationType` children (Journalpost's `JournalpostEgenskaber`, an IT-system relation's
//! `SystemNavn`) are stored as self-contained XML fragments in the relation's `detaljer` and
//! written back as given.

use fki_oio::model::{AttrEntry, Livscyklus, Maal, Registrering, RelEntry, StateEntry};
use fki_oio::spec::ClassSpec;
use fki_oio::time::{self, NEG_INF, POS_INF, Ts};
use fki_organisation::forespoergsel::{
    Boern, tekst, tidspunkt, tidsstempel, ugyldig, unik_id, uuid_element, virkning,
};
use fki_organisation::svar::{tekst_element, virkning_i};
use fki_organisation::typer::NS_SD;
use fki_organisation::{Fejl, StatusKode};
use fki_sts::xml::{escape_text, used_ns_fragment};
use roxmltree::Node;
use serde_json::{Map, Value, json};

use crate::klasser::{DOKUMENTINDEKS, SAGINDEKS};

/// `urn:oio:sts:sagdok:sagdokumentindeks:6`: the SagDokumentIndeks operations.
pub const NS_SDI: &str = "urn:oio:sts:sagdok:sagdokumentindeks:6";
/// `urn:oio:sts:sagdok:sag:6`: the Sag.
pub const NS_SAG: &str = "urn:oio:sts:sagdok:sag:6";
/// `urn:oio:sts:sagdok:sagindeks:6`: the Sag's index extensions and SagIndeks operations.
pub const NS_SI: &str = "urn:oio:sts:sagdok:sagindeks:6";
/// `urn:oio:sts:sagdok:dokumentindeks:6`: the Dokument and its operations.
pub const NS_DI: &str = "urn:oio:sts:sagdok:dokumentindeks:6";
/// `urn:oio:sts:generelledefinitioner:6`: RelationType, LokalUdvidelseListe, StsTidspunkt.
pub const NS_GD: &str = "urn:oio:sts:generelledefinitioner:6";
/// `urn:oio:sts:generelleoperationer:6`: paging, search intervals.
pub const NS_GO: &str = "urn:oio:sts:generelleoperationer:6";

/// The namespace declarations every answer's root carries (prefixes `sd`, `gd`, `go`, `sag`,
/// `si`, `di`, `sdi`).
pub const XMLNS: &str = concat!(
    " xmlns:sd=\"urn:oio:sagdok:3.0.0\"",
    " xmlns:gd=\"urn:oio:sts:generelledefinitioner:6\"",
    " xmlns:go=\"urn:oio:sts:generelleoperationer:6\"",
    " xmlns:sag=\"urn:oio:sts:sagdok:sag:6\"",
    " xmlns:si=\"urn:oio:sts:sagdok:sagindeks:6\"",
    " xmlns:di=\"urn:oio:sts:sagdok:dokumentindeks:6\"",
    " xmlns:sdi=\"urn:oio:sts:sagdok:sagdokumentindeks:6\"",
);

/// How an attribute element's text becomes an engine value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Tekst,
    /// `xs:boolean`.
    Bool,
    /// `xs:integer`.
    Heltal,
    /// `xs:date` (the engine keeps `YYYY-MM-DD`).
    Dato,
    /// `sd:OffentlighedUndtagetType`: `sd:TitelAlternativTekst`, `sd:OffentlighedUndtagetHjemmelTekst`.
    OffentlighedUndtaget,
    /// `xs:dateTime`: checked, kept as given (SF1490's dates).
    Tidsstempel,
    /// `gd:BeloebType` (`-?[0-9]+(\.[0-9]+)?`, `../shared/specs/sf1490-ydelsesindeks/xsd/6.0.STS-0/GenerelleDefinitioner.xsd`):
    /// checked, kept as given.
    Beloeb,
}

/// An attribute element and the engine field it carries.
#[derive(Debug, Clone, Copy)]
pub struct Felt {
    pub element: &'static str,
    pub felt: &'static str,
    pub form: Form,
}

pub(crate) const fn tf(element: &'static str, felt: &'static str) -> Felt {
    Felt {
        element,
        felt,
        form: Form::Tekst,
    }
}
pub(crate) const fn ff(element: &'static str, felt: &'static str, form: Form) -> Felt {
    Felt {
        element,
        felt,
        form,
    }
}

/// A relation element and the engine relation it carries.
#[derive(Debug, Clone, Copy)]
pub struct Rel {
    pub element: &'static str,
    pub relation: &'static str,
    /// In the `RelationListe`'s `gd:LokalUdvidelseListe` (namespace [`Indekstype::udv_ns`]),
    /// not in the list itself.
    pub udvidelse: bool,
}

pub(crate) const fn r(element: &'static str, relation: &'static str) -> Rel {
    Rel {
        element,
        relation,
        udvidelse: false,
    }
}
const fn ru(element: &'static str, relation: &'static str) -> Rel {
    Rel {
        element,
        relation,
        udvidelse: true,
    }
}

/// One index type on the wire.
#[derive(Debug)]
pub struct Indekstype {
    pub klasse: &'static ClassSpec,
    /// The element in an import (`sdi:SagIndeks`, `sdi:DokumentIndeks`) and the `Type` of its
    /// `UnikRetur`.
    pub navn: &'static str,
    /// The namespace of the registrering's lists and entries.
    pub ns: &'static str,
    /// Its prefix in the answers.
    pub prefix: &'static str,
    /// The namespace of the index extensions.
    pub udv_ns: &'static str,
    pub udv_prefix: &'static str,
    pub egenskaber: &'static [Felt],
    /// The attribute extension element in the AttributListe's LokalUdvidelseListe and its
    /// fields (engine group `indeksegenskaber`).
    pub udvidelse: Option<(&'static str, &'static [Felt])>,
    pub relationer: &'static [Rel],
    /// The rule a schema error is reported under (`SDI-SKEMA`, `YI-SKEMA`) and the owner rule
    /// (`SDI-EJER`, `YI-EJER`).
    pub regel_skema: &'static str,
    pub regel_ejer: &'static str,
    /// Whether the imported object ends with `UdenNotifikation` (not SF1490's effektuering).
    pub uden_notifikation: bool,
    /// An element of the AttributListe after `Egenskaber` that the engine keeps as relations
    /// (SF1490's `bi:BevilgetYdelse`, whose entries may overlap in time as an attribute
    /// group's may not).
    pub attributelement: Option<Attributelement>,
    /// Relations derived from what the wire relations carry, after the RelationListe is read
    /// (SF1490: an effektuering's `bevilling`, from its `BevilgetYdelseRef`): index-only, for
    /// the rules and the searches, never written on the wire.
    pub afled: Option<Afledning>,
    /// The search extensions a Soeg's lists may carry (SF1490's date and amount intervals).
    pub soegeudvidelser: &'static [Soegeudvidelse],
}

/// An AttributListe element kept as relations (see [`Indekstype::attributelement`]).
#[derive(Debug, Clone, Copy)]
pub struct Attributelement {
    /// The element (in the type's namespace), after the `Egenskaber`.
    pub element: &'static str,
    /// The engine relation holding one entry per element, the element itself kept whole as
    /// a self-contained fragment in its `detaljer.xml` and written back as given.
    pub relation: &'static str,
    /// The index-only relations derived from each element (its references), replaced with it.
    pub afledte: &'static [&'static str],
    /// Read one element: the entries of [`Attributelement::relation`] and of the
    /// [`Attributelement::afledte`]. For a write the owning object's UUID is given; in a search
    /// (`None`) only the derived entries (criteria) and the post-filters of its values.
    pub laes: fn(Node<'_, '_>, Option<uuid::Uuid>, &str) -> Result<Attributdel, Fejl>,
}

/// What an [`Attributelement`] reads into: relation entries (engine relation, entry) and the
/// post-filters of a search.
pub type Attributdel = (Vec<(&'static str, Value)>, Vec<Efterfilter>);

/// See [`Indekstype::afled`]: completes the relations read from a RelationListe.
pub type Afledning = fn(&mut Map<String, Value>) -> Result<(), Fejl>;

/// Where a value of an entry is, for the post-filters of a search (what the engine's facts do
/// not index: values inside kept XML, intervals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vaerdisti {
    /// An attribute field: engine group and field.
    Felt(&'static str, &'static str),
    /// Inside the XML a relation keeps (`detaljer.xml`, `detaljer.tillaeg`): the relation
    /// and the element path below it, local names separated by `/`.
    Relation(&'static str, &'static str),
}

/// The kind of an interval's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intervaltype {
    /// `go:SoegTidIntervalType`: `go:FraTidspunkt`, `go:TilTidspunkt`.
    Tid,
    /// `go:SoegBeloebIntervalType`: `go:FraBeloeb`, `go:TilBeloeb`.
    Beloeb,
}

/// A search extension element and the intervals it may hold, each the value it bounds.
#[derive(Debug, Clone, Copy)]
pub struct Soegeudvidelse {
    /// `None`: in the AttributListe's `gd:LokalUdvidelseListe`; `Some(relation)`: in that
    /// engine relation's (its wire relation's) `gd:LokalUdvidelseListe`.
    pub relation: Option<&'static str>,
    /// The element (in the type's namespace).
    pub element: &'static str,
    pub intervaller: &'static [(&'static str, Intervaltype, Vaerdisti)],
}

/// A criterion the engine's facts cannot answer, checked on the entries found.
#[derive(Debug, Clone, PartialEq)]
pub enum Efterfilter {
    /// Some value at the path matches the text (case-insensitive, `%` as wildcard, as LoRa).
    Tekst(Vaerdisti, String),
    /// Some value at the path lies in the interval (bounds included; `None`: unbounded).
    Interval {
        sti: Vaerdisti,
        typ: Intervaltype,
        fra: Option<String>,
        til: Option<String>,
    },
}

impl PartialEq for Indekstype {
    /// The types are statics: equal is the same one.
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// The Sag (`sag:SagType`).
pub static SAG: Indekstype = Indekstype {
    klasse: &SAGINDEKS,
    navn: "SagIndeks",
    ns: NS_SAG,
    prefix: "sag",
    udv_ns: NS_SI,
    udv_prefix: "si",
    egenskaber: &[
        tf("BrugervendtNoegle", "brugervendtnoegle"),
        ff("AfleveretIndikator", "afleveret", Form::Bool),
        tf("Beskrivelse", "beskrivelse"),
        tf("HjemmelSpecifikation", "hjemmel"),
        tf("Kassationskode", "kassationskode"),
        ff(
            "OffentlighedUndtaget",
            "offentlighedundtaget",
            Form::OffentlighedUndtaget,
        ),
        ff("PrincipielIndikator", "principiel", Form::Bool),
        tf("Sagsnummer", "sagsnummer"),
        tf("Titel", "titel"),
    ],
    udvidelse: Some((
        "SagIndeksEgenskaber",
        &[
            tf("Sagsstatus", "sagsstatus"),
            tf("Sagskategori", "sagskategori"),
            tf("Foelsomhed", "foelsomhed"),
            tf("Lokation", "lokation"),
            tf("OprettetTidspunkt", "oprettettidspunkt"),
        ],
    )),
    relationer: &[
        r("Sagsaktoer", "sagsaktoer"),
        r("Sagsklasse", "sagsklasse"),
        r("Sagspart", "sagspart"),
        r("Sagsrelation", "sagsrelation"),
        r("Sagsgenstande", "sagsgenstande"),
        r("Journalpost", "journalpost"),
        ru("Sikkerhedsprofil", "sikkerhedsprofil"),
        ru("SagsitsystemRelation", "sagsitsystem"),
    ],
    regel_skema: "SDI-SKEMA",
    regel_ejer: "SDI-EJER",
    uden_notifikation: true,
    attributelement: None,
    afled: None,
    soegeudvidelser: &[],
};

/// The Dokument (`di:DokumentIndeksType`).
pub static DOKUMENT: Indekstype = Indekstype {
    klasse: &DOKUMENTINDEKS,
    navn: "DokumentIndeks",
    ns: NS_DI,
    prefix: "di",
    udv_ns: NS_DI,
    udv_prefix: "di",
    egenskaber: &[
        tf("BrugervendtNoegle", "brugervendtnoegle"),
        tf("Titel", "titel"),
        tf("Beskrivelse", "beskrivelse"),
        ff("BrevDato", "brevdato", Form::Dato),
        ff(
            "OffentlighedUndtaget",
            "offentlighedundtaget",
            Form::OffentlighedUndtaget,
        ),
        ff("VersionIdentifikator", "major", Form::Heltal),
        ff("UnderversionIdentifikator", "minor", Form::Heltal),
        tf("Kassationskode", "kassationskode"),
        tf("Dokumentnummer", "dokumentnummer"),
        tf("Foelsomhed", "foelsomhed"),
        tf("Type", "type"),
    ],
    udvidelse: None,
    relationer: &[
        r("Dokumentrelation", "dokumentrelation"),
        r("Dokumentaktoer", "dokumentaktoer"),
        r("Dokumentpart", "dokumentpart"),
        r("Dokumentklasse", "dokumentklasse"),
        ru("Sikkerhedsprofil", "sikkerhedsprofil"),
        ru("DokumentitsystemRelation", "dokumentitsystem"),
    ],
    regel_skema: "SDI-SKEMA",
    regel_ejer: "SDI-EJER",
    uden_notifikation: true,
    attributelement: None,
    afled: None,
    soegeudvidelser: &[],
};

/// The index types: SF1470's Sag and Dokument, SF1490's Bevilling and OekonomiskEffektuering.
pub fn typer() -> [&'static Indekstype; 4] {
    [
        &SAG,
        &DOKUMENT,
        &crate::ydelse::BEVILLING,
        &crate::ydelse::EFFEKTUERING,
    ]
}

/// The wire type of an engine class name.
pub fn type_af(klasse: &str) -> Option<&'static Indekstype> {
    typer().into_iter().find(|t| t.klasse.name == klasse)
}

// ---------------------------------------------------------------------------------------------
// Reading.

/// The period of an entry without `Virkning` (optional in the index schemas): always.
fn altid() -> Value {
    json!({"from": "-infinity", "to": "infinity"})
}

fn virkning_eller_altid(b: &mut Boern<'_, '_>, ns: &str, sti: &str) -> Result<Value, Fejl> {
    match b.opt(ns, "Virkning") {
        Some(v) => virkning(v, &format!("{sti}/")),
        None => Ok(altid()),
    }
}

/// One object to write: `sdi:SagIndeks` / `sdi:DokumentIndeks` of an import (`bi:BevillingIndeks`
/// / `oef:OekonomiskEffektueringIndeks` of an SF1490 import).
pub fn importobjekt(
    typ: &'static Indekstype,
    objekt: Node<'_, '_>,
    sti: &str,
) -> Result<(uuid::Uuid, Value, bool), Fejl> {
    let mut o = Boern::new(objekt, sti)?;
    let uuid = uuid_element(o.one(NS_SD, "UUIDIdentifikator")?)?;
    let regs = o.many(typ.ns, "Registrering");
    let uden = match typ
        .uden_notifikation
        .then(|| o.opt(typ.ns, "UdenNotifikation"))
        .flatten()
    {
        Some(n) => boolsk(n, &format!("{sti}/UdenNotifikation"))?,
        None => false,
    };
    o.slut()?;
    let [reg] = regs.as_slice() else {
        return Err(ugyldig(format!(
            "{sti} {uuid}: give exactly one Registrering (got {}); fki keeps the index entry's history itself",
            regs.len()
        )));
    };
    let sti = format!("{sti}/Registrering");
    let mut b = Boern::new(*reg, &sti)?;
    let note = b.opt_tekst(NS_SD, "NoteTekst")?;
    // Tidspunkt, LivscyklusKode, BrugerRef and StsTidspunkt are the index's to set: a given
    // value is checked, then replaced by fki's own registrering.
    if let Some(t) = b.opt(NS_SD, "Tidspunkt") {
        tidsstempel(t)?;
    }
    if let Some(l) = b.opt(NS_SD, "LivscyklusKode") {
        tekst(l)?;
    }
    if let Some(br) = b.opt(NS_SD, "BrugerRef") {
        unik_id(br)?;
    }
    if let Some(t) = b.opt(NS_GD, "StsTidspunkt") {
        tidsstempel(t)?;
    }
    let (mut data, _) = lister_i(typ, &mut b, Laesning::Import(uuid), &sti)?;
    b.slut()?;
    if let Some(n) = note {
        data.insert("note".into(), json!(n));
    }
    Ok((uuid, Value::Object(data), uden))
}

/// `xs:boolean`.
pub fn boolsk(n: Node<'_, '_>, sti: &str) -> Result<bool, Fejl> {
    match tekst(n)?.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        t => Err(ugyldig(format!("{sti}: '{t}' is not a boolean"))),
    }
}

/// What the lists are read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Laesning {
    /// The whole object of an import (the lists are required), with its UUID.
    Import(uuid::Uuid),
    /// The changes of an opdater (each list optional) of the entry with this UUID.
    Opdater(uuid::Uuid),
    /// The criteria of a search (the lists are required): search extensions allowed.
    Soeg,
}

/// The three lists of a write as engine JSON. On import they are required; on opdater each is
/// optional and an absent one (or an absent group inside one) is left as it is.
pub fn lister(
    typ: &Indekstype,
    b: &mut Boern<'_, '_>,
    paakraevet: bool,
    sti: &str,
) -> Result<Map<String, Value>, Fejl> {
    let l = if paakraevet {
        Laesning::Import(uuid::Uuid::nil())
    } else {
        Laesning::Opdater(uuid::Uuid::nil())
    };
    lister_i(typ, b, l, sti).map(|(m, _)| m)
}

/// The three lists as engine JSON, and in a search the post-filters they ask for (see
/// [`Efterfilter`]).
pub fn lister_i(
    typ: &Indekstype,
    b: &mut Boern<'_, '_>,
    laesning: Laesning,
    sti: &str,
) -> Result<(Map<String, Value>, Vec<Efterfilter>), Fejl> {
    let spec = typ.klasse;
    let paakraevet = !matches!(laesning, Laesning::Opdater(_));
    let soeg = laesning == Laesning::Soeg;
    let ejer = match laesning {
        Laesning::Import(u) | Laesning::Opdater(u) => Some(u),
        Laesning::Soeg => None,
    };
    let mut out = Map::new();
    let mut filtre = Vec::new();
    // Relations an AttributListe element brings (SF1490's BevilgetYdelse).
    let mut attr_rel: Option<Map<String, Value>> = None;
    fn hent<'a, 'i>(
        b: &mut Boern<'a, 'i>,
        ns: &str,
        navn: &str,
        paakraevet: bool,
    ) -> Result<Option<Node<'a, 'i>>, Fejl> {
        if paakraevet {
            b.one(ns, navn).map(Some)
        } else {
            Ok(b.opt(ns, navn))
        }
    }
    if let Some(a) = hent(b, typ.ns, "AttributListe", paakraevet)? {
        let p = format!("{sti}/AttributListe");
        let mut lb = Boern::new(a, &p)?;
        let mut attr = Map::new();
        let egenskaber = lb
            .many(typ.ns, "Egenskaber")
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                egenskab(
                    e,
                    typ.ns,
                    typ.ns,
                    typ.egenskaber,
                    &format!("{p}/Egenskaber[{}]", i + 1),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        if paakraevet || !egenskaber.is_empty() {
            attr.insert(spec.key("egenskaber"), Value::Array(egenskaber));
        }
        if let Some(ae) = &typ.attributelement {
            let elementer = lb.many(typ.ns, ae.element);
            if paakraevet || !elementer.is_empty() {
                let mut m = Map::new();
                if !soeg {
                    for navn in std::iter::once(&ae.relation).chain(ae.afledte) {
                        m.insert((*navn).into(), Value::Array(Vec::new()));
                    }
                }
                for (i, e) in elementer.into_iter().enumerate() {
                    let (entries, f) =
                        (ae.laes)(e, ejer, &format!("{p}/{}[{}]", ae.element, i + 1))?;
                    for (navn, v) in entries {
                        push(&mut m, navn, v);
                    }
                    filtre.extend(f);
                }
                attr_rel = Some(m);
            }
        }
        if let Some(l) = lb.opt(NS_GD, "LokalUdvidelseListe") {
            let lp = format!("{p}/LokalUdvidelseListe");
            let mut ub = Boern::new(l, &lp)?;
            let mut liste = Vec::new();
            if let Some((element, felter)) = typ.udvidelse {
                for (i, e) in ub.many(typ.udv_ns, element).into_iter().enumerate() {
                    liste.push(egenskab(
                        e,
                        NS_GD,
                        typ.udv_ns,
                        felter,
                        &format!("{lp}/{element}[{}]", i + 1),
                    )?);
                }
            }
            if soeg {
                for u in typ.soegeudvidelser.iter().filter(|u| u.relation.is_none()) {
                    for (i, e) in ub.many(typ.ns, u.element).into_iter().enumerate() {
                        filtre.extend(soegeudvidelse(
                            e,
                            u,
                            &format!("{lp}/{}[{}]", u.element, i + 1),
                        )?);
                    }
                }
            }
            senest_aendret(&mut ub)?;
            ub.slut()?;
            if !liste.is_empty() {
                attr.insert(spec.key("indeksegenskaber"), Value::Array(liste));
            }
        }
        lb.slut()?;
        out.insert("attributter".into(), Value::Object(attr));
    }
    if let Some(t) = hent(b, typ.ns, "TilstandListe", paakraevet)? {
        let p = format!("{sti}/TilstandListe");
        let mut tb = Boern::new(t, &p)?;
        let mut list = Vec::new();
        for (i, f) in tb.many(typ.ns, "Fremdrift").into_iter().enumerate() {
            let s = format!("{p}/Fremdrift[{}]", i + 1);
            let mut fb = Boern::new(f, &s)?;
            let v = virkning_eller_altid(&mut fb, typ.ns, &s)?;
            let kode = tekst(fb.one(typ.ns, "FremdriftStatusKode")?)?;
            fb.slut()?;
            list.push(json!({"fremdrift": kode.trim(), "virkning": v}));
        }
        tom_udvidelse(&mut tb, &p)?;
        tb.slut()?;
        let mut tilstande = Map::new();
        // A type without Fremdrift (SF1490's) has an empty TilstandListe and no states.
        if (paakraevet || !list.is_empty()) && spec.state("fremdrift").is_some() {
            tilstande.insert(spec.key("fremdrift"), Value::Array(list));
        }
        out.insert("tilstande".into(), Value::Object(tilstande));
    }
    if let Some(rl) = hent(b, typ.ns, "RelationListe", paakraevet)? {
        let p = format!("{sti}/RelationListe");
        let mut rb = Boern::new(rl, &p)?;
        let mut rel: Map<String, Value> = Map::new();
        for def in typ.relationer.iter().filter(|d| !d.udvidelse) {
            for (i, e) in rb.many(typ.ns, def.element).into_iter().enumerate() {
                let p = format!("{p}/{}[{}]", def.element, i + 1);
                // A search's relation may carry only a search extension (SF1490's intervals).
                let kraev = !soeg || typ.soegeudvidelser.is_empty();
                let v = relation_i(e, NS_GD, true, kraev, &p)?;
                push(&mut rel, def.relation, v);
            }
        }
        if let Some(l) = rb.opt(NS_GD, "LokalUdvidelseListe") {
            let lp = format!("{p}/LokalUdvidelseListe");
            let mut ub = Boern::new(l, &lp)?;
            // The extension relations, in any order (the schema's `any`).
            loop {
                let def = typ.relationer.iter().filter(|d| d.udvidelse).find(|d| {
                    let mut probe = ub.clone();
                    probe.opt(typ.udv_ns, d.element).is_some()
                });
                let Some(def) = def else { break };
                let e = ub.opt(typ.udv_ns, def.element).expect("probed");
                let v = relation(e, &format!("{lp}/{}", def.element))?;
                push(&mut rel, def.relation, v);
            }
            senest_aendret(&mut ub)?;
            ub.slut()?;
        }
        rb.slut()?;
        if soeg {
            filtre.extend(relationsudvidelser(typ, &rel, &p)?);
        }
        if let Some(afled) = typ.afled {
            afled(&mut rel)?;
        }
        if attr_rel.is_some() && !soeg {
            // The RelationListe replaces the wire relations even when the AttributListe's
            // element brings relations of its own (an empty RelationListe clears them).
            for def in typ.relationer {
                rel.entry(def.relation)
                    .or_insert_with(|| Value::Array(Vec::new()));
            }
        }
        // On opdater, a RelationListe replaces the relations: an empty one clears them.
        out.insert("relationer".into(), Value::Object(rel));
    }
    if let Some(m) = attr_rel {
        let rel = out
            .entry("relationer")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("relationer is an object");
        rel.extend(m);
    }
    Ok((out, filtre))
}

/// The intervals of one search extension element (`bi:SoegEgenskaberLokalUdvidelse` …): each
/// declared interval child, in order, optional.
fn soegeudvidelse(
    e: Node<'_, '_>,
    u: &Soegeudvidelse,
    sti: &str,
) -> Result<Vec<Efterfilter>, Fejl> {
    let ns = e.tag_name().namespace().unwrap_or_default().to_owned();
    let mut b = Boern::new(e, sti)?;
    let mut out = Vec::new();
    for (element, typ, vaerdi) in u.intervaller {
        let Some(i) = b.opt(&ns, element) else {
            continue;
        };
        let p = format!("{sti}/{element}");
        let mut ib = Boern::new(i, &p)?;
        let (fra, til) = match typ {
            Intervaltype::Tid => {
                let graense = |n: Node<'_, '_>, til: bool| -> Result<Option<String>, Fejl> {
                    let t = tidspunkt(n, til)?;
                    Ok((t != "infinity" && t != "-infinity").then_some(t))
                };
                let fra = graense(ib.one(NS_GO, "FraTidspunkt")?, false)?;
                let til = graense(ib.one(NS_GO, "TilTidspunkt")?, true)?;
                (fra, til)
            }
            Intervaltype::Beloeb => {
                let mut beloeb = |navn: &str| -> Result<Option<String>, Fejl> {
                    let t = tekst(ib.one(NS_GO, navn)?)?.trim().to_owned();
                    if !er_beloeb(&t) {
                        return Err(ugyldig(format!("{p}/{navn}: '{t}' is not an amount")));
                    }
                    Ok(Some(t))
                };
                (beloeb("FraBeloeb")?, beloeb("TilBeloeb")?)
            }
        };
        ib.slut()?;
        out.push(Efterfilter::Interval {
            sti: *vaerdi,
            typ: *typ,
            fra,
            til,
        });
    }
    b.slut()?;
    Ok(out)
}

/// The search extensions in the relations' `LokalUdvidelseListe` (read as kept fragments by
/// [`relation`]): their intervals, and refused if unknown.
fn relationsudvidelser(
    typ: &Indekstype,
    rel: &Map<String, Value>,
    sti: &str,
) -> Result<Vec<Efterfilter>, Fejl> {
    let mut out = Vec::new();
    for (navn, entries) in rel {
        for e in entries.as_array().into_iter().flatten() {
            let fragmenter = e
                .pointer("/detaljer/lokaludvidelse")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str);
            for f in fragmenter {
                let doc = roxmltree::Document::parse(f)
                    .map_err(|e| ugyldig(format!("{sti}/{navn}: {e}")))?;
                let root = doc.root_element();
                let u = typ.soegeudvidelser.iter().find(|u| {
                    u.relation == Some(navn.as_str())
                        && root.tag_name().namespace() == Some(typ.ns)
                        && root.tag_name().name() == u.element
                });
                let Some(u) = u else {
                    // SF1470 keeps a relation's local extension in a search as it does in a
                    // write: it is not a criterion.
                    if typ.soegeudvidelser.is_empty() {
                        continue;
                    }
                    return Err(ugyldig(format!(
                        "{sti}/{navn}/LokalUdvidelseListe: {} is not a search extension of this relation",
                        root.tag_name().name()
                    )));
                };
                out.extend(soegeudvidelse(
                    root,
                    u,
                    &format!("{sti}/{navn}/LokalUdvidelseListe/{}", u.element),
                )?);
            }
        }
    }
    Ok(out)
}

/// `gd:BeloebType`: `-?[0-9]+(\.[0-9]+)?`.
pub fn er_beloeb(t: &str) -> bool {
    let t = t.strip_prefix('-').unwrap_or(t);
    let (heltal, decimaler) = match t.split_once('.') {
        Some((h, d)) => (h, Some(d)),
        None => (t, None),
    };
    let cifre = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    cifre(heltal) && decimaler.is_none_or(cifre)
}

fn push(m: &mut Map<String, Value>, key: &str, v: Value) {
    match m.get_mut(key) {
        Some(Value::Array(a)) => a.push(v),
        _ => {
            m.insert(key.into(), Value::Array(vec![v]));
        }
    }
}

/// `gd:SenestAendretTidspunkt`, the last child a LokalUdvidelseListe may have: checked, not kept.
fn senest_aendret(b: &mut Boern<'_, '_>) -> Result<(), Fejl> {
    if let Some(t) = b.opt(NS_GD, "SenestAendretTidspunkt") {
        tidsstempel(t)?;
    }
    Ok(())
}

/// A LokalUdvidelseListe where the index defines no extension: it must be empty.
fn tom_udvidelse(b: &mut Boern<'_, '_>, sti: &str) -> Result<(), Fejl> {
    if let Some(l) = b.opt(NS_GD, "LokalUdvidelseListe") {
        let mut ub = Boern::new(l, &format!("{sti}/LokalUdvidelseListe"))?;
        senest_aendret(&mut ub)?;
        ub.slut()?;
    }
    Ok(())
}

/// One attribute entry: an optional Virkning (in `virk_ns`), then the fields (in `ns`).
fn egenskab(
    e: Node<'_, '_>,
    virk_ns: &str,
    ns: &str,
    felter: &[Felt],
    sti: &str,
) -> Result<Value, Fejl> {
    let mut b = Boern::new(e, sti)?;
    let v = virkning_eller_altid(&mut b, virk_ns, sti)?;
    let mut m = Map::new();
    for f in felter {
        let Some(n) = b.opt(ns, f.element) else {
            continue;
        };
        let fs = format!("{sti}/{}", f.element);
        let val = match f.form {
            Form::Tekst => json!(tekst(n)?),
            Form::Bool => json!(boolsk(n, &fs)?),
            Form::Heltal => {
                let t = tekst(n)?;
                json!(
                    t.trim()
                        .parse::<i64>()
                        .map_err(|_| ugyldig(format!("{fs}: '{t}' is not an integer")))?
                )
            }
            Form::Dato => {
                let t = tekst(n)?;
                let d = t.trim().get(..10).unwrap_or("");
                let ok = d.len() == 10
                    && d.bytes().enumerate().all(|(i, c)| {
                        if i == 4 || i == 7 {
                            c == b'-'
                        } else {
                            c.is_ascii_digit()
                        }
                    });
                if !ok {
                    return Err(ugyldig(format!("{fs}: '{t}' is not a date (YYYY-MM-DD)")));
                }
                json!(d)
            }
            Form::Tidsstempel => {
                json!(tidsstempel(n).map_err(|e| ugyldig(format!("{fs}: {}", e.tekst)))?)
            }
            Form::Beloeb => {
                let t = tekst(n)?.trim().to_owned();
                if !er_beloeb(&t) {
                    return Err(ugyldig(format!(
                        "{fs}: '{t}' is not an amount (digits, optionally a decimal point and decimals)"
                    )));
                }
                json!(t)
            }
            Form::OffentlighedUndtaget => {
                let mut ob = Boern::new(n, &fs)?;
                let alt = tekst(ob.one(NS_SD, "TitelAlternativTekst")?)?;
                let hjemmel = tekst(ob.one(NS_SD, "OffentlighedUndtagetHjemmelTekst")?)?;
                ob.slut()?;
                json!({"alternativtitel": alt, "hjemmel": hjemmel})
            }
        };
        m.insert(f.felt.into(), val);
    }
    b.slut()?;
    m.insert("virkning".into(), v);
    Ok(Value::Object(m))
}

/// One relation entry (`gd:RelationType`, possibly extended): engine JSON with `rolle`,
/// `type`, `indeks`, and `detaljer` for what the engine does not model.
fn relation(e: Node<'_, '_>, sti: &str) -> Result<Value, Fejl> {
    relation_i(e, NS_GD, true, true, sti)
}

/// One relation entry whose base children (`Rolle`, `Type`, `Indeks`, `ReferenceID`,
/// `LokalUdvidelseListe`, after an optional `Virkning` if `med_virkning`) are in `base_ns`:
/// `gd:RelationType`, or SF1490's `bi:RelationUdenVirkningType` (in `bi`, no Virkning;
/// `../shared/specs/sf1490-ydelsesindeks/xsd/6.0.STS-0/BevillingIndeks.xsd`). What follows the
/// base children (the extending type's elements) is kept as `detaljer.tillaeg`. A
/// `ReferenceID` is required if `kraev_reference` (not for a search's relation that carries
/// only a search extension).
pub fn relation_i(
    e: Node<'_, '_>,
    base_ns: &str,
    med_virkning: bool,
    kraev_reference: bool,
    sti: &str,
) -> Result<Value, Fejl> {
    let mut b = Boern::new(e, sti)?;
    let mut m = Map::new();
    let v = if med_virkning {
        virkning_eller_altid(&mut b, base_ns, sti)?
    } else {
        altid()
    };
    for (element, key) in [("Rolle", "rolle"), ("Type", "type")] {
        if let Some(n) = b.opt(base_ns, element) {
            m.insert(key.into(), Value::Object(unik_id(n)?));
        }
    }
    if let Some(i) = b.opt_tekst(base_ns, "Indeks")? {
        m.insert("indeks".into(), json!(i));
    }
    match b.opt(base_ns, "ReferenceID") {
        Some(n) => m.extend(unik_id(n)?),
        None if !kraev_reference => {}
        None => {
            return Err(ugyldig(format!(
                "{sti}: ReferenceID is missing (an index relation must point at something)"
            )));
        }
    }
    let mut detaljer = Map::new();
    if let Some(l) = b.opt(base_ns, "LokalUdvidelseListe") {
        let mut fragmenter = Vec::new();
        for c in l.children().filter(|c| c.is_element()) {
            if c.tag_name().namespace() == Some(NS_GD) {
                if c.tag_name().name() != "SenestAendretTidspunkt" {
                    return Err(ugyldig(format!(
                        "{sti}/LokalUdvidelseListe: unexpected element {}",
                        c.tag_name().name()
                    )));
                }
                continue;
            }
            fragmenter.push(json!(fragment(c)?));
        }
        if !fragmenter.is_empty() {
            detaljer.insert("lokaludvidelse".into(), Value::Array(fragmenter));
        }
    }
    // What an extending type adds (JournalpostEgenskaber, SystemNavn, SystemURI).
    const BASIS: &[&str] = &[
        "Virkning",
        "Rolle",
        "Type",
        "Indeks",
        "ReferenceID",
        "LokalUdvidelseListe",
    ];
    let mut tillaeg = Vec::new();
    while let Some(n) = b.next_any() {
        let ns = n.tag_name().namespace();
        if ns == Some(NS_GD)
            || ns == Some(NS_SD)
            || (ns == Some(base_ns) && BASIS.contains(&n.tag_name().name()))
        {
            return Err(ugyldig(format!(
                "{sti}: unexpected element {} here (wrong name, namespace or order)",
                n.tag_name().name()
            )));
        }
        tillaeg.push(json!(fragment(n)?));
    }
    if !tillaeg.is_empty() {
        detaljer.insert("tillaeg".into(), Value::Array(tillaeg));
    }
    if !detaljer.is_empty() {
        m.insert("detaljer".into(), Value::Object(detaljer));
    }
    m.insert("virkning".into(), v);
    Ok(Value::Object(m))
}

/// A self-contained copy of an element (the inherited namespace declarations it uses added).
pub fn fragment(n: Node<'_, '_>) -> Result<String, Fejl> {
    used_ns_fragment(n.document().input_text(), n)
        .map_err(|e| ugyldig(format!("{}: {e}", n.tag_name().name())))
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// One `<p:Registrering>` of `typ` showing the periods that overlap `(fra, til)`. `vis`
/// chooses the parts written (a fremsoeg `Filter`); `None` writes everything.
pub fn registrering(
    s: &mut String,
    typ: &Indekstype,
    r: &Registrering,
    (fra, til): (Ts, Ts),
    vis: Option<&Vis>,
) {
    let p = typ.prefix;
    let viser = |del: &str| vis.is_none_or(|v| v.dele.contains(&del));
    s.push_str(&format!("<{p}:Registrering>"));
    if let Some(n) = &r.meta.note {
        tekst_element(s, "sd", "NoteTekst", n);
    }
    tekst_element(s, "sd", "Tidspunkt", &time::format_iso(r.meta.fra));
    if r.meta.livscyklus != Livscyklus::Rettet {
        tekst_element(s, "sd", "LivscyklusKode", r.meta.livscyklus.as_str());
    }
    if let Some(b) = r.meta.brugerref {
        s.push_str("<sd:BrugerRef>");
        tekst_element(s, "sd", "UUIDIdentifikator", &b.to_string());
        s.push_str("</sd:BrugerRef>");
    }
    tekst_element(s, "gd", "StsTidspunkt", &time::format_iso(r.meta.fra));
    let d = &r.data;
    let overlapper = |v: &fki_oio::model::Virkning| v.overlaps(fra, til);

    s.push_str(&format!("<{p}:AttributListe>"));
    if viser("egenskaber") {
        for e in d
            .attributter
            .get("egenskaber")
            .into_iter()
            .flatten()
            .filter(|e| overlapper(&e.virkning))
        {
            skriv_egenskab(s, p, p, "Egenskaber", typ.egenskaber, e);
        }
    }
    // An AttributListe element kept whole (SF1490's BevilgetYdelse), written back as given.
    if let Some(ae) = &typ.attributelement
        && viser(ae.relation)
    {
        for e in d
            .relationer
            .get(ae.relation)
            .into_iter()
            .flatten()
            .filter(|e| overlapper(&e.virkning))
        {
            if let Some(x) = e
                .ekstra
                .get("detaljer")
                .and_then(|d| d.get("xml"))
                .and_then(Value::as_str)
            {
                s.push_str(x);
            }
        }
    }
    if viser("egenskaber")
        && let Some((element, felter)) = typ.udvidelse
    {
        let liste: Vec<&AttrEntry> = d
            .attributter
            .get("indeksegenskaber")
            .into_iter()
            .flatten()
            .filter(|e| overlapper(&e.virkning))
            .collect();
        if !liste.is_empty() {
            s.push_str("<gd:LokalUdvidelseListe>");
            for e in liste {
                skriv_egenskab(s, "gd", typ.udv_prefix, element, felter, e);
            }
            s.push_str("</gd:LokalUdvidelseListe>");
        }
    }
    s.push_str(&format!("</{p}:AttributListe>"));

    s.push_str(&format!("<{p}:TilstandListe>"));
    if viser("fremdrift") {
        for e in d
            .tilstande
            .get("fremdrift")
            .into_iter()
            .flatten()
            .filter(|e: &&StateEntry| overlapper(&e.virkning))
        {
            s.push_str(&format!("<{p}:Fremdrift>"));
            virkning_i(s, p, &e.virkning);
            tekst_element(s, p, "FremdriftStatusKode", &e.vaerdi);
            s.push_str(&format!("</{p}:Fremdrift>"));
        }
    }
    s.push_str(&format!("</{p}:TilstandListe>"));

    s.push_str(&format!("<{p}:RelationListe>"));
    let entries = |def: &Rel| -> Vec<&RelEntry> {
        let hel = viser(def.relation);
        // A Vis may name a relation's entries of one Rolle only (SF1490's `aktoer-ejer`).
        let roller: Vec<&str> = vis
            .map(|v| {
                v.roller
                    .iter()
                    .filter(|(r, _)| *r == def.relation)
                    .map(|(_, u)| *u)
                    .collect()
            })
            .unwrap_or_default();
        if !hel && roller.is_empty() {
            return Vec::new();
        }
        d.relationer
            .get(def.relation)
            .into_iter()
            .flatten()
            .filter(|e| overlapper(&e.virkning))
            .filter(|e| {
                hel || e
                    .ekstra
                    .get("rolle")
                    .and_then(|r| r.get("uuid"))
                    .and_then(Value::as_str)
                    .is_some_and(|r| roller.iter().any(|x| x.eq_ignore_ascii_case(r)))
            })
            .collect()
    };
    for def in typ.relationer.iter().filter(|d| !d.udvidelse) {
        for e in entries(def) {
            skriv_relation(s, p, def.element, e);
        }
    }
    let udv: Vec<(&Rel, &RelEntry)> = typ
        .relationer
        .iter()
        .filter(|d| d.udvidelse)
        .flat_map(|def| entries(def).into_iter().map(move |e| (def, e)))
        .collect();
    if !udv.is_empty() {
        s.push_str("<gd:LokalUdvidelseListe>");
        for (def, e) in udv {
            skriv_relation(s, typ.udv_prefix, def.element, e);
        }
        s.push_str("</gd:LokalUdvidelseListe>");
    }
    s.push_str(&format!("</{p}:RelationListe>"));
    s.push_str(&format!("</{p}:Registrering>"));
}

fn skriv_egenskab(
    s: &mut String,
    virk_prefix: &str,
    prefix: &str,
    element: &str,
    felter: &[Felt],
    e: &AttrEntry,
) {
    s.push_str(&format!("<{prefix}:{element}>"));
    virkning_i(s, virk_prefix, &e.virkning);
    for f in felter {
        let Some(v) = e.felter.get(f.felt) else {
            continue;
        };
        match (f.form, v) {
            (Form::OffentlighedUndtaget, Value::Object(o)) => {
                s.push_str(&format!("<{prefix}:{}>", f.element));
                let g = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("");
                tekst_element(s, "sd", "TitelAlternativTekst", g("alternativtitel"));
                tekst_element(s, "sd", "OffentlighedUndtagetHjemmelTekst", g("hjemmel"));
                s.push_str(&format!("</{prefix}:{}>", f.element));
            }
            (_, Value::String(t)) => tekst_element(s, prefix, f.element, t),
            (_, Value::Bool(b)) => tekst_element(s, prefix, f.element, &b.to_string()),
            (_, Value::Number(n)) => tekst_element(s, prefix, f.element, &n.to_string()),
            _ => {}
        }
    }
    s.push_str(&format!("</{prefix}:{element}>"));
}

fn skriv_unik_id(s: &mut String, element: &str, v: &Value) {
    s.push_str(&format!("<gd:{element}>"));
    if let Some(u) = v.get("uuid").and_then(Value::as_str) {
        tekst_element(s, "sd", "UUIDIdentifikator", u);
    } else if let Some(u) = v.get("urn").and_then(Value::as_str) {
        tekst_element(s, "sd", "URNIdentifikator", u);
    }
    s.push_str(&format!("</gd:{element}>"));
}

fn skriv_relation(s: &mut String, prefix: &str, element: &str, e: &RelEntry) {
    s.push_str(&format!("<{prefix}:{element}>"));
    virkning_i(s, "gd", &e.virkning);
    for (key, el) in [("rolle", "Rolle"), ("type", "Type")] {
        if let Some(v) = e.ekstra.get(key) {
            skriv_unik_id(s, el, v);
        }
    }
    if let Some(i) = e.ekstra.get("indeks").and_then(Value::as_str) {
        tekst_element(s, "gd", "Indeks", i);
    }
    match &e.maal {
        Maal::Uuid(u) => skriv_unik_id(s, "ReferenceID", &json!({"uuid": u.to_string()})),
        Maal::Urn(u) => skriv_unik_id(s, "ReferenceID", &json!({"urn": u})),
        Maal::Ingen | Maal::Vaerdi => {}
    }
    let detaljer = e.ekstra.get("detaljer");
    let fragmenter = |key: &str| -> Vec<&str> {
        detaljer
            .and_then(|d| d.get(key))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let lokal = fragmenter("lokaludvidelse");
    if !lokal.is_empty() {
        s.push_str("<gd:LokalUdvidelseListe>");
        for f in lokal {
            s.push_str(f);
        }
        s.push_str("</gd:LokalUdvidelseListe>");
    }
    for f in fragmenter("tillaeg") {
        s.push_str(f);
    }
    s.push_str(&format!("</{prefix}:{element}>"));
}

/// Which parts of an object a fremsoeg answer shows (`SagVis`/`DokumentVis`), as engine names:
/// `egenskaber`, `fremdrift`, and relation names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vis {
    pub dele: Vec<&'static str>,
    /// A relation's entries of one Rolle (UUID), shown even if the relation is not in
    /// [`Vis::dele`] (SF1490's `aktoer-ejer`, `aktoer-ansvarlig`).
    pub roller: Vec<(&'static str, &'static str)>,
}

/// The registreringer of an object as a `FiltreretOejebliksbillede` of element `element`
/// (prefix and namespace chosen by the caller: `sdi:SagFiltreretOejebliksbillede`).
pub fn oejebliksbillede(
    s: &mut String,
    element: &str,
    typ: &Indekstype,
    uuid: uuid::Uuid,
    registreringer: &[Registrering],
    virk: (Ts, Ts),
    vis: Option<&Vis>,
) {
    let p = typ.prefix;
    s.push_str(&format!("<{element}><{p}:ObjektType>"));
    tekst_element(s, "sd", "UUIDIdentifikator", &uuid.to_string());
    s.push_str(&format!("</{p}:ObjektType>"));
    for r in registreringer {
        registrering(s, typ, r, virk, vis);
    }
    s.push_str(&format!("</{element}>"));
}

/// `<sd:StandardRetur>`.
pub fn standard_retur(s: &mut String, kode: StatusKode, tekst: Option<&str>) {
    s.push_str("<sd:StandardRetur>");
    standard_retur_indhold(s, kode, tekst);
    s.push_str("</sd:StandardRetur>");
}

/// The children of a `sd:StandardReturType`.
pub fn standard_retur_indhold(s: &mut String, kode: StatusKode, tekst: Option<&str>) {
    tekst_element(s, "sd", "StatusKode", &kode.kode().to_string());
    if let Some(t) = tekst {
        s.push_str("<sd:FejlbeskedTekst>");
        s.push_str(&escape_text(t));
        s.push_str("</sd:FejlbeskedTekst>");
    }
}

/// Whole history, all periods.
pub const ALTID: (Ts, Ts) = (NEG_INF, POS_INF);

// ---------------------------------------------------------------------------------------------
// Post-filters.

/// The values at `sti` of the entries of `r` in effect at `nu` (text; an element's text).
pub fn vaerdier(r: &Registrering, sti: &Vaerdisti, nu: Ts) -> Vec<String> {
    let gaelder = |v: &fki_oio::model::Virkning| v.from <= nu && nu < v.to;
    let mut out = Vec::new();
    match sti {
        Vaerdisti::Felt(gruppe, felt) => {
            for e in r
                .data
                .attributter
                .get(*gruppe)
                .into_iter()
                .flatten()
                .filter(|e| gaelder(&e.virkning))
            {
                match e.felter.get(*felt) {
                    Some(Value::String(s)) => out.push(s.clone()),
                    Some(Value::Number(n)) => out.push(n.to_string()),
                    Some(Value::Bool(b)) => out.push(b.to_string()),
                    _ => {}
                }
            }
        }
        Vaerdisti::Relation(relation, sti) => {
            let segmenter: Vec<&str> = sti.split('/').collect();
            for e in r
                .data
                .relationer
                .get(*relation)
                .into_iter()
                .flatten()
                .filter(|e| gaelder(&e.virkning))
            {
                let Some(d) = e.ekstra.get("detaljer") else {
                    continue;
                };
                // The whole element (`xml`): the path starts below it.
                if let Some(x) = d.get("xml").and_then(Value::as_str)
                    && let Ok(doc) = roxmltree::Document::parse(x)
                {
                    find(doc.root_element().children(), &segmenter, &mut out);
                }
                // What a relation type adds (`tillaeg`): the path starts with the element.
                for t in d
                    .get("tillaeg")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if let Ok(doc) = roxmltree::Document::parse(t) {
                        find(std::iter::once(doc.root_element()), &segmenter, &mut out);
                    }
                }
            }
        }
    }
    out
}

fn find<'a, 'i: 'a>(
    noder: impl Iterator<Item = Node<'a, 'i>>,
    segmenter: &[&str],
    out: &mut Vec<String>,
) {
    let Some((foerste, rest)) = segmenter.split_first() else {
        return;
    };
    for n in noder.filter(|n| n.is_element() && n.tag_name().name() == *foerste) {
        if rest.is_empty() {
            out.push(
                n.children()
                    .filter(|c| c.is_text())
                    .filter_map(|c| c.text())
                    .collect::<String>()
                    .trim()
                    .to_owned(),
            );
        } else {
            find(n.children(), rest, out);
        }
    }
}

/// Whether `r` (its entries in effect at `nu`) passes the post-filter.
pub fn opfylder(r: &Registrering, f: &Efterfilter, nu: Ts) -> bool {
    match f {
        Efterfilter::Tekst(sti, moenster) => {
            vaerdier(r, sti, nu).iter().any(|v| ligner(v, moenster))
        }
        Efterfilter::Interval { sti, typ, fra, til } => vaerdier(r, sti, nu)
            .iter()
            .any(|v| i_interval(v, *typ, fra.as_deref(), til.as_deref())),
    }
}

/// LoRa's text match: case-insensitive, `%` matches any run of characters.
pub fn ligner(vaerdi: &str, moenster: &str) -> bool {
    let v = vaerdi.to_lowercase();
    let m = moenster.to_lowercase();
    let dele: Vec<&str> = m.split('%').collect();
    if dele.len() == 1 {
        return v == m;
    }
    let (foerste, sidste) = (dele[0], dele[dele.len() - 1]);
    if !v.starts_with(foerste) || v.len() < foerste.len() + sidste.len() || !v.ends_with(sidste) {
        return false;
    }
    let mut rest = &v[foerste.len()..v.len() - sidste.len()];
    for d in &dele[1..dele.len() - 1] {
        match rest.find(d) {
            Some(i) => rest = &rest[i + d.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `v` lies in `[fra, til]` (`None`: unbounded): times as timestamps, amounts as
/// numbers. A value that is not of the interval's kind is not in it.
pub fn i_interval(v: &str, typ: Intervaltype, fra: Option<&str>, til: Option<&str>) -> bool {
    fn inden<T: PartialOrd>(x: Option<T>, fra: Option<Option<T>>, til: Option<Option<T>>) -> bool {
        let Some(x) = x else { return false };
        let fra_ok = match fra {
            None => true,
            Some(Some(f)) => f <= x,
            Some(None) => false,
        };
        let til_ok = match til {
            None => true,
            Some(Some(t)) => x <= t,
            Some(None) => false,
        };
        fra_ok && til_ok
    }
    match typ {
        Intervaltype::Tid => {
            let t = |s: &str| time::parse(s).ok();
            inden(t(v), fra.map(t), til.map(t))
        }
        Intervaltype::Beloeb => {
            let b = |s: &str| {
                er_beloeb(s.trim())
                    .then(|| s.trim().parse::<f64>().ok())
                    .flatten()
            };
            inden(b(v), fra.map(b), til.map(b))
        }
    }
}
