//! The process-wide plan cache.
//!
//! Plans are compiled once per type and leaked: there is one per type the
//! program encodes, like the `'static` shapes they come from. Each thread
//! keeps its own index of them, so a lookup on the call path takes no lock;
//! the shared table is locked only when a thread meets a type for the first
//! time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, PoisonError};

use facet::{ConstTypeId, Shape};

use super::plan::Plan;
use crate::PlanError;

static SHARED: Mutex<Option<HashMap<ConstTypeId, &'static Plan>>> = Mutex::new(None);

thread_local! {
    static LOCAL: RefCell<HashMap<ConstTypeId, &'static Plan, BuildHasherDefault<IdHasher>>> =
        RefCell::new(HashMap::default());
}

/// Type ids are already well-mixed hashes: pass them through.
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

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(5) ^ n;
    }
}

pub(super) fn plan_for(shape: &'static Shape) -> Result<&'static Plan, PlanError> {
    let local = LOCAL.with(|local| local.borrow().get(&shape.id).copied());
    if let Some(plan) = local {
        return Ok(plan);
    }
    let plan = shared_plan(shape)?;
    LOCAL.with(|local| local.borrow_mut().insert(shape.id, plan));
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
