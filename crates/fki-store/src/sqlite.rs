//! The SQLite backend.
//!
//! One *writer* pool with a single connection serialises all writers: its transactions start with
//! `BEGIN IMMEDIATE`, so the write lock is taken up front and a transaction never fails half-way
//! on a lock upgrade. A separate *reader* pool (several `query_only` connections) serves
//! [`Store::read`], [`Store::search`] and [`Store::ping`]; in WAL mode readers see the last
//! committed state and never wait for the writer.
//!
//! An in-memory database (`sqlite::memory:`) cannot be shared by two pools, so there one
//! connection serves both: reads then wait while a write transaction is open.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use fki_oio::model::{Data, Objekt, Registrering, RegistreringMeta};
use fki_oio::store::{Fakt, Historik, RegWindow, SearchQuery, Store, StoreTx};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use uuid::Uuid;

use crate::exec::exec_helpers;
use crate::sql::{self, Dialect, Drive, HistorikRow, ObjektRow, RegRow};

exec_helpers!(Sqlite, custom_plans_unprepared = false);
crate::adgang_sql::adgang_impl!(SqliteStore, read = reader, write = writer);
crate::besked_sql::besked_impl!(
    SqliteStore,
    read = reader,
    write = writer,
    begin = "BEGIN IMMEDIATE",
    skriv = direkte
);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Memory and concurrency settings of the SQLite store. The defaults suit the 2-core, < 300 MB
/// target of `docs/benchmarks.md`; operators override them with environment variables (read
/// when a store is opened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteTuning {
    /// Connections in the reader pool (`FKI_SQLITE_READERS`).
    pub readers: u32,
    /// Page cache per connection, in MiB (`FKI_SQLITE_CACHE_MB`).
    pub cache_mib: u32,
    /// Bytes of the file each connection maps, in MiB (`FKI_SQLITE_MMAP_MB`; 0 = read with
    /// `pread` into the page cache). Every connection maps the file on its own, and the
    /// process's resident set counts each mapping's pages, so this multiplies by
    /// `readers + 1` in `ps`/`VmHWM` even though the pages are shared page cache.
    pub mmap_mib: u32,
    /// WAL pages after which a commit copies the WAL into the database file
    /// (`FKI_SQLITE_WAL_PAGES`, SQLite's `wal_autocheckpoint`; default SQLite's 1,000). More
    /// pages: fewer, longer checkpoints, and pages changed again and again copied less often.
    pub wal_pages: u32,
}

impl Default for SqliteTuning {
    fn default() -> Self {
        SqliteTuning {
            readers: 4,
            cache_mib: 32,
            mmap_mib: 0,
            wal_pages: 1000,
        }
    }
}

impl SqliteTuning {
    /// The defaults, overridden by `FKI_SQLITE_READERS`, `FKI_SQLITE_CACHE_MB` and
    /// `FKI_SQLITE_MMAP_MB` where set. A value that is not a number is an error.
    pub fn from_env() -> StoreResult<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`SqliteTuning::from_env`], reading variables through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> StoreResult<Self> {
        let var = |name: &str, default: u32, min: u32| -> StoreResult<u32> {
            match get(name) {
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= min)
                    .ok_or_else(|| {
                        StoreError::Backend(format!(
                            "{name}={v:?}: expected a whole number of at least {min}"
                        ))
                    }),
                None => Ok(default),
            }
        };
        let d = Self::default();
        Ok(SqliteTuning {
            readers: var("FKI_SQLITE_READERS", d.readers, 1)?,
            cache_mib: var("FKI_SQLITE_CACHE_MB", d.cache_mib, 1)?,
            mmap_mib: var("FKI_SQLITE_MMAP_MB", d.mmap_mib, 0)?,
            wal_pages: var("FKI_SQLITE_WAL_PAGES", d.wal_pages, 1)?,
        })
    }
}

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The pragmas every connection is opened with (name, value), sqlx's and
/// [`crate::sqlite_direkte::Laesere`]'s alike.
fn pragmaer(tuning: &SqliteTuning) -> [(&'static str, String); 5] {
    [
        // PostgreSQL's LIKE is case-sensitive; make SQLite's agree (facts are lower-cased by
        // the engine already, `sti` is not).
        ("case_sensitive_like", "ON".into()),
        // Negative: KiB.
        (
            "cache_size",
            format!("-{}", u64::from(tuning.cache_mib) * 1024),
        ),
        // Mapping the file lets connections share the OS page cache instead of copying pages
        // into their own (see [`SqliteTuning::mmap_mib`] for its cost in RSS).
        ("mmap_size", (u64::from(tuning.mmap_mib) << 20).to_string()),
        ("temp_store", "MEMORY".into()),
        ("wal_autocheckpoint", tuning.wal_pages.to_string()),
    ]
}

/// The SQLite implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Read connections of fki's own for the Beskedfordeler's hot reads
    /// ([`crate::sqlite_direkte::Laesere`]); `None` for an in-memory database.
    laesere: Option<std::sync::Arc<crate::sqlite_direkte::Laesere>>,
    /// A file database's WAL copied ahead of the writer's checkpoints (stopped with the last
    /// clone of the store).
    _kontrolpunkter: Option<std::sync::Arc<crate::sqlite_direkte::Kontrolpunkter>>,
}

impl SqliteStore {
    pub(crate) fn direkte_laesere(&self) -> Option<&crate::sqlite_direkte::Laesere> {
        self.laesere.as_deref()
    }

    /// Run `qs` in one write transaction on the calling thread ([`crate::sqlite_direkte`]);
    /// rows changed, summed.
    pub(crate) async fn skriv_alle(&self, qs: Vec<Sql>, ctx: &str) -> StoreResult<u64> {
        let mut conn = self.writer.acquire().await.map_err(db_err(ctx))?;
        crate::sqlite_direkte::transaktion(&mut conn, ctx, |d| {
            qs.into_iter().try_fold(0, |n, q| Ok(n + d.udfoer(q, ctx)?))
        })
        .await
    }

    /// Open (creating if missing) the database file at `path` and migrate it.
    pub async fn open_path(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::open_options(opts, false).await
    }

    /// Open a `sqlite:` URL (`sqlite://path/to/file`, `sqlite:file.db?mode=rwc`,
    /// `sqlite::memory:`) and migrate it. A file is created if missing.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("bad SQLite URL '{url}': {e}")))?;
        if !memory {
            let path = opts.get_filename();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Backend(format!("cannot create directory {}: {e}", dir.display()))
                })?;
            }
        }
        Self::open_options(opts.create_if_missing(true), memory).await
    }

    async fn open_options(opts: SqliteConnectOptions, memory: bool) -> StoreResult<Self> {
        let tuning = SqliteTuning::from_env()?;
        tracing::debug!(?tuning, "opening SQLite store");
        let opts = opts
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pragmaer = pragmaer(&tuning);
        let opts = pragmaer
            .iter()
            .fold(opts, |o, (k, v)| o.pragma(*k, v.clone()));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(30))
            // As for the readers: no ping per checkout. Every write (a group commit of
            // messages, each acknowledgement of a levering) checks the one writer out.
            .test_before_acquire(false)
            .connect_with(opts.clone())
            .await
            .map_err(db_err("opening SQLite database"))?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating SQLite database: {e}")))?;
        let reader = if memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(tuning.readers)
                .acquire_timeout(Duration::from_secs(30))
                // No ping per checkout (a hop to the connection's worker thread): a local file
                // connection does not go stale.
                .test_before_acquire(false)
                .connect_with(opts.clone().pragma("query_only", "ON"))
                .await
                .map_err(db_err("opening SQLite read connections"))?
        };
        let (laesere, kontrolpunkter) = if memory {
            (None, None)
        } else {
            let pragmaer: Vec<String> = std::iter::once(format!(
                "PRAGMA busy_timeout = {}",
                BUSY_TIMEOUT.as_millis()
            ))
            .chain(pragmaer.iter().map(|(k, v)| format!("PRAGMA {k} = {v}")))
            .collect();
            let sti = opts.get_filename().to_owned();
            let antal = tuning.readers as usize;
            let (l, k) = tokio::task::spawn_blocking(move || {
                StoreResult::Ok((
                    crate::sqlite_direkte::Laesere::aabn(&sti, antal, &pragmaer)?,
                    crate::sqlite_direkte::Kontrolpunkter::start(
                        &sti,
                        crate::sqlite_direkte::KONTROLPUNKT_HVERT,
                    )?,
                ))
            })
            .await
            .map_err(|e| StoreError::Backend(format!("opening SQLite connections: {e}")))??;
            (Some(std::sync::Arc::new(l)), Some(std::sync::Arc::new(k)))
        };
        let store = SqliteStore {
            writer,
            reader,
            laesere,
            _kontrolpunkter: kontrolpunkter,
        };
        store.seed_services().await?;
        Ok(store)
    }

    /// Close both pools (waits for connections to be returned).
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// The query plan SQLite picks for a search (`EXPLAIN QUERY PLAN`), one line per step.
    /// For diagnostics and tests.
    pub async fn explain_search(&self, q: &SearchQuery) -> StoreResult<Vec<String>> {
        let mut conn = self
            .reader
            .acquire()
            .await
            .map_err(db_err("explaining search"))?;
        let plan = plan_search(&mut conn, q, true).await?;
        let drive = match plan.driver {
            _ if plan.by_bvn => Drive::Bvn { lo: None, hi: None },
            Some(d) => Drive::Kriterium(d),
            None => Drive::Registrering,
        };
        let mut s = sql::search(Dialect::Sqlite, q, drive);
        s.text = format!("EXPLAIN QUERY PLAN {}", s.text);
        let a = args(s.binds, "explaining search")?;
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as_with(sqlx::AssertSqlSafe(s.text), a)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_err("explaining search"))?;
        Ok(rows.into_iter().map(|r| r.3).collect())
    }

    /// Update the planner statistics (`PRAGMA optimize`); cheap when nothing changed.
    pub async fn optimize(&self) -> StoreResult<()> {
        execute(
            &self.writer,
            Sql::new("PRAGMA optimize"),
            "optimizing SQLite database",
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        let tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err("starting SQLite write transaction"))?;
        Ok(Box::new(SqliteTx { tx }))
    }

    async fn read(&self, uuids: &[Uuid], reg: RegWindow) -> StoreResult<Vec<Historik>> {
        let mut rows: Vec<HistorikRow> = Vec::new();
        if !uuids.is_empty() {
            let mut conn = self
                .reader
                .acquire()
                .await
                .map_err(db_err("reading objects: connecting"))?;
            for chunk in sql::distinct(uuids).chunks(sql::IN_CHUNK) {
                rows.extend(
                    fetch_all::<HistorikRow, _>(
                        &mut *conn,
                        sql::select_historik(chunk, reg),
                        "reading objects",
                    )
                    .await?,
                );
            }
        }
        let (objekter, regs) = sql::split_historik(rows);
        sql::assemble(uuids, objekter, regs)
    }

    async fn search(&self, q: &SearchQuery) -> StoreResult<Vec<Uuid>> {
        let mut conn = self
            .reader
            .acquire()
            .await
            .map_err(db_err("searching: connecting"))?;
        // SQLite keeps no statistics on fact values: probe to choose the driver.
        run_search(&mut conn, Dialect::Sqlite, q, true).await
    }

    async fn ping(&self) -> StoreResult<()> {
        fetch_one_column::<i64, _>(&self.reader, Sql::new("SELECT 1"), "ping").await?;
        Ok(())
    }
}

/// A write transaction on the single writer connection. Dropping it rolls back.
pub struct SqliteTx {
    tx: sqlx::Transaction<'static, Sqlite>,
}

#[async_trait]
impl StoreTx for SqliteTx {
    async fn lock(&mut self, uuid: Uuid) -> StoreResult<Option<(Objekt, Option<Registrering>)>> {
        // The transaction already holds SQLite's write lock (BEGIN IMMEDIATE): just read.
        let o: Option<ObjektRow> = fetch_optional(
            &mut *self.tx,
            sql::select_objekt_one(uuid, false),
            "locking object",
        )
        .await?;
        let Some(o) = o else { return Ok(None) };
        let r: Option<RegRow> = fetch_optional(
            &mut *self.tx,
            sql::select_current(uuid),
            "reading current registrering",
        )
        .await?;
        Ok(Some((
            o.into_objekt()?,
            r.map(RegRow::into_registrering).transpose()?,
        )))
    }

    async fn insert_objekt(&mut self, objekt: &Objekt) -> StoreResult<()> {
        let n = execute(
            &mut *self.tx,
            sql::insert_objekt(objekt),
            "inserting object",
        )
        .await?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "object {} already exists",
                objekt.uuid
            )));
        }
        Ok(())
    }

    async fn close_registrering(&mut self, id: i64, til: i64) -> StoreResult<()> {
        let n = execute(
            &mut *self.tx,
            sql::close_registrering(id, til),
            "closing registrering",
        )
        .await?;
        if n == 0 {
            return Err(StoreError::Backend(format!(
                "closing registrering {id}: no such row"
            )));
        }
        Ok(())
    }

    async fn insert_registrering(
        &mut self,
        objekt: &Objekt,
        meta: &RegistreringMeta,
        data: &Data,
        fakta: &[Fakt],
    ) -> StoreResult<i64> {
        let q = sql::insert_registrering(objekt, meta, data)?;
        let id: i64 = fetch_one_column(&mut *self.tx, q, "inserting registrering").await?;
        for q in sql::insert_fakta(id, &objekt.klasse, fakta) {
            execute(&mut *self.tx, q, "inserting facts").await?;
        }
        Ok(id)
    }

    async fn insert_nye(&mut self, nye: &[fki_oio::store::NytObjekt]) -> StoreResult<()> {
        let _n = insert_nye(&mut self.tx, nye).await?;
        Ok(())
    }

    async fn rewrite_registrering(
        &mut self,
        objekt: &Objekt,
        id: i64,
        data: &Data,
        fakta: &[Fakt],
    ) -> StoreResult<()> {
        let n = execute(
            &mut *self.tx,
            sql::rewrite_registrering(objekt.uuid, id, data)?,
            "rewriting registrering",
        )
        .await?;
        if n == 0 {
            return Err(StoreError::Backend(format!(
                "rewriting registrering {id}: not a registrering of {}",
                objekt.uuid
            )));
        }
        execute(&mut *self.tx, sql::delete_fakta(id), "deleting facts").await?;
        for q in sql::insert_fakta(id, &objekt.klasse, fakta) {
            execute(&mut *self.tx, q, "inserting facts").await?;
        }
        Ok(())
    }

    async fn purge(&mut self, uuid: Uuid) -> StoreResult<bool> {
        let mut n = 0;
        for q in sql::purge(uuid) {
            n = execute(&mut *self.tx, q, "purging object").await?;
        }
        Ok(n > 0)
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx
            .commit()
            .await
            .map_err(db_err("committing SQLite transaction"))
    }
}

#[cfg(test)]
mod tests {
    use super::SqliteTuning;

    fn tuning(vars: &[(&str, &str)]) -> Result<SqliteTuning, String> {
        SqliteTuning::from_lookup(|n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn tuning_defaults_and_overrides() {
        assert_eq!(tuning(&[]).unwrap(), SqliteTuning::default());
        let t = tuning(&[
            ("FKI_SQLITE_MMAP_MB", "256"),
            ("FKI_SQLITE_READERS", " 2 "),
            ("FKI_SQLITE_WAL_PAGES", "4000"),
        ])
        .unwrap();
        assert_eq!(
            (t.readers, t.cache_mib, t.mmap_mib, t.wal_pages),
            (2, 32, 256, 4000)
        );
    }

    #[test]
    fn tuning_rejects_bad_values() {
        let e = tuning(&[("FKI_SQLITE_READERS", "0")]).unwrap_err();
        assert!(
            e.contains("FKI_SQLITE_READERS") && e.contains("at least 1"),
            "{e}"
        );
        let e = tuning(&[("FKI_SQLITE_CACHE_MB", "lots")]).unwrap_err();
        assert!(e.contains("FKI_SQLITE_CACHE_MB"), "{e}");
    }

    /// The WAL stays bounded under a stream of commits with reads in between (SQLite's
    /// automatic checkpoint, in the committing connection, lets the next write start the WAL
    /// over; checkpoints run elsewhere, racing the writes, never did and the WAL grew without
    /// end).
    #[tokio::test]
    async fn the_wal_stays_bounded_while_messages_stream_in() {
        use crate::besked::{BeskedStore, Dueslag, Leveringsform, NyBesked};
        let dir = tempfile::tempdir().unwrap();
        let sti = dir.path().join("fki.sqlite");
        let s = super::SqliteStore::open_path(&sti).await.unwrap();
        let d = Dueslag {
            uuid: uuid::Uuid::new_v4(),
            navn: "wal".into(),
            ejer: uuid::Uuid::new_v4(),
            myndighed: "29189846".into(),
            aktiv: true,
            levering: Leveringsform::Pull,
            maks_forsoeg: 3,
            oprettet: 0,
        };
        s.opret_dueslag(&d).await.unwrap();
        let fyld = "x".repeat(8000);
        let mut stoerst = 0;
        // 3,000 messages of 8 kB: 24 MB, six times the WAL's automatic checkpoint size.
        for runde in 0..300 {
            let beskeder = (0..10)
                .map(|i| NyBesked {
                    besked_id: uuid::Uuid::new_v4(),
                    afsender: uuid::Uuid::nil(),
                    myndighed: "29189846".into(),
                    modtaget: runde * 10 + i,
                    xml: format!("<Haendelsesbesked>{fyld}</Haendelsesbesked>"),
                    dueslag: vec![d.uuid],
                })
                .collect();
            s.modtag(beskeder).await.unwrap();
            assert!(!s.klar(d.uuid, i64::MAX, 1).await.unwrap().is_empty());
            let wal = std::fs::metadata(dir.path().join("fki.sqlite-wal"))
                .map(|m| m.len())
                .unwrap_or(0);
            stoerst = stoerst.max(wal);
        }
        assert!(stoerst < 8 << 20, "the WAL grew to {stoerst} bytes");
    }

    /// Acknowledging a group of leveringer looks each one up; it does not read the dueslag's
    /// whole backlog of Klar leveringer (nor the table).
    #[tokio::test]
    async fn acknowledging_looks_each_levering_up() {
        let s = super::SqliteStore::open_url("sqlite::memory:")
            .await
            .unwrap();
        let mut q = crate::besked_sql::kvitter_par(
            &[(uuid::Uuid::new_v4(), 1), (uuid::Uuid::new_v4(), 2)],
            0,
        );
        q.text = format!("EXPLAIN QUERY PLAN {}", q.text);
        let mut conn = s.writer.acquire().await.unwrap();
        let plan =
            crate::sqlite_direkte::laes(&mut conn, "test", |d| d.raekker(q, "test", |r| r.text(3)))
                .await
                .unwrap();
        let levering: Vec<&String> = plan
            .iter()
            .filter(|l| l.contains("besked_levering"))
            .collect();
        assert!(
            !levering.is_empty()
                && levering
                    .iter()
                    .all(|l| l.starts_with("SEARCH") && l.contains("loebenr=?")),
            "{plan:?}"
        );
    }
}
