//! Active probes (issue 8 item 4): the checks that need fki to act on a system, not only to
//! watch it. Each ends as pass, fail or not observed with evidence, like the observed checks
//! ([`super::KONTROLLER`] lists them with the package rules they decide), and is stored in the
//! audit log as `compliance_probe` (reference = the probe's id, `aarsag` = the whole result as
//! JSON), where [`super::vurder`] and so the report find the latest run.
//!
//! A probe touches only the probed system: its own push endpoints, its own subscriptions, its
//! own tokens. Nothing is distributed to anybody else and nothing is stored in a dueslag.
//!
//! - **`PROBE_DUBLET`**: for each of the system's push dueslag, a probe message (Beskedtype
//!   [`PROBEBESKEDTYPE`], TilladtModtager the system, the dueslag's myndighed) is delivered
//!   twice, exactly as the Beskedfordeler pushes (`ModtagBeskedInput` with a Leverancerute,
//!   fki's client certificate, [`crate::beskedfordeler::push::post`]), the second time with
//!   `AntalLeveranceforsoeg` 2, as a redelivery after a lost answer looks. Delivery is at least
//!   once, so a receiver must answer StatusKode 20 both times (and de-duplicate on BeskedId).
//!   Not observed when the system has no push dueslag (pull receivers acknowledge themselves).
//! - **`PROBE_FILTER`**: events the system cannot be using are put through the distribution's
//!   own matcher (the filters and Værdilister exactly as distribution sees them) against each
//!   of the system's active subscriptions: an unknown Beskedtype, an unknown object type, a
//!   person no list holds, a KLE subject that does not exist, another municipality's object.
//!   None may match: a subscription that takes one of them takes data the system does not use
//!   (what the static check `FILTER` cannot see: a filter such as `NOT beskedtype = X` is not
//!   "everything" but nearly). The events are matched, not delivered.
//! - **`PROBE_TOKEN`**: every token the system holds is declared expired
//!   ([`crate::sts::Sts::udloeb_tokens`]: its access tokens are removed and its assertions
//!   issued before now are refused as expired, exactly as a token past its `NotOnOrAfter`).
//!   Then fki waits (`vent`) for the system's next calls: an accepted call (which needs a new
//!   token) passes; only refused calls fail; no call at all is not observed. The refusals
//!   during the probe are its evidence, so the observed check `TOKEN` leaves them out.

use std::time::Duration;

use fki_beskedfordeler::filter::Filter;
use fki_beskedfordeler::kuvert::{
    Filtreringsdata, Haendelsesbesked, ObjektRegistrering, RelateretObjekt, UnikId,
};
use fki_oio::time;
use fki_store::adgang::{AuditEntry, AuditQuery, ItSystem};
use fki_store::besked::Leveringsform;
use serde_json::Value;
use uuid::Uuid;

use super::{Bevis, Resultat, Udfald, iso, kontrol, resultat};
use crate::AppState;
use crate::beskedfordeler::admin::{Testbesked, testbesked_xml};
use crate::beskedfordeler::push;

/// Beskedtype of the probe message `PROBE_DUBLET` delivers.
pub const PROBEBESKEDTYPE: Uuid = Uuid::from_u128(0x5e1d7e57_0000_4000_8000_00000000b0be);
/// The probes, in the order they run.
pub const PROBER: &[&str] = &["PROBE_DUBLET", "PROBE_FILTER", "PROBE_TOKEN"];
/// The audit-log event of a stored probe result.
pub const HAENDELSE: &str = "compliance_probe";
/// Longest wait `PROBE_TOKEN` accepts.
pub const MAKS_VENT: Duration = Duration::from_secs(600);
/// Push dueslag `PROBE_DUBLET` delivers to at most.
const MAKS_DUESLAG: usize = 5;
/// How long one delivery of `PROBE_DUBLET` may take.
const LEVERING_TIMEOUT: Duration = Duration::from_secs(10);
/// How often `PROBE_TOKEN` looks at the records.
const KIG: Duration = Duration::from_millis(250);

/// The probes that decide a rule of one of `pakker` (all of them when `pakker` is empty).
pub fn valgte(pakker: &[String]) -> Vec<&'static str> {
    PROBER
        .iter()
        .copied()
        .filter(|id| {
            pakker.is_empty()
                || kontrol(id)
                    .regler
                    .iter()
                    .any(|(p, _)| pakker.iter().any(|x| x == p))
        })
        .collect()
}

/// Run the `valgte` probes on `sys` and store their results; `vent`: how long `PROBE_TOKEN`
/// waits for the system's calls.
pub async fn koer(
    st: &AppState,
    sys: &ItSystem,
    valgte: &[&str],
    vent: Duration,
) -> anyhow::Result<Vec<Resultat>> {
    let mut ud = Vec::new();
    for id in valgte {
        let start = time::now();
        let mut r = match *id {
            "PROBE_DUBLET" => dublet(st, sys).await?,
            "PROBE_FILTER" => filter(st, sys).await?,
            "PROBE_TOKEN" => token(st, sys, vent.min(MAKS_VENT)).await?,
            other => anyhow::bail!("no probe {other}"),
        };
        r.vindue = Some((iso(start), iso(time::now())));
        st.adgang
            .audit(&AuditEntry {
                tid: time::now(),
                haendelse: HAENDELSE.into(),
                system: Some(sys.uuid),
                resultat: r.udfald.ord().into(),
                aarsag: Some(serde_json::to_string(&r)?),
                reference: Some(r.kontrol.to_owned()),
                ..Default::default()
            })
            .await?;
        tracing::info!(system = %sys.uuid, probe = id, udfald = r.udfald.ord(), "compliance probe");
        ud.push(r);
    }
    Ok(ud)
}

/// The stored probe results of `system` from `fra` on (audit entries `compliance_probe`).
pub async fn poster(
    st: &AppState,
    system: Uuid,
    fra: Option<i64>,
) -> anyhow::Result<Vec<AuditEntry>> {
    Ok(st
        .adgang
        .audit_query(&AuditQuery {
            fra,
            system: Some(system),
            haendelse: Some(HAENDELSE.into()),
            limit: Some(10_000),
            ..Default::default()
        })
        .await?)
}

/// A stored probe result read back, its reasoning prefixed with when the probe ran.
fn laes(e: &AuditEntry) -> Option<Resultat> {
    let id = PROBER
        .iter()
        .find(|p| e.reference.as_deref() == Some(**p))?;
    let v: Value = serde_json::from_str(e.aarsag.as_deref()?).ok()?;
    let udfald: Udfald = serde_json::from_value(v["udfald"].clone()).ok()?;
    let beviser: Vec<Bevis> = serde_json::from_value(v["beviser"].clone()).unwrap_or_default();
    let mut r = resultat(
        kontrol(id),
        udfald,
        format!(
            "probe of {}: {}",
            iso(e.tid),
            v["begrundelse"].as_str().unwrap_or("")
        ),
        beviser,
    );
    r.vindue = serde_json::from_value(v["vindue"].clone()).ok();
    Some(r)
}

/// The latest result of probe `id` among `poster`.
pub fn seneste(poster: &[AuditEntry], id: &str) -> Option<Resultat> {
    poster
        .iter()
        .filter(|e| e.reference.as_deref() == Some(id))
        .max_by_key(|e| (e.tid, e.id))
        .and_then(laes)
}

/// When probe `id` acted, per run among `poster`: [from, to] in µs.
pub fn vinduer(poster: &[AuditEntry], id: &str) -> Vec<(i64, i64)> {
    poster
        .iter()
        .filter(|e| e.reference.as_deref() == Some(id))
        .filter_map(laes)
        .filter_map(|r| {
            let (a, b) = r.vindue?;
            Some((time::parse(&a).ok()?, time::parse(&b).ok()?))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// PROBE_DUBLET

async fn dublet(st: &AppState, sys: &ItSystem) -> anyhow::Result<Resultat> {
    let k = kontrol("PROBE_DUBLET");
    let push_dueslag: Vec<_> = st
        .beskedfordeler
        .store
        .list_dueslag(Some(sys.uuid))
        .await?
        .into_iter()
        .filter(|d| matches!(d.levering, Leveringsform::Push { .. }))
        .take(MAKS_DUESLAG)
        .collect();
    if push_dueslag.is_empty() {
        return Ok(resultat(
            k,
            Udfald::NotObserved,
            "the system has no push dueslag (a pulling receiver acknowledges what it has)".into(),
            vec![],
        ));
    }
    let http = push::client(
        &st.ca,
        &push::PushConfig {
            timeout: LEVERING_TIMEOUT,
            ..Default::default()
        },
    )?;
    let mut beviser = Vec::new();
    let mut fejl = 0;
    for d in &push_dueslag {
        let Some(url) = d.levering.callback_url() else {
            continue;
        };
        let (besked_id, xml) = testbesked_xml(&Testbesked {
            myndighed: d.myndighed.clone(),
            beskedtype: Some(PROBEBESKEDTYPE),
            tilladt_modtager: vec![sys.uuid.to_string()],
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("the probe message: {e}"))?;
        let modtaget = time::now();
        for forsoeg in 1..=2u64 {
            let mut h = Haendelsesbesked::parse(&xml)?;
            h.tilfoej_leverancerute(crate::beskedfordeler::leverancerute(
                modtaget,
                time::now(),
                None,
                forsoeg,
            ));
            let tid = time::now();
            let svar = push::post(&http, url, h.modtag_besked_input(), LEVERING_TIMEOUT).await;
            let hvad = if forsoeg == 1 { "first" } else { "repeated" };
            beviser.push(Bevis {
                id: None,
                tid: Some(iso(tid)),
                tekst: match &svar {
                    Ok(()) => format!(
                        "dueslag {} ({url}): {hvad} delivery of BeskedId {besked_id}: StatusKode 20",
                        d.uuid
                    ),
                    Err(e) => format!(
                        "dueslag {} ({url}): {hvad} delivery of BeskedId {besked_id}: {e}",
                        d.uuid
                    ),
                },
            });
            if svar.is_err() {
                fejl += 1;
            }
        }
    }
    Ok(if fejl == 0 {
        resultat(
            k,
            Udfald::Pass,
            format!(
                "{} push endpoints answered StatusKode 20 to a message and to its repetition",
                push_dueslag.len()
            ),
            beviser,
        )
    } else {
        resultat(
            k,
            Udfald::Fail,
            format!(
                "{fejl} of {} deliveries were not answered with StatusKode 20 (a receiver must accept a repeated BeskedId)",
                beviser.len()
            ),
            beviser,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// PROBE_FILTER

/// The ObjektType of a person in test and probe messages.
const PERSON: Uuid = Uuid::from_u128(0xce7fcf97_a8a2_447a_8690_d38aa0f6e23c);

/// Events no system can be using, sent for `myndighed`: (what it is, its Filtreringsdata).
/// Random where it matters, so no list or filter can know them beforehand.
pub fn irrelevante(myndighed: &str) -> Vec<(String, Filtreringsdata)> {
    let ny = || UnikId::Uuid(Uuid::new_v4());
    let egen = || UnikId::Urn(format!("urn:oio:cvr-nr:{myndighed}"));
    let reg = |f: &dyn Fn(&mut ObjektRegistrering)| {
        let mut r = ObjektRegistrering {
            objekt_registrering_id: Some(ny()),
            objekt_ansvarlig_myndighed: Some(egen()),
            ..Default::default()
        };
        f(&mut r);
        vec![r]
    };
    let cpr = format!("{:010}", rand::random::<u64>() % 10_000_000_000);
    let fremmed = if myndighed == "29189846" {
        "29189854"
    } else {
        "29189846"
    };
    let objekttype = format!("urn:oio:objekttype:fki-probe-{}", Uuid::new_v4().simple());
    vec![
        (
            "an event of an unknown Beskedtype".to_owned(),
            Filtreringsdata {
                beskedtype: Some(ny()),
                objekt_registrering: reg(&|_| {}),
                ..Default::default()
            },
        ),
        (
            format!("a change of an unknown object type ({objekttype})"),
            Filtreringsdata {
                beskedtype: Some(ny()),
                objekt_registrering: reg(&|r| {
                    r.objekt_id = Some(ny());
                    r.objekt_type = Some(UnikId::Urn(objekttype.clone()));
                    r.objekt_handling = Some(UnikId::Urn("urn:oio:objekthandling:ret".into()));
                }),
                ..Default::default()
            },
        ),
        (
            format!("an event about a person no list holds (urn:oio:cpr-nr:{cpr})"),
            Filtreringsdata {
                beskedtype: Some(ny()),
                relateret_objekt: vec![RelateretObjekt {
                    objekt_id: UnikId::Urn(format!("urn:oio:cpr-nr:{cpr}")),
                    objekt_type: UnikId::Uuid(PERSON),
                    objekt_rolle: None,
                }],
                objekt_registrering: reg(&|_| {}),
                ..Default::default()
            },
        ),
        (
            "an event on a KLE subject that does not exist (99.99.99)".to_owned(),
            Filtreringsdata {
                beskedtype: Some(ny()),
                objekt_registrering: reg(&|r| {
                    r.opgave_emne = Some(UnikId::Urn("urn:oio:kle:99.99.99".into()));
                }),
                ..Default::default()
            },
        ),
        (
            format!("a change of an object of another municipality (CVR {fremmed})"),
            Filtreringsdata {
                beskedtype: Some(ny()),
                objekt_registrering: reg(&|r| {
                    r.objekt_ansvarlig_myndighed =
                        Some(UnikId::Urn(format!("urn:oio:cvr-nr:{fremmed}")));
                    r.objekt_id = Some(ny());
                }),
                ..Default::default()
            },
        ),
    ]
}

async fn filter(st: &AppState, sys: &ItSystem) -> anyhow::Result<Resultat> {
    let k = kontrol("PROBE_FILTER");
    let bf = &st.beskedfordeler;
    let fordeling = bf.fordeling().await?;
    let mut aktive = Vec::new();
    for d in bf.store.list_dueslag(Some(sys.uuid)).await? {
        if !d.aktiv {
            continue;
        }
        for a in bf.store.list_abonnementer(Some(d.uuid)).await? {
            if !a.aktiv {
                continue;
            }
            let f = serde_json::from_str::<Value>(&a.filter)
                .ok()
                .and_then(|v| Filter::from_json(&v).ok());
            if let Some(f) = f {
                aktive.push((d.myndighed.clone(), a, f));
            }
        }
    }
    if aktive.is_empty() {
        return Ok(resultat(
            k,
            Udfald::NotObserved,
            "the system has no active subscription".into(),
            vec![],
        ));
    }
    let mut traeffere = Vec::new();
    let mut antal = 0;
    for (myndighed, a, f) in &aktive {
        for (hvad, data) in irrelevante(myndighed) {
            antal += 1;
            if f.matcher(&data, &fordeling.lister) {
                traeffere.push(Bevis {
                    id: None,
                    tid: Some(iso(a.oprettet)),
                    tekst: format!(
                        "abonnement {} on dueslag {} ({f}) takes {hvad}",
                        a.uuid, a.dueslag
                    ),
                });
            }
        }
    }
    Ok(if traeffere.is_empty() {
        resultat(
            k,
            Udfald::Pass,
            format!(
                "none of {antal} irrelevant probe events matches any of the {} active subscriptions",
                aktive.len()
            ),
            aktive
                .iter()
                .map(|(_, a, f)| Bevis {
                    id: None,
                    tid: Some(iso(a.oprettet)),
                    tekst: format!("abonnement {} ({f}) took none", a.uuid),
                })
                .collect(),
        )
    } else {
        resultat(
            k,
            Udfald::Fail,
            format!(
                "{} of {antal} irrelevant probe events would reach the system",
                traeffere.len()
            ),
            traeffere,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// PROBE_TOKEN

async fn token(st: &AppState, sys: &ItSystem, vent: Duration) -> anyhow::Result<Resultat> {
    let k = kontrol("PROBE_TOKEN");
    let t = st.sts.udloeb_tokens(&sys.certifikat_sha256);
    let fra = t.timestamp_micros();
    let slut = tokio::time::Instant::now() + vent;
    let q = |haendelse: &str| AuditQuery {
        fra: Some(fra),
        haendelse: Some(haendelse.to_owned()),
        limit: Some(10_000),
        ..Default::default()
    };
    let egen = |e: &AuditEntry| {
        e.system == Some(sys.uuid)
            || e.certifikat_sha256.as_deref() == Some(sys.certifikat_sha256.as_str())
    };
    loop {
        // Calls are recorded in the background, in batches; a look every KIG.
        let faerdig = tokio::time::Instant::now() >= slut;
        tokio::time::sleep(KIG).await;
        let adgang = st.adgang.as_ref();
        let afvist: Vec<AuditEntry> = adgang
            .audit_query(&q("request_refused"))
            .await?
            .into_iter()
            .filter(|e| egen(e))
            .collect();
        let udloebet = afvist
            .iter()
            .filter(|e| e.resultat == "token_expired")
            .count();
        let ok: Vec<AuditEntry> = adgang
            .audit_query(&q("kald"))
            .await?
            .into_iter()
            .filter(|e| e.system == Some(sys.uuid) && e.resultat == "ok")
            .collect();
        let udstedt: Vec<AuditEntry> = adgang
            .audit_query(&AuditQuery {
                system: Some(sys.uuid),
                ..q("token_issued")
            })
            .await?
            .into_iter()
            .chain(
                adgang
                    .audit_query(&AuditQuery {
                        system: Some(sys.uuid),
                        ..q("access_token_issued")
                    })
                    .await?,
            )
            .collect();
        let bevis = |e: &AuditEntry, tekst: String| Bevis {
            id: Some(e.id),
            tid: Some(iso(e.tid)),
            tekst,
        };
        let mut beviser: Vec<Bevis> = vec![Bevis {
            id: None,
            tid: Some(iso(fra)),
            tekst: "fki declared every token of the system's certificate expired".into(),
        }];
        beviser.extend(afvist.iter().take(5).map(|e| {
            bevis(
                e,
                format!(
                    "refused: {} ({})",
                    e.resultat,
                    e.service.as_deref().unwrap_or("-")
                ),
            )
        }));
        beviser.extend(
            udstedt
                .iter()
                .take(3)
                .map(|e| bevis(e, format!("new {}", e.haendelse.replace('_', " ")))),
        );
        if let Some(f) = ok.iter().min_by_key(|e| e.tid) {
            beviser.push(bevis(
                f,
                format!(
                    "accepted call {} {}",
                    f.sf.as_deref().unwrap_or("-"),
                    f.operation.as_deref().unwrap_or("-")
                ),
            ));
            return Ok(resultat(
                k,
                Udfald::Pass,
                format!(
                    "{:.1} s after its tokens expired the system made an accepted call with a new token ({udloebet} calls refused as expired before)",
                    (f.tid - fra) as f64 / 1e6
                ),
                beviser,
            ));
        }
        if faerdig {
            return Ok(if afvist.is_empty() {
                resultat(
                    k,
                    Udfald::NotObserved,
                    format!(
                        "the system made no call in the {} s after its tokens expired; probe it while it works",
                        vent.as_secs()
                    ),
                    beviser,
                )
            } else {
                resultat(
                    k,
                    Udfald::Fail,
                    format!(
                        "{} calls refused ({udloebet} as expired) and none accepted in the {} s after its tokens expired: the system does not get a new token",
                        afvist.len(),
                        vent.as_secs()
                    ),
                    beviser,
                )
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_chosen_by_package() {
        assert_eq!(valgte(&[]), PROBER);
        assert_eq!(valgte(&["I-04".into()]), ["PROBE_TOKEN"]);
        assert_eq!(
            valgte(&["I-02".into()]),
            ["PROBE_DUBLET", "PROBE_FILTER", "PROBE_TOKEN"]
        );
        assert!(valgte(&["I-08".into()]).is_empty());
    }

    #[test]
    fn irrelevant_events_escape_sensible_filters_and_meet_careless_ones() {
        let lister = crate::beskedfordeler::fordeling::Lister::default();
        let matcher = |f: &str| {
            let f = Filter::parse(f).unwrap();
            irrelevante("11111111")
                .iter()
                .filter(|(_, d)| f.matcher(d, &lister))
                .count()
        };
        assert_eq!(
            matcher("objektregistrering.objekttype = \"urn:oio:objekttype:sagindeks\""),
            0
        );
        assert_eq!(
            matcher("objektregistrering.opgaveemne ^= \"urn:oio:kle:27\""),
            0
        );
        assert_eq!(matcher("TRUE"), 5);
        assert_eq!(
            matcher("NOT beskedtype = \"7654895c-a3f3-4c77-8afd-4c77330f963c\""),
            5
        );
        assert_eq!(
            matcher("objektregistrering.objektansvarligmyndighed = \"urn:oio:cvr-nr:11111111\""),
            4
        );
    }
}
