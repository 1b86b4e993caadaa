//! Reading a request: the operation element of a SOAP Body into an [`Operation`].
//!
//! SagDokumentIndeks (`../shared/specs/sf1470-sagdokumentindeks/wsdl/SagDokumentIndeksService_6.wsdl`,
//! messages in `xsd/6.0.STS-0/SagDokumentIndeksOperationer.xsd`): importer, opdater, fremsoeg,
//! fjern. SagIndeks and DokumentIndeks (`SagOperationer.xsd`, `SagIndeksOperationer.xsd`,
//! `DokumentIndeksOperationer.xsd`; KOMBIT publishes no WSDL for them): passiver, slet, kasser.
//!
//! YdelseIndeks (SF1490, `../shared/specs/sf1490-ydelsesindeks/wsdl/YdelseIndeks.wsdl`, messages
//! in `xsd/6.0.STS-0/YdelseIndeksOperationer.xsd`): importer, opdater, fremsoeg; BevillingIndeks
//! and OekonomiskEffektueringIndeks (`BevillingIndeks.wsdl`, `OekonomiskEffektueringIndeks.wsdl`):
//! fjern, the only operation their WSDLs bind. See [`laes_ydelse`].
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
    DOKUMENT, Efterfilter, Indekstype, Laesning, NS_DI, NS_GD, NS_GO, NS_SAG, NS_SDI, NS_SI, SAG,
    Vis, boolsk, importobjekt, lister, lister_i,
};
use crate::ydelse::{self, BEVILLING, EFFEKTUERING, NS_BI, NS_OEF, NS_YI};

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
    /// SF1490 `SoegBevillingIndeks` (a kind like the Sag: [`crate::soeg::Fundet::sager`]).
    Bevilling(Blad),
    /// SF1490 `SoegOekonomiskEffektueringIndeks` (a kind like the Dokument:
    /// [`crate::soeg::Fundet::dokumenter`]).
    Effektuering(Blad),
}

/// One search of an expression: LoRa search parameters and its paging.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Blad {
    pub parametre: Vec<(String, String)>,
    pub foerste: Option<usize>,
    pub maks: Option<usize>,
    /// What the engine's facts cannot answer, checked on the entries the parameters find
    /// (SF1490's intervals and the values of a BevilgetYdelse).
    pub efterfiltre: Vec<Efterfilter>,
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
                v.push(opdatering(typ, n, NS_SDI, true, &sti)?);
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
                .map(|n| udtryk(n, &format!("{navn}/SoegUdtryk"), &SDI))
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
                .map(|n| udtryk(n, &format!("{navn}/SoegUdtryk"), &SDI))
                .transpose()?;
            if let Some(n) = b.opt(NS_SDI, "Filter") {
                f.filter = filter(n, &format!("{navn}/Filter"))?;
            }
            if let Some(n) = b.opt(NS_SDI, "Sortering") {
                (f.sag_sortering, f.dokument_sortering) = sortering(
                    n,
                    &format!("{navn}/Sortering"),
                    NS_SDI,
                    [
                        ("SagSortering", SAG_SORTERING),
                        ("DokumentSortering", DOKUMENT_SORTERING),
                    ],
                    "Prioritet",
                )?;
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

/// A leaf of a search expression: its element, the type it searches, its [`Udtryk`].
type Bladtype = (&'static str, &'static Indekstype, fn(Blad) -> Udtryk);

/// The search expression of one service: its namespace and its leaves.
struct Sprog {
    ns: &'static str,
    blade: &'static [Bladtype],
    /// Whether an expression may be empty (SF1490's schema accepts `<yi:SoegUdtryk/>`: it then
    /// says nothing).
    tom: bool,
}

/// SF1470's `sdi:SoegUdtrykType`.
const SDI: Sprog = Sprog {
    ns: NS_SDI,
    blade: &[
        ("SoegSag", &SAG, Udtryk::Sag),
        ("SoegDokument", &DOKUMENT, Udtryk::Dokument),
        (
            "SoegSagsloeseDokumenter",
            &DOKUMENT,
            Udtryk::SagsloeseDokumenter,
        ),
    ],
    tom: false,
};

/// SF1490's `yi:SoegUdtrykType` (`YdelseIndeksOperationer.xsd:100`).
const YI: Sprog = Sprog {
    ns: NS_YI,
    blade: &[
        ("SoegBevillingIndeks", &BEVILLING, Udtryk::Bevilling),
        (
            "SoegOekonomiskEffektueringIndeks",
            &EFFEKTUERING,
            Udtryk::Effektuering,
        ),
    ],
    tom: true,
};

/// A `SoegUdtryk` (or `NOT`) element.
fn udtryk(n: Node<'_, '_>, sti: &str, sprog: &Sprog) -> Result<Udtryk, Fejl> {
    let ns = sprog.ns;
    let mut b = Boern::new(n, sti)?;
    let eller = match b.opt_tekst(ns, "operation")? {
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
        if c.tag_name().namespace() != Some(ns) {
            return Err(ugyldig(format!("{p}: unexpected element (namespace)")));
        }
        led.push(match navn {
            "NOT" => Udtryk::Ikke(Box::new(udtryk(c, &p, sprog)?)),
            "SoegUdtryk" => udtryk(c, &p, sprog)?,
            _ => match sprog.blade.iter().find(|(e, _, _)| *e == navn) {
                Some((_, typ, lav)) => lav(blad(typ, c, &p)?),
                None => return Err(ugyldig(format!("{p}: unexpected element"))),
            },
        });
    }
    if led.is_empty() && !sprog.tom {
        return Err(ugyldig(format!("{sti}: give at least one search")));
    }
    Ok(if eller {
        Udtryk::Eller(led)
    } else {
        Udtryk::Og(led)
    })
}

/// A `Sortering` of two kinds (SF1470's `SagSortering`/`DokumentSortering` with `Prioritet`,
/// SF1490's `BevillingSortering`/`OekonomiskEffektueringSortering` with `Sekvens`): each kind's
/// keys, in rank order.
fn sortering(
    n: Node<'_, '_>,
    sti: &str,
    ns: &str,
    arter: [(&str, &[&str]); 2],
    rang: &str,
) -> Result<(Vec<Sortering>, Vec<Sortering>), Fejl> {
    let mut lister: [Vec<Sortering>; 2] = [Vec::new(), Vec::new()];
    let mut sb = Boern::new(n, sti)?;
    while let Some(s) = sb.next_any() {
        let navn = s.tag_name().name();
        let Some(k) = arter
            .iter()
            .position(|(a, _)| s.tag_name().namespace() == Some(ns) && *a == navn)
        else {
            return Err(ugyldig(format!("{sti}: unexpected element {navn}")));
        };
        let p = format!("{sti}/{navn}");
        let mut eb = Boern::new(s, &p)?;
        let element = tekst(eb.one(ns, "Element")?)?.trim().to_owned();
        let tilladte = arter[k].1;
        if !tilladte.contains(&element.as_str()) {
            return Err(ugyldig(format!(
                "{p}/Element: '{element}' is not one of {}",
                tilladte.join(", ")
            )));
        }
        let retning = tekst(eb.one(ns, "Retning")?)?;
        let faldende = match retning.trim() {
            "Stigende" => false,
            "Faldende" => true,
            x => {
                return Err(ugyldig(format!(
                    "{p}/Retning: '{x}' is not Stigende or Faldende"
                )));
            }
        };
        let pt = tekst(eb.one(ns, rang)?)?;
        let prioritet = pt
            .trim()
            .parse::<i64>()
            .map_err(|_| ugyldig(format!("{p}/{rang}: '{pt}' is not an integer")))?;
        eb.slut()?;
        lister[k].push(Sortering {
            element,
            faldende,
            prioritet,
        });
    }
    let [mut a, mut b] = lister;
    a.sort_by_key(|s| s.prioritet);
    b.sort_by_key(|s| s.prioritet);
    Ok((a, b))
}

/// One change of an opdater: `sd:UUIDIdentifikator`, `sd:NoteTekst`, the optional lists, then
/// the operation namespace's `Tidspunkt` and (if `uden`) `UdenNotifikation`.
fn opdatering(
    typ: &'static Indekstype,
    n: Node<'_, '_>,
    ns: &str,
    uden: bool,
    sti: &str,
) -> Result<Opdatering, Fejl> {
    let mut ob = Boern::new(n, sti)?;
    let uuid = uuid_element(ob.one(NS_SD, "UUIDIdentifikator")?)?;
    let note = ob.opt_tekst(NS_SD, "NoteTekst")?;
    let (mut data, _) = lister_i(typ, &mut ob, Laesning::Opdater(uuid), sti)?;
    let tidspunkt = tidsstempel(ob.one(ns, "Tidspunkt")?)?;
    let uden_notifikation = match uden.then(|| ob.opt(ns, "UdenNotifikation")).flatten() {
        Some(n) => boolsk(n, &format!("{sti}/UdenNotifikation"))?,
        None => false,
    };
    ob.slut()?;
    if let Some(n) = note {
        data.insert("note".into(), Value::String(n));
    }
    Ok(Opdatering {
        typ,
        uuid,
        data: Value::Object(data),
        tidspunkt,
        uden_notifikation,
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
    let (data, efterfiltre) = lister_i(typ, &mut b, Laesning::Soeg, sti)?;
    b.slut()?;
    blad.efterfiltre = efterfiltre;
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
                if maal.is_empty() {
                    // A relation that carries only a search extension (SF1490).
                    continue;
                }
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

// ---------------------------------------------------------------------------------------------
// SF1490 Ydelsesindeks.

/// Which SF1490 service a request addresses (`OPERATIONS.md` of
/// `crates/fki-server/tests/fixtures/sf1490/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ydelsestjeneste {
    /// `YdelseIndeks.wsdl`: importer, opdater, fremsoeg.
    YdelseIndeks,
    /// `BevillingIndeks.wsdl`: fjern.
    BevillingIndeks,
    /// `OekonomiskEffektueringIndeks.wsdl`: fjern.
    OekonomiskEffektueringIndeks,
}

/// What a fremsoeg answer includes (`yi:FremsoegFilterYdelseIndeksInputType`,
/// `YdelseIndeksOperationer.xsd:212`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct YdelseFilter {
    /// `None`: no Filter given, everything is shown.
    pub bevilling: Option<Vis>,
    pub effektuering: Option<Vis>,
    /// `BevillingInkluder bevilgetydelse`: also the effektueringer paying the found
    /// Bevillinger's BevilgetYdelser.
    pub effektueringer: bool,
    /// `OekonomiskEffektueringInkluder oekonomiskeydelseeffektueringer`: also the Bevillinger
    /// the found effektueringer pay.
    pub bevillinger: bool,
}

/// A YdelseIndeks fremsoeg (`yi:FremsoegYdelseIndeksInputType`, `YdelseIndeksOperationer.xsd:71`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct YdelseFremsoeg {
    pub bevillinger: Vec<Uuid>,
    pub effektueringer: Vec<Uuid>,
    /// `None` for an empty `SoegUdtryk` (the schema accepts one): only the UUIDs given.
    pub udtryk: Option<Udtryk>,
    pub filter: YdelseFilter,
    pub bevilling_sortering: Vec<Sortering>,
    pub effektuering_sortering: Vec<Sortering>,
}

/// An operation of the SF1490 services.
#[derive(Debug, Clone, PartialEq)]
pub enum YdelseOperation {
    Importer(Vec<Importobjekt>),
    Opdater(Vec<Opdatering>),
    Fremsoeg(Box<YdelseFremsoeg>),
    /// BevillingIndeks / OekonomiskEffektueringIndeks fjern: remove the entry for good.
    Fjern {
        typ: &'static Indekstype,
        uuid: Uuid,
        note: Option<String>,
    },
}

impl YdelseOperation {
    /// The operation's name in the soapAction and the audit log.
    pub fn navn(&self) -> &'static str {
        match self {
            YdelseOperation::Importer(_) => "importer",
            YdelseOperation::Opdater(_) => "opdater",
            YdelseOperation::Fremsoeg(_) => "fremsoeg",
            YdelseOperation::Fjern { .. } => "fjern",
        }
    }
}

/// The sort elements of `yi:BevillingSorteringFilterType` (`YdelseIndeksOperationer.xsd:156`).
pub const BEVILLING_SORTERING: &[&str] = &["FuldtNavn", "Ydelsesnavn"];
/// The sort elements of `yi:OekonomiskEffektueringSorteringFilterType` (`:192`).
pub const EFFEKTUERING_SORTERING: &[&str] = &["Dispositionsdato"];

/// The output element answering `input` at `tjeneste`, with its namespace; `None` if `input`
/// is no operation there.
pub fn ydelse_output_element(
    tjeneste: Ydelsestjeneste,
    ns: &str,
    input: &str,
) -> Option<(&'static str, &'static str)> {
    match (tjeneste, ns, input) {
        (Ydelsestjeneste::YdelseIndeks, NS_YI, "ImporterYdelseIndeksInput") => {
            Some((NS_YI, "ImporterYdelseIndeksOutput"))
        }
        (Ydelsestjeneste::YdelseIndeks, NS_YI, "OpdaterYdelseIndeksInput") => {
            Some((NS_YI, "OpdaterYdelseIndeksOutput"))
        }
        (Ydelsestjeneste::YdelseIndeks, NS_YI, "FremsoegYdelseIndeksInput") => {
            Some((NS_YI, "FremsoegYdelseIndeksOutput"))
        }
        (Ydelsestjeneste::BevillingIndeks, NS_BI, "FjernInput") => Some((NS_BI, "FjernOutput")),
        (Ydelsestjeneste::OekonomiskEffektueringIndeks, NS_OEF, "FjernInput") => {
            Some((NS_OEF, "FjernOutput"))
        }
        _ => None,
    }
}

/// Read the operation element `op` addressed to an SF1490 service.
pub fn laes_ydelse(tjeneste: Ydelsestjeneste, op: Node<'_, '_>) -> Result<YdelseOperation, Fejl> {
    let navn = op.tag_name().name();
    let ns = op.tag_name().namespace().unwrap_or("no namespace");
    if ydelse_output_element(tjeneste, ns, navn).is_none() {
        return Err(ugyldig(format!(
            "{{{ns}}}{navn} is not an operation of this service"
        )));
    }
    let mut b = Boern::new(op, navn)?;
    let operation = match (tjeneste, navn) {
        (Ydelsestjeneste::YdelseIndeks, "ImporterYdelseIndeksInput") => {
            let mut objekter = Vec::new();
            let mut i = 0;
            while let Some(n) = b.next_any() {
                i += 1;
                let typ = match (n.tag_name().namespace(), n.tag_name().name()) {
                    (Some(NS_YI), "BevillingIndeks") => &BEVILLING,
                    (Some(NS_YI), "OekonomiskEffektueringIndeks") => &EFFEKTUERING,
                    (ns, x) => {
                        return Err(ugyldig(format!(
                            "{navn}: expected BevillingIndeks or OekonomiskEffektueringIndeks ({NS_YI}), found {x} ({})",
                            ns.unwrap_or("no namespace")
                        )));
                    }
                };
                // yi:BevillingIndeks (bi:ImportInputType) holds bi:BevillingIndeks, the object.
                let element = n.tag_name().name();
                let sti = format!("{navn}/{element}[{i}]");
                let mut ib = Boern::new(n, &sti)?;
                let objekt = ib.one(typ.ns, element)?;
                ib.slut()?;
                let (uuid, data, uden_notifikation) =
                    importobjekt(typ, objekt, &format!("{sti}/{element}"))?;
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
            YdelseOperation::Importer(objekter)
        }
        (Ydelsestjeneste::YdelseIndeks, "OpdaterYdelseIndeksInput") => {
            let mut v = Vec::new();
            let mut i = 0;
            while let Some(n) = b.next_any() {
                i += 1;
                let (typ, uden) = match (n.tag_name().namespace(), n.tag_name().name()) {
                    (Some(NS_YI), "OpdaterBevillingIndeks") => (&BEVILLING, true),
                    (Some(NS_YI), "OpdaterOekonomiskEffektueringIndeks") => (&EFFEKTUERING, false),
                    (ns, x) => {
                        return Err(ugyldig(format!(
                            "{navn}: expected OpdaterBevillingIndeks or OpdaterOekonomiskEffektueringIndeks ({NS_YI}), found {x} ({})",
                            ns.unwrap_or("no namespace")
                        )));
                    }
                };
                let sti = format!("{navn}/{}[{i}]", n.tag_name().name());
                v.push(opdatering(typ, n, NS_YI, uden, &sti)?);
            }
            if v.is_empty() {
                return Err(ugyldig(format!("{navn}: nothing to change")));
            }
            YdelseOperation::Opdater(v)
        }
        (Ydelsestjeneste::YdelseIndeks, "FremsoegYdelseIndeksInput") => {
            let mut f = YdelseFremsoeg::default();
            for (liste, el) in [
                (&mut f.bevillinger, "BevillingUuid"),
                (&mut f.effektueringer, "OekonomiskEffektueringUuid"),
            ] {
                for (i, n) in b.many(NS_YI, el).into_iter().enumerate() {
                    let t = tekst(n)?;
                    liste.push(Uuid::parse_str(t.trim()).map_err(|_| {
                        ugyldig(format!("{navn}/{el}[{}]: '{t}' is not a UUID", i + 1))
                    })?);
                }
            }
            let u = udtryk(
                b.one(NS_YI, "SoegUdtryk")?,
                &format!("{navn}/SoegUdtryk"),
                &YI,
            )?;
            f.udtryk = (!u.blade().is_empty()).then_some(u);
            if let Some(n) = b.opt(NS_YI, "Filter") {
                f.filter = ydelse_filter(n, &format!("{navn}/Filter"))?;
            }
            if let Some(n) = b.opt(NS_YI, "Sortering") {
                (f.bevilling_sortering, f.effektuering_sortering) = sortering(
                    n,
                    &format!("{navn}/Sortering"),
                    NS_YI,
                    [
                        ("BevillingSortering", BEVILLING_SORTERING),
                        ("OekonomiskEffektueringSortering", EFFEKTUERING_SORTERING),
                    ],
                    "Sekvens",
                )?;
            }
            YdelseOperation::Fremsoeg(Box::new(f))
        }
        (
            Ydelsestjeneste::BevillingIndeks | Ydelsestjeneste::OekonomiskEffektueringIndeks,
            "FjernInput",
        ) => {
            let typ = if tjeneste == Ydelsestjeneste::BevillingIndeks {
                &BEVILLING
            } else {
                &EFFEKTUERING
            };
            let uuid = uuid_element(b.one(NS_SD, "UUIDIdentifikator")?)?;
            let note = b.opt_tekst(NS_SD, "NoteTekst")?;
            YdelseOperation::Fjern { typ, uuid, note }
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

/// A YdelseIndeks `Filter`. Given, it shows only what it names ("An empty filter means that no
/// data will be returned", `YdelseIndeksOperationer.xsd:211`). `yi:OekonomiskEffektueringVis`
/// has no value for the OekonomiskEffektueringPart, the relation a search by CPR matches on:
/// fki shows it with anything an OekonomiskEffektueringVis names.
fn ydelse_filter(n: Node<'_, '_>, sti: &str) -> Result<YdelseFilter, Fejl> {
    let mut f = YdelseFilter {
        bevilling: Some(Vis::default()),
        effektuering: Some(Vis::default()),
        ..YdelseFilter::default()
    };
    let mut b = Boern::new(n, sti)?;
    while let Some(c) = b.next_any() {
        let navn = c.tag_name().name();
        if c.tag_name().namespace() != Some(NS_YI) {
            return Err(ugyldig(format!("{sti}: unexpected element {navn}")));
        }
        let p = format!("{sti}/{navn}");
        let vaerdi = if navn.ends_with("Vis") {
            let mut vb = Boern::new(c, &p)?;
            let t = tekst(vb.one(NS_YI, "Vis")?)?;
            vb.slut()?;
            t
        } else {
            tekst(c)?
        };
        let v = vaerdi.trim();
        let ukendt = || ugyldig(format!("{p}: '{v}' is not a value of {navn}"));
        match navn {
            "BevillingVis" => {
                let vis = f.bevilling.get_or_insert_default();
                match ydelse::bevilling_vis(v).ok_or_else(ukendt)? {
                    Ok(del) => vis.dele.push(del),
                    Err(rolle) => vis.roller.push(rolle),
                }
            }
            "OekonomiskEffektueringVis" => {
                let vis = f.effektuering.get_or_insert_default();
                vis.dele
                    .push(ydelse::effektuering_vis(v).ok_or_else(ukendt)?);
                if !vis.dele.contains(&"oekonomiskeffektueringpart") {
                    vis.dele.push("oekonomiskeffektueringpart");
                }
            }
            "BevillingInkluder" => match v {
                "bevilgetydelse" => f.effektueringer = true,
                _ => return Err(ukendt()),
            },
            "OekonomiskEffektueringInkluder" => match v {
                "oekonomiskeydelseeffektueringer" => f.bevillinger = true,
                _ => return Err(ukendt()),
            },
            _ => return Err(ugyldig(format!("{sti}: unexpected element {navn}"))),
        }
    }
    Ok(f)
}
