//! Reading a request: the operation element of a SOAP Body into an [`Operation`].
//!
//! SagDokumentIndeks (`../shared/specs/sf1470-sagdokumentindeks/wsdl/SagDokumentIndeksService_6.wsdl`,
//! messages in `xsd/6.0.STS-0/SagDokumentIndeksOperationer.xsd`): importer, opdater, fremsoeg,
//! fjern. SagIndeks and DokumentIndeks (`SagOperationer.xsd`, `SagIndeksOperationer.xsd`,
//! `DokumentIndeksOperationer.xsd`; KOMBIT publishes no WSDL for them): passiver, slet, kasser.
//!
//! Reading is strict, as for Organisation: schema order and namespaces, nothing unknown, every
//! refusal names the element path.

use fki_organisation::Fejl;
use fki_organisation::forespoergsel::{Boern, tekst, tidsstempel, ugyldig, unik_id, uuid_element};
use fki_organisation::typer::NS_SD;
use roxmltree::Node;
use serde_json::Value;
use uuid::Uuid;

use crate::sagdok::{
    DOKUMENT, Indekstype, NS_DI, NS_GD, NS_GO, NS_SAG, NS_SDI, NS_SI, SAG, Vis, boolsk,
    importobjekt, lister,
};

/// One object of an import.
#[derive(Debug, Clone, PartialEq)]
pub struct Importobjekt {
    pub typ: &'static Indekstype,
    pub uuid: Uuid,
    /// Engine JSON (`attributter`, `tilstande`, `relationer`, `note`).
    pub data: Value,
    /// `UdenNotifikation`: no Haendelsesbesked for this change.
    pub uden_notifikation: bool,
}

/// One change of an opdater.
#[derive(Debug, Clone, PartialEq)]
pub struct Opdatering {
    pub typ: &'static Indekstype,
    pub uuid: Uuid,
    /// Engine JSON of a `ret`.
    pub data: Value,
    /// The source system's time of the change (`Tidspunkt`).
    pub tidspunkt: String,
    pub uden_notifikation: bool,
}

/// A search expression (`sdi:SoegUdtrykType`). Without `operation` the children are ANDed.
#[derive(Debug, Clone, PartialEq)]
pub enum Udtryk {
    Og(Vec<Udtryk>),
    Eller(Vec<Udtryk>),
    Ikke(Box<Udtryk>),
    /// `SoegSag`: LoRa search parameters for the Sag.
    Sag(Blad),
    /// `SoegDokument`.
    Dokument(Blad),
    /// `SoegSagsloeseDokumenter`: documents no Sag journalises.
    SagsloeseDokumenter(Blad),
}

/// One search of an expression: LoRa search parameters and its paging.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Blad {
    pub parametre: Vec<(String, String)>,
    pub foerste: Option<usize>,
    pub maks: Option<usize>,
}

impl Udtryk {
    /// The leaves, depth first (the server runs each as one engine search).
    pub fn blade(&self) -> Vec<&Udtryk> {
        let mut out = Vec::new();
        fn gaa<'a>(u: &'a Udtryk, out: &mut Vec<&'a Udtryk>) {
            match u {
                Udtryk::Og(v) | Udtryk::Eller(v) => v.iter().for_each(|x| gaa(x, out)),
                Udtryk::Ikke(x) => gaa(x, out),
                _ => out.push(u),
            }
        }
        gaa(self, &mut out);
        out
    }
}

/// What a fremsoeg answer includes (`sdi:FremsoegFilterSagDokumentIndeksInputType`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// `None`: no Filter given, everything is shown.
    pub sag: Option<Vis>,
    pub dokument: Option<Vis>,
    /// `SagInkluder journalpost`: also the documents the found sager journalise.
    pub journalposter: bool,
    /// `SagInkluder sagsrelation`: also the sager the found sager relate to.
    pub sagsrelationer: bool,
    /// `DokumentInkluder dokument`: also the documents the found documents relate to.
    pub dokumentrelationer: bool,
}

/// One sort key (`SagSortering` / `DokumentSortering`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sortering {
    pub element: String,
    pub faldende: bool,
    pub prioritet: i64,
}

/// A fremsoeg.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fremsoeg {
    pub sager: Vec<Uuid>,
    pub dokumenter: Vec<Uuid>,
    pub udtryk: Option<Udtryk>,
    pub filter: Filter,
    pub sag_sortering: Vec<Sortering>,
    pub dokument_sortering: Vec<Sortering>,
}

/// An operation of the index services.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    Importer(Vec<Importobjekt>),
    Opdater(Vec<Opdatering>),
    Fremsoeg(Fremsoeg),
    Fjern {
        sager: Vec<Uuid>,
        udtryk: Option<Udtryk>,
        efterlad_sagsloese_dokumenter: bool,
    },
    /// SagIndeks / DokumentIndeks passiver.
    Passiver {
        typ: &'static Indekstype,
        uuid: Uuid,
        note: Option<String>,
    },
    Slet {
        typ: &'static Indekstype,
        uuid: Uuid,
        note: Option<String>,
    },
    /// Kasser: remove the entry for good (archival disposal).
    Kasser {
        typ: &'static Indekstype,
        uuid: Uuid,
    },
}

impl Operation {
    /// The operation's name in the soapAction and the audit log.
    pub fn navn(&self) -> &'static str {
        match self {
            Operation::Importer(_) => "importer",
            Operation::Opdater(_) => "opdater",
            Operation::Fremsoeg(_) => "fremsoeg",
            Operation::Fjern { .. } => "fjern",
            Operation::Passiver { .. } => "passiver",
            Operation::Slet { .. } => "slet",
            Operation::Kasser { .. } => "kasser",
        }
    }
}

/// Which service a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tjeneste {
    /// `/sagdokumentindeks/6`.
    SagDokumentIndeks,
    /// `/sagindeks/6`.
    SagIndeks,
    /// `/dokumentindeks/6`.
    DokumentIndeks,
}

/// The output element answering `input` at `tjeneste`, with its namespace; `None` if `input`
/// is no operation there.
pub fn output_element(
    tjeneste: Tjeneste,
    ns: &str,
    input: &str,
) -> Option<(&'static str, &'static str)> {
    match tjeneste {
        Tjeneste::SagDokumentIndeks if ns == NS_SDI => Some((
            NS_SDI,
            match input {
                "ImporterSagDokumentIndeksInput" => "ImporterSagDokumentIndeksOutput",
                "OpdaterSagDokumentIndeksInput" => "OpdaterSagDokumentIndeksOutput",
                "FremsoegSagDokumentIndeksInput" => "FremsoegSagDokumentIndeksOutput",
                "FjernSagDokumentIndeksInput" => "FjernSagDokumentIndeksOutput",
                _ => return None,
            },
        )),
        Tjeneste::SagIndeks => match (ns, input) {
            (NS_SAG, "PassiverInput") => Some((NS_SAG, "PassiverOutput")),
            (NS_SAG, "SletInput") => Some((NS_SAG, "SletOutput")),
            (NS_SI, "KasserInput") => Some((NS_SI, "KasserOutput")),
            _ => None,
        },
        Tjeneste::DokumentIndeks => match (ns, input) {
            (NS_DI, "PassiverInput") => Some((NS_DI, "PassiverOutput")),
            (NS_DI, "SletInput") => Some((NS_DI, "SletOutput")),
            (NS_DI, "KasserInput") => Some((NS_DI, "KasserOutput")),
            _ => None,
        },
        _ => None,
    }
}

/// Read the operation element `op` addressed to `tjeneste`.
pub fn laes(tjeneste: Tjeneste, op: Node<'_, '_>) -> Result<Operation, Fejl> {
    let navn = op.tag_name().name();
    let mut b = Boern::new(op, navn)?;
    let operation = match (tjeneste, navn) {
        (Tjeneste::SagDokumentIndeks, "ImporterSagDokumentIndeksInput") => {
            let mut objekter = Vec::new();
            let mut i = 0;
            while let Some(n) = b.next_any() {
                i += 1;
                let typ = match (n.tag_name().namespace(), n.tag_name().name()) {
                    (Some(NS_SDI), "SagIndeks") => &SAG,
                    (Some(NS_SDI), "DokumentIndeks") => &DOKUMENT,
                    (ns, x) => {
                        return Err(ugyldig(format!(
                            "{navn}: expected SagIndeks or DokumentIndeks ({NS_SDI}), found {x} ({})",
                            ns.unwrap_or("no namespace")
                        )));
                    }
                };
                let sti = format!("{navn}/{}[{i}]", typ.navn);
                let (uuid, data, uden_notifikation) = importobjekt(typ, n, &sti)?;
                objekter.push(Importobjekt {
                    typ,
                    uuid,
                    data,
                    uden_notifikation,
                });
            }
            if objekter.is_empty() {
                return Err(ugyldig(format!("{navn}: nothing to import")));
            }
            Operation::Importer(objekter)
        }
        (Tjeneste::SagDokumentIndeks, "OpdaterSagDokumentIndeksInput") => {
            let mut v = Vec::new();
            let mut i = 0;
            while let Some(n) = b.next_any() {
                i += 1;
                let typ = match (n.tag_name().namespace(), n.tag_name().name()) {
                    (Some(NS_SDI), "OpdaterSagIndeks") => &SAG,
                    (Some(NS_SDI), "OpdaterDokumentIndeks") => &DOKUMENT,
                    (ns, x) => {
                        return Err(ugyldig(format!(
                            "{navn}: expected OpdaterSagIndeks or OpdaterDokumentIndeks ({NS_SDI}), found {x} ({})",
                            ns.unwrap_or("no namespace")
                        )));
                    }
                };
                let sti = format!("{navn}/{}[{i}]", n.tag_name().name());
                let mut ob = Boern::new(n, &sti)?;
                let uuid = uuid_element(ob.one(NS_SD, "UUIDIdentifikator")?)?;
                let note = ob.opt_tekst(NS_SD, "NoteTekst")?;
                let mut data = lister(typ, &mut ob, false, &sti)?;
                let tidspunkt = tidsstempel(ob.one(NS_SDI, "Tidspunkt")?)?;
                let uden_notifikation = match ob.opt(NS_SDI, "UdenNotifikation") {
                    Some(n) => boolsk(n, &format!("{sti}/UdenNotifikation"))?,
                    None => false,
                };
                ob.slut()?;
                if let Some(n) = note {
                    data.insert("note".into(), Value::String(n));
                }
                v.push(Opdatering {
                    typ,
                    uuid,
                    data: Value::Object(data),
                    tidspunkt,
                    uden_notifikation,
                });
            }
            if v.is_empty() {
                return Err(ugyldig(format!("{navn}: nothing to change")));
            }
            Operation::Opdater(v)
        }
        (Tjeneste::SagDokumentIndeks, "FjernSagDokumentIndeksInput") => {
            let mut sager = Vec::new();
            for (i, n) in b.many(NS_SDI, "SagUuid").into_iter().enumerate() {
                let id = unik_id(n)?;
                let u = id.get("uuid").and_then(Value::as_str).ok_or_else(|| {
                    ugyldig(format!(
                        "{navn}/SagUuid[{}]: give the Sag's UUIDIdentifikator",
                        i + 1
                    ))
                })?;
                sager.push(Uuid::parse_str(u).expect("checked by unik_id"));
            }
            let udtryk = b
                .opt(NS_SDI, "SoegUdtryk")
                .map(|n| udtryk(n, &format!("{navn}/SoegUdtryk")))
                .transpose()?;
            let efterlad = match b.opt(NS_SDI, "EfterladSagsloeseDokumenter") {
                Some(n) => boolsk(n, "EfterladSagsloeseDokumenter")?,
                None => false,
            };
            if let Some(n) = b.opt(NS_SDI, "FjernOgsaaYdelse")
                && boolsk(n, "FjernOgsaaYdelse")?
            {
                return Err(ugyldig(format!(
                    "{navn}/FjernOgsaaYdelse: removing Ydelsesindeks entries with the sag is not supported by fki yet"
                )));
            }
            if sager.is_empty() && udtryk.is_none() {
                return Err(ugyldig(format!("{navn}: give SagUuid or SoegUdtryk")));
            }
            Operation::Fjern {
                sager,
                udtryk,
                efterlad_sagsloese_dokumenter: efterlad,
            }
        }
        (Tjeneste::SagDokumentIndeks, "FremsoegSagDokumentIndeksInput") => {
            let mut f = Fremsoeg::default();
            for (liste, el) in [
                (&mut f.sager, "SagUuid"),
                (&mut f.dokumenter, "DokumentUuid"),
            ] {
                for n in b.many(NS_SDI, el) {
                    let t = tekst(n)?;
                    liste.push(
                        Uuid::parse_str(t.trim())
                            .map_err(|_| ugyldig(format!("{navn}/{el}: '{t}' is not a UUID")))?,
                    );
                }
            }
            f.udtryk = b
                .opt(NS_SDI, "SoegUdtryk")
                .map(|n| udtryk(n, &format!("{navn}/SoegUdtryk")))
                .transpose()?;
            if let Some(n) = b.opt(NS_SDI, "Filter") {
                f.filter = filter(n, &format!("{navn}/Filter"))?;
            }
            if let Some(n) = b.opt(NS_SDI, "Sortering") {
                let sti = format!("{navn}/Sortering");
                let mut sb = Boern::new(n, &sti)?;
                while let Some(s) = sb.next_any() {
                    let (liste, navn) = match (s.tag_name().namespace(), s.tag_name().name()) {
                        (Some(NS_SDI), "SagSortering") => (&mut f.sag_sortering, "SagSortering"),
                        (Some(NS_SDI), "DokumentSortering") => {
                            (&mut f.dokument_sortering, "DokumentSortering")
                        }
                        (_, x) => return Err(ugyldig(format!("{sti}: unexpected element {x}"))),
                    };
                    let p = format!("{sti}/{navn}");
                    let mut eb = Boern::new(s, &p)?;
                    let element = tekst(eb.one(NS_SDI, "Element")?)?.trim().to_owned();
                    let tilladte = if navn == "SagSortering" {
                        SAG_SORTERING
                    } else {
                        DOKUMENT_SORTERING
                    };
                    if !tilladte.contains(&element.as_str()) {
                        return Err(ugyldig(format!(
                            "{p}/Element: '{element}' is not one of {}",
                            tilladte.join(", ")
                        )));
                    }
                    let retning = tekst(eb.one(NS_SDI, "Retning")?)?;
                    let faldende = match retning.trim() {
                        "Stigende" => false,
                        "Faldende" => true,
                        x => {
                            return Err(ugyldig(format!(
                                "{p}/Retning: '{x}' is not Stigende or Faldende"
                            )));
                        }
                    };
                    let pt = tekst(eb.one(NS_SDI, "Prioritet")?)?;
                    let prioritet = pt
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| ugyldig(format!("{p}/Prioritet: '{pt}' is not an integer")))?;
                    eb.slut()?;
                    liste.push(Sortering {
                        element,
                        faldende,
                        prioritet,
                    });
                }
                f.sag_sortering.sort_by_key(|s| s.prioritet);
                f.dokument_sortering.sort_by_key(|s| s.prioritet);
            }
            Operation::Fremsoeg(f)
        }
        (Tjeneste::SagIndeks | Tjeneste::DokumentIndeks, "PassiverInput" | "SletInput") => {
            let typ = if tjeneste == Tjeneste::SagIndeks {
                &SAG
            } else {
                &DOKUMENT
            };
            let uuid = uuid_element(b.one(NS_SD, "UUIDIdentifikator")?)?;
            let note = b.opt_tekst(NS_SD, "NoteTekst")?;
            if navn == "PassiverInput" {
                Operation::Passiver { typ, uuid, note }
            } else {
                Operation::Slet { typ, uuid, note }
            }
        }
        (Tjeneste::SagIndeks | Tjeneste::DokumentIndeks, "KasserInput") => {
            let typ = if tjeneste == Tjeneste::SagIndeks {
                &SAG
            } else {
                &DOKUMENT
            };
            let sti = format!("{navn}/Kasser");
            let k = b.one(typ.udv_ns, "Kasser")?;
            let mut kb = Boern::new(k, &sti)?;
            let o = kb.one(typ.ns, "ObjektType")?;
            let mut ob = Boern::new(o, &format!("{sti}/ObjektType"))?;
            let uuid = uuid_element(ob.one(NS_SD, "UUIDIdentifikator")?)?;
            ob.slut()?;
            // The registreringer the caller read are its proof of what it disposes of; fki
            // disposes of the whole entry and only checks that they are well formed.
            for (i, r) in kb.many(typ.ns, "Registrering").into_iter().enumerate() {
                let p = format!("{sti}/Registrering[{}]", i + 1);
                let mut rb = Boern::new(r, &p)?;
                let _ = rb.opt(NS_SD, "NoteTekst");
                if let Some(t) = rb.opt(NS_SD, "Tidspunkt") {
                    tidsstempel(t)?;
                }
                let _ = rb.opt(NS_SD, "LivscyklusKode");
                if let Some(br) = rb.opt(NS_SD, "BrugerRef") {
                    unik_id(br)?;
                }
                if let Some(t) = rb.opt(NS_GD, "StsTidspunkt") {
                    tidsstempel(t)?;
                }
                lister(typ, &mut rb, true, &p)?;
                rb.slut()?;
            }
            kb.slut()?;
            Operation::Kasser { typ, uuid }
        }
        (_, other) => {
            return Err(ugyldig(format!(
                "{other} is not an operation of this service"
            )));
        }
    };
    b.slut()?;
    Ok(operation)
}

/// The sort elements of `sdi:SagSorteringFilterType`.
pub const SAG_SORTERING: &[&str] = &[
    "Bruger",
    "StsRegistreringstidspunkt",
    "Registreringstidspunkt",
    "BrugervendtNoegle",
    "ItSystem-Systemnavn",
    "Fremdrift",
    "Titel",
    "Foelsomhed",
    "Sagklasse-BrugervendtNoegle",
    "Livscyklus",
];
/// The sort elements of `sdi:DokumentSorteringFilterType`.
pub const DOKUMENT_SORTERING: &[&str] = &[
    "Bruger",
    "StsRegistreringstidspunkt",
    "Registreringstidspunkt",
    "BrugervendtNoegle",
    "ItSystem-Systemnavn",
    "Fremdrift",
    "Titel",
    "Foelsomhed",
    "Major",
    "Minor",
];

fn filter(n: Node<'_, '_>, sti: &str) -> Result<Filter, Fejl> {
    // A Filter given means: only what it names ("An empty filter means that no data will be
    // returned", SagDokumentIndeksOperationer.xsd).
    let mut f = Filter {
        sag: Some(Vis::default()),
        dokument: Some(Vis::default()),
        ..Filter::default()
    };
    let mut b = Boern::new(n, sti)?;
    while let Some(c) = b.next_any() {
        let navn = c.tag_name().name();
        if c.tag_name().namespace() != Some(NS_SDI) {
            return Err(ugyldig(format!("{sti}: unexpected element {navn}")));
        }
        let p = format!("{sti}/{navn}");
        let vaerdi = if navn.ends_with("Vis") {
            let mut vb = Boern::new(c, &p)?;
            let t = tekst(vb.one(NS_SDI, "Vis")?)?;
            vb.slut()?;
            t
        } else {
            tekst(c)?
        };
        let v = vaerdi.trim();
        let ukendt = || ugyldig(format!("{p}: '{v}' is not a value of {navn}"));
        match navn {
            "SagVis" => {
                let del = match v {
                    "egenskaber" => "egenskaber",
                    "fremdrift" => "fremdrift",
                    "sagsklasse" => "sagsklasse",
                    "sagsaktoer" => "sagsaktoer",
                    "sagspart" => "sagspart",
                    "sagsrelation" => "sagsrelation",
                    "sagsgenstand" => "sagsgenstande",
                    "journalpost" | "journalpost-journalnote" => "journalpost",
                    "itsystem" => "sagsitsystem",
                    "sikkerhedsprofil" => "sikkerhedsprofil",
                    _ => return Err(ukendt()),
                };
                f.sag.get_or_insert_default().dele.push(del);
            }
            "DokumentVis" => {
                let del = match v {
                    "egenskaber" => "egenskaber",
                    "fremdrift" => "fremdrift",
                    "dokument" => "dokumentrelation",
                    "klasse" => "dokumentklasse",
                    "aktoer" => "dokumentaktoer",
                    "part" => "dokumentpart",
                    "itsystem" => "dokumentitsystem",
                    "sikkerhedsprofil" => "sikkerhedsprofil",
                    _ => return Err(ukendt()),
                };
                f.dokument.get_or_insert_default().dele.push(del);
            }
            "SagInkluder" => match v {
                "journalpost" => f.journalposter = true,
                "sagsrelation" => f.sagsrelationer = true,
                _ => return Err(ukendt()),
            },
            "DokumentInkluder" => match v {
                "dokument" => f.dokumentrelationer = true,
                _ => return Err(ukendt()),
            },
            _ => return Err(ugyldig(format!("{sti}: unexpected element {navn}"))),
        }
    }
    Ok(f)
}

/// A `SoegUdtryk` (or `NOT`) element.
fn udtryk(n: Node<'_, '_>, sti: &str) -> Result<Udtryk, Fejl> {
    let mut b = Boern::new(n, sti)?;
    let eller = match b.opt_tekst(NS_SDI, "operation")? {
        None => false,
        Some(t) => match t.trim() {
            "AND" => false,
            "OR" => true,
            x => return Err(ugyldig(format!("{sti}/operation: '{x}' is not AND or OR"))),
        },
    };
    let mut led = Vec::new();
    let mut i = 0;
    while let Some(c) = b.next_any() {
        i += 1;
        let navn = c.tag_name().name();
        let p = format!("{sti}/{navn}[{i}]");
        if c.tag_name().namespace() != Some(NS_SDI) {
            return Err(ugyldig(format!("{p}: unexpected element (namespace)")));
        }
        led.push(match navn {
            "SoegSag" => Udtryk::Sag(blad(&SAG, c, &p)?),
            "SoegDokument" => Udtryk::Dokument(blad(&DOKUMENT, c, &p)?),
            "SoegSagsloeseDokumenter" => Udtryk::SagsloeseDokumenter(blad(&DOKUMENT, c, &p)?),
            "NOT" => Udtryk::Ikke(Box::new(udtryk(c, &p)?)),
            "SoegUdtryk" => udtryk(c, &p)?,
            _ => return Err(ugyldig(format!("{p}: unexpected element"))),
        });
    }
    if led.is_empty() {
        return Err(ugyldig(format!("{sti}: give at least one search")));
    }
    Ok(if eller {
        Udtryk::Eller(led)
    } else {
        Udtryk::Og(led)
    })
}

/// A `SoegSag` / `SoegDokument`: its lists become LoRa search parameters (what is given must
/// match; several values of one relation must all be present).
fn blad(typ: &'static Indekstype, n: Node<'_, '_>, sti: &str) -> Result<Blad, Fejl> {
    let mut b = Boern::new(n, sti)?;
    let mut blad = Blad::default();
    let tal = |t: String, el: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| ugyldig(format!("{sti}/{el}: '{t}' is not a count")))
    };
    if let Some(t) = b.opt_tekst(NS_SD, "FoersteResultatReference")? {
        blad.foerste = Some(tal(t, "FoersteResultatReference")?);
    }
    if let Some(t) = b.opt_tekst(NS_SD, "MaksimalAntalKvantitet")? {
        blad.maks = Some(tal(t, "MaksimalAntalKvantitet")?);
    }
    for el in ["SoegRegistrering", "SoegVirkning"] {
        if b.opt(NS_SD, el).is_some() {
            return Err(ugyldig(format!(
                "{sti}/{el}: searching in time is not supported by fki's index; it searches the entries as they are now"
            )));
        }
    }
    for el in ["SoegStsFraTidspunkt", "SoegStsTilTidspunkt"] {
        if b.opt(NS_GO, el).is_some() {
            return Err(ugyldig(format!(
                "{sti}/{el}: searching in time is not supported by fki's index"
            )));
        }
    }
    let data = lister(typ, &mut b, true, sti)?;
    b.slut()?;
    let q = &mut blad.parametre;
    let spec = typ.klasse;
    if let Some(Value::Object(a)) = data.get("attributter") {
        for (key, entries) in a {
            for e in entries.as_array().into_iter().flatten() {
                for (felt, v) in e.as_object().into_iter().flatten() {
                    if felt == "virkning" {
                        continue;
                    }
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Object(_) => {
                            return Err(ugyldig(format!(
                                "{sti}: searching on {felt} is not supported"
                            )));
                        }
                        other => other.to_string(),
                    };
                    let _ = key;
                    q.push((felt.clone(), v));
                }
            }
        }
    }
    if let Some(Value::Object(t)) = data.get("tilstande") {
        for entries in t.values() {
            for e in entries.as_array().into_iter().flatten() {
                if let Some(v) = e.get("fremdrift").and_then(Value::as_str) {
                    q.push(("fremdrift".into(), v.to_owned()));
                }
            }
        }
    }
    if let Some(Value::Object(r)) = data.get("relationer") {
        for (navn, entries) in r {
            for e in entries.as_array().into_iter().flatten() {
                if e.get("type").is_some() && e.get("rolle").is_none() {
                    return Err(ugyldig(format!(
                        "{sti}/RelationListe/{navn}: searching by Type alone is not supported by fki; give Rolle (and Type) with the ReferenceID"
                    )));
                }
                let maal = e
                    .get("uuid")
                    .or_else(|| e.get("urn"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                // A Rolle qualifies the relation (the engine's facts carry it).
                let rolle = e
                    .get("rolle")
                    .and_then(|r| r.get("uuid").or_else(|| r.get("urn")))
                    .and_then(Value::as_str);
                let param = match rolle {
                    Some(r) => format!("{navn}:{r}"),
                    None => navn.clone(),
                };
                q.push((param, maal.to_owned()));
            }
        }
    }
    let _ = spec;
    Ok(blad)
}
