//! The Beskedfordeler over AMQP (RabbitMQ): afsend as KOMBIT's RPC (item 2a of issue 4) and
//! amqp dueslag forwarded to RabbitMQ queues (item 5b). Runs when `Config::amqp_url` is set
//! ([`start`]); startup fails if RabbitMQ cannot be reached, and a connection lost later is
//! re-established (with everything declared again) until the server stops.
//!
//! **Afsend.** fki declares the durable direct exchange [`AFSEND_BESKED_EXCHANGE`] and a durable
//! queue (`Config::amqp_afsend_queue`, default [`DEFAULT_AFSEND_QUEUE`]) bound to it with
//! `Config::amqp_afsend_routing_key` (default `""`: KOMBIT's samples publish with the empty
//! routing key; a direct exchange routes only exact matches, so a deployment that wants other
//! keys binds more queues itself). It consumes with manual acknowledgement. Each delivery:
//!
//! - header [`HEADER_TOKEN`]: the SAML assertion for `bfo_afsend/2` (its XML, as KOMBIT's
//!   samples send it, or base64; long string, short string or byte array), checked by
//!   [`crate::sts::guard::authenticate_assertion`]: signature, times, audience, the holding
//!   system, an agreement active now for its CVR. There is no holder-of-key proof over AMQP:
//!   the assertion is a bearer token here (see `docs/security.md`);
//! - body: `AfsendBeskedInput` or a bare `Haendelsesbesked`, handled by the same code as the
//!   HTTP afsend ([`super::afsend::forbered`], [`super::afsend::Forberedt::stil`] and
//!   [`super::afsend::Indsendt::afslut`]);
//! - answer: a `StandardRetur` document published to the delivery's `reply_to` (e.g. direct
//!   reply-to, `amq.rabbitmq.reply-to`) with its `correlation_id`, **after** the message is
//!   stored durably (its group commit returned); then the delivery is acknowledged. StatusKode
//!   20 stored (or the BeskedId was known), 40 not a valid message, 41 no/invalid/expired token
//!   or no active agreement, 44 larger than 4 MiB, 50 the store failed: then the delivery is
//!   rejected with requeue (after a pause), so it is tried again. A delivery without
//!   `reply_to` is processed and acknowledged all the same (logged).
//!
//! The answer's body is the bare `StandardRetur` element (namespace `urn:oio:sagdok:3.0.0`),
//! not wrapped in `AfsendBeskedOutput` as over HTTP: KOMBIT's Java sample reads the reply
//! with `unmarshal(StandardReturType.class, …)`, which binds the root element's children, so
//! its `StatusKode` must be a child of the root.
//!
//! Deliveries are queued for the writer in arrival order, so the messages of one sender's
//! channel keep their order in every dueslag. The work before that, the token check, parsing
//! and distribution, runs for several deliveries at once (tasks, so on every core), and the
//! results are taken in arrival order ([`afsend_loekke`]); the commits, answers and
//! acknowledgements run concurrently too (up to [`PREFETCH`] unacknowledged deliveries), so
//! many messages share one commit.
//!
//! **Amqp dueslag.** For each active dueslag with `levering: amqp` a forwarder declares a
//! durable queue named by the dueslag's UUID and publishes the dueslag's Klar leveringer in
//! `loebenr` order (default exchange, persistent, `message_id` = BeskedId, headers
//! [`HEADER_LOEBENR`] and [`HEADER_DUESLAG`], body = the Haendelsesbesked with the
//! Beskedfordeler's Leverancerute) on a channel with publisher confirms. A levering becomes
//! Kvitteret only when the broker confirmed it; from then on RabbitMQ holds it until the
//! receiver acknowledges it there. A nack, a returned message (the queue was deleted) or a
//! lost channel stops the forwarder; it starts again from the dueslag's head within
//! [`RELIST_EVERY`], so delivery is at least once (a message confirmed but not yet recorded is
//! published again; receivers recognise it by its `message_id`). Forwarders wake when messages
//! are distributed ([`super::Beskedfordeler::wake`]) and look again every [`POLL_EVERY`]; the
//! list of amqp dueslag is read every [`RELIST_EVERY`]. One fki process per store should
//! forward (two would both publish the same leveringer).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use fki_beskedfordeler::kuvert;
use fki_beskedfordeler::retur::{StandardRetur, StatusKode};
use fki_store::besked::{Leveret, Leveringsform};
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

use super::BFO_AFSEND;
use super::afsend::{self, Kalder, afvist};
use crate::AppState;

/// KOMBIT's exchange for AfsendBesked.
pub const AFSEND_BESKED_EXCHANGE: &str = "AFSEND_BESKED_EXCHANGE";
/// The afsend queue unless configured otherwise.
pub const DEFAULT_AFSEND_QUEUE: &str = "fki.afsend";
/// The routing key binding the afsend queue unless configured otherwise (KOMBIT's senders
/// publish with the empty key).
pub const DEFAULT_AFSEND_ROUTING_KEY: &str = "";
/// The afsend header carrying the SAML assertion.
pub const HEADER_TOKEN: &str = "token";
/// Headers naming the caller under `--dev-open` (no token there), as over HTTP.
pub const HEADER_DEV_MYNDIGHED: &str = "x-fki-myndighed";
pub const HEADER_DEV_SYSTEM: &str = "x-fki-system";
/// Header of a forwarded message: its `loebenr` in the dueslag (long-long integer).
pub const HEADER_LOEBENR: &str = "loebenr";
/// Header of a forwarded message: the dueslag's UUID.
pub const HEADER_DUESLAG: &str = "dueslag";

/// Unacknowledged afsend deliveries at a time.
pub const PREFETCH: u16 = 256;
/// Leveringer published before their confirms are awaited.
const BATCH: u32 = 100;
/// How often the list of amqp dueslag is read (and failed forwarders are restarted).
pub const RELIST_EVERY: Duration = Duration::from_secs(2);
/// How often an idle forwarder looks for leveringer it was not woken for (e.g. distributed
/// by another process, or replayed).
pub const POLL_EVERY: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
/// How long in-flight deliveries get to finish when the side stops.
const DRAIN: Duration = Duration::from_secs(10);
/// The pause before a delivery that failed with 50 is put back in the queue.
const REQUEUE_PAUSE: Duration = Duration::from_secs(1);

/// What the AMQP side needs from `Config`.
#[derive(Debug, Clone)]
struct Indstillinger {
    url: String,
    afsend_queue: ShortString,
    routing_key: ShortString,
}

impl Indstillinger {
    fn fra(config: &crate::Config) -> anyhow::Result<Indstillinger> {
        let url = config.amqp_url.clone().context("no AMQP URL configured")?;
        let kort = |hvad: &str, s: &str| {
            ShortString::try_new(s).map_err(|e| anyhow::anyhow!("{hvad} {s:?}: {e}"))
        };
        if config.amqp_afsend_queue.trim().is_empty() {
            anyhow::bail!("the AMQP afsend queue needs a name");
        }
        Ok(Indstillinger {
            url,
            afsend_queue: kort("AMQP afsend queue", &config.amqp_afsend_queue)?,
            routing_key: kort("AMQP afsend routing key", &config.amqp_afsend_routing_key)?,
        })
    }
}

/// `amqp://user:password@host/…` with the password replaced, for logs and errors.
fn uden_kodeord(url: &str) -> String {
    let Some((skema, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (autoritet, sti) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match autoritet.rsplit_once('@') {
        Some((bruger, vaert)) => {
            let bruger = bruger.split(':').next().unwrap_or_default();
            format!("{skema}://{bruger}:***@{vaert}{sti}")
        }
        None => url.to_owned(),
    }
}

/// Connect, declare, and start consuming and forwarding; the returned task runs until
/// `shutdown` turns true (or its sender is dropped), reconnecting when the connection is lost.
pub async fn start(
    state: AppState,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let s = Indstillinger::fra(&state.config)?;
    let session = Session::aabn(&state, &s).await.with_context(|| {
        format!(
            "while starting the Beskedfordeler's AMQP side on {} (FKI_AMQP_URL / --amqp-url)",
            uden_kodeord(&s.url)
        )
    })?;
    tracing::info!(
        url = %uden_kodeord(&s.url),
        exchange = AFSEND_BESKED_EXCHANGE,
        queue = %s.afsend_queue,
        routing_key = %s.routing_key,
        "Beskedfordeler AMQP side started"
    );
    Ok(tokio::spawn(koer(state, s, session, shutdown)))
}

/// Resolves when `rx` turns true or its sender is gone.
async fn stoppet(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

async fn koer(
    state: AppState,
    s: Indstillinger,
    mut session: Session,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        let grund = tokio::select! {
            () = stoppet(&mut shutdown) => {
                session.luk("fki is stopping").await;
                return Ok(());
            }
            g = session.fejl.recv() => g.unwrap_or_else(|| "the AMQP tasks ended".to_owned()),
        };
        tracing::error!(%grund, "Beskedfordeler AMQP: connection lost; reconnecting");
        session.luk("reconnecting").await;
        let mut pause = Duration::from_secs(1);
        session = loop {
            tokio::select! {
                () = stoppet(&mut shutdown) => return Ok(()),
                () = tokio::time::sleep(pause) => {}
            }
            match Session::aabn(&state, &s).await {
                Ok(ny) => {
                    tracing::info!("Beskedfordeler AMQP: reconnected");
                    break ny;
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "Beskedfordeler AMQP: reconnecting failed");
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
            }
        };
    }
}

/// One connection with its consumer and forwarders.
struct Session {
    conn: Arc<Connection>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// Fatal errors of the tasks: the connection must be re-established.
    fejl: mpsc::Receiver<String>,
}

impl Session {
    async fn aabn(state: &AppState, s: &Indstillinger) -> anyhow::Result<Session> {
        let props = ConnectionProperties::default().with_connection_name("fki".into());
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(&s.url, props))
            .await
            .map_err(|_| anyhow::anyhow!("RabbitMQ did not answer within {CONNECT_TIMEOUT:?}"))?
            .context("cannot connect to RabbitMQ")?;
        let conn = Arc::new(conn);
        let (fejl_tx, fejl) = mpsc::channel(8);
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();

        let mut events = conn.events_listener();
        let tx = fejl_tx.clone();
        let mut stop_ev = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stoppet(&mut stop_ev) => return,
                    e = events.next() => match e {
                        Some(lapin::Event::Error(e)) => {
                            let _ = tx.try_send(format!("connection error: {e}"));
                            return;
                        }
                        Some(_) => {}
                        None => return,
                    }
                }
            }
        }));

        let ch = conn.create_channel().await?;
        ch.exchange_declare(
            AFSEND_BESKED_EXCHANGE.into(),
            lapin::ExchangeKind::Direct,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("while declaring the exchange {AFSEND_BESKED_EXCHANGE}"))?;
        ch.queue_declare(
            s.afsend_queue.clone(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("while declaring the queue {}", s.afsend_queue))?;
        ch.queue_bind(
            s.afsend_queue.clone(),
            AFSEND_BESKED_EXCHANGE.into(),
            s.routing_key.clone(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .context("while binding the afsend queue")?;
        ch.basic_qos(PREFETCH, BasicQosOptions::default()).await?;
        let tag: ShortString = format!("fki-afsend-{}", Uuid::new_v4()).into();
        let consumer = ch
            .basic_consume(
                s.afsend_queue.clone(),
                tag.clone(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .context("while consuming the afsend queue")?;
        let svar_ch = conn.create_channel().await?;
        tasks.push(tokio::spawn(afsend_loekke(
            state.clone(),
            Afsender { ch, tag, svar_ch },
            consumer,
            stop_rx.clone(),
            fejl_tx.clone(),
        )));
        tasks.push(tokio::spawn(videresend_alle(
            state.clone(),
            conn.clone(),
            stop_rx,
            fejl_tx,
        )));
        Ok(Session {
            conn,
            stop,
            tasks,
            fejl,
        })
    }

    /// Stop the tasks (letting in-flight deliveries finish) and close the connection.
    async fn luk(self, grund: &str) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let a = t.abort_handle();
            if tokio::time::timeout(DRAIN + Duration::from_secs(1), t)
                .await
                .is_err()
            {
                a.abort();
            }
        }
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            self.conn.close(200, grund.to_owned().into()),
        )
        .await;
    }
}

// ------------------------------------------------------------------------------------------
// Afsend

struct Afsender {
    ch: Channel,
    tag: ShortString,
    /// Answers go out on their own channel: an error there does not stop the consumer.
    svar_ch: Channel,
}

/// Who sent a delivery, as far as the token check got (for the call record).
#[derive(Debug, Default)]
struct Hvem {
    system: Option<Uuid>,
    cvr: Option<String>,
    certifikat: Option<String>,
    /// The security checks refused it.
    afvist: bool,
}

/// What became of a delivery in arrival order.
enum Forloeb {
    /// Queued for the writer: answer when committed.
    Koe(afsend::Indsendt),
    /// Answered at once.
    Svar(StandardRetur),
}

async fn afsend_loekke(
    state: AppState,
    a: Afsender,
    mut consumer: lapin::Consumer,
    mut stop: watch::Receiver<bool>,
    fejl: mpsc::Sender<String>,
) {
    let mut igang = JoinSet::new();
    // Deliveries being checked, parsed and distributed, each in a task; taken in arrival order.
    let mut forberedes = futures::stream::FuturesOrdered::new();
    loop {
        tokio::select! {
            biased;
            () = stoppet(&mut stop) => break,
            Some(_) = igang.join_next(), if !igang.is_empty() => {}
            Some(f) = forberedes.next(), if !forberedes.is_empty() => match f {
                Ok((d, forberedt, hvem)) => {
                    let forloeb = match forberedt {
                        Ok(f) => match afsend::Forberedt::stil(f, &state).await {
                            Ok(i) => Forloeb::Koe(i),
                            Err((_, r)) => Forloeb::Svar(r),
                        },
                        Err(r) => Forloeb::Svar(r),
                    };
                    igang.spawn(afslut(state.clone(), a.svar_ch.clone(), d, forloeb, hvem));
                }
                // Its delivery is neither answered nor acknowledged: the broker delivers it
                // again when the channel closes.
                Err(e) => tracing::error!(error = %e, "AMQP afsend: a delivery's task failed"),
            },
            next = consumer.next(), if forberedes.len() < PREFETCH as usize => match next {
                Some(Ok(d)) => {
                    let state = state.clone();
                    forberedes.push_back(tokio::spawn(async move {
                        let (forberedt, hvem) = modtag(&state, &d).await;
                        (d, forberedt, hvem)
                    }));
                }
                Some(Err(e)) => {
                    let _ = fejl.try_send(format!("afsend consumer: {e}"));
                    break;
                }
                None => {
                    let _ = fejl.try_send("the broker cancelled the afsend consumer".to_owned());
                    break;
                }
            }
        }
    }
    // Take no more; let the deliveries in flight be answered and acknowledged. Deliveries
    // received but not taken go back to the queue when the channel closes.
    let _ =
        a.ch.basic_cancel(a.tag.clone(), BasicCancelOptions::default())
            .await;
    let _ = tokio::time::timeout(DRAIN, async { while igang.join_next().await.is_some() {} }).await;
    let _ = a.ch.close(200, "stopping".into()).await;
}

/// A header's text (long string, short string or byte array).
fn header_tekst(headers: Option<&FieldTable>, navn: &str) -> Option<String> {
    let v = headers?
        .inner()
        .iter()
        .find(|(k, _)| k.as_str().eq_ignore_ascii_case(navn))
        .map(|(_, v)| v)?;
    let bytes = match v {
        AMQPValue::LongString(s) => s.as_bytes(),
        AMQPValue::ShortString(s) => s.as_str().as_bytes(),
        AMQPValue::ByteArray(b) => b.as_slice(),
        _ => return None,
    };
    String::from_utf8(bytes.to_vec())
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Before the in-order part: who sends, is the message sound, where does it go.
async fn modtag(
    state: &AppState,
    d: &Delivery,
) -> (Result<afsend::Forberedt, StandardRetur>, Hvem) {
    let kalder = match kalder(state, d).await {
        Ok(k) => k,
        Err((r, hvem)) => return (Err(r), hvem),
    };
    let hvem = Hvem {
        system: Some(kalder.system),
        cvr: Some(kalder.cvr.clone()),
        ..Default::default()
    };
    (modtag_fra(state, d, &kalder).await, hvem)
}

async fn modtag_fra(
    state: &AppState,
    d: &Delivery,
    kalder: &Kalder,
) -> Result<afsend::Forberedt, StandardRetur> {
    if d.data.len() > kuvert::MAX_BYTES {
        return Err(afvist(
            state,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusKode::ForStor,
            format!("the message is larger than {} bytes", kuvert::MAX_BYTES),
        )
        .1);
    }
    let Ok(xml) = std::str::from_utf8(&d.data) else {
        return Err(afvist(
            state,
            StatusCode::BAD_REQUEST,
            StatusKode::UgyldigInput,
            "the body is not UTF-8",
        )
        .1);
    };
    afsend::forbered(state, kalder, xml)
        .await
        .map_err(|(_, r)| r)
}

/// The sender of a delivery: from its token, or under `--dev-open` from its
/// `x-fki-myndighed` / `x-fki-system` headers.
async fn kalder(state: &AppState, d: &Delivery) -> Result<Kalder, (StandardRetur, Hvem)> {
    let afvist_hvem = || Hvem {
        afvist: true,
        ..Default::default()
    };
    let headers = d.properties.headers().as_ref();
    let reference = d
        .properties
        .correlation_id()
        .as_ref()
        .or(d.properties.message_id().as_ref())
        .map(|s| s.as_str().chars().take(100).collect::<String>());
    if state.sts.settings.dev_open {
        let cvr = header_tekst(headers, HEADER_DEV_MYNDIGHED)
            .filter(|c| crate::sts::is_cvr(c))
            .ok_or_else(|| {
                afvist(
                    state,
                    StatusCode::BAD_REQUEST,
                    StatusKode::IkkeAutoriseret,
                    "under --dev-open the myndighed comes from the x-fki-myndighed header (8 digits)",
                )
                .1
            })
            .map_err(|r| (r, afvist_hvem()))?;
        let system = header_tekst(headers, HEADER_DEV_SYSTEM)
            .and_then(|s| s.parse().ok())
            .unwrap_or(Uuid::nil());
        tracing::warn!(myndighed = %cvr, system = %system, "--dev-open: AMQP afsend let through without a token");
        return Ok(Kalder { system, cvr });
    }
    let Some(token) = header_tekst(headers, HEADER_TOKEN) else {
        tracing::info!(service = BFO_AFSEND, "AMQP afsend without token refused");
        return Err((
            afvist(
                state,
                StatusCode::UNAUTHORIZED,
                StatusKode::IkkeAutoriseret,
                "a token is required: the SAML assertion in the message header \"token\"",
            )
            .1,
            afvist_hvem(),
        ));
    };
    match crate::sts::guard::authenticate_assertion(&state.sts, &token, BFO_AFSEND).await {
        Ok(c) => Ok(Kalder {
            system: c.system,
            cvr: c.cvr,
        }),
        Err(r) => {
            state
                .sts
                .audit_refusal("request_refused", &r, reference)
                .await;
            let hvem = Hvem {
                system: r.system,
                cvr: r.cvr.clone(),
                certifikat: r.certificate_sha256.clone(),
                afvist: !r.status.is_server_error(),
            };
            if r.status.is_server_error() {
                Err((
                    afvist(
                        state,
                        r.status,
                        StatusKode::Fejl,
                        "the token could not be checked; nothing was accepted, send it again",
                    )
                    .1,
                    hvem,
                ))
            } else {
                Err((
                    afvist(state, r.status, StatusKode::IkkeAutoriseret, r.reason).1,
                    hvem,
                ))
            }
        }
    }
}

/// The answer's body: a `StandardRetur` document (see the module docs).
pub fn svar_dokument(r: &StandardRetur) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n{}",
        r.to_xml()
    )
}

/// The call record of an AMQP afsend ([`crate::optagelse`]): `status` is the StatusKode
/// answered, the operation `AfsendBesked (AMQP)`.
fn optag(state: &AppState, d: &Delivery, hvem: Hvem, retur: &StandardRetur) {
    let kode = retur.status_kode;
    state.optager.optag(fki_store::adgang::AuditEntry {
        tid: fki_oio::time::now(),
        haendelse: "kald".into(),
        system: hvem.system,
        service: Some(BFO_AFSEND.into()),
        myndighed: hvem.cvr,
        certifikat_sha256: hvem.certifikat,
        resultat: if hvem.afvist {
            "afvist"
        } else {
            match kode {
                20 => "ok",
                40..=49 => "ugyldig",
                _ => "fejl",
            }
        }
        .into(),
        aarsag: Some(match &retur.fejlbesked_tekst {
            Some(t) => format!(
                "StatusKode {kode}: {}",
                t.chars().take(200).collect::<String>()
            ),
            None => format!("StatusKode {kode}"),
        }),
        reference: d
            .properties
            .correlation_id()
            .as_ref()
            .or(d.properties.message_id().as_ref())
            .map(|s| s.as_str().chars().take(100).collect()),
        sf: crate::optagelse::sf_for_entity(BFO_AFSEND).map(str::to_owned),
        operation: Some("AfsendBesked (AMQP)".into()),
        status: Some(i64::from(kode)),
        ..Default::default()
    });
}

/// The concurrent part: wait for the commit, answer, acknowledge (or requeue on 50).
async fn afslut(state: AppState, svar_ch: Channel, d: Delivery, forloeb: Forloeb, hvem: Hvem) {
    let retur = match forloeb {
        Forloeb::Koe(i) => i.afslut(&state).await.1,
        Forloeb::Svar(r) => r,
    };
    optag(&state, &d, hvem, &retur);
    let igen = retur.status_kode == StatusKode::Fejl.kode();
    match d
        .properties
        .reply_to()
        .as_ref()
        .filter(|r| !r.as_str().is_empty())
    {
        Some(reply_to) => {
            let mut props = BasicProperties::default()
                .with_content_type("application/xml".into())
                .with_content_encoding("utf-8".into());
            if let Some(c) = d.properties.correlation_id() {
                props = props.with_correlation_id(c.clone());
            }
            let body = svar_dokument(&retur);
            let sendt = svar_ch
                .basic_publish(
                    "".into(),
                    reply_to.clone(),
                    BasicPublishOptions::default(),
                    body.as_bytes(),
                    props,
                )
                .await;
            if let Err(e) = sendt {
                tracing::warn!(error = %e, reply_to = %reply_to, "AMQP afsend: the answer could not be sent");
            }
        }
        None => tracing::info!(
            status_kode = retur.status_kode,
            "AMQP afsend without reply_to: processed, nobody to answer"
        ),
    }
    let res = if igen {
        tokio::time::sleep(REQUEUE_PAUSE).await;
        d.nack(BasicNackOptions {
            requeue: true,
            multiple: false,
        })
        .await
    } else {
        d.ack(BasicAckOptions::default()).await
    };
    if let Err(e) = res {
        // The channel is gone: the broker delivers the message again (a repeat answers 20).
        tracing::warn!(error = %e, "AMQP afsend: acknowledging a delivery failed");
    }
}

// ------------------------------------------------------------------------------------------
// Amqp dueslag

/// Keep one forwarder running per active amqp dueslag.
async fn videresend_alle(
    state: AppState,
    conn: Arc<Connection>,
    mut stop: watch::Receiver<bool>,
    fejl: mpsc::Sender<String>,
) {
    let mut koerende: HashMap<Uuid, JoinHandle<()>> = HashMap::new();
    'ydre: loop {
        match state.beskedfordeler.store.list_dueslag(None).await {
            Ok(alle) => {
                let aktive: HashMap<Uuid, (Uuid, String)> = alle
                    .into_iter()
                    .filter(|d| d.aktiv && d.levering == Leveringsform::Amqp)
                    .map(|d| (d.uuid, (d.ejer, d.myndighed)))
                    .collect();
                koerende.retain(|u, h| {
                    let behold = aktive.contains_key(u) && !h.is_finished();
                    if !behold {
                        h.abort();
                    }
                    behold
                });
                for (u, modtager) in aktive {
                    if koerende.contains_key(&u) {
                        continue;
                    }
                    match conn.create_channel().await {
                        Ok(ch) => {
                            koerende.insert(
                                u,
                                tokio::spawn(videresend(
                                    state.clone(),
                                    ch,
                                    u,
                                    modtager,
                                    stop.clone(),
                                )),
                            );
                        }
                        Err(e) => {
                            let _ = fejl.try_send(format!("cannot open a channel: {e}"));
                            break 'ydre;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "Beskedfordeler AMQP: cannot list the dueslag");
            }
        }
        tokio::select! {
            () = stoppet(&mut stop) => break,
            () = tokio::time::sleep(RELIST_EVERY) => {}
        }
    }
    // Forwarders stop by themselves between batches; one waiting for confirms is given time.
    for (_, t) in koerende {
        let a = t.abort_handle();
        if tokio::time::timeout(CONFIRM_TIMEOUT.min(DRAIN), t)
            .await
            .is_err()
        {
            a.abort();
        }
    }
}

/// Forward dueslag `dueslag` of `modtager` (its owner and myndighed, for the delivery records).
async fn videresend(
    state: AppState,
    ch: Channel,
    dueslag: Uuid,
    modtager: (Uuid, String),
    mut stop: watch::Receiver<bool>,
) {
    tracing::debug!(%dueslag, "AMQP forwarder started");
    if let Err(e) = videresend_til(&state, &ch, dueslag, &modtager, &mut stop).await {
        tracing::warn!(%dueslag, error = %e, "AMQP forwarder stopped; it starts again shortly");
    }
    let _ = ch.close(200, "stopping".into()).await;
}

fn egenskaber(l: &Leveret, nu: i64) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        HEADER_LOEBENR.into(),
        AMQPValue::LongLongInt(l.levering.loebenr),
    );
    headers.insert(
        HEADER_DUESLAG.into(),
        AMQPValue::LongString(l.levering.dueslag.to_string().into()),
    );
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/xml".into())
        .with_content_encoding("utf-8".into())
        .with_message_id(l.besked.besked_id.to_string().into())
        .with_timestamp(u64::try_from(nu / 1_000_000).unwrap_or_default())
        .with_headers(headers)
}

async fn videresend_til(
    state: &AppState,
    ch: &Channel,
    dueslag: Uuid,
    (ejer, myndighed): &(Uuid, String),
    stop: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let koe: ShortString = dueslag.to_string().into();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| format!("confirm.select: {e}"))?;
    ch.queue_declare(
        koe.clone(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .map_err(|e| format!("declaring the queue: {e}"))?;
    let bf = &state.beskedfordeler;
    let notify = bf.notify_for(dueslag);
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        // Registered before looking, so a wake between the look and the wait is not lost.
        let vaekket = notify.notified();
        tokio::pin!(vaekket);
        vaekket.as_mut().enable();
        let klar = match bf.store.klar(dueslag, i64::MAX, BATCH).await {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(%dueslag, error = %e, "AMQP forwarder: cannot read the dueslag");
                Vec::new()
            }
        };
        if klar.is_empty() {
            tokio::select! {
                () = stoppet(stop) => return Ok(()),
                () = &mut vaekket => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
            continue;
        }
        let nu = fki_oio::time::now();
        let mut afventer = Vec::with_capacity(klar.len());
        for l in &klar {
            let body = super::med_leverancerute(l, nu).unwrap_or_else(|e| {
                tracing::error!(%dueslag, loebenr = l.levering.loebenr, error = %e, "stored message does not parse; forwarded as stored");
                l.besked.xml.clone()
            });
            let confirm = ch
                .basic_publish(
                    "".into(),
                    koe.clone(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    body.as_bytes(),
                    egenskaber(l, nu),
                )
                .await
                .map_err(|e| format!("publishing: {e}"))?;
            afventer.push((l.levering.loebenr, confirm));
        }
        // Confirms come in publish order. The confirmed prefix is recorded in one write
        // transaction (also when a later one failed), so the store's head is always the first
        // message the broker has not confirmed.
        let mut bekraeftet = Vec::with_capacity(afventer.len());
        let mut fejl = None;
        for (loebenr, confirm) in afventer {
            match bekraeftelse(loebenr, confirm).await {
                Ok(()) => bekraeftet.push((dueslag, loebenr)),
                Err(e) => {
                    fejl = Some(e);
                    break;
                }
            }
        }
        if !bekraeftet.is_empty() {
            // Through the writer, with the messages and acknowledgements waiting with them.
            let n = bekraeftet.len();
            let gjort = bf
                .kvitter(bekraeftet.clone(), fki_oio::time::now())
                .await
                .map_err(|e| format!("recording {n} leveringer: {e}"))?;
            for ((_, loebenr), g) in bekraeftet.iter().zip(gjort) {
                // `false`: acknowledged (or moved) meanwhile by someone else.
                if g {
                    bf.metrics.delivered.fetch_add(1, Relaxed);
                    bf.optager.levering_amqp(
                        *ejer,
                        myndighed,
                        format!("dueslag {dueslag} loebenr {loebenr}: in its RabbitMQ queue"),
                    );
                }
            }
        }
        if let Some(e) = fejl {
            return Err(e);
        }
    }
}

/// Wait for the broker's confirm of one published levering.
async fn bekraeftelse(loebenr: i64, confirm: lapin::PublisherConfirm) -> Result<(), String> {
    let c = tokio::time::timeout(CONFIRM_TIMEOUT, confirm)
        .await
        .map_err(|_| format!("no confirm for levering {loebenr} within {CONFIRM_TIMEOUT:?}"))?
        .map_err(|e| format!("confirm of levering {loebenr}: {e}"))?;
    match c {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(r)) => Err(format!(
            "levering {loebenr} was returned: {} {}",
            r.reply_code, r.reply_text
        )),
        Confirmation::Nack(_) => Err(format!("the broker nacked levering {loebenr}")),
        Confirmation::NotRequested => Err("the channel is not in confirm mode".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            uden_kodeord("amqp://guest:hemmelig@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(uden_kodeord("amqps://u:p@w@rabbit"), "amqps://u:***@rabbit");
        assert_eq!(uden_kodeord("amqp://rabbit/"), "amqp://rabbit/");
    }

    #[test]
    fn token_headers_of_every_string_kind() {
        let mut t = FieldTable::default();
        t.insert("token".into(), AMQPValue::LongString(" <a/> ".into()));
        assert_eq!(
            header_tekst(Some(&t), HEADER_TOKEN).as_deref(),
            Some("<a/>")
        );
        let mut t = FieldTable::default();
        t.insert(
            "Token".into(),
            AMQPValue::ByteArray(b"PGEvPg==".to_vec().into()),
        );
        assert_eq!(
            header_tekst(Some(&t), HEADER_TOKEN).as_deref(),
            Some("PGEvPg==")
        );
        t.insert("x".into(), AMQPValue::LongLongInt(1));
        assert_eq!(header_tekst(Some(&t), "x"), None);
        assert_eq!(header_tekst(None, HEADER_TOKEN), None);
    }

    #[test]
    fn the_answer_is_a_standard_retur_document() {
        let doc = svar_dokument(&StandardRetur::fejl(StatusKode::IkkeAutoriseret, "udløbet"));
        assert!(
            doc.contains(
                "<StandardRetur xmlns=\"urn:oio:sagdok:3.0.0\"><StatusKode>41</StatusKode>"
            ),
            "{doc}"
        );
        assert_eq!(StandardRetur::find_in(&doc).unwrap().status_kode, 41);
    }
}
