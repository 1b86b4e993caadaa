//! RabbitMQ's own publish-confirm rate, measured in the same run as the Beskedfordeler so the
//! HTTP figures have a reference point: persistent messages of the Beskedfordeler's message
//! size published to a durable, throw-away queue on a channel in confirm mode, each counted
//! when the broker confirmed it (for a durable queue and a persistent message RabbitMQ
//! confirms after writing it to disk). Two raw shapes, and after them the floor shapes of
//! [`floor`] (the broker traffic of fki's AMQP path with no work in between):
//!
//! - **sync**: `concurrency` channels, each publishing its next message only after the previous
//!   one was confirmed, like the HTTP senders of the afsend phases (each waits for its answer);
//! - **window**: one channel with up to [`WINDOW`] unconfirmed messages in flight (the most a
//!   single publisher gets out of the broker).
//!
//! The queue is deleted afterwards (also after a failure, when the connection still works).

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde_json::{Value, json};

mod floor;

/// RabbitMQ's direct reply-to pseudo-queue, where RPC senders get their answers.
pub const REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// Consume direct reply-to on `ch` (without acknowledgements, as direct reply-to requires).
pub async fn reply_consumer(ch: &Channel, tag: &str) -> Result<lapin::Consumer, String> {
    ch.basic_consume(
        REPLY_TO.into(),
        tag.into(),
        BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .map_err(|e| format!("cannot consume {REPLY_TO}: {e}"))
}

/// The answer with correlation ID `corr` on `replies`, within `within`; answers to earlier
/// requests of the channel (ones that timed out) are skipped.
pub async fn answer(
    replies: &mut lapin::Consumer,
    corr: &str,
    within: Duration,
) -> Result<lapin::message::Delivery, String> {
    loop {
        let d = match tokio::time::timeout(within, replies.next()).await {
            Err(_) => return Err(format!("no answer within {within:?}")),
            Ok(None) => return Err("the reply consumer closed".to_owned()),
            Ok(Some(Err(e))) => return Err(format!("reply consumer: {e}")),
            Ok(Some(Ok(d))) => d,
        };
        if d.properties.correlation_id().as_ref().map(|c| c.as_str()) == Some(corr) {
            return Ok(d);
        }
    }
}

/// Unconfirmed messages in flight in the window shape.
pub const WINDOW: usize = 256;
/// How long connecting may take before the broker counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What one shape measured.
#[derive(Debug)]
pub struct Run {
    pub key: &'static str,
    pub title: String,
    pub published: u64,
    pub confirmed: u64,
    pub nacked: u64,
    pub elapsed: Duration,
    /// Publish → confirm, microseconds.
    pub hist: Histogram<u64>,
}

impl Run {
    fn new(key: &'static str, title: String) -> Run {
        Run {
            key,
            title,
            published: 0,
            confirmed: 0,
            nacked: 0,
            elapsed: Duration::ZERO,
            hist: Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds"),
        }
    }

    /// Confirmed messages per second.
    pub fn per_s(&self) -> f64 {
        self.confirmed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn to_json(&self) -> Value {
        let r2 = |x: f64| (x * 100.0).round() / 100.0;
        json!({
            "title": self.title,
            "published": self.published,
            "confirmed": self.confirmed,
            "nacked": self.nacked,
            "seconds": r2(self.elapsed.as_secs_f64()),
            "confirmed_per_s": r2(self.per_s()),
            "confirm_p50_ms": r2(self.ms(0.5)),
            "confirm_p99_ms": r2(self.ms(0.99)),
        })
    }
}

/// Why nothing (or not everything) was measured.
#[derive(Debug)]
pub enum Failure {
    /// No broker there: the measurement is skipped, not failed.
    Unreachable(String),
    /// The broker answered but something went wrong.
    Failed(String),
}

/// The key of the floor shape with fki's own layout: a durable afsend queue and as many forward
/// queues as the run has amqp dueslag ([`floor`]).
pub const FLOOR: &str = "floor";

/// Connect to `url`, run the raw shapes and the floor shapes ([`floor`], with
/// `forward_queues` queues where fki's path has its amqp dueslag) for `seconds` each with
/// messages of `payload`, delete the queues.
pub async fn measure(
    url: &str,
    seconds: f64,
    concurrency: usize,
    payload: &[u8],
    forward_queues: usize,
) -> Result<Vec<Run>, Failure> {
    let conn = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        Connection::connect(url, ConnectionProperties::default()),
    )
    .await
    {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(Failure::Unreachable(format!("cannot connect: {e}"))),
        Err(_) => {
            return Err(Failure::Unreachable(format!(
                "no connection within {CONNECT_TIMEOUT:?}"
            )));
        }
    };
    let queue = format!("fki-bench-{}", uuid::Uuid::new_v4().simple());
    let admin = conn
        .create_channel()
        .await
        .map_err(|e| Failure::Failed(format!("channel: {e}")))?;
    declare(&admin, &queue, true)
        .await
        .map_err(Failure::Failed)?;
    let duration = Duration::from_secs_f64(seconds);
    let result = async {
        let sync = sync_shape(&conn, &queue, duration, concurrency, payload).await?;
        let window = window_shape(&conn, &queue, duration, payload).await?;
        let mut runs = vec![sync, window];
        // fki's path has a durable afsend queue and `forward_queues` amqp dueslag; the other
        // two show what one dueslag and a transient afsend queue would change.
        for (key, queues, durable_request) in [
            (FLOOR, forward_queues, true),
            ("floor_one_queue", 1, true),
            ("floor_transient", forward_queues, false),
        ] {
            let shape = floor::Shape {
                key,
                queues,
                durable_request,
            };
            runs.push(floor::floor_shape(shape, &conn, duration, concurrency, payload).await?);
        }
        Ok(runs)
    }
    .await;
    let deleted = admin
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = conn.close(200, "bench done".into()).await;
    let runs = result.map_err(Failure::Failed)?;
    deleted.map_err(|e| Failure::Failed(format!("deleting the queue {queue}: {e}")))?;
    Ok(runs)
}

/// Declare `queue` (durable or transient).
async fn declare(ch: &Channel, queue: &str, durable: bool) -> Result<(), String> {
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            durable,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .map(|_| ())
    .map_err(|e| {
        let kind = if durable { "durable" } else { "transient" };
        format!("declaring the {kind} queue {queue}: {e}")
    })
}

async fn confirm_channel(conn: &Connection) -> Result<Channel, String> {
    let ch = conn
        .create_channel()
        .await
        .map_err(|e| format!("channel: {e}"))?;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| format!("confirm.select: {e}"))?;
    Ok(ch)
}

fn persistent() -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("text/xml".into())
}

/// `concurrency` channels, one unconfirmed message each.
async fn sync_shape(
    conn: &Connection,
    queue: &str,
    duration: Duration,
    concurrency: usize,
    payload: &[u8],
) -> Result<Run, String> {
    let mut channels = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        channels.push(confirm_channel(conn).await?);
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for ch in channels {
        let queue = queue.to_owned();
        let payload = payload.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut r = Run::new("sync", String::new());
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let confirm = ch
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions::default(),
                        &payload,
                        persistent(),
                    )
                    .await
                    .map_err(|e| format!("publish: {e}"))?;
                r.published += 1;
                let c = confirm.await.map_err(|e| format!("confirm: {e}"))?;
                r.hist.saturating_record(micros(t0.elapsed()));
                if c.is_ack() {
                    r.confirmed += 1;
                } else {
                    r.nacked += 1;
                }
            }
            let _ = ch.close(200, "done".into()).await;
            Ok::<Run, String>(r)
        }));
    }
    let mut total = Run::new(
        "sync",
        format!("{concurrency} channels, 1 unconfirmed message each"),
    );
    for t in tasks {
        let r = t.await.map_err(|e| format!("publisher task: {e}"))??;
        total.published += r.published;
        total.confirmed += r.confirmed;
        total.nacked += r.nacked;
        let _ = total.hist.add(&r.hist);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// One channel, up to [`WINDOW`] unconfirmed messages.
async fn window_shape(
    conn: &Connection,
    queue: &str,
    duration: Duration,
    payload: &[u8],
) -> Result<Run, String> {
    let ch = confirm_channel(conn).await?;
    let mut r = Run::new(
        "window",
        format!("1 channel, up to {WINDOW} unconfirmed messages"),
    );
    let started = Instant::now();
    let deadline = started + duration;
    let mut in_flight = FuturesUnordered::new();
    loop {
        while in_flight.len() < WINDOW && Instant::now() < deadline {
            let t0 = Instant::now();
            let confirm = ch
                .basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions::default(),
                    payload,
                    persistent(),
                )
                .await
                .map_err(|e| format!("publish: {e}"))?;
            r.published += 1;
            in_flight.push(async move { (t0, confirm.await) });
        }
        let Some((t0, c)) = in_flight.next().await else {
            break;
        };
        let c = c.map_err(|e| format!("confirm: {e}"))?;
        r.hist.saturating_record(micros(t0.elapsed()));
        if c.is_ack() {
            r.confirmed += 1;
        } else {
            r.nacked += 1;
        }
    }
    r.elapsed = started.elapsed();
    let _ = ch.close(200, "done".into()).await;
    Ok(r)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}
