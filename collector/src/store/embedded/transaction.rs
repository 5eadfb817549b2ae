//! The trees of a batch's transaction: one fjall write transaction across every tree.

use super::trees::EmbeddedStore;
use crate::store::backend::StoreError;
use fjall::{Readable, SingleWriterWriteTx, Slice};
use std::cell::RefCell;
use std::sync::atomic::AtomicU64;

/// One tree inside a batch's transaction: reads see the batch's own writes, and nothing is
/// visible to anyone else until the transaction commits. No transaction aborts on purpose: a
/// refusal is one rating's answer, not a reason to undo the others, so only storage errors end
/// one early (and drop it, writing nothing).
pub(super) struct Tree<'t, 'db> {
    tx: &'t RefCell<SingleWriterWriteTx<'db>>,
    tree: &'t super::trees::Tree,
}

impl Tree<'_, '_> {
    pub(super) fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Slice>, StoreError> {
        Ok(self.tx.borrow().get(self.tree, key)?)
    }

    pub(super) fn insert(&self, key: impl Into<Slice>, value: impl Into<Slice>) {
        self.tx.borrow_mut().insert(self.tree, key, value);
    }

    pub(super) fn remove(&self, key: impl Into<Slice>) {
        self.tx.borrow_mut().remove(self.tree, key);
    }
}

/// The trees a batch writes, inside its transaction.
pub(super) struct Trees<'t, 'db> {
    pub(super) responses: Tree<'t, 'db>,
    pub(super) counters: Tree<'t, 'db>,
    pub(super) impressions: Tree<'t, 'db>,
    pub(super) events: Tree<'t, 'db>,
    pub(super) outbox: Tree<'t, 'db>,
    pub(super) tag_values: Tree<'t, 'db>,
    pub(super) limits: Tree<'t, 'db>,
    pub(super) registrations: Tree<'t, 'db>,
    /// The live feed's next event number.
    pub(super) next_event: &'t AtomicU64,
}

impl<'t, 'db> Trees<'t, 'db> {
    /// The store's trees inside the transaction `tx`.
    fn of(store: &'t EmbeddedStore, tx: &'t RefCell<SingleWriterWriteTx<'db>>) -> Self {
        let tree = |tree| Tree { tx, tree };
        Self {
            responses: tree(&store.responses),
            counters: tree(&store.counters),
            impressions: tree(&store.impressions),
            events: tree(&store.events),
            outbox: tree(&store.outbox),
            tag_values: tree(&store.tag_values),
            limits: tree(&store.limits),
            registrations: tree(&store.registrations),
            next_event: &store.next_event,
        }
    }
}

/// Runs `write` in one transaction over every tree and commits it; an error drops the
/// transaction, writing nothing.
pub(super) fn in_transaction<T>(
    store: &EmbeddedStore,
    write: impl FnOnce(&Trees<'_, '_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = RefCell::new(store.db.write_tx());
    let written = write(&Trees::of(store, &tx))?;
    tx.into_inner().commit()?;
    Ok(written)
}
