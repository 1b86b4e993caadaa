//! Running [`crate::sql::Sql`] statements on a concrete sqlx backend.
//!
//! sqlx's generic executor bounds are heavy, so [`exec_helpers!`] stamps out the same small set
//! of helpers for each concrete database type (`Sqlite`, `Postgres`) inside its backend module.

use fki_oio::store::{SearchQuery, StoreError, StoreResult};

/// A row type that converts into the domain value it stores (checking what the database
/// cannot: enum names, UUID texts …); read with `fetch_all_into` / `fetch_optional_into`.
pub(crate) trait IntoDomain {
    type Out;
    fn into_domain(self) -> StoreResult<Self::Out>;
}

/// Map a sqlx error to a [`StoreError`], with `ctx` saying what was being done. Unique
/// violations, serialisation failures and deadlocks are expected races: [`StoreError::Conflict`].
pub(crate) fn db_err(ctx: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| {
        if let Some(d) = e.as_database_error() {
            // PostgreSQL SQLSTATEs 40001 (serialization_failure) and 40P01 (deadlock_detected).
            let race = matches!(d.code().as_deref(), Some("40001" | "40P01"));
            if d.is_unique_violation() || race {
                return StoreError::Conflict(format!("{ctx}: {d}"));
            }
        }
        StoreError::Backend(format!("{ctx}: {e}"))
    }
}

macro_rules! exec_helpers {
    // `$custom`: whether [`Sql::custom_plan`] statements run unprepared (unnamed) on this backend.
    ($db:ty, custom_plans_unprepared = $custom:expr) => {
        #[allow(unused_imports)]
        use $crate::exec::db_err;
        #[allow(unused_imports)]
        use $crate::sql::{Bind, Sql};
        #[allow(unused_imports)]
        use fki_oio::store::{StoreError, StoreResult};
        #[allow(unused_imports)]
        use sqlx::Arguments as _;

        type Args = <$db as sqlx::Database>::Arguments;
        type Conn = <$db as sqlx::Database>::Connection;

        fn args(binds: Vec<Bind>, ctx: &str) -> StoreResult<Args> {
            let mut a = Args::default();
            for b in binds {
                let r = match b {
                    Bind::I64(v) => a.add(v),
                    Bind::Text(v) => a.add(v),
                    Bind::OptText(v) => a.add(v),
                    Bind::OptI64(v) => a.add(v),
                    Bind::Bool(v) => a.add(v),
                    Bind::Bytes(v) => a.add(v),
                };
                r.map_err(|e| StoreError::Backend(format!("{ctx}: cannot bind value: {e}")))?;
            }
            Ok(a)
        }

        /// Run a statement; returns the number of rows affected.
        #[allow(dead_code)]
        async fn execute<'c, E>(e: E, q: Sql, ctx: &str) -> StoreResult<u64>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let a = args(q.binds, ctx)?;
            let persistent = !($custom && q.custom_plan);
            sqlx::query_with(sqlx::AssertSqlSafe(q.text), a)
                .persistent(persistent)
                .execute(e)
                .await
                .map(|r| r.rows_affected())
                .map_err(db_err(ctx))
        }

        /// All rows as `O`.
        #[allow(dead_code)]
        async fn fetch_all<'c, O, E>(e: E, q: Sql, ctx: &str) -> StoreResult<Vec<O>>
        where
            E: sqlx::Executor<'c, Database = $db>,
            O: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
        {
            let a = args(q.binds, ctx)?;
            let persistent = !($custom && q.custom_plan);
            sqlx::query_as_with::<_, O, _>(sqlx::AssertSqlSafe(q.text), a)
                .persistent(persistent)
                .fetch_all(e)
                .await
                .map_err(db_err(ctx))
        }

        /// Every row as `R`, converted to its domain value.
        #[allow(dead_code)]
        async fn fetch_all_into<'c, R, E>(
            e: E,
            q: Sql,
            ctx: &str,
        ) -> StoreResult<Vec<<R as $crate::exec::IntoDomain>::Out>>
        where
            E: sqlx::Executor<'c, Database = $db>,
            R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row>
                + $crate::exec::IntoDomain
                + Send
                + Unpin,
        {
            fetch_all::<R, E>(e, q, ctx)
                .await?
                .into_iter()
                .map($crate::exec::IntoDomain::into_domain)
                .collect()
        }

        /// At most one row as `R`, converted to its domain value.
        #[allow(dead_code)]
        async fn fetch_optional_into<'c, R, E>(
            e: E,
            q: Sql,
            ctx: &str,
        ) -> StoreResult<Option<<R as $crate::exec::IntoDomain>::Out>>
        where
            E: sqlx::Executor<'c, Database = $db>,
            R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row>
                + $crate::exec::IntoDomain
                + Send
                + Unpin,
        {
            fetch_optional::<R, E>(e, q, ctx)
                .await?
                .map($crate::exec::IntoDomain::into_domain)
                .transpose()
        }

        /// At most one row as `O`.
        #[allow(dead_code)]
        async fn fetch_optional<'c, O, E>(e: E, q: Sql, ctx: &str) -> StoreResult<Option<O>>
        where
            E: sqlx::Executor<'c, Database = $db>,
            O: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
        {
            let a = args(q.binds, ctx)?;
            let persistent = !($custom && q.custom_plan);
            sqlx::query_as_with::<_, O, _>(sqlx::AssertSqlSafe(q.text), a)
                .persistent(persistent)
                .fetch_optional(e)
                .await
                .map_err(db_err(ctx))
        }

        /// The first column of every row.
        #[allow(dead_code)]
        async fn fetch_column<'c, O, E>(e: E, q: Sql, ctx: &str) -> StoreResult<Vec<O>>
        where
            E: sqlx::Executor<'c, Database = $db>,
            O: for<'r> sqlx::Decode<'r, $db> + sqlx::Type<$db> + Send + Unpin,
        {
            let a = args(q.binds, ctx)?;
            let persistent = !($custom && q.custom_plan);
            sqlx::query_scalar_with::<_, O, _>(sqlx::AssertSqlSafe(q.text), a)
                .persistent(persistent)
                .fetch_all(e)
                .await
                .map_err(db_err(ctx))
        }

        /// The first column of the one row.
        #[allow(dead_code)]
        async fn fetch_one_column<'c, O, E>(e: E, q: Sql, ctx: &str) -> StoreResult<O>
        where
            E: sqlx::Executor<'c, Database = $db>,
            O: for<'r> sqlx::Decode<'r, $db> + sqlx::Type<$db> + Send + Unpin,
        {
            let a = args(q.binds, ctx)?;
            let persistent = !($custom && q.custom_plan);
            sqlx::query_scalar_with::<_, O, _>(sqlx::AssertSqlSafe(q.text), a)
                .persistent(persistent)
                .fetch_one(e)
                .await
                .map_err(db_err(ctx))
        }

        /// [`fki_oio::store::StoreTx::insert_nye`] on one transaction's connection: the object
        /// rows, the registreringer (mapping each object to its registrering's id) and the
        /// facts, each in multi-row statements. Returns how many facts were written.
        #[allow(dead_code)]
        async fn insert_nye(
            conn: &mut Conn,
            nye: &[fki_oio::store::NytObjekt],
        ) -> StoreResult<u64> {
            for q in $crate::sql::insert_nye_objekter(nye) {
                let rows = q.binds.len() / 4;
                let n = execute(&mut *conn, q, "inserting objects").await?;
                if n as usize != rows {
                    return Err(StoreError::Conflict(format!(
                        "{} of {rows} objects already exist",
                        rows - n as usize
                    )));
                }
            }
            let mut ids = std::collections::HashMap::with_capacity(nye.len());
            for q in $crate::sql::insert_nye_registreringer(nye)? {
                let r: Vec<(i64, String)> =
                    fetch_all(&mut *conn, q, "inserting registreringer").await?;
                ids.extend(r.into_iter().map(|(id, uuid)| (uuid, id)));
            }
            let mut regs = Vec::with_capacity(nye.len());
            for n in nye {
                let id = *ids.get(&n.objekt.uuid.to_string()).ok_or_else(|| {
                    StoreError::Backend(format!(
                        "no registrering id returned for {}",
                        n.objekt.uuid
                    ))
                })?;
                regs.push((id, n.objekt.klasse.as_str(), n.fakta.as_slice()));
            }
            let mut fakta = 0u64;
            for q in $crate::sql::insert_fakta_mange(&regs) {
                fakta += execute(&mut *conn, q, "inserting facts").await?;
            }
            Ok(fakta)
        }

        /// Plan a search on one connection: count the candidate drivers that need it
        /// ([`$crate::exec::probes_needed`]) and decide ([`$crate::exec::plan`]).
        async fn plan_search(
            conn: &mut Conn,
            q: &fki_oio::store::SearchQuery,
            probe_drivers: bool,
        ) -> StoreResult<$crate::exec::Plan> {
            let mut counts = Vec::new();
            for (rank, i) in $crate::exec::probes_needed(q, probe_drivers) {
                let n: i64 = fetch_one_column(
                    &mut *conn,
                    $crate::sql::probe(&q.klasse, &q.kriterier[i], $crate::exec::PROBE_CAP),
                    "probing search criterion",
                )
                .await?;
                counts.push((n, rank, i));
                // Nothing matches: any driver is instant. Without driver probing only whether
                // some criterion is selective matters: the first one under the cap settles it.
                if n == 0 || (!probe_drivers && n < i64::from($crate::exec::PROBE_CAP)) {
                    break;
                }
            }
            Ok($crate::exec::plan(q, &counts))
        }

        /// Run a search on one connection: plan it, then either walk the key order
        /// ([`walk_bvn`]) or run the one statement.
        async fn run_search(
            conn: &mut Conn,
            dialect: $crate::sql::Dialect,
            q: &fki_oio::store::SearchQuery,
            probe_drivers: bool,
        ) -> StoreResult<Vec<uuid::Uuid>> {
            use $crate::sql::{self, Drive};
            let plan = plan_search(&mut *conn, q, probe_drivers).await?;
            tracing::debug!(?plan, klasse = %q.klasse, "search plan");
            if plan.by_bvn {
                if let Some(hits) = walk_bvn(&mut *conn, dialect, q).await? {
                    return Ok(hits);
                }
                tracing::debug!("key-order walk over budget; running the aggregate");
            }
            let drive = plan.driver.map_or(Drive::Registrering, Drive::Kriterium);
            let rows: Vec<String> =
                fetch_column(&mut *conn, sql::search(dialect, q, drive), "searching").await?;
            rows.iter().map(|u| sql::parse_uuid(u, "search hit")).collect()
        }

        /// A paged search walked in `a:brugervendtnoegle` order, one key range at a time
        /// (growing from [`$crate::exec::BVN_FIRST_STEP`] facts), until `offset + limit` objects
        /// are found. `None` when the budget of facts is spent first: the caller then runs the
        /// aggregate statement instead.
        async fn walk_bvn(
            conn: &mut Conn,
            dialect: $crate::sql::Dialect,
            q: &fki_oio::store::SearchQuery,
        ) -> StoreResult<Option<Vec<uuid::Uuid>>> {
            use $crate::exec::{BVN_BUDGET, BVN_FIRST_STEP};
            use $crate::sql::{self, Drive};
            let Some((offset, Some(limit))) = q.paging else { return Ok(None) };
            let (Ok(offset), Ok(limit)) = (usize::try_from(offset), usize::try_from(limit)) else {
                return Ok(None);
            };
            let want = offset.saturating_add(limit);
            let mut seen = std::collections::HashSet::new();
            let mut hits: Vec<uuid::Uuid> = Vec::new();
            let mut lo: Option<String> = None;
            let mut step = BVN_FIRST_STEP;
            let mut spent = 0u32;
            while hits.len() < want {
                if spent >= BVN_BUDGET {
                    return Ok(None);
                }
                let hi: Option<String> = fetch_column(
                    &mut *conn,
                    sql::bvn_boundary(&q.klasse, lo.as_deref(), step),
                    "searching: key range",
                )
                .await?
                .into_iter()
                .next();
                let drive = Drive::Bvn { lo: lo.as_deref(), hi: hi.as_deref() };
                let rows: Vec<String> =
                    fetch_column(&mut *conn, sql::search(dialect, q, drive), "searching").await?;
                for r in rows {
                    let u = sql::parse_uuid(&r, "search hit")?;
                    if seen.insert(u) {
                        hits.push(u);
                    }
                }
                match hi {
                    Some(hi) => lo = Some(hi),
                    None => break,
                }
                spent = spent.saturating_add(step);
                step = step.saturating_mul(2);
            }
            Ok(Some(hits.into_iter().skip(offset).take(limit).collect()))
        }
    };
}

pub(crate) use exec_helpers;

/// Facts counted per candidate driver criterion before a probe stops counting.
pub(crate) const PROBE_CAP: u32 = 1000;

/// Facts in the first key range of a walk in `a:brugervendtnoegle` order; each next range is
/// twice as large.
pub(crate) const BVN_FIRST_STEP: u32 = 256;

/// Facts a key-order walk may cover before it gives up (256 + 512 + 1024 + 2048).
pub(crate) const BVN_BUDGET: u32 = 3840;

/// Largest `offset + limit` for which a key-order walk is tried.
pub(crate) const BVN_MAX_WINDOW: u64 = 1000;

/// How a search runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The criterion to drive from, if any.
    pub driver: Option<usize>,
    /// Walk the `a:brugervendtnoegle` order first (a small page of an unselective search).
    pub by_bvn: bool,
}

fn paged_small(q: &SearchQuery) -> bool {
    q.uuid.is_none()
        && matches!(q.paging, Some((o, Some(l))) if o.saturating_add(l) <= BVN_MAX_WINDOW)
}

/// The candidate drivers `(rank, index)` whose facts should be counted before planning, best
/// rank first. Counting is needed to choose among several candidates (when `probe_drivers`: the
/// backend has no statistics of its own) and to see whether a small page of a paged search
/// is better found by walking the key order.
pub(crate) fn probes_needed(q: &SearchQuery, probe_drivers: bool) -> Vec<(u8, usize)> {
    if q.uuid.is_some() {
        return Vec::new();
    }
    let mut candidates: Vec<(u8, usize)> = q
        .kriterier
        .iter()
        .enumerate()
        .filter_map(|(i, k)| crate::sql::driver_rank(k).map(|r| (r, i)))
        .collect();
    candidates.sort();
    let needed = (probe_drivers && candidates.len() > 1) || paged_small(q);
    if needed { candidates } else { Vec::new() }
}

/// Plan a search from the probe counts `(count, rank, index)` (see [`probes_needed`]).
///
/// The driver is the candidate with the fewest facts, ties to the better rank; without counts,
/// the best-ranked candidate. A small page is walked in key order when no criterion can drive
/// the query, or when even the best one matches [`PROBE_CAP`] facts or more: then the first
/// few hundred keys usually hold the page, while the aggregate would visit every match.
pub(crate) fn plan(q: &SearchQuery, counts: &[(i64, u8, usize)]) -> Plan {
    if q.uuid.is_some() {
        return Plan {
            driver: None,
            by_bvn: false,
        };
    }
    let best = counts
        .iter()
        .min_by_key(|(n, rank, _)| (*n, *rank))
        .copied();
    let driver = match best {
        Some((_, _, i)) => Some(i),
        None => crate::sql::pick_driver(&q.kriterier),
    };
    let unselective = match best {
        Some((n, _, _)) => n >= i64::from(PROBE_CAP),
        None => driver.is_none(),
    };
    Plan {
        driver,
        by_bvn: paged_small(q) && unselective,
    }
}
