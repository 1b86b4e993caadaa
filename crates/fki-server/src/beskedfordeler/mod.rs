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
//! - [`push`]: push delivery: one task per active push dueslag POSTs `ModtagBeskedInput` to
//!   the receiver's callback URL, strictly in order, with backoff and the fejlkø.
//! - [`amqp`]: the same over RabbitMQ: afsend as KOMBIT's RPC on `AFSEND_BESKED_EXCHANGE`, and
//!   amqp dueslag forwarded to their queues.
//! - [`admin`]: dueslag, abonnementer and Værdilister for operators (`/admin/beskedfordeler`).
//! - [`haendelser`]: fki's own messages: the change events of Organisation and Klassifikation
//!   objects, published from the engine's change listener through the same distribution and
//!   writer.
//!
//! The distribution picture is rebuilt when this process changed an abonnement, dueslag or
//! Værdiliste (at once: the very next message sees it), and otherwise at most once a
//! second when the store's `abonnement_version`, a Værdiliste's version, or the set of active
//! `bfo_modtag` agreements moved (changes made by another process, e.g. the CLI).

pub mod admin;
pub mod afsend;
pub mod amqp;
pub mod fordeling;
pub mod gateway;
pub mod haendelser;
pub mod hent;
pub mod openapi;
pub mod push;
pub mod rabbitmq_auth;
pub mod vaerdiliste;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use fki_beskedfordeler::filter::Filter;
use fki_oio::store::{StoreError, StoreResult};
use fki_store::adgang::{AdgangStore, AftaleFilter, AftaleStatus};
use fki_store::besked::{BeskedStore, Dueslag, Modtaget, NyBesked};
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
/// Most dueslag [`Beskedfordeler::dueslag`] remembers (it starts over when full).
const DUESLAG_CACHE_MAKS: usize = 10_000;

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
    /// Pushed messages: distribution → acknowledgement by the receiver.
    pub delivery_latency: Histogram,
    /// Group commits of accepted messages (batches the writer stored; messages per batch =
    /// (accepted + duplicates) / this).
    pub group_commits: AtomicU64,
    /// How long each group commit took in the store.
    pub group_commit_time: Histogram,
    /// Change events of Organisation/Klassifikation objects stored for their dueslag.
    pub oio_events_published: AtomicU64,
    /// Change events no dueslag receives (not stored).
    pub oio_events_unreceived: AtomicU64,
    /// Change events lost: queue full, or storing failed every attempt.
    pub oio_events_lost: AtomicU64,
}

/// A histogram with fixed buckets and atomic counters (no locks on the delivery path), shaped
/// for a Prometheus `histogram`: [`Histogram::snapshot`] gives the cumulative `le` buckets,
/// [`Histogram::prometheus`] the text exposition.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds in seconds, ascending.
    grenser: &'static [f64],
    /// One counter per bound plus one for `+Inf`; not cumulative.
    spande: Vec<AtomicU64>,
    /// Sum of the observations in µs.
    sum_us: AtomicU64,
    antal: AtomicU64,
}

/// What a [`Histogram`] holds at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(le, cumulative count)` per bound, ending with `(f64::INFINITY, count)`.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    /// Sum of the observations, seconds.
    pub sum_seconds: f64,
}

impl Histogram {
    /// Bounds (seconds) of [`Metrics::delivery_latency`] and [`Metrics::group_commit_time`]:
    /// from 0.5 ms (a commit, a receiver that answers at once) to an hour (a receiver that was
    /// down).
    pub const LATENCY_BUCKETS: &'static [f64] = &[
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        60.0, 300.0, 900.0, 3600.0,
    ];

    /// A histogram with these upper bounds (seconds, ascending).
    pub fn new(grenser: &'static [f64]) -> Histogram {
        debug_assert!(grenser.windows(2).all(|w| w[0] < w[1]));
        Histogram {
            grenser,
            spande: (0..=grenser.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
            antal: AtomicU64::new(0),
        }
    }

    /// Count one observation of `us` microseconds (negative counts as 0).
    pub fn observe_us(&self, us: i64) {
        let us = us.max(0) as u64;
        let s = us as f64 / 1e6;
        let i = self.grenser.partition_point(|&g| g < s);
        self.spande[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.antal.fetch_add(1, Ordering::Relaxed);
    }

    /// The cumulative buckets, count and sum (read counter by counter: under concurrent
    /// observations the parts may be a few observations apart, as Prometheus tolerates).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut sum = 0;
        let mut buckets = Vec::with_capacity(self.spande.len());
        for (i, c) in self.spande.iter().enumerate() {
            sum += c.load(Ordering::Relaxed);
            buckets.push((self.grenser.get(i).copied().unwrap_or(f64::INFINITY), sum));
        }
        HistogramSnapshot {
            buckets,
            count: sum,
            sum_seconds: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    /// The Prometheus text exposition of this histogram under `name` (without `# HELP`).
    pub fn prometheus(&self, name: &str) -> String {
        use std::fmt::Write;
        let s = self.snapshot();
        let mut out = format!("# TYPE {name} histogram\n");
        for (le, n) in &s.buckets {
            let le = if le.is_infinite() {
                "+Inf".to_owned()
            } else {
                le.to_string()
            };
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_sum {}", s.sum_seconds);
        let _ = writeln!(out, "{name}_count {}", s.count);
        out
    }
}

impl Default for Histogram {
    /// A delivery-latency histogram ([`Histogram::LATENCY_BUCKETS`]).
    fn default() -> Self {
        Histogram::new(Self::LATENCY_BUCKETS)
    }
}

/// What a rebuild depended on: the abonnement version, each Værdiliste's version, and the
/// active `bfo_modtag` agreements (system, myndighed).
type Fingeraftryk = (i64, Vec<(Uuid, i64)>, Vec<(Uuid, String)>);

/// Work for the writer task: a message to accept, or acknowledgements to record.
enum Job {
    Modtag {
        ny: NyBesked,
        svar: oneshot::Sender<StoreResult<Modtaget>>,
    },
    Kvitter {
        par: Vec<(Uuid, i64)>,
        nu: i64,
        svar: oneshot::Sender<StoreResult<Vec<bool>>>,
    },
}

/// The distributor (see the module docs).
pub struct Beskedfordeler {
    pub store: Arc<dyn BeskedStore>,
    adgang: Arc<dyn AdgangStore>,
    /// `--dev-open`: receivers need no `bfo_modtag` agreement.
    dev_open: bool,
    /// The picture and the [`Self::generation`] it includes.
    fordeling: RwLock<(u64, Arc<Fordeling>)>,
    /// Counts local changes: a picture built before the latest one is rebuilt before use.
    generation: AtomicU64,
    refreshed: tokio::sync::Mutex<Instant>,
    /// Fingerprint of what the last rebuild saw (agreements, list versions).
    seen: std::sync::Mutex<Option<Fingeraftryk>>,
    writer: mpsc::Sender<Job>,
    /// One-time RabbitMQ users of AMQP gateway sessions and direct PLAIN logins.
    pub amqp_adgange: rabbitmq_auth::AmqpAdgange,
    /// Woken by [`Self::wake`] (replay and admin paths: everything should look again).
    pub ny_besked: tokio::sync::Notify,
    /// Per dueslag: woken when that dueslag got leveringer ([`Self::wake_dueslag`]); its push
    /// worker or AMQP forwarder waits on it ([`Self::notify_for`]).
    per_dueslag: std::sync::Mutex<HashMap<Uuid, Arc<tokio::sync::Notify>>>,
    /// The dueslag the push supervisor knew at its last listing: a message for any other
    /// dueslag makes it list again at once (a dueslag created by another process).
    kendte_dueslag: std::sync::RwLock<HashSet<Uuid>>,
    /// Dueslag the pull routes looked up, with the [`Self::generation`] and time of the lookup
    /// ([`Self::dueslag`]).
    dueslag_cache: std::sync::Mutex<HashMap<Uuid, (u64, Instant, Dueslag)>>,
    /// Woken on local changes ([`Self::changed`]), on [`Self::wake`] and for a message to a
    /// dueslag the supervisor does not know: the push supervisor waits on it.
    pub dueslag_aendret: tokio::sync::Notify,
    pub metrics: Arc<Metrics>,
    /// Records each push delivery ([`crate::optagelse`]).
    pub optager: Arc<crate::optagelse::Optager>,
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
        optager: Arc<crate::optagelse::Optager>,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        let metrics = Arc::new(Metrics::default());
        tokio::spawn(writer(store.clone(), rx, metrics.clone()));
        Arc::new(Beskedfordeler {
            store,
            adgang,
            dev_open,
            fordeling: RwLock::new((0, Arc::new(Fordeling::default()))),
            generation: AtomicU64::new(1),
            refreshed: tokio::sync::Mutex::new(Instant::now() - REFRESH_EVERY * 2),
            seen: std::sync::Mutex::new(None),
            writer: tx,
            ny_besked: tokio::sync::Notify::new(),
            per_dueslag: Default::default(),
            kendte_dueslag: Default::default(),
            dueslag_cache: Default::default(),
            dueslag_aendret: tokio::sync::Notify::new(),
            amqp_adgange: Default::default(),
            metrics,
            optager,
        })
    }

    /// Tell everyone who waits for new leveringer (push workers, AMQP forwarders, the push
    /// supervisor) to look again: for replays and admin paths. Accepted messages use
    /// [`Self::wake_dueslag`].
    pub fn wake(&self) {
        self.ny_besked.notify_waiters();
        self.dueslag_aendret.notify_waiters();
        for n in self
            .per_dueslag
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
        {
            n.notify_waiters();
        }
    }

    /// What the push worker or AMQP forwarder of dueslag `d` waits on (call `notified()` on
    /// it before looking at the queue, so that a wake in between is not lost).
    pub fn notify_for(&self, d: Uuid) -> Arc<tokio::sync::Notify> {
        self.per_dueslag
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(d)
            .or_default()
            .clone()
    }

    /// Wake only the waiters of the dueslag `ds` (they just got leveringer), and the push
    /// supervisor if one of them is new to it.
    pub fn wake_dueslag(&self, ds: &[Uuid]) {
        {
            let m = self.per_dueslag.lock().unwrap_or_else(|p| p.into_inner());
            for d in ds {
                if let Some(n) = m.get(d) {
                    n.notify_waiters();
                }
            }
        }
        let ukendt = {
            let k = self
                .kendte_dueslag
                .read()
                .unwrap_or_else(|p| p.into_inner());
            ds.iter().any(|d| !k.contains(d))
        };
        if ukendt {
            self.dueslag_aendret.notify_waiters();
        }
    }

    /// The push supervisor's latest listing of all dueslag (see [`Self::wake_dueslag`]).
    pub fn kendte_dueslag(&self, alle: HashSet<Uuid>) {
        *self
            .kendte_dueslag
            .write()
            .unwrap_or_else(|p| p.into_inner()) = alle;
    }

    /// A dueslag as the pull routes see it, without a store read per request: a lookup is
    /// reused until a local change ([`Self::changed`]) and for at most [`REFRESH_EVERY`]
    /// (changes by other processes, as for the distribution picture). Unknown dueslag are not
    /// remembered.
    pub async fn dueslag(&self, uuid: Uuid) -> StoreResult<Option<Dueslag>> {
        let generation = self.generation.load(Ordering::SeqCst);
        {
            let c = self.dueslag_cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((g, t, d)) = c.get(&uuid)
                && *g == generation
                && t.elapsed() < REFRESH_EVERY
            {
                return Ok(Some(d.clone()));
            }
        }
        let d = self.store.hent_dueslag(uuid).await?;
        if let Some(d) = &d {
            let mut c = self.dueslag_cache.lock().unwrap_or_else(|p| p.into_inner());
            if c.len() >= DUESLAG_CACHE_MAKS {
                c.clear();
            }
            c.insert(uuid, (generation, Instant::now(), d.clone()));
        }
        Ok(d)
    }

    /// A local change of abonnementer, dueslag or Værdilister: the next message sees it, and
    /// the push supervisor lists the dueslag again.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.dueslag_aendret.notify_waiters();
    }

    /// The current distribution picture, rebuilt first if this process changed something since
    /// it was built (callers wait for that rebuild), or, without waiting, if it is older than
    /// [`REFRESH_EVERY`] (changes by other processes).
    pub async fn fordeling(&self) -> StoreResult<Arc<Fordeling>> {
        let want = self.generation.load(Ordering::SeqCst);
        let current = self.current();
        let guard = if current.0 < want {
            Some(self.refreshed.lock().await)
        } else {
            match self.refreshed.try_lock() {
                Ok(g) if g.elapsed() >= REFRESH_EVERY => Some(g),
                _ => None,
            }
        };
        let Some(mut last) = guard else {
            return Ok(current.1);
        };
        // Another task may have rebuilt while this one waited for the lock.
        let built = self.current().0;
        if built < want || last.elapsed() >= REFRESH_EVERY {
            // Everything changed up to here is seen by the rebuild that starts now.
            let at = self.generation.load(Ordering::SeqCst);
            self.rebuild(at).await?;
            *last = Instant::now();
        }
        Ok(self.current().1)
    }

    fn current(&self) -> (u64, Arc<Fordeling>) {
        self.fordeling
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Rebuild the picture if anything it depends on moved.
    async fn rebuild(&self, at: u64) -> StoreResult<()> {
        let version = self.store.abonnement_version().await?;
        let alle_lister = self.store.list_vaerdilister(None).await?;
        // A passivated list holds nothing for matching.
        let passive: HashSet<Uuid> = alle_lister
            .iter()
            .filter(|l| l.livscyklus == fki_store::besked::Livscyklus::Passiveret)
            .map(|l| l.uuid)
            .collect();
        let mut lister: Vec<(Uuid, i64)> =
            alle_lister.iter().map(|l| (l.uuid, l.version)).collect();
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
        let old = self.current();
        {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.as_ref() == Some(&fingerprint) {
                *self.fordeling.write().unwrap_or_else(|p| p.into_inner()) = (at, old.1);
                return Ok(());
            }
        }
        let old = old.1;
        let modtagere = if version == old.abonnement_version && !old.modtagere.is_empty() {
            old.modtagere.clone()
        } else {
            fordeling::Modtagerkort::ny(self.load_modtagere().await?)
        };
        let alle: Vec<&Filter> = modtagere.alle().flat_map(|m| m.filtre.iter()).collect();
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
                _ if passive.contains(&l) => {
                    nye.lister.insert(l, (v, Arc::new(HashSet::new())));
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
            modtag_aftaler: (!self.dev_open).then(|| {
                let mut m: HashMap<Uuid, HashSet<String>> = HashMap::new();
                for (system, cvr) in &aftaler {
                    m.entry(*system).or_default().insert(cvr.clone());
                }
                m
            }),
        };
        *self.fordeling.write().unwrap_or_else(|p| p.into_inner()) = (at, Arc::new(ny));
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
            .send(Job::Modtag { ny, svar })
            .await
            .map_err(|_| StoreError::Backend("the Beskedfordeler writer has stopped".into()))?;
        Ok(rx)
    }

    /// Queue acknowledgements (Klar → Kvitteret at `nu`) for the writer, which records them in
    /// the same transaction as the messages waiting with them; the receiver learns, per pair,
    /// whether it was Klar ([`BeskedStore::kvitter_par`]) once that committed.
    pub async fn kvitter_i_koe(
        &self,
        par: Vec<(Uuid, i64)>,
        nu: i64,
    ) -> StoreResult<oneshot::Receiver<StoreResult<Vec<bool>>>> {
        let (svar, rx) = oneshot::channel();
        self.writer
            .send(Job::Kvitter { par, nu, svar })
            .await
            .map_err(|_| StoreError::Backend("the Beskedfordeler writer has stopped".into()))?;
        Ok(rx)
    }

    /// [`Self::kvitter_i_koe`], waiting for the commit.
    pub async fn kvitter(&self, par: Vec<(Uuid, i64)>, nu: i64) -> StoreResult<Vec<bool>> {
        self.kvitter_i_koe(par, nu)
            .await?
            .await
            .map_err(|_| StoreError::Backend("the Beskedfordeler writer has stopped".into()))?
    }
}

/// Group commits in a row on one writer session ([`BeskedStore::skriver`]) before the
/// connection is let go, so that other writes of the store get their turn.
const RUNDER_PAA_SESSION: usize = 8;

/// The writer task: takes what is waiting (up to [`MAX_BATCH`] jobs), commits the messages and
/// acknowledgements among them in one transaction
/// ([`fki_store::besked::BeskedSkriver::modtag_og_kvitter`]), answers each sender. While more
/// is waiting right after a commit it keeps its write connection for the next round (at most
/// [`RUNDER_PAA_SESSION`] rounds), and lets it go as soon as nothing is waiting.
async fn writer(store: Arc<dyn BeskedStore>, mut rx: mpsc::Receiver<Job>, metrics: Arc<Metrics>) {
    let mut naeste = rx.recv().await;
    while let Some(first) = naeste.take() {
        let mut session = match store.skriver().await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "the Beskedfordeler writer cannot open a write session");
                None
            }
        };
        let mut first = Some(first);
        for _ in 0..RUNDER_PAA_SESSION {
            let Some(f) = first.take() else { break };
            let mut jobs = vec![f];
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            runde(session.as_deref_mut(), &*store, jobs, &metrics).await;
            first = rx.try_recv().ok();
        }
        drop(session);
        naeste = match first {
            Some(j) => Some(j),
            None => rx.recv().await,
        };
    }
}

/// One group commit of `jobs` (on `session`, else on the store's pool).
async fn runde(
    session: Option<&mut (dyn fki_store::besked::BeskedSkriver + '_)>,
    store: &dyn BeskedStore,
    jobs: Vec<Job>,
    metrics: &Metrics,
) {
    let mut nye = Vec::new();
    let mut modtag_svar = Vec::new();
    let mut par = Vec::new();
    // Per acknowledgement job: how many pairs it has, and its answer.
    let mut kvitter_svar = Vec::new();
    let mut nu = 0;
    for j in jobs {
        match j {
            Job::Modtag { ny, svar } => {
                nye.push(ny);
                modtag_svar.push(svar);
            }
            Job::Kvitter {
                par: p,
                nu: n,
                svar,
            } => {
                // One time for the group: the latest, so that no leveret is before its
                // acknowledgement.
                nu = nu.max(n);
                kvitter_svar.push((p.len(), svar));
                par.extend(p);
            }
        }
    }
    let start = Instant::now();
    let med_beskeder = !nye.is_empty();
    let res = match session {
        Some(s) => s.modtag_og_kvitter(nye, &par, nu).await,
        None => store.modtag_og_kvitter(nye, &par, nu).await,
    };
    if med_beskeder {
        metrics
            .group_commit_time
            .observe_us(start.elapsed().as_micros() as i64);
        metrics.group_commits.fetch_add(1, Ordering::Relaxed);
    }
    match res {
        Ok((modtaget, kvitteret)) => {
            for (s, r) in modtag_svar.into_iter().zip(modtaget) {
                let _ = s.send(Ok(r));
            }
            let mut rest = kvitteret.as_slice();
            for (n, s) in kvitter_svar {
                let (egne, efter) = rest.split_at(n.min(rest.len()));
                rest = efter;
                let _ = s.send(Ok(egne.to_vec()));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "storing a batch of messages and acknowledgements failed");
            let tekst = e.to_string();
            for s in modtag_svar {
                let _ = s.send(Err(StoreError::Backend(tekst.clone())));
            }
            for (_, s) in kvitter_svar {
                let _ = s.send(Err(StoreError::Backend(tekst.clone())));
            }
        }
    }
}

/// The `Fordelingssystem` fki names in the Leverancerute it adds (a fixed UUID for "fki's
/// Beskedfordeler").
pub const FORDELINGSSYSTEM: Uuid = Uuid::from_u128(0xe88e639b_aa60_42c5_be40_44366fd4bec3);

/// The message of a levering as it is handed to its receiver: the stored Haendelsesbesked
/// with the Beskedfordeler's hop added to `Leveranceinformation/Leveranceruter` (item 5d):
/// when it was received, when it is delivered (`nu`), and the attempt number. Spliced into the
/// stored text ([`fki_beskedfordeler::gemt`]), not parsed again.
pub fn med_leverancerute(
    l: &fki_store::besked::Leveret,
    nu: i64,
) -> Result<String, fki_beskedfordeler::kuvert::BeskedFejl> {
    fki_beskedfordeler::gemt::med_leverancerute(&l.besked.xml, leveringens_rute(l, nu))
}

/// As [`med_leverancerute`], wrapped in `ModtagBeskedInput` as push delivers it.
pub fn modtag_besked_input(
    l: &fki_store::besked::Leveret,
    nu: i64,
) -> Result<String, fki_beskedfordeler::kuvert::BeskedFejl> {
    fki_beskedfordeler::gemt::modtag_besked_input_med_leverancerute(
        &l.besked.xml,
        leveringens_rute(l, nu),
    )
}

/// The hop of delivering `l` at `nu`.
fn leveringens_rute(
    l: &fki_store::besked::Leveret,
    nu: i64,
) -> fki_beskedfordeler::kuvert::Leverancerute {
    leverancerute(
        l.besked.modtaget,
        nu,
        (!l.besked.afsender.is_nil()).then_some(l.besked.afsender),
        l.levering.forsoeg as u64 + 1,
    )
}

/// The Beskedfordeler's hop (item 5d): received at `modtaget` (from `afsender`), delivered
/// at `nu`, attempt number `forsoeg`.
pub fn leverancerute(
    modtaget: i64,
    nu: i64,
    afsender: Option<Uuid>,
    forsoeg: u64,
) -> fki_beskedfordeler::kuvert::Leverancerute {
    use fki_beskedfordeler::kuvert::{
        Leverancerute, LeveranceruteLokalUdvidelse, Tidspunkt, UnikId,
    };
    let tid = |t| Some(Tidspunkt::Tidsstempel(fki_oio::time::format_iso(t)));
    Leverancerute {
        fordelingssystem: Some(UnikId::Uuid(FORDELINGSSYSTEM)),
        modtagelses_tidspunkt: tid(modtaget),
        leverance_tidspunkt: tid(nu),
        modtaget_fra_system: afsender,
        er_leveret_i_henhold_til: None,
        lokal_udvidelse: Some(LeveranceruteLokalUdvidelse {
            antal_leveranceforsoeg: Some(forsoeg),
            andet: Vec::new(),
        }),
    }
}

/// Every Beskedfordeler route.
pub fn routes() -> axum::Router<crate::AppState> {
    afsend::routes()
        .merge(hent::routes())
        .merge(admin::routes())
        .merge(vaerdiliste::routes())
        .merge(rabbitmq_auth::routes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new(&[0.01, 0.1, 1.0]);
        for us in [-5, 0, 10_000, 10_001, 99_999, 2_000_000] {
            h.observe_us(us);
        }
        let s = h.snapshot();
        assert_eq!(
            s.buckets,
            vec![(0.01, 3), (0.1, 5), (1.0, 5), (f64::INFINITY, 6)]
        );
        assert_eq!(s.count, 6);
        assert!(
            (s.sum_seconds - 2.120_000).abs() < 1e-9,
            "{}",
            s.sum_seconds
        );
        let text = h.prometheus("fki_push_latency_seconds");
        assert!(
            text.contains("fki_push_latency_seconds_bucket{le=\"0.1\"} 5\n"),
            "{text}"
        );
        assert!(
            text.contains("fki_push_latency_seconds_bucket{le=\"+Inf\"} 6\n"),
            "{text}"
        );
        assert!(
            text.contains("fki_push_latency_seconds_count 6\n"),
            "{text}"
        );
    }
}
