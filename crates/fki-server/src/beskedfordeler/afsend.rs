//! `POST /beskedfordeler/afsend`: deliver a Haendelsesbesked over HTTP (item 2b of issue 4), for
//! systems without AMQP. The operation is KOMBIT's AfsendBesked: the body is
//! `bf:AfsendBeskedInput` (`BeskedfordelerOperationer.xsd`, namespace
//! `urn:oio:sts:beskedfordeler:1.0.0`) or a bare `besked:Haendelsesbesked`, and the answer is
//! `bf:AfsendBeskedOutput` with a `StandardRetur`:
//!
//! | StatusKode | HTTP | when |
//! |---|---|---|
//! | 20 | 200 | stored durably with its leveringer (or the BeskedId was already stored) |
//! | 40 | 400 | not a valid message (the text names the element and the rule) |
//! | 41 | 401/403 | no valid token for `bfo_afsend/2`, or no active agreement for the CVR |
//! | 44 | 413 | larger than 4 MiB |
//! | 50 | 500 | the store failed: nothing was accepted, send again |
//!
//! The message is sent in the context of the token's CVR; `Filtreringsdata` and the
//! abonnementer decide who receives it ([`super::fordeling`]).

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use fki_beskedfordeler::kuvert::{self, Haendelsesbesked, NS_BESKEDFORDELER, UnikId};
use fki_beskedfordeler::retur::{StandardRetur, StatusKode};
use fki_store::besked::NyBesked;
use std::sync::atomic::Ordering::Relaxed;
use uuid::Uuid;

use super::BFO_AFSEND;
use crate::AppState;
use crate::sts::Refusal;
use crate::sts::guard::authenticate_audited;

/// Header naming the sending system under `--dev-open` (no token there).
pub const HEADER_SYSTEM: &str = "x-fki-system";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/beskedfordeler/afsend", post(afsend))
        .layer(DefaultBodyLimit::max(kuvert::MAX_BYTES + 64 * 1024))
}

/// Who is calling a Beskedfordeler operation, and for which myndighed.
#[derive(Debug, Clone)]
pub struct Kalder {
    pub system: Uuid,
    pub cvr: String,
}

/// The caller of a Beskedfordeler route: from the token for `entity_id`, or under
/// `--dev-open` from `X-FKI-Myndighed` (required) and `X-FKI-System` (optional), with a warning.
pub async fn kalder(state: &AppState, parts: &Parts, entity_id: &str) -> Result<Kalder, Refusal> {
    if state.sts.settings.dev_open {
        let header = |n: &str| {
            parts
                .headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let cvr = header(crate::rest::HEADER_MYNDIGHED)
            .filter(|c| c.len() == 8 && c.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                Refusal::new(
                    "dev_open_myndighed_required",
                    "under --dev-open the myndighed comes from the X-FKI-Myndighed header (8 digits)",
                    fki_sts::fault::FaultCode::FailedAuthentication,
                    StatusCode::BAD_REQUEST,
                )
            })?
            .to_owned();
        let system = header(HEADER_SYSTEM)
            .and_then(|s| s.parse().ok())
            .unwrap_or(Uuid::nil());
        tracing::warn!(
            path = %parts.uri.path(),
            myndighed = %cvr,
            system = %system,
            "--dev-open: Beskedfordeler request let through without a token"
        );
        return Ok(Kalder { system, cvr });
    }
    let c = authenticate_audited(&state.sts, parts, entity_id).await?;
    Ok(Kalder {
        system: c.system,
        cvr: c.cvr,
    })
}

/// The `AfsendBeskedOutput` answer with the HTTP status that goes with its StatusKode.
pub fn svar(http: StatusCode, retur: StandardRetur) -> Response {
    let mut r = (
        http,
        retur.output_document("bf", "AfsendBeskedOutput", NS_BESKEDFORDELER),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    r
}

/// A refusal: counted in [`super::Metrics::refused`], answered with `kode` (and `http`, for
/// HTTP).
pub fn afvist(
    state: &AppState,
    http: StatusCode,
    kode: StatusKode,
    tekst: impl Into<String>,
) -> (StatusCode, StandardRetur) {
    state.beskedfordeler.metrics.refused.fetch_add(1, Relaxed);
    (http, StandardRetur::fejl(kode, tekst))
}

fn fejl(
    state: &AppState,
    http: StatusCode,
    kode: StatusKode,
    tekst: impl Into<String>,
) -> Response {
    let (http, retur) = afvist(state, http, kode, tekst);
    svar(http, retur)
}

/// The local name of the document's root element.
fn rod(xml: &str) -> Option<&str> {
    let mut rest = xml;
    loop {
        let i = rest.find('<')?;
        rest = &rest[i..];
        if rest.starts_with("<?") {
            rest = &rest[rest.find("?>")? + 2..];
        } else if rest.starts_with("<!--") {
            rest = &rest[rest.find("-->")? + 3..];
        } else {
            let navn = rest[1..]
                .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .next()?;
            return Some(navn.rsplit(':').next().unwrap_or(navn));
        }
    }
}

/// Parse the body: `AfsendBeskedInput` or a bare `Haendelsesbesked`.
pub fn laes_besked(xml: &str) -> Result<Haendelsesbesked, String> {
    let besked = if rod(xml) == Some("AfsendBeskedInput") {
        Haendelsesbesked::parse_beskedfordeler_input(xml, "AfsendBeskedInput")
    } else {
        Haendelsesbesked::parse(xml)
    }
    .map_err(|e| e.to_string())?;
    if !matches!(besked.besked_id, UnikId::Uuid(_)) {
        return Err("Haendelsesbesked/BeskedId: the Beskedfordeler needs a UUID".into());
    }
    Ok(besked)
}

async fn afsend(
    State(state): State<AppState>,
    parts: Parts,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let kalder = match kalder(&state, &parts, BFO_AFSEND).await {
        Ok(k) => k,
        Err(r) => {
            let http = if r.status == StatusCode::BAD_REQUEST {
                StatusCode::BAD_REQUEST
            } else {
                r.status
            };
            return fejl(&state, http, StatusKode::IkkeAutoriseret, r.reason.clone());
        }
    };
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return fejl(
                &state,
                StatusCode::PAYLOAD_TOO_LARGE,
                StatusKode::ForStor,
                format!("the message is larger than {} bytes", kuvert::MAX_BYTES),
            );
        }
        Err(e) => {
            return fejl(
                &state,
                StatusCode::BAD_REQUEST,
                StatusKode::UgyldigInput,
                e.body_text(),
            );
        }
    };
    let Ok(xml) = std::str::from_utf8(&body) else {
        return fejl(
            &state,
            StatusCode::BAD_REQUEST,
            StatusKode::UgyldigInput,
            "the body is not UTF-8",
        );
    };
    afsend_xml(&state, &kalder, xml).await
}

/// Accept a message from `kalder` over HTTP: [`afsend_retur`] as a response.
pub async fn afsend_xml(state: &AppState, kalder: &Kalder, xml: &str) -> Response {
    let (http, retur) = afsend_retur(state, kalder, xml).await;
    svar(http, retur)
}

/// Accept a message from `kalder`: the StandardRetur (with its HTTP status) once the message
/// is stored durably with its leveringer, or why not. The core shared by HTTP and AMQP; AMQP
/// calls its parts ([`forbered`], [`Forberedt::stil`], [`Indsendt::afslut`]) itself, so that
/// several messages are parsed and distributed at once, the messages of one channel are
/// queued for the writer in the order they arrived, and their commits are awaited
/// concurrently.
pub async fn afsend_retur(
    state: &AppState,
    kalder: &Kalder,
    xml: &str,
) -> (StatusCode, StandardRetur) {
    match indsend(state, kalder, xml).await {
        Ok(i) => i.afslut(state).await,
        Err(e) => e,
    }
}

/// A message taken in and queued for the writer, not yet durable.
#[derive(Debug)]
pub struct Indsendt {
    svar: tokio::sync::oneshot::Receiver<fki_oio::store::StoreResult<fki_store::besked::Modtaget>>,
    /// The dueslag it goes to (woken once it is durable).
    dueslag: Vec<Uuid>,
}

/// The first half of [`afsend_retur`]: parse the message, decide its dueslag, and queue it for
/// the writer (group commit). Messages queued one after another are committed in that order.
pub async fn indsend(
    state: &AppState,
    kalder: &Kalder,
    xml: &str,
) -> Result<Indsendt, (StatusCode, StandardRetur)> {
    forbered(state, kalder, xml).await?.stil(state).await
}

/// A message parsed and distributed (its dueslag decided), not yet queued for the writer.
#[derive(Debug)]
pub struct Forberedt {
    ny: NyBesked,
}

impl Forberedt {
    /// Queue it for the writer (group commit). Messages queued one after another are
    /// committed in that order.
    pub async fn stil(self, state: &AppState) -> Result<Indsendt, (StatusCode, StandardRetur)> {
        let dueslag = self.ny.dueslag.clone();
        match state.beskedfordeler.stil_i_koe(self.ny).await {
            Ok(svar) => Ok(Indsendt { svar, dueslag }),
            Err(e) => Err(gem_fejlet(state, e)),
        }
    }
}

/// The part of [`indsend`] that needs no order (it may run for several messages at once):
/// parse the message and decide its dueslag.
pub async fn forbered(
    state: &AppState,
    kalder: &Kalder,
    xml: &str,
) -> Result<Forberedt, (StatusCode, StandardRetur)> {
    let bf = &state.beskedfordeler;
    let besked = laes_besked(xml)
        .map_err(|e| afvist(state, StatusCode::BAD_REQUEST, StatusKode::UgyldigInput, e))?;
    let UnikId::Uuid(besked_id) = besked.besked_id else {
        unreachable!("checked by laes_besked");
    };
    let fordeling = bf.fordeling().await.map_err(|e| {
        tracing::error!(error = %e, "Beskedfordeler: cannot read the abonnementer");
        afvist(
            state,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusKode::Fejl,
            "the Beskedfordeler cannot read its abonnementer; nothing was accepted",
        )
    })?;
    let dueslag = fordeling.modtagere(&kalder.cvr, &besked.beskedkuvert.filtreringsdata);
    Ok(Forberedt {
        ny: NyBesked {
            besked_id,
            afsender: kalder.system,
            myndighed: kalder.cvr.clone(),
            modtaget: fki_oio::time::now(),
            xml: besked.to_xml(),
            dueslag,
        },
    })
}

impl Indsendt {
    /// The second half of [`afsend_retur`]: wait for the commit; StatusKode 20 (also for a
    /// BeskedId stored before) or 50.
    pub async fn afslut(self, state: &AppState) -> (StatusCode, StandardRetur) {
        let bf = &state.beskedfordeler;
        let res = self.svar.await.unwrap_or_else(|_| {
            Err(fki_oio::store::StoreError::Backend(
                "the Beskedfordeler writer has stopped".into(),
            ))
        });
        match res {
            Ok(m) => {
                if m.ny {
                    bf.metrics.accepted.fetch_add(1, Relaxed);
                    bf.metrics
                        .distributed
                        .fetch_add(self.dueslag.len() as u64, Relaxed);
                    bf.wake_dueslag(&self.dueslag);
                } else {
                    bf.metrics.duplicates.fetch_add(1, Relaxed);
                }
                (StatusCode::OK, StandardRetur::ok())
            }
            Err(e) => gem_fejlet(state, e),
        }
    }
}

fn gem_fejlet(state: &AppState, e: fki_oio::store::StoreError) -> (StatusCode, StandardRetur) {
    tracing::error!(error = %e, "Beskedfordeler: storing a message failed");
    afvist(
        state,
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusKode::Fejl,
        "the message could not be stored; nothing was accepted, send it again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_element_names() {
        assert_eq!(
            rod("<?xml version=\"1.0\"?>\n<!-- x --><bf:AfsendBeskedInput xmlns:bf=\"u\">"),
            Some("AfsendBeskedInput")
        );
        assert_eq!(rod("<Haendelsesbesked>"), Some("Haendelsesbesked"));
        assert_eq!(rod("<a:b/>"), Some("b"));
        assert_eq!(rod("no xml"), None);
    }
}
