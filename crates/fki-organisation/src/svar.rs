//! Writing an answer: the `…Output` elements of
//! `../shared/specs/sf1500-organisation/v6/xsd/6.0.STS-0/<Type>Operationer.xsd`, with
//! `sd:StandardRetur` first and, for laes and list, each object as
//! `FiltreretOejebliksbillede` (`ObjektType` with its UUID, then its `Registrering`s) in the
//! schema's element order; for soeg an `sd:IdListe`.
//!
//! Registreringer are written from the engine's model, not from its JSON: what REST shows as
//! `"virkning": {"from": "-infinity"}` is `<sd:FraTidspunkt><sd:GraenseIndikator>true…` here.

use fki_oio::model::{AttrEntry, Livscyklus, Maal, Registrering, RelEntry, StateEntry, Virkning};
use fki_oio::time::{self, NEG_INF, POS_INF, Ts};
use fki_sts::xml::escape_text;
use serde_json::Value;
use uuid::Uuid;

use crate::typer::{Form, NS_ORGFAELLES, NS_SD, NS_STS, Ns, Objekttype, RelForm, Tilstand};
use crate::{Fejl, StatusKode};

/// An output element being written: `<t:{element} xmlns:t=… xmlns:sd=…>` + StandardRetur.
pub struct Svar {
    s: String,
    element: &'static str,
}

/// The prefix of an [`Ns`] in the answers.
fn prefix(ns: Ns) -> &'static str {
    match ns {
        Ns::Sd => "sd",
        Ns::Sts => "sts",
        Ns::Egen => "t",
    }
}

impl Svar {
    /// Start `<t:{element}>` for `typ` with the StandardRetur of `status` / `tekst`.
    pub fn ny(
        typ: &Objekttype,
        element: &'static str,
        status: StatusKode,
        tekst: Option<&str>,
    ) -> Svar {
        let mut s = format!(
            "<t:{element} xmlns:t=\"{}\" xmlns:sd=\"{NS_SD}\" xmlns:sts=\"{NS_STS}\" xmlns:orgfaelles=\"{NS_ORGFAELLES}\">\
<sd:StandardRetur><sd:StatusKode>{}</sd:StatusKode>",
            typ.ns,
            status.kode()
        );
        if let Some(t) = tekst {
            s.push_str("<sd:FejlbeskedTekst>");
            s.push_str(&escape_text(t));
            s.push_str("</sd:FejlbeskedTekst>");
        }
        s.push_str("</sd:StandardRetur>");
        Svar { s, element }
    }

    /// The refusal `fejl` as the output `element`.
    pub fn fejl(typ: &Objekttype, element: &'static str, fejl: &Fejl) -> String {
        Svar::ny(typ, element, fejl.kode, Some(&fejl.tekst)).slut()
    }

    /// `<sd:UUIDIdentifikator>` (OpretOutput).
    pub fn uuid(&mut self, uuid: Uuid) {
        self.s.push_str("<sd:UUIDIdentifikator>");
        self.s.push_str(&uuid.to_string());
        self.s.push_str("</sd:UUIDIdentifikator>");
    }

    /// `<sd:IdListe>` (SoegOutput).
    pub fn id_liste(&mut self, uuids: &[Uuid]) {
        self.s.push_str("<sd:IdListe>");
        for u in uuids {
            self.uuid(*u);
        }
        self.s.push_str("</sd:IdListe>");
    }

    /// One `FiltreretOejebliksbillede`: the object and its registreringer, each showing the
    /// periods that overlap the virkning window `virk`. `ejer` is the owning myndighed's CVR,
    /// written as v7's `DataEjer` (v6 has no place for it).
    pub fn oejebliksbillede(
        &mut self,
        typ: &Objekttype,
        uuid: Uuid,
        ejer: Option<&str>,
        registreringer: &[Registrering],
        virk: (Ts, Ts),
    ) {
        let s = &mut self.s;
        // v7 renamed the element (KlasseOperationer.xsd of the v7 sample).
        let id = if typ.version >= 7 {
            "ObjektID"
        } else {
            "ObjektType"
        };
        s.push_str(&format!(
            "<t:FiltreretOejebliksbillede><t:{id}><sd:UUIDIdentifikator>{uuid}</sd:UUIDIdentifikator></t:{id}>"
        ));
        if typ.version >= 7
            && let Some(cvr) = ejer
        {
            s.push_str("<t:DataEjer>");
            tekst_element(s, "sd", "CVR", cvr);
            s.push_str("</t:DataEjer>");
        }
        for r in registreringer {
            registrering(s, typ, r, virk);
        }
        s.push_str("</t:FiltreretOejebliksbillede>");
    }

    /// Close the element and return it.
    pub fn slut(mut self) -> String {
        self.s.push_str("</t:");
        self.s.push_str(self.element);
        self.s.push('>');
        self.s
    }
}

pub fn tekst_element(s: &mut String, prefix: &str, element: &str, t: &str) {
    s.push('<');
    s.push_str(prefix);
    s.push(':');
    s.push_str(element);
    s.push('>');
    s.push_str(&escape_text(t));
    s.push_str("</");
    s.push_str(prefix);
    s.push(':');
    s.push_str(element);
    s.push('>');
}

/// An `sd:TidspunktType` element `sd:{element}`: a timestamp or `GraenseIndikator` for ∓infinity.
pub fn tidspunkt(s: &mut String, element: &str, ts: Ts) {
    s.push_str(&format!("<sd:{element}>"));
    if ts == NEG_INF || ts == POS_INF {
        s.push_str("<sd:GraenseIndikator>true</sd:GraenseIndikator>");
    } else {
        tekst_element(s, "sd", "TidsstempelDatoTid", &time::format_iso(ts));
    }
    s.push_str(&format!("</sd:{element}>"));
}

fn virkning(s: &mut String, v: &Virkning) {
    virkning_i(s, "sd", v);
}

/// A `Virkning` element with the prefix `prefix` (the indexes declare it in their own
/// namespaces), its `sd:VirkningType` children in `sd`.
pub fn virkning_i(s: &mut String, prefix: &str, v: &Virkning) {
    s.push_str(&format!("<{prefix}:Virkning>"));
    tidspunkt(s, "FraTidspunkt", v.from);
    tidspunkt(s, "TilTidspunkt", v.to);
    if let Some(a) = v.aktoerref {
        s.push_str("<sd:AktoerRef>");
        tekst_element(s, "sd", "UUIDIdentifikator", &a.to_string());
        s.push_str("</sd:AktoerRef>");
    }
    if let Some(k) = &v.aktoertypekode {
        tekst_element(s, "sd", "AktoerTypeKode", k);
    }
    if let Some(n) = &v.notetekst {
        tekst_element(s, "sd", "NoteTekst", n);
    }
    s.push_str(&format!("</{prefix}:Virkning>"));
}

/// One `<t:Registrering>` (prefix `t` bound to `typ`'s namespace by the caller), showing the
/// periods that overlap `(fra, til)`.
pub fn registrering(s: &mut String, typ: &Objekttype, r: &Registrering, (fra, til): (Ts, Ts)) {
    s.push_str("<t:Registrering>");
    if let Some(n) = &r.meta.note {
        tekst_element(s, "sd", "NoteTekst", n);
    }
    tekst_element(s, "sd", "Tidspunkt", &time::format_iso(r.meta.fra));
    // The v6 LivscyklusKode has no `Rettet`: a registrering made by ret is written without one
    // (the element is optional), never with a value the schema refuses.
    if r.meta.livscyklus != Livscyklus::Rettet {
        tekst_element(s, "sd", "LivscyklusKode", r.meta.livscyklus.as_str());
    }
    if let Some(b) = r.meta.brugerref {
        s.push_str("<sd:BrugerRef>");
        tekst_element(s, "sd", "UUIDIdentifikator", &b.to_string());
        s.push_str("</sd:BrugerRef>");
    }
    let d = &r.data;

    s.push_str("<t:AttributListe>");
    let tom: Vec<AttrEntry> = Vec::new();
    for e in d
        .attributter
        .get("egenskaber")
        .unwrap_or(&tom)
        .iter()
        .filter(|e| e.virkning.overlaps(fra, til))
    {
        egenskab(s, typ, e);
    }
    s.push_str("</t:AttributListe>");

    s.push_str("<t:TilstandListe>");
    let tomme: Vec<StateEntry> = Vec::new();
    match typ.tilstand {
        Tilstand::Ingen => {}
        Tilstand::Gyldighed => {
            for e in d
                .tilstande
                .get("gyldighed")
                .unwrap_or(&tomme)
                .iter()
                .filter(|e| e.virkning.overlaps(fra, til))
            {
                s.push_str("<orgfaelles:Gyldighed>");
                virkning(s, &e.virkning);
                tekst_element(s, "orgfaelles", "GyldighedStatusKode", &e.vaerdi);
                s.push_str("</orgfaelles:Gyldighed>");
            }
        }
        Tilstand::Publiceret => {
            for e in d
                .tilstande
                .get("publiceret")
                .unwrap_or(&tomme)
                .iter()
                .filter(|e| e.virkning.overlaps(fra, til))
            {
                s.push_str("<t:PubliceretStatus>");
                virkning(s, &e.virkning);
                let er = if e.vaerdi == "Publiceret" {
                    "true"
                } else {
                    "false"
                };
                tekst_element(s, "sd", "ErPubliceretIndikator", er);
                s.push_str("</t:PubliceretStatus>");
            }
        }
    }
    s.push_str("</t:TilstandListe>");

    s.push_str("<t:RelationListe>");
    for def in typ.relationer {
        let Some(entries) = d.relationer.get(def.relation) else {
            continue;
        };
        for e in entries.iter().filter(|e| e.virkning.overlaps(fra, til)) {
            relation(s, def.element, def.form, e);
        }
    }
    s.push_str("</t:RelationListe>");
    s.push_str("</t:Registrering>");
}

fn egenskab(s: &mut String, typ: &Objekttype, e: &AttrEntry) {
    s.push_str("<t:Egenskab>");
    virkning(s, &e.virkning);
    for f in typ.egenskaber {
        let Some(v) = e.felter.get(f.felt) else {
            continue;
        };
        let p = prefix(f.ns);
        match (f.form, v) {
            (Form::Tekst, Value::String(t)) => tekst_element(s, p, f.element, t),
            (Form::Tekst, Value::Null) => {}
            (Form::Tekst, other) => tekst_element(s, p, f.element, &other.to_string()),
            (Form::Liste, Value::Array(list)) => {
                for t in list.iter().filter_map(Value::as_str) {
                    tekst_element(s, p, f.element, t);
                }
            }
            (Form::Soegeord, Value::Array(list)) => {
                for triple in list {
                    s.push_str(&format!("<{p}:{}>", f.element));
                    for (i, el) in [
                        "SoegeordIdentifikator",
                        "BeskrivelseTekst",
                        "SoegeordKategoriTekst",
                    ]
                    .iter()
                    .enumerate()
                    {
                        if let Some(t) = triple.get(i).and_then(Value::as_str)
                            && !t.is_empty()
                        {
                            tekst_element(s, "sd", el, t);
                        }
                    }
                    s.push_str(&format!("</{p}:{}>", f.element));
                }
            }
            _ => {}
        }
    }
    s.push_str("</t:Egenskab>");
}

fn unik_id(s: &mut String, v: &Value) {
    if let Some(u) = v.get("uuid").and_then(Value::as_str) {
        tekst_element(s, "sd", "UUIDIdentifikator", u);
    } else if let Some(u) = v.get("urn").and_then(Value::as_str) {
        tekst_element(s, "sd", "URNIdentifikator", u);
    }
}

fn relation(s: &mut String, element: &str, form: RelForm, e: &RelEntry) {
    s.push_str(&format!("<sd:{element}>"));
    virkning(s, &e.virkning);
    match &e.maal {
        Maal::Uuid(u) => {
            s.push_str("<sd:ReferenceID>");
            tekst_element(s, "sd", "UUIDIdentifikator", &u.to_string());
            s.push_str("</sd:ReferenceID>");
        }
        Maal::Urn(u) => {
            s.push_str("<sd:ReferenceID>");
            tekst_element(s, "sd", "URNIdentifikator", u);
            s.push_str("</sd:ReferenceID>");
        }
        Maal::Ingen | Maal::Vaerdi => {}
    }
    if form == RelForm::DynamiskRolle {
        // Rolle and Type are a UUID (no URN) with a Label; one written over REST without a
        // UUID is the nil UUID, labelled as not given.
        for (key, el) in [("rolle", "Rolle"), ("type", "Type")] {
            let v = e.ekstra.get(key);
            let u = v
                .and_then(|v| v.get("uuid"))
                .and_then(Value::as_str)
                .unwrap_or("00000000-0000-0000-0000-000000000000");
            s.push_str(&format!("<sd:{el}>"));
            tekst_element(s, "sd", "UUIDIdentifikator", u);
            match v.and_then(|v| v.get("label")).and_then(Value::as_str) {
                Some(l) => tekst_element(s, "sd", "Label", l),
                None if v.and_then(|v| v.get("uuid")).is_none() => {
                    tekst_element(s, "sd", "Label", IKKE_ANGIVET)
                }
                None => {}
            }
            s.push_str(&format!("</sd:{el}>"));
        }
        s.push_str("<sd:Indeks>");
        if let Some(u) = e
            .ekstra
            .get("indeks")
            .and_then(Value::as_str)
            .and_then(|i| Uuid::parse_str(i).ok())
        {
            tekst_element(s, "sd", "UUIDIdentifikator", &u.to_string());
        }
        s.push_str("</sd:Indeks>");
    }
    if form == RelForm::Dynamisk {
        for (key, el) in [("rolle", "Rolle"), ("type", "Type")] {
            s.push_str(&format!("<sd:{el}>"));
            match e.ekstra.get(key) {
                Some(v) => {
                    unik_id(s, v);
                    if let Some(l) = v.get("label").and_then(Value::as_str) {
                        tekst_element(s, "sd", "Label", l);
                    }
                }
                // Written over REST without it. The schema requires Rolle and Type, so the
                // answer names them as unknown; a LoRa `objekttype` is the Type.
                None => match (&e.objekttype, key) {
                    (Some(t), "type") => {
                        tekst_element(s, "sd", "URNIdentifikator", &format!("{URN_OBJEKTTYPE}{t}"));
                        tekst_element(s, "sd", "Label", t);
                    }
                    _ => tekst_element(s, "sd", "URNIdentifikator", URN_IKKE_ANGIVET),
                },
            }
            s.push_str(&format!("</sd:{el}>"));
        }
        let indeks = e.ekstra.get("indeks").and_then(Value::as_str).unwrap_or("");
        tekst_element(s, "sd", "Indeks", indeks);
    }
    s.push_str(&format!("</sd:{element}>"));
}

/// The `Label` of a v7 `Rolle` or `Type` written without one (over REST).
pub const IKKE_ANGIVET: &str = "ikke angivet";
/// The `Rolle` or `Type` of a dynamic relation written without one (over REST).
pub const URN_IKKE_ANGIVET: &str = "urn:fki:ikke-angivet";
/// Prefix of the `Type` made from a LoRa `objekttype` (`urn:fki:objekttype:EMAIL`).
pub const URN_OBJEKTTYPE: &str = "urn:fki:objekttype:";
