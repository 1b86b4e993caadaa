//! Sags- og dokumentindeks (SF1470 v6) over SOAP, on the OIO engine.
//!
//! Endpoints (SOAP 1.1 or 1.2, WS-Security with a token for
//! [`ENTITY_SAGDOKUMENTINDEKS`] and an active agreement for the token's CVR):
//! - `/sagdokumentindeks/6` (and KOMBIT's `/sts-soap-sagdok/sagdokumentindeks/6`): importer,
//!   opdater, fremsoeg, fjern (`../shared/specs/sf1470-sagdokumentindeks/wsdl/SagDokumentIndeksService_6.wsdl`);
//! - `/sagindeks/6` and `/dokumentindeks/6`: passiver, slet, kasser (the `PassiverInput`,
//!   `SletInput`, `KasserInput` of `SagOperationer.xsd`, `SagIndeksOperationer.xsd`,
//!   `DokumentIndeksOperationer.xsd`; KOMBIT publishes no WSDL for them).
//!
//! The rules (`fki_indeks::regler`): every write is checked against fki's own Organisation and
//! Klassifikation data before anything is stored, and refused with StatusKode 40 naming every
//! broken rule and missing UUID. The writing anvendersystem becomes the entry's owner (engine
//! group `ejer`); only it may change, passivate, delete or remove the entry. Readers see the
//! entries of the token's myndighed only, filtered by their agreement's data restrictions:
//! - `Foelsomhed`: a comma-separated list of the Foelsomhed levels the agreement may read
//!   (default `IKKE_FORTROLIGE_DATA,FORTROLIGE_PERSONOPLYSNINGER`); an entry without a level is
//!   `IKKE_FORTROLIGE_DATA`;
//! - `OffentlighedUndtaget` = `ja`: see the real Titel and Beskrivelse of an entry that is
//!   exempt from access to public records; without it the Titel is the AlternativTitel and the
//!   Beskrivelse is left out.
//!   The owning system always sees its own entries whole.
//!
//! Every stored change is a Haendelsesbesked in the Beskedfordeler (the engine's change
//! listener, `beskedfordeler::haendelser`), ObjektType `urn:oio:objekttype:sagindeks` /
//! `…:dokumentindeks`.
//!
//! The validation mode (`POST /admin/valider/sf1470`, `fki validate sf1470 FILE`) runs the
//! same reading and rules without storing anything and lists every broken rule.

use std::collections::{BTreeSet, HashSet};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use fki_indeks::operation::{self, Fremsoeg, Operation, Sortering, Tjeneste, Udtryk};
use fki_indeks::regler::{self, Brud, Opslag, Skrivning};
use fki_indeks::sagdok::{self, DOKUMENT, Indekstype, SAG, Vis};
use fki_indeks::soeg;
use fki_indeks::svar::{self, Antal};
use fki_oio::json::{Mode, parse_write};
use fki_oio::model::{Livscyklus, Maal, Registrering};
use fki_oio::query::{Forespoergsel, Tid, parse_class_query};
use fki_oio::store::{Historik, RegWindow, Scope};
use fki_oio::{Kontekst, OioError, Skriv};
use fki_organisation::{Fejl, StatusKode};
use fki_sts::fault::FaultCode;
use fki_sts::wssec::SoapVersion;
use fki_sts::xml::{self, Limits};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::admin::{Admin, AdminError, AdminResult};
use crate::sts::ENTITY_SAGDOKUMENTINDEKS;
use crate::sts::guard::Caller;
use crate::sts::issue::fault_response;
use crate::sts::soap::{SecuredService, WsSecured};

pub mod overblik;

/// The Sags- og dokumentindeks service (tokens with this audience).
pub struct SagDokumentIndeksService;
impl SecuredService for SagDokumentIndeksService {
    const ENTITY_ID: &'static str = ENTITY_SAGDOKUMENTINDEKS;
}

/// The paths and the service each addresses.
const STIER: &[(&str, Tjeneste)] = &[
    ("/sagdokumentindeks/6", Tjeneste::SagDokumentIndeks),
    (
        "/sts-soap-sagdok/sagdokumentindeks/6",
        Tjeneste::SagDokumentIndeks,
    ),
    ("/sagindeks/6", Tjeneste::SagIndeks),
    ("/dokumentindeks/6", Tjeneste::DokumentIndeks),
];

/// Answers at most this many objects per kind in one fremsoeg (KOMBIT's paging default).
pub const MAKS_RESULTATER: usize = 500;

/// The SOAP routes and the validation endpoint (admin token).
pub fn routes() -> Router<AppState> {
    let mut r = Router::new().route("/admin/valider/sf1470", post(valider_http));
    for (sti, tjeneste) in STIER {
        let tjeneste = *tjeneste;
        let h = post(
            move |State(st): State<AppState>,
                  headers: HeaderMap,
                  slot: Option<axum::Extension<crate::optagelse::Slot>>,
                  secured: WsSecured<SagDokumentIndeksService>| async move {
                soap(st, headers, tjeneste, slot.map(|s| s.0), secured).await
            },
        );
        r = r.route(sti, h.clone()).route(&format!("{sti}/"), h);
    }
    r
}

/// Who calls: the engine context, the anvendersystem, what it may read, at which index service.
pub(crate) struct Kald {
    pub(crate) ctx: Kontekst,
    pub(crate) system: Option<String>,
    pub(crate) adgang: Laeseadgang,
    pub(crate) tjeneste: &'static Indekstjeneste,
}

/// An index service, for its audit entries: its entity ID, SF number and the prefix of its
/// audit events (`<prefix>_fjern`, `<prefix>_afvist` …).
pub(crate) struct Indekstjeneste {
    pub(crate) entity: &'static str,
    pub(crate) sf: &'static str,
    pub(crate) audit: &'static str,
}

/// The Sags- og dokumentindeks.
pub(crate) const SDI: Indekstjeneste = Indekstjeneste {
    entity: ENTITY_SAGDOKUMENTINDEKS,
    sf: "SF1470",
    audit: "sagdokumentindeks",
};

/// What the caller's agreement lets it read (see the module docs).
#[derive(Debug, Clone)]
pub struct Laeseadgang {
    pub foelsomhed: Vec<String>,
    pub offentlighed_undtaget: bool,
}

impl Default for Laeseadgang {
    fn default() -> Self {
        Laeseadgang {
            foelsomhed: vec![
                "IKKE_FORTROLIGE_DATA".into(),
                "FORTROLIGE_PERSONOPLYSNINGER".into(),
            ],
            offentlighed_undtaget: false,
        }
    }
}

impl Laeseadgang {
    /// From the (navn, værdi) data restrictions of the caller's active agreements.
    pub fn af<'a>(afgraensninger: impl IntoIterator<Item = (&'a str, &'a str)>) -> Laeseadgang {
        let mut a = Laeseadgang::default();
        let mut niveauer: Option<Vec<String>> = None;
        for (navn, vaerdi) in afgraensninger {
            if navn.eq_ignore_ascii_case("Foelsomhed") {
                niveauer.get_or_insert_default().extend(
                    vaerdi
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty()),
                );
            }
            if navn.eq_ignore_ascii_case("OffentlighedUndtaget")
                && ["ja", "true", "1"]
                    .iter()
                    .any(|j| vaerdi.trim().eq_ignore_ascii_case(j))
            {
                a.offentlighed_undtaget = true;
            }
        }
        if let Some(n) = niveauer {
            a.foelsomhed = n;
        }
        a
    }
}

async fn soap(
    st: AppState,
    headers: HeaderMap,
    tjeneste: Tjeneste,
    slot: Option<crate::optagelse::Slot>,
    secured: WsSecured<SagDokumentIndeksService>,
) -> Response {
    besvar(&st, &headers, slot, secured, &SDI, |body, version| {
        laes_kald(
            body,
            version,
            |ns, navn| operation::output_element(tjeneste, ns, navn),
            |op| operation::laes(tjeneste, op),
        )
    })
    .await
}

/// An operation of an index service, as [`besvar`] runs it.
pub(crate) trait Indeksoperation: Sized {
    /// Its name in the call record.
    fn navn(&self) -> &'static str;
    /// Run it for the caller `k`; the answer's output element, or the error it is answered
    /// with.
    async fn udfoer(
        self,
        st: &AppState,
        k: &Kald,
        hvem: Hvem<'_>,
        out_ns: &'static str,
        output: &'static str,
    ) -> Result<String, Fejl>;
}

impl Indeksoperation for Operation {
    fn navn(&self) -> &'static str {
        Operation::navn(self)
    }

    async fn udfoer(
        self,
        st: &AppState,
        k: &Kald,
        hvem: Hvem<'_>,
        out_ns: &'static str,
        output: &'static str,
    ) -> Result<String, Fejl> {
        udfoer(st, k, hvem, out_ns, output, self).await
    }
}

/// A SOAP request to the index service `tjeneste` end to end, for SF1470 and SF1490: `laes`
/// reads it ([`laes_kald`]), the caller's context is taken from its token, the operation runs,
/// and its answer (or the StandardRetur of what went wrong) goes back in the request's SOAP
/// version with the RequestHeader echoed.
pub(crate) async fn besvar<S: SecuredService, O: Indeksoperation>(
    st: &AppState,
    headers: &HeaderMap,
    slot: Option<crate::optagelse::Slot>,
    secured: WsSecured<S>,
    tjeneste: &'static Indekstjeneste,
    laes: impl FnOnce(&[u8], SoapVersion) -> Result<Laest<O>, Box<Response>>,
) -> Response {
    let version = secured.soap_version;
    let Laest {
        out_ns,
        output,
        request_header,
        operation,
    } = match laes(&secured.body, version) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let svar = match kald_for(st, headers, secured.caller.as_ref(), tjeneste).await {
        Err(f) => svar::standard(out_ns, output, f.kode, Some(&f.tekst)),
        Ok(k) => match operation {
            Err(f) => svar::standard(out_ns, output, f.kode, Some(&f.tekst)),
            Ok(operation) => {
                // The Body's element names the operation in the call record (KOMBIT's
                // clients need not send a SOAPAction).
                if let Some(s) = &slot {
                    s.operation(operation.navn());
                }
                let hvem = Hvem {
                    caller: secured.caller.as_ref(),
                };
                operation
                    .udfoer(st, &k, hvem, out_ns, output)
                    .await
                    .unwrap_or_else(|f| svar::standard(out_ns, output, f.kode, Some(&f.tekst)))
            }
        },
    };
    crate::sts::soap::envelope(version, request_header.as_deref(), &svar)
}

/// A SOAP request to an index service, read (see [`laes_kald`]).
pub(crate) struct Laest<O> {
    /// The answer's namespace and element.
    pub(crate) out_ns: &'static str,
    pub(crate) output: &'static str,
    /// The RequestHeader to echo.
    pub(crate) request_header: Option<String>,
    /// The operation, or why it could not be read (answered in the output element).
    pub(crate) operation: Result<O, Fejl>,
}

/// Read a SOAP request to an index service: `output` maps the Body element's namespace and
/// name to the answer's, `laes` reads the operation. A body that is no SOAP envelope of its
/// version, or whose element is no operation of the service, is a SOAP fault (the `Err`).
/// Shared by SF1470 and SF1490 ([`crate::ydelsesindeks`]).
pub(crate) fn laes_kald<O>(
    body: &[u8],
    version: SoapVersion,
    output: impl FnOnce(&str, &str) -> Option<(&'static str, &'static str)>,
    laes: impl FnOnce(roxmltree::Node<'_, '_>) -> Result<O, Fejl>,
) -> Result<Laest<O>, Box<Response>> {
    let sender = |t: &str| Box::new(fault_response(version, FaultCode::Sender, t));
    let text = xml::as_text(body, Limits::default()).map_err(|e| sender(&e.to_string()))?;
    let doc = xml::parse(text, Limits::default()).map_err(|e| sender(&e.to_string()))?;
    let root = doc.root_element();
    let env = version.namespace();
    let Some(op) = root
        .children()
        .find(|n| n.is_element() && xml::is(*n, env, "Body"))
        .and_then(|b| b.children().find(|n| n.is_element()))
    else {
        return Err(sender(
            "not a SOAP envelope of the request's version with an element in its Body",
        ));
    };
    let ns = op.tag_name().namespace().unwrap_or("");
    let Some((out_ns, output)) = output(ns, op.tag_name().name()) else {
        return Err(sender(&format!(
            "{{{ns}}}{} is not an operation of this service",
            op.tag_name().name()
        )));
    };
    Ok(Laest {
        out_ns,
        output,
        request_header: crate::sts::soap::request_header(root, env),
        operation: laes(op),
    })
}

/// The caller's context: from the token, or under `--dev-open` from the `X-FKI-*` headers.
async fn kald(st: &AppState, headers: &HeaderMap, caller: Option<&Caller>) -> Result<Kald, Fejl> {
    kald_for(st, headers, caller, &SDI).await
}

/// The caller's context at the index service `tjeneste` (whose agreements give the reader
/// restrictions).
pub(crate) async fn kald_for(
    st: &AppState,
    headers: &HeaderMap,
    caller: Option<&Caller>,
    tjeneste: &'static Indekstjeneste,
) -> Result<Kald, Fejl> {
    match caller {
        Some(c) => {
            let service = st
                .sts
                .own_service(tjeneste.entity)
                .await
                .map_err(|r| Fejl::new(StatusKode::Fejl, r.reason))?;
            let aftaler = st
                .sts
                .active_agreements(c.system, service, &c.cvr)
                .await
                .map_err(|r| Fejl::new(StatusKode::UgyldigInput, r.reason))?;
            Ok(Kald {
                ctx: Kontekst {
                    scope: Scope::Myndigheder(vec![c.cvr.clone()]),
                    myndighed: Some(c.cvr.clone()),
                    faelles: false,
                    brugerref: None,
                },
                system: Some(c.system.to_string()),
                adgang: Laeseadgang::af(
                    aftaler
                        .iter()
                        .flat_map(|a| a.dataafgraensninger.iter())
                        .map(|d| (d.navn.as_str(), d.vaerdi.as_str())),
                ),
                tjeneste,
            })
        }
        None => Ok(Kald {
            ctx: crate::rest::kontekst(st, headers)
                .map_err(|e| Fejl::new(StatusKode::UgyldigInput, e.0.to_string()))?,
            system: headers
                .get("x-fki-system")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            adgang: Laeseadgang {
                foelsomhed: regler::FOELSOMHED.iter().map(|s| s.to_string()).collect(),
                offentlighed_undtaget: true,
            },
            tjeneste,
        }),
    }
}

pub(crate) fn oio(e: OioError) -> Fejl {
    if let OioError::Store(s) = &e {
        tracing::error!(error = %s, "Sags- og dokumentindeks: store failure");
    }
    Fejl::from(&e)
}

/// Who asks, for the audit log of removals.
#[derive(Clone, Copy)]
pub(crate) struct Hvem<'a> {
    pub(crate) caller: Option<&'a Caller>,
}

/// The UUIDs' current state as the rules need it: visible objects' classes, index entries'
/// owners.
pub(crate) async fn opslag(
    st: &AppState,
    ctx: &Kontekst,
    uuids: &HashSet<Uuid>,
) -> Result<Opslag, Fejl> {
    let mut o = Opslag::default();
    if uuids.is_empty() {
        return Ok(o);
    }
    let liste: Vec<Uuid> = uuids.iter().copied().collect();
    let hist = st
        .engine
        .store()
        .read(&liste, RegWindow::Current)
        .await
        .map_err(|e| oio(e.into()))?;
    for h in hist {
        let Some(r) = h.registreringer.first() else {
            continue;
        };
        if fki_indeks::klasser::ved_navn(&h.objekt.klasse).is_some() {
            // An index entry: its owner matters even when another myndighed's (the write is
            // then refused by the engine's tenancy check).
            o.ejere.insert(h.objekt.uuid, ejer(r));
        }
        if !ctx.scope.permits(&h.objekt) || r.meta.livscyklus == Livscyklus::Slettet {
            continue;
        }
        if h.objekt.klasse == fki_indeks::klasser::BEVILLINGINDEKS.name {
            // SF1490: what an effektuering's BevilgetYdelseRef may name.
            o.bevilgede
                .insert(h.objekt.uuid, fki_indeks::ydelse::bevilgede_ider(&r.data));
        }
        o.klasser.insert(h.objekt.uuid, h.objekt.klasse.clone());
    }
    Ok(o)
}

/// The anvendersystem that owns an index entry.
pub(crate) fn ejer(r: &Registrering) -> Option<String> {
    r.data
        .attributter
        .get("ejer")?
        .iter()
        .find_map(|e| e.felter.get("system").and_then(Value::as_str))
        .map(str::to_owned)
}

/// The engine JSON of a write with the owner group set to `system`.
fn med_ejer(typ: &Indekstype, data: &Value, system: Option<&str>) -> Value {
    let mut d = data.clone();
    if let (Some(s), Some(m)) = (system, d.as_object_mut()) {
        let attr = m
            .entry("attributter")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("attributter is an object");
        attr.insert(
            typ.klasse.key("ejer"),
            json!([{"system": s, "virkning": {"from": "-infinity", "to": "infinity"}}]),
        );
    }
    d
}

/// Record a write the index rules refused (`sagdokumentindeks_afvist`, the rules in `aarsag`):
/// the ground of the compliance checks on index writes (`crate::compliance`).
async fn afvist(st: &AppState, k: &Kald, hvem: Hvem<'_>, operation: &str, brud: &[Brud]) {
    let regler: BTreeSet<&str> = brud.iter().map(|b| b.regel).collect();
    st.sts
        .audit(fki_store::adgang::AuditEntry {
            id: 0,
            tid: chrono::Utc::now().timestamp_micros(),
            haendelse: format!("{}_afvist", k.tjeneste.audit),
            system: hvem.caller.map(|c| c.system),
            certifikat_sha256: hvem.caller.map(|c| c.certificate_sha256.to_string()),
            service: Some(k.tjeneste.entity.to_owned()),
            myndighed: k.ctx.myndighed.clone(),
            resultat: "afvist".into(),
            aarsag: Some(format!(
                "{}: {}",
                regler.into_iter().collect::<Vec<_>>().join(","),
                brud.iter()
                    .take(10)
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            reference: hvem.caller.and_then(|c| c.transaktions_id.clone()),
            sf: Some(k.tjeneste.sf.into()),
            operation: Some(operation.into()),
            status: Some(40),
        })
        .await;
}

/// One 40 answer naming every broken rule.
fn brudt(brud: &[Brud]) -> Fejl {
    let tekst = brud
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    Fejl::new(StatusKode::UgyldigInput, tekst)
}

/// Only the owner changes an entry.
pub(crate) fn tjek_ejer(
    o: &Opslag,
    uuid: Uuid,
    system: Option<&str>,
    typ: &Indekstype,
) -> Result<(), Fejl> {
    match (o.ejere.get(&uuid), system) {
        (None, _) => Err(Fejl::new(
            StatusKode::IkkeFundet,
            format!("{} {uuid} is not in the index", typ.navn),
        )),
        (Some(Some(ejer)), Some(s)) if ejer != s => Err(Fejl::new(
            StatusKode::UgyldigInput,
            format!(
                "[{}] {} {uuid}: the entry belongs to anvendersystem {ejer}; only it may change the entry",
                typ.regel_ejer, typ.navn
            ),
        )),
        _ => Ok(()),
    }
}

pub(crate) async fn udfoer(
    st: &AppState,
    k: &Kald,
    hvem: Hvem<'_>,
    out_ns: &'static str,
    output: &'static str,
    operation: Operation,
) -> Result<String, Fejl> {
    let engine = &st.engine;
    let system = k.system.as_deref();
    match operation {
        Operation::Importer(objekter) => {
            let skrivninger: Vec<Skrivning<'_>> = objekter.iter().map(Skrivning::Import).collect();
            let brud = valider_skrivninger(st, &k.ctx, system, &skrivninger).await?;
            if !brud.is_empty() {
                afvist(st, k, hvem, "importer", &brud).await;
                return Err(brudt(&brud));
            }
            let mut ops = Vec::with_capacity(objekter.len());
            for o in &objekter {
                let a = parse_write(
                    o.typ.klasse,
                    &med_ejer(o.typ, &o.data, system),
                    Mode::Create,
                )
                .map_err(|e| {
                    Fejl::new(
                        StatusKode::UgyldigInput,
                        format!("{} {}: {e}", o.typ.navn, o.uuid),
                    )
                })?;
                ops.push((
                    o.typ.klasse,
                    o.uuid,
                    Skriv::Importer(a),
                    o.uden_notifikation,
                ));
            }
            skriv_alle(engine, &k.ctx, ops).await?;
            let svar: Vec<(&str, Uuid)> = objekter.iter().map(|o| (o.typ.navn, o.uuid)).collect();
            Ok(svar::unikke(out_ns, output, &svar))
        }
        Operation::Opdater(v) => {
            let skrivninger: Vec<Skrivning<'_>> = v.iter().map(Skrivning::Opdater).collect();
            let brud = valider_skrivninger(st, &k.ctx, system, &skrivninger).await?;
            if !brud.is_empty() {
                afvist(st, k, hvem, "opdater", &brud).await;
                return Err(brudt(&brud));
            }
            let uuids: HashSet<Uuid> = v.iter().map(|o| o.uuid).collect();
            let o = opslag(st, &k.ctx, &uuids).await?;
            let mut ops = Vec::with_capacity(v.len());
            for u in &v {
                tjek_ejer(&o, u.uuid, system, u.typ)?;
                let a = parse_write(u.typ.klasse, &u.data, Mode::Update).map_err(|e| {
                    Fejl::new(
                        StatusKode::UgyldigInput,
                        format!("{} {}: {e}", u.typ.navn, u.uuid),
                    )
                })?;
                ops.push((u.typ.klasse, u.uuid, Skriv::Ret(a), u.uden_notifikation));
            }
            skriv_alle(engine, &k.ctx, ops).await?;
            let svar: Vec<(&str, Uuid)> = v.iter().map(|o| (o.typ.navn, o.uuid)).collect();
            Ok(svar::unikke(out_ns, output, &svar))
        }
        Operation::Passiver { typ, uuid, note } | Operation::Slet { typ, uuid, note } => {
            let o = opslag(st, &k.ctx, &HashSet::from([uuid])).await?;
            tjek_ejer(&o, uuid, system, typ)?;
            let skriv = if output == "PassiverOutput" {
                Skriv::Passiver { note }
            } else {
                Skriv::Slet { note }
            };
            engine
                .write(&k.ctx, typ.klasse, uuid, skriv)
                .await
                .map_err(oio)?;
            Ok(svar::standard(out_ns, output, StatusKode::Ok, None))
        }
        Operation::Kasser { typ, uuid } => {
            let o = opslag(st, &k.ctx, &HashSet::from([uuid])).await?;
            tjek_ejer(&o, uuid, system, typ)?;
            fjern_alle(st, k, hvem, &[(typ, uuid)], "kasser").await?;
            Ok(svar::standard(out_ns, output, StatusKode::Ok, None))
        }
        Operation::Fjern {
            sager,
            udtryk,
            efterlad_sagsloese_dokumenter,
        } => {
            let mut alle: BTreeSet<Uuid> = sager.into_iter().collect();
            if let Some(u) = &udtryk {
                let f = evaluer(st, k, u).await?;
                alle.extend(f.sager.unwrap_or_default());
            }
            let liste: Vec<Uuid> = alle.iter().copied().collect();
            let hist = engine
                .list_historik(&k.ctx, &fki_indeks::klasser::SAGINDEKS, &liste, Tid::now())
                .await
                .map_err(oio)?;
            let o = opslag(st, &k.ctx, &alle.iter().copied().collect()).await?;
            let mut fjernes: Vec<(&'static Indekstype, Uuid)> = Vec::new();
            let mut dokumenter: BTreeSet<Uuid> = BTreeSet::new();
            for u in &liste {
                tjek_ejer(&o, *u, system, &SAG)?;
                fjernes.push((&SAG, *u));
                if let Some(h) = hist.iter().find(|h| h.objekt.uuid == *u) {
                    dokumenter.extend(journalposter(h));
                }
            }
            if !efterlad_sagsloese_dokumenter {
                // The documents journalised on the removed sager and on no other sag.
                for d in dokumenter {
                    let andre =
                        soeg_uuids(st, &k.ctx, &SAG, &[("journalpost".into(), d.to_string())])
                            .await?;
                    if andre.iter().all(|s| alle.contains(s)) {
                        let od = opslag(st, &k.ctx, &HashSet::from([d])).await?;
                        if od.ejere.contains_key(&d) {
                            tjek_ejer(&od, d, system, &DOKUMENT)?;
                            fjernes.push((&DOKUMENT, d));
                        }
                    }
                }
            }
            fjern_alle(st, k, hvem, &fjernes, "fjern").await?;
            let svar: Vec<(&str, Uuid)> = fjernes.iter().map(|(t, u)| (t.navn, *u)).collect();
            Ok(svar::unikke(out_ns, output, &svar))
        }
        Operation::Fremsoeg(f) => fremsoeg(st, k, f).await,
    }
}

/// The writes of one request in one transaction (all or nothing); a write marked
/// `UdenNotifikation` publishes no change event.
async fn skriv_alle(
    engine: &fki_oio::Engine,
    ctx: &Kontekst,
    ops: Vec<(&'static fki_oio::spec::ClassSpec, Uuid, Skriv, bool)>,
) -> Result<(), Fejl> {
    let mut bulk = engine.bulk().await.map_err(oio)?;
    for (spec, uuid, skriv, uden_notifikation) in ops {
        if uden_notifikation {
            bulk.write_uden_haendelse(ctx, spec, uuid, skriv).await
        } else {
            bulk.write(ctx, spec, uuid, skriv).await
        }
        .map_err(oio)?;
    }
    bulk.commit().await.map_err(oio)?;
    Ok(())
}

/// The documents a sag journalises (its current registrering).
fn journalposter(h: &Historik) -> Vec<Uuid> {
    h.registreringer
        .first()
        .and_then(|r| r.data.relationer.get("journalpost"))
        .into_iter()
        .flatten()
        .filter_map(|e| match e.maal {
            Maal::Uuid(u) => Some(u),
            _ => None,
        })
        .collect()
}

/// Remove entries for good (fjern, kasser), in one transaction, each audited.
pub(crate) async fn fjern_alle(
    st: &AppState,
    k: &Kald,
    hvem: Hvem<'_>,
    hvilke: &[(&'static Indekstype, Uuid)],
    handling: &str,
) -> Result<(), Fejl> {
    let engine = &st.engine;
    let mut tx = engine.store().begin().await.map_err(|e| oio(e.into()))?;
    let mut haendelser = Vec::new();
    for (typ, uuid) in hvilke {
        haendelser.push(
            engine
                .fysisk_slet(&mut *tx, &k.ctx, typ.klasse, *uuid)
                .await
                .map_err(oio)?,
        );
    }
    tx.commit().await.map_err(|e| oio(e.into()))?;
    engine.meld(&haendelser);
    for (typ, uuid) in hvilke {
        st.sts
            .audit(fki_store::adgang::AuditEntry {
                id: 0,
                tid: chrono::Utc::now().timestamp_micros(),
                haendelse: format!("{}_{handling}", k.tjeneste.audit),
                system: hvem.caller.map(|c| c.system),
                certifikat_sha256: hvem.caller.map(|c| c.certificate_sha256.to_string()),
                service: Some(k.tjeneste.entity.to_owned()),
                myndighed: k.ctx.myndighed.clone(),
                resultat: "ok".to_owned(),
                aarsag: Some(format!("{} {uuid} removed from the index", typ.navn)),
                reference: hvem.caller.and_then(|c| c.transaktions_id.clone()),
                ..Default::default()
            })
            .await;
    }
    Ok(())
}

/// Check writes against the schema-level engine validation and the index rules.
pub(crate) async fn valider_skrivninger(
    st: &AppState,
    ctx: &Kontekst,
    system: Option<&str>,
    skrivninger: &[Skrivning<'_>],
) -> Result<Vec<Brud>, Fejl> {
    let mut refs = regler::referencer(skrivninger.iter().map(|s| match s {
        Skrivning::Import(o) => &o.data,
        Skrivning::Opdater(o) => &o.data,
    }));
    for s in skrivninger {
        refs.insert(match s {
            Skrivning::Import(o) => o.uuid,
            Skrivning::Opdater(o) => o.uuid,
        });
    }
    let o = opslag(st, ctx, &refs).await?;
    let mut brud = Vec::new();
    for s in skrivninger {
        let (typ, uuid, data, mode) = match s {
            Skrivning::Import(o) => (o.typ, o.uuid, &o.data, Mode::Create),
            Skrivning::Opdater(o) => (o.typ, o.uuid, &o.data, Mode::Update),
        };
        if let Err(e) = parse_write(typ.klasse, data, mode) {
            brud.push(Brud {
                regel: typ.regel_skema,
                sti: format!("{} {uuid}", typ.navn),
                tekst: e.to_string(),
            });
        }
        if let Skrivning::Opdater(_) = s
            && !o.ejere.contains_key(&uuid)
        {
            brud.push(Brud {
                regel: typ.regel_skema,
                sti: format!("{} {uuid}", typ.navn),
                tekst: "the entry is not in the index; import it first".into(),
            });
        }
    }
    brud.extend(regler::tjek(skrivninger, &o, system));
    Ok(brud)
}

/// The UUIDs of the `typ` entries matching LoRa search parameters, in the caller's scope.
pub(crate) async fn soeg_uuids(
    st: &AppState,
    ctx: &Kontekst,
    typ: &Indekstype,
    parametre: &[(String, String)],
) -> Result<Vec<Uuid>, Fejl> {
    let mut p = parametre.to_vec();
    p.push(("foersteresultat".into(), "0".into()));
    let q = match parse_class_query(typ.klasse, &p, Scope::All).map_err(oio)? {
        Forespoergsel::Soeg { query, .. } => query,
        Forespoergsel::List { .. } => {
            return Err(Fejl::new(
                StatusKode::Fejl,
                "internal error: search read as list",
            ));
        }
    };
    st.engine.soeg(ctx, &q).await.map_err(oio)
}

/// Evaluate a search expression: each leaf is one engine search.
async fn evaluer(st: &AppState, k: &Kald, u: &Udtryk) -> Result<soeg::Fundet, Fejl> {
    let mut blade = Vec::new();
    for b in u.blade() {
        let (typ, blad) = match b {
            Udtryk::Sag(b) => (&SAG, b),
            Udtryk::Dokument(b) | Udtryk::SagsloeseDokumenter(b) => (&DOKUMENT, b),
            _ => unreachable!("blade() yields leaves"),
        };
        let mut hits: BTreeSet<Uuid> = soeg_uuids(st, &k.ctx, typ, &blad.parametre)
            .await?
            .into_iter()
            .collect();
        if let Udtryk::SagsloeseDokumenter(_) = b {
            let mut sagsloese = BTreeSet::new();
            for d in hits {
                if soeg_uuids(st, &k.ctx, &SAG, &[("journalpost".into(), d.to_string())])
                    .await?
                    .is_empty()
                {
                    sagsloese.insert(d);
                }
            }
            hits = sagsloese;
        }
        blade.push(hits);
    }
    let (alle_s, alle_d) = if soeg::har_ikke(u) {
        (
            soeg_uuids(st, &k.ctx, &SAG, &[])
                .await?
                .into_iter()
                .collect(),
            soeg_uuids(st, &k.ctx, &DOKUMENT, &[])
                .await?
                .into_iter()
                .collect(),
        )
    } else {
        (BTreeSet::new(), BTreeSet::new())
    };
    Ok(soeg::evaluer(u, &blade, &alle_s, &alle_d))
}

/// An entry's Foelsomhed (the highest any of its current entries states).
pub(crate) fn foelsomhed(r: &Registrering) -> &str {
    let niveau = |s: &str| regler::FOELSOMHED.iter().position(|x| *x == s).unwrap_or(0);
    r.data
        .attributter
        .values()
        .flatten()
        .filter_map(|e| e.felter.get("foelsomhed").and_then(Value::as_str))
        .max_by_key(|s| niveau(s))
        .unwrap_or("IKKE_FORTROLIGE_DATA")
}

/// Whether the caller may see the entry at all.
pub(crate) fn maa_se(k: &Kald, r: &Registrering) -> bool {
    if k.system.is_some() && ejer(r) == k.system {
        return true;
    }
    k.adgang.foelsomhed.iter().any(|f| f == foelsomhed(r))
}

/// The registrering as the caller may see it: an entry exempt from access to public records
/// shows its AlternativTitel and no Beskrivelse unless the agreement allows more.
pub(crate) fn som_set(k: &Kald, mut r: Registrering) -> Registrering {
    let egen = k.system.is_some() && ejer(&r) == k.system;
    r.data.attributter.remove("ejer");
    if k.adgang.offentlighed_undtaget || egen {
        return r;
    }
    if let Some(liste) = r.data.attributter.get_mut("egenskaber") {
        for e in liste {
            if let Some(Value::Object(ou)) = e.felter.get("offentlighedundtaget").cloned() {
                let alt = ou
                    .get("alternativtitel")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                e.felter.insert("titel".into(), json!(alt));
                e.felter.remove("beskrivelse");
            }
        }
    }
    r
}

/// The sort key of `element` for a registrering.
fn noegle(element: &str, r: &Registrering) -> String {
    let felt = |navn: &str| -> String {
        r.data
            .attributter
            .values()
            .flatten()
            .find_map(|e| e.felter.get(navn))
            .map(|v| match v {
                Value::String(s) => s.to_lowercase(),
                Value::Number(n) => format!("{:020}", n.as_i64().unwrap_or(0)),
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    match element {
        "Titel" => felt("titel"),
        "BrugervendtNoegle" => felt("brugervendtnoegle"),
        "Foelsomhed" => foelsomhed(r).to_owned(),
        "Major" => felt("major"),
        "Minor" => felt("minor"),
        "Registreringstidspunkt" | "StsRegistreringstidspunkt" => {
            format!("{:020}", r.meta.fra.saturating_sub(i64::MIN / 2))
        }
        "Fremdrift" => r
            .data
            .tilstande
            .get("fremdrift")
            .and_then(|v| v.first())
            .map(|e| e.vaerdi.clone())
            .unwrap_or_default(),
        "Livscyklus" => r.meta.livscyklus.as_str().to_owned(),
        "Bruger" => r.meta.brugerref.map(|u| u.to_string()).unwrap_or_default(),
        // ItSystem-Systemnavn and Sagklasse-BrugervendtNoegle live in the relations' extension
        // XML, which fki keeps but does not index: they do not reorder.
        _ => String::new(),
    }
}

/// Sort found entries by the request's Sortering, `noegle` giving an element's sort key of
/// an entry; ties (and no Sortering) by UUID. Shared by both indexes' fremsoeg.
pub(crate) fn sorter(
    liste: &mut [(Uuid, Registrering)],
    sortering: &[Sortering],
    noegle: impl Fn(&str, &Registrering) -> String,
) {
    liste.sort_by(|(ua, a), (ub, b)| {
        for s in sortering {
            let o = noegle(&s.element, a).cmp(&noegle(&s.element, b));
            let o = if s.faldende { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        ua.cmp(ub)
    });
}

/// The paging of a kind (`foerste_art`: sager or Bevillinger, else documents or payments):
/// from its first leaf that gives one. Shared by both indexes' fremsoeg.
pub(crate) fn paging(u: Option<&Udtryk>, foerste_art: bool) -> (usize, usize) {
    for b in u.map(Udtryk::blade).unwrap_or_default() {
        let blad = match (b, foerste_art) {
            (Udtryk::Sag(b) | Udtryk::Bevilling(b), true) => b,
            (
                Udtryk::Dokument(b) | Udtryk::SagsloeseDokumenter(b) | Udtryk::Effektuering(b),
                false,
            ) => b,
            _ => continue,
        };
        if blad.foerste.is_some() || blad.maks.is_some() {
            return (
                blad.foerste.unwrap_or(0),
                blad.maks.unwrap_or(MAKS_RESULTATER).min(MAKS_RESULTATER),
            );
        }
    }
    (0, MAKS_RESULTATER)
}

/// Write one kind's page (`side`: first, most) of the sorted entries `liste` into a fremsoeg
/// answer as `element`s, each as the caller may see it, its attributes shown as `vis` says.
/// Shared by both indexes' fremsoeg.
pub(crate) fn skriv_side(
    s: &mut String,
    k: &Kald,
    liste: Vec<(Uuid, Registrering)>,
    typ: &Indekstype,
    element: &str,
    vis: Option<&Vis>,
    (foerste, maks): (usize, usize),
) {
    for (uuid, r) in liste.into_iter().skip(foerste).take(maks) {
        let r = som_set(k, r);
        sagdok::oejebliksbillede(
            s,
            element,
            typ,
            uuid,
            std::slice::from_ref(&r),
            sagdok::ALTID,
            vis,
        );
    }
}

/// Read the current registreringer of `uuids` the caller may see.
pub(crate) async fn laes_synlige(
    st: &AppState,
    k: &Kald,
    typ: &Indekstype,
    uuids: &BTreeSet<Uuid>,
) -> Result<Vec<(Uuid, Registrering)>, Fejl> {
    let liste: Vec<Uuid> = uuids.iter().copied().collect();
    let hist = st
        .engine
        .store()
        .read(&liste, RegWindow::Current)
        .await
        .map_err(|e| oio(e.into()))?;
    Ok(hist
        .into_iter()
        .filter(|h| h.objekt.klasse == typ.klasse.name && k.ctx.scope.permits(&h.objekt))
        .filter_map(|h| {
            let r = h.registreringer.into_iter().next()?;
            (r.meta.livscyklus != Livscyklus::Slettet && maa_se(k, &r))
                .then_some((h.objekt.uuid, r))
        })
        .collect())
}

async fn fremsoeg(st: &AppState, k: &Kald, f: Fremsoeg) -> Result<String, Fejl> {
    let fundet = match &f.udtryk {
        Some(u) => evaluer(st, k, u).await?,
        None => soeg::Fundet::default(),
    };
    let mut sager: Option<BTreeSet<Uuid>> = fundet.sager;
    let mut dokumenter: Option<BTreeSet<Uuid>> = fundet.dokumenter;
    if !f.sager.is_empty() {
        sager
            .get_or_insert_default()
            .extend(f.sager.iter().copied());
    }
    if !f.dokumenter.is_empty() {
        dokumenter
            .get_or_insert_default()
            .extend(f.dokumenter.iter().copied());
    }
    let mut sag_liste = match &sager {
        Some(s) => laes_synlige(st, k, &SAG, s).await?,
        None => Vec::new(),
    };
    if f.filter.sagsrelationer {
        let relaterede: BTreeSet<Uuid> = sag_liste
            .iter()
            .flat_map(|(_, r)| r.data.relationer.get("sagsrelation").into_iter().flatten())
            .filter_map(|e| match e.maal {
                Maal::Uuid(u) => Some(u),
                _ => None,
            })
            .filter(|u| !sag_liste.iter().any(|(s, _)| s == u))
            .collect();
        sag_liste.extend(laes_synlige(st, k, &SAG, &relaterede).await?);
        sager.get_or_insert_default();
    }
    if f.filter.journalposter {
        let jp: BTreeSet<Uuid> = sag_liste
            .iter()
            .flat_map(|(_, r)| r.data.relationer.get("journalpost").into_iter().flatten())
            .filter_map(|e| match e.maal {
                Maal::Uuid(u) => Some(u),
                _ => None,
            })
            .collect();
        dokumenter.get_or_insert_default().extend(jp);
    }
    let mut dok_liste = match &dokumenter {
        Some(d) => laes_synlige(st, k, &DOKUMENT, d).await?,
        None => Vec::new(),
    };
    if f.filter.dokumentrelationer {
        let relaterede: BTreeSet<Uuid> = dok_liste
            .iter()
            .flat_map(|(_, r)| {
                r.data
                    .relationer
                    .get("dokumentrelation")
                    .into_iter()
                    .flatten()
            })
            .filter_map(|e| match e.maal {
                Maal::Uuid(u) => Some(u),
                _ => None,
            })
            .filter(|u| !dok_liste.iter().any(|(d, _)| d == u))
            .collect();
        dok_liste.extend(laes_synlige(st, k, &DOKUMENT, &relaterede).await?);
    }
    sorter(&mut sag_liste, &f.sag_sortering, noegle);
    sorter(&mut dok_liste, &f.dokument_sortering, noegle);
    let (sf, sm) = paging(f.udtryk.as_ref(), true);
    let (df, dm) = paging(f.udtryk.as_ref(), false);
    let mut antal = Vec::new();
    if sager.is_some() {
        antal.push(Antal {
            element: "sager",
            antal: sag_liste.len(),
            foerste: sf,
            maks: sm,
        });
    }
    if dokumenter.is_some() {
        antal.push(Antal {
            element: "dokumenter",
            antal: dok_liste.len(),
            foerste: df,
            maks: dm,
        });
    }
    let mut s = svar::fremsoeg_start(&antal);
    skriv_side(
        &mut s,
        k,
        sag_liste,
        &SAG,
        "sdi:SagFiltreretOejebliksbillede",
        f.filter.sag.as_ref(),
        (sf, sm),
    );
    skriv_side(
        &mut s,
        k,
        dok_liste,
        &DOKUMENT,
        "sdi:DokumentFiltreretOejebliksbillede",
        f.filter.dokument.as_ref(),
        (df, dm),
    );
    svar::luk(
        &mut s,
        fki_indeks::sagdok::NS_SDI,
        "FremsoegSagDokumentIndeksOutput",
    );
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Validation mode.

/// `?myndighed=<CVR>&system=<uuid>` of the validation endpoint.
#[derive(Debug, serde::Deserialize)]
pub struct ValiderParam {
    pub myndighed: String,
    pub system: Option<String>,
}

/// `POST /admin/valider/sf1470?myndighed=…[&system=…]`: a SOAP envelope or the bare operation
/// element of a SagDokumentIndeks request, checked without storing anything.
async fn valider_http(
    _: Admin,
    State(st): State<AppState>,
    Query(p): Query<ValiderParam>,
    body: Bytes,
) -> AdminResult<Response> {
    tjek_myndighed(&p.myndighed)?;
    let brud = valider(&st, &p.myndighed, p.system.as_deref(), &body).await;
    Ok(valider_svar(&brud))
}

/// The validation endpoints' `myndighed`: a CVR number.
pub(crate) fn tjek_myndighed(myndighed: &str) -> AdminResult<()> {
    if myndighed.len() != 8 || !myndighed.bytes().all(|c| c.is_ascii_digit()) {
        return Err(AdminError::Invalid(
            "myndighed must be a CVR number (8 digits)".into(),
        ));
    }
    Ok(())
}

/// The validation endpoints' answer: `{gyldig, brud: [{regel, sti, tekst}]}`.
pub(crate) fn valider_svar(brud: &[Brud]) -> Response {
    axum::Json(json!({
        "gyldig": brud.is_empty(),
        "brud": brud,
    }))
    .into_response()
}

/// Validate a request for `myndighed` as written by `system`: every broken rule.
pub async fn valider(
    st: &AppState,
    myndighed: &str,
    system: Option<&str>,
    body: &[u8],
) -> Vec<Brud> {
    valider_med(st, myndighed, system, body, "SDI-SKEMA", |op| {
        operation::laes(Tjeneste::SagDokumentIndeks, op)
    })
    .await
}

/// Validate a request read by `laes` (its importer and opdater carry the rules; a schema error
/// is reported under `regel_skema`). Shared by SF1470 and SF1490.
pub(crate) async fn valider_med(
    st: &AppState,
    myndighed: &str,
    system: Option<&str>,
    body: &[u8],
    regel_skema: &'static str,
    laes: impl FnOnce(roxmltree::Node<'_, '_>) -> Result<Operation, Fejl>,
) -> Vec<Brud> {
    let skema = |t: String| {
        vec![Brud {
            regel: regel_skema,
            sti: String::new(),
            tekst: t,
        }]
    };
    let text = match xml::as_text(body, Limits::default()) {
        Ok(t) => t,
        Err(e) => return skema(e.to_string()),
    };
    let doc = match xml::parse(text, Limits::default()) {
        Ok(d) => d,
        Err(e) => return skema(e.to_string()),
    };
    let mut op = doc.root_element();
    if op.tag_name().name() == "Envelope" {
        match op
            .children()
            .find(|n| n.is_element() && n.tag_name().name() == "Body")
            .and_then(|b| b.children().find(|n| n.is_element()))
        {
            Some(o) => op = o,
            None => return skema("the envelope has no element in its Body".into()),
        }
    }
    let operation = match laes(op) {
        Ok(o) => o,
        Err(f) => return skema(f.tekst),
    };
    let ctx = Kontekst {
        scope: Scope::Myndigheder(vec![myndighed.to_owned()]),
        myndighed: Some(myndighed.to_owned()),
        faelles: false,
        brugerref: None,
    };
    let r = match &operation {
        Operation::Importer(o) => {
            let s: Vec<Skrivning<'_>> = o.iter().map(Skrivning::Import).collect();
            valider_skrivninger(st, &ctx, system, &s).await
        }
        Operation::Opdater(o) => {
            let s: Vec<Skrivning<'_>> = o.iter().map(Skrivning::Opdater).collect();
            valider_skrivninger(st, &ctx, system, &s).await
        }
        _ => Ok(Vec::new()),
    };
    r.unwrap_or_else(|f| skema(f.tekst))
}

/// The operations for the OpenAPI document.
pub fn openapi_paths() -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    overblik::openapi_paths(&mut m);
    m.insert(
        "/admin/valider/sf1470".into(),
        json!({"post": {
            "tags": ["admin"],
            "operationId": "admin_valider_sf1470",
            "summary": "Validate a Sags- og dokumentindeks request (SF1470) without storing it: every broken index rule",
            "security": [{"adminToken": []}],
            "parameters": [
                {"name": "myndighed", "in": "query", "required": true, "schema": {"type": "string", "pattern": "^[0-9]{8}$"}},
                {"name": "system", "in": "query", "required": false, "schema": {"type": "string", "format": "uuid"}}
            ],
            "requestBody": {"required": true, "content": {"application/xml": {"schema": {"type": "string"}}}},
            "responses": {"200": {"description": "{gyldig, brud: [{regel, sti, tekst}]}"}}
        }}),
    );
    m
}
