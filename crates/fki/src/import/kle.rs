//! KLE-Online's `KLE-Emneplan` XML as Klassifikation.
//!
//! The published layout (no namespace; KLE-Online's XSD names the types
//! `HovedgruppeKomponent`, `GruppeKomponent`, `EmneKomponent`):
//!
//! ```text
//! <KLE-Emneplan>
//!   <UdgivelsesDato>…</UdgivelsesDato>
//!   <Hovedgruppe>
//!     <HovedgruppeNr>00</HovedgruppeNr> <HovedgruppeTitel>…</HovedgruppeTitel>
//!     <HovedgruppeVejledning>…</HovedgruppeVejledning>            (optional, text/XHTML)
//!     <HovedgruppeAdministrativInfo>
//!       <OprettetDato>1988-01-01</OprettetDato> <RettetDato>…</RettetDato>*
//!       <Historisk><UdgaaetDato>…</UdgaaetDato></Historisk>       (optional)
//!     </HovedgruppeAdministrativInfo>
//!     <Gruppe> <GruppeNr>00.01</GruppeNr> … <GruppeStikord>…</GruppeStikord>*
//!       <Emne> <EmneNr>00.01.00</EmneNr> … <EmneStikord>…</EmneStikord>* </Emne>
//!     </Gruppe>
//!   </Hovedgruppe>
//! </KLE-Emneplan>
//! ```
//!
//! Also accepted: the component elements named by their type (`HovedgruppeKomponent` …),
//! elements in any namespace (matched by local name), `…Beskrivelse` beside `…Vejledning`,
//! `UdgaaetDato` directly in `…AdministrativInfo`, and stikord as `…Stikord`,
//! `EmneOgHandlingsfacetStikord` or `StikordKomponent`, their text either directly inside or in
//! a child `Tekst`/`StikordTekst`. Everything else (UUID, RetskildeReference, Bevaring …) is
//! skipped. The file is read as a stream (quick-xml): memory holds at most one Hovedgruppe,
//! Gruppe and Emne under construction. A DOCTYPE is refused and only XML's predefined and
//! character references are resolved, so no entity is ever expanded from the document.
//!
//! The mapping: one `klassifikation` (brugervendtnoegle `KLE`), one `facet` (brugervendtnoegle
//! `Emne`, `facettilhoerer` the klassifikation) and a `klasse` per number: brugervendtnoegle the
//! number, `titel`, `beskrivelse` (the Vejledning's text), `soegeord` from the stikord
//! (`[tekst, "", "KLE-stikord"]`), relations `facet` and (below a Hovedgruppe)
//! `overordnetklasse` = the klasse of the enclosing number, state `publiceret` `Publiceret`,
//! all with virkning from `OprettetDato` to `UdgaaetDato` (or infinity). The UUIDs are UUID v5
//! under [`KLE_NAMESPACE`], so importing a newer KLE file updates the same objects.

use anyhow::{Context, bail};
use fki_oio::json::{Mode, parse_write};
use fki_oio::{Bulk, Engine, Kontekst, Skriv, spec};
use quick_xml::events::Event;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Fil, Rapport};

/// The namespace of fki's KLE UUIDs (UUID v5). Fixed forever: it is what makes re-imports land
/// on the same objects. It is itself the UUID v5 of `https://www.kle-online.dk/` in the URL
/// namespace (checked by a test).
pub const KLE_NAMESPACE: Uuid = uuid::uuid!("de97fa23-02b2-528f-aa46-797f5054147c");

/// The klassifikation's UUID.
pub fn klassifikation_uuid() -> Uuid {
    Uuid::new_v5(&KLE_NAMESPACE, b"klassifikation:KLE")
}

/// The Emne facet's UUID.
pub fn facet_uuid() -> Uuid {
    Uuid::new_v5(&KLE_NAMESPACE, b"facet:Emne")
}

/// The klasse of a KLE number (`00`, `00.01`, `00.01.00`).
pub fn klasse_uuid(nr: &str) -> Uuid {
    Uuid::new_v5(&KLE_NAMESPACE, format!("klasse:{nr}").as_bytes())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Niveau {
    Hovedgruppe,
    Gruppe,
    Emne,
}

impl Niveau {
    /// The prefix of the component's field elements.
    fn prefix(self) -> &'static str {
        match self {
            Niveau::Hovedgruppe => "Hovedgruppe",
            Niveau::Gruppe => "Gruppe",
            Niveau::Emne => "Emne",
        }
    }

    fn of_element(name: &str) -> Option<Niveau> {
        match name {
            "Hovedgruppe" | "HovedgruppeKomponent" => Some(Niveau::Hovedgruppe),
            "Gruppe" | "GruppeKomponent" => Some(Niveau::Gruppe),
            "Emne" | "EmneKomponent" => Some(Niveau::Emne),
            _ => None,
        }
    }

    fn child(self) -> Option<Niveau> {
        match self {
            Niveau::Hovedgruppe => Some(Niveau::Gruppe),
            Niveau::Gruppe => Some(Niveau::Emne),
            Niveau::Emne => None,
        }
    }

    /// Digits groups of its number.
    fn parts(self) -> usize {
        match self {
            Niveau::Hovedgruppe => 1,
            Niveau::Gruppe => 2,
            Niveau::Emne => 3,
        }
    }
}

/// A component under construction.
#[derive(Debug)]
struct Punkt {
    niveau: Niveau,
    /// Depth of its element in the document (root = 1).
    depth: usize,
    line: u64,
    nr: Option<String>,
    titel: Option<String>,
    beskrivelse: String,
    stikord: Vec<String>,
    oprettet: Option<String>,
    udgaaet: Option<String>,
}

/// What the text being collected is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Felt {
    Nr,
    Titel,
    Oprettet,
    Udgaaet,
}

pub async fn import(
    engine: &Engine,
    r: &mut Fil,
    myndighed: Option<String>,
) -> anyhow::Result<Rapport> {
    let ctx = Kontekst {
        myndighed,
        faelles: true,
        ..Kontekst::system()
    };
    let mut bulk = engine.bulk().await?.skip_unchanged(true);
    let mut rapport = Rapport::default();
    let klasse = spec::class("klassifikation", "klasse").context("no klasse in the spec")?;

    let mut reader = quick_xml::Reader::from_reader(r);
    reader.config_mut().trim_text(false);
    let mut buf = Vec::new();
    // Local names of the open elements.
    let mut path: Vec<String> = Vec::new();
    let mut stack: Vec<Punkt> = Vec::new();
    let mut tekst = String::new();
    let mut felt: Option<(Felt, usize)> = None;
    // Depth of an open Vejledning/Beskrivelse element of the top component.
    let mut i_beskrivelse: Option<usize> = None;
    // Depth of an open stikord element, and its text.
    let mut i_stikord: Option<usize> = None;
    let mut stikord = String::new();
    let mut udgivet: Option<String> = None;
    let mut saw_root = false;
    let mut n = 0u64;

    loop {
        let line = reader.get_ref().lines + 1;
        let ev = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => bail!(
                "line {line} (byte {}): malformed XML: {e}",
                reader.error_position()
            ),
        };
        match ev {
            Event::Eof => break,
            Event::DocType(_) => {
                bail!("line {line}: a DOCTYPE is not accepted (no DTDs, no entities)")
            }
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                path.push(name);
                let depth = path.len();
                let name = &path[depth - 1];
                if depth == 1 {
                    if name != "KLE-Emneplan" {
                        bail!("line {line}: the root element is <{name}>, not <KLE-Emneplan>");
                    }
                    saw_root = true;
                    continue;
                }
                tekst.clear();
                let top = stack.last();
                // A component: a Hovedgruppe directly in the root, a Gruppe directly in a
                // Hovedgruppe, an Emne directly in a Gruppe.
                if let Some(niveau) = Niveau::of_element(name) {
                    let fits = match top {
                        None => niveau == Niveau::Hovedgruppe && depth == 2,
                        Some(p) => p.niveau.child() == Some(niveau) && depth == p.depth + 1,
                    };
                    if fits {
                        if let Some(p) = top
                            && p.nr.is_none()
                        {
                            bail!(
                                "line {line}: <{name}> inside a {} that has no {}Nr before it",
                                p.niveau.prefix(),
                                p.niveau.prefix()
                            );
                        }
                        stack.push(Punkt {
                            niveau,
                            depth,
                            line,
                            nr: None,
                            titel: None,
                            beskrivelse: String::new(),
                            stikord: Vec::new(),
                            oprettet: None,
                            udgaaet: None,
                        });
                        continue;
                    }
                }
                let Some((niveau, pdepth)) = top.map(|p| (p.niveau, p.depth)) else {
                    continue;
                };
                if i_beskrivelse.is_some() {
                    // Element boundaries inside a Vejledning separate words.
                    if let Some(p) = stack.last_mut() {
                        p.beskrivelse.push(' ');
                    }
                    continue;
                }
                let pre = niveau.prefix();
                let rel = depth - pdepth; // 1 = a field of the component
                if rel == 1 {
                    let f = name.strip_prefix(pre);
                    match f {
                        Some("Nr") => felt = Some((Felt::Nr, depth)),
                        Some("Titel") => felt = Some((Felt::Titel, depth)),
                        Some("Vejledning" | "Beskrivelse") => i_beskrivelse = Some(depth),
                        Some("Stikord") => i_stikord = Some(depth),
                        _ if name == "EmneOgHandlingsfacetStikord"
                            || name == "StikordKomponent" =>
                        {
                            i_stikord = Some(depth)
                        }
                        _ => {}
                    }
                } else if path
                    .get(pdepth)
                    .is_some_and(|a| a.strip_prefix(pre) == Some("AdministrativInfo"))
                {
                    match name.as_str() {
                        "OprettetDato" if rel == 2 => felt = Some((Felt::Oprettet, depth)),
                        "UdgaaetDato" => felt = Some((Felt::Udgaaet, depth)),
                        _ => {}
                    }
                }
            }
            Event::Empty(_) => {}
            // Character data, however written, goes the same way.
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                let s: std::borrow::Cow<'_, str> = match &ev {
                    Event::Text(t) => t
                        .decode()
                        .with_context(|| format!("line {line}: text is not UTF-8"))?,
                    Event::CData(t) => t
                        .decode()
                        .with_context(|| format!("line {line}: CDATA is not UTF-8"))?,
                    Event::GeneralRef(er) => entitet(er, line)?.into(),
                    _ => unreachable!("matched above"),
                };
                add_text(
                    &mut tekst,
                    &mut stikord,
                    &mut stack,
                    i_beskrivelse,
                    i_stikord,
                    &path,
                    &s,
                );
            }
            Event::End(_) => {
                let depth = path.len();
                let name = path.pop().unwrap_or_default();
                if depth == 2 && name == "UdgivelsesDato" && stack.is_empty() {
                    udgivet = Some(tekst.trim().to_owned());
                }
                if let Some((f, d)) = felt
                    && d == depth
                {
                    felt = None;
                    let v = tekst.trim().to_owned();
                    if let Some(p) = stack.last_mut() {
                        match f {
                            Felt::Nr => p.nr = Some(v),
                            Felt::Titel => p.titel = Some(v),
                            Felt::Oprettet => p.oprettet = Some(v),
                            Felt::Udgaaet => p.udgaaet = Some(v),
                        }
                    }
                }
                if i_beskrivelse == Some(depth) {
                    i_beskrivelse = None;
                } else if i_beskrivelse.is_some()
                    && let Some(p) = stack.last_mut()
                {
                    p.beskrivelse.push(' ');
                }
                if i_stikord == Some(depth) {
                    i_stikord = None;
                    let s = collapse(&stikord);
                    stikord.clear();
                    if let Some(p) = stack.last_mut()
                        && !s.is_empty()
                    {
                        p.stikord.push(s);
                    }
                }
                if stack.last().is_some_and(|p| p.depth == depth) {
                    let p = stack.pop().unwrap_or_else(|| unreachable!());
                    let parent = stack.last().and_then(|q| q.nr.clone());
                    let what = format!(
                        "line {}: <{name}> {}",
                        p.line,
                        p.nr.as_deref().unwrap_or("(without number)")
                    );
                    write_klasse(&mut bulk, &ctx, klasse, &p, parent.as_deref(), &mut rapport)
                        .await
                        .with_context(|| what)?;
                    n += 1;
                    if n.is_multiple_of(64) {
                        reader.get_ref().tick();
                    }
                }
                tekst.clear();
            }
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        bail!("no <KLE-Emneplan> element: not a KLE-Emneplan document");
    }
    reader.get_ref().tick();
    write_top(&mut bulk, &ctx, udgivet.as_deref(), &mut rapport).await?;
    bulk.commit().await.context("commit")?;
    Ok(rapport)
}

fn add_text(
    tekst: &mut String,
    stikord: &mut String,
    stack: &mut [Punkt],
    i_beskrivelse: Option<usize>,
    i_stikord: Option<usize>,
    path: &[String],
    s: &str,
) {
    tekst.push_str(s);
    if i_beskrivelse.is_some()
        && let Some(p) = stack.last_mut()
    {
        p.beskrivelse.push_str(s);
    }
    if let Some(d) = i_stikord {
        // The stikord element's own text, or that of a Tekst/StikordTekst child.
        let here = path.len();
        if here == d
            || path
                .last()
                .is_some_and(|n| n == "Tekst" || n == "StikordTekst")
        {
            stikord.push_str(s);
        }
    }
}

/// Whitespace runs to one space, trimmed.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A KLE date (`xs:date`, e.g. `1988-01-01` or `1988-01-01+01:00`) as the date part.
fn dato(v: Option<&str>, element: &str) -> anyhow::Result<String> {
    let v = v.with_context(|| format!("{element} is missing"))?;
    let (d, rest) = v.split_at_checked(10).unwrap_or((v, ""));
    let ok_rest = rest.is_empty()
        || rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':');
    if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() || !ok_rest {
        bail!("{element} {v:?} is not a date (YYYY-MM-DD)");
    }
    Ok(d.to_owned())
}

async fn write_klasse(
    bulk: &mut Bulk<'_>,
    ctx: &Kontekst,
    spec: &'static spec::ClassSpec,
    p: &Punkt,
    parent: Option<&str>,
    rapport: &mut Rapport,
) -> anyhow::Result<()> {
    let pre = p.niveau.prefix();
    let nr =
        p.nr.as_deref()
            .filter(|s| !s.is_empty())
            .with_context(|| format!("{pre}Nr is missing"))?;
    let parts: Vec<&str> = nr.split('.').collect();
    if parts.len() != p.niveau.parts()
        || parts
            .iter()
            .any(|g| g.len() != 2 || !g.bytes().all(|b| b.is_ascii_digit()))
    {
        bail!(
            "{pre}Nr {nr:?} is not a {} number (expected {})",
            pre,
            ["00", "00.00", "00.00.00"][p.niveau.parts() - 1]
        );
    }
    if let Some(parent) = parent
        && !nr.starts_with(&format!("{parent}."))
    {
        bail!("{pre}Nr {nr:?} does not lie below its parent's number {parent:?}");
    }
    let titel = p
        .titel
        .as_deref()
        .map(collapse)
        .filter(|s| !s.is_empty())
        .with_context(|| format!("{pre}Titel is missing or empty"))?;
    let from = dato(
        p.oprettet.as_deref(),
        &format!("{pre}AdministrativInfo/OprettetDato"),
    )?;
    let to = match &p.udgaaet {
        None => "infinity".to_owned(),
        Some(u) => {
            let to = dato(
                Some(u),
                &format!("{pre}AdministrativInfo/Historisk/UdgaaetDato"),
            )?;
            if to <= from {
                bail!("UdgaaetDato {to} is not after OprettetDato {from}");
            }
            to
        }
    };
    let virkning = json!({"from": from, "to": to});
    let mut egenskaber = json!({
        "brugervendtnoegle": nr,
        "titel": titel,
        "virkning": virkning,
    });
    let beskrivelse = collapse(&p.beskrivelse);
    if !beskrivelse.is_empty() {
        egenskaber["beskrivelse"] = Value::from(beskrivelse);
    }
    if !p.stikord.is_empty() {
        egenskaber["soegeord"] = Value::Array(
            p.stikord
                .iter()
                .map(|s| json!([s, "", "KLE-stikord"]))
                .collect(),
        );
    }
    let mut relationer = json!({
        "facet": [{"uuid": facet_uuid().to_string(), "virkning": virkning}],
    });
    if let Some(parent) = parent {
        relationer["overordnetklasse"] =
            json!([{"uuid": klasse_uuid(parent).to_string(), "virkning": virkning}]);
    }
    let body = json!({
        "attributter": {"klasseegenskaber": [egenskaber]},
        "tilstande": {"klassepubliceret": [{"publiceret": "Publiceret", "virkning": virkning}]},
        "relationer": relationer,
    });
    let a = parse_write(spec, &body, Mode::Create).context("invalid as a klasse")?;
    let u = bulk
        .write(ctx, spec, klasse_uuid(nr), Skriv::Importer(a))
        .await?;
    rapport.tael(spec.name, u);
    Ok(())
}

/// The klassifikation and the facet, written after the klasser (the UdgivelsesDato comes first
/// in the file, but writing them last keeps the parse a single pass).
async fn write_top(
    bulk: &mut Bulk<'_>,
    ctx: &Kontekst,
    udgivet: Option<&str>,
    rapport: &mut Rapport,
) -> anyhow::Result<()> {
    let virkning = json!({"from": "-infinity", "to": "infinity"});
    let kl = spec::class("klassifikation", "klassifikation").context("no klassifikation")?;
    let mut eg = json!({
        "brugervendtnoegle": "KLE",
        "titel": "KLE-Emneplan",
        "beskrivelse": "Kommunernes Landsdækkende Emnesystematik",
        "virkning": virkning,
    });
    if let Some(d) = udgivet.filter(|d| !d.is_empty()) {
        eg["beskrivelse"] = Value::from(format!(
            "Kommunernes Landsdækkende Emnesystematik, udgivet {d}"
        ));
    }
    let body = json!({
        "attributter": {"klassifikationegenskaber": [eg]},
        "tilstande": {"klassifikationpubliceret": [{"publiceret": "Publiceret", "virkning": virkning}]},
    });
    let a = parse_write(kl, &body, Mode::Create).context("the KLE klassifikation")?;
    let u = bulk
        .write(ctx, kl, klassifikation_uuid(), Skriv::Importer(a))
        .await?;
    rapport.tael(kl.name, u);

    let facet = spec::class("klassifikation", "facet").context("no facet")?;
    let body = json!({
        "attributter": {"facetegenskaber": [{
            "brugervendtnoegle": "Emne",
            "titel": "KLE emner",
            "virkning": virkning,
        }]},
        "tilstande": {"facetpubliceret": [{"publiceret": "Publiceret", "virkning": virkning}]},
        "relationer": {"facettilhoerer": [{"uuid": klassifikation_uuid().to_string(), "virkning": virkning}]},
    });
    let a = parse_write(facet, &body, Mode::Create).context("the KLE Emne facet")?;
    let u = bulk
        .write(ctx, facet, facet_uuid(), Skriv::Importer(a))
        .await?;
    rapport.tael(facet.name, u);
    Ok(())
}

/// The text of an entity or character reference: XML's five predefined entities and character
/// references only.
fn entitet(
    er: &quick_xml::events::BytesRef<'_>,
    line: impl std::fmt::Display,
) -> anyhow::Result<String> {
    Ok(match er.resolve_char_ref() {
        Ok(Some(c)) => c.to_string(),
        Ok(None) => {
            let name = er.decode().unwrap_or_default();
            match &*name {
                "amp" => "&".into(),
                "lt" => "<".into(),
                "gt" => ">".into(),
                "quot" => "\"".into(),
                "apos" => "'".into(),
                other => bail!(
                    "line {line}: unknown entity &{other}; (only XML's predefined \
                     entities and character references are accepted)"
                ),
            }
        }
        Err(e) => bail!("line {line}: bad character reference: {e}"),
    })
}
