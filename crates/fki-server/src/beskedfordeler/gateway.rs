//! The AMQP door KOMBIT's clients use (item 6 of issue 4): TLS (port 5671 in production,
//! `--amqp-gateway-listen`), virtual host `BF`, SASL mechanism `EXTERNAL` whose response is
//! the SAML assertion XML itself (KOMBIT's `TokenSaslConfig`; python-serviceplatformen's
//! `message_broker.py` does the same with pika). Stock RabbitMQ cannot check that, so this
//! gateway stands in front of it:
//!
//! 1. terminates TLS with fki's server certificate (a client certificate is optional; if one is
//!    presented it must be the assertion's holder-of-key certificate);
//! 2. reads the client's protocol header and connects upstream (`FKI_AMQP_URL`'s host), takes
//!    RabbitMQ's `Connection.Start` and offers the client the same server properties with the
//!    mechanisms `EXTERNAL PLAIN`;
//! 3. checks the client's `Connection.StartOk`: `EXTERNAL` → the assertion (XML, or base64 of
//!    it) must verify (signature, issuer, validity) for `bfo_afsend/2` or `bfo_modtag/2` with an
//!    active agreement of its system for its CVR; `PLAIN` (local use) → username the system's
//!    UUID, password an access token of that system for one of those services. Anything else is
//!    answered `Connection.Close` 403 ACCESS_REFUSED and recorded in the audit log;
//! 4. registers a one-time RabbitMQ user for the session ([`super::rabbitmq_auth`]) whose rights
//!    follow from the token, and logs in upstream with it (PLAIN): RabbitMQ's HTTP auth backend
//!    asks fki about every vhost, queue and exchange the client touches;
//! 5. relays `Tune`, `TuneOk`, `Open` (any virtual host the client names, e.g. `BF`, is mapped to
//!    fki's upstream vhost) and `OpenOk`, then every frame unchanged in both directions;
//! 6. closes both connections when the token expires (or either side closes).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use uuid::Uuid;

use super::rabbitmq_auth::Bevilling;
use super::{BFO_AFSEND, BFO_MODTAG};
use crate::AppState;
use crate::sts::Refusal;

const PROTOCOL_HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";
const FRAME_METHOD: u8 = 1;
const FRAME_END: u8 = 0xCE;
/// Largest handshake frame accepted (an assertion is a few KiB).
const MAX_HANDSHAKE_FRAME: u32 = 1024 * 1024;
/// How long the handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// One AMQP frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub typ: u8,
    pub channel: u16,
    pub payload: Vec<u8>,
}

pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: u32) -> anyhow::Result<Frame> {
    let mut head = [0u8; 7];
    r.read_exact(&mut head).await?;
    let typ = head[0];
    let channel = u16::from_be_bytes([head[1], head[2]]);
    let size = u32::from_be_bytes([head[3], head[4], head[5], head[6]]);
    if size > max {
        bail!("frame of {size} bytes during the handshake");
    }
    let mut payload = vec![0u8; size as usize];
    r.read_exact(&mut payload).await?;
    let mut end = [0u8; 1];
    r.read_exact(&mut end).await?;
    if end[0] != FRAME_END {
        bail!("frame without frame-end octet");
    }
    Ok(Frame {
        typ,
        channel,
        payload,
    })
}

pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, f: &Frame) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(f.payload.len() + 8);
    out.push(f.typ);
    out.extend_from_slice(&f.channel.to_be_bytes());
    out.extend_from_slice(&(f.payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&f.payload);
    out.push(FRAME_END);
    w.write_all(&out).await?;
    w.flush().await
}

/// Reading the arguments of a method frame.
struct Args<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Args<'a> {
    fn new(b: &'a [u8]) -> Self {
        Args { b, pos: 0 }
    }
    fn take(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        let s = self
            .b
            .get(self.pos..self.pos + n)
            .context("method frame too short")?;
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> anyhow::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> anyhow::Result<u16> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> anyhow::Result<u32> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn shortstr(&mut self) -> anyhow::Result<&'a [u8]> {
        let n = self.u8()? as usize;
        self.take(n)
    }
    fn longstr(&mut self) -> anyhow::Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    /// A field table, raw (with its length prefix).
    fn table_raw(&mut self) -> anyhow::Result<&'a [u8]> {
        let start = self.pos;
        let n = self.u32()? as usize;
        self.take(n)?;
        Ok(&self.b[start..self.pos])
    }
}

fn shortstr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(s.len().min(255) as u8);
    out.extend_from_slice(&s[..s.len().min(255)]);
}

fn longstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn method(class: u16, method: u16, args: &[u8]) -> Frame {
    let mut payload = Vec::with_capacity(args.len() + 4);
    payload.extend_from_slice(&class.to_be_bytes());
    payload.extend_from_slice(&method.to_be_bytes());
    payload.extend_from_slice(args);
    Frame {
        typ: FRAME_METHOD,
        channel: 0,
        payload,
    }
}

/// The (class, method) of a method frame on channel 0, and its arguments.
fn expect_method(f: &Frame, class: u16, m: u16) -> anyhow::Result<&[u8]> {
    if f.typ != FRAME_METHOD || f.channel != 0 || f.payload.len() < 4 {
        bail!("expected a connection method frame");
    }
    let c = u16::from_be_bytes([f.payload[0], f.payload[1]]);
    let mm = u16::from_be_bytes([f.payload[2], f.payload[3]]);
    if (c, mm) == (10, 50) {
        let mut a = Args::new(&f.payload[4..]);
        let code = a.u16().unwrap_or(0);
        let text = a
            .shortstr()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        bail!("connection closed by the peer: {code} {text}");
    }
    if (c, mm) != (class, m) {
        bail!("expected method {class}.{m}, got {c}.{mm}");
    }
    Ok(&f.payload[4..])
}

/// `Connection.Close` with a reply code and text.
fn close(code: u16, text: &str) -> Frame {
    let mut a = Vec::new();
    a.extend_from_slice(&code.to_be_bytes());
    shortstr(&mut a, text.as_bytes());
    a.extend_from_slice(&0u16.to_be_bytes());
    a.extend_from_slice(&0u16.to_be_bytes());
    method(10, 50, &a)
}

/// Where fki's RabbitMQ is, from `amqp://user:pass@host:port/vhost`.
pub fn upstream_addr(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("amqp://")
        .context("FKI_AMQP_URL must start with amqp://")?;
    let hostport = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hostport = hostport.split('/').next().unwrap_or(hostport);
    Ok(if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5672")
    })
}

/// Accept gateway connections on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: AppState,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "AMQP gateway: accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => {
                if *shutdown.borrow() { return Ok(()); }
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = session(acceptor, tcp, peer, state, shutdown).await {
                tracing::info!(%peer, error = %e, "AMQP gateway session ended");
            }
        });
    }
}

/// Who the client is, after the SASL step.
struct Klient {
    bevilling: Bevilling,
    udloeber: Instant,
}

async fn autentificer(
    state: &AppState,
    mechanism: &[u8],
    response: &[u8],
    client_cert_sha: Option<&str>,
) -> Result<Klient, Refusal> {
    let sts = &state.sts;
    let afvist = |code: &str, reason: &str| {
        Refusal::new(
            code,
            reason,
            fki_sts::fault::FaultCode::FailedAuthentication,
            axum::http::StatusCode::FORBIDDEN,
        )
    };
    match mechanism {
        b"EXTERNAL" => {
            let text = String::from_utf8_lossy(response);
            let xml = crate::sts::issue::decode_assertion(&text).ok_or_else(|| {
                afvist("bad_token", "the EXTERNAL response is not a SAML assertion")
            })?;
            let a = crate::sts::issue::verify_presented(sts, &xml, None)?;
            if a.audience != BFO_AFSEND && a.audience != BFO_MODTAG {
                return Err(afvist(
                    "token_wrong_audience",
                    &format!("the token is for {}, not the Beskedfordeler", a.audience),
                ));
            }
            let hok = fki_sts::ca::fingerprint_sha256(&a.hok_certificate_der);
            if let Some(c) = client_cert_sha
                && c != hok
            {
                return Err(crate::sts::issue::hok_mismatch());
            }
            let system = sts.token_holder(&hok).await?;
            let service = sts.own_service(&a.audience).await?;
            sts.active_agreements(system.uuid, service, &a.cvr).await?;
            let rest = (a.not_on_or_after - chrono::Utc::now())
                .to_std()
                .unwrap_or_default();
            Ok(Klient {
                bevilling: Bevilling {
                    system: system.uuid,
                    cvr: a.cvr,
                    audience: a.audience,
                    udloeber: Instant::now() + rest,
                },
                udloeber: Instant::now() + rest,
            })
        }
        b"PLAIN" => {
            let mut parts = response.split(|b| *b == 0);
            let _authzid = parts.next();
            let user = parts
                .next()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let pass = parts
                .next()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let system: Uuid = user.parse().map_err(|_| {
                afvist(
                    "bad_credentials",
                    "PLAIN: the username is the system's UUID",
                )
            })?;
            let e = sts.access_tokens.get(&pass).ok_or_else(|| {
                afvist(
                    "invalid_access_token",
                    "PLAIN: unknown or expired access token",
                )
            })?;
            if e.system != system {
                return Err(afvist(
                    "bad_credentials",
                    "PLAIN: the token belongs to another system",
                ));
            }
            if e.audience != BFO_AFSEND && e.audience != BFO_MODTAG {
                return Err(afvist(
                    "token_wrong_audience",
                    "PLAIN: the token is not for the Beskedfordeler",
                ));
            }
            sts.active_agreements(e.system, e.service, &e.cvr).await?;
            Ok(Klient {
                bevilling: Bevilling {
                    system,
                    cvr: e.cvr.clone(),
                    audience: e.audience.clone(),
                    udloeber: e.expires,
                },
                udloeber: e.expires,
            })
        }
        other => Err(afvist(
            "unsupported_mechanism",
            &format!(
                "SASL mechanism {} is not offered (EXTERNAL, PLAIN)",
                String::from_utf8_lossy(other)
            ),
        )),
    }
}

async fn session(
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    state: AppState,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let upstream_url = state
        .config
        .amqp_url
        .clone()
        .context("the AMQP gateway needs FKI_AMQP_URL")?;
    let mut client = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
        .await
        .context("TLS handshake timed out")??;
    let client_cert_sha = client
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| fki_sts::ca::fingerprint_sha256(c.as_ref()));

    let handshake = async {
        let mut header = [0u8; 8];
        client.read_exact(&mut header).await?;
        if &header != PROTOCOL_HEADER {
            // The spec: answer with the supported header and close.
            client.write_all(PROTOCOL_HEADER).await?;
            bail!("client does not speak AMQP 0-9-1");
        }
        let mut up = TcpStream::connect(upstream_addr(&upstream_url)?)
            .await
            .context("cannot reach RabbitMQ")?;
        up.write_all(PROTOCOL_HEADER).await?;
        let start = read_frame(&mut up, MAX_HANDSHAKE_FRAME).await?;
        let mut a = Args::new(expect_method(&start, 10, 10)?);
        let (major, minor) = (a.u8()?, a.u8()?);
        let server_properties = a.table_raw()?.to_vec();
        let mut args = vec![major, minor];
        args.extend_from_slice(&server_properties);
        longstr(&mut args, b"EXTERNAL PLAIN");
        longstr(&mut args, b"en_US");
        write_frame(&mut client, &method(10, 10, &args)).await?;

        let start_ok = read_frame(&mut client, MAX_HANDSHAKE_FRAME).await?;
        let mut a = Args::new(expect_method(&start_ok, 10, 11)?);
        let client_properties = a.table_raw()?.to_vec();
        let mechanism = a.shortstr()?.to_vec();
        let response = a.longstr()?.to_vec();
        let locale = a.shortstr()?.to_vec();
        let k = match autentificer(&state, &mechanism, &response, client_cert_sha.as_deref()).await
        {
            Ok(k) => k,
            Err(r) => {
                state.sts.audit_refusal("request_refused", &r, None).await;
                let _ = write_frame(
                    &mut client,
                    &close(403, &format!("ACCESS_REFUSED - {}", r.reason)),
                )
                .await;
                bail!("refused: {}", r.reason);
            }
        };
        let (bruger, kode) = state
            .beskedfordeler
            .amqp_adgange
            .registrer(k.bevilling.clone())
            .context("too many AMQP gateway sessions")?;
        let mut resp = vec![0u8];
        resp.extend_from_slice(bruger.as_bytes());
        resp.push(0);
        resp.extend_from_slice(kode.as_bytes());
        let mut args = client_properties;
        shortstr(&mut args, b"PLAIN");
        longstr(&mut args, &resp);
        shortstr(
            &mut args,
            if locale.is_empty() { b"en_US" } else { &locale },
        );
        write_frame(&mut up, &method(10, 11, &args)).await?;

        // Tune from RabbitMQ to the client, TuneOk back, then Open with the upstream vhost.
        let tune = read_frame(&mut up, MAX_HANDSHAKE_FRAME).await;
        let tune = match tune {
            Ok(t) => t,
            Err(e) => {
                state.beskedfordeler.amqp_adgange.fjern(&bruger);
                let _ = write_frame(
                    &mut client,
                    &close(403, "ACCESS_REFUSED - the broker refused the session"),
                )
                .await;
                return Err(e);
            }
        };
        if let Err(e) = expect_method(&tune, 10, 30) {
            state.beskedfordeler.amqp_adgange.fjern(&bruger);
            let _ = write_frame(
                &mut client,
                &close(403, "ACCESS_REFUSED - the broker refused the session"),
            )
            .await;
            return Err(e);
        }
        write_frame(&mut client, &tune).await?;
        let tune_ok = read_frame(&mut client, MAX_HANDSHAKE_FRAME).await?;
        expect_method(&tune_ok, 10, 31)?;
        write_frame(&mut up, &tune_ok).await?;
        let open = read_frame(&mut client, MAX_HANDSHAKE_FRAME).await?;
        let mut a = Args::new(expect_method(&open, 10, 40)?);
        let _vhost = a.shortstr()?;
        let rest = &a.b[a.pos..];
        let mut args = Vec::new();
        shortstr(
            &mut args,
            super::rabbitmq_auth::vhost_of(&upstream_url).as_bytes(),
        );
        args.extend_from_slice(rest);
        write_frame(&mut up, &method(10, 40, &args)).await?;
        let open_ok = read_frame(&mut up, MAX_HANDSHAKE_FRAME).await?;
        write_frame(&mut client, &open_ok).await?;
        if let Err(e) = expect_method(&open_ok, 10, 41) {
            state.beskedfordeler.amqp_adgange.fjern(&bruger);
            return Err(e);
        }
        anyhow::Ok((up, k, bruger))
    };
    let (mut up, k, bruger) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .context("AMQP handshake timed out")??;
    tracing::info!(
        %peer,
        system = %k.bevilling.system,
        cvr = %k.bevilling.cvr,
        service = %k.bevilling.audience,
        "AMQP gateway session open"
    );
    let resultat = tokio::select! {
        r = tokio::io::copy_bidirectional(&mut client, &mut up) => r.map(|_| ()).map_err(anyhow::Error::from),
        _ = tokio::time::sleep_until(k.udloeber.into()) => {
            tracing::info!(%peer, "AMQP gateway: the token expired; closing");
            Ok(())
        }
        _ = async { while shutdown.changed().await.is_ok() { if *shutdown.borrow() { break; } } } => Ok(()),
    };
    state.beskedfordeler.amqp_adgange.fjern(&bruger);
    let _ = client.shutdown().await;
    resultat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_addresses() {
        assert_eq!(
            upstream_addr("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap(),
            "127.0.0.1:5672"
        );
        assert_eq!(upstream_addr("amqp://rabbit/BF").unwrap(), "rabbit:5672");
        assert!(upstream_addr("http://x").is_err());
    }

    #[tokio::test]
    async fn frames_round_trip() {
        let f = close(403, "ACCESS_REFUSED - nej");
        let mut buf = Vec::new();
        write_frame(&mut buf, &f).await.unwrap();
        assert_eq!(*buf.last().unwrap(), FRAME_END);
        let back = read_frame(&mut buf.as_slice(), 1024).await.unwrap();
        assert_eq!(back, f);
        let err = expect_method(&back, 10, 11).unwrap_err().to_string();
        assert!(err.contains("403 ACCESS_REFUSED - nej"), "{err}");
        // an oversized frame is refused before it is read
        let mut big = vec![FRAME_METHOD, 0, 0];
        big.extend_from_slice(&(10_000u32).to_be_bytes());
        assert!(read_frame(&mut big.as_slice(), 1024).await.is_err());
    }
}
