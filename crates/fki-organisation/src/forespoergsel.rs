//! Reading a request: the operation element of a SOAP Body (`OpretInput` … `SoegInput` of
//! `../shared/specs/sf1500-organisation/v6/xsd/6.0.STS-0/<Type>Operationer.xsd`) into an
//! [`Operation`] the server hands to the engine.
//!
//! Writes become the engine's LoRa JSON form (`attributter`, `tilstande`, `relationer`), so the
//! engine validates SOAP and REST writes with the same code and both read back the same data.
//! Reads and searches become the LoRa query parameters of the REST API (`virkningfra`,
//! `gyldighed=Aktiv`, `tilknyttedeenheder=<uuid>` …), parsed by the same `fki_oio::query`.
//!
//! The reading is strict: elements must come in the schema's order and namespace, unknown
//! elements and text where there should be none are refused, and every refusal names the
//! element (`RelationListe/Overordnet[1]/ReferenceID: …`).

use fki_oio::time;
use roxmltree::Node;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::typer::{Form, NS_ORGFAELLES, NS_SD, Objekttype, RelForm, Tilstand};
use crate::{Fejl, StatusKode};

/// An operation of an object service.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// A new object from the engine-JSON payload.
    Opret(Value),
    /// Create or overwrite the object `uuid`.
    Importer(Uuid, Value),
    /// Change the object (the lists present replace, per virkning, what they name).
    Ret(Uuid, Value),
    Passiver {
        uuid: Uuid,
        note: Option<String>,
    },
    Slet {
        uuid: Uuid,
        note: Option<String>,
    },
    /// Read one object; `tid` are LoRa time parameters.
    Laes {
        uuid: Uuid,
        tid: Vec<(String, String)>,
    },
    /// Read several.
    List {
        uuids: Vec<Uuid>,
        tid: Vec<(String, String)>,
    },
    /// Search: LoRa query parameters.
    Soeg(Vec<(String, String)>),
}

impl Operation {
    /// The WSDL's operation name (`opret`, `importer`, …, `list`).
    pub fn navn(&self) -> &'static str {
        match self {
            Operation::Opret(_) => "opret",
            Operation::Importer(..) => "importer",
            Operation::Ret(..) => "ret",
            Operation::Passiver { .. } => "passiver",
            Operation::Slet { .. } => "slet",
            Operation::Laes { .. } => "laes",
            Operation::List { .. } => "list",
            Operation::Soeg(_) => "soeg",
        }
    }
}

/// The output element that answers the input element `input` (`OpretInput` → `OpretOutput`),
/// `None` for an element that is no operation.
pub fn output_element(input: &str) -> Option<&'static str> {
    Some(match input {
        "OpretInput" => "OpretOutput",
        "ImportInput" => "ImportOutput",
        "RetInput" => "RetOutput",
        "PassiverInput" => "PassiverOutput",
        "SletInput" => "SletOutput",
        "LaesInput" => "LaesOutput",
        "ListInput" => "ListOutput",
        "SoegInput" => "SoegOutput",
        _ => return None,
    })
}

pub fn ugyldig(t: impl Into<String>) -> Fejl {
    Fejl::new(StatusKode::UgyldigInput, t)
}

/// Read the operation element `op` (the Body's child) of a request to `typ`.
pub fn laes(typ: &Objekttype, op: Node<'_, '_>) -> Result<Operation, Fejl> {
    if op.tag_name().namespace() != Some(typ.ns) {
        return Err(ugyldig(format!(
            "{} is not an operation of {} (namespace {})",
            op.tag_name().name(),
            typ.element,
            typ.ns
        )));
    }
    let navn = op.tag_name().name();
    let mut b = Boern::new(op, navn)?;
    let operation = match navn {
        "OpretInput" => {
            let note = b.opt_tekst(NS_SD, "NoteTekst")?;
            let data = lister(typ, &mut b, true, "")?;
            Operation::Opret(med_note(data, note))
        }
        "RetInput" => {
            let uuid = uuid_element(b.one(NS_SD, "UUIDIdentifikator")?)?;
            let note = b.opt_tekst(NS_SD, "NoteTekst")?;
            let data = lister(typ, &mut b, false, "")?;
            Operation::Ret(uuid, med_note(data, note))
        }
        "ImportInput" => {
            let (uuid, data) = importobjekt(typ, b.one(typ.ns, typ.element)?)?;
            Operation::Importer(uuid, data)
        }
        "PassiverInput" | "SletInput" => {
            let uuid = uuid_element(b.one(NS_SD, "UUIDIdentifikator")?)?;
            let note = b.opt_tekst(NS_SD, "NoteTekst")?;
            if navn == "PassiverInput" {
                Operation::Passiver { uuid, note }
            } else {
                Operation::Slet { uuid, note }
            }
        }
        "LaesInput" => {
            let uuid = uuid_element(b.one(NS_SD, "UUIDIdentifikator")?)?;
            let tid = filtre(&mut b)?;
            Operation::Laes { uuid, tid }
        }
        "ListInput" => {
            let ids = b.many(NS_SD, "UUIDIdentifikator");
            if ids.is_empty() {
                return Err(ugyldig("ListInput: give at least one UUIDIdentifikator"));
            }
            let uuids = ids
                .into_iter()
                .map(uuid_element)
                .collect::<Result<Vec<_>, _>>()?;
            let tid = filtre(&mut b)?;
            Operation::List { uuids, tid }
        }
        "SoegInput" => Operation::Soeg(soeg(typ, &mut b)?),
        other => {
            return Err(ugyldig(format!(
                "{other} is not an operation of {}",
                typ.element
            )));
        }
    };
    b.slut()?;
    Ok(operation)
}

/// An object element to import (`<t:OrganisationEnhed>`: its UUID and exactly one
/// `Registrering`) → its UUID and engine JSON.
pub fn importobjekt(typ: &Objekttype, objekt: Node<'_, '_>) -> Result<(Uuid, Value), Fejl> {
    let mut o = Boern::new(objekt, typ.element)?;
    let uuid = uuid_element(o.one(NS_SD, "UUIDIdentifikator")?)?;
    let regs = o.many(typ.ns, "Registrering");
    o.slut()?;
    let [reg] = regs.as_slice() else {
        return Err(ugyldig(format!(
            "{} {uuid}: give exactly one Registrering to import (got {})",
            typ.element,
            regs.len()
        )));
    };
    let mut r = Boern::new(*reg, "Registrering")?;
    let note = r.opt_tekst(NS_SD, "NoteTekst")?;
    // Tidspunkt, LivscyklusKode and BrugerRef are the service's to set: a given value is read
    // and checked, then replaced by the import's own registrering.
    if let Some(t) = r.opt(NS_SD, "Tidspunkt") {
        tidsstempel(t)?;
    }
    if let Some(l) = r.opt(NS_SD, "LivscyklusKode") {
        tekst(l)?;
    }
    if let Some(br) = r.opt(NS_SD, "BrugerRef") {
        unik_id(br)?;
    }
    let data = lister(typ, &mut r, true, "Registrering/")?;
    r.slut()?;
    Ok((uuid, med_note(data, note)))
}

/// The criteria of one type's `…SoegEgenskab` in a FremsoegObjekthierarki: LoRa search
/// parameters, as in a SoegInput's `Egenskab`.
pub fn soeg_egenskab(typ: &Objekttype, e: Node<'_, '_>) -> Result<Vec<(String, String)>, Fejl> {
    let navn = e.tag_name().name().to_owned();
    let mut q = Vec::new();
    egenskab_kriterier(typ, e, &navn, &mut q)?;
    Ok(q)
}

/// The search parameters before the lists of a SoegInput (paging, registrering, virkning).
pub(crate) fn soeg_hoved(b: &mut Boern<'_, '_>) -> Result<Vec<(String, String)>, Fejl> {
    let mut q: Vec<(String, String)> = Vec::new();
    let foerste = match b.opt_tekst(NS_SD, "FoersteResultatReference")? {
        Some(t) => tal(&t, "FoersteResultatReference")?,
        None => 0,
    };
    // Always present: it also makes an empty search a search (all objects), not a list.
    q.push(("foersteresultat".into(), foerste.to_string()));
    if let Some(t) = b.opt_tekst(NS_SD, "MaksimalAntalKvantitet")? {
        q.push((
            "maximalantalresultater".into(),
            tal(&t, "MaksimalAntalKvantitet")?.to_string(),
        ));
    }
    if let Some(r) = b.opt(NS_SD, "SoegRegistrering") {
        let mut rb = Boern::new(r, "SoegRegistrering")?;
        if let Some(n) = rb.opt(NS_SD, "FraTidspunkt") {
            q.push(("registreretfra".into(), tidspunkt(n, false)?));
        }
        if let Some(n) = rb.opt(NS_SD, "TilTidspunkt") {
            q.push(("registrerettil".into(), tidspunkt(n, true)?));
        }
        if let Some(l) = rb.opt_tekst(NS_SD, "LivscyklusKode")? {
            q.push(("livscykluskode".into(), l.trim().to_owned()));
        }
        if let Some(br) = rb.opt(NS_SD, "BrugerRef") {
            let id = unik_id(br)?;
            let v = id.values().next().and_then(Value::as_str).unwrap_or("");
            q.push(("brugerref".into(), v.to_owned()));
        }
        rb.slut()?;
    }
    if let Some(v) = b.opt(NS_SD, "SoegVirkning") {
        let mut vb = Boern::new(v, "SoegVirkning")?;
        if let Some(n) = vb.opt(NS_SD, "FraTidspunkt") {
            q.push(("virkningfra".into(), tidspunkt(n, false)?));
        }
        if let Some(n) = vb.opt(NS_SD, "TilTidspunkt") {
            q.push(("virkningtil".into(), tidspunkt(n, true)?));
        }
        for el in ["AktoerRef", "AktoerTypeKode", "NoteTekst"] {
            if vb.opt(NS_SD, el).is_some() {
                return Err(ugyldig(format!(
                    "SoegVirkning/{el}: searching on it is not supported by fki"
                )));
            }
        }
        vb.slut()?;
    }
    Ok(q)
}

/// The values of one `Egenskab` (without Virkning) as search parameters.
fn egenskab_kriterier(
    typ: &Objekttype,
    e: Node<'_, '_>,
    sti: &str,
    q: &mut Vec<(String, String)>,
) -> Result<(), Fejl> {
    let mut eb = Boern::new(e, sti)?;
    if eb.opt(NS_SD, "Virkning").is_some() {
        return Err(ugyldig(format!(
            "{sti}/Virkning: give the search period in SoegVirkning"
        )));
    }
    for f in typ.egenskaber {
        let ns = typ.uri(f.ns);
        match f.form {
            Form::Tekst | Form::Liste => {
                for n in eb.many(ns, f.element) {
                    q.push((f.felt.to_owned(), tekst(n)?));
                }
            }
            Form::Soegeord => {
                for n in eb.many(ns, f.element) {
                    let mut sb = Boern::new(n, "Soegeord")?;
                    for (el, param) in [
                        ("SoegeordIdentifikator", "soegeordidentifikator"),
                        ("BeskrivelseTekst", "beskrivelse"),
                        ("SoegeordKategoriTekst", "soegeordskategori"),
                    ] {
                        if let Some(t) = sb.opt_tekst(NS_SD, el)? {
                            q.push((param.to_owned(), t));
                        }
                    }
                    sb.slut()?;
                }
            }
        }
    }
    eb.slut()
}

fn med_note(mut data: Map<String, Value>, note: Option<String>) -> Value {
    if let Some(n) = note {
        data.insert("note".into(), json!(n));
    }
    Value::Object(data)
}

// ---------------------------------------------------------------------------------------------
// Children in schema order.

/// The element children of a node, consumed in order.
#[derive(Clone)]
pub struct Boern<'a, 'i> {
    navn: String,
    items: Vec<Node<'a, 'i>>,
    pos: usize,
}

impl<'a, 'i> Boern<'a, 'i> {
    pub fn new(node: Node<'a, 'i>, navn: &str) -> Result<Self, Fejl> {
        let mut items = Vec::new();
        for c in node.children() {
            if c.is_element() {
                items.push(c);
            } else if c.is_text() && !c.text().unwrap_or("").trim().is_empty() {
                return Err(ugyldig(format!("{navn}: unexpected text")));
            }
        }
        Ok(Boern {
            navn: navn.to_owned(),
            items,
            pos: 0,
        })
    }

    fn peek_is(&self, ns: &str, local: &str) -> bool {
        self.items
            .get(self.pos)
            .is_some_and(|n| n.tag_name().namespace() == Some(ns) && n.tag_name().name() == local)
    }

    pub fn opt(&mut self, ns: &str, local: &str) -> Option<Node<'a, 'i>> {
        if self.peek_is(ns, local) {
            self.pos += 1;
            Some(self.items[self.pos - 1])
        } else {
            None
        }
    }

    pub fn many(&mut self, ns: &str, local: &str) -> Vec<Node<'a, 'i>> {
        let mut out = Vec::new();
        while let Some(n) = self.opt(ns, local) {
            out.push(n);
        }
        out
    }

    pub fn one(&mut self, ns: &str, local: &str) -> Result<Node<'a, 'i>, Fejl> {
        self.opt(ns, local)
            .ok_or_else(|| match self.items.get(self.pos) {
                Some(n) => ugyldig(format!(
                    "{}: expected {local} ({ns}), found {} ({})",
                    self.navn,
                    n.tag_name().name(),
                    n.tag_name().namespace().unwrap_or("no namespace")
                )),
                None => ugyldig(format!("{}: {local} is missing", self.navn)),
            })
    }

    pub fn opt_tekst(&mut self, ns: &str, local: &str) -> Result<Option<String>, Fejl> {
        self.opt(ns, local).map(tekst).transpose()
    }

    /// The next element, whatever it is.
    pub fn next_any(&mut self) -> Option<Node<'a, 'i>> {
        let n = self.items.get(self.pos).copied();
        if n.is_some() {
            self.pos += 1;
        }
        n
    }

    /// Refuse whatever is left.
    pub fn slut(&self) -> Result<(), Fejl> {
        match self.items.get(self.pos) {
            None => Ok(()),
            Some(n) => Err(ugyldig(format!(
                "{}: unexpected element {} ({}) here (wrong name, namespace or order)",
                self.navn,
                n.tag_name().name(),
                n.tag_name().namespace().unwrap_or("no namespace")
            ))),
        }
    }
}

/// The text of an element without element children.
pub fn tekst(n: Node<'_, '_>) -> Result<String, Fejl> {
    if let Some(c) = n.children().find(|c| c.is_element()) {
        return Err(ugyldig(format!(
            "{}: expected text, found element {}",
            n.tag_name().name(),
            c.tag_name().name()
        )));
    }
    Ok(n.children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect())
}

pub fn uuid_element(n: Node<'_, '_>) -> Result<Uuid, Fejl> {
    let t = tekst(n)?;
    Uuid::parse_str(t.trim())
        .map_err(|_| ugyldig(format!("{}: '{t}' is not a UUID", n.tag_name().name())))
}

/// A `UnikIdType`: `{"uuid": …}` or `{"urn": …}`.
pub fn unik_id(n: Node<'_, '_>) -> Result<Map<String, Value>, Fejl> {
    let navn = n.tag_name().name().to_owned();
    let mut b = Boern::new(n, &navn)?;
    let mut m = Map::new();
    if let Some(u) = b.opt(NS_SD, "UUIDIdentifikator") {
        m.insert("uuid".into(), json!(uuid_element(u)?.to_string()));
    } else if let Some(u) = b.opt(NS_SD, "URNIdentifikator") {
        let t = tekst(u)?.trim().to_owned();
        if !t.starts_with("urn:") {
            return Err(ugyldig(format!(
                "{navn}/URNIdentifikator: '{t}' is not a URN"
            )));
        }
        m.insert("urn".into(), json!(t));
    } else {
        return Err(ugyldig(format!(
            "{navn}: give UUIDIdentifikator or URNIdentifikator"
        )));
    }
    b.slut()?;
    Ok(m)
}

/// A `TidsstempelDatoTid`, checked.
pub fn tidsstempel(n: Node<'_, '_>) -> Result<String, Fejl> {
    let t = tekst(n)?.trim().to_owned();
    time::parse(&t).map_err(|e| ugyldig(format!("{}: {e}", n.tag_name().name())))?;
    Ok(t)
}

/// A `TidspunktType` as a LoRa time literal: a timestamp, or `GraenseIndikator` (true) which
/// is `-infinity` in a from-position and `infinity` in a to-position.
pub fn tidspunkt(n: Node<'_, '_>, til: bool) -> Result<String, Fejl> {
    let navn = n.tag_name().name().to_owned();
    let mut b = Boern::new(n, &navn)?;
    let v = if let Some(t) = b.opt(NS_SD, "TidsstempelDatoTid") {
        tidsstempel(t)?
    } else if let Some(g) = b.opt(NS_SD, "GraenseIndikator") {
        let t = tekst(g)?;
        if t.trim() != "true" && t.trim() != "1" {
            return Err(ugyldig(format!(
                "{navn}/GraenseIndikator: must be true (it is fixed)"
            )));
        }
        if til { "infinity" } else { "-infinity" }.to_owned()
    } else {
        return Err(ugyldig(format!(
            "{navn}: give TidsstempelDatoTid or GraenseIndikator"
        )));
    };
    b.slut()?;
    Ok(v)
}

/// A `Virkning` as the engine's JSON virkning.
pub fn virkning(n: Node<'_, '_>, sti: &str) -> Result<Value, Fejl> {
    let mut b = Boern::new(n, &format!("{sti}Virkning"))?;
    let mut m = Map::new();
    let fra = b
        .opt(NS_SD, "FraTidspunkt")
        .ok_or_else(|| ugyldig(format!("{sti}Virkning: FraTidspunkt is missing")))?;
    m.insert("from".into(), json!(tidspunkt(fra, false)?));
    let til = match b.opt(NS_SD, "TilTidspunkt") {
        Some(t) => tidspunkt(t, true)?,
        None => "infinity".to_owned(),
    };
    m.insert("to".into(), json!(til));
    if let Some(a) = b.opt(NS_SD, "AktoerRef") {
        let id = unik_id(a)?;
        match id.get("uuid") {
            Some(u) => {
                m.insert("aktoerref".into(), u.clone());
            }
            None => {
                return Err(ugyldig(format!(
                    "{sti}Virkning/AktoerRef: fki records the acting party by UUIDIdentifikator only"
                )));
            }
        }
    }
    if let Some(k) = b.opt_tekst(NS_SD, "AktoerTypeKode")? {
        m.insert("aktoertypekode".into(), json!(k.trim()));
    }
    if let Some(t) = b.opt_tekst(NS_SD, "NoteTekst")? {
        m.insert("notetekst".into(), json!(t));
    }
    b.slut()?;
    Ok(Value::Object(m))
}

/// The `Virkning` an entry must start with.
fn virkning_af(b: &mut Boern<'_, '_>, sti: &str) -> Result<Value, Fejl> {
    match b.opt(NS_SD, "Virkning") {
        Some(v) => virkning(v, sti),
        None => Err(ugyldig(format!("{sti}: Virkning is required"))),
    }
}

/// An optional, empty `LokalUdvidelse`: fki stores no local extensions and says so rather
/// than drop them.
fn lokal_udvidelse(b: &mut Boern<'_, '_>, sti: &str) -> Result<(), Fejl> {
    if let Some(l) = b.opt(NS_SD, "LokalUdvidelse")
        && l.children().any(|c| c.is_element())
    {
        return Err(ugyldig(format!(
            "{sti}LokalUdvidelse: local extensions are not supported by fki"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// AttributListe, TilstandListe, RelationListe.

/// The three lists of a write, as engine JSON. On opret/import they are required; on ret each
/// is optional and an absent one is left as it is.
fn lister(
    typ: &Objekttype,
    b: &mut Boern<'_, '_>,
    paakraevet: bool,
    sti: &str,
) -> Result<Map<String, Value>, Fejl> {
    let spec = typ.spec();
    let mut out = Map::new();
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
        let mut attr = Map::new();
        let p = format!("{sti}AttributListe/");
        let mut lb = Boern::new(a, &format!("{sti}AttributListe"))?;
        let egenskaber = lb.many(typ.ns, "Egenskab");
        lokal_udvidelse(&mut lb, &p)?;
        lb.slut()?;
        let list = egenskaber
            .iter()
            .enumerate()
            .map(|(i, e)| egenskab(typ, *e, &format!("{p}Egenskab[{}]", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        attr.insert(spec.key("egenskaber"), Value::Array(list));
        out.insert("attributter".into(), Value::Object(attr));
    }
    if let Some(t) = hent(b, typ.ns, "TilstandListe", paakraevet)? {
        let p = format!("{sti}TilstandListe/");
        let mut tb = Boern::new(t, &format!("{sti}TilstandListe"))?;
        let mut tilstande = Map::new();
        match typ.tilstand {
            Tilstand::Ingen => {}
            Tilstand::Gyldighed => {
                let list = tb
                    .many(NS_ORGFAELLES, "Gyldighed")
                    .iter()
                    .enumerate()
                    .map(|(i, g)| {
                        let s = format!("{p}Gyldighed[{}]", i + 1);
                        let mut gb = Boern::new(*g, &s)?;
                        let v = virkning_af(&mut gb, &s)?;
                        let kode = tekst(gb.one(NS_ORGFAELLES, "GyldighedStatusKode")?)?;
                        gb.slut()?;
                        Ok(json!({"gyldighed": kode.trim(), "virkning": v}))
                    })
                    .collect::<Result<Vec<_>, Fejl>>()?;
                tilstande.insert(spec.key("gyldighed"), Value::Array(list));
                lokal_udvidelse(&mut tb, &p)?;
            }
            Tilstand::Publiceret => {
                let list = tb
                    .many(typ.ns, "PubliceretStatus")
                    .iter()
                    .enumerate()
                    .map(|(i, g)| {
                        let s = format!("{p}PubliceretStatus[{}]", i + 1);
                        let mut gb = Boern::new(*g, &s)?;
                        let v = virkning_af(&mut gb, &s)?;
                        let er = gb
                            .opt(NS_SD, "ErPubliceretIndikator")
                            .ok_or_else(|| {
                                ugyldig(format!("{s}: ErPubliceretIndikator is missing"))
                            })
                            .and_then(tekst)?;
                        let vaerdi = publiceret(&er, &s)?;
                        gb.slut()?;
                        Ok(json!({"publiceret": vaerdi, "virkning": v}))
                    })
                    .collect::<Result<Vec<_>, Fejl>>()?;
                tilstande.insert(spec.key("publiceret"), Value::Array(list));
            }
        }
        tb.slut()?;
        out.insert("tilstande".into(), Value::Object(tilstande));
    }
    if let Some(r) = hent(b, typ.ns, "RelationListe", paakraevet)? {
        let p = format!("{sti}RelationListe/");
        let mut rb = Boern::new(r, &format!("{sti}RelationListe"))?;
        let mut rel = Map::new();
        for def in typ.relationer {
            let entries = rb.many(NS_SD, def.element);
            if entries.is_empty() {
                continue;
            }
            let list = entries
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    relation(typ, *e, def.form, &format!("{p}{}[{}]", def.element, i + 1))
                })
                .collect::<Result<Vec<_>, _>>()?;
            rel.insert(def.relation.into(), Value::Array(list));
        }
        lokal_udvidelse(&mut rb, &p)?;
        rb.slut()?;
        // On ret, a RelationListe replaces the relations it names; LoRa clears all relations
        // when `relationer` is given empty, which is what an empty RelationListe means.
        out.insert("relationer".into(), Value::Object(rel));
    }
    Ok(out)
}

fn egenskab(typ: &Objekttype, e: Node<'_, '_>, sti: &str) -> Result<Value, Fejl> {
    let mut b = Boern::new(e, sti)?;
    let mut m = Map::new();
    let v = virkning_af(&mut b, sti)?;
    for f in typ.egenskaber {
        let ns = typ.uri(f.ns);
        match f.form {
            Form::Tekst => {
                if let Some(t) = b.opt_tekst(ns, f.element)? {
                    m.insert(f.felt.into(), json!(t));
                }
            }
            Form::Liste => {
                let list = b
                    .many(ns, f.element)
                    .into_iter()
                    .map(|n| tekst(n).map(Value::String))
                    .collect::<Result<Vec<_>, _>>()?;
                if !list.is_empty() {
                    m.insert(f.felt.into(), Value::Array(list));
                }
            }
            Form::Soegeord => {
                let mut list = Vec::new();
                for (i, s) in b.many(ns, f.element).into_iter().enumerate() {
                    let sp = format!("{sti}/{}[{}]", f.element, i + 1);
                    let mut sb = Boern::new(s, &sp)?;
                    let id = sb.opt_tekst(NS_SD, "SoegeordIdentifikator")?;
                    let beskrivelse = sb.opt_tekst(NS_SD, "BeskrivelseTekst")?;
                    let kategori = sb.opt_tekst(NS_SD, "SoegeordKategoriTekst")?;
                    sb.slut()?;
                    list.push(json!([
                        id.unwrap_or_default(),
                        beskrivelse.unwrap_or_default(),
                        kategori.unwrap_or_default()
                    ]));
                }
                if !list.is_empty() {
                    m.insert(f.felt.into(), Value::Array(list));
                }
            }
        }
    }
    b.slut()?;
    m.insert("virkning".into(), v);
    Ok(Value::Object(m))
}

/// A `ReferenceID`: v6 `UnikIdType`; v7 `UuidLabelInputType`, whose `Label` fki does not keep
/// (a plain relation has none in the engine).
fn reference_id(typ: &Objekttype, r: Node<'_, '_>) -> Result<Map<String, Value>, Fejl> {
    if typ.version >= 7 {
        let mut m = uuid_label(r)?;
        m.remove("label");
        Ok(m)
    } else {
        unik_id(r)
    }
}

/// One relation entry: `Virkning`, `ReferenceID`, and for a dynamic relation `Rolle`, `Type`,
/// `Indeks` (see [`RelForm`]).
fn relation(typ: &Objekttype, e: Node<'_, '_>, form: RelForm, sti: &str) -> Result<Value, Fejl> {
    let mut b = Boern::new(e, sti)?;
    let mut m = Map::new();
    let v = virkning_af(&mut b, sti)?;
    match b.opt(NS_SD, "ReferenceID") {
        Some(r) => m.extend(reference_id(typ, r)?),
        None => {
            // No target in this period: LoRa's blank entry.
            m.insert("uuid".into(), json!(""));
            m.insert("urn".into(), json!(""));
        }
    }
    match form {
        RelForm::Enkel => {}
        RelForm::Dynamisk => {
            for (element, key) in [("Rolle", "rolle"), ("Type", "type")] {
                if let Some(n) = b.opt(NS_SD, element) {
                    m.insert(key.into(), Value::Object(uuid_label(n)?));
                }
            }
            if let Some(i) = b.opt_tekst(NS_SD, "Indeks")? {
                m.insert("indeks".into(), json!(i));
            }
        }
        RelForm::DynamiskRolle => {
            for (element, key) in [("Rolle", "rolle"), ("Type", "type")] {
                let n = b.one(NS_SD, element)?;
                let mut nb = Boern::new(n, &format!("{sti}/{element}"))?;
                let u = uuid_element(nb.one(NS_SD, "UUIDIdentifikator")?)?;
                let mut o = Map::new();
                o.insert("uuid".into(), json!(u.to_string()));
                if let Some(l) = nb.opt_tekst(NS_SD, "Label")? {
                    o.insert("label".into(), json!(l));
                }
                nb.slut()?;
                m.insert(key.into(), Value::Object(o));
            }
            let i = b.one(NS_SD, "Indeks")?;
            let mut ib = Boern::new(i, &format!("{sti}/Indeks"))?;
            if let Some(u) = ib.opt(NS_SD, "UUIDIdentifikator") {
                m.insert("indeks".into(), json!(uuid_element(u)?.to_string()));
            }
            ib.slut()?;
        }
    }
    b.slut()?;
    m.insert("virkning".into(), v);
    Ok(Value::Object(m))
}

/// A `UuidLabelInputType`: a `UnikIdType` and an optional `Label`.
fn uuid_label(n: Node<'_, '_>) -> Result<Map<String, Value>, Fejl> {
    let navn = n.tag_name().name().to_owned();
    let mut b = Boern::new(n, &navn)?;
    let mut m = Map::new();
    if let Some(u) = b.opt(NS_SD, "UUIDIdentifikator") {
        m.insert("uuid".into(), json!(uuid_element(u)?.to_string()));
    } else if let Some(u) = b.opt(NS_SD, "URNIdentifikator") {
        m.insert("urn".into(), json!(tekst(u)?.trim()));
    } else {
        return Err(ugyldig(format!(
            "{navn}: give UUIDIdentifikator or URNIdentifikator"
        )));
    }
    // `Label` is a local element of SagDokObjekt.xsd (qualified: in the sd namespace).
    if let Some(l) = b.opt_tekst(NS_SD, "Label")? {
        m.insert("label".into(), json!(l));
    }
    b.slut()?;
    Ok(m)
}

// ---------------------------------------------------------------------------------------------
// Reads and searches: LoRa query parameters.

/// `VirkningFraFilter`, `VirkningTilFilter`, `RegistreringFraFilter`, `RegistreringTilFilter`.
fn filtre(b: &mut Boern<'_, '_>) -> Result<Vec<(String, String)>, Fejl> {
    let mut out = Vec::new();
    for (element, param, til) in [
        ("VirkningFraFilter", "virkningfra", false),
        ("VirkningTilFilter", "virkningtil", true),
        ("RegistreringFraFilter", "registreretfra", false),
        ("RegistreringTilFilter", "registrerettil", true),
    ] {
        if let Some(n) = b.opt(NS_SD, element) {
            out.push((param.to_owned(), tidspunkt(n, til)?));
        }
    }
    Ok(out)
}

/// A SoegInput as LoRa search parameters.
fn soeg(typ: &Objekttype, b: &mut Boern<'_, '_>) -> Result<Vec<(String, String)>, Fejl> {
    let mut q = soeg_hoved(b)?;
    // The three lists: every given value is a criterion.
    let a = b.one(typ.ns, "AttributListe")?;
    let mut ab = Boern::new(a, "AttributListe")?;
    for (i, e) in ab.many(typ.ns, "Egenskab").into_iter().enumerate() {
        egenskab_kriterier(
            typ,
            e,
            &format!("AttributListe/Egenskab[{}]", i + 1),
            &mut q,
        )?;
    }
    lokal_udvidelse(&mut ab, "AttributListe/")?;
    ab.slut()?;
    let t = b.one(typ.ns, "TilstandListe")?;
    let mut tb = Boern::new(t, "TilstandListe")?;
    match typ.tilstand {
        Tilstand::Ingen => {}
        Tilstand::Gyldighed => {
            for g in tb.many(NS_ORGFAELLES, "Gyldighed") {
                let mut gb = Boern::new(g, "TilstandListe/Gyldighed")?;
                if gb.opt(NS_SD, "Virkning").is_some() {
                    return Err(ugyldig(
                        "TilstandListe/Gyldighed/Virkning: give the search period in SoegVirkning",
                    ));
                }
                let k = tekst(gb.one(NS_ORGFAELLES, "GyldighedStatusKode")?)?;
                gb.slut()?;
                q.push(("gyldighed".into(), k.trim().to_owned()));
            }
            lokal_udvidelse(&mut tb, "TilstandListe/")?;
        }
        Tilstand::Publiceret => {
            for g in tb.many(typ.ns, "PubliceretStatus") {
                let mut gb = Boern::new(g, "TilstandListe/PubliceretStatus")?;
                if gb.opt(NS_SD, "Virkning").is_some() {
                    return Err(ugyldig(
                        "TilstandListe/PubliceretStatus/Virkning: give the search period in SoegVirkning",
                    ));
                }
                if let Some(er) = gb.opt_tekst(NS_SD, "ErPubliceretIndikator")? {
                    let v = publiceret(&er, "TilstandListe/PubliceretStatus")?;
                    q.push(("publiceret".into(), v.into()));
                }
                gb.slut()?;
            }
        }
    }
    tb.slut()?;
    let r = b.one(typ.ns, "RelationListe")?;
    let mut rb = Boern::new(r, "RelationListe")?;
    for def in typ.relationer {
        for e in rb.many(NS_SD, def.element) {
            let sti = format!("RelationListe/{}", def.element);
            let mut eb = Boern::new(e, &sti)?;
            if eb.opt(NS_SD, "Virkning").is_some() {
                return Err(ugyldig(format!(
                    "{sti}/Virkning: give the search period in SoegVirkning"
                )));
            }
            let id = match eb.opt(NS_SD, "ReferenceID") {
                Some(r) => reference_id(typ, r)?,
                None => {
                    return Err(ugyldig(format!(
                        "{sti}: give the ReferenceID to search for"
                    )));
                }
            };
            for el in ["Rolle", "Type", "Indeks"] {
                if eb.opt(NS_SD, el).is_some() {
                    return Err(ugyldig(format!(
                        "{sti}/{el}: searching on it is not supported by fki"
                    )));
                }
            }
            eb.slut()?;
            let v = id.values().next().and_then(Value::as_str).unwrap_or("");
            q.push((def.relation.to_owned(), v.to_owned()));
        }
    }
    lokal_udvidelse(&mut rb, "RelationListe/")?;
    rb.slut()?;
    Ok(q)
}

/// `ErPubliceretIndikator` → the state value `Publiceret` / `IkkePubliceret`.
fn publiceret(er: &str, sti: &str) -> Result<&'static str, Fejl> {
    match er.trim() {
        "true" | "1" => Ok("Publiceret"),
        "false" | "0" => Ok("IkkePubliceret"),
        x => Err(ugyldig(format!(
            "{sti}/ErPubliceretIndikator: '{x}' is not a boolean"
        ))),
    }
}

fn tal(t: &str, element: &str) -> Result<u64, Fejl> {
    t.trim()
        .parse()
        .map_err(|_| ugyldig(format!("{element}: '{t}' is not a non-negative integer")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typer::ved_sti;

    fn enhed() -> &'static Objekttype {
        ved_sti("organisation", "organisationenhed").unwrap()
    }

    fn op(xml: &str) -> Result<Operation, Fejl> {
        let full = format!(
            "<t:X xmlns:t=\"{}\" xmlns:sd=\"{NS_SD}\" xmlns:of=\"{NS_ORGFAELLES}\">{xml}</t:X>",
            enhed().ns
        );
        let doc = roxmltree::Document::parse(&full).unwrap();
        let el = doc.root_element().first_element_child().unwrap();
        laes(enhed(), el)
    }

    const V: &str = "<sd:Virkning><sd:FraTidspunkt><sd:GraenseIndikator>true</sd:GraenseIndikator></sd:FraTidspunkt></sd:Virkning>";

    #[test]
    fn a_write_becomes_engine_json() {
        let o = op(&format!(
            "<t:OpretInput><t:AttributListe><t:Egenskab>{V}<sd:BrugervendtNoegleTekst>b</sd:BrugervendtNoegleTekst>\
<sd:EnhedNavn>n</sd:EnhedNavn></t:Egenskab></t:AttributListe><t:TilstandListe><of:Gyldighed>{V}\
<of:GyldighedStatusKode>Aktiv</of:GyldighedStatusKode></of:Gyldighed></t:TilstandListe><t:RelationListe>\
<sd:Overordnet>{V}</sd:Overordnet></t:RelationListe></t:OpretInput>"
        ))
        .unwrap();
        let Operation::Opret(v) = o else { panic!() };
        let e = &v["attributter"]["organisationenhedegenskaber"][0];
        assert_eq!(e["enhedsnavn"], json!("n"));
        // A from-position GraenseIndikator is -infinity; a missing TilTidspunkt is infinity.
        assert_eq!(
            e["virkning"],
            json!({"from": "-infinity", "to": "infinity"})
        );
        assert_eq!(
            v["tilstande"]["organisationenhedgyldighed"][0]["gyldighed"],
            json!("Aktiv")
        );
        // A relation without ReferenceID is LoRa's blank entry.
        assert_eq!(v["relationer"]["overordnet"][0]["uuid"], json!(""));
    }

    #[test]
    fn order_and_namespaces_are_the_schemas() {
        // TilstandListe before AttributListe.
        let e = op(
            "<t:OpretInput><t:TilstandListe/><t:AttributListe/><t:RelationListe/></t:OpretInput>",
        )
        .unwrap_err();
        assert_eq!(e.kode, StatusKode::UgyldigInput);
        assert!(e.tekst.contains("AttributListe"), "{}", e.tekst);
        // EnhedNavn in the type's namespace instead of sd.
        let e = op(&format!(
            "<t:OpretInput><t:AttributListe><t:Egenskab>{V}<t:EnhedNavn>n</t:EnhedNavn></t:Egenskab>\
</t:AttributListe><t:TilstandListe/><t:RelationListe/></t:OpretInput>"
        ))
        .unwrap_err();
        assert!(e.tekst.contains("EnhedNavn"), "{}", e.tekst);
        // Text where an element belongs.
        let e = op("<t:LaesInput>x<sd:UUIDIdentifikator>5ab1a6c4-5a8c-4b5c-9d6e-0a1b2c3d4e5f</sd:UUIDIdentifikator></t:LaesInput>")
            .unwrap_err();
        assert!(e.tekst.contains("unexpected text"), "{}", e.tekst);
    }

    #[test]
    fn a_search_becomes_lora_parameters() {
        let u = "5ab1a6c4-5a8c-4b5c-9d6e-0a1b2c3d4e5f";
        let o = op(&format!(
            "<t:SoegInput><sd:FoersteResultatReference>10</sd:FoersteResultatReference>\
<sd:MaksimalAntalKvantitet>5</sd:MaksimalAntalKvantitet>\
<sd:SoegVirkning><sd:FraTidspunkt><sd:TidsstempelDatoTid>2020-01-01T00:00:00Z</sd:TidsstempelDatoTid></sd:FraTidspunkt></sd:SoegVirkning>\
<t:AttributListe><t:Egenskab><sd:EnhedNavn>Skole%</sd:EnhedNavn></t:Egenskab></t:AttributListe>\
<t:TilstandListe><of:Gyldighed><of:GyldighedStatusKode>Aktiv</of:GyldighedStatusKode></of:Gyldighed></t:TilstandListe>\
<t:RelationListe><sd:Overordnet><sd:ReferenceID><sd:UUIDIdentifikator>{u}</sd:UUIDIdentifikator></sd:ReferenceID></sd:Overordnet></t:RelationListe></t:SoegInput>"
        ))
        .unwrap();
        let p = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert_eq!(
            o,
            Operation::Soeg(vec![
                p("foersteresultat", "10"),
                p("maximalantalresultater", "5"),
                p("virkningfra", "2020-01-01T00:00:00Z"),
                p("enhedsnavn", "Skole%"),
                p("gyldighed", "Aktiv"),
                p("overordnet", u),
            ])
        );
    }
}
