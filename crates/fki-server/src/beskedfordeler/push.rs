//! Push delivery (item 5a of issue 4): the Beskedfordeler hands each message of a push dueslag
//! to the receiver's callback URL, one at a time, in distribution order.
//!
//! **The wire.** One plain HTTP `POST` of an XML document to the callback URL, no SOAP
//! envelope and no WS-Security: the body is `ModtagBeskedInput` (`urn:oio:sts:1.0.0`,
//! `AnvendersystemOperationer.xsd`) around the Haendelsesbesked, with the Beskedfordeler's
//! Leverancerute added (`AntalLeveranceforsoeg` = this attempt's number), `Content-Type:
//! text/xml; charset=utf-8`. The receiver answers `ModtagBeskedOutput` (any wrapper is read)
//! with a `StandardRetur`. The attempt succeeded when the HTTP status is 2xx **and** the
//! StatusKode is 20; anything else (another status, another StatusKode, no StandardRetur, no
//! answer within [`PushConfig::timeout`], a connection error, a redirect) is a failed attempt.
//! For `https://` callbacks fki trusts its own CA and the system's CA bundle, and presents its
//! STS certificate (a function certificate issued by the fki CA) as TLS client certificate,
//! so a receiver can tell fki's pushes from anyone else's.
//!
//! **Order.** Per dueslag the head of the queue is delivered before anything behind it: the
//! next message is never sent before the receiver acknowledged the previous one (answered
//! StatusKode 20) or it moved to the fejlkø. A worker reads up to [`LAES_FORUD`] due messages
//! of its queue at once and pushes them one by one. Acknowledgements are recorded (`kvitter`)
//! by the Beskedfordeler's writer, in the transaction of the messages and acknowledgements
//! waiting with them ([`Beskedfordeler::kvitter_i_koe`]), **off the worker's path**: the
//! worker hands each one over and goes on with its next message, and reads its queue on
//! **behind the last message it delivered** (`klar_efter`) while those recordings are under
//! way. It waits until everything it handed over is durable, and reads from the head of its
//! queue, when a recording failed (that message is Klar again and goes first), when an attempt
//! failed, when nothing is due behind the reading point (before it sleeps), after
//! [`MAKS_LAESNINGER_BAGVED`] reads behind in a row, and before it stops. A crash in between,
//! or a failed recording, means the receiver gets those messages again, in their order (at
//! least once). A read-ahead is dropped when an attempt fails or is abandoned,
//! so nothing overtakes a message waiting for its retry. A failed attempt is counted (`forsoeg_fejlet`) with the next attempt after an
//! exponential backoff ([`PushConfig::backoff_base`] doubling per attempt, capped at
//! [`PushConfig::backoff_max`], with jitter: a random point in the upper half); once a message
//! has had [`Dueslag::maks_forsoeg`] attempts it moves to the fejlkø with its last error and
//! the dueslag goes on with the next one. Delivery is at least once: a receiver that processed
//! a message but whose answer was lost (timeout, restart of fki) gets it again, and must
//! de-duplicate on BeskedId.
//!
//! **Tasks.** [`start`] spawns a supervisor that keeps one worker task per active push
//! dueslag. It lists the dueslag after a local change ([`super::Beskedfordeler::changed`]),
//! on [`super::Beskedfordeler::wake`], for a message to a dueslag it did not list, and at
//! least every [`PushConfig::relist_every`], so dueslag created, stopped or deleted (also by
//! another process) are picked up; not on every message. A worker sleeps until its head is
//! due, until its own dueslag got a message ([`super::Beskedfordeler::wake_dueslag`] wakes
//! only the workers of the dueslag that got leveringer), or at most `relist_every` when its
//! queue is empty (messages queued by another process). Only one
//! process may push for a store: two would deliver the same dueslag concurrently, out of order
//! ([`PushConfig::enabled`] turns pushing off in the others).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::Context;
use fki_beskedfordeler::retur::StandardRetur;
use fki_oio::store::{StoreError, StoreResult};
use fki_store::besked::{Dueslag, Leveret, Leveringsform};
use reqwest::header::CONTENT_TYPE;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::Beskedfordeler;

/// The Content-Type of a push.
pub const CONTENT_TYPE_XML: &str = "text/xml; charset=utf-8";
/// Largest receiver answer read (an answer is a few hundred bytes).
const MAX_SVAR: usize = 1024 * 1024;
/// Pause after a store failure before the worker tries again.
const STORE_PAUSE: Duration = Duration::from_secs(1);
/// Due messages a worker reads from its queue at once (it still pushes them one by one).
pub const LAES_FORUD: u32 = 32;
/// Reads behind the last delivered message in a row before a worker waits for its
/// recordings and reads from the head of its queue.
const MAKS_LAESNINGER_BAGVED: u32 = 16;

/// How push delivery behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct PushConfig {
    /// `false`: this process pushes nothing (another process sharing the store does).
    pub enabled: bool,
    /// How long one attempt may take, connecting and reading the answer included.
    pub timeout: Duration,
    /// Wait after the first failed attempt; doubles with each further one.
    pub backoff_base: Duration,
    /// Longest wait between attempts.
    pub backoff_max: Duration,
    /// How often the dueslag are listed (and an idle worker looks at its queue) without a wake.
    pub relist_every: Duration,
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            enabled: true,
            timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            relist_every: Duration::from_secs(3),
        }
    }
}

impl PushConfig {
    /// The wait after failed attempt number `forsoeg` (1-based): `base · 2^(forsoeg−1)`, capped
    /// at `backoff_max`, then a random point in its upper half (`jitter` in `[0, 1)`).
    pub fn backoff(&self, forsoeg: i32, jitter: f64) -> Duration {
        let exp = (forsoeg.max(1) - 1).min(31) as u32;
        let fuld = self
            .backoff_base
            .saturating_mul(1u32 << exp)
            .min(self.backoff_max);
        let halv = fuld / 2;
        halv + (fuld - halv).mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// The HTTP client of the pushes: rustls (aws-lc-rs), trusting the fki CA and the system's CA
/// bundle, presenting fki's STS certificate to servers that ask for a client certificate; no
/// redirects.
pub fn client(ca: &fki_sts::ca::Ca, config: &PushConfig) -> anyhow::Result<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.root_cert_der().to_vec()))
        .context("fki root CA as trust anchor of pushes")?;
    let bundle = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    if let Ok(pem) = std::fs::read(&bundle) {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
            .filter_map(Result::ok)
            .collect();
        let (added, _) = roots.add_parsable_certificates(certs);
        tracing::debug!(bundle = %bundle.display(), added, "system CA bundle trusted for pushes");
    }
    let sts = ca.sts();
    let chain = vec![
        CertificateDer::from(sts.cert_der.clone()),
        CertificateDer::from(ca.root_cert_der().to_vec()),
    ];
    let key = PrivateKeyDer::from_pem_slice(sts.key_pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("STS key as TLS client key: {e}"))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .context("TLS client certificate of pushes")?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("fki-beskedfordeler/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("push HTTP client")
}

struct Push {
    bf: Arc<Beskedfordeler>,
    http: reqwest::Client,
    config: PushConfig,
    /// The server's runtime, for store calls (see [`start`]).
    server: tokio::runtime::Handle,
}

/// An acknowledgement handed to the writer ([`Beskedfordeler::kvitter_i_koe`]) and not yet known to be durable: its
/// levering's `loebenr` and `fordelt`, the time it was acknowledged, and the outcome to come.
struct Afventer {
    loebenr: i64,
    fordelt: i64,
    nu: i64,
    svar: oneshot::Receiver<fki_oio::store::StoreResult<Vec<bool>>>,
}

impl Push {
    /// Count the acknowledgements handed over whose recording finished, without waiting for
    /// the others; whether one of them failed (its message is Klar again: the queue must be
    /// read from its head).
    fn hoest(&self, d: &Dueslag, afventer: &mut Vec<Afventer>) -> bool {
        let mut fejlet = false;
        afventer.retain_mut(|a| match a.svar.try_recv() {
            Err(oneshot::error::TryRecvError::Empty) => true,
            svar => {
                fejlet |= !self.optael(d, a, svar.map_err(|_| ()));
                false
            }
        });
        fejlet
    }

    /// Run a store call on the server's runtime (see [`start`]): a connection the pool opens
    /// for it is then not tied to the push runtime, which stops first.
    async fn paa_serveren<T, F>(&self, kald: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Future<Output = StoreResult<T>> + Send + 'static,
    {
        self.server.spawn(kald).await.unwrap_or_else(|e| {
            Err(StoreError::Backend(format!(
                "a store call of push delivery did not finish: {e}"
            )))
        })
    }

    /// Move a message to the fejlkø (on the server's runtime).
    async fn til_fejlkoe(&self, dueslag: Uuid, loebenr: i64, grund: String) -> StoreResult<bool> {
        let store = self.bf.store.clone();
        self.paa_serveren(async move { store.til_fejlkoe(dueslag, loebenr, &grund).await })
            .await
    }

    /// Count one finished recording; `false` when it failed.
    fn optael(
        &self,
        d: &Dueslag,
        a: &Afventer,
        svar: Result<fki_oio::store::StoreResult<Vec<bool>>, ()>,
    ) -> bool {
        let metrics = &self.bf.metrics;
        match svar {
            Ok(Ok(k)) if k.first() == Some(&true) => {
                metrics.delivered.fetch_add(1, Relaxed);
                metrics.delivery_latency.observe_us(a.nu - a.fordelt);
                tracing::debug!(dueslag = %d.uuid, loebenr = a.loebenr, "pushed");
                true
            }
            // Moved meanwhile (an operator, the receiver): nothing to record.
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::warn!(dueslag = %d.uuid, loebenr = a.loebenr, error = %e,
                    "push: recording the acknowledgement failed; the message will be sent again");
                false
            }
            Err(()) => {
                tracing::warn!(dueslag = %d.uuid, loebenr = a.loebenr,
                    "push: the acknowledgement task stopped; the message will be sent again");
                false
            }
        }
    }

    /// Hand an acknowledgement to the writer, which records it with the messages and
    /// acknowledgements waiting at that moment; [`Push::afvent`] learns its outcome. `None`
    /// when the writer has stopped (the message stays Klar and is sent again).
    async fn kvitter(&self, dueslag: Uuid, l: &Leveret, nu: i64) -> Option<Afventer> {
        let loebenr = l.levering.loebenr;
        let svar = self
            .bf
            .kvitter_i_koe(vec![(dueslag, loebenr)], nu)
            .await
            .ok()?;
        Some(Afventer {
            loebenr,
            fordelt: l.levering.fordelt,
            nu,
            svar,
        })
    }

    /// Wait until every acknowledgement handed over is recorded, and count them. One that
    /// failed leaves its message Klar: the next read of the queue gives it again (at least
    /// once).
    async fn afvent(&self, d: &Dueslag, afventer: &mut Vec<Afventer>) {
        for mut a in afventer.drain(..) {
            let svar = (&mut a.svar).await.map_err(|_| ());
            self.optael(d, &a, svar);
        }
    }
}

/// Start push delivery: the supervisor task and its workers, until `stop` turns true. The
/// task ends when they have all stopped (an attempt in flight is abandoned and stays due:
/// it is sent again later). `Ok(None)` when [`PushConfig::enabled`] is off.
///
/// Push runs on a runtime of its own, on one thread (`fki-push`). Each dueslag waits for its
/// receiver's answer before its next message, so its rate is one over the round trip; on the
/// server's runtime every step of that round trip queued behind the afsend requests, and under
/// load push fell behind what was accepted (`docs/benchmarks.md`, session 13). The workers'
/// store calls still run on the server's runtime ([`Push::paa_serveren`]), so the database
/// connections they open belong to the runtime that outlives push delivery.
pub fn start(
    bf: Arc<Beskedfordeler>,
    ca: &fki_sts::ca::Ca,
    config: PushConfig,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    if !config.enabled {
        tracing::info!("push delivery is off in this process");
        return Ok(None);
    }
    let http = client(ca, &config)?;
    let p = Arc::new(Push {
        bf,
        http,
        config,
        server: tokio::runtime::Handle::current(),
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("the push runtime")?;
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("fki-push".into())
        .spawn(move || {
            let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                rt.block_on(supervisor(p, stop));
            }));
            // Off any runtime: dropping it here may block (its connection tasks are dropped).
            drop(rt);
            let _ = tx.send(ended);
        })
        .context("the push thread")?;
    Ok(Some(tokio::spawn(async move {
        match rx.await {
            Ok(Ok(())) => {}
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => panic!("the push thread ended without a word"),
        }
    })))
}

/// A running worker: its dueslag as last listed (`None`: stop) and its task.
struct Arbejder {
    dueslag: watch::Sender<Option<Dueslag>>,
    task: JoinHandle<()>,
}

async fn supervisor(p: Arc<Push>, mut stop: watch::Receiver<bool>) {
    let mut arbejdere: HashMap<Uuid, Arbejder> = HashMap::new();
    // Workers told to stop, until they have: a dueslag started again waits for its old worker
    // (two workers of one dueslag would break the order).
    let mut stopper: HashMap<Uuid, JoinHandle<()>> = HashMap::new();
    loop {
        let vaekket = p.bf.dueslag_aendret.notified();
        let store = p.bf.store.clone();
        match p
            .paa_serveren(async move { store.list_dueslag(None).await })
            .await
        {
            Ok(alle) => {
                p.bf.kendte_dueslag(alle.iter().map(|d| d.uuid).collect());
                let aktive: HashMap<Uuid, Dueslag> = alle
                    .into_iter()
                    .filter(|d| d.aktiv && matches!(d.levering, Leveringsform::Push { .. }))
                    .map(|d| (d.uuid, d))
                    .collect();
                let weg: Vec<Uuid> = arbejdere
                    .iter()
                    .filter(|(u, a)| !aktive.contains_key(u) || a.task.is_finished())
                    .map(|(u, _)| *u)
                    .collect();
                for uuid in weg {
                    if let Some(a) = arbejdere.remove(&uuid) {
                        a.dueslag.send_replace(None);
                        tracing::info!(dueslag = %uuid, "push delivery stopped");
                        stopper.insert(uuid, a.task);
                    }
                }
                stopper.retain(|_, t| !t.is_finished());
                for (uuid, d) in aktive {
                    if let Some(a) = arbejdere.get(&uuid) {
                        a.dueslag.send_if_modified(|gammel| {
                            let nyt = gammel.as_ref() != Some(&d);
                            if nyt {
                                *gammel = Some(d.clone());
                            }
                            nyt
                        });
                        continue;
                    }
                    if stopper.get(&uuid).is_some_and(|t| !t.is_finished()) {
                        // Its old worker is still stopping: the next round starts it.
                        continue;
                    }
                    stopper.remove(&uuid);
                    tracing::info!(dueslag = %uuid, navn = %d.navn,
                        callback = d.levering.callback_url().unwrap_or_default(),
                        "push delivery started");
                    let (tx, rx) = watch::channel(Some(d));
                    let task = tokio::spawn(arbejder(p.clone(), rx));
                    arbejdere.insert(uuid, Arbejder { dueslag: tx, task });
                }
            }
            Err(e) => tracing::warn!(error = %e, "push: cannot list the dueslag"),
        }
        // A stopping worker finishes within moments: look again soon for its successor.
        let pause = if stopper.is_empty() {
            p.config.relist_every
        } else {
            p.config.relist_every.min(Duration::from_millis(50))
        };
        tokio::select! {
            _ = vaekket => {}
            _ = tokio::time::sleep(pause) => {}
            _ = crate::tls::wait_true(&mut stop) => break,
        }
    }
    for a in arbejdere.values() {
        a.dueslag.send_replace(None);
    }
    let tasks = arbejdere
        .into_values()
        .map(|a| a.task)
        .chain(stopper.into_values());
    for t in tasks {
        let _ = t.await;
    }
}

/// What a worker does after an attempt or a look at its queue.
enum Vent {
    /// Go on with the next message read ahead (or read the queue).
    Nej,
    /// Drop what was read ahead and read the queue again (the attempt failed or was
    /// abandoned: nothing may overtake that message).
    Forfra,
    /// Drop what was read ahead, then wait until woken, the dueslag changed, or this long
    /// passed.
    Hoejst(Duration),
}

/// One dueslag's delivery loop (see the module docs).
async fn arbejder(p: Arc<Push>, mut rx: watch::Receiver<Option<Dueslag>>) {
    // Due messages read ahead, in order, and acknowledgements not yet known to be durable.
    let mut forud: std::collections::VecDeque<Leveret> = Default::default();
    let mut afventer: Vec<Afventer> = Vec::new();
    let mut sidst: Option<Dueslag> = None;
    // The loebenr of the last message delivered whose recording may still be under way: the
    // next read goes on behind it (see the module docs), at most `MAKS_LAESNINGER_BAGVED`
    // reads in a row before one from the head.
    let mut efter: Option<i64> = None;
    let mut laesninger_bagved = 0u32;
    loop {
        let d = if rx.has_changed().is_err() {
            None // the supervisor is gone
        } else {
            rx.borrow_and_update().clone()
        };
        let (Some(d), Some(url)) = (
            d.clone(),
            d.as_ref()
                .and_then(|d| d.levering.callback_url().map(str::to_owned)),
        ) else {
            if let Some(d) = &sidst {
                p.afvent(d, &mut afventer).await;
            }
            return;
        };
        if sidst.as_ref() != Some(&d) {
            forud.clear();
            efter = None;
        }
        sidst = Some(d.clone());
        let vent = match forud.pop_front() {
            Some(l) => {
                let loebenr = l.levering.loebenr;
                let vent = p.lever(&d, &url, l, &mut rx, &mut afventer).await;
                // Delivered (or moved to the fejlkø): read on behind it. Anything else reads
                // from the head again.
                efter = matches!(vent, Vent::Nej).then_some(loebenr);
                vent
            }
            None => {
                // A recording that failed leaves its message Klar: from the head, after every
                // recording handed over. So too now and then under steady load, so that a
                // message put back behind the reading point (from the fejlkø) is not passed
                // over for long.
                if p.hoest(&d, &mut afventer) || laesninger_bagved >= MAKS_LAESNINGER_BAGVED {
                    efter = None;
                }
                if efter.is_none() {
                    p.afvent(&d, &mut afventer).await;
                    laesninger_bagved = 0;
                } else {
                    laesninger_bagved += 1;
                }
                // Registered before looking, so a message stored meanwhile wakes the wait below.
                let notify = p.bf.notify_for(d.uuid);
                let vaekket = notify.notified();
                let nu = fki_oio::time::now();
                let (store, uuid) = (p.bf.store.clone(), d.uuid);
                let laest = p
                    .paa_serveren(
                        async move { store.klar_efter(uuid, efter, nu, LAES_FORUD).await },
                    )
                    .await;
                let vent = match laest {
                    Err(e) => {
                        tracing::warn!(dueslag = %d.uuid, error = %e, "push: cannot read the dueslag");
                        efter = None;
                        Vent::Hoejst(STORE_PAUSE)
                    }
                    // Nothing due behind the reading point: look from the head once every
                    // recording is in, before waiting.
                    Ok(head)
                        if efter.is_some()
                            && head.first().is_none_or(|l| l.levering.naeste_forsoeg > nu) =>
                    {
                        efter = None;
                        continue;
                    }
                    Ok(head) => match head.first() {
                        None => Vent::Hoejst(p.config.relist_every),
                        Some(l) if l.levering.naeste_forsoeg > nu => Vent::Hoejst(
                            Duration::from_micros((l.levering.naeste_forsoeg - nu) as u64),
                        ),
                        Some(_) => {
                            forud.extend(
                                head.into_iter()
                                    .take_while(|l| l.levering.naeste_forsoeg <= nu),
                            );
                            Vent::Nej
                        }
                    },
                };
                if let Vent::Hoejst(t) = vent {
                    tokio::select! {
                        _ = vaekket => {}
                        _ = tokio::time::sleep(t) => {}
                        r = rx.changed() => if r.is_err() {
                            p.afvent(&d, &mut afventer).await;
                            return;
                        },
                    }
                }
                continue;
            }
        };
        match vent {
            Vent::Nej => {}
            Vent::Forfra => forud.clear(),
            Vent::Hoejst(t) => {
                forud.clear();
                tokio::select! {
                    _ = tokio::time::sleep(t) => {}
                    r = rx.changed() => if r.is_err() {
                        p.afvent(&d, &mut afventer).await;
                        return;
                    },
                }
            }
        }
    }
}

impl Push {
    /// One attempt at the head `l` of dueslag `d`, and its bookkeeping. When the dueslag is
    /// stopped or changed (`rx`) while the receiver has not answered yet, the attempt is
    /// abandoned: the message stays due and the attempt is not counted. The bookkeeping after
    /// an answer is never cut short.
    async fn lever(
        &self,
        d: &Dueslag,
        url: &str,
        l: Leveret,
        rx: &mut watch::Receiver<Option<Dueslag>>,
        afventer: &mut Vec<Afventer>,
    ) -> Vent {
        let store = &self.bf.store;
        let metrics = &self.bf.metrics;
        let loebenr = l.levering.loebenr;
        let forsoeg = l.levering.forsoeg + 1;
        let nu = fki_oio::time::now();
        let body = match super::modtag_besked_input(&l, nu) {
            Ok(b) => b,
            Err(e) => {
                // It will never parse: no use trying again.
                let grund = format!("the stored message does not parse: {e}");
                tracing::error!(dueslag = %d.uuid, loebenr, error = %e, "push: stored message does not parse");
                return match self.til_fejlkoe(d.uuid, loebenr, grund).await {
                    Ok(moved) => {
                        if moved {
                            metrics.dead_lettered.fetch_add(1, Relaxed);
                        }
                        Vent::Nej
                    }
                    Err(e) => self.store_fejl(d, e),
                };
            }
        };
        let udfald = tokio::select! {
            r = self.post(url, body) => r,
            _ = rx.changed() => return Vent::Forfra,
        };
        let (status, resultat) = match &udfald {
            Ok(()) => (20, "ok"),
            Err(_) => (0, "fejl"),
        };
        self.bf.optager.levering(
            d.ejer,
            &d.myndighed,
            status,
            resultat,
            format!("dueslag {} loebenr {loebenr} forsoeg {forsoeg}", d.uuid),
        );
        match udfald {
            Ok(()) => {
                // The receiver has it: recorded off this path (see the module docs).
                match self.kvitter(d.uuid, &l, fki_oio::time::now()).await {
                    Some(a) => {
                        afventer.push(a);
                        Vent::Nej
                    }
                    None => {
                        tracing::error!(dueslag = %d.uuid, loebenr, "push: the acknowledgement task has stopped");
                        Vent::Hoejst(STORE_PAUSE)
                    }
                }
            }
            Err(fejl) => {
                metrics.retried.fetch_add(1, Relaxed);
                let vent = self.config.backoff(forsoeg, rand::random::<f64>());
                let naeste = fki_oio::time::now().saturating_add(vent.as_micros() as i64);
                tracing::info!(dueslag = %d.uuid, loebenr, forsoeg, error = %fejl, "push attempt failed");
                let (store, uuid, f) = (store.clone(), d.uuid, fejl.clone());
                let talt = self
                    .paa_serveren(
                        async move { store.forsoeg_fejlet(uuid, loebenr, naeste, &f).await },
                    )
                    .await;
                match talt {
                    Ok(Some(n)) if n >= d.maks_forsoeg => {
                        let grund = format!("gave up after {n} attempts; the last: {fejl}");
                        match self.til_fejlkoe(d.uuid, loebenr, grund).await {
                            Ok(moved) => {
                                if moved {
                                    metrics.dead_lettered.fetch_add(1, Relaxed);
                                    tracing::warn!(dueslag = %d.uuid, loebenr, attempts = n, error = %fejl, "push: message moved to the fejlkø");
                                }
                                Vent::Forfra
                            }
                            Err(e) => self.store_fejl(d, e),
                        }
                    }
                    Ok(_) => Vent::Forfra,
                    Err(e) => self.store_fejl(d, e),
                }
            }
        }
    }

    fn store_fejl(&self, d: &Dueslag, e: fki_oio::store::StoreError) -> Vent {
        tracing::error!(dueslag = %d.uuid, error = %e, "push: store failure");
        Vent::Hoejst(STORE_PAUSE)
    }

    async fn post(&self, url: &str, body: String) -> Result<(), String> {
        post(&self.http, url, body, self.config.timeout).await
    }
}

/// POST `body` (a `ModtagBeskedInput`) to `url` with the push client `http`: `Ok` when the
/// receiver answered 2xx with StatusKode 20 within `timeout`, else why not. Also used by the
/// compliance probe that delivers a message twice.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    body: String,
    timeout: Duration,
) -> Result<(), String> {
    let forsoeg = async {
        let mut svar = http
            .post(url)
            .header(CONTENT_TYPE, CONTENT_TYPE_XML)
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| beskriv(&e, timeout))?;
        let status = svar.status();
        let mut tekst = Vec::new();
        while let Some(stykke) = svar.chunk().await.map_err(|e| beskriv(&e, timeout))? {
            if tekst.len() + stykke.len() > MAX_SVAR {
                return Err(format!(
                    "HTTP {status} with an answer larger than {MAX_SVAR} bytes"
                ));
            }
            tekst.extend_from_slice(&stykke);
        }
        let tekst = String::from_utf8_lossy(&tekst);
        let retur = StandardRetur::find_in(&tekst);
        match (status.is_success(), retur) {
            (true, Ok(r)) if r.status_kode == 20 => Ok(()),
            (_, Ok(r)) => Err(format!(
                "HTTP {status}, StatusKode {}{}",
                r.status_kode,
                r.fejlbesked_tekst
                    .map(|t| format!(": {}", kort(&t)))
                    .unwrap_or_default()
            )),
            (_, Err(e)) => Err(format!(
                "HTTP {status} without a StandardRetur ({e}): {}",
                kort(&tekst)
            )),
        }
    };
    // reqwest's timeout covers the body too; this one also bounds everything else.
    match tokio::time::timeout(timeout + Duration::from_millis(100), forsoeg).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

/// At most 300 characters of `s`, on one line.
fn kort(s: &str) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// A transport error with its causes.
fn beskriv(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut s = if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut kilde: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(k) = kilde {
        s.push_str(": ");
        s.push_str(&k.to_string());
        kilde = k.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered_in_the_upper_half() {
        let c = PushConfig {
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            ..Default::default()
        };
        assert_eq!(c.backoff(1, 0.998), Duration::from_millis(999));
        assert_eq!(c.backoff(1, 0.0), Duration::from_millis(500));
        assert_eq!(c.backoff(2, 0.0), Duration::from_secs(1));
        assert_eq!(c.backoff(4, 0.0), Duration::from_secs(4));
        assert_eq!(c.backoff(9, 0.0), Duration::from_secs(128)); // 256 s: under the cap
        assert_eq!(c.backoff(9, 1.0), Duration::from_secs(256));
        assert_eq!(c.backoff(10, 0.0), Duration::from_secs(150)); // 512 s capped at 300
        assert_eq!(c.backoff(1000, 0.5), Duration::from_secs(225));
        for n in [0, 1, 5, 40, i32::MAX] {
            for j in [0.0, 0.3, 0.99, 7.0, -1.0] {
                let b = c.backoff(n, j);
                assert!(
                    b <= c.backoff_max && b >= Duration::from_millis(500),
                    "{n} {j} {b:?}"
                );
            }
        }
    }

    #[test]
    fn short_texts() {
        assert_eq!(kort(" a\n  b "), "a b");
        let lang = "x".repeat(400);
        assert_eq!(kort(&lang).chars().count(), 301);
    }
}
