//! Beskedfordeler (SF1460/SF1461/SF1462): the event distributor.
//!
//! - [`Beskedfordeler`]: accepts a Haendelsesbesked (`afsend`), decides its receivers from the
//!   in-memory [`fordeling::Fordeling`], and stores the message with one levering per receiving
//!   dueslag in one transaction before it answers StatusKode 20. Concurrent afsend requests are
//!   committed together (group commit: one writer task, one transaction per batch), which is
//!   what makes durable acceptance cheap on SQLite.
//! - [`afsend`]: `POST /beskedfordeler/afsend` (HTTP for systems without AMQP), token for
//!   `bfo_afsend/2`.
//! - [`hent`]: pull over HTTP (`bfo_modtag/2`): the head of a dueslag, acknowledge, move to the
//!   fejlkø.
//! - [`amqp`]: the same over RabbitMQ: afsend as KOMBIT's RPC on `AFSEND_BESKED_EXCHANGE`, and
//!   amqp dueslag forwarded to their queues.
//! - [`admin`]: dueslag, abonnementer and Værdilister for operators (`/admin/beskedfordeler`).
//!
//! The distribution picture is rebuilt when this process changed an abonnement, dueslag or
//! Værdiliste (at once: the very next message sees it), and otherwise at most once a
//! second when the store's `abonnement_version`, a Værdiliste's version, or the set of active
//! `bfo_modtag` agreements moved (changes made by another process, e.g. the CLI).

pub mod admin;
pub mod afsend;
pub mod amqp;
pub mod fordeling;
pub mod hent;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use fki_beskedfordeler::filter::Filter;
use fki_oio::store::{StoreError, StoreResult};
use fki_store::adgang::{AdgangStore, AftaleFilter, AftaleStatus};
use fki_store::besked::{BeskedStore, Modtaget, NyBesked};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use fordeling::{Fordeling, Lister, Modtager};

/// Entity ID of the afsend service (`AFSEND_BESKED_EXCHANGE` and the HTTP afsend).
pub const BFO_AFSEND: &str = "http://entityid.kombit.dk/service/bfo_afsend/2";
/// Entity ID of the receiving side (pull, and the agreements that let a system receive).
pub const BFO_MODTAG: &str = "http://entityid.kombit.dk/service/bfo_modtag/2";

/// Largest number of messages committed in one transaction.
const MAX_BATCH: usize = 512;
/// How often changes made by other processes are looked for.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Messages accepted (new BeskedIds).
    pub accepted: AtomicU64,
    /// Messages whose BeskedId was known: answered 20, not distributed again.
    pub duplicates: AtomicU64,
    /// Leveringer created (message × dueslag).
    pub distributed: AtomicU64,
    /// Messages acknowledged by receivers.
    pub delivered: AtomicU64,
    /// Failed push attempts.
    pub retried: AtomicU64,
    /// Messages moved to a fejlkø.
    pub dead_lettered: AtomicU64,
    /// Messages refused (4x/5x).
    pub refused: AtomicU64,
}

/// What a rebuild depended on: the abonnement version, each Værdiliste's version, and the
/// active `bfo_modtag` agreements (system, myndighed).
type Fingeraftryk = (i64, Vec<(Uuid, i64)>, Vec<(Uuid, String)>);

struct Job {
    ny: NyBesked,
    svar: oneshot::Sender<StoreResult<Modtaget>>,
}

/// The distributor (see the module docs).
pub struct Beskedfordeler {
    pub store: Arc<dyn BeskedStore>,
    adgang: Arc<dyn AdgangStore>,
    /// `--dev-open`: receivers need no `bfo_modtag` agreement.
    dev_open: bool,
    fordeling: RwLock<Arc<Fordeling>>,
    /// Set by local changes: rebuild before the next message.
    dirty: AtomicBool,
    refreshed: tokio::sync::Mutex<Instant>,
    /// Fingerprint of what the last rebuild saw (agreements, list versions).
    seen: std::sync::Mutex<Option<Fingeraftryk>>,
    writer: mpsc::Sender<Job>,
    /// Woken when messages were distributed (push workers wait on it).
    pub ny_besked: tokio::sync::Notify,
    pub metrics: Metrics,
}

impl std::fmt::Debug for Beskedfordeler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Beskedfordeler")
            .field("dev_open", &self.dev_open)
            .finish_non_exhaustive()
    }
}

impl Beskedfordeler {
    /// Start the distributor's writer task. Must be called inside a Tokio runtime.
    pub fn start(
        store: Arc<dyn BeskedStore>,
        adgang: Arc<dyn AdgangStore>,
        dev_open: bool,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        tokio::spawn(writer(store.clone(), rx));
        Arc::new(Beskedfordeler {
            store,
            adgang,
            dev_open,
            fordeling: RwLock::new(Arc::new(Fordeling::default())),
            dirty: AtomicBool::new(true),
            refreshed: tokio::sync::Mutex::new(Instant::now() - REFRESH_EVERY * 2),
            seen: std::sync::Mutex::new(None),
            writer: tx,
            ny_besked: tokio::sync::Notify::new(),
            metrics: Metrics::default(),
        })
    }

    /// Tell whoever waits for new leveringer (push workers) that there are some.
    pub fn wake(&self) {
        self.ny_besked.notify_waiters();
    }

    /// A local change of abonnementer, dueslag or Værdilister: the next message sees it.
    pub fn changed(&self) {
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// The current distribution picture, rebuilt first if it may be stale.
    pub async fn fordeling(&self) -> StoreResult<Arc<Fordeling>> {
        let dirty = self.dirty.load(Ordering::SeqCst);
        let guard = if dirty {
            Some(self.refreshed.lock().await)
        } else {
            match self.refreshed.try_lock() {
                Ok(g) if g.elapsed() >= REFRESH_EVERY => Some(g),
                _ => None,
            }
        };
        if let Some(mut last) = guard {
            // Another task may have rebuilt while this one waited for the lock.
            if self.dirty.swap(false, Ordering::SeqCst) || last.elapsed() >= REFRESH_EVERY {
                if let Err(e) = self.rebuild().await {
                    self.dirty.store(true, Ordering::SeqCst);
                    return Err(e);
                }
                *last = Instant::now();
            }
        }
        Ok(self
            .fordeling
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }

    /// Rebuild the picture if anything it depends on moved.
    async fn rebuild(&self) -> StoreResult<()> {
        let version = self.store.abonnement_version().await?;
        let mut lister: Vec<(Uuid, i64)> = self
            .store
            .list_vaerdilister(None)
            .await?
            .into_iter()
            .map(|l| (l.uuid, l.version))
            .collect();
        lister.sort();
        let aftaler = if self.dev_open {
            Vec::new()
        } else {
            let service = self.adgang.service_by_entity_id(BFO_MODTAG).await?;
            let mut a: Vec<(Uuid, String)> = match service {
                Some(s) => self
                    .adgang
                    .aftaler(&AftaleFilter {
                        service: Some(s.uuid),
                        status: Some(AftaleStatus::Aktiv),
                        ..Default::default()
                    })
                    .await?
                    .into_iter()
                    .map(|a| (a.system, a.myndighed))
                    .collect(),
                None => Vec::new(),
            };
            a.sort();
            a
        };
        let fingerprint = (version, lister.clone(), aftaler.clone());
        {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.as_ref() == Some(&fingerprint) {
                return Ok(());
            }
        }
        let old = self
            .fordeling
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let modtagere = if version == old.abonnement_version && !old.modtagere.is_empty() {
            old.modtagere.clone()
        } else {
            self.load_modtagere().await?
        };
        let alle: Vec<&Filter> = modtagere
            .values()
            .flatten()
            .flat_map(|m| m.filtre.iter())
            .collect();
        let brugte = Fordeling::brugte_lister(&alle);
        let versioner: HashMap<Uuid, i64> = lister.iter().copied().collect();
        let mut nye = Lister::default();
        for l in brugte {
            let Some(&v) = versioner.get(&l) else {
                continue; // an unknown list holds nothing
            };
            match old.lister.lister.get(&l) {
                Some((ov, set)) if *ov == v => {
                    nye.lister.insert(l, (v, set.clone()));
                }
                _ => {
                    let set: HashSet<String> = self
                        .store
                        .vaerdier(l)
                        .await?
                        .into_iter()
                        .map(|s| s.trim().to_lowercase())
                        .collect();
                    nye.lister.insert(l, (v, Arc::new(set)));
                }
            }
        }
        let ny = Fordeling {
            abonnement_version: version,
            modtagere,
            lister: nye,
            modtag_aftaler: (!self.dev_open).then(|| aftaler.iter().cloned().collect()),
        };
        *self.fordeling.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ny);
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(fingerprint);
        Ok(())
    }

    async fn load_modtagere(&self) -> StoreResult<HashMap<String, Vec<Modtager>>> {
        let dueslag: HashMap<Uuid, _> = self
            .store
            .list_dueslag(None)
            .await?
            .into_iter()
            .filter(|d| d.aktiv)
            .map(|d| (d.uuid, d))
            .collect();
        let mut filtre: HashMap<Uuid, Vec<Filter>> = HashMap::new();
        for a in self.store.list_abonnementer(None).await? {
            if !a.aktiv || !dueslag.contains_key(&a.dueslag) {
                continue;
            }
            let parsed = serde_json::from_str(&a.filter)
                .map_err(|e| e.to_string())
                .and_then(|v| Filter::from_json(&v).map_err(|e| e.to_string()));
            match parsed {
                Ok(f) => filtre.entry(a.dueslag).or_default().push(f),
                Err(e) => {
                    // Stored filters were checked when created; a bad one lets nothing in.
                    tracing::error!(abonnement = %a.uuid, error = %e, "stored filter does not parse; ignored");
                }
            }
        }
        let mut ud: HashMap<String, Vec<Modtager>> = HashMap::new();
        for (uuid, f) in filtre {
            let d = &dueslag[&uuid];
            ud.entry(d.myndighed.clone()).or_default().push(Modtager {
                dueslag: uuid,
                ejer: d.ejer,
                myndighed: d.myndighed.clone(),
                filtre: f,
            });
        }
        Ok(ud)
    }

    /// Store a message durably with its leveringer (group commit).
    pub async fn gem(&self, ny: NyBesked) -> StoreResult<Modtaget> {
        self.stil_i_koe(ny)
            .await?
            .await
            .map_err(|_| StoreError::Backend("the Beskedfordeler writer has stopped".into()))?
    }

    /// Queue a message for the writer and return without waiting for its commit; the receiver
    /// answers once its batch committed. Messages queued one after another are committed in
    /// that order (the AMQP consumer keeps a channel's order this way).
    pub async fn stil_i_koe(
        &self,
        ny: NyBesked,
    ) -> StoreResult<oneshot::Receiver<StoreResult<Modtaget>>> {
        let (svar, rx) = oneshot::channel();
        self.writer
            .send(Job { ny, svar })
            .await
            .map_err(|_| StoreError::Backend("the Beskedfordeler writer has stopped".into()))?;
        Ok(rx)
    }
}

/// The writer task: takes what is waiting (up to [`MAX_BATCH`]), commits it in one
/// transaction, answers each sender.
async fn writer(store: Arc<dyn BeskedStore>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let (nye, svar): (Vec<NyBesked>, Vec<_>) = jobs.into_iter().map(|j| (j.ny, j.svar)).unzip();
        match store.modtag(nye).await {
            Ok(res) => {
                for (s, r) in svar.into_iter().zip(res) {
                    let _ = s.send(Ok(r));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "storing a batch of messages failed");
                let tekst = e.to_string();
                for s in svar {
                    let _ = s.send(Err(StoreError::Backend(tekst.clone())));
                }
            }
        }
    }
}

/// The `Fordelingssystem` fki names in the Leverancerute it adds (a fixed UUID for "fki's
/// Beskedfordeler").
pub const FORDELINGSSYSTEM: Uuid = Uuid::from_u128(0xe88e639b_aa60_42c5_be40_44366fd4bec3);

/// The message of a levering as it is handed to its receiver: the stored Haendelsesbesked
/// with the Beskedfordeler's hop added to `Leveranceinformation/Leveranceruter` (item 5d):
/// when it was received, when it is delivered (`nu`), and the attempt number.
pub fn med_leverancerute(
    l: &fki_store::besked::Leveret,
    nu: i64,
) -> Result<String, fki_beskedfordeler::kuvert::BeskedFejl> {
    use fki_beskedfordeler::kuvert::{
        Haendelsesbesked, Leverancerute, LeveranceruteLokalUdvidelse, Tidspunkt, UnikId,
    };
    let mut h = Haendelsesbesked::parse(&l.besked.xml)?;
    h.tilfoej_leverancerute(Leverancerute {
        fordelingssystem: Some(UnikId::Uuid(FORDELINGSSYSTEM)),
        modtagelses_tidspunkt: Some(Tidspunkt::Tidsstempel(fki_oio::time::format_iso(
            l.besked.modtaget,
        ))),
        leverance_tidspunkt: Some(Tidspunkt::Tidsstempel(fki_oio::time::format_iso(nu))),
        modtaget_fra_system: (!l.besked.afsender.is_nil()).then_some(l.besked.afsender),
        er_leveret_i_henhold_til: None,
        lokal_udvidelse: Some(LeveranceruteLokalUdvidelse {
            antal_leveranceforsoeg: Some(l.levering.forsoeg as u64 + 1),
            andet: Vec::new(),
        }),
    });
    Ok(h.to_xml())
}

/// Every Beskedfordeler route.
pub fn routes() -> axum::Router<crate::AppState> {
    afsend::routes()
        .merge(hent::routes())
        .merge(admin::routes())
}
