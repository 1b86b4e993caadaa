//! Change events of Organisation and Klassifikation objects (issue 5 item 6): every stored
//! change of an object of the `organisation` or `klassifikation` service becomes a
//! Haendelsesbesked in the Beskedfordeler, so subscribers can follow the objects.
//!
//! [`OioHaendelser`] is the engine's [`Aendringslytter`] (registered in `start_with_stores`, so
//! every front door that writes through `AppState::engine` publishes). On the writer's task it
//! only keeps the changes of those two services and `try_send`s them, one job per commit, to a
//! bounded queue ([`KOE_KAPACITET`] commits); one task ([`publicer`]) builds the messages,
//! decides their dueslag with the normal distribution ([`super::fordeling`]) and queues them
//! for the Beskedfordeler's writer (group commit with the afsend messages). The OIO write never
//! waits for any of it and never fails because of it.
//!
//! **The message** (`docs/beskedfordeler.md`, "Change events from Organisation and
//! Klassifikation"): Beskedtype [`BESKEDTYPE_OBJEKTAENDRING`]; BeskedAnsvarligAktoer, Kildesystem
//! and the sender (ModtagetFraSystem) are the service itself (its seeded UUID,
//! [`kendt_service_uuid`] of its entity ID); one ObjektRegistrering with ObjektId = the object's
//! UUID, ObjektType = `urn:oio:objekttype:<klasse>`, ObjektHandling =
//! `urn:oio:objekthandling:<opret|importer|ret|passiver|slet>`, ObjektAnsvarligMyndighed =
//! `urn:oio:cvr-nr:<owner>`, Registreringstidspunkt = the new registrering's `fra`,
//! RegistreringsAktoer = its brugerref; TransaktionsId is shared by the changes of one commit.
//! The BeskedId (= ObjektRegistreringId) is a UUIDv5 of (object, registrering `fra`), so a
//! change is stored at most once however often it is offered.
//!
//! **Who receives it**: the message is distributed in the context of the object's owner (the
//! CVR in ObjektAnsvarligMyndighed), as if that myndighed had sent it; a fælleskommunalt object
//! is readable by every myndighed, so its changes go to the matching dueslag of every myndighed.
//! The usual rules hold: an active `bfo_modtag/2` agreement, a matching abonnement. A change no
//! dueslag receives is not stored (there is nobody to deliver it to), nor is a change of an
//! object without an owner.
//!
//! **Guarantees**: at most once. The event leaves the OIO transaction after its commit; a crash
//! (or a full queue, or a store failure that persists through [`FORSOEG`] attempts) between
//! the commit and the event's own commit loses it, logged at ERROR and counted in
//! `fki_beskedfordeler_oio_events_lost_total`. A graceful shutdown waits (up to 10 s) for the
//! queue to drain. Changes of one object arrive in commit order when its writes do not overlap
//! in time (a client waiting for each answer); for concurrent writes to the same object order
//! by Registreringstidspunkt.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::Duration;

use fki_beskedfordeler::kuvert::{
    Beskedkuvert, Filtreringsdata, Haendelsesbesked, Leveranceinformation, ObjektRegistrering,
    Tidspunkt, UnikId,
};
use fki_oio::engine::{Aendringslytter, Haendelse, Handling};
use fki_store::adgang::kendt_service_uuid;
use fki_store::besked::NyBesked;
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use super::Beskedfordeler;
use crate::sts::{
    ENTITY_KLASSIFIKATION, ENTITY_ORGANISATION, ENTITY_SAGDOKUMENTINDEKS, ENTITY_YDELSESINDEKS,
};

/// Beskedtype of fki's change events of OIO objects ("fki objektændring").
pub const BESKEDTYPE_OBJEKTAENDRING: Uuid =
    Uuid::from_u128(0x6f1c_2e0a_5b7d_4c39_9a41_3d2b_8e7f_0c15);

/// Namespace of the events' BeskedIds (UUIDv5 of `<object uuid>/<registrering fra>`).
const NAVNERUM: Uuid = Uuid::from_u128(0x0b5e_55ed_7a1d_4e62_8c3f_c4a9_1d20_e6b8);

/// Commits whose changes may wait for the publisher; more are lost (logged, counted).
pub const KOE_KAPACITET: usize = 4096;
/// Commits the publisher takes at once (their messages share the writer's commits).
const PORTION: usize = 256;
/// Events built and stored at a time.
const BUNDT: usize = 1024;
/// Attempts to store an event before it is given up.
pub const FORSOEG: u32 = 3;

/// The services whose objects publish change events.
pub const SERVICES: &[&str] = &[
    "organisation",
    "klassifikation",
    "sagdokumentindeks",
    "ydelsesindeks",
];

/// Whether changes of objects of `service` are published.
pub fn publiceres(service: &str) -> bool {
    SERVICES.contains(&service)
}

/// The sender of a service's events: the service's seeded UUID.
pub fn afsender(service: &str) -> Option<Uuid> {
    match service {
        "organisation" => Some(kendt_service_uuid(ENTITY_ORGANISATION)),
        "klassifikation" => Some(kendt_service_uuid(ENTITY_KLASSIFIKATION)),
        "sagdokumentindeks" => Some(kendt_service_uuid(ENTITY_SAGDOKUMENTINDEKS)),
        "ydelsesindeks" => Some(kendt_service_uuid(ENTITY_YDELSESINDEKS)),
        _ => None,
    }
}

/// `urn:oio:objekttype:<klasse>`: the ObjektType of a class's events.
pub fn objekttype(klasse: &str) -> String {
    format!("urn:oio:objekttype:{klasse}")
}

/// `urn:oio:objekthandling:<handling>`: the ObjektHandling of an event.
pub fn objekthandling(h: Handling) -> String {
    format!("urn:oio:objekthandling:{}", h.as_str())
}

/// The BeskedId (and ObjektRegistreringId) of a change.
pub fn besked_id(h: &Haendelse) -> Uuid {
    Uuid::new_v5(&NAVNERUM, format!("{}/{}", h.uuid, h.tidspunkt).as_bytes())
}

/// The Haendelsesbesked of a change (see the module docs); `None` for a service that does not
/// publish.
pub fn haendelsesbesked(h: &Haendelse, transaktion: Uuid, nu: i64) -> Option<Haendelsesbesked> {
    let afsender = afsender(h.service)?;
    let id = besked_id(h);
    let urn = |s: String| match UnikId::urn(&s) {
        Ok(u) => Some(u),
        Err(e) => {
            tracing::warn!(uuid = %h.uuid, error = %e, "change event: value left out");
            None
        }
    };
    Some(Haendelsesbesked {
        besked_id: UnikId::Uuid(id),
        besked_version: "1.0".into(),
        beskedkuvert: Beskedkuvert {
            filtreringsdata: Filtreringsdata {
                beskedtype: Some(UnikId::Uuid(BESKEDTYPE_OBJEKTAENDRING)),
                besked_ansvarlig_aktoer: Some(afsender),
                objekt_registrering: vec![ObjektRegistrering {
                    objekt_registrering_id: Some(UnikId::Uuid(id)),
                    registrerings_aktoer: h.brugerref,
                    registreringstidspunkt: Some(Tidspunkt::Tidsstempel(
                        fki_oio::time::format_iso(h.tidspunkt),
                    )),
                    objekt_ansvarlig_myndighed: h
                        .myndighed
                        .as_ref()
                        .and_then(|m| urn(format!("urn:oio:cvr-nr:{m}"))),
                    objekt_id: Some(UnikId::Uuid(h.uuid)),
                    objekt_type: urn(objekttype(h.klasse)),
                    objekt_handling: urn(objekthandling(h.handling)),
                    opgave_emne: None,
                    lokal_udvidelse: None,
                }],
                ..Default::default()
            },
            leveranceinformation: Leveranceinformation {
                dannelsestidspunkt: Some(Tidspunkt::Tidsstempel(fki_oio::time::format_iso(nu))),
                transaktions_id: Some(UnikId::Uuid(transaktion)),
                kildesystem: Some(afsender),
                ..Default::default()
            },
            modtagerhandling: None,
            gyldighed_fra: None,
            gyldighed_til: None,
        },
        beskeddata: Vec::new(),
    })
}

/// The changes of one commit, waiting for the publisher.
struct Job {
    haendelser: Vec<Haendelse>,
    transaktion: Uuid,
}

/// The engine's listener that publishes the changes (see the module docs).
pub struct OioHaendelser {
    koe: mpsc::Sender<Job>,
    bf: Arc<Beskedfordeler>,
    /// Jobs queued and not yet finished.
    ventende: Arc<AtomicUsize>,
    /// Woken when `ventende` drops to 0.
    tom: Arc<Notify>,
}

impl std::fmt::Debug for OioHaendelser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OioHaendelser")
            .field("ventende", &self.ventende.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl OioHaendelser {
    /// Start the publisher task. Must be called inside a Tokio runtime.
    pub fn start(bf: Arc<Beskedfordeler>) -> Arc<OioHaendelser> {
        let (tx, rx) = mpsc::channel(KOE_KAPACITET);
        let ventende = Arc::new(AtomicUsize::new(0));
        let tom = Arc::new(Notify::new());
        tokio::spawn(publicer(bf.clone(), rx, ventende.clone(), tom.clone()));
        Arc::new(OioHaendelser {
            koe: tx,
            bf,
            ventende,
            tom,
        })
    }

    /// Wait until every change queued so far is stored (or given up), at most `max`; whether
    /// the queue is empty.
    pub async fn toem(&self, max: Duration) -> bool {
        let frist = tokio::time::Instant::now() + max;
        loop {
            let vaagn = self.tom.notified();
            tokio::pin!(vaagn);
            vaagn.as_mut().enable();
            if self.ventende.load(SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(frist, vaagn).await.is_err() {
                return self.ventende.load(SeqCst) == 0;
            }
        }
    }
}

impl Aendringslytter for OioHaendelser {
    fn aendret(&self, haendelser: &[Haendelse]) {
        let mine: Vec<Haendelse> = haendelser
            .iter()
            .filter(|h| publiceres(h.service))
            .cloned()
            .collect();
        if mine.is_empty() {
            return;
        }
        let antal = mine.len();
        self.ventende.fetch_add(1, SeqCst);
        let job = Job {
            haendelser: mine,
            transaktion: Uuid::new_v4(),
        };
        if let Err(e) = self.koe.try_send(job) {
            self.ventende.fetch_sub(1, SeqCst);
            let grund = match e {
                mpsc::error::TrySendError::Full(_) => "the queue is full",
                mpsc::error::TrySendError::Closed(_) => "the publisher has stopped",
            };
            tracing::error!(
                antal,
                grund,
                "change events of Organisation/Klassifikation objects LOST: not published to the Beskedfordeler"
            );
            self.bf
                .metrics
                .oio_events_lost
                .fetch_add(antal as u64, Relaxed);
        }
    }
}

/// An event ready to be distributed.
struct Klar {
    h: Haendelse,
    besked: Haendelsesbesked,
    xml: String,
    afsender: Uuid,
    besked_id: Uuid,
}

/// The publisher task: takes what is waiting (up to [`PORTION`] commits), builds the messages,
/// stores them (see [`gem`]), and tells [`OioHaendelser::toem`] when the queue is empty.
async fn publicer(
    bf: Arc<Beskedfordeler>,
    mut rx: mpsc::Receiver<Job>,
    ventende: Arc<AtomicUsize>,
    tom: Arc<Notify>,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < PORTION {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let antal_jobs = jobs.len();
        let nu = fki_oio::time::now();
        let mut alle = jobs
            .into_iter()
            .flat_map(|j| j.haendelser.into_iter().map(move |h| (h, j.transaktion)))
            .peekable();
        // A bulk import's changes are built and stored a bounded number at a time.
        while alle.peek().is_some() {
            let mut klar = Vec::new();
            for (h, transaktion) in alle.by_ref().take(BUNDT) {
                let Some(besked) = haendelsesbesked(&h, transaktion, nu) else {
                    continue;
                };
                let UnikId::Uuid(besked_id) = besked.besked_id else {
                    continue;
                };
                klar.push(Klar {
                    xml: besked.to_xml(),
                    afsender: afsender(h.service).unwrap_or_default(),
                    besked_id,
                    besked,
                    h,
                });
            }
            gem_med_forsoeg(&bf, klar).await;
        }
        if ventende.fetch_sub(antal_jobs, SeqCst) == antal_jobs {
            tom.notify_waiters();
        }
    }
}

/// [`gem`], and again up to [`FORSOEG`] attempts in all for the events whose storing failed;
/// those still failing are lost (logged, counted).
async fn gem_med_forsoeg(bf: &Beskedfordeler, mut klar: Vec<Klar>) {
    let mut forsoeg = 0;
    while !klar.is_empty() {
        forsoeg += 1;
        match gem(bf, klar).await {
            Ok(()) => break,
            Err((fejlede, e)) if forsoeg < FORSOEG => {
                tracing::warn!(antal = fejlede.len(), forsoeg, error = %e, "storing change events failed; trying again");
                tokio::time::sleep(Duration::from_millis(200 * 5u64.pow(forsoeg - 1))).await;
                klar = fejlede;
            }
            Err((fejlede, e)) => {
                for k in &fejlede {
                    tracing::error!(
                        besked_id = %k.besked_id,
                        klasse = k.h.klasse,
                        uuid = %k.h.uuid,
                        handling = k.h.handling.as_str(),
                        error = %e,
                        "change event LOST: the Beskedfordeler could not store it"
                    );
                }
                bf.metrics
                    .oio_events_lost
                    .fetch_add(fejlede.len() as u64, Relaxed);
                break;
            }
        }
    }
}

/// Decide the dueslag of each event and store those anyone receives, in order, through the
/// Beskedfordeler's writer; the events that could not be stored come back with the error.
async fn gem(bf: &Beskedfordeler, klar: Vec<Klar>) -> Result<(), (Vec<Klar>, String)> {
    let fordeling = match bf.fordeling().await {
        Ok(f) => f,
        Err(e) => return Err((klar, e.to_string())),
    };
    let mut koe = Vec::with_capacity(klar.len());
    for k in klar {
        let data = &k.besked.beskedkuvert.filtreringsdata;
        let dueslag = match (&k.h.myndighed, k.h.faelles) {
            (Some(_), true) => fordeling.modtagere_alle(data),
            (Some(m), false) => fordeling.modtagere(m, data),
            (None, _) => Vec::new(),
        };
        if dueslag.is_empty() {
            tracing::debug!(uuid = %k.h.uuid, klasse = k.h.klasse, "change event: no dueslag receives it");
            bf.metrics.oio_events_unreceived.fetch_add(1, Relaxed);
            continue;
        }
        let ny = NyBesked {
            besked_id: k.besked_id,
            afsender: k.afsender,
            myndighed: k.h.myndighed.clone().unwrap_or_default(),
            modtaget: fki_oio::time::now(),
            xml: k.xml.clone(),
            dueslag: dueslag.clone(),
        };
        match bf.stil_i_koe(ny).await {
            Ok(svar) => koe.push((k, dueslag, Some(svar))),
            Err(_) => koe.push((k, dueslag, None)),
        }
    }
    let mut fejlede = Vec::new();
    let mut fejl = String::new();
    for (k, dueslag, svar) in koe {
        let res = match svar {
            Some(s) => s.await.unwrap_or_else(|_| {
                Err(fki_oio::store::StoreError::Backend(
                    "the Beskedfordeler writer has stopped".into(),
                ))
            }),
            None => Err(fki_oio::store::StoreError::Backend(
                "the Beskedfordeler writer has stopped".into(),
            )),
        };
        match res {
            Ok(m) => {
                // Not new: an earlier attempt stored it after all (its answer was lost).
                if m.ny {
                    bf.metrics
                        .distributed
                        .fetch_add(dueslag.len() as u64, Relaxed);
                }
                bf.metrics.oio_events_published.fetch_add(1, Relaxed);
                bf.wake_dueslag(&dueslag);
            }
            Err(e) => {
                fejl = e.to_string();
                fejlede.push(k);
            }
        }
    }
    if fejlede.is_empty() {
        Ok(())
    } else {
        Err((fejlede, fejl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn haendelse(service: &'static str, klasse: &'static str, h: Handling) -> Haendelse {
        Haendelse {
            service,
            klasse,
            uuid: Uuid::from_u128(7),
            handling: h,
            myndighed: Some("11111111".into()),
            faelles: false,
            brugerref: Some(Uuid::from_u128(9)),
            tidspunkt: 1_700_000_000_000_000,
        }
    }

    #[test]
    fn only_organisation_and_klassifikation_classes_publish() {
        let mut n = 0;
        for c in fki_oio::spec::classes() {
            let ja = c.service == "organisation" || c.service == "klassifikation";
            assert_eq!(publiceres(c.service), ja, "{}", c.name);
            assert_eq!(afsender(c.service).is_some(), ja, "{}", c.name);
            n += usize::from(ja);
        }
        assert!(n >= 8, "organisation and klassifikation have their classes");
        let sag = haendelse("sag", "sag", Handling::Opret);
        assert!(haendelsesbesked(&sag, Uuid::nil(), 0).is_none());
    }

    #[test]
    fn the_message_carries_type_handling_owner_and_object() {
        let h = haendelse("organisation", "organisationenhed", Handling::Passiver);
        let t = Uuid::from_u128(42);
        let b = haendelsesbesked(&h, t, h.tidspunkt).unwrap();
        // what is stored is what the strict parser accepts, unchanged
        let igen = Haendelsesbesked::parse(&b.to_xml()).unwrap();
        assert_eq!(igen, b);
        let f = &igen.beskedkuvert.filtreringsdata;
        let org = kendt_service_uuid(ENTITY_ORGANISATION);
        assert_eq!(f.beskedtype, Some(UnikId::Uuid(BESKEDTYPE_OBJEKTAENDRING)));
        assert_eq!(f.besked_ansvarlig_aktoer, Some(org));
        let r = &f.objekt_registrering[0];
        assert_eq!(r.objekt_id, Some(UnikId::Uuid(h.uuid)));
        assert_eq!(
            r.objekt_type,
            Some(UnikId::Urn("urn:oio:objekttype:organisationenhed".into()))
        );
        assert_eq!(
            r.objekt_handling,
            Some(UnikId::Urn("urn:oio:objekthandling:passiver".into()))
        );
        assert_eq!(
            r.objekt_ansvarlig_myndighed,
            Some(UnikId::Urn("urn:oio:cvr-nr:11111111".into()))
        );
        assert_eq!(r.registrerings_aktoer, h.brugerref);
        assert_eq!(
            r.registreringstidspunkt,
            Some(Tidspunkt::Tidsstempel(fki_oio::time::format_iso(
                h.tidspunkt
            )))
        );
        let l = &igen.beskedkuvert.leveranceinformation;
        assert_eq!(l.transaktions_id, Some(UnikId::Uuid(t)));
        assert_eq!(l.kildesystem, Some(org));
        // the same change always has the same BeskedId; another change another one
        assert_eq!(igen.besked_id, UnikId::Uuid(besked_id(&h)));
        assert_eq!(r.objekt_registrering_id, Some(igen.besked_id.clone()));
        let senere = Haendelse {
            tidspunkt: h.tidspunkt + 1,
            ..h.clone()
        };
        assert_ne!(besked_id(&senere), besked_id(&h));
        // Klassifikation's events come from Klassifikation
        let k = haendelse("klassifikation", "klasse", Handling::Opret);
        let b = haendelsesbesked(&k, t, 0).unwrap();
        assert_eq!(
            b.beskedkuvert.filtreringsdata.besked_ansvarlig_aktoer,
            Some(kendt_service_uuid(ENTITY_KLASSIFIKATION))
        );
    }

    #[test]
    fn filters_select_on_the_event_fields() {
        use fki_beskedfordeler::filter::{Filter, Vaerdilister};
        struct Ingen;
        impl Vaerdilister for Ingen {
            fn indeholder(&self, _: &Uuid, _: &str) -> bool {
                false
            }
        }
        let h = haendelse("organisation", "organisationenhed", Handling::Ret);
        let b = haendelsesbesked(&h, Uuid::nil(), 0).unwrap();
        let data = &b.beskedkuvert.filtreringsdata;
        let m = |f: &str| Filter::parse(f).unwrap().matcher(data, &Ingen);
        assert!(m(
            r#"objektregistrering { objekttype = "urn:oio:objekttype:organisationenhed" AND objekthandling = "urn:oio:objekthandling:ret" }"#
        ));
        assert!(m(
            r#"objektregistrering.objektansvarligmyndighed = "urn:oio:cvr-nr:11111111""#
        ));
        assert!(!m(
            r#"objektregistrering.objektansvarligmyndighed = "urn:oio:cvr-nr:22222222""#
        ));
        assert!(!m(
            r#"objektregistrering.objekttype = "urn:oio:objekttype:bruger""#
        ));
        assert!(m(&format!("objektregistrering.objektid = \"{}\"", h.uuid)));
    }
}
