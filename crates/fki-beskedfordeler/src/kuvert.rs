//! The `Haendelsesbesked` of `../shared/specs/sf1460-beskedfordeler/xsd/Beskedkuvert.xsd`.
//!
//! Parsing is strict: elements must come in the schema's order, in the schema's namespaces
//! (`urn:oio:besked:kuvert:1.0` for the envelope, `urn:oio:sagdok:3.0.0` for the identifiers and
//! times), with required elements present and nothing unknown in between; identifiers must have
//! a valid form (`urn:oio:cvr-nr:` + 8 digits, `urn:oio:cpr-nr:` + 10 digits, `urn:oio:kle:` +
//! a KLE key, any other `urn:` well-formed, UUIDs as UUIDs). An error names the element path and
//! what is wrong, so it can go back to the sender as a FejlbeskedTekst.
//!
//! The `xs:any` content (Beskeddata, the `…LokalUdvidelse` elements) is kept as XML text that
//! declares every namespace it uses, so it can be written into any document unchanged in
//! meaning. [`Haendelsesbesked::to_xml`] writes the shape KOMBIT's own (JAXB) services emit:
//! `urn:oio:sagdok:3.0.0` as the default namespace and `ns2:` for the envelope.

use std::fmt;

use roxmltree::Node;
use uuid::Uuid;

/// The envelope namespace.
pub const NS_KUVERT: &str = "urn:oio:besked:kuvert:1.0";
/// The identifiers' and times' namespace.
pub const NS_SAGDOK: &str = "urn:oio:sagdok:3.0.0";
/// `ModtagBeskedInput` (push delivery to a receiver), `AnvendersystemOperationer.xsd`.
pub const NS_STS: &str = "urn:oio:sts:1.0.0";
/// `AfsendBeskedInput` / `FlytBeskedTilFejlkoeInput`, `BeskedfordelerOperationer.xsd`.
pub const NS_BESKEDFORDELER: &str = "urn:oio:sts:beskedfordeler:1.0.0";

/// Largest message accepted (bytes).
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// Why a message was refused: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{sti}: {grund}")]
pub struct BeskedFejl {
    /// Element path, e.g. `Haendelsesbesked/Beskedkuvert/Filtreringsdata/Beskedtype`.
    pub sti: String,
    pub grund: String,
}

fn fejl(sti: &str, grund: impl Into<String>) -> BeskedFejl {
    BeskedFejl {
        sti: sti.to_owned(),
        grund: grund.into(),
    }
}

/// `sd:UnikIdType`: a UUID or a URN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnikId {
    Uuid(Uuid),
    /// Lower-cased (URNs compare case-insensitively in what fki uses them for).
    Urn(String),
}

impl UnikId {
    /// The value as a filter compares it: the UUID in lower-case hyphenated form, or the URN.
    pub fn vaerdi(&self) -> String {
        self.med_vaerdi(str::to_owned)
    }

    /// `f` of [`UnikId::vaerdi`], without allocating (filters compare every value of a message
    /// against every abonnement).
    pub fn med_vaerdi<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            UnikId::Uuid(u) => f(u
                .hyphenated()
                .encode_lower(&mut [0u8; uuid::fmt::Hyphenated::LENGTH])),
            UnikId::Urn(s) => f(s),
        }
    }

    /// Parse and validate a URN (see the module docs for the forms checked).
    pub fn urn(text: &str) -> Result<UnikId, String> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if let Some(rest) = lower.strip_prefix("urn:oio:cvr-nr:") {
            if !digits(rest, 8) {
                return Err(format!("'{t}': a CVR URN is urn:oio:cvr-nr: and 8 digits"));
            }
        } else if let Some(rest) = lower.strip_prefix("urn:oio:cpr-nr:") {
            if !digits(rest, 10) {
                return Err(format!("'{t}': a CPR URN is urn:oio:cpr-nr: and 10 digits"));
            }
        } else if let Some(rest) = lower.strip_prefix("urn:oio:kle:") {
            if !kle_noegle(rest) {
                return Err(format!(
                    "'{t}': a KLE URN is urn:oio:kle: and a KLE key (NN, NN.NN or NN.NN.NN)"
                ));
            }
        } else {
            let mut parts = lower.splitn(3, ':');
            let ok = parts.next() == Some("urn")
                && parts.next().is_some_and(|nid| {
                    !nid.is_empty() && nid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
                && parts.next().is_some_and(|nss| {
                    !nss.is_empty() && !nss.bytes().any(|b| b.is_ascii_whitespace() || b < 0x20)
                });
            if !ok {
                return Err(format!("'{t}' is not a URN (urn:<nid>:<nss>)"));
            }
        }
        Ok(UnikId::Urn(lower))
    }
}

impl fmt::Display for UnikId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.med_vaerdi(|v| f.write_str(v))
    }
}

/// `NN`, `NN.NN` or `NN.NN.NN`.
fn kle_noegle(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (1..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `sd:TidspunktType`: a time stamp (kept as written, validated as `xs:dateTime`) or the
/// boundary indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tidspunkt {
    Tidsstempel(String),
    Graense(bool),
}

/// `besked:Haendelsesbesked`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Haendelsesbesked {
    pub besked_id: UnikId,
    pub besked_version: String,
    pub beskedkuvert: Beskedkuvert,
    /// Each `Beskeddata` element's content (`xs:any`), self-contained XML text.
    pub beskeddata: Vec<String>,
}

/// `besked:Beskedkuvert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beskedkuvert {
    pub filtreringsdata: Filtreringsdata,
    pub leveranceinformation: Leveranceinformation,
    pub modtagerhandling: Option<Modtagerhandling>,
    pub gyldighed_fra: Option<Tidspunkt>,
    pub gyldighed_til: Option<Tidspunkt>,
}

/// `besked:Filtreringsdata`: what subscriptions filter on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filtreringsdata {
    pub beskedtype: Option<UnikId>,
    pub besked_ansvarlig_aktoer: Option<Uuid>,
    pub tilladt_modtager: Vec<UnikId>,
    pub relateret_objekt: Vec<RelateretObjekt>,
    pub objekt_registrering: Vec<ObjektRegistrering>,
    pub tvaergaaende_proces: Vec<UnikId>,
}

/// `besked:RelateretObjekt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelateretObjekt {
    pub objekt_id: UnikId,
    pub objekt_type: UnikId,
    pub objekt_rolle: Option<UnikId>,
}

/// `besked:ObjektRegistrering`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjektRegistrering {
    pub objekt_registrering_id: Option<UnikId>,
    pub registrerings_aktoer: Option<Uuid>,
    pub registreringstidspunkt: Option<Tidspunkt>,
    pub objekt_ansvarlig_myndighed: Option<UnikId>,
    pub objekt_id: Option<UnikId>,
    pub objekt_type: Option<UnikId>,
    pub objekt_handling: Option<UnikId>,
    pub opgave_emne: Option<UnikId>,
    /// `ObjektRegistreringLokalUdvidelse`, self-contained XML text of the whole element.
    pub lokal_udvidelse: Option<String>,
}

/// `besked:Leveranceinformation`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Leveranceinformation {
    pub dannelsestidspunkt: Option<Tidspunkt>,
    pub transaktions_id: Option<UnikId>,
    pub kildesystem: Option<Uuid>,
    pub kildesystem_ip_adresse: Option<String>,
    pub kildesystem_akkreditiver: Option<String>,
    pub sikkerhedsklassificering: Option<UnikId>,
    /// `None`: no `Leveranceruter` element; `Some(vec![])`: an empty one.
    pub leveranceruter: Option<Vec<Leverancerute>>,
    /// `LeveranceinformationLokalUdvidelse`, self-contained XML text of the whole element.
    pub lokal_udvidelse: Option<String>,
}

/// `besked:Leverancerute`: one hop of the delivery.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Leverancerute {
    pub fordelingssystem: Option<UnikId>,
    pub modtagelses_tidspunkt: Option<Tidspunkt>,
    pub leverance_tidspunkt: Option<Tidspunkt>,
    pub modtaget_fra_system: Option<Uuid>,
    pub er_leveret_i_henhold_til: Option<UnikId>,
    /// `LeveranceruteLokalUdvidelse`: `AntalLeveranceforsoeg` and any other content.
    pub lokal_udvidelse: Option<LeveranceruteLokalUdvidelse>,
}

/// `besked:LeveranceruteLokalUdvidelse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeveranceruteLokalUdvidelse {
    pub antal_leveranceforsoeg: Option<u64>,
    /// Other (`##other`) elements, self-contained XML text.
    pub andet: Vec<String>,
}

/// `besked:Modtagerhandling`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Modtagerhandling {
    pub handling: Option<UnikId>,
    pub responsmodtager: Option<Uuid>,
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// The element children of `node` in order, consumed by the schema's sequence.
struct Seq<'a, 'i> {
    sti: String,
    items: Vec<Node<'a, 'i>>,
    pos: usize,
}

impl<'a, 'i> Seq<'a, 'i> {
    fn of(node: Node<'a, 'i>, sti: &str) -> Result<Self, BeskedFejl> {
        let mut items = Vec::new();
        for c in node.children() {
            if c.is_element() {
                items.push(c);
            } else if c.is_text() && !c.text().unwrap_or_default().trim().is_empty() {
                return Err(fejl(
                    sti,
                    format!("unexpected text '{}'", c.text().unwrap_or_default().trim()),
                ));
            }
        }
        Ok(Seq {
            sti: sti.to_owned(),
            items,
            pos: 0,
        })
    }

    fn peek_is(&self, ns: &str, name: &str) -> bool {
        self.items
            .get(self.pos)
            .is_some_and(|n| n.has_tag_name((ns, name)))
    }

    fn opt(&mut self, ns: &str, name: &str) -> Option<(Node<'a, 'i>, String)> {
        if self.peek_is(ns, name) {
            let n = self.items[self.pos];
            self.pos += 1;
            Some((n, format!("{}/{name}", self.sti)))
        } else {
            None
        }
    }

    fn one(&mut self, ns: &str, name: &str) -> Result<(Node<'a, 'i>, String), BeskedFejl> {
        match self.opt(ns, name) {
            Some(x) => Ok(x),
            None => Err(fejl(
                &self.sti,
                match self.items.get(self.pos) {
                    Some(n) => format!("expected {name} ({ns}), found {}", describe(*n)),
                    None => format!("{name} ({ns}) is missing"),
                },
            )),
        }
    }

    fn many(&mut self, ns: &str, name: &str) -> Vec<(Node<'a, 'i>, String)> {
        let mut out = Vec::new();
        while let Some(x) = self.opt(ns, name) {
            out.push(x);
        }
        out
    }

    fn end(self) -> Result<(), BeskedFejl> {
        match self.items.get(self.pos) {
            None => Ok(()),
            Some(n) => Err(fejl(
                &self.sti,
                format!("unexpected element {} here", describe(*n)),
            )),
        }
    }
}

fn describe(n: Node<'_, '_>) -> String {
    match n.tag_name().namespace() {
        Some(ns) => format!("{} ({ns})", n.tag_name().name()),
        None => format!("{} (no namespace)", n.tag_name().name()),
    }
}

fn leaf_text(n: Node<'_, '_>, sti: &str) -> Result<String, BeskedFejl> {
    if n.children().any(|c| c.is_element()) {
        return Err(fejl(sti, "expected text, found elements"));
    }
    Ok(n.text().unwrap_or_default().trim().to_owned())
}

fn parse_uuid(text: &str, sti: &str) -> Result<Uuid, BeskedFejl> {
    Uuid::parse_str(text).map_err(|_| fejl(sti, format!("'{text}' is not a UUID")))
}

fn unik_id(n: Node<'_, '_>, sti: &str) -> Result<UnikId, BeskedFejl> {
    let mut seq = Seq::of(n, sti)?;
    let v = if let Some((u, s)) = seq.opt(NS_SAGDOK, "UUIDIdentifikator") {
        UnikId::Uuid(parse_uuid(&leaf_text(u, &s)?, &s)?)
    } else if let Some((u, s)) = seq.opt(NS_SAGDOK, "URNIdentifikator") {
        UnikId::urn(&leaf_text(u, &s)?).map_err(|e| fejl(&s, e))?
    } else {
        return Err(fejl(
            sti,
            "expected UUIDIdentifikator or URNIdentifikator (urn:oio:sagdok:3.0.0)",
        ));
    };
    seq.end()?;
    Ok(v)
}

/// `orgfaelles:AktoerType` = `part:PartType` = a `sd:UUIDIdentifikator`.
fn aktoer(n: Node<'_, '_>, sti: &str) -> Result<Uuid, BeskedFejl> {
    let mut seq = Seq::of(n, sti)?;
    let (u, s) = seq.one(NS_SAGDOK, "UUIDIdentifikator")?;
    let v = parse_uuid(&leaf_text(u, &s)?, &s)?;
    seq.end()?;
    Ok(v)
}

fn tidspunkt(n: Node<'_, '_>, sti: &str) -> Result<Tidspunkt, BeskedFejl> {
    let mut seq = Seq::of(n, sti)?;
    let v = if let Some((t, s)) = seq.opt(NS_SAGDOK, "TidsstempelDatoTid") {
        let text = leaf_text(t, &s)?;
        if !is_xs_datetime(&text) {
            return Err(fejl(&s, format!("'{text}' is not an xs:dateTime")));
        }
        Tidspunkt::Tidsstempel(text)
    } else if let Some((g, s)) = seq.opt(NS_SAGDOK, "GraenseIndikator") {
        match leaf_text(g, &s)?.as_str() {
            "true" | "1" => Tidspunkt::Graense(true),
            "false" | "0" => Tidspunkt::Graense(false),
            other => return Err(fejl(&s, format!("'{other}' is not a boolean"))),
        }
    } else {
        return Err(fejl(
            sti,
            "expected TidsstempelDatoTid or GraenseIndikator (urn:oio:sagdok:3.0.0)",
        ));
    };
    seq.end()?;
    Ok(v)
}

/// `xs:dateTime`: `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`.
fn is_xs_datetime(s: &str) -> bool {
    use chrono::{DateTime, NaiveDateTime};
    DateTime::parse_from_rfc3339(s).is_ok()
        || NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
}

impl Haendelsesbesked {
    /// Parse a document whose root is `besked:Haendelsesbesked`.
    pub fn parse(xml: &str) -> Result<Haendelsesbesked, BeskedFejl> {
        let doc = parse_doc(xml)?;
        let root = doc.root_element();
        if !root.has_tag_name((NS_KUVERT, "Haendelsesbesked")) {
            return Err(fejl(
                "/",
                format!(
                    "expected Haendelsesbesked ({NS_KUVERT}), found {}",
                    describe(root)
                ),
            ));
        }
        Self::from_node(root, "Haendelsesbesked")
    }

    /// Parse `<ns4:ModtagBeskedInput>` (a push delivery, `AnvendersystemOperationer.xsd`).
    pub fn parse_modtag_besked_input(xml: &str) -> Result<Haendelsesbesked, BeskedFejl> {
        Self::parse_wrapped(xml, NS_STS, "ModtagBeskedInput")
    }

    /// Parse `AfsendBeskedInput` or `FlytBeskedTilFejlkoeInput`
    /// (`BeskedfordelerOperationer.xsd`), named by `element`.
    pub fn parse_beskedfordeler_input(
        xml: &str,
        element: &str,
    ) -> Result<Haendelsesbesked, BeskedFejl> {
        Self::parse_wrapped(xml, NS_BESKEDFORDELER, element)
    }

    fn parse_wrapped(xml: &str, ns: &str, element: &str) -> Result<Haendelsesbesked, BeskedFejl> {
        let doc = parse_doc(xml)?;
        let root = doc.root_element();
        if !root.has_tag_name((ns, element)) {
            return Err(fejl(
                "/",
                format!("expected {element} ({ns}), found {}", describe(root)),
            ));
        }
        Self::from_wrapper(root, element)
    }

    /// Parse the `Haendelsesbesked` inside a wrapper element (e.g. a SOAP body's payload).
    pub fn from_wrapper(node: Node<'_, '_>, sti: &str) -> Result<Haendelsesbesked, BeskedFejl> {
        let mut seq = Seq::of(node, sti)?;
        let (h, s) = seq.one(NS_KUVERT, "Haendelsesbesked")?;
        seq.end()?;
        Self::from_node(h, &s)
    }

    /// Parse a `besked:Haendelsesbesked` element.
    pub fn from_node(node: Node<'_, '_>, sti: &str) -> Result<Haendelsesbesked, BeskedFejl> {
        let mut seq = Seq::of(node, sti)?;
        let (n, s) = seq.one(NS_KUVERT, "BeskedId")?;
        let besked_id = unik_id(n, &s)?;
        let (n, s) = seq.one(NS_KUVERT, "BeskedVersion")?;
        let besked_version = leaf_text(n, &s)?;
        if besked_version.is_empty() {
            return Err(fejl(&s, "BeskedVersion is empty"));
        }
        let (n, s) = seq.one(NS_KUVERT, "Beskedkuvert")?;
        let beskedkuvert = beskedkuvert(n, &s)?;
        let mut beskeddata = Vec::new();
        for (n, s) in seq.many(NS_KUVERT, "Beskeddata") {
            let mut text = String::new();
            for c in n.children() {
                if c.is_element() {
                    write_fragment(&mut text, c);
                } else if c.is_text() && !c.text().unwrap_or_default().trim().is_empty() {
                    return Err(fejl(&s, "text directly in Beskeddata (expected elements)"));
                }
            }
            beskeddata.push(text);
        }
        seq.end()?;
        Ok(Haendelsesbesked {
            besked_id,
            besked_version,
            beskedkuvert,
            beskeddata,
        })
    }
}

fn parse_doc(xml: &str) -> Result<roxmltree::Document<'_>, BeskedFejl> {
    let limits = fki_sts::xml::Limits {
        max_bytes: MAX_BYTES,
        ..Default::default()
    };
    fki_sts::xml::parse(xml, limits).map_err(|e| fejl("/", e.to_string()))
}

fn beskedkuvert(n: Node<'_, '_>, sti: &str) -> Result<Beskedkuvert, BeskedFejl> {
    let mut seq = Seq::of(n, sti)?;
    let (f, s) = seq.one(NS_KUVERT, "Filtreringsdata")?;
    let filtreringsdata = filtreringsdata(f, &s)?;
    let (l, s) = seq.one(NS_KUVERT, "Leveranceinformation")?;
    let leveranceinformation = leveranceinformation(l, &s)?;
    let modtagerhandling = match seq.opt(NS_KUVERT, "Modtagerhandling") {
        Some((m, s)) => {
            let mut q = Seq::of(m, &s)?;
            let handling = q
                .opt(NS_KUVERT, "Handling")
                .map(|(n, s)| unik_id(n, &s))
                .transpose()?;
            let responsmodtager = q
                .opt(NS_KUVERT, "Responsmodtager")
                .map(|(n, s)| aktoer(n, &s))
                .transpose()?;
            q.end()?;
            Some(Modtagerhandling {
                handling,
                responsmodtager,
            })
        }
        None => None,
    };
    let gyldighed_fra = seq
        .opt(NS_KUVERT, "GyldighedFra")
        .map(|(n, s)| tidspunkt(n, &s))
        .transpose()?;
    let gyldighed_til = seq
        .opt(NS_KUVERT, "GyldighedTil")
        .map(|(n, s)| tidspunkt(n, &s))
        .transpose()?;
    seq.end()?;
    Ok(Beskedkuvert {
        filtreringsdata,
        leveranceinformation,
        modtagerhandling,
        gyldighed_fra,
        gyldighed_til,
    })
}

fn filtreringsdata(n: Node<'_, '_>, sti: &str) -> Result<Filtreringsdata, BeskedFejl> {
    let mut seq = Seq::of(n, sti)?;
    let (b, s) = seq.one(NS_KUVERT, "Beskedtype")?;
    let beskedtype = Some(unik_id(b, &s)?);
    let besked_ansvarlig_aktoer = seq
        .opt(NS_KUVERT, "BeskedAnsvarligAktoer")
        .map(|(n, s)| aktoer(n, &s))
        .transpose()?;
    let tilladt_modtager = seq
        .many(NS_KUVERT, "TilladtModtager")
        .into_iter()
        .map(|(n, s)| unik_id(n, &s))
        .collect::<Result<_, _>>()?;
    let mut relateret_objekt = Vec::new();
    for (r, s) in seq.many(NS_KUVERT, "RelateretObjekt") {
        let mut q = Seq::of(r, &s)?;
        let (n, t) = q.one(NS_KUVERT, "ObjektId")?;
        let objekt_id = unik_id(n, &t)?;
        let (n, t) = q.one(NS_KUVERT, "ObjektType")?;
        let objekt_type = unik_id(n, &t)?;
        let objekt_rolle = q
            .opt(NS_KUVERT, "ObjektRolle")
            .map(|(n, t)| unik_id(n, &t))
            .transpose()?;
        q.end()?;
        relateret_objekt.push(RelateretObjekt {
            objekt_id,
            objekt_type,
            objekt_rolle,
        });
    }
    let mut objekt_registrering = Vec::new();
    for (r, s) in seq.many(NS_KUVERT, "ObjektRegistrering") {
        objekt_registrering.push(objekt_reg(r, &s)?);
    }
    let tvaergaaende_proces = seq
        .many(NS_KUVERT, "TvaergaaendeProces")
        .into_iter()
        .map(|(n, s)| unik_id(n, &s))
        .collect::<Result<_, _>>()?;
    seq.end()?;
    Ok(Filtreringsdata {
        beskedtype,
        besked_ansvarlig_aktoer,
        tilladt_modtager,
        relateret_objekt,
        objekt_registrering,
        tvaergaaende_proces,
    })
}

fn objekt_reg(n: Node<'_, '_>, sti: &str) -> Result<ObjektRegistrering, BeskedFejl> {
    let mut q = Seq::of(n, sti)?;
    let id = |q: &mut Seq<'_, '_>, name: &str| -> Result<Option<UnikId>, BeskedFejl> {
        q.opt(NS_KUVERT, name)
            .map(|(n, s)| unik_id(n, &s))
            .transpose()
    };
    let objekt_registrering_id = id(&mut q, "ObjektRegistreringId")?;
    let registrerings_aktoer = q
        .opt(NS_KUVERT, "RegistreringsAktoer")
        .map(|(n, s)| aktoer(n, &s))
        .transpose()?;
    let registreringstidspunkt = q
        .opt(NS_KUVERT, "Registreringstidspunkt")
        .map(|(n, s)| tidspunkt(n, &s))
        .transpose()?;
    let r = ObjektRegistrering {
        objekt_registrering_id,
        registrerings_aktoer,
        registreringstidspunkt,
        objekt_ansvarlig_myndighed: id(&mut q, "ObjektAnsvarligMyndighed")?,
        objekt_id: id(&mut q, "ObjektId")?,
        objekt_type: id(&mut q, "ObjektType")?,
        objekt_handling: id(&mut q, "ObjektHandling")?,
        opgave_emne: id(&mut q, "OpgaveEmne")?,
        lokal_udvidelse: q
            .opt(NS_KUVERT, "ObjektRegistreringLokalUdvidelse")
            .map(|(n, _)| fragment(n)),
    };
    if let Some(UnikId::Urn(u)) = &r.opgave_emne
        && !u.starts_with("urn:oio:kle:")
    {
        return Err(fejl(
            &format!("{sti}/OpgaveEmne"),
            format!("'{u}': OpgaveEmne is a KLE URN (urn:oio:kle:NN.NN.NN)"),
        ));
    }
    q.end()?;
    Ok(r)
}

fn leveranceinformation(n: Node<'_, '_>, sti: &str) -> Result<Leveranceinformation, BeskedFejl> {
    let mut q = Seq::of(n, sti)?;
    let dannelsestidspunkt = q
        .opt(NS_KUVERT, "Dannelsestidspunkt")
        .map(|(n, s)| tidspunkt(n, &s))
        .transpose()?;
    let transaktions_id = q
        .opt(NS_KUVERT, "TransaktionsId")
        .map(|(n, s)| unik_id(n, &s))
        .transpose()?;
    let kildesystem = q
        .opt(NS_KUVERT, "Kildesystem")
        .map(|(n, s)| aktoer(n, &s))
        .transpose()?;
    let kildesystem_ip_adresse = q
        .opt(NS_KUVERT, "KildesystemIPAdresse")
        .map(|(n, s)| leaf_text(n, &s))
        .transpose()?;
    let kildesystem_akkreditiver = q
        .opt(NS_KUVERT, "KildesystemAkkreditiver")
        .map(|(n, s)| leaf_text(n, &s))
        .transpose()?;
    let sikkerhedsklassificering = q
        .opt(NS_KUVERT, "Sikkerhedsklassificering")
        .map(|(n, s)| unik_id(n, &s))
        .transpose()?;
    let leveranceruter = match q.opt(NS_KUVERT, "Leveranceruter") {
        Some((n, s)) => {
            let mut r = Seq::of(n, &s)?;
            let mut ruter = Vec::new();
            for (n, s) in r.many(NS_KUVERT, "Leverancerute") {
                ruter.push(leverancerute(n, &s)?);
            }
            r.end()?;
            Some(ruter)
        }
        None => None,
    };
    let lokal_udvidelse = q
        .opt(NS_KUVERT, "LeveranceinformationLokalUdvidelse")
        .map(|(n, _)| fragment(n));
    q.end()?;
    Ok(Leveranceinformation {
        dannelsestidspunkt,
        transaktions_id,
        kildesystem,
        kildesystem_ip_adresse,
        kildesystem_akkreditiver,
        sikkerhedsklassificering,
        leveranceruter,
        lokal_udvidelse,
    })
}

fn leverancerute(n: Node<'_, '_>, sti: &str) -> Result<Leverancerute, BeskedFejl> {
    let mut q = Seq::of(n, sti)?;
    let fordelingssystem = q
        .opt(NS_KUVERT, "Fordelingssystem")
        .map(|(n, s)| unik_id(n, &s))
        .transpose()?;
    let modtagelses_tidspunkt = q
        .opt(NS_KUVERT, "ModtagelsesTidspunkt")
        .map(|(n, s)| tidspunkt(n, &s))
        .transpose()?;
    let leverance_tidspunkt = q
        .opt(NS_KUVERT, "LeveranceTidspunkt")
        .map(|(n, s)| tidspunkt(n, &s))
        .transpose()?;
    let modtaget_fra_system = q
        .opt(NS_KUVERT, "ModtagetFraSystem")
        .map(|(n, s)| aktoer(n, &s))
        .transpose()?;
    let er_leveret_i_henhold_til = q
        .opt(NS_KUVERT, "ErLeveretIHenholdTil")
        .map(|(n, s)| unik_id(n, &s))
        .transpose()?;
    let lokal_udvidelse = match q.opt(NS_KUVERT, "LeveranceruteLokalUdvidelse") {
        Some((n, s)) => {
            let mut l = Seq::of(n, &s)?;
            let antal_leveranceforsoeg = match l.opt(NS_KUVERT, "AntalLeveranceforsoeg") {
                Some((n, s)) => {
                    let t = leaf_text(n, &s)?;
                    Some(
                        t.parse::<u64>()
                            .map_err(|_| fejl(&s, format!("'{t}' is not a whole number")))?,
                    )
                }
                None => None,
            };
            let mut andet = Vec::new();
            while let Some(n) = l.items.get(l.pos).copied() {
                if n.tag_name().namespace() == Some(NS_KUVERT) {
                    break; // `##other`: the envelope's own namespace is not allowed here
                }
                andet.push(fragment(n));
                l.pos += 1;
            }
            l.end()?;
            Some(LeveranceruteLokalUdvidelse {
                antal_leveranceforsoeg,
                andet,
            })
        }
        None => None,
    };
    q.end()?;
    Ok(Leverancerute {
        fordelingssystem,
        modtagelses_tidspunkt,
        leverance_tidspunkt,
        modtaget_fra_system,
        er_leveret_i_henhold_til,
        lokal_udvidelse,
    })
}

// ---------------------------------------------------------------------------------------------
// Self-contained XML fragments

fn fragment(n: Node<'_, '_>) -> String {
    let mut s = String::new();
    write_fragment(&mut s, n);
    s
}

/// Write element `n` and its subtree so that the text means the same wherever it is placed:
/// every element and attribute namespace is declared on the fragment's root or where its
/// binding differs from the enclosing one in the output. Comments and processing instructions
/// are dropped.
fn write_fragment(out: &mut String, n: Node<'_, '_>) {
    let mut scope: Vec<(String, String)> = Vec::new();
    write_elem(out, n, &mut scope);
}

/// `scope`: prefix → namespace bindings emitted so far on the path (innermost last); the
/// default namespace has the empty prefix.
fn write_elem(out: &mut String, n: Node<'_, '_>, scope: &mut Vec<(String, String)>) {
    let mark = scope.len();
    let bound = |scope: &[(String, String)], p: &str| {
        scope
            .iter()
            .rev()
            .find(|(q, _)| q == p)
            .map(|(_, ns)| ns.clone())
    };
    let mut decls = String::new();
    let elem_prefix = match n.tag_name().namespace().filter(|ns| !ns.is_empty()) {
        Some(ns) => {
            let p = n.lookup_prefix(ns).unwrap_or("").to_owned();
            if bound(scope, &p).as_deref() != Some(ns) {
                push_decl(&mut decls, &p, ns);
                scope.push((p.clone(), ns.to_owned()));
            }
            p
        }
        None => {
            // No namespace: the default namespace must be empty here, also where the fragment
            // is placed (whose default namespace is unknown).
            if bound(scope, "").is_none_or(|d| !d.is_empty()) {
                decls.push_str(" xmlns=\"\"");
                scope.push((String::new(), String::new()));
            }
            String::new()
        }
    };
    let mut attrs = String::new();
    for a in n.attributes() {
        let name = match a.namespace() {
            Some(ns) => {
                let p = n
                    .lookup_prefix(ns)
                    .filter(|p| !p.is_empty())
                    .unwrap_or("a")
                    .to_owned();
                if bound(scope, &p).as_deref() != Some(ns) {
                    push_decl(&mut decls, &p, ns);
                    scope.push((p.clone(), ns.to_owned()));
                }
                format!("{p}:{}", a.name())
            }
            None => a.name().to_owned(),
        };
        attrs.push(' ');
        attrs.push_str(&name);
        attrs.push_str("=\"");
        escape_attr(&mut attrs, a.value());
        attrs.push('"');
    }
    let qname = if elem_prefix.is_empty() {
        n.tag_name().name().to_owned()
    } else {
        format!("{elem_prefix}:{}", n.tag_name().name())
    };
    out.push('<');
    out.push_str(&qname);
    out.push_str(&decls);
    out.push_str(&attrs);
    if !n.has_children() {
        out.push_str("/>");
    } else {
        out.push('>');
        for c in n.children() {
            if c.is_element() {
                write_elem(out, c, scope);
            } else if c.is_text() {
                escape_text(out, c.text().unwrap_or_default());
            }
        }
        out.push_str("</");
        out.push_str(&qname);
        out.push('>');
    }
    scope.truncate(mark);
}

fn push_decl(decls: &mut String, prefix: &str, ns: &str) {
    if prefix.is_empty() {
        decls.push_str(" xmlns=\"");
    } else {
        decls.push_str(" xmlns:");
        decls.push_str(prefix);
        decls.push_str("=\"");
    }
    escape_attr(decls, ns);
    decls.push('"');
}

/// Escape character data onto `out` (the rules of [`fki_sts::xml::escape_text`]).
pub(crate) fn escape_text(out: &mut String, s: &str) {
    out.push_str(&fki_sts::xml::escape_text(s));
}

fn escape_attr(out: &mut String, s: &str) {
    out.push_str(&fki_sts::xml::escape_attr(s));
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes the envelope with `urn:oio:sagdok:3.0.0` as the default namespace and `ns2:` for
/// `urn:oio:besked:kuvert:1.0` (declared by the caller on an enclosing element).
struct W {
    out: String,
}

impl W {
    fn open(&mut self, name: &str) {
        self.out.push_str("<ns2:");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</ns2:");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn unik_id(&mut self, name: &str, v: &UnikId) {
        self.open(name);
        match v {
            UnikId::Uuid(u) => {
                self.out.push_str("<UUIDIdentifikator>");
                self.out.push_str(&u.to_string());
                self.out.push_str("</UUIDIdentifikator>");
            }
            UnikId::Urn(s) => {
                self.out.push_str("<URNIdentifikator>");
                escape_text(&mut self.out, s);
                self.out.push_str("</URNIdentifikator>");
            }
        }
        self.close(name);
    }

    fn opt_id(&mut self, name: &str, v: &Option<UnikId>) {
        if let Some(v) = v {
            self.unik_id(name, v);
        }
    }

    fn aktoer(&mut self, name: &str, v: &Option<Uuid>) {
        if let Some(u) = v {
            self.open(name);
            self.out.push_str("<UUIDIdentifikator>");
            self.out.push_str(&u.to_string());
            self.out.push_str("</UUIDIdentifikator>");
            self.close(name);
        }
    }

    fn tid(&mut self, name: &str, v: &Option<Tidspunkt>) {
        if let Some(t) = v {
            self.open(name);
            match t {
                Tidspunkt::Tidsstempel(s) => {
                    self.out.push_str("<TidsstempelDatoTid>");
                    escape_text(&mut self.out, s);
                    self.out.push_str("</TidsstempelDatoTid>");
                }
                Tidspunkt::Graense(b) => {
                    self.out.push_str("<GraenseIndikator>");
                    self.out.push_str(if *b { "true" } else { "false" });
                    self.out.push_str("</GraenseIndikator>");
                }
            }
            self.close(name);
        }
    }

    fn leverancerute(&mut self, r: &Leverancerute) {
        self.open("Leverancerute");
        self.opt_id("Fordelingssystem", &r.fordelingssystem);
        self.tid("ModtagelsesTidspunkt", &r.modtagelses_tidspunkt);
        self.tid("LeveranceTidspunkt", &r.leverance_tidspunkt);
        self.aktoer("ModtagetFraSystem", &r.modtaget_fra_system);
        self.opt_id("ErLeveretIHenholdTil", &r.er_leveret_i_henhold_til);
        if let Some(u) = &r.lokal_udvidelse {
            self.open("LeveranceruteLokalUdvidelse");
            self.text(
                "AntalLeveranceforsoeg",
                &u.antal_leveranceforsoeg.map(|n| n.to_string()),
            );
            for x in &u.andet {
                self.out.push_str(x);
            }
            self.close("LeveranceruteLokalUdvidelse");
        }
        self.close("Leverancerute");
    }

    fn text(&mut self, name: &str, v: &Option<String>) {
        if let Some(t) = v {
            self.open(name);
            escape_text(&mut self.out, t);
            self.close(name);
        }
    }
}

/// `<ns2:Leverancerute>…</ns2:Leverancerute>` of `r`, for a place where `ns2` is bound to
/// [`NS_KUVERT`] and the default namespace is [`NS_SAGDOK`] (as inside [`Haendelsesbesked::to_xml`]).
pub(crate) fn leverancerute_xml(r: &Leverancerute) -> String {
    let mut w = W { out: String::new() };
    w.leverancerute(r);
    w.out
}

/// The XML declaration every written document starts with.
pub(crate) const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

impl Haendelsesbesked {
    /// A standalone document: `<ns2:Haendelsesbesked xmlns="urn:oio:sagdok:3.0.0"
    /// xmlns:ns2="urn:oio:besked:kuvert:1.0">`.
    pub fn to_xml(&self) -> String {
        let mut s = String::from(XML_DECL);
        s.push_str(&self.element(&format!(" xmlns=\"{NS_SAGDOK}\" xmlns:ns2=\"{NS_KUVERT}\"")));
        s
    }

    /// A push delivery to a receiver: `<ns4:ModtagBeskedInput>` around the message, as KOMBIT
    /// sends it (`example_messages/push-delivery-message.xml`).
    pub fn modtag_besked_input(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
             <ns4:ModtagBeskedInput xmlns=\"{NS_SAGDOK}\" xmlns:ns2=\"{NS_KUVERT}\" \
             xmlns:ns4=\"{NS_STS}\">{}</ns4:ModtagBeskedInput>",
            self.element("")
        )
    }

    /// `AfsendBeskedInput` (`urn:oio:sts:beskedfordeler:1.0.0`) around the message: what a
    /// sender sends.
    pub fn afsend_besked_input(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
             <bf:AfsendBeskedInput xmlns=\"{NS_SAGDOK}\" xmlns:ns2=\"{NS_KUVERT}\" \
             xmlns:bf=\"{NS_BESKEDFORDELER}\">{}</bf:AfsendBeskedInput>",
            self.element("")
        )
    }

    /// The `ns2:Haendelsesbesked` element with `attrs` (namespace declarations) on it.
    fn element(&self, attrs: &str) -> String {
        let mut w = W { out: String::new() };
        w.out.push_str("<ns2:Haendelsesbesked");
        w.out.push_str(attrs);
        w.out.push('>');
        w.unik_id("BeskedId", &self.besked_id);
        w.text("BeskedVersion", &Some(self.besked_version.clone()));
        let k = &self.beskedkuvert;
        w.open("Beskedkuvert");
        let f = &k.filtreringsdata;
        w.open("Filtreringsdata");
        w.opt_id("Beskedtype", &f.beskedtype);
        w.aktoer("BeskedAnsvarligAktoer", &f.besked_ansvarlig_aktoer);
        for t in &f.tilladt_modtager {
            w.unik_id("TilladtModtager", t);
        }
        for r in &f.relateret_objekt {
            w.open("RelateretObjekt");
            w.unik_id("ObjektId", &r.objekt_id);
            w.unik_id("ObjektType", &r.objekt_type);
            w.opt_id("ObjektRolle", &r.objekt_rolle);
            w.close("RelateretObjekt");
        }
        for r in &f.objekt_registrering {
            w.open("ObjektRegistrering");
            w.opt_id("ObjektRegistreringId", &r.objekt_registrering_id);
            w.aktoer("RegistreringsAktoer", &r.registrerings_aktoer);
            w.tid("Registreringstidspunkt", &r.registreringstidspunkt);
            w.opt_id("ObjektAnsvarligMyndighed", &r.objekt_ansvarlig_myndighed);
            w.opt_id("ObjektId", &r.objekt_id);
            w.opt_id("ObjektType", &r.objekt_type);
            w.opt_id("ObjektHandling", &r.objekt_handling);
            w.opt_id("OpgaveEmne", &r.opgave_emne);
            if let Some(x) = &r.lokal_udvidelse {
                w.out.push_str(x);
            }
            w.close("ObjektRegistrering");
        }
        for t in &f.tvaergaaende_proces {
            w.unik_id("TvaergaaendeProces", t);
        }
        w.close("Filtreringsdata");
        let l = &k.leveranceinformation;
        w.open("Leveranceinformation");
        w.tid("Dannelsestidspunkt", &l.dannelsestidspunkt);
        w.opt_id("TransaktionsId", &l.transaktions_id);
        w.aktoer("Kildesystem", &l.kildesystem);
        w.text("KildesystemIPAdresse", &l.kildesystem_ip_adresse);
        w.text("KildesystemAkkreditiver", &l.kildesystem_akkreditiver);
        w.opt_id("Sikkerhedsklassificering", &l.sikkerhedsklassificering);
        if let Some(ruter) = &l.leveranceruter {
            w.open("Leveranceruter");
            for r in ruter {
                w.leverancerute(r);
            }
            w.close("Leveranceruter");
        }
        if let Some(x) = &l.lokal_udvidelse {
            w.out.push_str(x);
        }
        w.close("Leveranceinformation");
        if let Some(m) = &k.modtagerhandling {
            w.open("Modtagerhandling");
            w.opt_id("Handling", &m.handling);
            w.aktoer("Responsmodtager", &m.responsmodtager);
            w.close("Modtagerhandling");
        }
        w.tid("GyldighedFra", &k.gyldighed_fra);
        w.tid("GyldighedTil", &k.gyldighed_til);
        w.close("Beskedkuvert");
        for d in &self.beskeddata {
            w.open("Beskeddata");
            w.out.push_str(d);
            w.close("Beskeddata");
        }
        w.close("Haendelsesbesked");
        w.out
    }

    /// Add a hop to `Leveranceinformation/Leveranceruter` (item 5d of the issue): the
    /// Beskedfordeler's own entry with the times it received and delivered the message and the
    /// number of delivery attempts.
    pub fn tilfoej_leverancerute(&mut self, rute: Leverancerute) {
        self.beskedkuvert
            .leveranceinformation
            .leveranceruter
            .get_or_insert_with(Vec::new)
            .push(rute);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_the_lower_case_uuid_or_the_urn() {
        let u: Uuid = "5D0F5C6A-7B2E-4F7A-9C1D-2E3F4A5B6C7D".parse().unwrap();
        assert_eq!(
            UnikId::Uuid(u).vaerdi(),
            "5d0f5c6a-7b2e-4f7a-9c1d-2e3f4a5b6c7d"
        );
        assert_eq!(UnikId::Uuid(u).med_vaerdi(str::len), 36);
        let urn = UnikId::urn("urn:oio:kle:32.00.00").unwrap();
        assert!(urn.med_vaerdi(|v| v == urn.vaerdi()));
        assert_eq!(urn.to_string(), urn.vaerdi());
    }

    #[test]
    fn urn_forms_are_checked() {
        assert!(UnikId::urn("urn:oio:cvr-nr:12345678").is_ok());
        assert!(UnikId::urn("urn:oio:cvr-nr:1234567").is_err());
        assert!(UnikId::urn("urn:oio:cpr-nr:2512484916").is_ok());
        assert!(UnikId::urn("urn:oio:cpr-nr:251248-4916").is_err());
        assert!(UnikId::urn("urn:oio:kle:27.35.04").is_ok());
        assert!(UnikId::urn("urn:oio:kle:27").is_ok());
        assert!(UnikId::urn("urn:oio:kle:27.3").is_err());
        assert!(UnikId::urn("urn:oio:kle:27.35.04.01").is_err());
        assert!(UnikId::urn("urn:x:y").is_ok());
        assert!(UnikId::urn("http://x").is_err());
        assert!(UnikId::urn("urn::x").is_err());
        assert_eq!(
            UnikId::urn(" URN:OIO:CVR-NR:12345678 ").unwrap(),
            UnikId::Urn("urn:oio:cvr-nr:12345678".into())
        );
    }

    #[test]
    fn fragments_declare_what_they_use() {
        let doc = roxmltree::Document::parse(
            r#"<a xmlns="urn:d" xmlns:p="urn:p"><p:b x="1" p:y="&amp;"><c>t&lt;</c><d xmlns=""/></p:b></a>"#,
        )
        .unwrap();
        let b = doc.root_element().first_element_child().unwrap();
        let f = fragment(b);
        assert_eq!(
            f,
            r#"<p:b xmlns:p="urn:p" x="1" p:y="&amp;"><c xmlns="urn:d">t&lt;</c><d xmlns=""/></p:b>"#
        );
        // Placed elsewhere it still means the same, and writing it again changes nothing.
        let placed = format!("<z xmlns=\"urn:other\">{f}</z>");
        let again = roxmltree::Document::parse(&placed).unwrap();
        let b2 = again.root_element().first_element_child().unwrap();
        assert_eq!(fragment(b2), f);
        let c = b2.first_element_child().unwrap();
        assert!(c.has_tag_name(("urn:d", "c")));
        let d = c.next_sibling_element().unwrap();
        assert_eq!(d.tag_name().namespace().unwrap_or(""), "");
    }
}
