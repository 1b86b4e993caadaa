//! Observed compliance checks (issue 8 item 3): what an anvendersystem really did, read from
//! fki's records, per rule of SKI 02.19's integration packages that fki can observe.
//!
//! Each check ([`KONTROLLER`]) names the package rules it decides (their exact texts in
//! `crates/fki/data/integrationspakker.json`, checked by a test of `fki krav`) and ends as
//! `pass`, `fail` or `not_observed`, with evidence: audit-log entry IDs and times, or the UUIDs
//! of the subscriptions and index entries it looked at. The ground:
//! - the calls and deliveries recorded by [`crate::optagelse`] (`kald`, `levering`; a call
//!   without a valid token is attributed by the TLS client certificate);
//! - the refusals of index writes (`sagdokumentindeks_afvist`, with the broken rules);
//! - the subscriptions of the system's dueslag, and their stops and starts
//!   (`abonnement_stoppet`, `abonnement_startet`, recorded by the admin API);
//! - the system's current index entries, checked again against the index rules.
//!
//! The active probes ([`probe`], `POST /admin/compliance/{system}/probe`, `fki compliance
//! probe`) are checks too: each probe's latest stored run is its verdict here.
//!
//! `GET /admin/compliance/{system}?fra=T` answers them as JSON; `fki compliance report` turns
//! that into a report per package (docs/compliance.md).

use std::collections::{BTreeSet, HashSet};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use fki_beskedfordeler::filter::Filter;
use fki_indeks::operation::Importobjekt;
use fki_indeks::regler::{self, Skrivning};
use fki_indeks::sagdok::{DOKUMENT, SAG};
use fki_indeks::ydelse::{BEVILLING, EFFEKTUERING};
use fki_oio::json::{RenderOpts, render_objekt};
use fki_oio::model::Livscyklus;
use fki_oio::query::{Forespoergsel, parse_class_query};
use fki_oio::store::{RegWindow, Scope};
use fki_oio::time::{self, NEG_INF, POS_INF};
use fki_store::adgang::{AuditEntry, AuditQuery};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::admin::{Admin, AdminError, AdminResult};

pub mod probe;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Udfald {
    Pass,
    Fail,
    NotObserved,
}

impl Udfald {
    /// The word, as in JSON.
    pub fn ord(self) -> &'static str {
        match self {
            Udfald::Pass => "pass",
            Udfald::Fail => "fail",
            Udfald::NotObserved => "not_observed",
        }
    }
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Bevis {
    /// The audit-log entry, if it is one.
    pub id: Option<i64>,
    /// When (ISO 8601), if known.
    pub tid: Option<String>,
    pub tekst: String,
}

/// The outcome of one check for one system.
#[derive(Debug, Clone, Serialize)]
pub struct Resultat {
    pub kontrol: &'static str,
    pub titel: &'static str,
    /// The package rules it decides: (package, rule text).
    pub regler: Vec<(&'static str, &'static str)>,
    pub udfald: Udfald,
    pub begrundelse: String,
    pub beviser: Vec<Bevis>,
    /// A probe's run: when it started and ended acting (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vindue: Option<(String, String)>,
}

/// A check and the package rules it decides.
pub struct Kontrol {
    pub id: &'static str,
    pub titel: &'static str,
    pub regler: &'static [(&'static str, &'static str)],
}

/// The checks fki can make from its records.
pub const KONTROLLER: &[Kontrol] = &[
    Kontrol {
        id: "TOKEN",
        titel: "Every call carried a valid token (none was refused by the security checks)",
        regler: &[
            ("I-01", "security token (SF1514) always used"),
            ("I-02", "security token (SF1514) always used"),
            ("I-04", "security token always used"),
            ("I-05", "security token always used"),
            ("I-06", "security token always used"),
            ("I-07", "security token applies"),
        ],
    },
    Kontrol {
        id: "FILTER",
        titel: "Every active subscription filters (none takes every message)",
        regler: &[
            ("I-02", "data not used by the system can be filtered out"),
            ("I-03", "irrelevant data can be filtered out for all"),
        ],
    },
    Kontrol {
        id: "START_STOP",
        titel: "A subscription was stopped and started again",
        regler: &[
            ("I-02", "the subscription can be started and ended"),
            ("I-03", "subscriptions can be started and ended for all"),
        ],
    },
    Kontrol {
        id: "EVENTS",
        titel: "Events were received from the Beskedfordeler and acknowledged",
        regler: &[
            (
                "I-02",
                "systems that must register changes use events (SF1320_A)",
            ),
            ("I-02", "SF1320_A requires the Beskedfordeler (SF1461)"),
        ],
    },
    Kontrol {
        id: "INDEKS_ORG",
        titel: "Index entries reference Organisation objects that exist",
        regler: &[(
            "I-04",
            "cases and documents carry correct Organisation data (SF1500)",
        )],
    },
    Kontrol {
        id: "INDEKS_KLASSE",
        titel: "Index entries reference Klassifikation classes that exist",
        regler: &[(
            "I-04",
            "cases and documents carry correct, current Klassifikation (SF1510)",
        )],
    },
    Kontrol {
        id: "INDEKS_REGLER",
        titel: "Index writes pass the index rules (fki's compliance test)",
        regler: &[
            ("I-04", "writers pass the compliance test"),
            ("I-04", "the index usage guidelines are followed"),
        ],
    },
    Kontrol {
        id: "YDELSE_ORG",
        titel: "Ydelsesindeks entries reference Organisation objects that exist",
        regler: &[(
            "I-05",
            "grants and benefits carry correct Organisation data (SF1500)",
        )],
    },
    Kontrol {
        id: "YDELSE_KLASSE",
        titel: "Ydelsesindeks entries reference Klassifikation classes that exist",
        regler: &[(
            "I-05",
            "grants and benefits carry correct, current Klassifikation (SF1510)",
        )],
    },
    Kontrol {
        id: "YDELSE_REGLER",
        titel: "Ydelsesindeks writes pass the index rules (fki's compliance test)",
        regler: &[
            ("I-05", "writers pass the compliance test"),
            ("I-05", "the index usage guidelines are followed"),
        ],
    },
    Kontrol {
        id: "KLASSIFIKATION_ABONNEMENT",
        titel: "Classification changes are subscribed to through the Beskedfordeler",
        regler: &[(
            "I-07",
            "subscribing to classification changes uses the Beskedfordeler (SF1461)",
        )],
    },
    // The active probes ([`probe`]): their verdict is their latest run.
    Kontrol {
        id: "PROBE_DUBLET",
        titel: "Probe: the push endpoint answers StatusKode 20 to a message and to its repetition",
        regler: &[
            (
                "I-01",
                "SF0810 hospital-stay notices come through the Beskedfordeler (SF1461)",
            ),
            ("I-02", "SF1320_A requires the Beskedfordeler (SF1461)"),
            ("I-03", "SF1411_D requires the Beskedfordeler (SF1461)"),
            (
                "I-07",
                "subscribing to classification changes uses the Beskedfordeler (SF1461)",
            ),
            ("I-10", "registration (01) requires the Beskedfordeler"),
        ],
    },
    Kontrol {
        id: "PROBE_FILTER",
        titel: "Probe: events the system cannot use match none of its subscriptions",
        regler: &[
            ("I-02", "data not used by the system can be filtered out"),
            ("I-03", "irrelevant data can be filtered out for all"),
        ],
    },
    Kontrol {
        id: "PROBE_TOKEN",
        titel: "Probe: after fki expires its tokens, the system gets a new token and goes on",
        regler: &[
            ("I-01", "security token (SF1514) always used"),
            ("I-02", "security token (SF1514) always used"),
            ("I-04", "security token always used"),
            ("I-05", "security token always used"),
            ("I-06", "security token always used"),
            ("I-07", "security token applies"),
            ("I-09", "security token always used"),
            ("I-13", "security token for all"),
            ("I-15", "security token via SF1514"),
        ],
    },
];

/// Evidence listed per check at most (the counts are in the reasoning).
const MAKS_BEVISER: usize = 20;
/// Audit entries read per query at most.
const MAKS_POSTER: u32 = 100_000;

fn iso(t: i64) -> String {
    time::format_iso(t)
}

fn bevis(e: &AuditEntry, tekst: String) -> Bevis {
    Bevis {
        id: Some(e.id),
        tid: Some(iso(e.tid)),
        tekst,
    }
}

fn resultat(k: &Kontrol, udfald: Udfald, begrundelse: String, mut beviser: Vec<Bevis>) -> Resultat {
    beviser.truncate(MAKS_BEVISER);
    Resultat {
        kontrol: k.id,
        titel: k.titel,
        regler: k.regler.to_vec(),
        udfald,
        begrundelse,
        beviser,
        vindue: None,
    }
}

fn kontrol(id: &str) -> &'static Kontrol {
    KONTROLLER
        .iter()
        .find(|k| k.id == id)
        .expect("a declared check")
}

/// Whether a filter lets every message through.
pub fn tager_alt(f: &Filter) -> bool {
    match f {
        Filter::And(v) => v.iter().all(tager_alt),
        Filter::Or(v) => v.iter().any(tager_alt),
        _ => false,
    }
}

/// Run every check for `system` over what was recorded from `fra` (µs) on.
pub async fn vurder(
    st: &AppState,
    system: Uuid,
    fra: Option<i64>,
) -> anyhow::Result<Vec<Resultat>> {
    let adgang = st.adgang.as_ref();
    let sys = adgang
        .system(system)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no system {system}"))?;
    let q = |haendelse: &str, system: Option<Uuid>| AuditQuery {
        fra,
        system,
        haendelse: Some(haendelse.to_owned()),
        limit: Some(MAKS_POSTER),
        ..Default::default()
    };
    let mut ud = Vec::new();
    let prober = probe::poster(st, system, fra).await?;
    // The refusals PROBE_TOKEN provoked are its evidence, not the system's fault.
    let token_prober = probe::vinduer(&prober, "PROBE_TOKEN");

    // TOKEN: the system's accepted calls, and the calls its certificate made that the
    // security checks refused.
    let kald = adgang.audit_query(&q("kald", None)).await?;
    let egne: Vec<&AuditEntry> = kald
        .iter()
        .filter(|e| {
            e.system == Some(system)
                || e.certifikat_sha256.as_deref() == Some(sys.certifikat_sha256.as_str())
        })
        .filter(|e| !token_prober.iter().any(|(a, b)| (*a..=*b).contains(&e.tid)))
        .collect();
    let afviste: Vec<&&AuditEntry> = egne.iter().filter(|e| e.resultat == "afvist").collect();
    let k = kontrol("TOKEN");
    ud.push(if !afviste.is_empty() {
        resultat(
            k,
            Udfald::Fail,
            format!(
                "{} of the system's {} calls were refused by the security checks (no or an invalid token, or no agreement)",
                afviste.len(),
                egne.len()
            ),
            afviste
                .iter()
                .map(|e| {
                    bevis(
                        e,
                        format!(
                            "{} {} {}: {}",
                            e.sf.as_deref().unwrap_or("-"),
                            e.operation.as_deref().unwrap_or("-"),
                            e.status.unwrap_or(0),
                            e.aarsag.as_deref().unwrap_or("")
                        ),
                    )
                })
                .collect(),
        )
    } else if egne.is_empty() {
        resultat(k, Udfald::NotObserved, "no calls recorded".into(), vec![])
    } else {
        resultat(
            k,
            Udfald::Pass,
            format!("all {} recorded calls carried a valid token", egne.len()),
            egne.iter()
                .take(3)
                .map(|e| bevis(e, format!("{} {}", e.sf.as_deref().unwrap_or("-"), e.operation.as_deref().unwrap_or("-"))))
                .collect(),
        )
    });

    // The system's subscriptions.
    let store = &st.beskedfordeler.store;
    let mut abonnementer = Vec::new();
    for d in store.list_dueslag(Some(system)).await? {
        abonnementer.extend(store.list_abonnementer(Some(d.uuid)).await?);
    }
    let aktive: Vec<_> = abonnementer.iter().filter(|a| a.aktiv).collect();
    let filter = |a: &fki_store::besked::Abonnement| {
        serde_json::from_str::<Value>(&a.filter)
            .ok()
            .and_then(|v| Filter::from_json(&v).ok())
    };
    let k = kontrol("FILTER");
    let alt: Vec<_> = aktive
        .iter()
        .filter(|a| filter(a).is_some_and(|f| tager_alt(&f)))
        .collect();
    let abonnement_bevis = |a: &fki_store::besked::Abonnement, tekst: &str| Bevis {
        id: None,
        tid: Some(iso(a.oprettet)),
        tekst: format!(
            "abonnement {} on dueslag {}: {tekst} ({})",
            a.uuid,
            a.dueslag,
            filter(a).map(|f| f.to_string()).unwrap_or_default()
        ),
    };
    ud.push(if !alt.is_empty() {
        resultat(
            k,
            Udfald::Fail,
            format!(
                "{} of {} active subscriptions take every message",
                alt.len(),
                aktive.len()
            ),
            alt.iter()
                .map(|a| abonnement_bevis(a, "unfiltered"))
                .collect(),
        )
    } else if aktive.is_empty() {
        resultat(
            k,
            Udfald::NotObserved,
            "no active subscription".into(),
            vec![],
        )
    } else {
        resultat(
            k,
            Udfald::Pass,
            format!("all {} active subscriptions filter", aktive.len()),
            aktive
                .iter()
                .map(|a| abonnement_bevis(a, "filtered"))
                .collect(),
        )
    });

    // START_STOP: a stop followed by a start of one of its subscriptions.
    let stop = adgang
        .audit_query(&q("abonnement_stoppet", Some(system)))
        .await?;
    let start = adgang
        .audit_query(&q("abonnement_startet", Some(system)))
        .await?;
    let k = kontrol("START_STOP");
    let par: Vec<(&AuditEntry, &AuditEntry)> = stop
        .iter()
        .filter_map(|s| {
            start
                .iter()
                .filter(|t| t.reference == s.reference && t.tid > s.tid)
                .min_by_key(|t| t.tid)
                .map(|t| (s, t))
        })
        .collect();
    ud.push(if let Some((s, t)) = par.first() {
        resultat(
            k,
            Udfald::Pass,
            format!(
                "abonnement {} was stopped and started again",
                s.reference.as_deref().unwrap_or("-")
            ),
            vec![bevis(s, "stopped".into()), bevis(t, "started".into())],
        )
    } else {
        resultat(
            k,
            Udfald::NotObserved,
            format!(
                "{} stops and {} starts recorded, no stop followed by a start",
                stop.len(),
                start.len()
            ),
            stop.iter()
                .chain(start.iter())
                .map(|e| bevis(e, e.haendelse.clone()))
                .collect(),
        )
    });

    // EVENTS: pushes the system answered with 20, or pulls it acknowledged.
    // Deliveries into the system's RabbitMQ queue (`BeskedHent (AMQP)`) are not counted: the
    // receiver acknowledges those to RabbitMQ, out of fki's sight.
    let leveringer: Vec<AuditEntry> = adgang
        .audit_query(&q("levering", Some(system)))
        .await?
        .into_iter()
        .filter(|e| e.operation.as_deref() == Some("ModtagBesked"))
        .collect();
    let modtaget: Vec<&AuditEntry> = leveringer.iter().filter(|e| e.resultat == "ok").collect();
    let kvitteret: Vec<&&AuditEntry> = egne
        .iter()
        .filter(|e| {
            e.resultat == "ok"
                && e.operation
                    .as_deref()
                    .is_some_and(|o| o.contains("kvitter"))
        })
        .collect();
    let k = kontrol("EVENTS");
    ud.push(if !modtaget.is_empty() || !kvitteret.is_empty() {
        resultat(
            k,
            Udfald::Pass,
            format!(
                "{} push deliveries answered with StatusKode 20, {} pull acknowledgements",
                modtaget.len(),
                kvitteret.len()
            ),
            modtaget
                .iter()
                .map(|e| bevis(e, "push delivered".into()))
                .chain(
                    kvitteret
                        .iter()
                        .map(|e| bevis(e, "pull acknowledged".into())),
                )
                .collect(),
        )
    } else if !leveringer.is_empty() {
        resultat(
            k,
            Udfald::Fail,
            format!(
                "{} push deliveries, none answered with StatusKode 20",
                leveringer.len()
            ),
            leveringer
                .iter()
                .map(|e| bevis(e, format!("push: {}", e.resultat)))
                .collect(),
        )
    } else {
        resultat(
            k,
            Udfald::NotObserved,
            "no deliveries or acknowledgements recorded".into(),
            vec![],
        )
    });

    // The indexes: refused writes, and the current entries checked again.
    let brud_nu = indeks_brud(st, &sys).await?;
    for (sf, afvist_haendelse, id, prefikser) in [
        (
            "SF1470",
            "sagdokumentindeks_afvist",
            "INDEKS_ORG",
            &["SDI-REF-ORG", "SDI-REF-ITSYSTEM"][..],
        ),
        (
            "SF1470",
            "sagdokumentindeks_afvist",
            "INDEKS_KLASSE",
            &["SDI-REF-KLASSE"][..],
        ),
        (
            "SF1470",
            "sagdokumentindeks_afvist",
            "INDEKS_REGLER",
            &["SDI-"][..],
        ),
        (
            "SF1490",
            "ydelsesindeks_afvist",
            "YDELSE_ORG",
            &["YI-REF-ORG", "YI-REF-ITSYSTEM"][..],
        ),
        (
            "SF1490",
            "ydelsesindeks_afvist",
            "YDELSE_KLASSE",
            &["YI-REF-KLASSE"][..],
        ),
        (
            "SF1490",
            "ydelsesindeks_afvist",
            "YDELSE_REGLER",
            &["YI-"][..],
        ),
    ] {
        let afviste_skriv = adgang
            .audit_query(&q(afvist_haendelse, Some(system)))
            .await?;
        let skrivninger: Vec<&&AuditEntry> = egne
            .iter()
            .filter(|e| {
                e.sf.as_deref() == Some(sf)
                    && e.operation
                        .as_deref()
                        .is_some_and(|o| o.contains("importer") || o.contains("opdater"))
            })
            .collect();
        let k = kontrol(id);
        let rammer = |t: &str| prefikser.iter().any(|p| t.contains(p));
        let afvist: Vec<&AuditEntry> = afviste_skriv
            .iter()
            .filter(|e| rammer(e.aarsag.as_deref().unwrap_or("")))
            .collect();
        let nu: Vec<&(Uuid, String)> = brud_nu.iter().filter(|(_, t)| rammer(t)).collect();
        ud.push(if !afvist.is_empty() || !nu.is_empty() {
            resultat(
                k,
                Udfald::Fail,
                format!(
                    "{} index writes refused for these rules, {} current entries break them",
                    afvist.len(),
                    nu.len()
                ),
                afvist
                    .iter()
                    .map(|e| bevis(e, e.aarsag.clone().unwrap_or_default()))
                    .chain(nu.iter().map(|(u, t)| Bevis {
                        id: None,
                        tid: None,
                        tekst: format!("entry {u}: {t}"),
                    }))
                    .collect(),
            )
        } else if skrivninger.is_empty() {
            resultat(
                k,
                Udfald::NotObserved,
                "no index writes recorded".into(),
                vec![],
            )
        } else {
            resultat(
                k,
                Udfald::Pass,
                format!(
                    "{} index writes, none refused for these rules; the entries pass them now",
                    skrivninger.len()
                ),
                skrivninger
                    .iter()
                    .take(5)
                    .map(|e| bevis(e, e.operation.clone().unwrap_or_default()))
                    .collect(),
            )
        });
    }

    // KLASSIFIKATION_ABONNEMENT: an active subscription that selects Klasse or Facet changes.
    let k = kontrol("KLASSIFIKATION_ABONNEMENT");
    let klasser: Vec<_> = aktive
        .iter()
        .filter(|a| {
            a.filter.contains("urn:oio:objekttype:klasse")
                || a.filter.contains("urn:oio:objekttype:facet")
                || a.filter.contains("urn:oio:objekttype:klassifikation")
        })
        .collect();
    ud.push(if !klasser.is_empty() {
        resultat(
            k,
            Udfald::Pass,
            format!(
                "{} active subscriptions select classification changes",
                klasser.len()
            ),
            klasser
                .iter()
                .map(|a| abonnement_bevis(a, "classification changes"))
                .collect(),
        )
    } else {
        resultat(
            k,
            Udfald::NotObserved,
            "no active subscription selects classification changes".into(),
            vec![],
        )
    });

    // The probes: each one's latest run.
    for id in probe::PROBER {
        ud.push(probe::seneste(&prober, id).unwrap_or_else(|| {
            resultat(
                kontrol(id),
                Udfald::NotObserved,
                "not probed (fki compliance probe)".into(),
                vec![],
            )
        }));
    }
    Ok(ud)
}

/// The system's current entries in both indexes (sager, dokumenter, Bevillinger,
/// effektueringer) that break an index rule now: (entry, "[RULE] …").
async fn indeks_brud(
    st: &AppState,
    sys: &fki_store::adgang::ItSystem,
) -> anyhow::Result<Vec<(Uuid, String)>> {
    let engine = &st.engine;
    let mut objekter = Vec::new();
    for typ in [&SAG, &DOKUMENT, &BEVILLING, &EFFEKTUERING] {
        let p = vec![
            ("system".to_owned(), sys.uuid.to_string()),
            ("foersteresultat".to_owned(), "0".to_owned()),
        ];
        let Forespoergsel::Soeg { query, .. } = parse_class_query(typ.klasse, &p, Scope::All)?
        else {
            continue;
        };
        let uuids = engine.store().search(&query).await?;
        for h in engine.store().read(&uuids, RegWindow::Current).await? {
            let Some(r) = h.registreringer.first() else {
                continue;
            };
            if r.meta.livscyklus == Livscyklus::Slettet {
                continue;
            }
            let v = render_objekt(
                typ.klasse,
                h.objekt.uuid,
                std::slice::from_ref(r),
                RenderOpts {
                    virk: (NEG_INF, POS_INF),
                    konsolider: false,
                },
            );
            let data = v["registreringer"][0].clone();
            objekter.push((
                h.objekt.myndighed.clone(),
                Importobjekt {
                    typ,
                    uuid: h.objekt.uuid,
                    data,
                    uden_notifikation: false,
                },
            ));
        }
    }
    let mut ud = Vec::new();
    // Per myndighed: the references are looked up in its scope.
    let myndigheder: BTreeSet<Option<String>> = objekter.iter().map(|(m, _)| m.clone()).collect();
    for m in myndigheder {
        let mine: Vec<&Importobjekt> = objekter
            .iter()
            .filter(|(x, _)| *x == m)
            .map(|(_, o)| o)
            .collect();
        let ctx = fki_oio::Kontekst {
            scope: match &m {
                Some(c) => Scope::Myndigheder(vec![c.clone()]),
                None => Scope::All,
            },
            myndighed: m.clone(),
            faelles: false,
            brugerref: None,
        };
        let mut refs: HashSet<Uuid> = regler::referencer(mine.iter().map(|o| &o.data));
        refs.extend(mine.iter().map(|o| o.uuid));
        let opslag = crate::sagdokumentindeks::opslag(st, &ctx, &refs)
            .await
            .map_err(|f| anyhow::anyhow!(f.tekst))?;
        let skriv: Vec<Skrivning<'_>> = mine.iter().map(|o| Skrivning::Import(o)).collect();
        for b in regler::tjek(&skriv, &opslag, Some(&sys.uuid.to_string())) {
            let uuid = b
                .sti
                .split_whitespace()
                .nth(1)
                .and_then(|u| Uuid::parse_str(u).ok())
                .unwrap_or_default();
            ud.push((uuid, b.to_string()));
        }
    }
    Ok(ud)
}

/// `?fra=<time>` of the endpoint.
#[derive(Debug, serde::Deserialize)]
pub struct VurderParam {
    pub fra: Option<String>,
}

/// `GET /admin/compliance/{system}` (admin token): every check for the system (UUID or name).
async fn vurder_http(
    _: Admin,
    State(st): State<AppState>,
    Path(system): Path<String>,
    Query(p): Query<VurderParam>,
) -> AdminResult<Response> {
    let sys = crate::admin::resolve_system(st.adgang.as_ref(), &system).await?;
    let fra = p
        .fra
        .as_deref()
        .map(|t| time::parse(t).map_err(|e| AdminError::Invalid(format!("fra: {e}"))))
        .transpose()?;
    let r = vurder(&st, sys.uuid, fra)
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    Ok(axum::Json(json!({
        "system": {"uuid": sys.uuid, "navn": sys.navn, "cvr": sys.cvr},
        "tid": iso(time::now()),
        "fra": fra.map(iso),
        "kontroller": r,
    }))
    .into_response())
}

/// The body of `POST /admin/compliance/{system}/probe`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeParam {
    /// Only the probes deciding a rule of these packages; default: every probe.
    #[serde(default)]
    pub pakker: Vec<String>,
    /// Seconds `PROBE_TOKEN` waits for the system's calls (default 60, at most 600).
    pub vent: Option<u64>,
}

/// `POST /admin/compliance/{system}/probe` (admin token): run the probes on the system now
/// and answer their results (they are stored: `GET /admin/compliance/{system}` shows them).
/// Takes as long as `PROBE_TOKEN` waits.
async fn probe_http(
    _: Admin,
    State(st): State<AppState>,
    Path(system): Path<String>,
    body: Option<axum::Json<ProbeParam>>,
) -> AdminResult<Response> {
    let p = body.map(|b| b.0).unwrap_or_default();
    let sys = crate::admin::resolve_system(st.adgang.as_ref(), &system).await?;
    let valgte = probe::valgte(&p.pakker);
    if valgte.is_empty() {
        return Err(AdminError::Invalid(format!(
            "no probe decides a rule of {} (probes cover {})",
            p.pakker.join(", "),
            probe::PROBER
                .iter()
                .flat_map(|id| kontrol(id).regler.iter().map(|(p, _)| *p))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let vent = p.vent.unwrap_or(60);
    if vent > probe::MAKS_VENT.as_secs() {
        return Err(AdminError::Invalid(format!(
            "vent: at most {} seconds",
            probe::MAKS_VENT.as_secs()
        )));
    }
    let r = probe::koer(&st, &sys, &valgte, std::time::Duration::from_secs(vent))
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    Ok(axum::Json(json!({
        "system": {"uuid": sys.uuid, "navn": sys.navn, "cvr": sys.cvr},
        "tid": iso(time::now()),
        "prober": r,
    }))
    .into_response())
}

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/admin/compliance/{system}",
            axum::routing::get(vurder_http),
        )
        .route(
            "/admin/compliance/{system}/probe",
            axum::routing::post(probe_http),
        )
}

/// The endpoint in the OpenAPI document.
pub fn openapi_paths(paths: &mut serde_json::Map<String, Value>) {
    paths.insert(
        "/admin/compliance/{system}".into(),
        json!({"get": {
            "tags": ["admin"],
            "operationId": "admin_compliance",
            "summary": "The observed compliance checks of an anvendersystem (issue 8): pass, fail or not observed, with evidence",
            "security": [{"adminToken": []}],
            "parameters": [
                {"name": "system", "in": "path", "required": true, "description": "the system's UUID or name", "schema": {"type": "string"}},
                {"name": "fra", "in": "query", "required": false, "description": "only what was recorded from this time on", "schema": {"type": "string"}}
            ],
            "responses": {"200": {"description": "{system, tid, fra, kontroller: [{kontrol, titel, regler, udfald, begrundelse, beviser}]}"}}
        }}),
    );
    paths.insert(
        "/admin/compliance/{system}/probe".into(),
        json!({"post": {
            "tags": ["admin"],
            "operationId": "admin_compliance_probe",
            "summary": "Run the active compliance probes on an anvendersystem (issue 8 item 4): a duplicate push delivery, irrelevant events against its subscriptions, expired tokens",
            "security": [{"adminToken": []}],
            "parameters": [
                {"name": "system", "in": "path", "required": true, "description": "the system's UUID or name", "schema": {"type": "string"}}
            ],
            "requestBody": {"required": false, "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {
                    "pakker": {"type": "array", "items": {"type": "string"}, "description": "only the probes deciding a rule of these packages (I-NN)"},
                    "vent": {"type": "integer", "minimum": 0, "maximum": 600, "description": "seconds PROBE_TOKEN waits for the system's calls (default 60)"}
                }
            }}}},
            "responses": {"200": {"description": "{system, tid, prober: [{kontrol, titel, regler, udfald, begrundelse, beviser, vindue}]}"}, "400": {"description": "no probe decides a rule of the packages, or vent too long"}}
        }}),
    );
}
