//! `GET /metrics`: Prometheus text exposition format (version 0.0.4).
//!
//! It needs the admin bearer token (`<data-dir>/admin-token`; Prometheus:
//! `authorization: {credentials_file: …}`): the per-dueslag series name receivers' dueslag.
//!
//! - Beskedfordeler: messages accepted, duplicates, leveringer distributed, delivered, retried,
//!   dead-lettered, refused (counters); depth (Klar), fejlkø size and age of the oldest waiting
//!   message per dueslag (gauges); the delivery-latency histogram when push delivery records one;
//!   change events of Organisation/Klassifikation objects published, received by nobody, lost.
//! - STS: assertion validations answered from the cache and verified in full.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::admin::Admin;

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

async fn metrics(_: Admin, State(st): State<AppState>) -> Response {
    let mut out = String::new();
    let m = &st.beskedfordeler.metrics;
    for (name, help, v) in [
        (
            "fki_beskedfordeler_accepted_total",
            "Messages accepted (new BeskedIds, stored durably)",
            &m.accepted,
        ),
        (
            "fki_beskedfordeler_duplicates_total",
            "Messages whose BeskedId was already stored (answered 20, not distributed again)",
            &m.duplicates,
        ),
        (
            "fki_beskedfordeler_distributed_total",
            "Leveringer created (message x dueslag)",
            &m.distributed,
        ),
        (
            "fki_beskedfordeler_delivered_total",
            "Leveringer acknowledged by their receiver",
            &m.delivered,
        ),
        (
            "fki_beskedfordeler_retried_total",
            "Failed push attempts",
            &m.retried,
        ),
        (
            "fki_beskedfordeler_dead_lettered_total",
            "Leveringer moved to a fejlkoe",
            &m.dead_lettered,
        ),
        (
            "fki_beskedfordeler_refused_total",
            "Afsend requests refused (StatusKode 4x/5x)",
            &m.refused,
        ),
        (
            "fki_beskedfordeler_oio_events_published_total",
            "Change events of Organisation/Klassifikation objects stored for their dueslag",
            &m.oio_events_published,
        ),
        (
            "fki_beskedfordeler_oio_events_unreceived_total",
            "Change events of Organisation/Klassifikation objects no dueslag receives (not stored)",
            &m.oio_events_unreceived,
        ),
        (
            "fki_beskedfordeler_oio_events_lost_total",
            "Change events of Organisation/Klassifikation objects lost (queue full or storing failed)",
            &m.oio_events_lost,
        ),
    ] {
        counter(&mut out, name, help, v.load(Relaxed));
    }
    counter(
        &mut out,
        "fki_beskedfordeler_group_commits_total",
        "Group commits of accepted messages (messages per commit: (accepted + duplicates) / this)",
        m.group_commits.load(Relaxed),
    );
    out.push_str(
        "# HELP fki_beskedfordeler_group_commit_seconds How long the store took for one group commit\n",
    );
    out.push_str(
        &m.group_commit_time
            .prometheus("fki_beskedfordeler_group_commit_seconds"),
    );
    out.push_str(
        "# HELP fki_beskedfordeler_delivery_latency_seconds Distribution to acknowledged push delivery\n",
    );
    out.push_str(
        &m.delivery_latency
            .prometheus("fki_beskedfordeler_delivery_latency_seconds"),
    );

    counter(
        &mut out,
        "fki_optagelse_optaget_total",
        "Calls and deliveries recorded in the audit log",
        st.optager.optaget.load(Relaxed),
    );
    counter(
        &mut out,
        "fki_optagelse_tabt_total",
        "Call and delivery records dropped (queue full or storing failed)",
        st.optager.tabt.load(Relaxed),
    );

    let store = &st.beskedfordeler.store;
    match store.list_dueslag(None).await {
        Ok(dueslag) => {
            let nu = fki_oio::time::now();
            let mut depth = String::new();
            let mut fejlkoe = String::new();
            let mut age = String::new();
            for d in dueslag {
                let Ok(s) = store.status(d.uuid, nu).await else {
                    continue;
                };
                let labels = format!(
                    "dueslag=\"{}\",myndighed=\"{}\",levering=\"{}\"",
                    d.uuid,
                    d.myndighed,
                    d.levering.as_str()
                );
                let _ = writeln!(
                    depth,
                    "fki_beskedfordeler_dueslag_depth{{{labels}}} {}",
                    s.klar
                );
                let _ = writeln!(
                    fejlkoe,
                    "fki_beskedfordeler_dueslag_fejlkoe{{{labels}}} {}",
                    s.fejlkoe
                );
                let alder = s
                    .aeldste_klar_fordelt
                    .map_or(0.0, |t| (nu - t).max(0) as f64 / 1e6);
                let _ = writeln!(
                    age,
                    "fki_beskedfordeler_dueslag_oldest_age_seconds{{{labels}}} {alder}"
                );
            }
            let _ = write!(
                out,
                "# HELP fki_beskedfordeler_dueslag_depth Messages waiting in a dueslag\n\
                 # TYPE fki_beskedfordeler_dueslag_depth gauge\n{depth}\
                 # HELP fki_beskedfordeler_dueslag_fejlkoe Messages in a dueslag's fejlkoe\n\
                 # TYPE fki_beskedfordeler_dueslag_fejlkoe gauge\n{fejlkoe}\
                 # HELP fki_beskedfordeler_dueslag_oldest_age_seconds Age of the oldest waiting message (0 when empty)\n\
                 # TYPE fki_beskedfordeler_dueslag_oldest_age_seconds gauge\n{age}"
            );
        }
        Err(e) => tracing::error!(error = %e, "metrics: cannot list dueslag"),
    }

    let (hits, misses) = st.sts.assertions.counts();
    counter(
        &mut out,
        "fki_sts_assertion_cache_hits_total",
        "Token validations answered from the verified-assertion cache",
        hits,
    );
    counter(
        &mut out,
        "fki_sts_assertion_verifications_total",
        "Token validations that verified the assertion's XML signature in full",
        misses,
    );
    let mut r = (StatusCode::OK, out).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}
