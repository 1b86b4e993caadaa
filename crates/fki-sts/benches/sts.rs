//! Throughput of the STS core, measured in one run beside the raw RSA-2048 rate of the same
//! machine: tokens issued/s, token validations/s, service-request verifications/s, and
//! aws-lc-rs RSA-2048 PKCS#1 SHA-256 signs/s and verifies/s. Each XML operation costs one RSA
//! operation plus XML work, so the ratio shows the XML overhead.
//!
//! `cargo bench -p fki-sts --bench sts` (release profile) for real numbers; set
//! `FKI_BENCH_SECONDS` (default 2) for the time spent per measurement.

use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair, UnparsedPublicKey};
use chrono::Utc;
use fki_sts::bpp::{Privilege, PrivilegeList};
use fki_sts::ca::Ca;
use fki_sts::saml::{self, AssertionSpec, StsKey};
use fki_sts::wssec::{self, WsSecConfig};

fn rate(name: &str, budget: Duration, mut op: impl FnMut()) {
    op(); // warm up
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        op();
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<40} {:>10.1}/s  ({n} in {secs:.2} s)",
        n as f64 / secs
    );
}

/// `op` on `threads` threads at once for `budget`; the summed rate.
fn rate_threads(name: &str, threads: usize, budget: Duration, op: impl Fn() + Sync) {
    op(); // warm up
    let start = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while start.elapsed() < budget {
                        op();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    });
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<40} {:>10.1}/s  ({total} in {secs:.2} s, {threads} threads)",
        total as f64 / secs
    );
}

fn main() {
    let budget = Duration::from_secs_f64(
        std::env::var("FKI_BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2.0),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::load_or_create(dir.path()).expect("CA");
    let system = ca
        .issue_system_certificate("Benchkommune", "12345678")
        .expect("system certificate");
    let sts = StsKey {
        issuer: "https://sts.fki.bench".into(),
        cert_der: ca.sts().cert_der.clone(),
        key_pem: ca.sts().key_pem.clone(),
    };
    let audience = "http://stoettesystemerne.dk/service/organisation/3";
    let privileges = PrivilegeList::for_cvr(
        "12345678",
        &[Privilege {
            role: "http://fki.bench/roles/x/1".into(),
            constraints: vec![],
        }],
    );
    let trusted = vec![sts.cert_der.clone()];

    let issue = || {
        saml::issue_assertion(&AssertionSpec::new(
            &sts,
            system.cert_der(),
            audience,
            "12345678",
            &privileges,
            Utc::now(),
        ))
        .expect("issue")
    };
    let token = issue();
    let envelope = String::from(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header>\
<MessageID xmlns=\"http://www.w3.org/2005/08/addressing\">urn:uuid:1</MessageID></soap:Header>\
<soap:Body><x:Op xmlns:x=\"urn:x\">1</x:Op></soap:Body></soap:Envelope>",
    );
    let request = wssec::sign_service_request(&envelope, &token.xml, system.key_pem(), Utc::now())
        .expect("sign request");
    let config = WsSecConfig::default();

    println!("fki-sts benchmark ({} s per line)", budget.as_secs_f64());
    rate("issue assertion (sign)", budget, || {
        std::hint::black_box(issue());
    });
    rate("verify assertion", budget, || {
        std::hint::black_box(
            saml::verify_assertion(
                &token.xml,
                &trusted,
                &sts.issuer,
                audience,
                Utc::now(),
                chrono::Duration::minutes(5),
            )
            .expect("verify"),
        );
    });
    let cache = saml::AssertionCache::default();
    let validate_known = || {
        std::hint::black_box(
            cache
                .verify(
                    &token.xml,
                    &trusted,
                    &sts.issuer,
                    audience,
                    Utc::now(),
                    chrono::Duration::minutes(5),
                )
                .expect("verify"),
        );
    };
    rate(
        "validate a known token (AssertionCache)",
        budget,
        validate_known,
    );
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    rate_threads(
        "validate a known token (AssertionCache)",
        threads,
        budget,
        validate_known,
    );
    let cached_config = WsSecConfig {
        assertion_cache: Some(std::sync::Arc::new(saml::AssertionCache::default())),
        ..WsSecConfig::default()
    };
    rate("verify service request, token known", budget, || {
        std::hint::black_box(
            wssec::verify_service_request(
                request.as_bytes(),
                &trusted,
                &sts.issuer,
                audience,
                Utc::now(),
                &cached_config,
            )
            .expect("verify request"),
        );
    });
    rate_threads("issue assertion (sign)", threads, budget, || {
        std::hint::black_box(issue());
    });
    rate("verify service request (2 RSA verifies)", budget, || {
        std::hint::black_box(
            wssec::verify_service_request(
                request.as_bytes(),
                &trusted,
                &sts.issuer,
                audience,
                Utc::now(),
                &config,
            )
            .expect("verify request"),
        );
    });

    // raw RSA-2048 with the STS key
    let der = fki_sts::ca::pem_to_der(&sts.key_pem, "PRIVATE KEY").expect("key");
    let key = RsaKeyPair::from_pkcs8(&der).expect("RSA key");
    let rng = SystemRandom::new();
    let msg = [7u8; 64];
    let mut sig = vec![0u8; key.public_modulus_len()];
    rate("raw RSA-2048 sign (aws-lc-rs)", budget, || {
        key.sign(&signature::RSA_PKCS1_SHA256, &rng, &msg, &mut sig)
            .expect("sign");
    });
    let public = UnparsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        key.public_key().as_ref().to_vec(),
    );
    rate("raw RSA-2048 verify (aws-lc-rs)", budget, || {
        public.verify(&msg, &sig).expect("verify");
    });
    rate_threads("raw RSA-2048 sign (aws-lc-rs)", threads, budget, || {
        let mut sig = vec![0u8; key.public_modulus_len()];
        key.sign(&signature::RSA_PKCS1_SHA256, &rng, &msg, &mut sig)
            .expect("sign");
    });
    rate_threads("raw RSA-2048 verify (aws-lc-rs)", threads, budget, || {
        public.verify(&msg, &sig).expect("verify");
    });
}
