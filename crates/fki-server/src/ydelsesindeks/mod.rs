//! Ydelsesindeks (SF1490 v6) over SOAP, on the OIO engine, as the Sags- og dokumentindeks
//! ([`crate::sagdokumentindeks`]) whose write path, owner checks, reader restrictions, removal
//! with audit and validation it shares.
//!
//! Endpoints (SOAP 1.1 or 1.2, WS-Security with a token for [`ENTITY_YDELSESINDEKS`] and an
//! active agreement for the token's CVR; `../shared/specs/sf1490-ydelsesindeks/wsdl/`):
//! - `/ydelsesindeks/6` and KOMBIT's `/ydelseindeks/6`: YdelseIndeks importer, opdater,
//!   fremsoeg (`YdelseIndeks.wsdl`);
//! - `/bevillingindeks/6`: BevillingIndeks fjern (`BevillingIndeks.wsdl`);
//! - `/oekonomiskeffektueringindeks/6`: OekonomiskEffektueringIndeks fjern
//!   (`OekonomiskEffektueringIndeks.wsdl`).
//!
//! KOMBIT's addresses are those of its sample client (`client.properties` of
//! github.com/kombit/kosdy_infrastructureSamplesYdelse-java: `…/ydelseindeks/6`,
//! `…/bevillingindeks/6`, `…/oekonomiskeffektueringindeks/6`); the WSDLs' own
//! `soap12:address`es (`http://kombit.dk/sts/ydelseindeks…`) are placeholders.
//!
//! The rules are `fki_indeks::regler`'s `YI-*`; the owner is the writing anvendersystem (engine
//! group `ejer`), only it changes or removes an entry. Readers see their myndighed's entries
//! filtered by their agreement's `Foelsomhed` (as SF1470); an OekonomiskEffektuering has no
//! Foelsomhed of its own and is as sensitive as the Bevillinger its BevilgetYdelseRefs name.
//! Every stored change is a Haendelsesbesked (`urn:oio:objekttype:bevillingindeks`,
//! `…:oekonomiskeffektueringindeks`). `POST /admin/valider/sf1490` and
//! `fki validate sf1490 FILE` run the reading and the rules without storing anything.

use std::collections::{BTreeSet, HashMap, HashSet};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use fki_indeks::operation::{
    self, Fremsoeg, Operation, Udtryk, YdelseFremsoeg, YdelseOperation, Ydelsestjeneste,
};
use fki_indeks::regler::Brud;
use fki_indeks::sagdok::{self, Indekstype, Vaerdisti};
use fki_indeks::soeg;
use fki_indeks::svar;
use fki_indeks::ydelse::{BEVILLING, EFFEKTUERING, NS_BI, NS_OEF, NS_YI};
use fki_oio::model::{Livscyklus, Maal, Registrering};
use fki_oio::store::RegWindow;
use fki_oio::time::{self, Ts};
use fki_organisation::{Fejl, StatusKode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::admin::{Admin, AdminResult};
use crate::sagdokumentindeks::{
    self as sdi, Hvem, Indeksoperation, Indekstjeneste, Kald, ValiderParam, besvar, ejer,
    fjern_alle, foelsomhed, laes_kald, laes_synlige, oio, opslag, paging, skriv_side, soeg_uuids,
    sorter, tjek_ejer,
};
use crate::sts::ENTITY_YDELSESINDEKS;
use crate::sts::soap::{SecuredService, WsSecured};

/// The Ydelsesindeks service (tokens with this audience).
pub struct YdelsesIndeksService;
impl SecuredService for YdelsesIndeksService {
    const ENTITY_ID: &'static str = ENTITY_YDELSESINDEKS;
}

/// The Ydelsesindeks, for its audit entries (`ydelsesindeks_fjern`, `ydelsesindeks_afvist`).
pub(crate) const YI: Indekstjeneste = Indekstjeneste {
    entity: ENTITY_YDELSESINDEKS,
    sf: "SF1490",
    audit: "ydelsesindeks",
};

/// The paths and the service each addresses.
const STIER: &[(&str, Ydelsestjeneste)] = &[
    ("/ydelsesindeks/6", Ydelsestjeneste::YdelseIndeks),
    ("/ydelseindeks/6", Ydelsestjeneste::YdelseIndeks),
    ("/bevillingindeks/6", Ydelsestjeneste::BevillingIndeks),
    (
        "/oekonomiskeffektueringindeks/6",
        Ydelsestjeneste::OekonomiskEffektueringIndeks,
    ),
];

/// The SOAP routes and the validation endpoint (admin token).
pub fn routes() -> Router<AppState> {
    let mut r = Router::new().route("/admin/valider/sf1490", post(valider_http));
    for (sti, tjeneste) in STIER {
        let tjeneste = *tjeneste;
        let h = post(
            move |State(st): State<AppState>,
                  headers: HeaderMap,
                  slot: Option<axum::Extension<crate::optagelse::Slot>>,
                  secured: WsSecured<YdelsesIndeksService>| async move {
                soap(st, headers, tjeneste, slot.map(|s| s.0), secured).await
            },
        );
        r = r.route(sti, h.clone()).route(&format!("{sti}/"), h);
    }
    r
}

async fn soap(
    st: AppState,
    headers: HeaderMap,
    tjeneste: Ydelsestjeneste,
    slot: Option<crate::optagelse::Slot>,
    secured: WsSecured<YdelsesIndeksService>,
) -> Response {
    besvar(&st, &headers, slot, secured, &YI, |body, version| {
        laes_kald(
            body,
            version,
            |ns, navn| operation::ydelse_output_element(tjeneste, ns, navn),
            |op| operation::laes_ydelse(tjeneste, op),
        )
    })
    .await
}

impl Indeksoperation for YdelseOperation {
    fn navn(&self) -> &'static str {
        YdelseOperation::navn(self)
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

async fn udfoer(
    st: &AppState,
    k: &Kald,
    hvem: Hvem<'_>,
    out_ns: &'static str,
    output: &'static str,
    operation: YdelseOperation,
) -> Result<String, Fejl> {
    match operation {
        // The write path is the Sags- og dokumentindeks': the rules (each type's), the owner,
        // one transaction, UdenNotifikation, the refusal's audit entry.
        YdelseOperation::Importer(o) => {
            sdi::udfoer(st, k, hvem, out_ns, output, Operation::Importer(o)).await
        }
        YdelseOperation::Opdater(v) => {
            sdi::udfoer(st, k, hvem, out_ns, output, Operation::Opdater(v)).await
        }
        YdelseOperation::Fjern { typ, uuid, .. } => {
            let o = opslag(st, &k.ctx, &HashSet::from([uuid])).await?;
            tjek_ejer(&o, uuid, k.system.as_deref(), typ)?;
            fjern_alle(st, k, hvem, &[(typ, uuid)], "fjern").await?;
            Ok(svar::standard(out_ns, output, StatusKode::Ok, None))
        }
        YdelseOperation::Fremsoeg(f) => fremsoeg(st, k, *f).await,
    }
}

// ---------------------------------------------------------------------------------------------
// fremsoeg.

/// The current registreringer of `uuids` of type `typ` in the caller's scope, whoever may read
/// them (for post-filters and the effektueringer's Foelsomhed).
async fn aktuelle(
    st: &AppState,
    k: &Kald,
    typ: &Indekstype,
    uuids: &BTreeSet<Uuid>,
) -> Result<Vec<(Uuid, Registrering)>, Fejl> {
    if uuids.is_empty() {
        return Ok(Vec::new());
    }
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
            (r.meta.livscyklus != Livscyklus::Slettet).then_some((h.objekt.uuid, r))
        })
        .collect())
}

/// Evaluate the search expression: each leaf is one engine search, then its post-filters
/// (intervals, a BevilgetYdelse's values) on the entries found.
async fn evaluer(st: &AppState, k: &Kald, u: &Udtryk) -> Result<soeg::Fundet, Fejl> {
    let nu = time::now();
    let mut blade = Vec::new();
    for b in u.blade() {
        let (typ, blad) = match b {
            Udtryk::Bevilling(b) => (&BEVILLING, b),
            Udtryk::Effektuering(b) => (&EFFEKTUERING, b),
            _ => unreachable!("an SF1490 expression has SF1490 leaves"),
        };
        let mut hits: BTreeSet<Uuid> = soeg_uuids(st, &k.ctx, typ, &blad.parametre)
            .await?
            .into_iter()
            .collect();
        if !blad.efterfiltre.is_empty() {
            hits = aktuelle(st, k, typ, &hits)
                .await?
                .into_iter()
                .filter(|(_, r)| blad.efterfiltre.iter().all(|f| sagdok::opfylder(r, f, nu)))
                .map(|(u, _)| u)
                .collect();
        }
        blade.push(hits);
    }
    let (alle_b, alle_e) = if soeg::har_ikke(u) {
        (
            soeg_uuids(st, &k.ctx, &BEVILLING, &[])
                .await?
                .into_iter()
                .collect(),
            soeg_uuids(st, &k.ctx, &EFFEKTUERING, &[])
                .await?
                .into_iter()
                .collect(),
        )
    } else {
        (BTreeSet::new(), BTreeSet::new())
    };
    Ok(soeg::evaluer(u, &blade, &alle_b, &alle_e))
}

/// The Bevillinger an effektuering's BevilgetYdelseRefs name.
pub(crate) fn bevillinger_af(r: &Registrering) -> Vec<Uuid> {
    r.data
        .relationer
        .get("bevilling")
        .into_iter()
        .flatten()
        .filter_map(|e| match e.maal {
            Maal::Uuid(u) => Some(u),
            _ => None,
        })
        .collect()
}

/// Whether the caller wrote the entry.
fn egen(k: &Kald, r: &Registrering) -> bool {
    k.system.is_some() && ejer(r) == k.system
}

/// The effektueringer of `uuids` the caller may see: those it may see by themselves
/// ([`laes_synlige`]) and by their Bevillinger ([`efter_bevillingerne`]).
async fn synlige_effektueringer(
    st: &AppState,
    k: &Kald,
    uuids: &BTreeSet<Uuid>,
) -> Result<Vec<(Uuid, Registrering)>, Fejl> {
    let liste = laes_synlige(st, k, &EFFEKTUERING, uuids).await?;
    efter_bevillingerne(st, k, liste, RegWindow::Current).await
}

/// The payments among `liste` the caller may see by their Bevillinger too: every Bevilling a
/// payment names, as registered in `vindue`, has a Foelsomhed the caller's agreement allows,
/// unless the caller wrote the payment (a payment has no Foelsomhed of its own). Used by
/// fremsoeg and the per-citizen overview.
pub(crate) async fn efter_bevillingerne(
    st: &AppState,
    k: &Kald,
    liste: Vec<(Uuid, Registrering)>,
    vindue: RegWindow,
) -> Result<Vec<(Uuid, Registrering)>, Fejl> {
    let bevillinger: Vec<Uuid> = liste
        .iter()
        .filter(|(_, r)| !egen(k, r))
        .flat_map(|(_, r)| bevillinger_af(r))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut niveauer: HashMap<Uuid, String> = HashMap::new();
    if !bevillinger.is_empty() {
        let hist = st
            .engine
            .store()
            .read(&bevillinger, vindue)
            .await
            .map_err(|e| oio(e.into()))?;
        for h in hist {
            if h.objekt.klasse != BEVILLING.klasse.name || !k.ctx.scope.permits(&h.objekt) {
                continue;
            }
            // The registrering in force then (the newest overlapping the window).
            if let Some(r) = h.registreringer.iter().max_by_key(|r| r.meta.fra)
                && r.meta.livscyklus != Livscyklus::Slettet
            {
                niveauer.insert(h.objekt.uuid, foelsomhed(r).to_owned());
            }
        }
    }
    Ok(liste
        .into_iter()
        .filter(|(_, r)| {
            egen(k, r)
                || bevillinger_af(r).iter().all(|b| {
                    niveauer
                        .get(b)
                        .is_none_or(|n| k.adgang.foelsomhed.iter().any(|f| f == n))
                })
        })
        .collect())
}

/// The sort key of `element` (`yi:BevillingSorteringFilterType`,
/// `yi:OekonomiskEffektueringSorteringFilterType`): FuldtNavn is the Bevillingspart's (the
/// citizen's) name, Ydelsesnavn the first BevilgetYdelse's Ydelse's, both in the kept XML.
fn noegle(element: &str, r: &Registrering, nu: Ts) -> String {
    let foerste = |sti: Vaerdisti| {
        sagdok::vaerdier(r, &sti, nu)
            .into_iter()
            .next()
            .unwrap_or_default()
    };
    match element {
        "FuldtNavn" => foerste(Vaerdisti::Relation("bevillingspart", "FuldtNavn")).to_lowercase(),
        "Ydelsesnavn" => {
            foerste(Vaerdisti::Relation("bevilgetydelse", "Ydelse/Ydelsesnavn")).to_lowercase()
        }
        "Dispositionsdato" => {
            let t = foerste(Vaerdisti::Felt("egenskaber", "dispositionsdato"));
            time::parse(&t)
                .map(|ts| format!("{:020}", ts.saturating_sub(i64::MIN / 2)))
                .unwrap_or_default()
        }
        _ => String::new(),
    }
}

async fn fremsoeg(st: &AppState, k: &Kald, f: YdelseFremsoeg) -> Result<String, Fejl> {
    let fundet = match &f.udtryk {
        Some(u) => evaluer(st, k, u).await?,
        None => soeg::Fundet::default(),
    };
    let mut bevillinger = fundet.sager;
    let mut effektueringer = fundet.dokumenter;
    if !f.bevillinger.is_empty() {
        bevillinger
            .get_or_insert_default()
            .extend(f.bevillinger.iter().copied());
    }
    if !f.effektueringer.is_empty() {
        effektueringer
            .get_or_insert_default()
            .extend(f.effektueringer.iter().copied());
    }
    let mut bev = match &bevillinger {
        Some(b) => laes_synlige(st, k, &BEVILLING, b).await?,
        None => Vec::new(),
    };
    if f.filter.effektueringer && !bev.is_empty() {
        // BevillingInkluder bevilgetydelse: the payments of the found Bevillinger.
        let mut ekstra = BTreeSet::new();
        for (u, _) in &bev {
            ekstra.extend(
                soeg_uuids(
                    st,
                    &k.ctx,
                    &EFFEKTUERING,
                    &[("bevilling".into(), u.to_string())],
                )
                .await?,
            );
        }
        effektueringer.get_or_insert_default().extend(ekstra);
    }
    let mut eff = match &effektueringer {
        Some(e) => synlige_effektueringer(st, k, e).await?,
        None => Vec::new(),
    };
    if f.filter.bevillinger {
        // OekonomiskEffektueringInkluder: the Bevillinger the found payments pay.
        let ekstra: BTreeSet<Uuid> = eff
            .iter()
            .flat_map(|(_, r)| bevillinger_af(r))
            .filter(|u| !bev.iter().any(|(b, _)| b == u))
            .collect();
        bev.extend(laes_synlige(st, k, &BEVILLING, &ekstra).await?);
        bevillinger.get_or_insert_default();
    }
    let nu = time::now();
    let noegle = |e: &str, r: &Registrering| noegle(e, r, nu);
    sorter(&mut bev, &f.bevilling_sortering, noegle);
    sorter(&mut eff, &f.effektuering_sortering, noegle);
    let (bf, bm) = paging(f.udtryk.as_ref(), true);
    let (ef, em) = paging(f.udtryk.as_ref(), false);
    let mut antal = Vec::new();
    if bevillinger.is_some() {
        antal.push(("bevillinger", bev.len(), Some((bf, bm))));
        let ydelser = bev
            .iter()
            .map(|(_, r)| {
                r.data
                    .relationer
                    .get(fki_indeks::ydelse::BEVILGETYDELSE)
                    .map_or(0, Vec::len)
            })
            .sum();
        antal.push(("ydelser", ydelser, None));
    }
    if effektueringer.is_some() {
        antal.push(("effektueringer", eff.len(), Some((ef, em))));
    }
    let mut s = svar::ydelse_fremsoeg_start(&antal);
    skriv_side(
        &mut s,
        k,
        bev,
        &BEVILLING,
        "yi:BevillingFiltreretOejebliksbillede",
        f.filter.bevilling.as_ref(),
        (bf, bm),
    );
    skriv_side(
        &mut s,
        k,
        eff,
        &EFFEKTUERING,
        "yi:OekonomiskEffektueringFiltreretOejebliksbillede",
        f.filter.effektuering.as_ref(),
        (ef, em),
    );
    svar::luk(&mut s, NS_YI, "FremsoegYdelseIndeksOutput");
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Validation mode.

/// `POST /admin/valider/sf1490?myndighed=…[&system=…]`: a SOAP envelope or the bare operation
/// element of an SF1490 request, checked without storing anything.
async fn valider_http(
    _: Admin,
    State(st): State<AppState>,
    Query(p): Query<ValiderParam>,
    body: Bytes,
) -> AdminResult<Response> {
    sdi::tjek_myndighed(&p.myndighed)?;
    let brud = valider(&st, &p.myndighed, p.system.as_deref(), &body).await;
    Ok(sdi::valider_svar(&brud))
}

/// Validate an SF1490 request for `myndighed` as written by `system`: every broken rule. The
/// service is chosen by the element's namespace (YdelseIndeks, or BevillingIndeks /
/// OekonomiskEffektueringIndeks for a fjern, which has no rules beyond the schema).
pub async fn valider(
    st: &AppState,
    myndighed: &str,
    system: Option<&str>,
    body: &[u8],
) -> Vec<Brud> {
    sdi::valider_med(st, myndighed, system, body, "YI-SKEMA", |op| {
        let tjeneste = match op.tag_name().namespace() {
            Some(NS_BI) => Ydelsestjeneste::BevillingIndeks,
            Some(NS_OEF) => Ydelsestjeneste::OekonomiskEffektueringIndeks,
            _ => Ydelsestjeneste::YdelseIndeks,
        };
        Ok(match operation::laes_ydelse(tjeneste, op)? {
            YdelseOperation::Importer(o) => Operation::Importer(o),
            YdelseOperation::Opdater(v) => Operation::Opdater(v),
            // No write: nothing beyond the schema to check.
            YdelseOperation::Fremsoeg(_) | YdelseOperation::Fjern { .. } => {
                Operation::Fremsoeg(Fremsoeg::default())
            }
        })
    })
    .await
}

/// The operations for the OpenAPI document.
pub fn openapi_paths() -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert(
        "/admin/valider/sf1490".into(),
        json!({"post": {
            "tags": ["admin"],
            "operationId": "admin_valider_sf1490",
            "summary": "Validate a Ydelsesindeks request (SF1490) without storing it: every broken index rule",
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
