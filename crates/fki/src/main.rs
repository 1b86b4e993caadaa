//! The `fki` binary: `fki serve` runs every support system in one process; the other
//! subcommands do admin and data work.

mod adgang;
mod bench;
mod beskedfordeler;
mod compliance;
mod import;
mod krav;
mod population;
mod seed;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use fki_server::Config;

#[derive(Parser)]
#[command(
    name = "fki",
    version,
    about = "An open, self-hostable implementation of the Danish common municipal infrastructure"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (all support systems in one process).
    Serve(ServeArgs),
    /// Load the deterministic demo municipality into the store, then exit.
    Demo(DemoArgs),
    /// Benchmarks (they start their own stores and servers; traffic goes to 127.0.0.1 only).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The local certificate authority (<data-dir>/ca).
    Ca {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: adgang::CaCommand,
    },
    /// IT systems (anvendersystemer and serviceudbydere) and their certificates.
    System {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: adgang::SystemCommand,
    },
    /// Services that tokens are issued for.
    Service {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: adgang::ServiceCommand,
    },
    /// Serviceaftaler: system x service x myndighed, and their lifecycle.
    Aftale {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: adgang::AftaleCommand,
    },
    /// The audit log (sporbarhed) of issued tokens and refusals, newest first.
    Audit {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        args: adgang::AuditArgs,
    },
    /// Beskedfordeler dueslag: create, inspect, replay.
    Dueslag {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: beskedfordeler::DueslagCommand,
    },
    /// Beskedfordeler abonnementer: filters that let messages into a dueslag.
    Abonnement {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: beskedfordeler::AbonnementCommand,
    },
    /// Beskedfordeler messages: send a test message through a running server.
    Besked {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: beskedfordeler::BeskedCommand,
    },
    /// Beskedfordeler Værdilister (e.g. the CPR numbers a system cares about).
    Vaerdiliste {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: beskedfordeler::VaerdilisteCommand,
    },
    /// Bulk import (one transaction, all or nothing): KLE as Klassifikation, Organisation
    /// objects from fki's export format.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: import::ImportCommand,
    },
    /// Bulk export in the format `fki import` reads.
    Export {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        cmd: import::ExportCommand,
    },
    /// The synthetic CPR/CVR population (people, families, companies).
    #[command(subcommand)]
    Population(population::PopulationCommand),
    /// SKI 02.19's integration packages I-01..I-15, and which of their interfaces fki
    /// implements.
    Krav(krav::KravArgs),
    /// Check an index request against the index rules of a running server, storing nothing
    /// (what a vendor does before KOMBIT's compliance test); exit status 1 if a rule is broken.
    #[command(subcommand)]
    Validate(validate::ValidateCommand),
    /// What an anvendersystem really did, per integration package: the observed checks of a
    /// running server as a report (Markdown and JSON).
    #[command(subcommand)]
    Compliance(compliance::ComplianceCommand),
}

#[derive(Args, Clone)]
struct StoreArgs {
    /// Directory for the SQLite database, the CA and other state.
    #[arg(
        long,
        env = "FKI_DATA_DIR",
        default_value = "./fki-data",
        global = true
    )]
    data_dir: PathBuf,
    /// PostgreSQL URL (postgres://…); without it fki uses SQLite in the data directory.
    #[arg(long, env = "FKI_DATABASE_URL", global = true)]
    database_url: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address of the plain HTTP listener.
    #[arg(long, env = "FKI_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    /// Myndighed (CVR) that owns objects written without an X-FKI-Myndighed header.
    #[arg(long, env = "FKI_MYNDIGHED")]
    myndighed: Option<String>,
    /// Largest accepted request body in bytes.
    #[arg(long, env = "FKI_BODY_LIMIT", default_value_t = Config::DEFAULT_BODY_LIMIT)]
    body_limit: usize,
    /// Address of the HTTPS listener (mutual TLS with the fki CA); "off" disables it.
    #[arg(long, env = "FKI_HTTPS_LISTEN", default_value = "127.0.0.1:8443")]
    https_listen: String,
    /// Host names of the HTTPS server certificate (comma-separated). Default: localhost,
    /// 127.0.0.1 and the KOMBIT test host names.
    #[arg(long, env = "FKI_TLS_HOSTNAMES", value_delimiter = ',')]
    tls_hostname: Vec<String>,
    /// Disable token checks on the services (local experiments only): the CVR comes from the
    /// X-FKI-Myndighed header; every request let through is logged as a warning.
    #[arg(long, env = "FKI_DEV_OPEN")]
    dev_open: bool,
    /// KOMBIT's SF1500 v6 schema folder (`xsd/` with `6.0.STS-0/` and `common/`), served next
    /// to the Organisation and Klassifikation WSDLs (`…/6/?wsdl`, `…/6/xsd/…`).
    #[arg(long, env = "FKI_SCHEMA_DIR")]
    schema_dir: Option<PathBuf>,
    /// Days the audit log keeps tokens, refusals and the recorded calls and deliveries
    /// (pruned hourly); 0 keeps them forever.
    #[arg(long, env = "FKI_RECORDING_RETENTION_DAYS", default_value_t = Config::DEFAULT_OPTAGELSE_DAGE)]
    recording_retention_days: u32,
    /// Lifetime of issued tokens (assertions) in seconds.
    #[arg(long, env = "FKI_TOKEN_LIFETIME", default_value_t = Config::DEFAULT_TOKEN_LIFETIME.as_secs())]
    token_lifetime: u64,
    /// Issuer (entity ID) of issued tokens.
    #[arg(long, env = "FKI_STS_ISSUER", default_value = fki_server::sts::DEFAULT_ISSUER)]
    sts_issuer: String,
    /// Seconds one Beskedfordeler push attempt may take.
    #[arg(long, env = "FKI_PUSH_TIMEOUT", default_value_t = 10)]
    push_timeout: u64,
    /// Push no Beskedfordeler messages from this process (when another process sharing the
    /// store does: two would deliver out of order).
    #[arg(long, env = "FKI_NO_PUSH")]
    no_push: bool,
    /// RabbitMQ for the Beskedfordeler's AMQP side (afsend on AFSEND_BESKED_EXCHANGE, amqp
    /// dueslag), e.g. amqp://guest:guest@127.0.0.1:5672/%2f. Unset: no AMQP.
    #[arg(long, env = "FKI_AMQP_URL")]
    amqp_url: Option<String>,
    /// The queue the AMQP afsend consumes (bound to AFSEND_BESKED_EXCHANGE).
    #[arg(long, env = "FKI_AMQP_AFSEND_QUEUE", default_value = fki_server::beskedfordeler::amqp::DEFAULT_AFSEND_QUEUE)]
    amqp_afsend_queue: String,
    /// The routing key binding that queue (KOMBIT's senders publish with the empty key).
    #[arg(long, env = "FKI_AMQP_AFSEND_ROUTING_KEY", default_value = fki_server::beskedfordeler::amqp::DEFAULT_AFSEND_ROUTING_KEY)]
    amqp_afsend_routing_key: String,
    /// Address of the AMQP gateway for KOMBIT's clients (TLS, vhost BF, SASL EXTERNAL with the
    /// SAML assertion; KOMBIT's port is 5671); needs --amqp-url. "off": none.
    #[arg(long, env = "FKI_AMQP_GATEWAY_LISTEN", default_value = "off")]
    amqp_gateway_listen: String,
    /// An extra listener for RabbitMQ's HTTP auth backend only (the routes /rabbitmq/auth/* are
    /// on --listen too). "off": none.
    #[arg(long, env = "FKI_RABBITMQ_AUTH_LISTEN", default_value = "off")]
    rabbitmq_auth_listen: String,
    /// Seed the demo municipality first (skipped when it is already there).
    #[arg(long)]
    demo: bool,
    /// Seed of the demo data.
    #[arg(long, default_value_t = fki_demo::DemoConfig::default().seed)]
    seed: u64,
}

#[derive(Args)]
struct DemoArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Seed of the demo data (same seed, same UUIDs).
    #[arg(long, default_value_t = fki_demo::DemoConfig::default().seed)]
    seed: u64,
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("FKI_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("FKI_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    fki_server::tls::install_crypto_provider();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(a) => serve(a).await,
        Command::Bench(b) => bench::run(b).await,
        Command::Ca { store, cmd } => adgang::ca(store, cmd).await,
        Command::System { store, cmd } => adgang::system(store, cmd).await,
        Command::Service { store, cmd } => adgang::service(store, cmd).await,
        Command::Aftale { store, cmd } => adgang::aftale(store, cmd).await,
        Command::Audit { store, args } => adgang::audit(store, args).await,
        Command::Dueslag { store, cmd } => beskedfordeler::dueslag(store, cmd).await,
        Command::Abonnement { store, cmd } => beskedfordeler::abonnement(store, cmd).await,
        Command::Vaerdiliste { store, cmd } => beskedfordeler::vaerdiliste(store, cmd).await,
        Command::Besked { store, cmd } => beskedfordeler::besked(store, cmd).await,
        Command::Population(p) => population::run(p).await,
        Command::Krav(a) => krav::run(a),
        Command::Compliance(c) => compliance::run(c).await,
        Command::Validate(v) => {
            if validate::run(v).await? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Command::Import { store, cmd } => import::import(store, cmd).await,
        Command::Export { store, cmd } => import::export(store, cmd).await,
        Command::Demo(a) => {
            let config = Config {
                data_dir: a.store.data_dir,
                database_url: a.store.database_url,
                ..Config::for_test(PathBuf::new(), None)
            };
            let store = fki_server::open_store(&config).await?;
            seed::demo(&fki_oio::Engine::new(store), a.seed, true).await?;
            Ok(())
        }
    }
}

/// An address, or `None` for "off" / "none" / "".
fn optional_addr(flag: &str, s: &str) -> anyhow::Result<Option<SocketAddr>> {
    match s.trim() {
        "" | "off" | "none" => Ok(None),
        v => v
            .parse()
            .map(Some)
            .with_context(|| format!("{flag} {v:?} is not an address")),
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let https_listen = match a.https_listen.trim() {
        "" | "off" | "none" => None,
        s => Some(
            s.parse::<SocketAddr>()
                .with_context(|| format!("--https-listen {s:?} is not an address"))?,
        ),
    };
    let config = Config {
        listen: a.listen,
        data_dir: a.store.data_dir,
        database_url: a.store.database_url,
        myndighed: a.myndighed,
        body_limit: a.body_limit,
        https_listen,
        tls_hostnames: if a.tls_hostname.is_empty() {
            Config::default_tls_hostnames()
        } else {
            a.tls_hostname
        },
        dev_open: a.dev_open,
        token_lifetime: std::time::Duration::from_secs(a.token_lifetime),
        sts_issuer: a.sts_issuer,
        push: fki_server::beskedfordeler::push::PushConfig {
            enabled: !a.no_push,
            timeout: std::time::Duration::from_secs(a.push_timeout.max(1)),
            ..Default::default()
        },
        amqp_url: a.amqp_url.filter(|u| !u.trim().is_empty()),
        amqp_afsend_queue: a.amqp_afsend_queue,
        amqp_afsend_routing_key: a.amqp_afsend_routing_key,
        amqp_gateway_listen: optional_addr("--amqp-gateway-listen", &a.amqp_gateway_listen)?,
        rabbitmq_auth_listen: optional_addr("--rabbitmq-auth-listen", &a.rabbitmq_auth_listen)?,
        schema_dir: a.schema_dir,
        optagelse_dage: a.recording_retention_days,
    };
    let stores = fki_server::open_stores(&config).await?;
    if a.demo {
        seed::demo(&fki_oio::Engine::new(stores.oio.clone()), a.seed, true)
            .await
            .context("while seeding the demo data")?;
        demo_population(&config.data_dir)?;
    }
    let token_file = config.data_dir.join(fki_server::admin::TOKEN_FILE);
    let handle = fki_server::start_with_stores(config, stores).await?;
    eprintln!(
        "fki serving on {} (API docs: {}/docs; admin API token in {})",
        handle.url(),
        handle.url(),
        token_file.display()
    );
    if let Some(u) = handle.https_url() {
        eprintln!("fki serving HTTPS on {u} (trust the fki CA: <data-dir>/ca/root-ca.pem)");
    }
    let stop = handle.stopper();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    handle.wait().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// With `--demo`: a population for the CPR services (`<data-dir>/cpr/0999.jsonl`, 2,000 people
/// of the demo municipality's fictitious kommunekode 0999) unless population files are there.
fn demo_population(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let dir = data_dir.join("cpr");
    let har = std::fs::read_dir(&dir).is_ok_and(|d| {
        d.filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
    });
    if har {
        return Ok(());
    }
    let p = fki_cpr::population::Parametre::new("0999", 2_000, 1);
    let out = dir.join("0999.jsonl");
    let (personer, _, _) = population::write_file(&p, &out, true)?;
    eprintln!(
        "demo population: {personer} people written to {} (CPR PersonLookup answers from it)",
        out.display()
    );
    Ok(())
}
