//! The PostgreSQL backend.
//!
//! One pool serves reads and writes. Write transactions run at READ COMMITTED; writers of the
//! same object are serialised by [`StoreTx::lock`] (`SELECT … FOR UPDATE` on the object row), and
//! two creators of the same UUID by the primary key (`INSERT … ON CONFLICT DO NOTHING`: the second
//! waits for the first and then gets [`StoreError::Conflict`]).
//!
//! The planner needs statistics: a table filled since its last `ANALYZE` gets row estimates of 1
//! and quadratic nested loops. Autovacuum analyzes only after a minute and 10 % growth, so the
//! store also analyzes by itself: at open if the tables never were, and in the background after
//! a commit when the facts written since the last analyze reach the number there were then
//! (at least [`ANALYZE_MIN_GROWTH`]), i.e. at every doubling.
//!
//! Statements are cached prepared statements under PostgreSQL's default `plan_cache_mode`: the
//! first five executions of each are planned with their values, after which PostgreSQL keeps a
//! generic plan only if it is estimated no costlier than those custom plans. Only the key-range
//! lookups of paged searches ([`Sql::custom_plan`](crate::sql::Sql::custom_plan)), whose plans
//! hinge on the value, run as unnamed statements planned every time.
//!
//! Searches pick their driving criterion by counting, as on SQLite, and probe the other
//! criteria as subplans (`OFFSET 0`), so the planner orders two relations instead of two plus
//! one per criterion. On 100k objects planning the flattened join cost ~1 ms (the planner reads
//! index end points for its join estimates), ten times what running it costs.
//!
//! Connections turn JIT compilation off: a search whose row estimate is off (value ranges over
//! the mixed `vaerdi` column often are) can cross `jit_above_cost` and spend half a second
//! compiling a query that runs in a millisecond.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use fki_oio::model::{Data, Objekt, Registrering, RegistreringMeta};
use fki_oio::store::{Fakt, Historik, RegWindow, SearchQuery, Store, StoreTx};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};
use uuid::Uuid;

use crate::exec::exec_helpers;
use crate::sql::{self, Dialect, Drive, HistorikRow, ObjektRow, RegRow};

exec_helpers!(Postgres, custom_plans_unprepared = true);
crate::adgang_sql::adgang_impl!(PgStore, read = pool, write = pool);
crate::besked_sql::besked_impl!(
    PgStore,
    read = pool,
    write = pool,
    begin = "BEGIN",
    skriv = sqlx
);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Largest number of connections in the pool.
const MAX_CONNECTIONS: u32 = 16;

/// Facts written before the first automatic `ANALYZE`, and the least growth between two.
pub const ANALYZE_MIN_GROWTH: u64 = 1000;

/// Growth of the fact table since the last `ANALYZE` (see the module docs).
#[derive(Debug)]
struct Growth {
    since: AtomicU64,
    threshold: AtomicU64,
    running: AtomicBool,
}

impl Growth {
    fn new(rows_at_analyze: u64) -> Self {
        Growth {
            since: AtomicU64::new(0),
            threshold: AtomicU64::new(rows_at_analyze.max(ANALYZE_MIN_GROWTH)),
            running: AtomicBool::new(false),
        }
    }

    /// Count committed facts; start a background `ANALYZE` when the threshold is reached.
    fn add(self: &Arc<Self>, facts: u64, pool: &PgPool) {
        let since = self
            .since
            .fetch_add(facts, Ordering::Relaxed)
            .saturating_add(facts);
        if since < self.threshold.load(Ordering::Relaxed)
            || self.running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let (growth, pool) = (self.clone(), pool.clone());
        tokio::spawn(async move {
            growth.since.store(0, Ordering::Relaxed);
            match analyze(&pool).await {
                Ok(rows) => growth
                    .threshold
                    .store(rows.max(ANALYZE_MIN_GROWTH), Ordering::Relaxed),
                Err(e) => tracing::warn!("automatic ANALYZE failed: {e}"),
            }
            growth.running.store(false, Ordering::Release);
        });
    }
}

/// `ANALYZE` the three tables; returns the estimated number of facts afterwards.
async fn analyze(pool: &PgPool) -> StoreResult<u64> {
    execute(
        pool,
        Sql::new("ANALYZE objekt, registrering, fakt"),
        "analyzing",
    )
    .await?;
    let rows = fact_estimate(pool).await?;
    tracing::debug!(facts = rows, "analyzed");
    Ok(rows.max(0).unsigned_abs())
}

/// The planner's estimate of the number of facts; negative if the table was never analyzed.
async fn fact_estimate(pool: &PgPool) -> StoreResult<i64> {
    fetch_one_column(
        pool,
        Sql::new("SELECT reltuples::BIGINT FROM pg_class WHERE oid = 'fakt'::regclass"),
        "reading table statistics",
    )
    .await
}

/// The PostgreSQL implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    growth: Arc<Growth>,
}

impl PgStore {
    /// Run `qs` in one transaction; rows changed, summed.
    pub(crate) async fn skriv_alle(&self, qs: Vec<Sql>, ctx: &str) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err(ctx))?;
        let mut n = 0;
        for q in qs {
            n += execute(&mut *tx, q, ctx).await?;
        }
        tx.commit().await.map_err(db_err(ctx))?;
        Ok(n)
    }

    /// Connect to a `postgres://` / `postgresql://` URL and migrate the database.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("bad PostgreSQL URL: {e}")))?
            .options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            // sqlx would otherwise ping every connection it hands out: a round trip per
            // request. The cost: after PostgreSQL restarts, a stale connection fails the
            // statement it is given (an error, never a wrong answer) instead of being replaced.
            .test_before_acquire(false)
            .connect_with(opts)
            .await
            .map_err(db_err("connecting to PostgreSQL"))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating PostgreSQL database: {e}")))?;
        let rows = match fact_estimate(&pool).await? {
            n if n < 0 => analyze(&pool).await?,
            n => n.unsigned_abs(),
        };
        let store = PgStore {
            pool,
            growth: Arc::new(Growth::new(rows)),
        };
        store.seed_services().await?;
        Ok(store)
    }

    /// Close the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The plan PostgreSQL picks for a search (`EXPLAIN ANALYZE`), one line per row. For
    /// diagnostics and benchmarks; it runs the query.
    pub async fn explain_search(&self, q: &SearchQuery) -> StoreResult<Vec<String>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_err("explaining search"))?;
        let plan = plan_search(&mut conn, q, true).await?;
        let drive = match plan.driver {
            _ if plan.by_bvn => Drive::Bvn { lo: None, hi: None },
            Some(d) => Drive::Kriterium(d),
            None => Drive::Registrering,
        };
        let mut s = sql::search(Dialect::Postgres, q, drive);
        s.text = format!("EXPLAIN ANALYZE {}", s.text);
        fetch_column(&mut *conn, s, "explaining search").await
    }

    /// Update the planner statistics (`ANALYZE`) now.
    pub async fn analyze(&self) -> StoreResult<()> {
        let rows = analyze(&self.pool).await?;
        self.growth.since.store(0, Ordering::Relaxed);
        self.growth
            .threshold
            .store(rows.max(ANALYZE_MIN_GROWTH), Ordering::Relaxed);
        Ok(())
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        let tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("starting PostgreSQL transaction"))?;
        Ok(Box::new(PgTx {
            tx,
            facts: 0,
            growth: self.growth.clone(),
            pool: self.pool.clone(),
        }))
    }

    async fn read(&self, uuids: &[Uuid], reg: RegWindow) -> StoreResult<Vec<Historik>> {
        let mut rows: Vec<HistorikRow> = Vec::new();
        if !uuids.is_empty() {
            let mut conn = self
                .pool
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
            .pool
            .acquire()
            .await
            .map_err(db_err("searching: connecting"))?;
        // The driver is chosen by counting, as on SQLite: the search then runs as the driver's
        // index scan with one subplan probe per other criterion (see `sql::search`).
        run_search(&mut conn, Dialect::Postgres, q, true).await
    }

    async fn ping(&self) -> StoreResult<()> {
        fetch_one_column::<i32, _>(&self.pool, Sql::new("SELECT 1"), "ping").await?;
        Ok(())
    }
}

/// A PostgreSQL write transaction. Dropping it rolls back.
pub struct PgTx {
    tx: sqlx::Transaction<'static, Postgres>,
    /// Facts written by this transaction (counted towards [`Growth`] on commit).
    facts: u64,
    growth: Arc<Growth>,
    pool: PgPool,
}

#[async_trait]
impl StoreTx for PgTx {
    async fn lock(&mut self, uuid: Uuid) -> StoreResult<Option<(Objekt, Option<Registrering>)>> {
        let o: Option<ObjektRow> = fetch_optional(
            &mut *self.tx,
            sql::select_objekt_one(uuid, true),
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
        self.facts = self.facts.saturating_add(fakta.len() as u64);
        Ok(id)
    }

    async fn insert_nye(&mut self, nye: &[fki_oio::store::NytObjekt]) -> StoreResult<()> {
        let n = insert_nye(&mut self.tx, nye).await?;
        self.facts = self.facts.saturating_add(n);
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
        let PgTx {
            tx,
            facts,
            growth,
            pool,
        } = *self;
        tx.commit()
            .await
            .map_err(db_err("committing PostgreSQL transaction"))?;
        growth.add(facts, &pool);
        Ok(())
    }
}
