//! The SOAP phases of `fki bench oio`: Organisation `laes` and `soeg` over SOAP 1.2 with
//! WS-Security, against the same server and data as the REST phases, so the two doors are
//! measured side by side.
//!
//! Before the server starts, a system certificate is issued by the data directory's CA and
//! registered with an active agreement for the Organisation service and the demo CVR (as
//! `fki system` / `fki aftale` would). Every request is signed by its holder-of-key, with its own
//! `MessageID` (the server refuses replays), so the server verifies a signature per request. The
//! signing is done before each phase, on all cores, into a pool of requests the phase then sends:
//! the client's RSA signing does not compete with the server for the CPU while measuring. A phase
//! that uses up its pool ends early; its rate is still over the time it ran.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use chrono::Utc;
use fki_server::admin;
use fki_server::sts::ENTITY_ORGANISATION;
use fki_store::adgang::SystemRolle;
use fki_sts::bpp::PrivilegeList;
use fki_sts::ca::Issued;
use fki_sts::saml::{self, AssertionSpec, StsKey};
use rand::SeedableRng;
use rand::rngs::StdRng;
use uuid::Uuid;

use super::http::BodyGen;

const NS_ENHED: &str = "http://stoettesystemerne.dk/organisation/organisationenhed/6/";
const NS_SD: &str = "urn:oio:sagdok:3.0.0";

/// A registered system that signs SOAP requests for one service.
pub struct SoapClient {
    cert: Issued,
    key: StsKey,
    pub cvr: String,
    /// The service's entity ID (the tokens' audience).
    pub entity_id: String,
    pub system: Uuid,
    /// The system's active agreement for the service.
    pub aftale: Uuid,
}

/// Register the bench's system in the store of `data_dir` / `db_url`, before the server starts,
/// with an agreement for the Organisation service.
pub async fn prepare(data_dir: &Path, db_url: Option<&str>) -> anyhow::Result<SoapClient> {
    prepare_for(data_dir, db_url, ENTITY_ORGANISATION).await
}

/// As [`prepare`], for the service `entity_id`.
pub async fn prepare_for(
    data_dir: &Path,
    db_url: Option<&str>,
    entity_id: &str,
) -> anyhow::Result<SoapClient> {
    let stores = fki_store::open_stores(db_url, data_dir)
        .await
        .context("opening the store to register the SOAP benchmark's system")?;
    let dir = data_dir.to_path_buf();
    let ca =
        Arc::new(tokio::task::spawn_blocking(move || fki_server::admin::load_ca(&dir)).await??);
    let cvr = fki_demo::DEMO_CVR.to_owned();
    // The registry operations `fki system` and `fki aftale` use.
    let adgang = stores.adgang.as_ref();
    let (system, cert) = admin::issue_system(
        adgang,
        ca.clone(),
        "fki bench",
        &cvr,
        SystemRolle::Anvendersystem,
    )
    .await
    .map_err(|e| anyhow::anyhow!("registering the benchmark's system: {e}"))?;
    let ny = admin::NyAftale {
        system: system.uuid.to_string(),
        service: entity_id.to_owned(),
        cvr: cvr.clone(),
        roller: vec![],
        dataafgraensninger: vec![],
    };
    let aftale = admin::create_aftale(adgang, &ny, true)
        .await
        .map_err(|e| anyhow::anyhow!("the benchmark's service agreement: {e}"))?;
    let key = StsKey {
        issuer: fki_server::sts::DEFAULT_ISSUER.to_owned(),
        cert_der: ca.sts().cert_der.clone(),
        key_pem: ca.sts().key_pem.clone(),
    };
    Ok(SoapClient {
        cert,
        key,
        cvr,
        entity_id: entity_id.to_owned(),
        system: system.uuid,
        aftale: aftale.uuid,
    })
}

impl SoapClient {
    /// `n` signed requests, each a SOAP 1.2 envelope around `payload(rng)`, signed on every
    /// core.
    pub fn pool(
        &self,
        n: usize,
        seed: u64,
        payload: &(dyn Fn(&mut StdRng) -> String + Sync),
    ) -> anyhow::Result<Vec<String>> {
        self.pool_in(n, seed, payload, &envelope)
    }

    /// As [`SoapClient::pool`], with the envelope `wrap` makes around each payload.
    pub fn pool_in(
        &self,
        n: usize,
        seed: u64,
        payload: &(dyn Fn(&mut StdRng) -> String + Sync),
        wrap: &(dyn Fn(&str) -> String + Sync),
    ) -> anyhow::Result<Vec<String>> {
        let assertion = saml::issue_assertion(&AssertionSpec::new(
            &self.key,
            self.cert.cert_der(),
            &self.entity_id,
            &self.cvr,
            &PrivilegeList::for_cvr(&self.cvr, &[]),
            Utc::now(),
        ))?
        .xml;
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let per = n.div_ceil(threads);
        let parts: Vec<anyhow::Result<Vec<String>>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|t| {
                    let assertion = &assertion;
                    s.spawn(move || {
                        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(t as u64));
                        let mut out = Vec::with_capacity(per);
                        for _ in 0..per {
                            let body = wrap(&payload(&mut rng));
                            out.push(fki_sts::wssec::sign_service_request(
                                &body,
                                assertion,
                                self.cert.key_pem(),
                                Utc::now(),
                            )?);
                        }
                        Ok(out)
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().expect("a signing thread panicked"))
                .collect()
        });
        let mut all = Vec::with_capacity(n);
        for p in parts {
            all.extend(p?);
        }
        all.truncate(n);
        Ok(all)
    }
}

fn envelope(payload: &str) -> String {
    format!(
        "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Header>\
<Action xmlns=\"http://www.w3.org/2005/08/addressing\">http://kombit.dk/sts/organisation/organisationenhed/x</Action>\
<MessageID xmlns=\"http://www.w3.org/2005/08/addressing\">urn:uuid:{}</MessageID>\
<To xmlns=\"http://www.w3.org/2005/08/addressing\">https://organisation.eksterntest-stoettesystemerne.dk/organisation/organisationenhed/6/</To>\
</env:Header><env:Body>{payload}</env:Body></env:Envelope>",
        Uuid::new_v4()
    )
}

/// `LaesInput` for the enhed `u`.
pub fn laes(u: Uuid) -> String {
    format!(
        "<o:LaesInput xmlns:o=\"{NS_ENHED}\" xmlns:sd=\"{NS_SD}\"><sd:UUIDIdentifikator>{u}</sd:UUIDIdentifikator></o:LaesInput>"
    )
}

/// `SoegInput` for enheder whose BrugervendtNoegleTekst matches `bvn` (`%` a wildcard).
pub fn soeg_bvn(bvn: &str) -> String {
    format!(
        "<o:SoegInput xmlns:o=\"{NS_ENHED}\" xmlns:sd=\"{NS_SD}\"><o:AttributListe><o:Egenskab>\
<sd:BrugervendtNoegleTekst>{}</sd:BrugervendtNoegleTekst></o:Egenskab></o:AttributListe>\
<o:TilstandListe/><o:RelationListe/></o:SoegInput>",
        fki_sts::xml::escape_text(bvn)
    )
}

/// A body generator handing out `pool` once, in order; `None` when it is used up.
pub fn from_pool(pool: Vec<String>) -> BodyGen {
    let pool = Arc::new(pool);
    let next = Arc::new(AtomicUsize::new(0));
    Arc::new(move |_rng: &mut StdRng| {
        let i = next.fetch_add(1, Ordering::Relaxed);
        pool.get(i).cloned()
    })
}
