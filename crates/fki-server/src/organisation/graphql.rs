//! OrganisationHent over GraphQL: `POST /organisation/graphql`, the schema of
//! `../shared/specs/sf1500-organisation/graphql/schemaOrganisationV1.gql` (type, field, argument
//! and scalar names exactly as there, the `OrganisaionEnhedEdge` spelling included), answered
//! from the same engine and data as the SOAP and REST front doors.
//!
//! Transport: a GraphQL-over-HTTP POST (`{"query", "variables", "operationName"}`, at most
//! [`BODY_LIMIT`]); `GET /organisation/graphql/schema` gives the SDL. Every request needs
//! `x-TransaktionsId` (a UUID) and `x-TransaktionsTid` (ISO 8601), which are answered back,
//! else 400; and `Authorization: Bearer <token>` (or `Holder-of-key <token>`), a token for the
//! Organisation service presented with its holder-of-key client certificate, with an agreement
//! active now for the token's CVR, else 401/403 — the REST guard's checks
//! ([`crate::sts::guard::authenticate_audited`]). The caller reads its CVR's objects and the
//! fælleskommunale; another CVR's organisation is not found (`null`).
//!
//! How the schema maps onto the OIO objects (all read as they are now, in the current
//! registrering; a slettet object is not there):
//! - `organisation(cvr)`: the Organisation whose `virksomhed` is the Virksomhed with that
//!   `cvr-nummer`, else whose `myndighed` is the Myndighed with that `cvrnr`. Its
//!   `organisationEnhed` is the root: the unit of the Organisation (`tilhoerer`) without an
//!   `overordnet` unit (none, or the Organisation itself); the first by brugervendt nøgle.
//! - `OrganisationEnhed`: `enhedsnavn`; `underliggendeEnheder` the units whose `overordnet` it is;
//!   `tilstand` its `gyldighed` now; `adresser` its `adresser` (Adresse objects; `rolle`, `type`,
//!   `indeks` of the relation; URN targets are not Adresse objects and are left out); `opgaver`
//!   its `opgaver` (Klasser: KLE number = brugervendt nøgle, title = `titel`); `itSystemer` its
//!   `tilknyttedeitsystemer`; `medlemskaber` the OrganisationFunktioner with it among their
//!   `tilknyttedeenheder` (the function type is `organisatoriskfunktionstype`); and
//!   `henvendelsessteder` those of them whose function type is the Klasse titled
//!   `Henvendelsessted`.
//! - `organisationEnhedListe`: the Organisation's units in that `status`, the root first, then by
//!   brugervendt nøgle and UUID; `opgaver` keeps units with one of the KLE numbers (`*` a
//!   trailing wildcard, in the given `rolle`), `itSystemer` units with one of the IT systems.
//!   Relay paging: at most [`MAX_SIDE`] per page (the default), opaque cursors.
//! - `bruger`, `brugerListe` likewise for Brugere (`brugernavn`, `brugertyper`,
//!   `tilknyttedepersoner`, memberships through `tilknyttedebrugere`).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, InputObject, InputValueError,
    InputValueResult, Interface, Object, Scalar, ScalarType, Schema, SimpleObject,
    Value as GqlValue,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use fki_oio::model::{Livscyklus, Maal, RelEntry, StateEntry};
use fki_oio::store::{Kriterium, Match, RegWindow, SearchQuery};
use fki_oio::time::{self, NEG_INF, POS_INF, Ts};
use fki_oio::{Engine, Kontekst};
use serde_json::json;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::AppState;
use crate::sts::ENTITY_ORGANISATION;

/// The largest page of `organisationEnhedListe` and `brugerListe`, and the default size.
pub const MAX_SIDE: usize = 500;
/// The largest request body.
pub const BODY_LIMIT: usize = 256 * 1024;
/// Query depth and complexity bounds (a nested query fans out into reads).
const MAX_DEPTH: usize = 16;
const MAX_COMPLEXITY: usize = 5_000;

pub type OrganisationHentSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// The schema, with `Medlemskab` registered (no field returns the interface itself).
pub fn schema() -> OrganisationHentSchema {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .register_output_type::<Medlemskab>()
        .register_output_type::<PersonDataConstraintType>()
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// `POST /organisation/graphql`, `GET /organisation/graphql/schema`.
pub fn routes() -> Router<AppState> {
    let schema = schema();
    let sdl = schema.sdl();
    Router::new()
        .route(
            "/organisation/graphql",
            post(move |State(st): State<AppState>, req: Request| {
                let schema = schema.clone();
                async move { graphql(st, schema, req).await }
            })
            .layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
        .route(
            "/organisation/graphql/schema",
            get(
                move || async move { ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], sdl) },
            ),
        )
}

/// A GraphQL-shaped error answer with an HTTP status.
fn fejl(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"errors": [{"message": message, "extensions": {"code": code}}]}).to_string(),
    )
        .into_response()
}

/// The `x-TransaktionsId` (UUID) and `x-TransaktionsTid` (ISO 8601) headers, required; a
/// refusal is (code, message), answered 400.
fn transaktion(headers: &HeaderMap) -> Result<(String, String), (&'static str, &'static str)> {
    let get = |navn: &str| {
        // An unreadable (non-ASCII) value is there but bad: "?" fails both checks below.
        headers
            .get(navn)
            .map(|v| v.to_str().unwrap_or("?").trim())
            .filter(|v| !v.is_empty())
    };
    let id = get("x-transaktionsid").ok_or((
        "missing_header",
        "the x-TransaktionsId header (a UUID) is required",
    ))?;
    if Uuid::parse_str(id).is_err() {
        return Err(("bad_header", "x-TransaktionsId must be a UUID"));
    }
    let tid = get("x-transaktionstid").ok_or((
        "missing_header",
        "the x-TransaktionsTid header (ISO 8601 date and time) is required",
    ))?;
    if chrono::DateTime::parse_from_rfc3339(tid).is_err() {
        return Err((
            "bad_header",
            "x-TransaktionsTid must be an ISO 8601 date and time with offset, e.g. 2026-11-29T10:00:00+01:00",
        ));
    }
    Ok((id.to_owned(), tid.to_owned()))
}

async fn graphql(st: AppState, schema: OrganisationHentSchema, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let (tid_id, tid_tid) = match transaktion(&parts.headers) {
        Ok(t) => t,
        Err((code, message)) => return fejl(StatusCode::BAD_REQUEST, code, message),
    };
    // Under --dev-open everything is visible.
    let mut personadgang = Personadgang {
        navn: true,
        cpr: true,
    };
    let ctx = if st.sts.settings.dev_open {
        match crate::rest::kontekst(&st, &parts.headers) {
            Ok(c) => {
                tracing::warn!(
                    myndighed = c.myndighed.as_deref().unwrap_or("-"),
                    "--dev-open: GraphQL request let through without a token"
                );
                c
            }
            Err(e) => return e.into_response(),
        }
    } else {
        let caller =
            match crate::sts::guard::authenticate_audited(&st.sts, &parts, ENTITY_ORGANISATION)
                .await
            {
                Ok(c) => c,
                Err(r) => return fejl(r.status, &r.code, &r.reason),
            };
        // The data limitations of the caller's agreements (checked active just now).
        let aftaler = match st.sts.own_service(ENTITY_ORGANISATION).await {
            Ok(service) => {
                st.sts
                    .active_agreements(caller.system, service, &caller.cvr)
                    .await
            }
            Err(r) => Err(r),
        };
        match aftaler {
            Ok(a) => {
                personadgang = Personadgang::af(
                    a.iter()
                        .flat_map(|a| a.dataafgraensninger.iter())
                        .map(|d| (d.navn.as_str(), d.vaerdi.as_str())),
                )
            }
            Err(r) => return fejl(r.status, &r.code, &r.reason),
        }
        Kontekst {
            scope: fki_oio::store::Scope::Myndigheder(vec![caller.cvr.clone()]),
            myndighed: Some(caller.cvr),
            faelles: false,
            brugerref: None,
        }
    };
    let bytes: Bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return fejl(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                &format!("the request body is limited to {BODY_LIMIT} bytes"),
            );
        }
    };
    let request: async_graphql::Request = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return fejl(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("expected a JSON body {{\"query\": …, \"variables\": …}}: {e}"),
            );
        }
    };
    let laeser = Arc::new(Laeser::new(st.engine.clone(), ctx, personadgang));
    let svar = schema.execute(request.data(laeser)).await;
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&svar).unwrap_or_else(|_| "{}".into()),
    )
        .into_response();
    for (navn, v) in [("x-transaktionsid", tid_id), ("x-transaktionstid", tid_tid)] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(HeaderName::from_static(navn), v);
        }
    }
    r
}

// ------------------------------------------------------------------------------ reading

/// One object as it is now: its current registrering's data.
#[derive(Debug)]
pub struct Obj {
    uuid: Uuid,
    klasse: String,
    data: fki_oio::model::Data,
    nu: Ts,
}

fn nu_gyldig(v: &fki_oio::model::Virkning, nu: Ts) -> bool {
    v.from <= nu && nu < v.to
}

impl Obj {
    /// A text field of any attribute group, in the period valid now.
    fn felt(&self, navn: &str) -> Option<String> {
        self.data
            .attributter
            .values()
            .flatten()
            .filter(|a| nu_gyldig(&a.virkning, self.nu))
            .find_map(|a| {
                a.felter
                    .get(navn)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            })
    }

    fn tilstand(&self, navn: &str) -> Option<&StateEntry> {
        self.data
            .tilstande
            .get(navn)?
            .iter()
            .find(|s| nu_gyldig(&s.virkning, self.nu))
    }

    fn rel(&self, navn: &str) -> impl Iterator<Item = &RelEntry> {
        self.data
            .relationer
            .get(navn)
            .into_iter()
            .flatten()
            .filter(|r| nu_gyldig(&r.virkning, self.nu))
    }

    fn rel_uuids(&self, navn: &str) -> Vec<Uuid> {
        self.rel(navn)
            .filter_map(|r| match r.maal {
                Maal::Uuid(u) => Some(u),
                _ => None,
            })
            .collect()
    }

    fn rel_uuid(&self, navn: &str) -> Option<Uuid> {
        self.rel_uuids(navn).into_iter().next()
    }

    fn bvn(&self) -> Option<String> {
        self.felt("brugervendtnoegle")
    }

    fn gyldighed(&self) -> Tilstand {
        match self.tilstand("gyldighed") {
            Some(s) => Tilstand {
                status: if s.vaerdi == "Aktiv" {
                    TilstandStatus::Aktiv
                } else {
                    TilstandStatus::Inaktiv
                },
                fra_tidspunkt: tidspunkt(s.virkning.from),
                til_tidspunkt: tidspunkt(s.virkning.to),
            },
            None => Tilstand {
                status: TilstandStatus::Inaktiv,
                fra_tidspunkt: None,
                til_tidspunkt: None,
            },
        }
    }
}

fn tidspunkt(ts: Ts) -> Option<DateTime> {
    (ts != NEG_INF && ts != POS_INF).then(|| DateTime(time::format_iso(ts)))
}

/// What a caller may see of a Person: the schema's `@PersonDataConstraint`, granted by the
/// service agreement's data limitations `SeNavn` and `SeCPR-nummer` (value `true`, `ja` or `1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Personadgang {
    pub navn: bool,
    pub cpr: bool,
}

/// The data limitation granting Person `navn`.
pub const SE_NAVN: &str = "SeNavn";
/// The data limitation granting Person `cpr`.
pub const SE_CPR: &str = "SeCPR-nummer";

impl Personadgang {
    /// From the (navn, værdi) data limitations of the caller's active agreements.
    pub fn af<'a>(afgraensninger: impl IntoIterator<Item = (&'a str, &'a str)>) -> Personadgang {
        let mut p = Personadgang {
            navn: false,
            cpr: false,
        };
        for (navn, vaerdi) in afgraensninger {
            let ja = ["true", "ja", "1"]
                .iter()
                .any(|j| vaerdi.trim().eq_ignore_ascii_case(j));
            if ja && navn.eq_ignore_ascii_case(SE_NAVN) {
                p.navn = true;
            }
            if ja && navn.eq_ignore_ascii_case(SE_CPR) {
                p.cpr = true;
            }
        }
        p
    }
}

/// Reads for one request: the caller's context, one "now", and a cache so a nested query reads
/// each object once.
pub struct Laeser {
    engine: Engine,
    ctx: Kontekst,
    personadgang: Personadgang,
    nu: Ts,
    cache: Mutex<HashMap<Uuid, Option<Arc<Obj>>>>,
}

type GResult<T> = async_graphql::Result<T>;

fn intern(e: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(error = %e, "OrganisationHent: read failed");
    async_graphql::Error::new("internal error reading the organisation")
}

impl Laeser {
    fn new(engine: Engine, ctx: Kontekst, personadgang: Personadgang) -> Laeser {
        Laeser {
            engine,
            ctx,
            personadgang,
            nu: time::now(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The objects of class `klasse` among `uuids` the caller may see, now; `None` for the
    /// unknown, invisible, slettet or of another class. In the order of `uuids`.
    async fn hent(&self, klasse: &str, uuids: &[Uuid]) -> GResult<Vec<Option<Arc<Obj>>>> {
        let mangler: Vec<Uuid> = {
            let c = self.cache.lock().await;
            let mut m: Vec<Uuid> = uuids
                .iter()
                .filter(|u| !c.contains_key(u))
                .copied()
                .collect();
            m.sort();
            m.dedup();
            m
        };
        if !mangler.is_empty() {
            let hist = self
                .engine
                .store()
                .read(&mangler, RegWindow::Current)
                .await
                .map_err(intern)?;
            let mut c = self.cache.lock().await;
            for u in &mangler {
                c.insert(*u, None);
            }
            for h in hist {
                if !self.ctx.scope.permits(&h.objekt) {
                    continue;
                }
                let Some(r) = h.registreringer.into_iter().next() else {
                    continue;
                };
                if r.meta.livscyklus == Livscyklus::Slettet {
                    continue;
                }
                c.insert(
                    h.objekt.uuid,
                    Some(Arc::new(Obj {
                        uuid: h.objekt.uuid,
                        klasse: h.objekt.klasse,
                        data: r.data,
                        nu: self.nu,
                    })),
                );
            }
        }
        let c = self.cache.lock().await;
        Ok(uuids
            .iter()
            .map(|u| c.get(u).cloned().flatten().filter(|o| o.klasse == klasse))
            .collect())
    }

    async fn en(&self, klasse: &str, uuid: Uuid) -> GResult<Option<Arc<Obj>>> {
        Ok(self.hent(klasse, &[uuid]).await?.pop().flatten())
    }

    /// The visible objects among `uuids`, in order, the missing left out.
    async fn mange(&self, klasse: &str, uuids: &[Uuid]) -> GResult<Vec<Arc<Obj>>> {
        Ok(self
            .hent(klasse, uuids)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// The first visible object of `klasse` among `uuids` (a relation's first target).
    async fn foerste(&self, klasse: &str, uuids: &[Uuid]) -> GResult<Option<Arc<Obj>>> {
        Ok(self.mange(klasse, uuids).await?.into_iter().next())
    }

    /// The UUIDs of objects of `klasse` whose current registrering has, valid now, every fact
    /// of `kriterier` (`(navn, værdi)`, exact).
    async fn soeg(&self, klasse: &str, kriterier: &[(&str, String)]) -> GResult<Vec<Uuid>> {
        let q = SearchQuery {
            klasse: klasse.to_owned(),
            reg: RegWindow::Current,
            virk: (self.nu, self.nu + 1),
            uuid: None,
            livscyklus: None,
            brugerref: None,
            note: None,
            kriterier: kriterier
                .iter()
                .map(|(navn, v)| Kriterium {
                    navn: (*navn).to_owned(),
                    navn_prefix: false,
                    vaerdi: Match::Eq(v.clone()),
                    objekttype: None,
                    sti_prefix: None,
                })
                .collect(),
            scope: self.ctx.scope.clone(),
            paging: None,
        };
        self.engine.soeg(&self.ctx, &q).await.map_err(intern)
    }

    /// The objects found by [`Laeser::soeg`].
    async fn find(&self, klasse: &str, kriterier: &[(&str, String)]) -> GResult<Vec<Arc<Obj>>> {
        let u = self.soeg(klasse, kriterier).await?;
        self.mange(klasse, &u).await
    }

    /// The Organisation of a CVR number: through its Virksomhed, else its Myndighed.
    async fn organisation(&self, cvr: &str) -> GResult<Option<Arc<Obj>>> {
        for (klasse, felt, rel) in [
            ("virksomhed", "a:cvr-nummer", "r:virksomhed"),
            ("myndighed", "a:cvrnr", "r:myndighed"),
        ] {
            for v in self.soeg(klasse, &[(felt, cvr.to_owned())]).await? {
                let mut orgs = self.find("organisation", &[(rel, v.to_string())]).await?;
                orgs.sort_by_key(|o| (o.bvn(), o.uuid));
                if let Some(o) = orgs.into_iter().next() {
                    return Ok(Some(o));
                }
            }
        }
        Ok(None)
    }

    /// The `titel` of a Klasse, if it is there.
    async fn klasse_titel(&self, uuid: Option<Uuid>) -> GResult<Option<String>> {
        match uuid {
            Some(u) => Ok(self.en("klasse", u).await?.and_then(|k| k.felt("titel"))),
            None => Ok(None),
        }
    }

    /// The units of an Organisation with gyldighed `status` now, the root first, then by
    /// brugervendt nøgle and UUID.
    async fn enheder(&self, org: &Obj, status: TilstandStatus) -> GResult<Vec<Arc<Obj>>> {
        let mut enheder = self
            .find(
                "organisationenhed",
                &[
                    ("r:tilhoerer", org.uuid.to_string()),
                    ("s:gyldighed", status.vaerdi().to_owned()),
                ],
            )
            .await?;
        enheder.sort_by_key(|e| noegle(org, e));
        Ok(enheder)
    }

    /// The root unit: a unit of the Organisation without a parent unit.
    async fn rod(&self, org: &Obj) -> GResult<Option<Arc<Obj>>> {
        let mut enheder = self
            .find(
                "organisationenhed",
                &[("r:tilhoerer", org.uuid.to_string())],
            )
            .await?;
        enheder.retain(|e| er_rod(org, e));
        enheder.sort_by_key(|e| (e.bvn(), e.uuid));
        Ok(enheder.into_iter().next())
    }
}

fn er_rod(org: &Obj, e: &Obj) -> bool {
    e.rel_uuid("overordnet").is_none_or(|o| o == org.uuid)
}

/// The order of a unit list, which cursors encode: root first, then brugervendt nøgle, UUID.
fn noegle(org: &Obj, e: &Obj) -> (u8, String, Uuid) {
    (
        u8::from(!er_rod(org, e)),
        e.bvn().unwrap_or_default().to_lowercase(),
        e.uuid,
    )
}

fn laeser<'a>(ctx: &Context<'a>) -> GResult<&'a Arc<Laeser>> {
    ctx.data::<Arc<Laeser>>()
}

// ------------------------------------------------------------------------------ scalars

macro_rules! tekst_scalar {
    ($(#[$m:meta])* $t:ident, $navn:literal, $check:expr, $hvad:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $t(pub String);

        #[Scalar(name = $navn)]
        impl ScalarType for $t {
            fn parse(value: GqlValue) -> InputValueResult<Self> {
                match &value {
                    GqlValue::String(s) if ($check)(s.as_str()) => Ok($t(s.clone())),
                    GqlValue::String(s) => {
                        Err(InputValueError::custom(format!("'{s}' is not {}", $hvad)))
                    }
                    _ => Err(InputValueError::expected_type(value)),
                }
            }

            fn to_value(&self) -> GqlValue {
                GqlValue::String(self.0.clone())
            }
        }
    };
}

fn cifre(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// `xx`, `xx.xx` or `xx.xx.xx`, with `*` standing for the rest (`02.*`).
fn er_kle(s: &str) -> bool {
    let (fast, stjerne) = match s.strip_suffix('*') {
        Some(f) => (f.trim_end_matches('.'), true),
        None => (s, false),
    };
    if fast.is_empty() {
        return stjerne;
    }
    let dele: Vec<&str> = fast.split('.').collect();
    dele.len() <= 3 && dele.iter().all(|d| cifre(d, 2))
}

tekst_scalar!(
    /// A KLE number or pattern.
    Kle, "KLE", er_kle, "a KLE number (xx, xx.xx or xx.xx.xx, '*' a trailing wildcard)"
);
tekst_scalar!(
    /// Ten digits.
    Cpr, "CPR", |s: &str| cifre(s, 10), "a CPR number of ten digits"
);
tekst_scalar!(
    /// Eight digits.
    Cvr, "CVR", |s: &str| cifre(s, 8), "a CVR number of eight digits"
);
tekst_scalar!(
    /// ISO 8601.
    DateTime, "DateTime", |s: &str| chrono::DateTime::parse_from_rfc3339(s).is_ok(),
    "an ISO 8601 date and time"
);
tekst_scalar!(
    /// An opaque page cursor.
    Cursor, "Cursor", |s: &str| !s.is_empty(), "a cursor"
);

/// A UUID (RFC 4122).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UuidV(pub Uuid);

#[Scalar(name = "UUID")]
impl ScalarType for UuidV {
    fn parse(value: GqlValue) -> InputValueResult<Self> {
        match &value {
            GqlValue::String(s) => Uuid::parse_str(s)
                .map(UuidV)
                .map_err(|_| InputValueError::custom(format!("'{s}' is not a UUID"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> GqlValue {
        GqlValue::String(self.0.to_string())
    }
}

// ------------------------------------------------------------------------------ types

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TilstandStatus {
    Aktiv,
    Inaktiv,
}

impl TilstandStatus {
    fn vaerdi(self) -> &'static str {
        match self {
            TilstandStatus::Aktiv => "Aktiv",
            TilstandStatus::Inaktiv => "Inaktiv",
        }
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonDataConstraintType {
    Senavn,
    Secpr,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct Tilstand {
    status: TilstandStatus,
    fra_tidspunkt: Option<DateTime>,
    til_tidspunkt: Option<DateTime>,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    start_cursor: Option<Cursor>,
    end_cursor: Option<Cursor>,
    has_next_page: bool,
    has_previous_page: bool,
}

#[derive(SimpleObject)]
#[graphql(name = "OrganisaionEnhedEdge")]
pub struct OrganisaionEnhedEdge {
    cursor: Option<Cursor>,
    node: OrganisationEnhed,
}

#[derive(SimpleObject)]
pub struct OrganisationEnhedConnection {
    edges: Option<Vec<Option<OrganisaionEnhedEdge>>>,
    page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct BrugerEdge {
    cursor: Option<Cursor>,
    node: Bruger,
}

#[derive(SimpleObject)]
pub struct BrugerConnection {
    edges: Option<Vec<Option<BrugerEdge>>>,
    page_info: PageInfo,
}

#[derive(SimpleObject, Debug, Clone)]
pub struct KlassifikationRelation {
    #[graphql(name = "type")]
    type_: UuidV,
    rolle: UuidV,
    indeks: String,
}

/// `rolle`/`type` (`{"uuid"|"urn", "label"}`) and `indeks` of a DynamicFlerRelation entry.
fn dynamisk(r: &RelEntry) -> (Option<Uuid>, Option<String>, Option<Uuid>, Option<String>) {
    let del = |k: &str| r.ekstra.get(k).and_then(|v| v.as_object());
    let uuid = |k: &str| {
        del(k)
            .and_then(|o| o.get("uuid"))
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
    };
    let label = del("rolle")
        .and_then(|o| o.get("label"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let indeks = r
        .ekstra
        .get("indeks")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    (uuid("rolle"), label, uuid("type"), indeks)
}

fn klassifikation(r: &RelEntry) -> KlassifikationRelation {
    let (rolle, _, typ, indeks) = dynamisk(r);
    KlassifikationRelation {
        type_: UuidV(typ.unwrap_or(Uuid::nil())),
        rolle: UuidV(rolle.unwrap_or(Uuid::nil())),
        indeks: indeks.unwrap_or_default(),
    }
}

pub struct Myndighed(Arc<Obj>);

#[Object]
impl Myndighed {
    async fn uuid(&self) -> UuidV {
        UuidV(self.0.uuid)
    }
    async fn myndighedskode(&self) -> String {
        self.0.felt("myndighedskode").unwrap_or_default()
    }
}

pub struct Virksomhed(Arc<Obj>);

#[Object]
impl Virksomhed {
    async fn uuid(&self) -> UuidV {
        UuidV(self.0.uuid)
    }
    async fn cvr_nummer_tekst(&self) -> Cvr {
        Cvr(self.0.felt("cvr-nummer").unwrap_or_default())
    }
}

pub struct Organisation(Arc<Obj>);

#[Object]
impl Organisation {
    async fn uuid(&self) -> UuidV {
        UuidV(self.0.uuid)
    }
    async fn organisationsnavn(&self) -> String {
        self.0.felt("organisationsnavn").unwrap_or_default()
    }
    async fn brugervendt_noegle(&self) -> String {
        self.0.bvn().unwrap_or_default()
    }
    async fn myndighed(&self, ctx: &Context<'_>) -> GResult<Option<Myndighed>> {
        let Some(u) = self.0.rel_uuid("myndighed") else {
            return Ok(None);
        };
        Ok(laeser(ctx)?.en("myndighed", u).await?.map(Myndighed))
    }
    async fn virksomhed(&self, ctx: &Context<'_>) -> GResult<Virksomhed> {
        let u = self
            .0
            .rel_uuid("virksomhed")
            .ok_or_else(|| async_graphql::Error::new("the organisation has no virksomhed"))?;
        laeser(ctx)?
            .en("virksomhed", u)
            .await?
            .map(Virksomhed)
            .ok_or_else(|| async_graphql::Error::new(format!("virksomhed {u} not found")))
    }
    async fn organisation_enhed(&self, ctx: &Context<'_>) -> GResult<OrganisationEnhed> {
        laeser(ctx)?
            .rod(&self.0)
            .await?
            .map(OrganisationEnhed)
            .ok_or_else(|| async_graphql::Error::new("the organisation has no root unit"))
    }
}

pub struct OrganisationEnhed(Arc<Obj>);

#[Object]
impl OrganisationEnhed {
    async fn uuid(&self) -> UuidV {
        UuidV(self.0.uuid)
    }
    async fn enhedsnavn(&self) -> String {
        self.0.felt("enhedsnavn").unwrap_or_default()
    }
    async fn brugervendt_noegle(&self) -> Option<String> {
        self.0.bvn()
    }
    async fn underliggende_enheder(&self, ctx: &Context<'_>) -> GResult<Vec<OrganisationEnhed>> {
        let mut v = laeser(ctx)?
            .find(
                "organisationenhed",
                &[("r:overordnet", self.0.uuid.to_string())],
            )
            .await?;
        v.sort_by_key(|e| (e.bvn(), e.uuid));
        Ok(v.into_iter().map(OrganisationEnhed).collect())
    }
    async fn overordnet_enhed(&self, ctx: &Context<'_>) -> GResult<Option<OrganisationEnhed>> {
        let Some(u) = self.0.rel_uuid("overordnet") else {
            return Ok(None);
        };
        Ok(laeser(ctx)?
            .en("organisationenhed", u)
            .await?
            .map(OrganisationEnhed))
    }
    async fn tilstand(&self) -> Tilstand {
        self.0.gyldighed()
    }
    async fn tilhoerer(&self, ctx: &Context<'_>) -> GResult<Organisation> {
        let u = self
            .0
            .rel_uuid("tilhoerer")
            .ok_or_else(|| async_graphql::Error::new("the unit belongs to no organisation"))?;
        laeser(ctx)?
            .en("organisation", u)
            .await?
            .map(Organisation)
            .ok_or_else(|| async_graphql::Error::new(format!("organisation {u} not found")))
    }
    async fn adresser(
        &self,
        ctx: &Context<'_>,
        rolle: Option<Vec<UuidV>>,
    ) -> GResult<Vec<Adresse>> {
        adresser(laeser(ctx)?, &self.0, rolle).await
    }
    async fn opgaver(&self, ctx: &Context<'_>) -> GResult<Vec<Opgave>> {
        let l = laeser(ctx)?;
        let mut out = Vec::new();
        for r in self.0.rel("opgaver") {
            let Maal::Uuid(u) = r.maal else { continue };
            if let Some(k) = l.en("klasse", u).await? {
                out.push(Opgave::af(&k, Some(r)));
            }
        }
        Ok(out)
    }
    async fn it_systemer(&self, ctx: &Context<'_>) -> GResult<Vec<ItSystem>> {
        it_systemer(laeser(ctx)?, &self.0).await
    }
    async fn medlemskaber(
        &self,
        ctx: &Context<'_>,
        rolle: Option<Vec<UuidV>>,
    ) -> GResult<Vec<OrganisationEnhedMedlemskab>> {
        let l = laeser(ctx)?;
        let funktioner = funktioner(l, "r:tilknyttedeenheder", self.0.uuid, rolle).await?;
        Ok(funktioner
            .into_iter()
            .map(|(f, titel)| OrganisationEnhedMedlemskab(Funktion { f, titel }))
            .collect())
    }
    async fn henvendelsessteder(&self, ctx: &Context<'_>) -> GResult<Vec<Henvendelsessted>> {
        let l = laeser(ctx)?;
        let funktioner = funktioner(l, "r:tilknyttedeenheder", self.0.uuid, None).await?;
        Ok(funktioner
            .into_iter()
            .filter(|(_, titel)| {
                titel
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(HENVENDELSESSTED))
            })
            .map(|(f, _)| Henvendelsessted(f))
            .collect())
    }
}

/// The function type (Klasse `titel`) of an OrganisationFunktion that is a Henvendelsessted.
pub const HENVENDELSESSTED: &str = "Henvendelsessted";

/// The OrganisationFunktioner with `obj` in relation `rel`, active now, optionally of the
/// function types `rolle`; each with its function type's title.
async fn funktioner(
    l: &Laeser,
    rel: &str,
    obj: Uuid,
    rolle: Option<Vec<UuidV>>,
) -> GResult<Vec<(Arc<Obj>, Option<String>)>> {
    let mut fs = l
        .find(
            "organisationfunktion",
            &[(rel, obj.to_string()), ("s:gyldighed", "Aktiv".to_owned())],
        )
        .await?;
    if let Some(r) = rolle {
        fs.retain(|f| {
            f.rel_uuid("organisatoriskfunktionstype")
                .is_some_and(|t| r.iter().any(|x| x.0 == t))
        });
    }
    fs.sort_by_key(|f| (f.bvn(), f.uuid));
    let mut out = Vec::with_capacity(fs.len());
    for f in fs {
        let titel = l
            .klasse_titel(f.rel_uuid("organisatoriskfunktionstype"))
            .await?;
        out.push((f, titel));
    }
    Ok(out)
}

async fn adresser(l: &Laeser, obj: &Obj, rolle: Option<Vec<UuidV>>) -> GResult<Vec<Adresse>> {
    let mut out = Vec::new();
    for r in obj.rel("adresser") {
        let Maal::Uuid(u) = r.maal else { continue };
        let (r_uuid, label, _, _) = dynamisk(r);
        if let Some(filter) = &rolle
            && !r_uuid.is_some_and(|x| filter.iter().any(|f| f.0 == x))
        {
            continue;
        }
        if let Some(a) = l.en("adresse", u).await? {
            let titel = match label {
                Some(t) => Some(t),
                None => l.klasse_titel(r_uuid).await?,
            };
            out.push(Adresse {
                uuid: UuidV(u),
                adresse_tekst: a.felt("adresse").unwrap_or_default(),
                brugervendt_noegle: a.bvn(),
                adresse_rolle_titel: titel,
                klassifikation: klassifikation(r),
            });
        }
    }
    Ok(out)
}

async fn it_systemer(l: &Laeser, obj: &Obj) -> GResult<Vec<ItSystem>> {
    let u = obj.rel_uuids("tilknyttedeitsystemer");
    Ok(l.mange("itsystem", &u)
        .await?
        .into_iter()
        .map(|s| ItSystem {
            uuid: UuidV(s.uuid),
            it_system_navn: s.felt("itsystemnavn"),
        })
        .collect())
}

#[derive(SimpleObject)]
pub struct Adresse {
    uuid: UuidV,
    adresse_tekst: String,
    brugervendt_noegle: Option<String>,
    adresse_rolle_titel: Option<String>,
    klassifikation: KlassifikationRelation,
}

#[derive(SimpleObject)]
pub struct Opgave {
    uuid: UuidV,
    kle_emne_nummer: Option<Kle>,
    kle_emne_titel: Option<String>,
    opgave_rolle_titel: Option<String>,
    klassifikation: Option<KlassifikationRelation>,
}

impl Opgave {
    /// The KLE Klasse `k` as a task; with the `opgaver` relation entry `r` that points to it,
    /// its role (a Henvendelsessted's task has none).
    fn af(k: &Obj, r: Option<&RelEntry>) -> Opgave {
        Opgave {
            uuid: UuidV(k.uuid),
            kle_emne_nummer: k.bvn().map(Kle),
            kle_emne_titel: k.felt("titel"),
            opgave_rolle_titel: r.and_then(|r| dynamisk(r).1),
            klassifikation: r.map(klassifikation),
        }
    }
}

#[derive(SimpleObject)]
pub struct ItSystem {
    uuid: UuidV,
    it_system_navn: Option<String>,
}

pub struct Henvendelsessted(Arc<Obj>);

#[Object]
impl Henvendelsessted {
    async fn uuid(&self) -> UuidV {
        UuidV(self.0.uuid)
    }
    async fn navn(&self) -> String {
        self.0.felt("funktionsnavn").unwrap_or_default()
    }
    async fn henvendelses_organisation_enhed(
        &self,
        ctx: &Context<'_>,
    ) -> GResult<OrganisationEnhed> {
        let l = laeser(ctx)?;
        let u = self.0.rel_uuids("tilknyttedeenheder");
        l.foerste("organisationenhed", &u)
            .await?
            .map(OrganisationEnhed)
            .ok_or_else(|| async_graphql::Error::new("the henvendelsessted has no unit"))
    }
    async fn opgave(&self, ctx: &Context<'_>) -> GResult<Option<Opgave>> {
        let l = laeser(ctx)?;
        for u in self.0.rel_uuids("opgaver") {
            if let Some(k) = l.en("klasse", u).await? {
                return Ok(Some(Opgave::af(&k, None)));
            }
        }
        Ok(None)
    }
}

/// An OrganisationFunktion as a membership, with its function type's title.
pub struct Funktion {
    f: Arc<Obj>,
    titel: Option<String>,
}

impl Funktion {
    fn start(&self) -> Option<DateTime> {
        self.f
            .tilstand("gyldighed")
            .and_then(|s| tidspunkt(s.virkning.from))
    }
    fn slut(&self) -> Option<DateTime> {
        self.f
            .tilstand("gyldighed")
            .and_then(|s| tidspunkt(s.virkning.to))
    }
}

/// A membership type: the fields of the `Medlemskab` interface and `$extra`.
macro_rules! medlemskab {
    ($t:ident, $($extra:tt)*) => {
        pub struct $t(Funktion);

        #[Object]
        impl $t {
            async fn uuid(&self) -> UuidV {
                UuidV(self.0.f.uuid)
            }
            async fn medlemskab_rolle_titel(&self) -> Option<String> {
                self.0.f.felt("funktionsnavn")
            }
            async fn brugervendt_noegle(&self) -> Option<String> {
                self.0.f.bvn()
            }
            async fn funktions_type_uuid(&self) -> Option<UuidV> {
                self.0.f.rel_uuid("organisatoriskfunktionstype").map(UuidV)
            }
            async fn funktions_type_titel(&self) -> Option<String> {
                self.0.titel.clone()
            }
            async fn start(&self) -> Option<DateTime> {
                self.0.start()
            }
            async fn slut(&self) -> Option<DateTime> {
                self.0.slut()
            }
            $($extra)*
        }
    };
}

medlemskab!(
    BrugerMedlemskab,
    /// The related organisationsenhed.
    async fn medlem_af(&self, ctx: &Context<'_>) -> GResult<Option<OrganisationEnhed>> {
        let u = self.0.f.rel_uuids("tilknyttedeenheder");
        Ok(laeser(ctx)?
            .foerste("organisationenhed", &u)
            .await?
            .map(OrganisationEnhed))
    }
);

medlemskab!(
    OrganisationEnhedMedlemskab,
    /// The related Bruger.
    async fn bruger(&self, ctx: &Context<'_>) -> GResult<Option<Bruger>> {
        let u = self.0.f.rel_uuids("tilknyttedebrugere");
        Ok(laeser(ctx)?.foerste("bruger", &u).await?.map(Bruger))
    }
);

// The derive's `field(…)` arguments repeat `ty = …` by nature.
#[allow(clippy::duplicated_attributes)]
#[derive(Interface)]
#[graphql(
    field(name = "uuid", ty = "UuidV"),
    field(name = "medlemskab_rolle_titel", ty = "Option<String>"),
    field(name = "brugervendt_noegle", ty = "Option<String>"),
    field(name = "funktions_type_uuid", ty = "Option<UuidV>"),
    field(name = "funktions_type_titel", ty = "Option<String>"),
    field(name = "start", ty = "Option<DateTime>"),
    field(name = "slut", ty = "Option<DateTime>")
)]
pub enum Medlemskab {
    BrugerMedlemskab(BrugerMedlemskab),
    OrganisationEnhedMedlemskab(OrganisationEnhedMedlemskab),
}

pub struct Person(Arc<Obj>);

#[Object]
impl Person {
    async fn uuid(&self) -> UuidV {
        UuidV(self.0.uuid)
    }
    /// `@PersonDataConstraint(constraint: SENAVN)`.
    async fn navn(&self, ctx: &Context<'_>) -> GResult<Option<String>> {
        if !laeser(ctx)?.personadgang.navn {
            return Err(async_graphql::Error::new(format!(
                "the service agreement has no {SE_NAVN} data limitation"
            )));
        }
        Ok(self.0.felt("navn"))
    }
    async fn brugervendt_noegle(&self) -> Option<String> {
        self.0.bvn()
    }
    /// `@PersonDataConstraint(constraint: SECPR)`.
    async fn cpr(&self, ctx: &Context<'_>) -> GResult<Option<Cpr>> {
        if !laeser(ctx)?.personadgang.cpr {
            return Err(async_graphql::Error::new(format!(
                "the service agreement has no {SE_CPR} data limitation"
            )));
        }
        Ok(self.0.felt("cprnr").map(Cpr))
    }
}

pub struct Bruger(Arc<Obj>);

#[Object]
impl Bruger {
    async fn uuid(&self) -> UuidV {
        UuidV(self.0.uuid)
    }
    async fn brugernavn(&self) -> String {
        self.0.felt("brugernavn").unwrap_or_default()
    }
    async fn brugervendt_noegle(&self) -> Option<String> {
        self.0.bvn()
    }
    async fn bruger_type_uuid(&self) -> Option<UuidV> {
        self.0.rel_uuid("brugertyper").map(UuidV)
    }
    async fn bruger_type_titel(&self, ctx: &Context<'_>) -> GResult<Option<String>> {
        let titel = laeser(ctx)?
            .klasse_titel(self.0.rel_uuid("brugertyper"))
            .await?;
        Ok(titel.or_else(|| self.0.felt("brugertype")))
    }
    async fn tilstand(&self) -> Tilstand {
        self.0.gyldighed()
    }
    async fn person(&self, ctx: &Context<'_>) -> GResult<Option<Person>> {
        let u = self.0.rel_uuids("tilknyttedepersoner");
        Ok(laeser(ctx)?.foerste("person", &u).await?.map(Person))
    }
    async fn adresser(
        &self,
        ctx: &Context<'_>,
        rolle: Option<Vec<UuidV>>,
    ) -> GResult<Vec<Adresse>> {
        adresser(laeser(ctx)?, &self.0, rolle).await
    }
    async fn har_medlemskab(
        &self,
        ctx: &Context<'_>,
        rolle: Option<Vec<UuidV>>,
    ) -> GResult<Vec<BrugerMedlemskab>> {
        let l = laeser(ctx)?;
        let funktioner = funktioner(l, "r:tilknyttedebrugere", self.0.uuid, rolle).await?;
        Ok(funktioner
            .into_iter()
            .map(|(f, titel)| BrugerMedlemskab(Funktion { f, titel }))
            .collect())
    }
}

// ------------------------------------------------------------------------------ filters

#[derive(InputObject, Debug, Clone)]
pub struct KleFilter {
    rolle: Option<UuidV>,
    kle_nummer: Vec<Kle>,
}

#[derive(InputObject, Debug, Clone)]
pub struct AdresseRolleFilter {
    rolle: UuidV,
    tekst: String,
}

#[derive(InputObject, Debug, Clone)]
pub struct PersonFilter {
    navn: Option<String>,
    cpr: Option<Cpr>,
}

#[derive(InputObject, Debug, Clone)]
pub struct BrugerFilter {
    brugernavn: Option<String>,
    adresse_rolle_filter: Option<AdresseRolleFilter>,
    bruger_type_uuid: Option<UuidV>,
    person_filter: Option<PersonFilter>,
}

/// Whether a KLE number matches a pattern (`02.*`, `02.05.*`, `*`, or exact).
fn kle_match(pattern: &str, nummer: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => nummer.starts_with(prefix),
        None => pattern == nummer,
    }
}

// ------------------------------------------------------------------------------ paging

/// Relay paging over a list ordered by `noegle` (encoded in the cursors).
struct Side<T> {
    items: Vec<(String, T)>,
    has_next: bool,
    has_previous: bool,
}

fn cursor_for(noegle: &(u8, String, Uuid)) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!([noegle.0, noegle.1, noegle.2]).to_string())
}

fn cursor_read(c: &Cursor) -> GResult<(u8, String, Uuid)> {
    let bad = || async_graphql::Error::new(format!("'{}' is not a cursor of this list", c.0));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&c.0)
        .map_err(|_| bad())?;
    let (a, b, u): (u8, String, Uuid) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok((a, b, u))
}

fn side<T>(
    alle: Vec<((u8, String, Uuid), T)>,
    first: Option<i32>,
    last: Option<i32>,
    after: Option<Cursor>,
    before: Option<Cursor>,
) -> GResult<Side<T>> {
    let stoerrelse = |n: Option<i32>, navn: &str| -> GResult<Option<usize>> {
        match n {
            None => Ok(None),
            Some(n) if n < 0 => Err(async_graphql::Error::new(format!(
                "{navn} must not be negative"
            ))),
            Some(n) if n as usize > MAX_SIDE => Err(async_graphql::Error::new(format!(
                "{navn} is at most {MAX_SIDE}"
            ))),
            Some(n) => Ok(Some(n as usize)),
        }
    };
    let first = stoerrelse(first, "first")?;
    let last = stoerrelse(last, "last")?;
    let after = after.as_ref().map(cursor_read).transpose()?;
    let before = before.as_ref().map(cursor_read).transpose()?;
    let mut v: Vec<_> = alle
        .into_iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .filter(|(k, _)| before.as_ref().is_none_or(|b| k < b))
        .collect();
    let mut has_next = before.is_some();
    let mut has_previous = after.is_some();
    // Without `first` or `last`, the first MAX_SIDE.
    let first = if last.is_none() {
        Some(first.unwrap_or(MAX_SIDE))
    } else {
        first
    };
    if let Some(n) = first
        && v.len() > n
    {
        v.truncate(n);
        has_next = true;
    }
    if let Some(n) = last
        && v.len() > n
    {
        v.drain(..v.len() - n);
        has_previous = true;
    }
    Ok(Side {
        items: v.into_iter().map(|(k, t)| (cursor_for(&k), t)).collect(),
        has_next,
        has_previous,
    })
}

fn page_info<T>(s: &Side<T>) -> PageInfo {
    PageInfo {
        start_cursor: s.items.first().map(|(c, _)| Cursor(c.clone())),
        end_cursor: s.items.last().map(|(c, _)| Cursor(c.clone())),
        has_next_page: s.has_next,
        has_previous_page: s.has_previous,
    }
}

/// A page's edges (each made by `kant` from its cursor and item) and its `PageInfo`.
type Kanter<E> = (Option<Vec<Option<E>>>, PageInfo);

fn kanter<T, E>(s: Side<T>, kant: impl Fn(Option<Cursor>, T) -> E) -> Kanter<E> {
    let info = page_info(&s);
    let edges = s
        .items
        .into_iter()
        .map(|(c, t)| Some(kant(Some(Cursor(c)), t)))
        .collect();
    (Some(edges), info)
}

// ------------------------------------------------------------------------------ query

pub struct Query;

#[Object]
impl Query {
    async fn organisation(&self, ctx: &Context<'_>, cvr: Cvr) -> GResult<Option<Organisation>> {
        Ok(laeser(ctx)?.organisation(&cvr.0).await?.map(Organisation))
    }

    /// If the root node is in the result, it is the first element of the list.
    #[allow(clippy::too_many_arguments)]
    async fn organisation_enhed_liste(
        &self,
        ctx: &Context<'_>,
        cvr: Cvr,
        status: TilstandStatus,
        opgaver: Option<KleFilter>,
        it_systemer: Option<Vec<UuidV>>,
        first: Option<i32>,
        last: Option<i32>,
        after: Option<Cursor>,
        before: Option<Cursor>,
    ) -> GResult<Option<OrganisationEnhedConnection>> {
        let l = laeser(ctx)?;
        let Some(org) = l.organisation(&cvr.0).await? else {
            return Ok(None);
        };
        let mut enheder = l.enheder(&org, status).await?;
        if let Some(f) = &opgaver {
            let mut behold = Vec::with_capacity(enheder.len());
            for e in enheder {
                let mut ja = false;
                for r in e.rel("opgaver") {
                    let Maal::Uuid(k) = r.maal else { continue };
                    if let Some(rolle) = &f.rolle
                        && dynamisk(r).0 != Some(rolle.0)
                    {
                        continue;
                    }
                    let nummer = l.en("klasse", k).await?.and_then(|k| k.bvn());
                    if nummer.is_some_and(|n| f.kle_nummer.iter().any(|p| kle_match(&p.0, &n))) {
                        ja = true;
                        break;
                    }
                }
                if ja {
                    behold.push(e);
                }
            }
            enheder = behold;
        }
        if let Some(s) = &it_systemer {
            enheder.retain(|e| {
                e.rel_uuids("tilknyttedeitsystemer")
                    .iter()
                    .any(|u| s.iter().any(|x| x.0 == *u))
            });
        }
        let alle = enheder.into_iter().map(|e| (noegle(&org, &e), e)).collect();
        let (edges, page_info) = kanter(side(alle, first, last, after, before)?, |cursor, e| {
            OrganisaionEnhedEdge {
                cursor,
                node: OrganisationEnhed(e),
            }
        });
        Ok(Some(OrganisationEnhedConnection { edges, page_info }))
    }

    async fn organisation_enhed(
        &self,
        ctx: &Context<'_>,
        uuid: Vec<UuidV>,
    ) -> GResult<Option<Vec<Option<OrganisationEnhed>>>> {
        let u: Vec<Uuid> = uuid.iter().map(|u| u.0).collect();
        let v = laeser(ctx)?.hent("organisationenhed", &u).await?;
        Ok(Some(
            v.into_iter().map(|o| o.map(OrganisationEnhed)).collect(),
        ))
    }

    async fn bruger(
        &self,
        ctx: &Context<'_>,
        uuid: Vec<UuidV>,
    ) -> GResult<Option<Vec<Option<Bruger>>>> {
        let u: Vec<Uuid> = uuid.iter().map(|u| u.0).collect();
        let v = laeser(ctx)?.hent("bruger", &u).await?;
        Ok(Some(v.into_iter().map(|o| o.map(Bruger)).collect()))
    }

    #[allow(clippy::too_many_arguments)]
    async fn bruger_liste(
        &self,
        ctx: &Context<'_>,
        cvr: Cvr,
        status: TilstandStatus,
        bruger_filter: Option<BrugerFilter>,
        first: Option<i32>,
        last: Option<i32>,
        after: Option<Cursor>,
        before: Option<Cursor>,
    ) -> GResult<Option<BrugerConnection>> {
        let l = laeser(ctx)?;
        let Some(org) = l.organisation(&cvr.0).await? else {
            return Ok(None);
        };
        let mut kriterier = vec![
            ("r:tilhoerer", org.uuid.to_string()),
            ("s:gyldighed", status.vaerdi().to_owned()),
        ];
        if let Some(f) = &bruger_filter {
            if let Some(n) = &f.brugernavn {
                kriterier.push(("a:brugernavn", n.to_lowercase()));
            }
            if let Some(t) = &f.bruger_type_uuid {
                kriterier.push(("r:brugertyper", t.0.to_string()));
            }
        }
        let mut brugere = l.find("bruger", &kriterier).await?;
        if let Some(f) = &bruger_filter {
            if let Some(af) = &f.adresse_rolle_filter {
                let mut behold = Vec::new();
                for b in brugere {
                    let a = adresser(l, &b, Some(vec![af.rolle])).await?;
                    if a.iter()
                        .any(|a| a.adresse_tekst.eq_ignore_ascii_case(&af.tekst))
                    {
                        behold.push(b);
                    }
                }
                brugere = behold;
            }
            if let Some(pf) = &f.person_filter {
                // Filtering on what the caller may not see would reveal it.
                if (pf.navn.is_some() && !l.personadgang.navn)
                    || (pf.cpr.is_some() && !l.personadgang.cpr)
                {
                    return Err(async_graphql::Error::new(format!(
                        "personFilter needs the {SE_NAVN} / {SE_CPR} data limitation for what it filters on"
                    )));
                }
                let mut behold = Vec::new();
                for b in brugere {
                    let personer = l
                        .mange("person", &b.rel_uuids("tilknyttedepersoner"))
                        .await?;
                    let ja = personer.iter().any(|p| {
                        pf.navn.as_ref().is_none_or(|n| {
                            p.felt("navn").is_some_and(|x| x.eq_ignore_ascii_case(n))
                        }) && pf
                            .cpr
                            .as_ref()
                            .is_none_or(|c| p.felt("cprnr").as_deref() == Some(c.0.as_str()))
                    });
                    if ja {
                        behold.push(b);
                    }
                }
                brugere = behold;
            }
        }
        let alle = brugere
            .into_iter()
            .map(|b| ((0, b.bvn().unwrap_or_default().to_lowercase(), b.uuid), b))
            .collect();
        let (edges, page_info) = kanter(side(alle, first, last, after, before)?, |cursor, b| {
            BrugerEdge {
                cursor,
                node: Bruger(b),
            }
        });
        Ok(Some(BrugerConnection { edges, page_info }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kle_scalar_and_patterns() {
        for ok in ["00", "02.05", "02.05.01", "*", "02.*", "02.05.*"] {
            assert!(er_kle(ok), "{ok}");
        }
        for bad in ["", "2", "02.5", "02.05.01.01", "ab", "02*5"] {
            assert!(!er_kle(bad), "{bad}");
        }
        assert!(kle_match("02.*", "02.05.01"));
        assert!(!kle_match("02.*", "03.05.01"));
        assert!(kle_match("02.05.01", "02.05.01"));
        assert!(!kle_match("02.05", "02.05.01"));
        assert!(kle_match("*", "99.99"));
    }

    #[test]
    fn transaction_headers_are_required_and_checked() {
        let h = |id: Option<&str>, tid: Option<&str>| {
            let mut m = HeaderMap::new();
            if let Some(v) = id {
                m.insert("x-transaktionsid", HeaderValue::from_str(v).unwrap());
            }
            if let Some(v) = tid {
                m.insert("x-transaktionstid", HeaderValue::from_str(v).unwrap());
            }
            transaktion(&m).map_err(|e| e.0)
        };
        let u = Uuid::new_v4().to_string();
        let t = "2026-11-29T10:00:00+01:00";
        assert_eq!(h(Some(&u), Some(t)), Ok((u.clone(), t.to_owned())));
        assert_eq!(h(None, Some(t)), Err("missing_header"));
        assert_eq!(h(Some(&u), None), Err("missing_header"));
        assert_eq!(h(Some("123"), Some(t)), Err("bad_header"));
        assert_eq!(h(Some(&u), Some("i går")), Err("bad_header"));
    }

    #[test]
    fn person_data_needs_the_agreements_data_limitations() {
        let p = Personadgang::af([("SeNavn", "true"), ("SeCPR-nummer", "nej")]);
        assert_eq!(
            p,
            Personadgang {
                navn: true,
                cpr: false
            }
        );
        let p = Personadgang::af([("secpr-nummer", " JA "), ("Andet", "true")]);
        assert_eq!(
            p,
            Personadgang {
                navn: false,
                cpr: true
            }
        );
        assert_eq!(
            Personadgang::af([]),
            Personadgang {
                navn: false,
                cpr: false
            }
        );
    }

    fn k(i: u8) -> ((u8, String, Uuid), u8) {
        ((1, format!("{i:03}"), Uuid::nil()), i)
    }

    #[test]
    fn relay_paging_forwards_and_backwards() {
        let alle = || (0..10).map(k).collect::<Vec<_>>();
        let s = side(alle(), Some(4), None, None, None).unwrap();
        assert_eq!(
            s.items.iter().map(|i| i.1).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert!(s.has_next && !s.has_previous);
        let after = Cursor(s.items.last().unwrap().0.clone());
        let s = side(alle(), Some(4), None, Some(after), None).unwrap();
        assert_eq!(
            s.items.iter().map(|i| i.1).collect::<Vec<_>>(),
            [4, 5, 6, 7]
        );
        assert!(s.has_next && s.has_previous);
        let after = Cursor(s.items.last().unwrap().0.clone());
        let s = side(alle(), Some(4), None, Some(after), None).unwrap();
        assert_eq!(s.items.iter().map(|i| i.1).collect::<Vec<_>>(), [8, 9]);
        assert!(!s.has_next);
        let before = Cursor(s.items[0].0.clone());
        let s = side(alle(), None, Some(3), None, Some(before)).unwrap();
        assert_eq!(s.items.iter().map(|i| i.1).collect::<Vec<_>>(), [5, 6, 7]);
        assert!(s.has_previous && s.has_next);
        // Default and bounds.
        let many = (0..=255u8).chain(0..=255).map(k).collect::<Vec<_>>();
        assert_eq!(
            side(many, None, None, None, None).unwrap().items.len(),
            MAX_SIDE
        );
        assert!(side(alle(), Some(501), None, None, None).is_err());
        assert!(side(alle(), Some(-1), None, None, None).is_err());
        assert!(side(alle(), None, None, Some(Cursor("nonsense".into())), None).is_err());
    }

    /// Every type, field, argument and scalar of KOMBIT's schema is in fki's, with the same
    /// type (the directive annotation aside).
    #[test]
    fn schema_matches_kombits() {
        let ours = async_graphql::parser::parse_schema(schema().sdl()).unwrap();
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/schemaOrganisationV1.gql"
        );
        let theirs =
            async_graphql::parser::parse_schema(std::fs::read_to_string(path).unwrap()).unwrap();
        let felter = |doc: &async_graphql::parser::types::ServiceDocument| {
            use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
            let mut out = std::collections::BTreeSet::new();
            for d in &doc.definitions {
                let TypeSystemDefinition::Type(t) = d else {
                    continue;
                };
                let navn = t.node.name.node.to_string();
                match &t.node.kind {
                    TypeKind::Scalar => {
                        out.insert(format!("scalar {navn}"));
                    }
                    TypeKind::Object(o) => {
                        for f in &o.fields {
                            let args: Vec<String> = f
                                .node
                                .arguments
                                .iter()
                                .map(|a| format!("{}: {}", a.node.name.node, a.node.ty.node))
                                .collect();
                            out.insert(format!(
                                "{navn}.{}({}): {}",
                                f.node.name.node,
                                args.join(", "),
                                f.node.ty.node
                            ));
                        }
                        for i in &o.implements {
                            out.insert(format!("{navn} implements {}", i.node));
                        }
                    }
                    TypeKind::Interface(o) => {
                        for f in &o.fields {
                            out.insert(format!("{navn}.{}: {}", f.node.name.node, f.node.ty.node));
                        }
                    }
                    TypeKind::Enum(e) => {
                        for v in &e.values {
                            out.insert(format!("{navn}::{}", v.node.value.node));
                        }
                    }
                    TypeKind::InputObject(o) => {
                        for f in &o.fields {
                            out.insert(format!(
                                "input {navn}.{}: {}",
                                f.node.name.node, f.node.ty.node
                            ));
                        }
                    }
                    TypeKind::Union(_) => {}
                }
            }
            out
        };
        let (ours, theirs) = (felter(&ours), felter(&theirs));
        let mangler: Vec<_> = theirs.difference(&ours).collect();
        assert!(
            mangler.is_empty(),
            "missing or different in fki's schema: {mangler:#?}"
        );
        let ekstra: Vec<_> = ours
            .difference(&theirs)
            .filter(|s| {
                !s.starts_with("scalar ")
                    || ![
                        "scalar Boolean",
                        "scalar Int",
                        "scalar String",
                        "scalar Float",
                        "scalar ID",
                    ]
                    .contains(&s.as_str())
            })
            .collect();
        assert!(
            ekstra.is_empty(),
            "in fki's schema but not KOMBIT's: {ekstra:#?}"
        );
    }
}
