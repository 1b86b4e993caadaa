//! SF1320_A CPR-hændelser: the register's changes as Haendelsesbeskeder in the Beskedfordeler.
//!
//! `POST /admin/cpr/simuler` (admin token; `fki population simulate` calls it a day at a time)
//! plays days of changes ([`fki_cpr::haendelse::planlaeg_dag`]) on the running register. Per
//! day, under one lock (one simulation at a time):
//! 1. plan the day from the register as it is (read lock);
//! 2. append the day to the log `<data-dir>/cpr/haendelser/log.jsonl` and fsync it;
//! 3. apply the changes to the register (write lock, briefly);
//! 4. store one event per change in the Beskedfordeler and wait for the commit;
//! 5. append `{"publiceret": day}` to the log.
//!
//! At start ([`load_register`]) the log's closed days are replayed over the population files,
//! and the days not marked published are published again by [`genudsend`] (an event's BeskedId
//! is the change's stable id, so one stored before the crash is not stored twice): an event is
//! never lost, and delivered at least once.
//!
//! **The message** (docs/cpr.md, "CPR events"), modelled on KOMBIT's example
//! (`../shared/specs/sf1460-beskedfordeler/example_messages/externTestBesked.xml`):
//! Beskedtype [`BESKEDTYPE_CPR_HAENDELSE`]; BeskedAnsvarligAktoer, RegistreringsAktoer and
//! Kildesystem: Serviceplatformen ([`SERVICEPLATFORMEN`]); one ObjektRegistrering with
//! ObjektRegistreringId = BeskedId, ObjektId `urn:oio:cpr-nr:<pnr>`, ObjektType Person
//! ([`OBJEKTTYPE_PERSON`]), ObjektHandling per kind (KOMBIT's UUID for Fødsel, fki's for the
//! rest: [`fki_cpr::haendelse::Art::objekthandling`]), OpgaveEmne (KLE) and the day as
//! Registreringstidspunkt; a RelateretObjekt per related person (a newborn's parents, a
//! spouse); Sikkerhedsklassificering "Fortrolige personoplysninger"; GyldighedFra = the day.
//! The Beskeddata is a notification only (`<CprHaendelse xmlns="urn:fki:cpr:haendelse:1">`
//! with the number, the kind and the day): receivers read the new state with SF1520/SF1525.
//!
//! **Who receives it**: CPR is national, so an event goes to the matching dueslag of every
//! myndighed, under the usual rules (an active `bfo_modtag/2` agreement, TilladtModtager, the
//! abonnement's filter). A municipality follows its citizens with a filter such as
//! `objektregistrering.objektid IN vaerdiliste("<uuid>")` over a Værdiliste of `urn:oio:cpr-nr:…`
//! values; stopping the abonnement (or deactivating the dueslag) stops the events, and
//! starting it again resumes them from the next change.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{Days, NaiveDate};
use fki_beskedfordeler::kuvert::{
    Beskedkuvert, Filtreringsdata, Haendelsesbesked, Leveranceinformation, ObjektRegistrering,
    RelateretObjekt, Tidspunkt, UnikId,
};
use fki_cpr::haendelse::{CprHaendelse, Dag, Logbog, planlaeg_dag};
use fki_cpr::register::Register;
use fki_store::besked::NyBesked;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::AppState;
use crate::admin::{Admin, AdminError, AdminResult};
use crate::beskedfordeler::Beskedfordeler;

/// fki's Beskedtype of CPR events ("CPR-hændelse").
pub const BESKEDTYPE_CPR_HAENDELSE: Uuid =
    Uuid::from_u128(0x5c1d_8a3e_2f6b_4e97_a0c4_7b19_d3e2_6f80);
/// The business object Person in KOMBIT's classification "forretningsobjekter" (KOMBIT's
/// example event).
pub const OBJEKTTYPE_PERSON: Uuid = Uuid::from_u128(0xce7f_cf97_a8a2_447a_8690_d38a_a0f6_e23c);
/// Serviceplatformen as RegistreringsAktoer (KOMBIT's example event).
pub const SERVICEPLATFORMEN: Uuid = Uuid::from_u128(0xd92b_b9c2_d826_4028_8fb5_d8b8_8b43_77d4);
/// "Fortrolige personoplysninger" in KOMBIT's classification "sikkerhedsklassificeringer".
pub const FORTROLIGE_PERSONOPLYSNINGER: Uuid =
    Uuid::from_u128(0x44f4_108b_26d4_46de_a90f_35e3_5b55_b8d8);
/// Namespace of the events' Beskeddata.
pub const NS_BESKEDDATA: &str = "urn:fki:cpr:haendelse:1";
/// A day's simulation at most this many days per request.
pub const MAKS_DAGE: u32 = 366;

/// The log's file under the CPR directory.
pub fn log_sti(cpr_dir: &Path) -> PathBuf {
    cpr_dir.join("haendelser").join("log.jsonl")
}

/// The simulation's state besides the register: where the log is, its last day.
#[derive(Debug)]
pub struct Logfil {
    pub sti: PathBuf,
    pub sidste_dag: Option<NaiveDate>,
}

/// The population files of `dir` with the log's closed days replayed over them; the days
/// still to be published.
pub fn load_register(dir: &Path) -> anyhow::Result<(Register, Logfil, Vec<Dag>)> {
    let mut reg = super::load_population(dir)?;
    let sti = log_sti(dir);
    let log = match std::fs::File::open(&sti) {
        Ok(f) => Logbog::laes(std::io::BufReader::new(f))
            .map_err(|e| anyhow::anyhow!("{}: {e}", sti.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Logbog::default(),
        Err(e) => return Err(anyhow::anyhow!("opening {}: {e}", sti.display())),
    };
    if log.ufuldstaendige > 0 {
        tracing::warn!(
            antal = log.ufuldstaendige,
            log = %sti.display(),
            "CPR events after the last closed day were never applied nor published; ignored"
        );
    }
    let mut antal = 0;
    for d in &log.dage {
        for h in &d.haendelser {
            reg.anvend(h)
                .map_err(|e| anyhow::anyhow!("{}: day {}: {e}", sti.display(), d.dag))?;
            antal += 1;
        }
    }
    if antal > 0 {
        tracing::info!(
            haendelser = antal,
            dage = log.dage.len(),
            "CPR events replayed"
        );
    }
    let sidste_dag = log.sidste_dag();
    let upubliceret = log.dage.into_iter().filter(|d| !d.publiceret).collect();
    Ok((reg, Logfil { sti, sidste_dag }, upubliceret))
}

fn append(
    sti: &Path,
    skriv: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if let Some(p) = sti.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(sti)?;
    skriv(&mut f)?;
    f.flush()?;
    f.sync_data()
}

/// The Haendelsesbesked of a change (see the module docs); `nu` in µs.
pub fn haendelsesbesked(h: &CprHaendelse, nu: i64) -> Haendelsesbesked {
    let art = h.aendring.art();
    let dag = h.dato.format("%Y-%m-%dT00:00:00").to_string();
    let urn = |c: &fki_cpr::nummer::Cpr| UnikId::Urn(c.urn());
    Haendelsesbesked {
        besked_id: UnikId::Uuid(h.id),
        besked_version: "1.0".into(),
        beskedkuvert: Beskedkuvert {
            filtreringsdata: Filtreringsdata {
                beskedtype: Some(UnikId::Uuid(BESKEDTYPE_CPR_HAENDELSE)),
                besked_ansvarlig_aktoer: Some(SERVICEPLATFORMEN),
                relateret_objekt: h
                    .relaterede
                    .iter()
                    .map(|c| RelateretObjekt {
                        objekt_id: urn(c),
                        objekt_type: UnikId::Uuid(OBJEKTTYPE_PERSON),
                        objekt_rolle: None,
                    })
                    .collect(),
                objekt_registrering: vec![ObjektRegistrering {
                    objekt_registrering_id: Some(UnikId::Uuid(h.id)),
                    registrerings_aktoer: Some(SERVICEPLATFORMEN),
                    registreringstidspunkt: Some(Tidspunkt::Tidsstempel(dag.clone())),
                    objekt_ansvarlig_myndighed: None,
                    objekt_id: Some(urn(&h.cpr)),
                    objekt_type: Some(UnikId::Uuid(OBJEKTTYPE_PERSON)),
                    objekt_handling: Some(UnikId::Uuid(art.objekthandling())),
                    opgave_emne: Some(UnikId::Urn(art.opgaveemne().into())),
                    lokal_udvidelse: None,
                }],
                ..Default::default()
            },
            leveranceinformation: Leveranceinformation {
                dannelsestidspunkt: Some(Tidspunkt::Tidsstempel(fki_oio::time::format_iso(nu))),
                kildesystem: Some(SERVICEPLATFORMEN),
                sikkerhedsklassificering: Some(UnikId::Uuid(FORTROLIGE_PERSONOPLYSNINGER)),
                ..Default::default()
            },
            modtagerhandling: None,
            gyldighed_fra: Some(Tidspunkt::Tidsstempel(dag)),
            gyldighed_til: None,
        },
        beskeddata: vec![format!(
            "<CprHaendelse xmlns=\"{NS_BESKEDDATA}\"><PNR>{}</PNR><Haendelse>{}</Haendelse><Dato>{}</Dato></CprHaendelse>",
            h.cpr.as_digits(),
            art.navn(),
            h.dato.format("%Y-%m-%d")
        )],
    }
}

/// What publishing a day did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Publiceret {
    /// Events some dueslag receives (stored).
    pub modtaget: usize,
    /// Deliveries: (event, dueslag) pairs.
    pub leveringer: usize,
}

/// Store the events of `haendelser` that anyone receives, in order, and wait for the commit.
pub async fn publicer(
    bf: &Beskedfordeler,
    haendelser: &[CprHaendelse],
) -> Result<Publiceret, String> {
    let fordeling = bf.fordeling().await.map_err(|e| e.to_string())?;
    let nu = fki_oio::time::now();
    let mut ventende = Vec::new();
    for h in haendelser {
        let besked = haendelsesbesked(h, nu);
        let dueslag = fordeling.modtagere_alle(&besked.beskedkuvert.filtreringsdata);
        if dueslag.is_empty() {
            continue;
        }
        let ny = NyBesked {
            besked_id: h.id,
            afsender: SERVICEPLATFORMEN,
            myndighed: String::new(),
            modtaget: nu,
            xml: besked.to_xml(),
            dueslag: dueslag.clone(),
        };
        ventende.push((bf.stil_i_koe(ny).await.map_err(|e| e.to_string())?, dueslag));
    }
    let mut p = Publiceret::default();
    for (svar, dueslag) in ventende {
        let m = svar
            .await
            .map_err(|_| "the Beskedfordeler writer has stopped".to_string())?
            .map_err(|e| e.to_string())?;
        if m.ny {
            bf.metrics
                .distributed
                .fetch_add(dueslag.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        p.modtaget += 1;
        p.leveringer += dueslag.len();
        bf.wake_dueslag(&dueslag);
    }
    Ok(p)
}

/// Publish the days a crash left unpublished (at start), then mark them.
pub async fn genudsend(st: AppState, dage: Vec<Dag>) {
    let _laas = st.cpr.simulering.lock().await;
    let sti = _laas.sti.clone();
    for d in dage {
        match publicer(&st.beskedfordeler, &d.haendelser).await {
            Ok(p) => {
                tracing::info!(dag = %d.dag, haendelser = d.haendelser.len(), modtaget = p.modtaget, "CPR events of an unpublished day published");
                let sti = sti.clone();
                let dag = d.dag;
                let res = tokio::task::spawn_blocking(move || {
                    append(&sti, |f| Logbog::skriv_publiceret(f, dag))
                })
                .await;
                if !matches!(res, Ok(Ok(()))) {
                    tracing::error!(dag = %d.dag, "could not mark a CPR day published; it will be published again at the next start");
                }
            }
            Err(e) => {
                tracing::error!(dag = %d.dag, error = %e, "CPR events of an unpublished day could not be published; trying at the next start");
                return;
            }
        }
    }
}

/// `POST /admin/cpr/simuler`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simuler {
    /// Days to play (1..=366).
    pub dage: u32,
    /// The changes' seed (default 1).
    #[serde(default = "en")]
    pub seed: u64,
    /// The first day, when the log has none yet (default: today); afterwards the day after the
    /// log's last.
    #[serde(default)]
    pub fra: Option<NaiveDate>,
}

fn en() -> u64 {
    1
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/cpr/simuler", post(simuler))
}

async fn simuler(
    _: Admin,
    State(st): State<AppState>,
    b: crate::admin::Json<Simuler>,
) -> AdminResult<Response> {
    let s = crate::admin::body(b)?;
    if !(1..=MAKS_DAGE).contains(&s.dage) {
        return Err(AdminError::Invalid(format!("dage must be 1..={MAKS_DAGE}")));
    }
    let mut logfil = st.cpr.simulering.lock().await;
    let foerste = match (logfil.sidste_dag, s.fra) {
        (Some(sidste), Some(fra)) if fra <= sidste => {
            return Err(AdminError::Conflict(format!(
                "the log already holds days up to {sidste}; fra must be after it (or left out)"
            )));
        }
        (_, Some(fra)) => fra,
        (Some(sidste), None) => sidste + Days::new(1),
        (None, None) => chrono::Utc::now().date_naive(),
    };
    let mut arter: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut liste = Vec::new();
    let (mut modtaget, mut leveringer) = (0, 0);
    for i in 0..s.dage {
        let dag = foerste + Days::new(u64::from(i));
        let plan = {
            let reg = st.cpr.laes();
            planlaeg_dag(&reg, dag, s.seed)
        };
        let sti = logfil.sti.clone();
        let kopi = plan.clone();
        tokio::task::spawn_blocking(move || append(&sti, |f| Logbog::skriv_dag(f, dag, &kopi)))
            .await
            .map_err(|e| AdminError::Internal(e.to_string()))?
            .map_err(|e| AdminError::Internal(format!("writing the CPR log: {e}")))?;
        logfil.sidste_dag = Some(dag);
        {
            let mut reg = st.cpr.skriv();
            for h in &plan {
                // Planned against this register under this lock: it fits.
                if let Err(e) = reg.anvend(h) {
                    tracing::error!(error = %e, "a planned CPR change did not apply");
                }
            }
        }
        let p = publicer(&st.beskedfordeler, &plan)
            .await
            .map_err(|e| AdminError::Internal(format!("the day {dag} is applied and logged, its events not yet published (they will be at the next start): {e}")))?;
        let sti = logfil.sti.clone();
        tokio::task::spawn_blocking(move || append(&sti, |f| Logbog::skriv_publiceret(f, dag)))
            .await
            .map_err(|e| AdminError::Internal(e.to_string()))?
            .map_err(|e| AdminError::Internal(format!("writing the CPR log: {e}")))?;
        modtaget += p.modtaget;
        leveringer += p.leveringer;
        for h in &plan {
            *arter.entry(h.aendring.art().navn()).or_default() += 1;
            liste.push(json!({
                "id": h.id,
                "dato": h.dato,
                "pnr": h.cpr.as_digits(),
                "art": h.aendring.art().navn(),
                "relaterede": h.relaterede.iter().map(|c| c.as_digits()).collect::<Vec<_>>(),
            }));
        }
    }
    tracing::info!(fra = %foerste, dage = s.dage, haendelser = liste.len(), modtaget, "CPR days simulated");
    Ok((
        StatusCode::OK,
        Json(json!({
            "fra": foerste,
            "til": foerste + Days::new(u64::from(s.dage - 1)),
            "antal": liste.len(),
            "arter": arter,
            "modtaget": modtaget,
            "leveringer": leveringer,
            "haendelser": liste,
        })),
    )
        .into_response())
}

/// `POST /admin/cpr/simuler` in the OpenAPI document.
pub fn openapi_paths(paths: &mut serde_json::Map<String, serde_json::Value>) {
    paths.insert(
        "/admin/cpr/simuler".into(),
        json!({"post": {
            "tags": ["admin"],
            "summary": "Play days of CPR changes (SF1320_A): update the register, log them, publish their events to the Beskedfordeler",
            "operationId": "admin_cpr_simuler",
            "security": [{"adminToken": []}],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["dage"], "additionalProperties": false,
                "properties": {
                    "dage": {"type": "integer", "minimum": 1, "maximum": MAKS_DAGE},
                    "seed": {"type": "integer", "default": 1},
                    "fra": {"type": "string", "format": "date", "description": "First day when the log is empty (default today); otherwise must be after the log's last day"}
                }}}}},
            "responses": {
                "200": {"description": "`{fra, til, antal, arter: {art: n}, modtaget, leveringer, haendelser: [{id, dato, pnr, art, relaterede}]}`: `modtaget` events reached some dueslag, `leveringer` (event, dueslag) pairs", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": {"description": "A malformed body or dage out of range"},
                "401": {"description": "No admin token"},
                "409": {"description": "`fra` is not after the log's last day"}
            }
        }}),
    );
}

/// Shared with the register: the simulation's lock and log.
pub type Simulering = Arc<tokio::sync::Mutex<Logfil>>;

#[cfg(test)]
mod tests {
    use super::*;
    use fki_cpr::haendelse::Aendring;

    #[test]
    fn the_event_carries_person_handling_and_relations() {
        let cpr = fki_cpr::nummer::Cpr::parse("0101901234").unwrap_or_else(|| {
            fki_cpr::nummer::Cpr::new(NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(), 1235).unwrap()
        });
        let far =
            fki_cpr::nummer::Cpr::new(NaiveDate::from_ymd_opt(1988, 5, 2).unwrap(), 1237).unwrap();
        let h = CprHaendelse {
            id: Uuid::from_u128(77),
            dato: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            cpr,
            relaterede: vec![far],
            aendring: Aendring::Aegteskab { aegtefaelle: far },
        };
        let b = haendelsesbesked(&h, 1_700_000_000_000_000);
        let igen = Haendelsesbesked::parse(&b.to_xml()).unwrap();
        assert_eq!(igen, b);
        let f = &igen.beskedkuvert.filtreringsdata;
        let r = &f.objekt_registrering[0];
        assert_eq!(igen.besked_id, UnikId::Uuid(h.id));
        assert_eq!(r.objekt_id, Some(UnikId::Urn(cpr.urn())));
        assert_eq!(r.objekt_type, Some(UnikId::Uuid(OBJEKTTYPE_PERSON)));
        assert_eq!(
            r.objekt_handling,
            Some(UnikId::Uuid(
                fki_cpr::haendelse::Art::Aegteskab.objekthandling()
            ))
        );
        assert!(matches!(&r.opgave_emne, Some(UnikId::Urn(u)) if u.starts_with("urn:oio:kle:")));
        assert_eq!(f.relateret_objekt[0].objekt_id, UnikId::Urn(far.urn()));
        assert!(igen.beskeddata[0].contains("<Haendelse>aegteskab</Haendelse>"));
        // a filter over a CPR list selects it
        use fki_beskedfordeler::filter::{Filter, Vaerdilister};
        struct Liste(String);
        impl Vaerdilister for Liste {
            fn indeholder(&self, _: &Uuid, v: &str) -> bool {
                v == self.0
            }
        }
        let filter = Filter::parse(&format!(
            "objektregistrering.objektid IN vaerdiliste(\"{}\")",
            Uuid::from_u128(5)
        ))
        .unwrap();
        assert!(filter.matcher(f, &Liste(cpr.urn())));
        assert!(!filter.matcher(f, &Liste(far.urn())));
    }
}
