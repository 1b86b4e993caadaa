//! Operating the Beskedfordeler (item 8 of issue 4): dueslag, abonnementer and Værdilister,
//! a dueslag's state (depth, age of the oldest message, fejlkø), replay, and a test message.
//! The operations are shared by the REST admin API (`/admin/beskedfordeler/…`, the admin
//! bearer token, problem documents) and the `fki dueslag|abonnement|vaerdiliste` CLI.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fki_beskedfordeler::filter::Filter;
use fki_store::adgang::AdgangStore;
use fki_store::besked::{Abonnement, BeskedStore, Dueslag, Leveret, Leveringsform, Vaerdiliste};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::admin::{Admin, AdminError, AdminResult, Json, body, check_cvr, ok, only, params};

/// Attempts a pushed message gets before it moves to the fejlkø, unless set per dueslag.
pub const MAKS_FORSOEG: i32 = 10;

fn parse_uuid(what: &str, s: &str) -> AdminResult<Uuid> {
    s.trim()
        .parse()
        .map_err(|_| AdminError::Invalid(format!("{what} must be a UUID, got {s:?}")))
}

/// A dueslag to create.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NytDueslag {
    pub navn: String,
    /// The receiving IT system (UUID or name).
    pub ejer: String,
    pub myndighed: String,
    /// `push`, `pull` or `amqp` (forwarded to the RabbitMQ queue named by the dueslag's UUID;
    /// see [`super::amqp`]).
    pub levering: String,
    pub callback_url: Option<String>,
    pub maks_forsoeg: Option<i32>,
}

/// Create a dueslag for a registered system.
pub async fn opret_dueslag(
    store: &dyn BeskedStore,
    adgang: &dyn AdgangStore,
    n: NytDueslag,
) -> AdminResult<Dueslag> {
    if n.navn.trim().is_empty() {
        return Err(AdminError::Invalid("navn must not be empty".into()));
    }
    check_cvr(&n.myndighed)?;
    let ejer = crate::admin::resolve_system(adgang, &n.ejer).await?;
    let levering = match (n.levering.as_str(), n.callback_url) {
        ("pull", None) => Leveringsform::Pull,
        ("pull", Some(_)) => {
            return Err(AdminError::Invalid(
                "a pull dueslag has no callbackUrl".into(),
            ));
        }
        ("push", Some(url)) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(AdminError::Invalid(format!(
                    "callbackUrl must be an http(s) URL, got {url:?}"
                )));
            }
            Leveringsform::Push { callback_url: url }
        }
        ("push", None) => {
            return Err(AdminError::Invalid(
                "a push dueslag needs a callbackUrl".into(),
            ));
        }
        ("amqp", None) => Leveringsform::Amqp,
        ("amqp", Some(_)) => {
            return Err(AdminError::Invalid(
                "an amqp dueslag has no callbackUrl (its queue is named by its UUID)".into(),
            ));
        }
        (other, _) => {
            return Err(AdminError::Invalid(format!(
                "levering must be push, pull or amqp, got {other:?}"
            )));
        }
    };
    let maks_forsoeg = n.maks_forsoeg.unwrap_or(MAKS_FORSOEG);
    if !(1..=1000).contains(&maks_forsoeg) {
        return Err(AdminError::Invalid("maksForsoeg must be 1..1000".into()));
    }
    let d = Dueslag {
        uuid: Uuid::new_v4(),
        navn: n.navn.trim().to_owned(),
        ejer: ejer.uuid,
        myndighed: n.myndighed,
        aktiv: true,
        levering,
        maks_forsoeg,
        oprettet: fki_oio::time::now(),
    };
    store.opret_dueslag(&d).await?;
    Ok(d)
}

/// A filter given as text (a JSON string) or in its JSON form.
pub fn parse_filter(v: &Value) -> AdminResult<Filter> {
    match v {
        Value::String(text) => Filter::parse(text),
        other => Filter::from_json(other),
    }
    .map_err(|e| AdminError::Invalid(format!("filter: {e}")))
}

/// Subscribe a dueslag with a filter.
pub async fn opret_abonnement(
    store: &dyn BeskedStore,
    dueslag: Uuid,
    filter: &Filter,
) -> AdminResult<Abonnement> {
    store
        .hent_dueslag(dueslag)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no dueslag {dueslag}")))?;
    for l in super::fordeling::Fordeling::brugte_lister(&[filter]) {
        if store.hent_vaerdiliste(l).await?.is_none() {
            return Err(AdminError::Invalid(format!("filter: no Værdiliste {l}")));
        }
    }
    let nu = fki_oio::time::now();
    let a = Abonnement {
        uuid: Uuid::new_v4(),
        dueslag,
        filter: filter.to_json().to_string(),
        aktiv: true,
        oprettet: nu,
        aendret: nu,
    };
    store.opret_abonnement(&a).await?;
    Ok(a)
}

pub fn dueslag_json(d: &Dueslag) -> Value {
    json!({
        "uuid": d.uuid,
        "navn": d.navn,
        "ejer": d.ejer,
        "myndighed": d.myndighed,
        "aktiv": d.aktiv,
        "levering": d.levering.as_str(),
        "callbackUrl": d.levering.callback_url(),
        "maksForsoeg": d.maks_forsoeg,
        "oprettet": fki_oio::time::format_iso(d.oprettet),
    })
}

pub fn abonnement_json(a: &Abonnement) -> Value {
    let filter: Value = serde_json::from_str(&a.filter).unwrap_or(Value::Null);
    let tekst = Filter::from_json(&filter).map(|f| f.to_string()).ok();
    json!({
        "uuid": a.uuid,
        "dueslag": a.dueslag,
        "filter": filter,
        "filterTekst": tekst,
        "aktiv": a.aktiv,
        "oprettet": fki_oio::time::format_iso(a.oprettet),
        "aendret": fki_oio::time::format_iso(a.aendret),
    })
}

pub fn vaerdiliste_json(l: &Vaerdiliste) -> Value {
    json!({
        "uuid": l.uuid,
        "navn": l.navn,
        "ejer": l.ejer,
        "version": l.version,
        "oprettet": fki_oio::time::format_iso(l.oprettet),
    })
}

pub fn levering_json(l: &Leveret) -> Value {
    json!({
        "loebenr": l.levering.loebenr,
        "beskedId": l.besked.besked_id,
        "status": l.levering.status.as_str(),
        "forsoeg": l.levering.forsoeg,
        "fordelt": fki_oio::time::format_iso(l.levering.fordelt),
        "sidsteFejl": l.levering.sidste_fejl,
    })
}

/// A dueslag with its counts.
pub async fn dueslag_status(store: &dyn BeskedStore, d: &Dueslag) -> AdminResult<Value> {
    let nu = fki_oio::time::now();
    let s = store.status(d.uuid, nu).await?;
    let mut v = dueslag_json(d);
    v["status"] = json!({
        "klar": s.klar,
        "forfaldne": s.forfaldne,
        "fejlkoe": s.fejlkoe,
        "kvitteret": s.kvitteret,
        "aeldsteKlarFordelt": s.aeldste_klar_fordelt.map(fki_oio::time::format_iso),
        "aeldsteKlarAlderSekunder": s.aeldste_klar_fordelt.map(|t| (nu - t) as f64 / 1e6),
    });
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// Routes

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/beskedfordeler/dueslag",
            get(list_dueslag).post(ny_dueslag),
        )
        .route("/admin/beskedfordeler/dueslag/{uuid}", get(et_dueslag))
        .route(
            "/admin/beskedfordeler/dueslag/{uuid}/aktiv",
            post(dueslag_aktiv),
        )
        .route(
            "/admin/beskedfordeler/dueslag/{uuid}/fejlkoe",
            get(dueslag_fejlkoe),
        )
        .route(
            "/admin/beskedfordeler/dueslag/{uuid}/genafspil/{loebenr}",
            post(genafspil),
        )
        .route(
            "/admin/beskedfordeler/abonnementer",
            get(list_abonnementer).post(nyt_abonnement),
        )
        .route(
            "/admin/beskedfordeler/abonnementer/{uuid}/aktiv",
            post(abonnement_aktiv),
        )
        .route(
            "/admin/beskedfordeler/vaerdilister",
            get(list_vaerdilister).post(ny_vaerdiliste),
        )
        .route(
            "/admin/beskedfordeler/vaerdilister/{uuid}/vaerdier",
            get(vaerdier).post(tilfoej_vaerdier),
        )
        .route(
            "/admin/beskedfordeler/vaerdilister/{uuid}/fjern",
            post(fjern_vaerdier),
        )
        .route("/admin/beskedfordeler/testbesked", post(testbesked))
}

fn created(v: Value) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

async fn list_dueslag(
    _: Admin,
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> AdminResult<Response> {
    let q = params(q);
    only(&q, &["ejer"])?;
    let ejer = match q.get("ejer") {
        Some(e) => Some(
            crate::admin::resolve_system(st.adgang.as_ref(), e)
                .await?
                .uuid,
        ),
        None => None,
    };
    let store = st.beskedfordeler.store.as_ref();
    let mut ud = Vec::new();
    for d in store.list_dueslag(ejer).await? {
        ud.push(dueslag_status(store, &d).await?);
    }
    Ok(ok(json!({ "dueslag": ud })))
}

async fn ny_dueslag(
    _: Admin,
    State(st): State<AppState>,
    b: Json<NytDueslag>,
) -> AdminResult<Response> {
    let n = body(b)?;
    let d = opret_dueslag(st.beskedfordeler.store.as_ref(), st.adgang.as_ref(), n).await?;
    st.beskedfordeler.changed();
    Ok(created(dueslag_json(&d)))
}

async fn hent_dueslag(st: &AppState, uuid: &str) -> AdminResult<Dueslag> {
    let u = parse_uuid("dueslag", uuid)?;
    st.beskedfordeler
        .store
        .hent_dueslag(u)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no dueslag {u}")))
}

async fn et_dueslag(
    _: Admin,
    State(st): State<AppState>,
    Path(uuid): Path<String>,
) -> AdminResult<Response> {
    let d = hent_dueslag(&st, &uuid).await?;
    Ok(ok(
        dueslag_status(st.beskedfordeler.store.as_ref(), &d).await?
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Aktiv {
    aktiv: bool,
}

async fn dueslag_aktiv(
    _: Admin,
    State(st): State<AppState>,
    Path(uuid): Path<String>,
    b: Json<Aktiv>,
) -> AdminResult<Response> {
    let a = body(b)?;
    let d = hent_dueslag(&st, &uuid).await?;
    st.beskedfordeler
        .store
        .saet_dueslag_aktiv(d.uuid, a.aktiv)
        .await?;
    st.beskedfordeler.changed();
    let d = hent_dueslag(&st, &uuid).await?;
    Ok(ok(dueslag_json(&d)))
}

async fn dueslag_fejlkoe(
    _: Admin,
    State(st): State<AppState>,
    Path(uuid): Path<String>,
) -> AdminResult<Response> {
    let d = hent_dueslag(&st, &uuid).await?;
    let l = st.beskedfordeler.store.fejlkoe(d.uuid, 1000).await?;
    Ok(ok(json!({
        "fejlkoe": l.iter().map(levering_json).collect::<Vec<_>>()
    })))
}

async fn genafspil(
    _: Admin,
    State(st): State<AppState>,
    Path((uuid, loebenr)): Path<(String, i64)>,
) -> AdminResult<Response> {
    let d = hent_dueslag(&st, &uuid).await?;
    let ny = st
        .beskedfordeler
        .store
        .genafspil(d.uuid, loebenr, fki_oio::time::now())
        .await?
        .ok_or_else(|| {
            AdminError::NotFound(format!("no message {loebenr} in dueslag {}", d.uuid))
        })?;
    st.beskedfordeler.wake();
    Ok(created(json!({ "loebenr": ny })))
}

async fn list_abonnementer(
    _: Admin,
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> AdminResult<Response> {
    let q = params(q);
    only(&q, &["dueslag"])?;
    let dueslag = q
        .get("dueslag")
        .map(|d| parse_uuid("dueslag", d))
        .transpose()?;
    let l = st.beskedfordeler.store.list_abonnementer(dueslag).await?;
    Ok(ok(json!({
        "abonnementer": l.iter().map(abonnement_json).collect::<Vec<_>>()
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NytAbonnement {
    dueslag: Uuid,
    filter: Value,
}

async fn nyt_abonnement(
    _: Admin,
    State(st): State<AppState>,
    b: Json<NytAbonnement>,
) -> AdminResult<Response> {
    let n = body(b)?;
    let f = parse_filter(&n.filter)?;
    let a = opret_abonnement(st.beskedfordeler.store.as_ref(), n.dueslag, &f).await?;
    st.beskedfordeler.changed();
    Ok(created(abonnement_json(&a)))
}

async fn abonnement_aktiv(
    _: Admin,
    State(st): State<AppState>,
    Path(uuid): Path<String>,
    b: Json<Aktiv>,
) -> AdminResult<Response> {
    let a = body(b)?;
    let u = parse_uuid("abonnement", &uuid)?;
    let store = &st.beskedfordeler.store;
    if !store
        .saet_abonnement_aktiv(u, a.aktiv, fki_oio::time::now())
        .await?
        && store.hent_abonnement(u).await?.is_none()
    {
        return Err(AdminError::NotFound(format!("no abonnement {u}")));
    }
    st.beskedfordeler.changed();
    let a = store
        .hent_abonnement(u)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no abonnement {u}")))?;
    // Stops and starts are evidence for the compliance checks ("the subscription can be
    // started and ended"), attributed to the dueslag's owner.
    let ejer = store.hent_dueslag(a.dueslag).await?.map(|d| d.ejer);
    st.sts
        .audit(fki_store::adgang::AuditEntry {
            tid: fki_oio::time::now(),
            haendelse: if a.aktiv {
                "abonnement_startet"
            } else {
                "abonnement_stoppet"
            }
            .into(),
            system: ejer,
            resultat: "ok".into(),
            aarsag: Some(format!("dueslag {}", a.dueslag)),
            reference: Some(a.uuid.to_string()),
            sf: Some("SF1461".into()),
            ..Default::default()
        })
        .await;
    Ok(ok(abonnement_json(&a)))
}

async fn list_vaerdilister(_: Admin, State(st): State<AppState>) -> AdminResult<Response> {
    let l = st.beskedfordeler.store.list_vaerdilister(None).await?;
    Ok(ok(json!({
        "vaerdilister": l.iter().map(vaerdiliste_json).collect::<Vec<_>>()
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NyVaerdiliste {
    navn: String,
    /// The owning system (UUID or name).
    ejer: String,
    #[serde(default)]
    vaerdier: Vec<String>,
}

async fn ny_vaerdiliste(
    _: Admin,
    State(st): State<AppState>,
    b: Json<NyVaerdiliste>,
) -> AdminResult<Response> {
    let n = body(b)?;
    if n.navn.trim().is_empty() {
        return Err(AdminError::Invalid("navn must not be empty".into()));
    }
    let ejer = crate::admin::resolve_system(st.adgang.as_ref(), &n.ejer).await?;
    let store = &st.beskedfordeler.store;
    let l = Vaerdiliste::ny(
        Uuid::new_v4(),
        n.navn.trim(),
        ejer.uuid,
        fki_oio::time::now(),
    );
    store.opret_vaerdiliste(&l).await?;
    if !n.vaerdier.is_empty() {
        store.tilfoej_vaerdier(l.uuid, &n.vaerdier).await?;
    }
    st.beskedfordeler.changed();
    let l = store
        .hent_vaerdiliste(l.uuid)
        .await?
        .ok_or_else(|| AdminError::Internal("the new Værdiliste vanished".into()))?;
    Ok(created(vaerdiliste_json(&l)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vaerdier {
    vaerdier: Vec<String>,
}

async fn vaerdier(
    _: Admin,
    State(st): State<AppState>,
    Path(uuid): Path<String>,
) -> AdminResult<Response> {
    let u = parse_uuid("vaerdiliste", &uuid)?;
    let store = &st.beskedfordeler.store;
    store
        .hent_vaerdiliste(u)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no Værdiliste {u}")))?;
    Ok(ok(json!({ "vaerdier": store.vaerdier(u).await? })))
}

async fn aendr_vaerdier(
    st: &AppState,
    uuid: &str,
    v: Vaerdier,
    tilfoej: bool,
) -> AdminResult<Response> {
    let u = parse_uuid("vaerdiliste", uuid)?;
    let store = &st.beskedfordeler.store;
    store
        .hent_vaerdiliste(u)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no Værdiliste {u}")))?;
    let n = if tilfoej {
        store.tilfoej_vaerdier(u, &v.vaerdier).await?
    } else {
        store.fjern_vaerdier(u, &v.vaerdier).await?
    };
    st.beskedfordeler.changed();
    Ok(ok(
        json!({ if tilfoej { "tilfoejet" } else { "fjernet" }: n }),
    ))
}

async fn tilfoej_vaerdier(
    _: Admin,
    State(st): State<AppState>,
    Path(uuid): Path<String>,
    b: Json<Vaerdier>,
) -> AdminResult<Response> {
    aendr_vaerdier(&st, &uuid, body(b)?, true).await
}

async fn fjern_vaerdier(
    _: Admin,
    State(st): State<AppState>,
    Path(uuid): Path<String>,
    b: Json<Vaerdier>,
) -> AdminResult<Response> {
    aendr_vaerdier(&st, &uuid, body(b)?, false).await
}

/// A test message to send (item 8 of issue 4): the operator's way to see what reaches whom.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Testbesked {
    /// The myndighed (CVR) it is sent for.
    pub myndighed: String,
    /// Beskedtype (UUID); default: a fixed "fki testbesked" type.
    pub beskedtype: Option<Uuid>,
    /// RelateretObjekt/ObjektId, e.g. `urn:oio:cpr-nr:0101011234`.
    pub objekt_id: Option<String>,
    /// ObjektRegistrering/OpgaveEmne, e.g. `urn:oio:kle:27.35.04`.
    pub opgaveemne: Option<String>,
    /// TilladtModtager values (URNs or UUIDs).
    #[serde(default)]
    pub tilladt_modtager: Vec<String>,
}

/// Beskedtype of test messages when none is given.
pub const TESTBESKEDTYPE: Uuid = Uuid::from_u128(0x5e1d7e57_0000_4000_8000_00000000f1c1);

fn unik_id(what: &str, v: &str) -> AdminResult<fki_beskedfordeler::kuvert::UnikId> {
    use fki_beskedfordeler::kuvert::UnikId;
    match v.trim().parse::<Uuid>() {
        Ok(u) => Ok(UnikId::Uuid(u)),
        Err(_) => UnikId::urn(v).map_err(|e| AdminError::Invalid(format!("{what}: {e}"))),
    }
}

/// Build the test message (a valid Haendelsesbesked) for `t`.
pub fn testbesked_xml(t: &Testbesked) -> AdminResult<(Uuid, String)> {
    use fki_beskedfordeler::kuvert::{
        Beskedkuvert, Filtreringsdata, Haendelsesbesked, Leveranceinformation, ObjektRegistrering,
        RelateretObjekt, Tidspunkt, UnikId,
    };
    check_cvr(&t.myndighed)?;
    let id = Uuid::new_v4();
    let person = UnikId::Uuid(Uuid::from_u128(0xce7fcf97_a8a2_447a_8690_d38aa0f6e23c));
    let relateret_objekt = match &t.objekt_id {
        Some(o) => vec![RelateretObjekt {
            objekt_id: unik_id("objektId", o)?,
            objekt_type: person.clone(),
            objekt_rolle: None,
        }],
        None => Vec::new(),
    };
    let h = Haendelsesbesked {
        besked_id: UnikId::Uuid(id),
        besked_version: "1.0".into(),
        beskedkuvert: Beskedkuvert {
            filtreringsdata: Filtreringsdata {
                beskedtype: Some(UnikId::Uuid(t.beskedtype.unwrap_or(TESTBESKEDTYPE))),
                tilladt_modtager: t
                    .tilladt_modtager
                    .iter()
                    .map(|v| unik_id("tilladtModtager", v))
                    .collect::<AdminResult<_>>()?,
                relateret_objekt,
                objekt_registrering: vec![ObjektRegistrering {
                    objekt_registrering_id: Some(UnikId::Uuid(Uuid::new_v4())),
                    registreringstidspunkt: Some(Tidspunkt::Tidsstempel(
                        fki_oio::time::format_iso(fki_oio::time::now()),
                    )),
                    objekt_ansvarlig_myndighed: Some(UnikId::Urn(format!(
                        "urn:oio:cvr-nr:{}",
                        t.myndighed
                    ))),
                    opgave_emne: t
                        .opgaveemne
                        .as_deref()
                        .map(|v| unik_id("opgaveemne", v))
                        .transpose()?,
                    ..Default::default()
                }],
                ..Default::default()
            },
            leveranceinformation: Leveranceinformation {
                dannelsestidspunkt: Some(Tidspunkt::Tidsstempel(fki_oio::time::format_iso(
                    fki_oio::time::now(),
                ))),
                ..Default::default()
            },
            modtagerhandling: None,
            gyldighed_fra: None,
            gyldighed_til: None,
        },
        beskeddata: Vec::new(),
    };
    Ok((id, h.to_xml()))
}

async fn testbesked(
    _: Admin,
    State(st): State<AppState>,
    b: Json<Testbesked>,
) -> AdminResult<Response> {
    let t = body(b)?;
    let (id, xml) = testbesked_xml(&t)?;
    let kalder = super::afsend::Kalder {
        system: Uuid::nil(),
        cvr: t.myndighed.clone(),
    };
    // Who would receive it, for the operator (the distribution itself decides again).
    let h = fki_beskedfordeler::kuvert::Haendelsesbesked::parse(&xml)
        .map_err(|e| AdminError::Internal(format!("test message does not parse: {e}")))?;
    let modtagere = st
        .beskedfordeler
        .fordeling()
        .await?
        .modtagere(&t.myndighed, &h.beskedkuvert.filtreringsdata);
    let (_, retur) = super::afsend::afsend_retur(&st, &kalder, &xml).await;
    Ok(created(json!({
        "beskedId": id,
        "statusKode": retur.status_kode,
        "fejlbeskedTekst": retur.fejlbesked_tekst,
        "dueslag": modtagere,
    })))
}
