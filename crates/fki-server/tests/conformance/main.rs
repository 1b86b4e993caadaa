//! HTTP conformance suite of fki's LoRa-compatible OIO REST API
//! (`shared/docs/oio-rest-contract.md`, with the deviations decided in `docs/oio-rest.md`).
//!
//! Every test body runs against the real server, started in-process, on SQLite (always) and on
//! PostgreSQL (when `FKI_TEST_POSTGRES_URL` is set; each test gets a fresh database):
//!
//! ```text
//! FKI_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo test -p fki-server --test conformance
//! ```
//!
//! Tests are named `<module>::<body>::{sqlite,postgres}`. Known bugs of the server are tests
//! marked `#[ignore = "BUG: …"]`; `-- --ignored` runs them (they fail until fixed).

/// Turn `async fn name(s: &Srv)` into `name::sqlite` and `name::postgres` tests.
///
/// `both!(name);`, `both!(#[ignore = "BUG: …"] name);`, and
/// `both!(name, config = |c| c.body_limit = 1024);` to adjust the server's `Config`.
macro_rules! both {
    ($(#[$attr:meta])* $name:ident $(, config = $cfg:expr)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                both!(@run $name, $crate::harness::Backend::Sqlite $(, $cfg)?);
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                both!(@run $name, $crate::harness::Backend::Postgres $(, $cfg)?);
            }
        }
    };
    (@run $name:ident, $backend:expr) => {
        both!(@run $name, $backend, |_: &mut fki_server::Config| {})
    };
    (@run $name:ident, $backend:expr, $cfg:expr) => {
        let test = module_path!();
        let Some(srv) = $crate::harness::Srv::start($backend, test, $cfg).await else {
            return;
        };
        super::$name(&srv).await;
        srv.finish().await;
    };
}

mod fixtures;
mod harness;

mod bitemporal;
mod classes;
mod concurrency;
mod dokument;
mod klasse;
mod lifecycle;
mod limits;
mod list;
mod merge;
mod meta;
mod paging;
mod search;
mod validation;
