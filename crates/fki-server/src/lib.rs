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
//!   `<data-dir>/admin-token`) and the registry operations the CLI shares.

pub mod admin;
pub mod error;
pub mod meta;
pub mod rest;

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
}

impl Config {
    pub const DEFAULT_BODY_LIMIT: usize = 10 * 1024 * 1024;

    /// A server on a free loopback port with its data in `data_dir`.
    pub fn for_test(data_dir: PathBuf, database_url: Option<String>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            database_url,
            myndighed: None,
            body_limit: Self::DEFAULT_BODY_LIMIT,
        }
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
}

/// A running server.
pub struct ServerHandle {
    pub addr: SocketAddr,
    pub engine: Engine,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl ServerHandle {
    /// Base URL of the plain HTTP listener.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting, finish in-flight requests, and wait.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.context("server task panicked")?
    }

    /// Wait until the server stops by itself (or forever).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task panicked")?
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
    Router::new()
        .merge(meta::routes())
        .merge(rest::routes())
        .merge(admin::routes())
        .with_state(state.clone())
        .merge(meta::docs(state.openapi.as_ref().clone()))
        .layer(DefaultBodyLimit::max(limit))
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
    let engine = Engine::new(stores.oio);
    let (ca, admin_token) = {
        let dir = config.data_dir.clone();
        tokio::task::spawn_blocking(move || {
            anyhow::Ok((admin::load_ca(&dir)?, admin::load_or_create_token(&dir)?))
        })
        .await
        .context("CA task panicked")??
    };
    let state = AppState {
        engine: engine.clone(),
        config: Arc::new(config.clone()),
        openapi: Arc::new(meta::openapi()),
        adgang: stores.adgang,
        ca: Arc::new(ca),
        admin_token: Arc::from(admin_token),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("while binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (tx, mut rx) = watch::channel(false);
    let router = app(state);
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
        engine,
        shutdown: tx,
        task,
    })
}
