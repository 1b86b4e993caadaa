//! Bounded HTTP load: `concurrency` tasks send requests back to back for a fixed time, each
//! recording its latencies in an HDR histogram.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

/// Builds the URL of the next request.
pub type UrlGen = Arc<dyn Fn(&mut StdRng) -> String + Send + Sync>;

/// Builds the body of the next POST; `None` ends the task (a used-up pool of signed requests).
pub type BodyGen = Arc<dyn Fn(&mut StdRng) -> Option<String> + Send + Sync>;

/// How an answer is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Any 2xx answer.
    Ok,
    /// A 2xx answer `{"results": [[…]]}`; its items are counted, and none is "empty".
    Results,
    /// A SOAP answer with StatusKode 20; the UUIDs of an `IdListe` are counted as items.
    Soap,
    /// A 2xx answer holding this element (`PersonLookupResponse`).
    Element(&'static str),
}

/// One phase of load.
pub struct Phase {
    pub key: &'static str,
    pub title: &'static str,
    pub expect: Expect,
    pub url: UrlGen,
    /// POST these bodies (SOAP) instead of GET.
    pub body: Option<BodyGen>,
}

/// Error samples kept per phase.
const ERROR_SAMPLES: usize = 5;
/// Highest latency the histograms track (longer ones are clamped), in microseconds.
const MAX_LATENCY_US: u64 = 120_000_000;

/// What a phase measured.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    pub key: &'static str,
    pub title: &'static str,
    pub expect: Expect,
    /// Requests that got an answer or failed (all of them).
    pub requests: u64,
    /// Non-2xx answers, transport failures and unparsable result bodies.
    pub errors: u64,
    /// 2xx answers with no results ([`Expect::Results`] only).
    pub empty: u64,
    /// Items in the results of 2xx answers ([`Expect::Results`] only).
    pub items: u64,
    pub elapsed: Duration,
    /// Latencies in microseconds.
    pub hist: Histogram<u64>,
    pub error_samples: Vec<String>,
    /// CPU use during the phase, when it could be read.
    pub cpu: Option<super::cpu::Usage>,
    /// The server's memory after the phase.
    pub mem: Option<super::server::Mem>,
}

impl PhaseResult {
    fn new(phase: &Phase) -> PhaseResult {
        PhaseResult {
            key: phase.key,
            title: phase.title,
            expect: phase.expect,
            requests: 0,
            errors: 0,
            empty: 0,
            items: 0,
            elapsed: Duration::ZERO,
            hist: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds"),
            error_samples: Vec::new(),
            cpu: None,
            mem: None,
        }
    }

    fn merge(&mut self, other: PhaseResult) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.empty += other.empty;
        self.items += other.items;
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        for s in other.error_samples {
            if self.error_samples.len() < ERROR_SAMPLES {
                self.error_samples.push(s);
            }
        }
    }

    fn secs(&self) -> f64 {
        self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Successful (2xx) requests per second.
    pub fn req_per_s(&self) -> f64 {
        (self.requests - self.errors) as f64 / self.secs()
    }

    /// Result items per second (objects for a list, hits for a search).
    pub fn items_per_s(&self) -> f64 {
        self.items as f64 / self.secs()
    }

    /// Latency at quantile `q`, in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.hist.max() as f64 / 1000.0
    }

    pub fn mean_ms(&self) -> f64 {
        self.hist.mean() / 1000.0
    }

    /// Mean items per successful answer.
    pub fn mean_items(&self) -> f64 {
        let ok = self.requests - self.errors;
        if ok == 0 {
            0.0
        } else {
            self.items as f64 / ok as f64
        }
    }

    pub fn to_json(&self) -> Value {
        let r2 = |x: f64| (x * 100.0).round() / 100.0;
        let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
        let mut v = json!({
            "title": self.title,
            "requests": self.requests,
            "seconds": r3(self.elapsed.as_secs_f64()),
            "req_per_s": r2(self.req_per_s()),
            "p50_ms": r3(self.ms(0.5)),
            "p90_ms": r3(self.ms(0.9)),
            "p99_ms": r3(self.ms(0.99)),
            "max_ms": r3(self.max_ms()),
            "mean_ms": r3(self.mean_ms()),
            "errors": self.errors,
        });
        if self.expect != Expect::Ok {
            v["items_per_s"] = json!(r2(self.items_per_s()));
            v["mean_items"] = json!(r2(self.mean_items()));
            v["empty"] = json!(self.empty);
        }
        if let Some(c) = &self.cpu {
            v["cpu"] = c.to_json(self.elapsed.as_secs_f64(), self.requests);
        }
        if let Some(m) = self.mem {
            v["server_mem_after"] = json!({
                "rss_mb": r2(m.rss),
                "peak_rss_mb": r2(m.hwm),
                "rss_anon_mb": r2(m.anon),
                "rss_file_mb": r2(m.file),
            });
        }
        if !self.error_samples.is_empty() {
            v["error_samples"] = json!(self.error_samples);
        }
        v
    }
}

/// `{"results": [[…], …]}`, counting the items without building them.
#[derive(Deserialize)]
struct Results {
    results: Vec<Vec<IgnoredAny>>,
}

/// Run `phase` with `concurrency` tasks for `duration`. Requests started before the deadline
/// are finished; the elapsed time runs until the last one is.
pub async fn run(
    client: &reqwest::Client,
    phase: &Phase,
    concurrency: usize,
    duration: Duration,
    seed: u64,
) -> PhaseResult {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for t in 0..concurrency {
        let client = client.clone();
        let url = Arc::clone(&phase.url);
        let body = phase.body.clone();
        let mut res = PhaseResult::new(phase);
        let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(t as u64));
        let expect = phase.expect;
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let u = url(&mut rng);
                let b = match &body {
                    Some(g) => match g(&mut rng) {
                        Some(b) => Some(b),
                        None => break,
                    },
                    None => None,
                };
                let t0 = Instant::now();
                let outcome = request(&client, &u, b, expect).await;
                let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                res.hist.saturating_record(us.max(1));
                res.requests += 1;
                match outcome {
                    Ok(None) => {}
                    Ok(Some(0)) => res.empty += 1,
                    Ok(Some(n)) => res.items += n,
                    Err(e) => {
                        res.errors += 1;
                        if res.error_samples.len() < ERROR_SAMPLES {
                            res.error_samples.push(format!("GET {u}: {e}"));
                        }
                    }
                }
            }
            res
        }));
    }
    let mut total = PhaseResult::new(phase);
    for t in tasks {
        match t.await {
            Ok(r) => total.merge(r),
            Err(e) => {
                total.errors += 1;
                total.error_samples.push(format!("a load task failed: {e}"));
            }
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// One request: `Ok(None)` for a good answer that is not counted, `Ok(Some(items))` for a good
/// result list, `Err` for a non-2xx answer, a transport failure or a malformed result body.
async fn request(
    client: &reqwest::Client,
    url: &str,
    body: Option<String>,
    expect: Expect,
) -> Result<Option<u64>, String> {
    let req = match body {
        Some(b) => client
            .post(url)
            .header("content-type", "application/soap+xml; charset=utf-8")
            .body(b),
        None => client.get(url),
    };
    let resp = req
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| format!("{status}, body failed: {e}"))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return Err(format!("{status}: {text}"));
    }
    match expect {
        Expect::Ok => Ok(None),
        Expect::Results => {
            let r: Results = serde_json::from_slice(&body)
                .map_err(|e| format!("{status} with a body that is not a result list: {e}"))?;
            Ok(Some(r.results.iter().map(|v| v.len() as u64).sum()))
        }
        Expect::Soap => {
            let text = std::str::from_utf8(&body).map_err(|e| format!("{status}: {e}"))?;
            if !text.contains("<sd:StatusKode>20</sd:StatusKode>") {
                let t = &text[..text.len().min(400)];
                return Err(format!("{status} without StatusKode 20: {t}"));
            }
            Ok(text
                .split_once("<sd:IdListe>")
                .map(|(_, ids)| ids.matches("</sd:UUIDIdentifikator>").count() as u64))
        }
        Expect::Element(navn) => {
            let text = std::str::from_utf8(&body).map_err(|e| format!("{status}: {e}"))?;
            if !text.contains(&format!("<{navn}")) {
                let t = &text[..text.len().min(400)];
                return Err(format!("{status} without {navn}: {t}"));
            }
            Ok(None)
        }
    }
}
