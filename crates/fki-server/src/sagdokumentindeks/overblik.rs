//! The per-citizen overview (issue 6 item 6): `GET /indeks/overblik/{part}` returns, for one
//! CPR or CVR number, every sag and document of the caller's myndighed that has it as a part,
//! and every Bevilling and OekonomiskEffektuering (grants and payments, Ydelsesindeks) that has
//! it as Bevillingspart or OekonomiskEffektueringPart, across all the systems that write there,
//! as LoRa JSON (`docs/oio-rest.md`) with the writing anvendersystem as `system`, optionally as
//! registered at an earlier time (`?registreringstid=T`).
//!
//! A REST/JSON interface of fki's own (KOMBIT's overview systems such as SAPA search the
//! indexes with fremsoeg): a token for the Sags- og dokumentindeks (`Authorization:
//! Holder-of-key …` or a bearer access token, as every REST interface) and an agreement for the
//! myndighed; the same reader restrictions as fremsoeg (Foelsomhed, OffentlighedUndtaget).
//! Grants and payments need the caller's system to hold an agreement for the Ydelsesindeks too
//! (its Foelsomhed restriction applies; a payment is as sensitive as the Bevillinger it names,
//! as registered at the same time); without one, `bevillinger` and
//! `oekonomiskeffektueringer` are `null`.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use fki_indeks::regler::gyldig_part;
use fki_indeks::sagdok::{DOKUMENT, Indekstype, SAG};
use fki_oio::json::{RenderOpts, render_objekt};
use fki_oio::model::Livscyklus;
use fki_oio::query::{Forespoergsel, parse_class_query};
use fki_oio::store::Scope;
use fki_oio::time::{NEG_INF, POS_INF};
use serde_json::{Value, json};

use fki_indeks::ydelse::{BEVILLING, EFFEKTUERING};
use fki_oio::model::Registrering;
use fki_oio::store::RegWindow;
use uuid::Uuid;

use super::{Kald, ejer, kald, kald_for, maa_se, som_set};
use crate::AppState;
use crate::sts::ENTITY_SAGDOKUMENTINDEKS;

/// The relation that makes an entry a part's, per index type, and its key in the answer.
const PARTER: &[(&Indekstype, &str, &str)] = &[
    (&SAG, "sagspart", "sager"),
    (&DOKUMENT, "dokumentpart", "dokumenter"),
];
/// The same for the Ydelsesindeks.
const YDELSESPARTER: &[(&Indekstype, &str, &str)] = &[
    (&BEVILLING, "bevillingspart", "bevillinger"),
    (
        &EFFEKTUERING,
        "oekonomiskeffektueringpart",
        "oekonomiskeffektueringer",
    ),
];

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/indeks/overblik/{part}", axum::routing::get(overblik))
}

fn ugyldig(felt: &str, tekst: &str) -> Response {
    crate::error::ApiError::validation(felt, tekst).into_response()
}

/// A CPR number (10 digits), a CVR number (8 digits) or such a URN → the URN.
pub fn part_urn(part: &str) -> Option<String> {
    let urn = if part.starts_with("urn:") {
        part.to_owned()
    } else if part.len() == 10 {
        format!("urn:oio:cpr-nr:{part}")
    } else {
        format!("urn:oio:cvr-nr:{part}")
    };
    gyldig_part(&urn).then_some(urn)
}

async fn overblik(
    State(st): State<AppState>,
    Path(part): Path<String>,
    RawQuery(q): RawQuery,
    req: axum::extract::Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let caller = if st.sts.settings.dev_open {
        tracing::warn!("--dev-open: the index overview let through without a token");
        None
    } else {
        match crate::sts::guard::authenticate_audited(&st.sts, &parts, ENTITY_SAGDOKUMENTINDEKS)
            .await
        {
            Ok(c) => Some(c),
            Err(r) => return r.json(),
        }
    };
    let k = match kald(&st, &parts.headers, caller.as_ref()).await {
        Ok(k) => k,
        Err(f) => {
            return crate::error::message(
                axum::http::StatusCode::FORBIDDEN,
                "IngenAdgang",
                f.tekst,
            );
        }
    };
    let params = crate::admin::params(q);
    if let Some(ukendt) = params.keys().find(|k| k.as_str() != "registreringstid") {
        return ugyldig(ukendt, "unknown parameter (only registreringstid)");
    }
    let Some(urn) = part_urn(&part) else {
        return ugyldig(
            "part",
            "expected a CPR number (10 digits), a CVR number (8 digits) or such a URN",
        );
    };
    let mut svar = serde_json::Map::new();
    svar.insert("part".into(), json!(urn));
    svar.insert("myndighed".into(), json!(k.ctx.myndighed));
    svar.insert(
        "registreringstid".into(),
        json!(params.get("registreringstid")),
    );
    let tid = params.get("registreringstid");
    for (typ, relation, noegle) in PARTER {
        match indgange(&st, &k, typ, relation, &urn, tid).await {
            Ok(v) => {
                svar.insert((*noegle).into(), Value::Array(gengiv(&k, typ, v)));
            }
            Err(r) => return r,
        }
    }
    // Grants and payments: with an agreement for the Ydelsesindeks.
    let yk = kald_for(
        &st,
        &parts.headers,
        caller.as_ref(),
        &crate::ydelsesindeks::YI,
    )
    .await
    .ok();
    for (typ, relation, noegle) in YDELSESPARTER {
        let Some(yk) = &yk else {
            svar.insert((*noegle).into(), Value::Null);
            continue;
        };
        let mut fundne = match indgange(&st, yk, typ, relation, &urn, tid).await {
            Ok(v) => v,
            Err(r) => return r,
        };
        if typ.klasse.name == EFFEKTUERING.klasse.name {
            // A payment is as sensitive as its Bevillinger, as registered at the same time.
            let v = match vindue(tid) {
                Ok(v) => v,
                Err(e) => return ugyldig("registreringstid", &e),
            };
            fundne = match crate::ydelsesindeks::efter_bevillingerne(&st, yk, fundne, v).await {
                Ok(v) => v,
                Err(f) => {
                    return crate::error::message(
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        "Fejl",
                        f.tekst,
                    );
                }
            };
        }
        svar.insert((*noegle).into(), Value::Array(gengiv(yk, typ, fundne)));
    }
    axum::Json(Value::Object(svar)).into_response()
}

fn fejl(e: fki_oio::OioError) -> Response {
    crate::error::ApiError(e).into_response()
}

/// The registration window of `?registreringstid` (default: now), or why it is not a time.
fn vindue(tid: Option<&String>) -> Result<RegWindow, String> {
    Ok(match tid {
        Some(t) => {
            let t = fki_oio::time::parse(t).map_err(|e| e.to_string())?;
            RegWindow::Range(t, t.saturating_add(1))
        }
        None => RegWindow::Current,
    })
}

/// The entries as LoRa JSON, as the caller may see them, with the writing system.
fn gengiv(k: &Kald, typ: &Indekstype, fundne: Vec<(Uuid, Registrering)>) -> Vec<Value> {
    fundne
        .into_iter()
        .map(|(uuid, r)| {
            let system = ejer(&r);
            let r = som_set(k, r);
            let mut o = render_objekt(
                typ.klasse,
                uuid,
                std::slice::from_ref(&r),
                RenderOpts {
                    virk: (NEG_INF, POS_INF),
                    konsolider: false,
                },
            );
            // Which anvendersystem wrote the entry (the index's owner).
            if let Some(m) = o.as_object_mut() {
                m.insert("system".into(), json!(system));
            }
            o
        })
        .collect()
}

/// The entries of `typ` with `urn` as `relation` the caller may see, as registered at `tid`
/// (default: now).
async fn indgange(
    st: &AppState,
    k: &Kald,
    typ: &Indekstype,
    relation: &str,
    urn: &str,
    tid: Option<&String>,
) -> Result<Vec<(Uuid, Registrering)>, Response> {
    let mut p = vec![
        (relation.to_owned(), urn.to_owned()),
        ("foersteresultat".to_owned(), "0".to_owned()),
    ];
    if let Some(t) = tid {
        p.push(("registreringstid".into(), t.clone()));
    }
    let (query, tid) = match parse_class_query(typ.klasse, &p, Scope::All).map_err(fejl)? {
        Forespoergsel::Soeg { query, tid, .. } => (query, tid),
        Forespoergsel::List { .. } => unreachable!("foersteresultat makes it a search"),
    };
    let uuids = st.engine.soeg(&k.ctx, &query).await.map_err(fejl)?;
    let hist = st
        .engine
        .store()
        .read(&uuids, tid.reg)
        .await
        .map_err(|e| fejl(e.into()))?;
    let mut ud = Vec::new();
    for h in hist {
        if !k.ctx.scope.permits(&h.objekt) {
            continue;
        }
        // The registrering in force at the time asked for (the newest overlapping it).
        let Some(r) = h.registreringer.into_iter().max_by_key(|r| r.meta.fra) else {
            continue;
        };
        if r.meta.livscyklus == Livscyklus::Slettet || !maa_se(k, &r) {
            continue;
        }
        ud.push((h.objekt.uuid, r));
    }
    Ok(ud)
}

/// `GET /indeks/overblik/{part}` in the OpenAPI document.
pub fn openapi_paths(paths: &mut serde_json::Map<String, Value>) {
    paths.insert(
        "/indeks/overblik/{part}".into(),
        json!({"get": {
            "tags": ["indeks"],
            "operationId": "indeks_overblik",
            "summary": "Every sag, document, Bevilling and OekonomiskEffektuering of the caller's myndighed with this CPR/CVR number as a part (Sags- og dokumentindeks, Ydelsesindeks), as LoRa JSON",
            "parameters": [
                {"name": "part", "in": "path", "required": true, "description": "CPR number (10 digits), CVR number (8 digits) or urn:oio:cpr-nr:/urn:oio:cvr-nr: URN", "schema": {"type": "string"}},
                {"name": "registreringstid", "in": "query", "required": false, "description": "as registered at this time (default: now)", "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {"description": "{part, myndighed, registreringstid, sager, dokumenter, bevillinger, oekonomiskeffektueringer: [LoRa objects]} (the last two null without an agreement for the Ydelsesindeks)"},
                "400": {"description": "a malformed part or parameter"},
                "401": {"description": "no valid token"},
                "403": {"description": "no active agreement for the token's myndighed"}
            }
        }}),
    );
}
