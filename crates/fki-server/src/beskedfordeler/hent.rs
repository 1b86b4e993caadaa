//! Pull over HTTP (item 5c of issue 4), for receivers without AMQP: the receiving system takes
//! the messages of its dueslag in distribution order and acknowledges each one; a message stays
//! at the head (and is handed out again) until it is acknowledged: at least once.
//!
//! - `GET /beskedfordeler/dueslag/{uuid}/beskeder?antal=N&vent=MS` (N 1–100, default 1): the
//!   first N messages waiting, as JSON `{"beskeder": [{"loebenr", "beskedId", "fordelt",
//!   "haendelsesbesked"}]}`; `haendelsesbesked` is the Haendelsesbesked XML with the
//!   Beskedfordeler's Leverancerute added (item 5d). With `vent` (ms, 0–[`VENT_MAKS_MS`],
//!   default 0) an empty dueslag is a long poll: the answer comes as soon as a message for it
//!   is accepted by this process (or, for messages another process accepted, when `vent` is
//!   over), so a receiver need not poll an empty dueslag.
//! - `POST /beskedfordeler/dueslag/{uuid}/beskeder/{loebenr}/kvitter`: acknowledged, it leaves
//!   the dueslag (204; 404 if it is not waiting).
//! - `POST /beskedfordeler/dueslag/{uuid}/kvitter` with JSON `{"loebenr": [..]}` (at most
//!   [`KVITTER_MAKS`]): acknowledge many at once, in one write transaction (the writer's, with
//!   the messages and acknowledgements waiting at that moment); answers 200
//!   `{"kvitteret": n}`, n counting those that were waiting (the others, e.g. acknowledged
//!   before, are skipped: no 404).
//! - `POST /beskedfordeler/dueslag/{uuid}/beskeder/{loebenr}/fejlkoe` (FlytBeskedTilFejlkoe):
//!   the receiver cannot process it; it moves to the dueslag's fejlkø (204; 404). An optional
//!   JSON body `{"grund": "…"}` is recorded.
//!
//! Token for `bfo_modtag/2`; the caller must be the dueslag's owner and act for its myndighed
//! (under `--dev-open`: the myndighed from `X-FKI-Myndighed`). Errors are RFC 9457 problem
//! documents.

use std::sync::atomic::Ordering::Relaxed;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fki_store::besked::Dueslag;
use serde_json::json;
use uuid::Uuid;

use super::BFO_MODTAG;
use super::afsend::kalder;
use crate::AppState;
use crate::admin::problem;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/beskedfordeler/dueslag/{uuid}/beskeder", get(hent))
        .route(
            "/beskedfordeler/dueslag/{uuid}/beskeder/{loebenr}/kvitter",
            post(kvitter),
        )
        .route(
            "/beskedfordeler/dueslag/{uuid}/kvitter",
            post(kvitter_mange),
        )
        .route(
            "/beskedfordeler/dueslag/{uuid}/beskeder/{loebenr}/fejlkoe",
            post(fejlkoe),
        )
}

/// The dueslag, if the caller may read it.
async fn eget_dueslag(state: &AppState, parts: &Parts, uuid: &str) -> Result<Dueslag, Response> {
    let k = kalder(state, parts, BFO_MODTAG)
        .await
        .map_err(|r| r.json())?;
    let uuid: Uuid = uuid
        .parse()
        .map_err(|_| problem(StatusCode::BAD_REQUEST, "invalid", "dueslag UUID expected"))?;
    let ikke_fundet = || {
        problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no dueslag {uuid}"),
        )
    };
    let d = state
        .beskedfordeler
        .dueslag(uuid)
        .await
        .map_err(store_fejl)?
        .ok_or_else(ikke_fundet)?;
    let dev_open = state.sts.settings.dev_open;
    if d.myndighed != k.cvr || (!dev_open && d.ejer != k.system) {
        // Someone else's dueslag is indistinguishable from none.
        return Err(ikke_fundet());
    }
    Ok(d)
}

fn store_fejl(e: fki_oio::store::StoreError) -> Response {
    tracing::error!(error = %e, "Beskedfordeler store failure");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
}

async fn hent(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    RawQuery(q): RawQuery,
    parts: Parts,
) -> Response {
    let d = match eget_dueslag(&state, &parts, &uuid).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mut antal = 1u32;
    let mut vent = 0u64;
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match (k.as_ref(), v.parse::<u64>()) {
            ("antal", Ok(n)) if (1..=100).contains(&n) => antal = n as u32,
            ("antal", _) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "antal must be a whole number from 1 to 100",
                );
            }
            ("vent", Ok(ms)) if ms <= VENT_MAKS_MS => vent = ms,
            ("vent", _) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    format!("vent must be a whole number of milliseconds from 0 to {VENT_MAKS_MS}"),
                );
            }
            (other, _) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    format!("unknown query parameter {other:?} (known: antal, vent)"),
                );
            }
        }
    }
    let bf = &state.beskedfordeler;
    let frist = tokio::time::Instant::now() + std::time::Duration::from_millis(vent);
    let vaekker = bf.notify_for(d.uuid);
    // Pull ignores push's retry times: everything waiting is due for a receiver that asks.
    let klar = loop {
        // Registered before the read, so a message committed in between wakes it.
        let vaekket = vaekker.notified();
        tokio::pin!(vaekket);
        vaekket.as_mut().enable();
        let klar = match bf.store.klar(d.uuid, i64::MAX, antal).await {
            Ok(k) => k,
            Err(e) => return store_fejl(e),
        };
        if !klar.is_empty() || tokio::time::Instant::now() >= frist {
            break klar;
        }
        // Woken, or the time is up: read again (the last read at the deadline).
        let _ = tokio::time::timeout_at(frist, vaekket).await;
    };
    let nu = fki_oio::time::now();
    let mut beskeder = Vec::with_capacity(klar.len());
    for l in klar {
        let xml = match super::med_leverancerute(&l, nu) {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, dueslag = %d.uuid, loebenr = l.levering.loebenr, "stored message does not parse");
                l.besked.xml.clone()
            }
        };
        beskeder.push(json!({
            "loebenr": l.levering.loebenr,
            "beskedId": l.besked.besked_id,
            "fordelt": fki_oio::time::format_iso(l.levering.fordelt),
            "haendelsesbesked": xml,
        }));
    }
    axum::Json(json!({ "beskeder": beskeder })).into_response()
}

async fn kvitter(
    State(state): State<AppState>,
    Path((uuid, loebenr)): Path<(String, i64)>,
    parts: Parts,
) -> Response {
    let d = match eget_dueslag(&state, &parts, &uuid).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let bf = &state.beskedfordeler;
    match bf
        .store
        .kvitter(d.uuid, loebenr, fki_oio::time::now())
        .await
    {
        Ok(true) => {
            bf.metrics.delivered.fetch_add(1, Relaxed);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("message {loebenr} is not waiting in this dueslag"),
        ),
        Err(e) => store_fejl(e),
    }
}

/// Most loebenr one batch acknowledgement takes.
pub const KVITTER_MAKS: usize = 1000;

/// Longest `vent` of a pull (ms).
pub const VENT_MAKS_MS: u64 = 30_000;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KvitterMange {
    loebenr: Vec<i64>,
}

async fn kvitter_mange(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let d = match eget_dueslag(&state, &parts, &uuid).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let k: KvitterMange = match serde_json::from_slice(&body) {
        Ok(k) => k,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("the body must be {{\"loebenr\": [..]}}: {e}"),
            );
        }
    };
    if k.loebenr.len() > KVITTER_MAKS {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("at most {KVITTER_MAKS} loebenr at once"),
        );
    }
    let bf = &state.beskedfordeler;
    // Through the writer, committed with the messages and acknowledgements waiting with it.
    let par = k.loebenr.iter().map(|l| (d.uuid, *l)).collect();
    match bf.kvitter(par, fki_oio::time::now()).await {
        Ok(kvitteret) => {
            let n = kvitteret.iter().filter(|k| **k).count() as u64;
            bf.metrics.delivered.fetch_add(n, Relaxed);
            axum::Json(json!({ "kvitteret": n })).into_response()
        }
        Err(e) => store_fejl(e),
    }
}

async fn fejlkoe(
    State(state): State<AppState>,
    Path((uuid, loebenr)): Path<(String, i64)>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let d = match eget_dueslag(&state, &parts, &uuid).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let grund = if body.is_empty() {
        "moved to the fejlkø by the receiver".to_owned()
    } else {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => match v.get("grund").and_then(|g| g.as_str()) {
                Some(g) => format!("moved to the fejlkø by the receiver: {g}"),
                None => {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        "invalid",
                        "the body must be {\"grund\": \"…\"} or empty",
                    );
                }
            },
            Err(e) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    format!("bad JSON body: {e}"),
                );
            }
        }
    };
    let bf = &state.beskedfordeler;
    match bf.store.til_fejlkoe(d.uuid, loebenr, &grund).await {
        Ok(true) => {
            bf.metrics.dead_lettered.fetch_add(1, Relaxed);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("message {loebenr} is not waiting in this dueslag"),
        ),
        Err(e) => store_fejl(e),
    }
}
