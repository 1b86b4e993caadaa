//! The bench's AMQP side (`--transport amqp`): afsend as KOMBIT's RPC and the amqp dueslag's
//! receivers, both through RabbitMQ.
//!
//! - **Afsend** ([`Rpc`]): each sender has its own channel consuming `amq.rabbitmq.reply-to`
//!   (no-ack), publishes the message persistent to `AFSEND_BESKED_EXCHANGE` with the empty
//!   routing key, `reply_to`, `correlation_id` = `message_id` = the BeskedId, and under the
//!   bench server's `--dev-open` the headers `x-fki-myndighed` / `x-fki-system` instead of a
//!   token; then waits for the StandardRetur with its correlation ID (fki answers after the
//!   message is stored durably), like the HTTP senders wait for their answer.
//! - **Receivers** ([`pull_task`]): one consumer per amqp dueslag on the queue named by its
//!   UUID (declared here as fki declares it, so the consumer can start before the server's
//!   forwarder), manual acknowledgement, prefetch [`super::PULL_BATCH`]. A message counts as
//!   arrived when the delivery is read and as delivered when its ack was written to the
//!   broker.
//!
//! The queues this run made (the afsend queue, one per amqp dueslag) are deleted afterwards
//! ([`delete_queues`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use fki_beskedfordeler::retur::StandardRetur;
use fki_server::beskedfordeler::amqp::{
    AFSEND_BESKED_EXCHANGE, HEADER_DEV_MYNDIGHED, HEADER_DEV_SYSTEM,
};
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
use uuid::Uuid;

use super::{CVR, Ctx, PULL_BATCH};
use crate::bench::amqp::{REPLY_TO, answer, reply_consumer};

/// How long a sender waits for fki's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle receiver looks at its stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Connect to RabbitMQ.
pub async fn connect(url: &str) -> anyhow::Result<Connection> {
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        Connection::connect(url, ConnectionProperties::default()),
    )
    .await
    {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(anyhow::anyhow!("cannot connect to RabbitMQ: {e}")),
        Err(_) => Err(anyhow::anyhow!(
            "cannot connect to RabbitMQ: no answer within {CONNECT_TIMEOUT:?}"
        )),
    }
}

/// One sender's channel, set up for direct reply-to.
pub struct Rpc {
    ch: Channel,
    svar: Consumer,
    headers: FieldTable,
}

impl Rpc {
    pub async fn open(c: &Connection, system: Uuid) -> Result<Rpc, String> {
        let ch = c
            .create_channel()
            .await
            .map_err(|e| format!("afsend over AMQP: cannot open a channel: {e}"))?;
        let svar = reply_consumer(&ch, &format!("bench-svar-{}", Uuid::new_v4()))
            .await
            .map_err(|e| format!("afsend over AMQP: {e}"))?;
        let mut headers = FieldTable::default();
        headers.insert(
            HEADER_DEV_MYNDIGHED.into(),
            AMQPValue::LongString(CVR.into()),
        );
        headers.insert(
            HEADER_DEV_SYSTEM.into(),
            AMQPValue::LongString(system.to_string().into()),
        );
        Ok(Rpc { ch, svar, headers })
    }

    /// One afsend: `Ok` when answered StatusKode 20.
    pub async fn afsend(&mut self, id: Uuid, xml: String) -> Result<(), String> {
        let corr = id.to_string();
        let props = BasicProperties::default()
            .with_correlation_id(corr.clone().into())
            .with_message_id(corr.clone().into())
            .with_reply_to(REPLY_TO.into())
            .with_delivery_mode(2)
            .with_content_type("text/xml".into())
            .with_headers(self.headers.clone());
        self.ch
            .basic_publish(
                AFSEND_BESKED_EXCHANGE.into(),
                "".into(),
                BasicPublishOptions::default(),
                xml.as_bytes(),
                props,
            )
            .await
            .map_err(|e| format!("afsend over AMQP: publish failed: {e}"))?;
        let d = answer(&mut self.svar, &corr, ANSWER_TIMEOUT)
            .await
            .map_err(|e| format!("afsend over AMQP: {e}"))?;
        let text = String::from_utf8_lossy(&d.data);
        match StandardRetur::find_in(&text) {
            Ok(s) if s.status_kode == 20 => Ok(()),
            Ok(s) => Err(format!(
                "afsend over AMQP: StatusKode {}: {}",
                s.status_kode,
                s.fejlbesked_tekst.unwrap_or_default()
            )),
            Err(e) => Err(format!(
                "afsend over AMQP: an answer without a StandardRetur ({e}): {}",
                &text[..text.len().min(300)]
            )),
        }
    }

    pub async fn close(self) {
        let _ = self.ch.close(200, "bench phase done".into()).await;
    }
}

/// One amqp dueslag's receiver: consume, record, acknowledge, until `stop`.
pub async fn pull_task(ctx: Arc<Ctx>, idx: u16, dueslag: Uuid, stop: Arc<AtomicBool>) {
    let Some(conn) = ctx.amqp.clone() else {
        ctx.errors
            .note(format!("amqp dueslag {idx}: no RabbitMQ connection"));
        return;
    };
    let queue = dueslag.to_string();
    let opened = async {
        let ch = conn.create_channel().await?;
        ch.basic_qos(PULL_BATCH as u16, BasicQosOptions::default())
            .await?;
        ch.queue_declare(
            queue.clone().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
        let consumer = ch
            .basic_consume(
                queue.clone().into(),
                format!("bench-{idx}").into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok::<_, lapin::Error>((ch, consumer))
    }
    .await;
    let (ch, mut consumer) = match opened {
        Ok(x) => x,
        Err(e) => {
            ctx.errors
                .note(format!("amqp dueslag {idx}: cannot consume {queue}: {e}"));
            return;
        }
    };
    while !stop.load(Relaxed) {
        let d = match tokio::time::timeout(STOP_POLL, consumer.next()).await {
            Err(_) => continue,
            Ok(None) => {
                ctx.errors
                    .note(format!("amqp dueslag {idx}: the consumer closed"));
                break;
            }
            Ok(Some(Err(e))) => {
                ctx.errors.note(format!("amqp dueslag {idx}: {e}"));
                break;
            }
            Ok(Some(Ok(d))) => d,
        };
        let at = Instant::now();
        let id = d
            .properties
            .message_id()
            .as_ref()
            .and_then(|m| m.as_str().parse::<Uuid>().ok())
            .or_else(|| super::besked_id(&String::from_utf8_lossy(&d.data)));
        let Some(id) = id else {
            ctx.errors.note(format!(
                "amqp dueslag {idx}: a message without a BeskedId: {}",
                String::from_utf8_lossy(&d.data[..d.data.len().min(200)])
            ));
            let _ = d.ack(BasicAckOptions::default()).await;
            continue;
        };
        if let Err(e) = ctx.tracker.arrived(id, idx, at, false) {
            ctx.errors.note(format!("amqp pull: {e}"));
        }
        match d.ack(BasicAckOptions::default()).await {
            Ok(_) => ctx.tracker.acknowledged(id, idx, Instant::now()),
            Err(e) => ctx
                .errors
                .note(format!("amqp dueslag {idx}: ack failed: {e}")),
        }
    }
    let _ = ch.close(200, "bench done".into()).await;
}

/// Delete the queues this run made (best effort; failures are printed).
pub async fn delete_queues(url: &str, queues: &[String]) {
    let conn = match connect(url).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warning: could not delete the bench's RabbitMQ queues: {e:#}");
            return;
        }
    };
    let ch = match conn.create_channel().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warning: could not delete the bench's RabbitMQ queues: {e}");
            return;
        }
    };
    for q in queues {
        if let Err(e) = ch
            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await
        {
            eprintln!("warning: could not delete the RabbitMQ queue {q}: {e}");
            break;
        }
    }
    let _ = ch.close(200, "bench done".into()).await;
    let _ = conn.close(200, "bench done".into()).await;
}
