//! Organisation (SF1500 v6) and Klassifikation (SF1510) over SOAP, as KOMBIT serves them: one
//! endpoint per object type at `/<service>/<klasse>/6/` (`/organisation/organisationenhed/6/`,
//! `/klassifikation/klasse/6/` …), the operations of `../shared/specs/sf1500-organisation/v6/wsdl/<Type>.wsdl`
//! (opret, importer, ret, passiver, slet, laes, list, soeg) chosen by the Body's element.
//!
//! Security: WS-Security with a SAML holder-of-key token for the Organisation service
//! (`http://stoettesystemerne.dk/service/organisation/3`) or the Klassifikation service
//! (`http://entityid.kombit.dk/service/klassifikation/7`) and an active agreement for the
//! token's CVR ([`WsSecured`]). The caller then reads that CVR's objects and the fælleskommunale,
//! and the objects it creates belong to that CVR: the same tenancy as the REST API, through the
//! same engine ([`fki_organisation`] turns the messages into engine calls).
//!
//! Answers: SOAP in the request's version, the `RequestHeader` echoed in the Header, the
//! operation's `…Output` in the Body with `sd:StandardRetur` (20, 40, 44, 50; see
//! [`fki_organisation::StatusKode`]). A Body whose element is not an operation of the addressed
//! type is a SOAP fault (`Sender`).

pub mod graphql;

use axum::Router;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fki_oio::json::{Mode, parse_write};
use fki_oio::query::{Forespoergsel, Tid, parse_class_query, parse_read};
use fki_oio::spec::ClassSpec;
use fki_oio::store::{Kriterium, Match, RegWindow, Scope, SearchQuery};
use fki_oio::time::{NEG_INF, POS_INF};
use fki_oio::{Kontekst, OioError, Skriv};
use fki_organisation::forespoergsel::{self, Operation, output_element};
use fki_organisation::svar::Svar;
use fki_organisation::system::{self, PersonId, SYSTEMER, System, SystemOperation};
use fki_organisation::typer::{self, NS_REQUEST_HEADER, Objekttype};
use fki_organisation::{Fejl, StatusKode};
use fki_sts::fault::FaultCode;
use fki_sts::wssec::SoapVersion;
use fki_sts::xml::{self, Limits};
use uuid::Uuid;

use crate::AppState;
use crate::sts::issue::fault_response;
use crate::sts::soap::{SecuredService, WsSecured};
use crate::sts::{ENTITY_KLASSIFIKATION, ENTITY_ORGANISATION};
use crate::tls::TlsInfo;

/// The Organisation service (tokens with this audience).
pub struct OrganisationService;
impl SecuredService for OrganisationService {
    const ENTITY_ID: &'static str = ENTITY_ORGANISATION;
}

/// The Klassifikation service.
pub struct KlassifikationService;
impl SecuredService for KlassifikationService {
    const ENTITY_ID: &'static str = ENTITY_KLASSIFIKATION;
}

/// Where a request is addressed: an object type's service or a hierarchy service.
#[derive(Clone, Copy)]
enum Doer {
    Type(&'static Objekttype),
    System(&'static System),
}

/// `POST /<service>/<klasse>/6` and `…/6/` for every type and hierarchy service.
pub fn routes() -> Router<AppState> {
    let doere = typer::alle()
        .iter()
        .map(|t| (t.service, t.path(), Doer::Type(t)))
        .chain(
            SYSTEMER
                .iter()
                .map(|s| (s.service, s.path(), Doer::System(s))),
        );
    let mut r = Router::new();
    for (service, path, doer) in doere {
        let handler = if service == "klassifikation" {
            post(
                move |State(st): State<AppState>,
                      headers: HeaderMap,
                      secured: WsSecured<KlassifikationService>| async move {
                    let (v, caller) = (secured.soap_version, secured.caller.clone());
                    soap(st, headers, doer, v, caller, &secured.body).await
                },
            )
        } else {
            post(
                move |State(st): State<AppState>,
                      headers: HeaderMap,
                      secured: WsSecured<OrganisationService>| async move {
                    let (v, caller) = (secured.soap_version, secured.caller.clone());
                    soap(st, headers, doer, v, caller, &secured.body).await
                },
            )
        };
        let handler = match doer {
            Doer::Type(typ) => handler.get(
                move |State(st): State<AppState>,
                      RawQuery(q): RawQuery,
                      headers: HeaderMap,
                      tls: Option<Extension<TlsInfo>>| async move {
                    wsdl(&st, typ, q.as_deref(), &headers, tls.is_some())
                },
            ),
            Doer::System(_) => handler,
        };
        r = r
            .route(&path, handler.clone())
            .route(&format!("{path}/"), handler)
            .route(&format!("{path}/xsd/{{*fil}}"), get(skema));
    }
    r
}

/// `GET …/6/?wsdl`: the service's WSDL with this server's address (scheme from the listener,
/// host from the `Host` header).
fn wsdl(
    st: &AppState,
    typ: &'static Objekttype,
    query: Option<&str>,
    headers: &HeaderMap,
    https: bool,
) -> Response {
    if !query.is_some_and(|q| q.eq_ignore_ascii_case("wsdl")) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "POST a SOAP request here, or GET ?wsdl for the WSDL",
        )
            .into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| st.config.listen.to_string());
    let scheme = if https { "https" } else { "http" };
    let address = format!("{scheme}://{host}{}/", typ.path());
    (
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        fki_organisation::wsdl::wsdl(typ, &address),
    )
        .into_response()
}

/// `GET …/6/xsd/<file>`: KOMBIT's schemas from `--schema-dir`, which the WSDL imports.
async fn skema(State(st): State<AppState>, Path(fil): Path<String>) -> Response {
    let Some(dir) = &st.config.schema_dir else {
        return (
            StatusCode::NOT_FOUND,
            "fki does not ship KOMBIT's schemas; start it with --schema-dir <KOMBIT's xsd folder> to serve them here",
        )
            .into_response();
    };
    // Only plain relative paths below the folder, of schema files.
    let ok = !fil.is_empty()
        && fil.ends_with(".xsd")
        && fil
            .split('/')
            .all(|s| !s.is_empty() && s != ".." && s != "." && !s.contains('\\'));
    if !ok {
        return (StatusCode::NOT_FOUND, "no such schema").into_response();
    }
    match tokio::fs::read(dir.join(&fil)).await {
        Ok(b) => ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], b).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "no such schema").into_response(),
    }
}

/// The caller's engine context: from the token, or under `--dev-open` (no verified caller)
/// from the `X-FKI-*` headers as on the REST API.
fn kontekst(
    st: &AppState,
    headers: &HeaderMap,
    caller: Option<&crate::sts::guard::Caller>,
) -> Result<Kontekst, Fejl> {
    match caller {
        Some(c) => Ok(Kontekst {
            scope: Scope::Myndigheder(vec![c.cvr.clone()]),
            myndighed: Some(c.cvr.clone()),
            faelles: false,
            brugerref: None,
        }),
        None => crate::rest::kontekst(st, headers)
            .map_err(|e| Fejl::new(StatusKode::UgyldigInput, e.0.to_string())),
    }
}

async fn soap(
    st: AppState,
    headers: HeaderMap,
    doer: Doer,
    version: SoapVersion,
    caller: Option<crate::sts::guard::Caller>,
    body: &[u8],
) -> Response {
    let sender = |t: &str| fault_response(version, FaultCode::Sender, t);
    let text = match xml::as_text(body, Limits::default()) {
        Ok(t) => t,
        Err(e) => return sender(&e.to_string()),
    };
    let doc = match xml::parse(text, Limits::default()) {
        Ok(d) => d,
        Err(e) => return sender(&e.to_string()),
    };
    let env = version.namespace();
    let root = doc.root_element();
    if !xml::is(root, env, "Envelope") {
        return sender("not a SOAP envelope of the request's version");
    }
    let Some(body_el) = root
        .children()
        .find(|n| n.is_element() && xml::is(*n, env, "Body"))
    else {
        return sender("the envelope has no Body");
    };
    let Some(op) = body_el.children().find(|n| n.is_element()) else {
        return sender("the Body is empty");
    };
    let (ns, navn) = match doer {
        Doer::Type(t) => (t.ns, t.element),
        Doer::System(s) => (s.ns, s.navn),
    };
    let output = match doer {
        Doer::Type(_) => output_element(op.tag_name().name()),
        Doer::System(s) => system::output_element(s, op.tag_name().name()),
    };
    let Some(output) = output.filter(|_| op.tag_name().namespace() == Some(ns)) else {
        return sender(&format!(
            "{{{}}}{} is not an operation of {navn} at this address",
            op.tag_name().namespace().unwrap_or(""),
            op.tag_name().name(),
        ));
    };
    // The RequestHeader (its TransactionUUID) is answered back unchanged.
    let request_header = crate::sts::soap::request_header(root, env);
    let transaction = request_header.as_ref().and_then(|_| {
        root.descendants()
            .find(|c| c.is_element() && xml::is(*c, NS_REQUEST_HEADER, "TransactionUUID"))
            .map(xml::text)
    });

    let ctx = kontekst(&st, &headers, caller.as_ref());
    let svar = match doer {
        Doer::Type(typ) => {
            let r = match (forespoergsel::laes(typ, op), ctx) {
                (Err(f), _) | (_, Err(f)) => Err(f),
                (Ok(operation), Ok(ctx)) => udfoer(&st, &ctx, typ, output, operation).await,
            };
            r.unwrap_or_else(|f| Svar::fejl(typ, output, &f))
        }
        Doer::System(sys) => {
            let r = match (system::laes(sys, op), ctx) {
                (Err(f), _) | (_, Err(f)) => Err(f),
                (Ok(operation), Ok(ctx)) => {
                    let hvem = Hvem {
                        caller: caller.as_ref(),
                        transaction: transaction.as_deref(),
                    };
                    udfoer_system(&st, &ctx, hvem, sys, output, operation).await
                }
            };
            r.unwrap_or_else(|f| system::fejl(sys, output, &f))
        }
    };
    crate::sts::soap::envelope(version, request_header.as_deref(), &svar)
}

fn oio(e: OioError) -> Fejl {
    if let OioError::Store(s) = &e {
        tracing::error!(error = %s, "Organisation SOAP: store failure");
    }
    Fejl::from(&e)
}

/// Run `operation` on the engine and write its output element.
async fn udfoer(
    st: &AppState,
    ctx: &Kontekst,
    typ: &'static Objekttype,
    output: &'static str,
    operation: Operation,
) -> Result<String, Fejl> {
    let spec = typ.spec();
    let engine = &st.engine;
    let ok = || Svar::ny(typ, output, StatusKode::Ok, None);
    match operation {
        Operation::Opret(json) => {
            let a = parse_write(spec, &json, Mode::Create).map_err(oio)?;
            let uuid = engine
                .write(ctx, spec, Uuid::new_v4(), Skriv::Opret(a))
                .await
                .map_err(oio)?;
            let mut s = ok();
            s.uuid(uuid);
            Ok(s.slut())
        }
        Operation::Importer(..)
        | Operation::Ret(..)
        | Operation::Passiver { .. }
        | Operation::Slet { .. } => {
            let (uuid, skriv) = match operation {
                Operation::Importer(uuid, json) => (
                    uuid,
                    Skriv::Importer(parse_write(spec, &json, Mode::Create).map_err(oio)?),
                ),
                Operation::Ret(uuid, json) => (
                    uuid,
                    Skriv::Ret(parse_write(spec, &json, Mode::Update).map_err(oio)?),
                ),
                Operation::Passiver { uuid, note } => (uuid, Skriv::Passiver { note }),
                Operation::Slet { uuid, note } => (uuid, Skriv::Slet { note }),
                _ => unreachable!("matched above"),
            };
            engine.write(ctx, spec, uuid, skriv).await.map_err(oio)?;
            Ok(ok().slut())
        }
        Operation::Laes { uuid, tid } => {
            let (tid, _) = parse_read(&tid).map_err(oio)?;
            let h = engine
                .laes_historik(ctx, spec, uuid, tid)
                .await
                .map_err(oio)?;
            let mut s = ok();
            s.oejebliksbillede(
                typ,
                uuid,
                h.objekt.myndighed.as_deref(),
                &h.registreringer,
                tid.virk,
            );
            Ok(s.slut())
        }
        Operation::List { mut uuids, tid } => {
            let (tid, _) = parse_read(&tid).map_err(oio)?;
            uuids.dedup();
            let hist = engine
                .list_historik(ctx, spec, &uuids, tid)
                .await
                .map_err(oio)?;
            let mut s = ok();
            // In the order asked for.
            for u in &uuids {
                if let Some(h) = hist.iter().find(|h| h.objekt.uuid == *u) {
                    s.oejebliksbillede(
                        typ,
                        *u,
                        h.objekt.myndighed.as_deref(),
                        &h.registreringer,
                        tid.virk,
                    );
                }
            }
            Ok(s.slut())
        }
        Operation::Soeg(pairs) => {
            let (query, _) = soeg_query(spec, &pairs)?;
            let hits = engine.soeg(ctx, &query).await.map_err(oio)?;
            let mut s = ok();
            s.id_liste(&hits);
            Ok(s.slut())
        }
    }
}

/// LoRa search parameters (always with `foersteresultat`, so never a list) → the query.
fn soeg_query(spec: &ClassSpec, pairs: &[(String, String)]) -> Result<(SearchQuery, Tid), Fejl> {
    match parse_class_query(spec, pairs, Scope::All).map_err(oio)? {
        Forespoergsel::Soeg { query, tid, .. } => Ok((query, tid)),
        Forespoergsel::List { .. } => Err(Fejl::new(
            StatusKode::Fejl,
            "internal error: the search was read as a list",
        )),
    }
}

/// Who asks, for the audit log of the operations that erase data.
#[derive(Clone, Copy)]
struct Hvem<'a> {
    caller: Option<&'a crate::sts::guard::Caller>,
    transaction: Option<&'a str>,
}

impl Hvem<'_> {
    /// Record an erasing operation that succeeded (`haendelse` `organisation_fysisk_slet`,
    /// `organisation_anonymiser`).
    async fn audit(&self, st: &AppState, ctx: &Kontekst, haendelse: &str, aarsag: String) {
        tracing::warn!(
            haendelse,
            aarsag,
            cvr = ctx.myndighed.as_deref().unwrap_or("-"),
            "data erased"
        );
        st.sts
            .audit(fki_store::adgang::AuditEntry {
                id: 0,
                tid: chrono::Utc::now().timestamp_micros(),
                haendelse: haendelse.to_owned(),
                system: self.caller.map(|c| c.system),
                certifikat_sha256: self.caller.map(|c| c.certificate_sha256.to_string()),
                service: Some(ENTITY_ORGANISATION.to_owned()),
                myndighed: ctx.myndighed.clone(),
                resultat: "ok".to_owned(),
                aarsag: Some(aarsag),
                reference: self.transaction.map(str::to_owned),
                ..Default::default()
            })
            .await;
    }
}

/// Run a hierarchy operation.
async fn udfoer_system(
    st: &AppState,
    ctx: &Kontekst,
    hvem: Hvem<'_>,
    sys: &'static System,
    output: &'static str,
    operation: SystemOperation,
) -> Result<String, Fejl> {
    let engine = &st.engine;
    match operation {
        SystemOperation::Fremsoeg(per) => {
            let mut fundne = Vec::with_capacity(per.len());
            let mut virk = None;
            for (typ, pairs) in per {
                let spec = typ.spec();
                let (query, tid) = soeg_query(spec, &pairs)?;
                let hits = engine.soeg(ctx, &query).await.map_err(oio)?;
                let mut hist = engine
                    .list_historik(ctx, spec, &hits, tid)
                    .await
                    .map_err(oio)?;
                // In the search's order.
                let mut objekter = Vec::with_capacity(hist.len());
                for u in &hits {
                    if let Some(i) = hist.iter().position(|h| h.objekt.uuid == *u) {
                        objekter.push((*u, hist.swap_remove(i).registreringer));
                    }
                }
                virk.get_or_insert(tid.virk);
                fundne.push((typ, objekter));
            }
            let virk = virk.unwrap_or((fki_oio::time::NEG_INF, fki_oio::time::POS_INF));
            Ok(system::fremsoeg_svar(sys, &fundne, virk))
        }
        SystemOperation::Importer(objekter) => {
            let mut ops = Vec::with_capacity(objekter.len());
            let mut svar = Vec::with_capacity(objekter.len());
            for (typ, uuid, json) in objekter {
                let a = parse_write(typ.spec(), &json, Mode::Create).map_err(|e| {
                    Fejl::new(
                        StatusKode::UgyldigInput,
                        format!("{} {uuid}: {e}", typ.element),
                    )
                })?;
                ops.push((typ.spec(), uuid, Skriv::Importer(a)));
                svar.push((typ, uuid));
            }
            // One transaction: all or nothing.
            engine.write_many(ctx, ops).await.map_err(oio)?;
            Ok(system::import_svar(sys, output, &svar))
        }
        SystemOperation::Anonymiser(id) => {
            let spec = typ("person").spec();
            let personer = match &id {
                PersonId::Uuid(u) => vec![*u],
                // Every Person that carried the number at any time.
                PersonId::Cpr(cpr) => {
                    let q = SearchQuery {
                        klasse: spec.name.into(),
                        reg: RegWindow::Range(NEG_INF, POS_INF),
                        virk: (NEG_INF, POS_INF),
                        uuid: None,
                        livscyklus: None,
                        brugerref: None,
                        note: None,
                        kriterier: vec![Kriterium {
                            navn: "a:cprnr".into(),
                            navn_prefix: false,
                            vaerdi: Match::Eq(cpr.clone()),
                            objekttype: None,
                            sti_prefix: None,
                        }],
                        scope: Scope::All,
                        paging: None,
                    };
                    engine.soeg(ctx, &q).await.map_err(oio)?
                }
            };
            if personer.is_empty() {
                return Err(Fejl::new(
                    StatusKode::IkkeFundet,
                    "no Person with that CPR number",
                ));
            }
            let mut tx = engine.store().begin().await.map_err(|e| oio(e.into()))?;
            let mut haendelser = Vec::new();
            let mut rettet = 0;
            for u in &personer {
                let (n, h) = engine
                    .omskriv_historik(&mut *tx, ctx, spec, *u, &mut |d| {
                        system::anonymiser_person(d, *u)
                    })
                    .await
                    .map_err(oio)?;
                rettet += n;
                haendelser.extend(h);
            }
            tx.commit().await.map_err(|e| oio(e.into()))?;
            engine.meld(&haendelser);
            let hvilke = personer
                .iter()
                .map(Uuid::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            hvem.audit(
                st,
                ctx,
                "organisation_anonymiser",
                format!("person {hvilke}: {rettet} registreringer rewritten"),
            )
            .await;
            Ok(system::ok_svar(sys, output))
        }
        SystemOperation::FysiskSlet {
            organisation,
            enhed,
        } => {
            let spec = typ("organisationenhed").spec();
            let ikke_fundet = || {
                Fejl::new(
                    StatusKode::IkkeFundet,
                    format!("OrganisationEnhed {enhed} of Organisation {organisation} not found"),
                )
            };
            // The unit must be visible to the caller and belong to the Organisation (its
            // tilhoerer, in any registrering: a deleted unit may be erased too).
            let hist = engine
                .store()
                .read(&[enhed], RegWindow::Range(NEG_INF, POS_INF))
                .await
                .map_err(|e| oio(e.into()))?;
            let h = hist
                .first()
                .filter(|h| h.objekt.klasse == spec.name && ctx.scope.permits(&h.objekt))
                .ok_or_else(ikke_fundet)?;
            let tilhoerer = h.registreringer.iter().any(|r| {
                r.data.relationer.get("tilhoerer").is_some_and(|rel| {
                    rel.iter()
                        .any(|e| e.maal == fki_oio::model::Maal::Uuid(organisation))
                })
            });
            if !tilhoerer {
                return Err(ikke_fundet());
            }
            // Units below it would be left with a parent that never existed.
            let (boern, _) = soeg_query(
                spec,
                &[
                    ("overordnet".to_owned(), enhed.to_string()),
                    ("foersteresultat".to_owned(), "0".to_owned()),
                ],
            )?;
            let boern = engine.soeg(ctx, &boern).await.map_err(oio)?;
            if !boern.is_empty() {
                return Err(Fejl::new(
                    StatusKode::UgyldigInput,
                    format!(
                        "OrganisationEnhed {enhed} has {} underordnede enheder (e.g. {}); move or delete them first",
                        boern.len(),
                        boern[0]
                    ),
                ));
            }
            let mut tx = engine.store().begin().await.map_err(|e| oio(e.into()))?;
            let h = engine
                .fysisk_slet(&mut *tx, ctx, spec, enhed)
                .await
                .map_err(oio)?;
            tx.commit().await.map_err(|e| oio(e.into()))?;
            engine.meld(&[h]);
            hvem.audit(
                st,
                ctx,
                "organisation_fysisk_slet",
                format!("organisationenhed {enhed} of organisation {organisation}"),
            )
            .await;
            Ok(system::ok_svar(sys, output))
        }
    }
}

/// The SOAP type of an engine class of the Organisation service.
fn typ(klasse: &str) -> &'static Objekttype {
    typer::ved_sti("organisation", klasse).expect("an Organisation SOAP type")
}
