//! # fki-store: the storage port of `fki-oio` on SQLite and PostgreSQL
//!
//! Both backends implement [`fki_oio::store::Store`] over the same three tables (`objekt`,
//! `registrering`, `fakt`; see the doc comment of `fki_oio::store`), created by embedded sqlx
//! migrations that run when a store is opened. Pick one with [`open`].
//!
//! Layout:
//! - [`open`]: the entry point: URL (or nothing) in, migrated `Arc<dyn Store>` out;
//!   [`open_stores`] also gives the [`adgang::AdgangStore`] and [`besked::BeskedStore`] views
//!   of the same pools;
//! - [`adgang`]: the Adgangsstyring registries port (systems, services, serviceaftaler, audit
//!   log), implemented by both backends from `adgang_sql` (private) on tables of
//!   `migrations/*/0002_adgang.sql`;
//! - [`besked`]: the Beskedfordeler port (dueslag, abonnementer, værdilister, accepted messages
//!   and their leveringer), implemented by both backends from `besked_sql` (private) on tables
//!   of `migrations/*/0003_besked.sql`;
//! - `sql` (private): every statement, built once as text with `$N` placeholders and a list of
//!   bind values that each backend binds in a loop; both backends run the same text, apart from
//!   SQLite's `INDEXED BY` hints and `LIMIT -1`;
//! - `exec` (private): binding and running those statements on a concrete sqlx database, the
//!   mapping of sqlx errors to [`StoreError`], and the search planning shared by both backends;
//! - [`SqliteStore`] (`sqlite.rs`): one single-connection writer pool (`BEGIN IMMEDIATE`) and
//!   a read pool, WAL mode;
//! - [`PgStore`] (`pg.rs`): one pool; `lock` is `SELECT … FOR UPDATE`; keeps its planner
//!   statistics fresh;
//! - [`testing`]: throw-away PostgreSQL databases for tests;
//! - `migrations/sqlite`, `migrations/postgres`: the schema, same names in both.
//!
//! ## How a search runs
//!
//! A search is one statement that starts from the most selective criterion (the *driver*: its
//! facts are found by the `(klasse, navn, vaerdi)` index and joined to their registrering) and
//! checks every other criterion with an `EXISTS` probe of the registrering's facts through
//! `fakt_reg (reg_id, navn, vaerdi)`. Without a usable criterion it starts from
//! `registrering (klasse, til)`, or `(objekt_uuid, til)` when a UUID is given. SQLite keeps the
//! written `CROSS JOIN` order and has no statistics on values, so the store counts each
//! candidate driver's facts first (capped, from the index alone) and picks the smallest;
//! PostgreSQL plans from its own statistics.
//!
//! A paged search orders by the smallest `a:brugervendtnoegle` and needs every hit before it can
//! sort. When only a small page is asked for and no criterion is selective (the best matches a
//! thousand facts or more), the store instead walks the key index in growing ranges and stops
//! as soon as the page is full, falling back to the full aggregate after a few thousand keys.
//!
//! ## Known differences between the backends
//!
//! - `lower()` in the note search folds only ASCII letters on SQLite (`Æ` stays `Æ`), all
//!   letters on PostgreSQL.
//! - On an in-memory SQLite database (`sqlite::memory:`) reads share the single writer
//!   connection, so a read waits while a write transaction is open.
//!
//! The `sqlx` `Any` driver is not used (it cannot carry every type we need), and neither is
//! rusqlite (it would link a second SQLite).

use std::path::Path;
use std::sync::Arc;

use fki_oio::store::{Store, StoreError};

use crate::adgang::AdgangStore;
use crate::besked::BeskedStore;

pub mod adgang;
mod adgang_sql;
pub mod besked;
mod besked_sql;
mod exec;
mod pg;
mod sql;
mod sqlite;
mod sqlite_direkte;
pub mod testing;

pub use pg::{PgStore, PgTx};
pub use sqlite::{SqliteStore, SqliteTuning, SqliteTx};

/// File name of the default SQLite database inside the data directory.
pub const DEFAULT_SQLITE_FILE: &str = "fki.sqlite";

/// The views of one opened store: the OIO object store, the Adgangsstyring registries
/// ([`adgang`]) and the Beskedfordeler's storage ([`besked`]), sharing one set of connection
/// pools.
#[derive(Clone)]
pub struct Stores {
    pub oio: Arc<dyn Store>,
    pub adgang: Arc<dyn AdgangStore>,
    pub besked: Arc<dyn BeskedStore>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("backend", &self.oio.backend())
            .finish()
    }
}

/// Open the configured store and migrate its schema; only the OIO view (see [`open_stores`]).
pub async fn open(
    database_url: Option<&str>,
    data_dir: &Path,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(open_stores(database_url, data_dir).await?.oio)
}

/// Open the configured store, migrate its schema and seed the known services
/// ([`adgang::KENDTE_SERVICES`]).
///
/// - `Some("postgres://…")` or `Some("postgresql://…")`: PostgreSQL;
/// - `Some("sqlite://path")`, `Some("sqlite:path")`, `Some("sqlite::memory:")`: that SQLite
///   database (a file is created if missing);
/// - `None`: the SQLite file `data_dir/fki.sqlite` (the directory is created).
pub async fn open_stores(
    database_url: Option<&str>,
    data_dir: &Path,
) -> Result<Stores, StoreError> {
    fn views<S: Store + AdgangStore + BeskedStore + 'static>(s: S) -> Stores {
        let s = Arc::new(s);
        Stores {
            oio: s.clone(),
            adgang: s.clone(),
            besked: s,
        }
    }
    match database_url.map(str::trim) {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(views(PgStore::open_url(url).await?))
        }
        Some(url) if url.starts_with("sqlite:") => Ok(views(SqliteStore::open_url(url).await?)),
        Some(url) => Err(StoreError::Backend(format!(
            "unsupported database URL '{}': expected postgres://…, postgresql://… or sqlite:…",
            redact(url)
        ))),
        None => {
            std::fs::create_dir_all(data_dir).map_err(|e| {
                StoreError::Backend(format!(
                    "cannot create data directory {}: {e}",
                    data_dir.display()
                ))
            })?;
            Ok(views(
                SqliteStore::open_path(&data_dir.join(DEFAULT_SQLITE_FILE)).await?,
            ))
        }
    }
}

/// A URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &userinfo[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("mysql://u:secret@h/db"), "mysql://u:***@h/db");
        assert_eq!(redact("mysql://h/db"), "mysql://h/db");
    }
}
