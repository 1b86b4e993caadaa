//! The broker's floor under fki's AMQP path: the RabbitMQ traffic of one AMQP afsend and its
//! amqp dueslag, with nothing in between. What it does per message is what fki's path makes
//! the broker do (`crates/fki-server/src/beskedfordeler/amqp.rs`), with the store, the token
//! check, parsing and distribution left out:
//!
//! 1. a sender publishes the message persistent to a direct exchange (`amq.direct`) with
//!    `reply_to = amq.rabbitmq.reply-to` and waits for the answer (as the bench's AMQP
//!    senders and KOMBIT's clients do);
//! 2. a responder consumes the request queue with manual acknowledgement (prefetch
//!    [`PREFETCH`]), publishes a short answer to `reply_to` and acknowledges the delivery;
//! 3. a forwarder publishes the body persistent to one of `queues` durable queues (in turn) on
//!    that queue's channel with publisher confirms (up to [`FORWARD_BATCH`] before their
//!    confirms are awaited), as fki forwards to its amqp dueslag, one channel each;
//! 4. a receiver per queue consumes it (prefetch 100) and acknowledges every message.
//!
//! A message counts when its sender has its answer. Set against the raw publish-confirm rate of
//! the same senders, this bounds the share of raw fki's path can reach on this broker and
//! machine: fki's own work only comes on top. (Acknowledging requests in batches, `multiple`,
//! raised it by about 7 % in a trial; fki acknowledges each request, so the floor does too.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueBindOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use tokio::sync::mpsc;

use super::{REPLY_TO, Run, answer, declare, micros, persistent, reply_consumer};

/// Unacknowledged requests the responder holds (fki's afsend consumer holds as many).
const PREFETCH: u16 = 256;
/// Forwarded messages published before their confirms are awaited (as fki's forwarder).
const FORWARD_BATCH: usize = 100;
/// The receiver's prefetch (as the bench's amqp dueslag receivers).
const RECEIVER_PREFETCH: u16 = 100;
const EXCHANGE: &str = "amq.direct";
/// The answer's body: about the size of fki's StandardRetur document.
const ANSWER: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<StandardRetur xmlns=\"urn:oio:sagdok:3.0.0\"><StatusKode>20</StatusKode><FejlbeskedTekst>OK</FejlbeskedTekst></StandardRetur>";
/// How long the answers and forwards in flight get after the senders stop.
const DRAIN: Duration = Duration::from_secs(10);

/// One floor shape.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// The key of its [`Run`].
    pub key: &'static str,
    /// Forward queues (fki's path: one per amqp dueslag).
    pub queues: usize,
    /// A durable request queue (as fki's afsend queue), else a transient one.
    pub durable_request: bool,
}

/// Run `shape` for `duration` with `concurrency` senders of `payload`. Its queues are deleted
/// afterwards.
pub async fn floor_shape(
    shape: Shape,
    conn: &Connection,
    duration: Duration,
    concurrency: usize,
    payload: &[u8],
) -> Result<Run, String> {
    let id = uuid::Uuid::new_v4().simple();
    let request_queue = format!("fki-bench-rpc-{id}");
    let forward_queues: Vec<String> = (0..shape.queues.max(1))
        .map(|i| format!("fki-bench-fwd-{id}-{i}"))
        .collect();
    let admin = channel(conn).await?;
    let result = async {
        declare(&admin, &request_queue, shape.durable_request).await?;
        admin
            .queue_bind(
                request_queue.as_str().into(),
                EXCHANGE.into(),
                request_queue.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("binding {request_queue}: {e}"))?;
        for q in &forward_queues {
            declare(&admin, q, true).await?;
        }
        run(
            shape,
            conn,
            &request_queue,
            &forward_queues,
            duration,
            concurrency,
            payload,
        )
        .await
    }
    .await;
    for q in std::iter::once(&request_queue).chain(&forward_queues) {
        let _ = admin
            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = admin.close(200, "done".into()).await;
    result
}

async fn channel(conn: &Connection) -> Result<Channel, String> {
    conn.create_channel()
        .await
        .map_err(|e| format!("channel: {e}"))
}

/// A channel with `prefetch` consuming `queue` with manual acknowledgement.
async fn consume(
    conn: &Connection,
    queue: &str,
    prefetch: u16,
) -> Result<(Channel, lapin::Consumer), String> {
    let ch = channel(conn).await?;
    ch.basic_qos(prefetch, BasicQosOptions::default())
        .await
        .map_err(|e| format!("qos: {e}"))?;
    let consumer = ch
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("consuming {queue}: {e}"))?;
    Ok((ch, consumer))
}

/// A receiver: consume `queue`, acknowledge each message, count it in `received`.
async fn receiver(
    conn: &Connection,
    queue: &str,
    stop: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let (ch, mut consumer) = consume(conn, queue, RECEIVER_PREFETCH).await?;
    Ok(tokio::spawn(async move {
        while !stop.load(Relaxed) {
            if let Ok(Some(Ok(d))) =
                tokio::time::timeout(Duration::from_millis(100), consumer.next()).await
            {
                if d.ack(BasicAckOptions::default()).await.is_err() {
                    break;
                }
                received.fetch_add(1, Relaxed);
            }
        }
        let _ = ch.close(200, "done".into()).await;
    }))
}

/// A forwarder: publish what arrives on `rx` to `queue`, persistent, confirmed in batches;
/// returns how many the broker confirmed.
async fn forwarder(
    conn: &Connection,
    queue: &str,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) -> Result<tokio::task::JoinHandle<Result<u64, String>>, String> {
    let ch = channel(conn).await?;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| format!("confirm.select: {e}"))?;
    let queue = queue.to_owned();
    Ok(tokio::spawn(async move {
        let mut forwarded = 0u64;
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < FORWARD_BATCH {
                match rx.try_recv() {
                    Ok(b) => batch.push(b),
                    Err(_) => break,
                }
            }
            let mut confirms = Vec::with_capacity(batch.len());
            for body in &batch {
                let c = ch
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions::default(),
                        body,
                        persistent(),
                    )
                    .await
                    .map_err(|e| format!("forwarding: {e}"))?;
                confirms.push(c);
            }
            for c in confirms {
                let c = c.await.map_err(|e| format!("forward confirm: {e}"))?;
                if !c.is_ack() {
                    return Err("the broker nacked a forwarded message".to_owned());
                }
                forwarded += 1;
            }
        }
        let _ = ch.close(200, "done".into()).await;
        Ok(forwarded)
    }))
}

async fn run(
    shape: Shape,
    conn: &Connection,
    request_queue: &str,
    forward_queues: &[String],
    duration: Duration,
    concurrency: usize,
    payload: &[u8],
) -> Result<Run, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));

    // 4. The receivers; 3. the forwarders.
    let mut receivers = Vec::with_capacity(forward_queues.len());
    let mut forwarders = Vec::with_capacity(forward_queues.len());
    let mut to_forward = Vec::with_capacity(forward_queues.len());
    for q in forward_queues {
        receivers.push(receiver(conn, q, stop.clone(), received.clone()).await?);
        let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
        forwarders.push(forwarder(conn, q, rx).await?);
        to_forward.push(tx);
    }

    // 2. The responder.
    let (cch, mut requests) = consume(conn, request_queue, PREFETCH).await?;
    let answers = channel(conn).await?;
    let responder = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut tasks = tokio::task::JoinSet::new();
            let mut next = 0usize;
            while !stop.load(Relaxed) {
                while tasks.try_join_next().is_some() {}
                let Ok(Some(Ok(d))) =
                    tokio::time::timeout(Duration::from_millis(100), requests.next()).await
                else {
                    continue;
                };
                let fwd = to_forward[next % to_forward.len()].clone();
                next += 1;
                let answers = answers.clone();
                tasks.spawn(async move {
                    if let Some(to) = d.properties.reply_to().clone() {
                        let mut props = BasicProperties::default();
                        if let Some(c) = d.properties.correlation_id() {
                            props = props.with_correlation_id(c.clone());
                        }
                        let _ = answers
                            .basic_publish(
                                "".into(),
                                to,
                                BasicPublishOptions::default(),
                                ANSWER,
                                props,
                            )
                            .await;
                    }
                    let _ = d.ack(BasicAckOptions::default()).await;
                    let _ = fwd.send(d.data);
                });
            }
            while tasks.join_next().await.is_some() {}
            let _ = cch.close(200, "done".into()).await;
            let _ = answers.close(200, "done".into()).await;
        })
    };

    // 1. The senders.
    let mut senders = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let ch = channel(conn).await?;
        let replies = reply_consumer(&ch, "").await?;
        senders.push((ch, replies));
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for (n, (ch, mut replies)) in senders.into_iter().enumerate() {
        let request_queue = request_queue.to_owned();
        let payload = payload.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut r = Run::new("floor", String::new());
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let corr = format!("{n}-{i}");
                let t0 = Instant::now();
                ch.basic_publish(
                    EXCHANGE.into(),
                    request_queue.as_str().into(),
                    BasicPublishOptions::default(),
                    &payload,
                    persistent()
                        .with_reply_to(REPLY_TO.into())
                        .with_correlation_id(corr.as_str().into()),
                )
                .await
                .map_err(|e| format!("publish: {e}"))?;
                r.published += 1;
                answer(&mut replies, &corr, DRAIN).await?;
                r.hist.saturating_record(micros(t0.elapsed()));
                r.confirmed += 1;
            }
            let _ = ch.close(200, "done".into()).await;
            Ok::<Run, String>(r)
        }));
    }
    let mut total = Run::new(
        shape.key,
        format!(
            "{concurrency} RPC senders, {} request queue, {} forward queue{}",
            if shape.durable_request {
                "durable"
            } else {
                "transient"
            },
            forward_queues.len(),
            if forward_queues.len() == 1 { "" } else { "s" }
        ),
    );
    let mut failure = None;
    for t in tasks {
        match t
            .await
            .map_err(|e| format!("sender task: {e}"))
            .and_then(|r| r)
        {
            Ok(r) => {
                total.published += r.published;
                total.confirmed += r.confirmed;
                let _ = total.hist.add(&r.hist);
            }
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    total.elapsed = started.elapsed();
    // Let the forwards of the answered requests reach the receivers, then stop everything.
    let answered = total.confirmed;
    let drained_by = Instant::now() + DRAIN;
    while received.load(Relaxed) < answered && Instant::now() < drained_by {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Relaxed);
    let _ = responder.await;
    let mut forwarded = 0;
    for f in forwarders {
        forwarded += f.await.map_err(|e| format!("forwarder task: {e}"))??;
    }
    for r in receivers {
        let _ = r.await;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let got = received.load(Relaxed);
    if got < answered || forwarded < answered {
        return Err(format!(
            "{answered} answered, but {forwarded} forwarded and {got} received within {DRAIN:?}"
        ));
    }
    Ok(total)
}
