//! Værdilister over SOAP 1.1 (SF1460_B, VærdilisteRediger; item 4 of issue 4), and
//! FlytBeskedTilFejlkoe: the Beskedfordeler's SOAP port
//! (`../shared/specs/sf1460-beskedfordeler/wsdl/Beskedfordeler.wsdl`, messages of
//! `xsd/VaerdilisteOperationer.xsd`, `xsd/VaerdiListe.xsd` and `xsd/BeskedfordelerOperationer.xsd`).
//!
//! `POST /service/Beskedfordeler/1`, WS-Security with a token for `bfo_modtag/2` (the receiving
//! side manages the lists its filters use; [`crate::sts::soap::WsSecured`]). The operation is
//! the Body's element, in namespace `urn:oio:sts:beskedfordeler:vaerdiliste:1.0.0`:
//!
//! | element | soapAction `…/vaerdiliste/` | does |
//! |---|---|---|
//! | `OpretInput` | `opret` | a new list from its one `Egenskab` (`Navn`, `Vaerdi`*, `BrugervendtNoegleTekst`) |
//! | `ImportInput` | `import` | create or replace the list with the given UUID (`Importeret`) |
//! | `RetInput` | `ret` | replace name, key and values (`Rettet`) |
//! | `LaesInput` | `laes` | the list as a `Registrering` |
//! | `ListInput` | `list` | several, as `FiltreretOejebliksbillede` (with their UUIDs) |
//! | `SoegInput` | `soeg` | UUIDs of lists whose `Navn`/`BrugervendtNoegleTekst` match (`%` is a wildcard) and that hold every given `Vaerdi` |
//! | `SletInput` | `slet` | delete it and its values |
//! | `PassiverInput` | `passiver` | keep it, but it matches nothing any more (`Passiveret`) |
//! | `TilfoejVaerdierInput` | `tilfoejvaerdier` | add values |
//! | `FjernVaerdierInput` | `fjernvaerdier` | remove values |
//!
//! plus `bf:FlytBeskedTilFejlkoeInput` (`urn:oio:sts:beskedfordeler:1.0.0`): the caller's
//! waiting copy of that Haendelsesbesked (by BeskedId) moves to its dueslag's fejlkø.
//!
//! A list belongs to the system that created it: only that system reads, changes or finds it
//! (another's list is answered as unknown). Every change takes effect on the very next message
//! distributed. Answers carry `sd:StandardRetur`: 20, 40 (the text names the element), 42 (no
//! such list), 50. The request body limit is 1 MiB; larger lists are filled with several
//! `TilfoejVaerdier`.

use std::collections::HashSet;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use fki_beskedfordeler::kuvert::{Haendelsesbesked, NS_BESKEDFORDELER, NS_SAGDOK, UnikId};
use fki_beskedfordeler::retur::{StandardRetur, StatusKode};
use fki_store::besked::{Livscyklus, Vaerdiliste};
use fki_sts::xml::{self, Limits};
use roxmltree::Node;
use uuid::Uuid;

use super::BFO_MODTAG;
use crate::AppState;
use crate::sts::soap::{SecuredService, WsSecured};

/// Namespace of the Værdiliste messages.
pub const NS_VAERDILISTE: &str = "urn:oio:sts:beskedfordeler:vaerdiliste:1.0.0";
/// The SOAP port's path.
pub const PATH: &str = "/service/Beskedfordeler/1";

/// The Beskedfordeler's SOAP port, for [`WsSecured`].
pub struct BeskedfordelerSoap;

impl SecuredService for BeskedfordelerSoap {
    const ENTITY_ID: &'static str = BFO_MODTAG;
}

pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, post(soap))
}

/// A business error: StatusKode and text.
struct Fejl(StatusKode, String);

fn ugyldig(t: impl Into<String>) -> Fejl {
    Fejl(StatusKode::UgyldigInput, t.into())
}

impl From<fki_oio::store::StoreError> for Fejl {
    fn from(e: fki_oio::store::StoreError) -> Self {
        tracing::error!(error = %e, "Værdiliste store failure");
        Fejl(StatusKode::Fejl, "internal error".into())
    }
}

impl From<xml::XmlError> for Fejl {
    fn from(e: xml::XmlError) -> Self {
        ugyldig(e.to_string())
    }
}

type Svar = Result<String, Fejl>;

/// The SOAP 1.1 envelope around an output element.
fn envelope(body: &str) -> Response {
    let mut r = (
        StatusCode::OK,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{body}</soap:Body></soap:Envelope>"
        ),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    r
}

/// `<{prefix}:{element}>` with StandardRetur and `rest`, namespaces declared on it.
fn output(element: &str, ns: &str, retur: &StandardRetur, rest: &str) -> String {
    format!(
        "<o:{element} xmlns:o=\"{ns}\" xmlns:vl=\"{NS_VAERDILISTE}\" xmlns:sd=\"{NS_SAGDOK}\">{}{rest}</o:{element}>",
        retur.to_xml()
    )
}

fn esc(s: &str) -> String {
    xml::escape_text(s)
}

fn tid(ts: i64) -> String {
    format!(
        "<sd:TidsstempelDatoTid>{}</sd:TidsstempelDatoTid>",
        esc(&fki_oio::time::format_iso(ts))
    )
}

/// `AttributListe`, `TilstandListe`, `RelationListe` of a list.
fn lister_xml(l: &Vaerdiliste, vaerdier: &[String]) -> String {
    let mut s = String::from("<vl:AttributListe><vl:Egenskab>");
    if let Some(b) = &l.brugervendtnoegle {
        s.push_str(&format!(
            "<sd:BrugervendtNoegleTekst>{}</sd:BrugervendtNoegleTekst>",
            esc(b)
        ));
    }
    s.push_str(&format!(
        "<vl:Vaerdiliste><vl:Navn>{}</vl:Navn>",
        esc(&l.navn)
    ));
    for v in vaerdier {
        s.push_str(&format!("<vl:Vaerdi>{}</vl:Vaerdi>", esc(v)));
    }
    s.push_str(&format!(
        "</vl:Vaerdiliste><sd:Virkning><sd:FraTidspunkt>{}</sd:FraTidspunkt>\
<sd:AktoerRef><sd:UUIDIdentifikator>{}</sd:UUIDIdentifikator></sd:AktoerRef>\
<sd:AktoerTypeKode>ItSystem</sd:AktoerTypeKode></sd:Virkning></vl:Egenskab></vl:AttributListe>\
<vl:TilstandListe/><vl:RelationListe/>",
        tid(l.oprettet),
        l.ejer
    ));
    s
}

/// The list's current `Registrering`.
fn registrering_xml(l: &Vaerdiliste, vaerdier: &[String]) -> String {
    let mut s = format!(
        "<vl:Registrering><sd:FraTidspunkt>{}</sd:FraTidspunkt><sd:LivscyklusKode>{}</sd:LivscyklusKode>\
<sd:BrugerRef><sd:UUIDIdentifikator>{}</sd:UUIDIdentifikator></sd:BrugerRef>",
        tid(l.aendret),
        l.livscyklus.as_str(),
        l.ejer
    );
    s.push_str(&lister_xml(l, vaerdier));
    s.push_str("</vl:Registrering>");
    s
}

/// The operation element of a request: the Body's first element child (the element the
/// verified signature covers).
fn operation<'a, 'i>(doc: &'a roxmltree::Document<'i>) -> Result<Node<'a, 'i>, Fejl> {
    doc.root_element()
        .children()
        .find(|n| n.is_element() && n.tag_name().name() == "Body")
        .ok_or_else(|| ugyldig("no soap:Body"))?
        .first_element_child()
        .ok_or_else(|| ugyldig("empty soap:Body"))
}

async fn soap(
    axum::extract::State(st): axum::extract::State<AppState>,
    secured: WsSecured<BeskedfordelerSoap>,
) -> Response {
    let ejer = secured.caller.as_ref().map(|c| c.system);
    let cvr = secured.caller.as_ref().map(|c| c.cvr.clone());
    let fejl = |e: String| {
        envelope(&output(
            "Output",
            NS_VAERDILISTE,
            &StandardRetur::fejl(StatusKode::UgyldigInput, e),
            "",
        ))
    };
    let text = match xml::as_text(&secured.body, Limits::default()) {
        Ok(t) => t,
        Err(e) => return fejl(e.to_string()),
    };
    let doc = match xml::parse(text, Limits::default()) {
        Ok(d) => d,
        Err(e) => return fejl(e.to_string()),
    };
    let op = match operation(&doc) {
        Ok(op) => op,
        Err(Fejl(_, t)) => return fejl(t),
    };
    let ns = op.tag_name().namespace().unwrap_or("");
    let navn = op.tag_name().name();
    let output_navn = navn.replace("Input", "Output");
    let (out_ns, result) = if ns == NS_VAERDILISTE {
        let r = match navn {
            "OpretInput" => opret(&st, ejer, op).await,
            "ImportInput" => import(&st, ejer, op).await,
            "RetInput" => ret(&st, ejer, op).await,
            "LaesInput" => laes(&st, ejer, op).await,
            "ListInput" => list(&st, ejer, op).await,
            "SoegInput" => soeg(&st, ejer, op).await,
            "SletInput" => slet(&st, ejer, op).await,
            "PassiverInput" => passiver(&st, ejer, op).await,
            "TilfoejVaerdierInput" => vaerdier(&st, ejer, op, true).await,
            "FjernVaerdierInput" => vaerdier(&st, ejer, op, false).await,
            other => Err(ugyldig(format!("unknown operation {other}"))),
        };
        (NS_VAERDILISTE, r)
    } else if ns == NS_BESKEDFORDELER && navn == "FlytBeskedTilFejlkoeInput" {
        (
            NS_BESKEDFORDELER,
            flyt_til_fejlkoe(&st, ejer, cvr.as_deref(), op).await,
        )
    } else {
        (
            NS_VAERDILISTE,
            Err(ugyldig(format!("unknown operation {{{ns}}}{navn}"))),
        )
    };
    let body = match result {
        Ok(rest) => output(&output_navn, out_ns, &StandardRetur::ok(), &rest),
        Err(Fejl(k, t)) => output(&output_navn, out_ns, &StandardRetur::fejl(k, t), ""),
    };
    envelope(&body)
}

// ---------------------------------------------------------------------------------------------
// Reading the input

fn sd<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    xml::child(n, NS_SAGDOK, name)
}

fn vl<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    xml::child(n, NS_VAERDILISTE, name)
}

fn uuid_of(n: Node<'_, '_>, sti: &str) -> Result<Uuid, Fejl> {
    let u = sd(n, "UUIDIdentifikator")
        .ok_or_else(|| ugyldig(format!("{sti}/UUIDIdentifikator is missing")))?;
    xml::text(u)
        .parse()
        .map_err(|_| ugyldig(format!("{sti}/UUIDIdentifikator is not a UUID")))
}

fn note(n: Node<'_, '_>) -> Option<String> {
    sd(n, "NoteTekst").map(xml::text).filter(|t| !t.is_empty())
}

/// The one `Egenskab` of an `AttributListe`: (navn, brugervendtnoegle, values).
fn egenskab(al: Node<'_, '_>, sti: &str) -> Result<(String, Option<String>, Vec<String>), Fejl> {
    let mut es = xml::children(al, NS_VAERDILISTE, "Egenskab");
    let e = es.next().ok_or_else(|| {
        ugyldig(format!(
            "{sti}/Egenskab: a Værdiliste has exactly one Egenskab"
        ))
    })?;
    if es.next().is_some() {
        return Err(ugyldig(format!(
            "{sti}/Egenskab: a Værdiliste has exactly one Egenskab"
        )));
    }
    let v = vl(e, "Vaerdiliste")
        .ok_or_else(|| ugyldig(format!("{sti}/Egenskab/Vaerdiliste is missing")))?;
    let navn = vl(v, "Navn")
        .map(xml::text)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ugyldig(format!(
                "{sti}/Egenskab/Vaerdiliste/Navn is missing or empty"
            ))
        })?;
    let vaerdier = xml::children(v, NS_VAERDILISTE, "Vaerdi")
        .map(xml::text)
        .filter(|t| !t.is_empty())
        .collect();
    let bvn = sd(e, "BrugervendtNoegleTekst")
        .map(xml::text)
        .filter(|t| !t.is_empty());
    Ok((navn, bvn, vaerdier))
}

/// A list the caller may see (`ejer` `None`: `--dev-open`, every list).
async fn egen_liste(st: &AppState, ejer: Option<Uuid>, u: Uuid) -> Result<Vaerdiliste, Fejl> {
    match st.beskedfordeler.store.hent_vaerdiliste(u).await? {
        Some(l) if ejer.is_none_or(|e| e == l.ejer) => Ok(l),
        _ => Err(Fejl(StatusKode::IkkeFundet, format!("no Værdiliste {u}"))),
    }
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    v.into_iter().filter(|x| seen.insert(x.clone())).collect()
}

// ---------------------------------------------------------------------------------------------
// Operations

async fn opret(st: &AppState, ejer: Option<Uuid>, op: Node<'_, '_>) -> Svar {
    let al =
        vl(op, "AttributListe").ok_or_else(|| ugyldig("OpretInput/AttributListe is missing"))?;
    let (navn, bvn, vaerdier) = egenskab(al, "OpretInput/AttributListe")?;
    let nu = fki_oio::time::now();
    let mut l = Vaerdiliste::ny(Uuid::new_v4(), navn, ejer.unwrap_or(Uuid::nil()), nu);
    l.brugervendtnoegle = bvn;
    l.note = note(op);
    let store = &st.beskedfordeler.store;
    store.opret_vaerdiliste(&l).await?;
    let vaerdier = dedup(vaerdier);
    if !vaerdier.is_empty() {
        store.tilfoej_vaerdier(l.uuid, &vaerdier).await?;
    }
    st.beskedfordeler.changed();
    let l = egen_liste(st, ejer, l.uuid).await?;
    let mut sorted = vaerdier;
    sorted.sort();
    Ok(format!(
        "<vl:Vaerdiliste><sd:UUIDIdentifikator>{}</sd:UUIDIdentifikator>{}</vl:Vaerdiliste>",
        l.uuid,
        registrering_xml(&l, &sorted)
    ))
}

async fn import(st: &AppState, ejer: Option<Uuid>, op: Node<'_, '_>) -> Svar {
    let v = vl(op, "Vaerdiliste").ok_or_else(|| ugyldig("ImportInput/Vaerdiliste is missing"))?;
    let u = uuid_of(v, "ImportInput/Vaerdiliste")?;
    let reg = xml::children(v, NS_VAERDILISTE, "Registrering")
        .last()
        .ok_or_else(|| ugyldig("ImportInput/Vaerdiliste/Registrering is missing"))?;
    let al = vl(reg, "AttributListe")
        .ok_or_else(|| ugyldig("ImportInput/Vaerdiliste/Registrering/AttributListe is missing"))?;
    let (navn, bvn, vaerdier) = egenskab(al, "ImportInput/Vaerdiliste/Registrering/AttributListe")?;
    let store = &st.beskedfordeler.store;
    let nu = fki_oio::time::now();
    let eksisterende = store.hent_vaerdiliste(u).await?;
    if let Some(e) = &eksisterende
        && ejer.is_some_and(|o| o != e.ejer)
    {
        return Err(Fejl(
            StatusKode::Konflikt,
            format!("Værdiliste {u} belongs to another system"),
        ));
    }
    let mut l = match eksisterende {
        Some(e) => e,
        None => {
            let l = Vaerdiliste::ny(u, navn.clone(), ejer.unwrap_or(Uuid::nil()), nu);
            store.opret_vaerdiliste(&l).await?;
            l
        }
    };
    l.navn = navn;
    l.brugervendtnoegle = bvn;
    l.note = note(op);
    l.livscyklus = Livscyklus::Importeret;
    l.aendret = nu;
    store.ret_vaerdiliste(&l).await?;
    store.erstat_vaerdier(u, &dedup(vaerdier)).await?;
    st.beskedfordeler.changed();
    Ok(String::new())
}

async fn ret(st: &AppState, ejer: Option<Uuid>, op: Node<'_, '_>) -> Svar {
    let u = uuid_of(op, "RetInput")?;
    let mut l = egen_liste(st, ejer, u).await?;
    let store = &st.beskedfordeler.store;
    if let Some(al) = vl(op, "AttributListe") {
        let (navn, bvn, vaerdier) = egenskab(al, "RetInput/AttributListe")?;
        l.navn = navn;
        l.brugervendtnoegle = bvn;
        store.erstat_vaerdier(u, &dedup(vaerdier)).await?;
    }
    l.note = note(op);
    l.livscyklus = Livscyklus::Rettet;
    l.aendret = fki_oio::time::now();
    store.ret_vaerdiliste(&l).await?;
    st.beskedfordeler.changed();
    Ok(String::new())
}

async fn laes(st: &AppState, ejer: Option<Uuid>, op: Node<'_, '_>) -> Svar {
    let u = uuid_of(op, "LaesInput")?;
    let l = egen_liste(st, ejer, u).await?;
    let vaerdier = st.beskedfordeler.store.vaerdier(u).await?;
    Ok(format!(
        "<vl:LaesResultat>{}</vl:LaesResultat>",
        registrering_xml(&l, &vaerdier)
    ))
}

async fn list(st: &AppState, ejer: Option<Uuid>, op: Node<'_, '_>) -> Svar {
    let ids: Vec<Node> = xml::children(op, NS_SAGDOK, "UUIDIdentifikator").collect();
    if ids.is_empty() {
        return Err(ugyldig("ListInput/UUIDIdentifikator is missing"));
    }
    let mut out = String::new();
    let mut ukendte = Vec::new();
    for n in ids {
        let t = xml::text(n);
        let u: Uuid = t
            .parse()
            .map_err(|_| ugyldig(format!("ListInput/UUIDIdentifikator {t:?} is not a UUID")))?;
        match egen_liste(st, ejer, u).await {
            Ok(l) => {
                let vaerdier = st.beskedfordeler.store.vaerdier(u).await?;
                out.push_str(&format!(
                    "<vl:LaesResultat><vl:FiltreretOejebliksbillede><sd:UUIDIdentifikator>{u}</sd:UUIDIdentifikator>{}</vl:FiltreretOejebliksbillede></vl:LaesResultat>",
                    lister_xml(&l, &vaerdier)
                ));
            }
            Err(Fejl(StatusKode::IkkeFundet, _)) => ukendte.push(u.to_string()),
            Err(e) => return Err(e),
        }
    }
    if !ukendte.is_empty() && out.is_empty() {
        return Err(Fejl(
            StatusKode::IkkeFundet,
            format!("no Værdiliste {}", ukendte.join(", ")),
        ));
    }
    Ok(out)
}

/// `%` matches any run of characters; otherwise equal (case-insensitive).
fn monster(pattern: &str, value: &str) -> bool {
    let (p, v) = (pattern.to_lowercase(), value.to_lowercase());
    let parts: Vec<&str> = p.split('%').collect();
    if parts.len() == 1 {
        return p == v;
    }
    let mut rest = v.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

async fn soeg(st: &AppState, ejer: Option<Uuid>, op: Node<'_, '_>) -> Svar {
    let tal = |name: &str| -> Result<Option<usize>, Fejl> {
        sd(op, name)
            .map(|n| {
                xml::text(n)
                    .parse::<usize>()
                    .map_err(|_| ugyldig(format!("SoegInput/{name} is not a whole number ≥ 0")))
            })
            .transpose()
    };
    let foerste = tal("FoersteResultatReference")?.unwrap_or(0);
    let maks = tal("MaksimalAntalKvantitet")?.unwrap_or(usize::MAX);
    let objekt = vl(op, "SoegObjekt");
    let uuid = objekt
        .and_then(|o| sd(o, "UUIDIdentifikator"))
        .map(xml::text);
    let egenskaber: Vec<Node> = objekt
        .and_then(|o| vl(o, "SoegAttributListe"))
        .map(|a| xml::children(a, NS_VAERDILISTE, "SoegEgenskab").collect())
        .unwrap_or_default();
    let store = &st.beskedfordeler.store;
    let mut fundne = Vec::new();
    for l in store.list_vaerdilister(ejer).await? {
        if uuid
            .as_deref()
            .is_some_and(|u| !u.eq_ignore_ascii_case(&l.uuid.to_string()))
        {
            continue;
        }
        let mut ok = true;
        for e in &egenskaber {
            let bvn: Option<String> = sd(*e, "BrugervendtNoegleTekst").map(|n| xml::text(n));
            if let Some(b) = bvn
                && !monster(&b, l.brugervendtnoegle.as_deref().unwrap_or(""))
            {
                ok = false;
            }
            if let Some(v) = vl(*e, "Vaerdiliste") {
                if let Some(n) = vl(v, "Navn").map(xml::text)
                    && !n.is_empty()
                    && !monster(&n, &l.navn)
                {
                    ok = false;
                }
                let skal: Vec<String> = xml::children(v, NS_VAERDILISTE, "Vaerdi")
                    .map(xml::text)
                    .collect();
                if ok && !skal.is_empty() {
                    let har: HashSet<String> = store.vaerdier(l.uuid).await?.into_iter().collect();
                    ok = skal.iter().all(|s| har.contains(s));
                }
            }
        }
        if ok {
            fundne.push(l.uuid);
        }
    }
    fundne.sort();
    let ids: String = fundne
        .into_iter()
        .skip(foerste)
        .take(maks)
        .map(|u| format!("<sd:UUIDIdentifikator>{u}</sd:UUIDIdentifikator>"))
        .collect();
    Ok(format!("<sd:IdListe>{ids}</sd:IdListe>"))
}

async fn slet(st: &AppState, ejer: Option<Uuid>, op: Node<'_, '_>) -> Svar {
    let u = uuid_of(op, "SletInput")?;
    egen_liste(st, ejer, u).await?;
    st.beskedfordeler.store.slet_vaerdiliste(u).await?;
    st.beskedfordeler.changed();
    Ok(String::new())
}

async fn passiver(st: &AppState, ejer: Option<Uuid>, op: Node<'_, '_>) -> Svar {
    let u = uuid_of(op, "PassiverInput")?;
    let mut l = egen_liste(st, ejer, u).await?;
    l.livscyklus = Livscyklus::Passiveret;
    l.note = note(op);
    l.aendret = fki_oio::time::now();
    st.beskedfordeler.store.ret_vaerdiliste(&l).await?;
    st.beskedfordeler.changed();
    Ok(String::new())
}

async fn vaerdier(st: &AppState, ejer: Option<Uuid>, op: Node<'_, '_>, tilfoej: bool) -> Svar {
    let navn = op.tag_name().name();
    let u = uuid_of(op, navn)?;
    egen_liste(st, ejer, u).await?;
    let v: Vec<String> = dedup(
        xml::children(op, NS_VAERDILISTE, "Vaerdier")
            .map(xml::text)
            .filter(|t| !t.is_empty())
            .collect(),
    );
    let store = &st.beskedfordeler.store;
    if tilfoej {
        store.tilfoej_vaerdier(u, &v).await?;
    } else {
        store.fjern_vaerdier(u, &v).await?;
    }
    st.beskedfordeler.changed();
    Ok(String::new())
}

/// FlytBeskedTilFejlkoe: the caller's waiting copy of the message moves to the fejlkø.
async fn flyt_til_fejlkoe(
    st: &AppState,
    ejer: Option<Uuid>,
    cvr: Option<&str>,
    op: Node<'_, '_>,
) -> Svar {
    let h = Haendelsesbesked::from_wrapper(op, "FlytBeskedTilFejlkoeInput")
        .map_err(|e| ugyldig(e.to_string()))?;
    let UnikId::Uuid(id) = h.besked_id else {
        return Err(ugyldig("Haendelsesbesked/BeskedId must be a UUID"));
    };
    let store = &st.beskedfordeler.store;
    let mut flyttet = 0;
    for d in store.list_dueslag(ejer).await? {
        if cvr.is_some_and(|c| c != d.myndighed) {
            continue;
        }
        for l in store.klar(d.uuid, i64::MAX, 10_000).await? {
            if l.besked.besked_id == id
                && store
                    .til_fejlkoe(
                        d.uuid,
                        l.levering.loebenr,
                        "moved to the fejlkø by the receiver (FlytBeskedTilFejlkoe)",
                    )
                    .await?
            {
                flyttet += 1;
            }
        }
    }
    if flyttet == 0 {
        return Err(Fejl(
            StatusKode::IkkeFundet,
            format!("no waiting message {id} in the caller's dueslag"),
        ));
    }
    st.beskedfordeler
        .metrics
        .dead_lettered
        .fetch_add(flyttet, std::sync::atomic::Ordering::Relaxed);
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::monster;

    #[test]
    fn wildcards() {
        assert!(monster("borgere", "Borgere"));
        assert!(monster("bor%", "Borgere"));
        assert!(monster("%gere", "Borgere"));
        assert!(monster("b%g%e", "Borgere"));
        assert!(monster("%", ""));
        assert!(!monster("borgere", "borger"));
        assert!(!monster("x%", "Borgere"));
        assert!(!monster("b%x%e", "Borgere"));
    }
}
