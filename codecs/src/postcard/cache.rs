//! The process-wide plan cache.
//!
//! Plans are compiled once per type and leaked: there is one per type the
//! program encodes, like the `'static` shapes they come from. Each thread
//! keeps its own index of them, so a lookup on the call path takes no lock,
//! and remembers the plan it looked up last, so a stream of one type skips
//! even the index; the shared table is locked only when a thread meets a
//! type for the first time.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, PoisonError};

use facet::{ConstTypeId, Shape};

use super::plan::Plan;
use crate::PlanError;

static SHARED: Mutex<Option<HashMap<ConstTypeId, &'static Plan>>> = Mutex::new(None);

thread_local! {
    /// Keyed by the shape's address: comparing it is one instruction, where
    /// comparing type ids calls through function pointers. A type whose
    /// shape lives at two addresses simply has two entries for one plan.
    static LOCAL: RefCell<HashMap<usize, &'static Plan, BuildHasherDefault<IdHasher>>> =
        RefCell::new(HashMap::default());
    /// The plan looked up last, before the table: a stream's items, or a
    /// run of calls to one op, ask for the same one again and again.
    static LAST: Cell<Option<(usize, &'static Plan)>> = const { Cell::new(None) };
}

/// Shape addresses are distinct and 8-byte aligned: mix them cheaply.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64 >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[inline]
pub(super) fn plan_for(shape: &'static Shape) -> Result<&'static Plan, PlanError> {
    let key = core::ptr::from_ref(shape) as usize;
    if let Some((last, plan)) = LAST.get()
        && last == key
    {
        return Ok(plan);
    }
    let plan = match LOCAL.with(|local| local.borrow().get(&key).copied()) {
        Some(plan) => plan,
        None => first_use(shape, key)?,
    };
    LAST.set(Some((key, plan)));
    Ok(plan)
}

#[cold]
fn first_use(shape: &'static Shape, key: usize) -> Result<&'static Plan, PlanError> {
    let plan = shared_plan(shape)?;
    LOCAL.with(|local| local.borrow_mut().insert(key, plan));
    Ok(plan)
}

fn shared_plan(shape: &'static Shape) -> Result<&'static Plan, PlanError> {
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    let table = shared.get_or_insert_with(HashMap::new);
    if let Some(plan) = table.get(&shape.id) {
        return Ok(plan);
    }
    // Compiling under the lock keeps one plan per type; it runs once per type.
    let plan: &'static Plan = Box::leak(Box::new(Plan::compile(shape)?));
    table.insert(shape.id, plan);
    Ok(plan)
}
