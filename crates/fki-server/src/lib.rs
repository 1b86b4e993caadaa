//! # fki-server: the HTTP front doors of fki
//!
//! One [`start`] function builds the store, the engine and the router and serves them; `main`,
//! the tests and the benchmarks all go through it. Handlers are thin: they turn a request into an
//! engine call and the engine's result or [`fki_oio::OioError`] into LoRa's JSON.
//!
//! - [`rest`]: the LoRa-compatible OIO REST API (`/{service}/{class}[/{uuid}]`);
//! - [`meta`]: self-description (`/site-map`, `/version`, `/{service}/classes`, `…/fields`,
//!   `…/schema`) and the OpenAPI document with its browsable page (`/openapi.json`, `/docs`);
//! - [`error`]: the one place engine errors become HTTP responses;
//! - [`admin`]: the Adgangsstyring admin API (`/admin/…`, bearer token from
//!   `<data-dir>/admin-token`) and the registry operations the CLI shares;
//! - [`sts`]: the token service (SOAP and REST issue), token checks, the WS-Security layer;
//! - [`tls`]: the HTTPS listener (fki CA server certificate, optional client certificates).

pub mod admin;
pub mod beskedfordeler;
pub mod compliance;
pub mod cpr;
pub mod cvr;
pub mod error;
mod linger;
pub mod meta;
pub mod metrics;
pub mod optagelse;
pub mod organisation;
pub mod rest;
pub mod sagdokumentindeks;
pub mod sts;
pub mod tjenester;
pub mod tls;
pub mod ydelsesindeks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use fki_oio::Engine;
use fki_oio::store::Store;
use fki_store::Stores;
use fki_store::adgang::AdgangStore;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// Server configuration. `main` fills it from flags and `FKI_` variables; tests use
/// [`Config::for_test`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Plain HTTP listener.
    pub listen: SocketAddr,
    /// Directory for the SQLite file and other state.
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; `None` selects SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// Myndighed (CVR) owning objects written through the REST API when the request names none.
    pub myndighed: Option<String>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// HTTPS listener (mutual TLS with the fki CA); `None`: none.
    pub https_listen: Option<SocketAddr>,
    /// Host names (and IP addresses) of the HTTPS server certificate.
    pub tls_hostnames: Vec<String>,
    /// `--dev-open`: services accept requests without tokens (CVR from `X-FKI-Myndighed`);
    /// every request let through is logged at WARN.
    pub dev_open: bool,
    /// Lifetime of issued assertions.
    pub token_lifetime: std::time::Duration,
    /// `Issuer` of issued assertions.
    pub sts_issuer: String,
    /// Push delivery of the Beskedfordeler (timeouts, backoff, on/off).
    pub push: beskedfordeler::push::PushConfig,
    /// RabbitMQ (`amqp://user:password@host:5672/%2f`, or `amqps://…`) for the
    /// Beskedfordeler's AMQP side ([`beskedfordeler::amqp`]); `None`: no AMQP.
    pub amqp_url: Option<String>,
    /// The durable queue the AMQP afsend consumes, bound to `AFSEND_BESKED_EXCHANGE`.
    pub amqp_afsend_queue: String,
    /// The routing key of that binding (KOMBIT's senders publish with `""`).
    pub amqp_afsend_routing_key: String,
    /// The AMQP gateway for KOMBIT's clients (TLS, SASL EXTERNAL with the assertion;
    /// [`beskedfordeler::gateway`]); needs `amqp_url`. KOMBIT's port is 5671.
    pub amqp_gateway_listen: Option<SocketAddr>,
    /// An extra plain-HTTP listener serving only RabbitMQ's HTTP auth backend routes
    /// ([`beskedfordeler::rabbitmq_auth`]; they are on the main listener too).
    pub rabbitmq_auth_listen: Option<SocketAddr>,
    /// KOMBIT's SF1500 v6 schema folder (the `xsd/` with `6.0.STS-0/` and `common/`): served
    /// next to the generated WSDLs (`…/6/xsd/…`). fki does not ship KOMBIT's schemas.
    pub schema_dir: Option<PathBuf>,
    /// Days the audit log (tokens, refusals, and the recorded calls and deliveries,
    /// [`optagelse`]) is kept; 0: forever.
    pub optagelse_dage: u32,
}

impl Config {
    pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;
    /// Days the audit log and the recorded calls are kept by default.
    pub const DEFAULT_OPTAGELSE_DAGE: u32 = 90;

    /// A server on a free loopback port with its data in `data_dir`.
    pub fn for_test(data_dir: PathBuf, database_url: Option<String>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            database_url,
            myndighed: None,
            body_limit: Self::DEFAULT_BODY_LIMIT,
            https_listen: None,
            tls_hostnames: Self::default_tls_hostnames(),
            dev_open: true,
            token_lifetime: Self::DEFAULT_TOKEN_LIFETIME,
            sts_issuer: sts::DEFAULT_ISSUER.to_owned(),
            push: beskedfordeler::push::PushConfig::default(),
            amqp_url: None,
            amqp_afsend_queue: beskedfordeler::amqp::DEFAULT_AFSEND_QUEUE.to_owned(),
            amqp_afsend_routing_key: beskedfordeler::amqp::DEFAULT_AFSEND_ROUTING_KEY.to_owned(),
            amqp_gateway_listen: None,
            rabbitmq_auth_listen: None,
            schema_dir: None,
            optagelse_dage: Self::DEFAULT_OPTAGELSE_DAGE,
        }
    }

    /// As [`Config::for_test`], with the checks on and an HTTPS listener on a free port.
    pub fn for_test_secure(data_dir: PathBuf, database_url: Option<String>) -> Config {
        Config {
            https_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            dev_open: false,
            ..Self::for_test(data_dir, database_url)
        }
    }

    pub const DEFAULT_TOKEN_LIFETIME: std::time::Duration =
        std::time::Duration::from_secs(8 * 3600);

    /// [`tls::DEFAULT_HOSTNAMES`] as owned strings.
    pub fn default_tls_hostnames() -> Vec<String> {
        tls::DEFAULT_HOSTNAMES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub config: Arc<Config>,
    pub openapi: Arc<serde_json::Value>,
    /// The Adgangsstyring registries (same pools as the engine's store).
    pub adgang: Arc<dyn AdgangStore>,
    /// The local CA (`<data-dir>/ca`).
    pub ca: Arc<fki_sts::ca::Ca>,
    /// The secret the admin API wants as bearer token (`<data-dir>/admin-token`).
    pub admin_token: Arc<str>,
    pub sts: Arc<sts::Sts>,
    /// The Beskedfordeler (SF1460): distribution, its store and writer task.
    pub beskedfordeler: Arc<beskedfordeler::Beskedfordeler>,
    /// The engine's change listener publishing Organisation/Klassifikation changes to the
    /// Beskedfordeler ([`beskedfordeler::haendelser`]).
    pub haendelser: Arc<beskedfordeler::haendelser::OioHaendelser>,
    /// The CPR register (SF1520), read from `<data-dir>/cpr/*.jsonl` at start.
    pub cpr: cpr::CprRegister,
    /// The companies CVR Online (SF1530) answers from, read from `<data-dir>/cpr/*.jsonl` at
    /// start.
    pub cvr: Arc<fki_cpr::cvr::Virksomheder>,
    /// Records every call and delivery in the audit log ([`optagelse`]).
    pub optager: Arc<optagelse::Optager>,
}

/// A running server.
pub struct ServerHandle {
    pub addr: SocketAddr,
    /// Address of the HTTPS listener, if configured.
    pub https_addr: Option<SocketAddr>,
    /// Address of the AMQP gateway, if configured.
    pub amqp_gateway_addr: Option<SocketAddr>,
    /// Address of the extra RabbitMQ auth listener, if configured.
    pub rabbitmq_auth_addr: Option<SocketAddr>,
    pub engine: Engine,
    /// The handlers' state (tests mount extra routes on it).
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    https_task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The Beskedfordeler's push delivery (stops with the listeners).
    push_task: Option<tokio::task::JoinHandle<()>>,
    /// The Beskedfordeler's AMQP side, if configured (stops with the server).
    amqp_task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl ServerHandle {
    /// Base URL of the plain HTTP listener.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Base URL of the HTTPS listener (`https://localhost:<port>`), if configured.
    pub fn https_url(&self) -> Option<String> {
        self.https_addr
            .map(|a| format!("https://localhost:{}", a.port()))
    }

    /// Stop accepting, finish in-flight requests, and wait.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.wait().await
    }

    /// Wait until the server stops by itself (or forever).
    pub async fn wait(self) -> anyhow::Result<()> {
        let plain = self.task.await.context("server task panicked")?;
        if let Some(t) = self.https_task {
            t.await.context("HTTPS server task panicked")??;
        }
        // No request writes any more: publish the change events still queued.
        if !self
            .state
            .haendelser
            .toem(std::time::Duration::from_secs(10))
            .await
        {
            tracing::error!("change events still queued at shutdown are lost");
        }
        // The listeners are down (also when they stopped by themselves): stop pushing too.
        let _ = self.shutdown.send(true);
        if let Some(t) = self.push_task {
            t.await.context("push delivery task panicked")?;
        }
        if let Some(t) = self.amqp_task {
            t.await.context("AMQP task panicked")??;
        }
        plain
    }

    /// A sender that stops the server (for signal handlers).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Open the store configured in `config` (running migrations).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(open_stores(config).await?.oio)
}

/// Open the store configured in `config` (running migrations), with its Adgangsstyring view.
pub async fn open_stores(config: &Config) -> anyhow::Result<Stores> {
    fki_store::open_stores(config.database_url.as_deref(), &config.data_dir)
        .await
        .with_context(|| match &config.database_url {
            Some(_) => "while opening the PostgreSQL database of FKI_DATABASE_URL".to_owned(),
            None => format!(
                "while opening the SQLite database in {}",
                config.data_dir.display()
            ),
        })
}

/// The router with every front door.
pub fn app(state: AppState) -> Router {
    let limit = state.config.body_limit;
    // The services implementing KOMBIT's interfaces: exactly the table `tjenester` declares.
    // Each call to them is recorded (`optagelse`), attributed to its service.
    let mut kombit = Router::new();
    for t in tjenester::TJENESTER {
        kombit = kombit.merge(
            (t.routes)().route_layer(axum::middleware::from_fn_with_state(
                (state.clone(), Some(t)),
                optagelse::optag_kald,
            )),
        );
    }
    Router::new()
        .merge(meta::routes())
        .merge(
            rest::routes()
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    sts::guard::oio_rest,
                ))
                .route_layer(axum::middleware::from_fn_with_state(
                    (state.clone(), None),
                    optagelse::optag_kald,
                )),
        )
        .merge(admin::routes())
        .merge(compliance::routes())
        .merge(kombit)
        .merge(metrics::routes())
        .with_state(state.clone())
        .merge(meta::docs(state.openapi.as_ref().clone()))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_request(linger::wrap))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::new())
}

/// Build everything from `config` and serve until shut down.
pub async fn start(config: Config) -> anyhow::Result<ServerHandle> {
    let stores = open_stores(&config).await?;
    start_with_stores(config, stores).await
}

/// As [`start`], with an already opened store. Loads (or creates) the CA and the admin token
/// in the data directory.
pub async fn start_with_stores(config: Config, stores: Stores) -> anyhow::Result<ServerHandle> {
    let optager = optagelse::Optager::start(stores.adgang.clone(), config.optagelse_dage);
    let bf = beskedfordeler::Beskedfordeler::start(
        stores.besked.clone(),
        stores.adgang.clone(),
        config.dev_open,
        optager.clone(),
    );
    // Every write through this engine (REST, SOAP, imports) reports its committed changes;
    // Organisation and Klassifikation changes become Haendelsesbeskeder.
    let haendelser = beskedfordeler::haendelser::OioHaendelser::start(bf.clone());
    let engine = Engine::new(stores.oio.clone()).with_lytter(haendelser.clone());
    let (ca, admin_token) = {
        let dir = config.data_dir.clone();
        tokio::task::spawn_blocking(move || {
            anyhow::Ok((admin::load_ca(&dir)?, admin::load_or_create_token(&dir)?))
        })
        .await
        .context("CA task panicked")??
    };
    let ca = Arc::new(ca);
    let (cpr_register, cpr_log, cpr_upubliceret) = {
        let dir = config.data_dir.join("cpr");
        tokio::task::spawn_blocking(move || cpr::load_register(&dir))
            .await
            .context("CPR register task panicked")??
    };
    let virksomheder = fki_cpr::cvr::Virksomheder::fra_register(&cpr_register);
    tls::install_crypto_provider();
    let settings = sts::StsSettings {
        issuer: config.sts_issuer.clone(),
        token_lifetime: chrono::Duration::from_std(config.token_lifetime)
            .context("token lifetime out of range")?,
        dev_open: config.dev_open,
        ..Default::default()
    };
    if config.dev_open {
        tracing::warn!("--dev-open: services accept requests without tokens");
    }
    let state = AppState {
        engine: engine.clone(),
        config: Arc::new(config.clone()),
        openapi: Arc::new(meta::openapi()),
        adgang: stores.adgang.clone(),
        ca: ca.clone(),
        admin_token: Arc::from(admin_token),
        sts: Arc::new(sts::Sts::new(stores.adgang.clone(), ca.clone(), settings)),
        beskedfordeler: bf,
        haendelser,
        cpr: cpr::CprRegister::new(cpr_register, cpr_log),
        cvr: Arc::new(virksomheder),
        optager,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("while binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    if !cpr_upubliceret.is_empty() {
        tokio::spawn(cpr::haendelser::genudsend(state.clone(), cpr_upubliceret));
    }
    let (tx, mut rx) = watch::channel(false);
    let amqp_task = match config.amqp_url {
        Some(_) => Some(beskedfordeler::amqp::start(state.clone(), rx.clone()).await?),
        None => None,
    };
    let router = app(state.clone());
    let push_task = beskedfordeler::push::start(
        state.beskedfordeler.clone(),
        &ca,
        config.push.clone(),
        rx.clone(),
    )?;

    let amqp_gateway_addr = match (config.amqp_gateway_listen, &config.amqp_url) {
        (Some(listen), Some(_)) => {
            let mut tls =
                (*tls::server_config(&ca, &config.tls_hostnames, &config.data_dir)?).clone();
            tls.alpn_protocols.clear();
            let l = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("while binding the AMQP gateway on {listen}"))?;
            let a = l.local_addr()?;
            tokio::spawn(beskedfordeler::gateway::serve(
                l,
                Arc::new(tls),
                state.clone(),
                rx.clone(),
            ));
            tracing::info!(addr = %a, "fki AMQP gateway listening (TLS)");
            Some(a)
        }
        (Some(_), None) => anyhow::bail!("the AMQP gateway needs FKI_AMQP_URL (--amqp-url)"),
        _ => None,
    };
    let rabbitmq_auth_addr = match config.rabbitmq_auth_listen {
        Some(listen) => {
            let l = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("while binding the RabbitMQ auth listener on {listen}"))?;
            let a = l.local_addr()?;
            let r = beskedfordeler::rabbitmq_auth::routes().with_state(state.clone());
            let mut stop = rx.clone();
            tokio::spawn(async move {
                let _ = axum::serve(l, r)
                    .with_graceful_shutdown(async move {
                        while !*stop.borrow() {
                            if stop.changed().await.is_err() {
                                break;
                            }
                        }
                    })
                    .await;
            });
            tracing::info!(addr = %a, "RabbitMQ HTTP auth backend listening");
            Some(a)
        }
        None => None,
    };

    let (https_addr, https_task) = match config.https_listen {
        Some(https) => {
            let tls_config = tls::server_config(&ca, &config.tls_hostnames, &config.data_dir)?;
            let l = tokio::net::TcpListener::bind(https)
                .await
                .with_context(|| format!("while binding {https}"))?;
            let a = l.local_addr()?;
            let task = tokio::spawn(tls::serve(
                l,
                tls_config,
                ca.clone(),
                router.clone(),
                rx.clone(),
            ));
            tracing::info!(addr = %a, "fki listening (HTTPS)");
            (Some(a), Some(task))
        }
        None => (None, None),
    };

    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                while !*rx.borrow() {
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            })
            .await
            .context("while serving HTTP")
    });
    tracing::info!(%addr, backend = engine.store().backend(), "fki listening");
    Ok(ServerHandle {
        addr,
        https_addr,
        amqp_gateway_addr,
        rabbitmq_auth_addr,
        engine,
        state,
        shutdown: tx,
        task,
        https_task,
        push_task,
        amqp_task,
    })
}
