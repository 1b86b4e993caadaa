//! The eight operations, each one transaction (contract §5, §6).
//!
//! Every write follows the same path ([`Engine::write_in`]): lock the object, check the caller's
//! tenancy and the lifecycle table, compute the new registrering in Rust ([`crate::merge`]),
//! close the current registrering and append the new one with its search facts. If the result
//! equals the current registrering nothing is stored (LoRa's rule).

use std::sync::Arc;

use serde_json::Value;
use uuid::Uuid;

use crate::error::{OioError, OioResult};
use crate::fakta::fakta;
use crate::json::{RenderOpts, render_objekt};
use crate::merge;
use crate::model::{Aendring, Livscyklus, Objekt, RegistreringMeta};
use crate::query::Tid;
use crate::spec::ClassSpec;
use crate::store::{Historik, Scope, SearchQuery, Store, StoreError, StoreTx};
use crate::time::{self, POS_INF};

/// Who is acting, and for which myndighed. Every operation takes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kontekst {
    /// What the caller may read (and, for owned objects, write).
    pub scope: Scope,
    /// The myndighed (CVR) that owns objects the caller creates.
    pub myndighed: Option<String>,
    /// Objects the caller creates are fælleskommunale.
    pub faelles: bool,
    /// Stamped on every registrering the caller writes.
    pub brugerref: Option<Uuid>,
}

impl Kontekst {
    /// The system itself: sees and writes everything (demo seeding, admin commands).
    pub fn system() -> Kontekst {
        Kontekst {
            scope: Scope::All,
            myndighed: None,
            faelles: false,
            brugerref: None,
        }
    }

    /// Whether the caller may write an existing object: it must see it, and fælleskommunale
    /// objects only their owner may write.
    fn check_write(&self, klasse: &str, o: &Objekt) -> OioResult<()> {
        match &self.scope {
            Scope::All => Ok(()),
            Scope::Myndigheder(m) => {
                if !self.scope.permits(o) {
                    Err(OioError::NotFound {
                        klasse: klasse.into(),
                        uuid: o.uuid,
                    })
                } else if o.myndighed.as_ref().is_some_and(|c| m.contains(c)) {
                    Ok(())
                } else {
                    Err(OioError::Forbidden(format!(
                        "{klasse} {} is fælleskommunal and owned by another myndighed",
                        o.uuid
                    )))
                }
            }
        }
    }
}

/// A write operation.
#[derive(Debug, Clone)]
pub enum Skriv {
    /// POST: a new object with this payload (create-validated).
    Opret(Aendring),
    /// PUT: create or overwrite with this payload (create-validated).
    Importer(Aendring),
    /// PATCH: merge this change (update-validated); `livscyklus: Passiv` passivates.
    Ret(Aendring),
    Passiver {
        note: Option<String>,
    },
    Slet {
        note: Option<String>,
    },
}

impl Skriv {
    fn name(&self) -> &'static str {
        match self {
            Skriv::Opret(_) => "opret",
            Skriv::Importer(_) => "importer",
            Skriv::Ret(_) => "ret",
            Skriv::Passiver { .. } => "passiver",
            Skriv::Slet { .. } => "slet",
        }
    }
}

/// What one write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Udfald {
    /// A new object.
    Oprettet,
    /// A new registrering of an existing object.
    Aendret,
    /// Nothing stored: the result equals the current registrering.
    Uaendret,
}

/// One transaction fed write by write ([`Engine::bulk`]): all or nothing. Nothing here holds
/// the writes; what the transaction has written so far lives in the database's transaction.
pub struct Bulk<'e> {
    engine: &'e Engine,
    tx: Box<dyn StoreTx>,
    n: usize,
    skip_unchanged: bool,
}

impl Bulk<'_> {
    /// An `importer` of data equal to the current registrering stores nothing
    /// ([`Udfald::Uaendret`]) instead of a `Rettet` registrering: re-importing the same file
    /// changes nothing.
    pub fn skip_unchanged(mut self, yes: bool) -> Self {
        self.skip_unchanged = yes;
        self
    }

    /// One write inside the transaction. After an error the transaction must not be used
    /// further (PostgreSQL has aborted it): drop the `Bulk`.
    pub async fn write(
        &mut self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        op: Skriv,
    ) -> OioResult<Udfald> {
        let u = self
            .engine
            .write_in_udfald(self.tx.as_mut(), ctx, spec, uuid, op, self.skip_unchanged)
            .await?;
        self.n += 1;
        Ok(u)
    }

    /// Commit everything written; the number of writes.
    pub async fn commit(self) -> OioResult<usize> {
        self.tx.commit().await?;
        Ok(self.n)
    }
}

/// The engine: stateless apart from its store.
#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn Store>,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>) -> Engine {
        Engine { store }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Run one write in its own transaction.
    pub async fn write(
        &self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        op: Skriv,
    ) -> OioResult<Uuid> {
        let mut tx = self.store.begin().await?;
        self.write_in(tx.as_mut(), ctx, spec, uuid, op).await?;
        tx.commit().await?;
        Ok(uuid)
    }

    /// Run many writes in one transaction: all or nothing (demo seeding). The writes are taken
    /// from the iterator one at a time; for input that is parsed as it is read (and may fail
    /// half-way), use [`Engine::bulk`].
    pub async fn write_many(
        &self,
        ctx: &Kontekst,
        ops: impl IntoIterator<Item = (&'static ClassSpec, Uuid, Skriv)>,
    ) -> OioResult<usize> {
        let mut bulk = self.bulk().await?;
        for (spec, uuid, op) in ops {
            bulk.write(ctx, spec, uuid, op).await?;
        }
        bulk.commit().await
    }

    /// Start a bulk write: one transaction that the caller feeds object by object (bulk import
    /// streams a file through it, so memory does not grow with the file) and commits at the
    /// end. Dropping it without [`Bulk::commit`], e.g. on the first error, stores nothing.
    pub async fn bulk(&self) -> OioResult<Bulk<'_>> {
        Ok(Bulk {
            engine: self,
            tx: self.store.begin().await?,
            n: 0,
            skip_unchanged: false,
        })
    }

    /// The one write path.
    pub async fn write_in(
        &self,
        tx: &mut dyn StoreTx,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        op: Skriv,
    ) -> OioResult<()> {
        self.write_in_udfald(tx, ctx, spec, uuid, op, false)
            .await
            .map(|_| ())
    }

    /// [`Engine::write_in`], saying what it did. With `skip_unchanged`, an `importer` whose
    /// payload equals the current registrering's data stores nothing (re-running a bulk import
    /// of the same file); otherwise it appends a `Rettet` registrering, as LoRa does.
    async fn write_in_udfald(
        &self,
        tx: &mut dyn StoreTx,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        op: Skriv,
        skip_unchanged: bool,
    ) -> OioResult<Udfald> {
        let op_name = op.name();
        let mut current = tx.lock(uuid).await?;
        let not_found = || OioError::NotFound {
            klasse: spec.name.into(),
            uuid,
        };
        let exists = || OioError::Conflict(format!("{} {uuid} already exists", spec.name));

        // Create the object row first when the UUID is new.
        let mut created = None;
        if current.is_none() && matches!(op, Skriv::Opret(_) | Skriv::Importer(_)) {
            let objekt = Objekt {
                uuid,
                klasse: spec.name.into(),
                myndighed: ctx.myndighed.clone(),
                faelles: ctx.faelles,
            };
            match tx.insert_objekt(&objekt).await {
                Ok(()) => created = Some(objekt),
                // A concurrent import created it first (PostgreSQL waits for that transaction):
                // continue as an import onto the object it created.
                Err(StoreError::Conflict(_)) if matches!(op, Skriv::Importer(_)) => {
                    current = tx.lock(uuid).await?;
                }
                Err(StoreError::Conflict(_)) => return Err(exists()),
                Err(e) => return Err(e.into()),
            }
        }

        // Resolve what to store: (objekt, data, livscyklus, note, previous registrering).
        let (objekt, data, livscyklus, note, previous) = match (op, current) {
            (Skriv::Opret(a) | Skriv::Importer(a), None) => {
                let livscyklus = if op_name == "opret" {
                    Livscyklus::Opstaaet
                } else {
                    Livscyklus::Importeret
                };
                let objekt = created.ok_or_else(|| {
                    OioError::Store(StoreError::Backend(format!(
                        "{uuid} vanished while importing"
                    )))
                })?;
                let mut data = a.data;
                merge::normalise_new(spec, &mut data);
                (objekt, data, livscyklus, a.note, None)
            }
            (_, None) => return Err(not_found()),
            (op, Some((objekt, current))) => {
                if objekt.klasse != spec.name {
                    return match op {
                        Skriv::Opret(_) | Skriv::Importer(_) => Err(OioError::Conflict(format!(
                            "{uuid} is a {}, not a {}",
                            objekt.klasse, spec.name
                        ))),
                        _ => Err(not_found()),
                    };
                }
                ctx.check_write(spec.name, &objekt)?;
                let cur = current.ok_or_else(|| {
                    OioError::Store(StoreError::Backend(format!(
                        "{uuid} has no current registrering"
                    )))
                })?;
                let from = cur.meta.livscyklus;
                let transition = |to: Livscyklus| -> OioResult<()> {
                    if from.may_become(to) {
                        Ok(())
                    } else {
                        Err(OioError::Livscyklus {
                            from: from.as_str(),
                            to: to.as_str(),
                        })
                    }
                };
                let (data, livscyklus, note) = match op {
                    Skriv::Opret(_) => return Err(exists()),
                    Skriv::Importer(a) => {
                        if matches!(from, Livscyklus::Passiveret | Livscyklus::Slettet) {
                            // LoRa's reference code applies the import as an update on top of the
                            // last registrering (docs/oio-rest.md).
                            transition(Livscyklus::Importeret)?;
                            let mut change = a.data;
                            merge::normalise_new(spec, &mut change);
                            (
                                merge::apply(spec, &cur.data, &change),
                                Livscyklus::Importeret,
                                a.note,
                            )
                        } else {
                            let mut data = a.data;
                            merge::normalise_new(spec, &mut data);
                            if skip_unchanged && data == cur.data {
                                return Ok(Udfald::Uaendret);
                            }
                            transition(Livscyklus::Rettet)?;
                            (data, Livscyklus::Rettet, a.note)
                        }
                    }
                    Skriv::Ret(a)
                        if a.livscyklus
                            .as_deref()
                            .is_some_and(|l| l.eq_ignore_ascii_case("passiv")) =>
                    {
                        transition(Livscyklus::Passiveret)?;
                        (cur.data.clone(), Livscyklus::Passiveret, a.note)
                    }
                    Skriv::Ret(a) => {
                        transition(Livscyklus::Rettet)?;
                        (
                            merge::apply(spec, &cur.data, &a.data),
                            Livscyklus::Rettet,
                            a.note,
                        )
                    }
                    Skriv::Passiver { note } => {
                        transition(Livscyklus::Passiveret)?;
                        (cur.data.clone(), Livscyklus::Passiveret, note)
                    }
                    Skriv::Slet { note } => {
                        if from == Livscyklus::Slettet {
                            // Deleting a deleted object is a no-op that still succeeds.
                            return Ok(Udfald::Uaendret);
                        }
                        transition(Livscyklus::Slettet)?;
                        (cur.data.clone(), Livscyklus::Slettet, note)
                    }
                };
                (objekt, data, livscyklus, note, Some(cur))
            }
        };

        if let Some(prev) = &previous
            && prev.data == data
            && prev.meta.livscyklus == livscyklus
        {
            tracing::debug!(%uuid, op = op_name, "unchanged; no new registrering");
            return Ok(Udfald::Uaendret);
        }
        let udfald = if previous.is_some() {
            Udfald::Aendret
        } else {
            Udfald::Oprettet
        };
        let mut fra = time::now();
        if let Some(prev) = &previous {
            // Registreringer of one object are strictly ordered in transaction time.
            fra = fra.max(prev.meta.fra + 1);
            tx.close_registrering(prev.id, fra).await?;
        }
        // Without a known user LoRa stamps its constant brugerref; storing it keeps
        // `brugerref` searches consistent with what reads show.
        let brugerref = Some(ctx.brugerref.unwrap_or(crate::json::LORA_BRUGERREF));
        let meta = RegistreringMeta {
            fra,
            til: POS_INF,
            livscyklus,
            brugerref,
            note,
        };
        tx.insert_registrering(&objekt, &meta, &data, &fakta(spec, &data))
            .await?;
        tracing::debug!(%uuid, klasse = spec.name, op = op_name, livscyklus = livscyklus.as_str(), "registered");
        Ok(udfald)
    }

    /// Read one object (LoRa's `laes`): its registreringer in the window, newest first.
    pub async fn laes(
        &self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        tid: Tid,
        konsolider: bool,
    ) -> OioResult<Value> {
        let h = self.laes_historik(ctx, spec, uuid, tid).await?;
        Ok(render_objekt(
            spec,
            uuid,
            &h.registreringer,
            RenderOpts {
                virk: tid.virk,
                konsolider,
            },
        ))
    }

    /// As [`Engine::laes`], unrendered: for a transport with its own wire form (SOAP). The
    /// registreringer are those registered in `tid.reg`; filtering by `tid.virk` is the
    /// renderer's job.
    pub async fn laes_historik(
        &self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuid: Uuid,
        tid: Tid,
    ) -> OioResult<Historik> {
        let hist = self.store.read(&[uuid], tid.reg).await?;
        let h = hist
            .into_iter()
            .find(|h| visible(ctx, spec, h))
            .ok_or_else(|| OioError::NotFound {
                klasse: spec.name.into(),
                uuid,
            })?;
        check_readable(spec, &h)?;
        Ok(h)
    }

    /// Read many objects (LoRa's `list`). Unknown UUIDs are left out (LoRa's reference code);
    /// a deleted object makes the whole call 410 (docs/oio-rest.md). Results follow `uuids`.
    pub async fn list(
        &self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuids: &[Uuid],
        tid: Tid,
        konsolider: bool,
    ) -> OioResult<Vec<Value>> {
        Ok(self
            .list_historik(ctx, spec, uuids, tid)
            .await?
            .iter()
            .map(|h| {
                render_objekt(
                    spec,
                    h.objekt.uuid,
                    &h.registreringer,
                    RenderOpts {
                        virk: tid.virk,
                        konsolider,
                    },
                )
            })
            .collect())
    }

    /// As [`Engine::list`], unrendered (see [`Engine::laes_historik`]).
    pub async fn list_historik(
        &self,
        ctx: &Kontekst,
        spec: &ClassSpec,
        uuids: &[Uuid],
        tid: Tid,
    ) -> OioResult<Vec<Historik>> {
        let hist = self.store.read(uuids, tid.reg).await?;
        let mut out = Vec::with_capacity(hist.len());
        for h in hist
            .into_iter()
            .filter(|h| visible(ctx, spec, h) && !h.registreringer.is_empty())
        {
            check_readable(spec, &h)?;
            out.push(h);
        }
        Ok(out)
    }

    /// Search (LoRa's `soeg`): the UUIDs of matching objects.
    pub async fn soeg(&self, ctx: &Kontekst, q: &SearchQuery) -> OioResult<Vec<Uuid>> {
        let mut q = q.clone();
        q.scope = narrow(&ctx.scope, &q.scope);
        Ok(self.store.search(&q).await?)
    }
}

/// The narrower of two scopes.
fn narrow(a: &Scope, b: &Scope) -> Scope {
    match (a, b) {
        (Scope::All, s) | (s, Scope::All) => s.clone(),
        (Scope::Myndigheder(x), Scope::Myndigheder(y)) => {
            Scope::Myndigheder(x.iter().filter(|c| y.contains(c)).cloned().collect())
        }
    }
}

fn visible(ctx: &Kontekst, spec: &ClassSpec, h: &Historik) -> bool {
    h.objekt.klasse == spec.name && ctx.scope.permits(&h.objekt)
}

fn check_readable(spec: &ClassSpec, h: &Historik) -> OioResult<()> {
    match h.registreringer.first() {
        None => Err(OioError::NotFound {
            klasse: spec.name.into(),
            uuid: h.objekt.uuid,
        }),
        Some(r) if r.meta.livscyklus == Livscyklus::Slettet => Err(OioError::Gone {
            klasse: spec.name.into(),
            uuid: h.objekt.uuid,
        }),
        Some(_) => Ok(()),
    }
}
