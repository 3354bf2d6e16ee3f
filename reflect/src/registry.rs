//! The op table of a server or client: op ids to descriptors, with
//! collisions caught at registration.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::{OpDescriptor, OpId, ReflectError, ServiceDescriptor};

/// Op ids to [`OpDescriptor`]s, for every registered service.
///
/// # Examples
///
/// ```
/// use facet::Facet;
/// use prism_reflect::{OpDescriptor, OpId, OpKind, OpTable, ServiceDescriptor};
///
/// const PING: OpId = OpId::from_name("demo", "Echo", "ping");
/// static OPS: [OpDescriptor; 1] = [OpDescriptor::new(
///     "Echo", "ping", PING, OpKind::Unary, <String as Facet>::SHAPE, <String as Facet>::SHAPE,
/// )
/// .with_package("demo")];
/// static ECHO: ServiceDescriptor = ServiceDescriptor::new("demo", "Echo", &OPS);
///
/// let mut table = OpTable::new();
/// table.register(&ECHO).unwrap();
/// assert_eq!(table.get(PING).unwrap().method(), "ping");
/// assert!(table.register(&ECHO).is_err()); // already there
/// ```
#[derive(Debug, Default)]
pub struct OpTable {
    by_id: HashMap<OpId, &'static OpDescriptor>,
    /// Full name -> id, to tell a duplicate from a collision.
    by_name: HashMap<String, OpId>,
    /// Registration order, for deterministic iteration.
    ops: Vec<&'static OpDescriptor>,
    services: Vec<&'static ServiceDescriptor>,
}

impl OpTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every op of `service`; all or nothing.
    ///
    /// # Errors
    ///
    /// - [`ReflectError::DuplicateOp`] when an op's full name is already
    ///   registered (or appears twice in `service`);
    /// - [`ReflectError::OpIdCollision`] when an op's id is already taken
    ///   by an op with a different full name.
    pub fn register(&mut self, service: &'static ServiceDescriptor) -> Result<(), ReflectError> {
        let mut new_ids: HashMap<OpId, String> = HashMap::new();
        let mut new_names: HashMap<String, OpId> = HashMap::new();
        for op in service.ops() {
            let full_name = op.full_name();
            if self.by_name.contains_key(&full_name) || new_names.contains_key(&full_name) {
                return Err(ReflectError::DuplicateOp { full_name });
            }
            let first = match self.by_id.get(&op.id()) {
                Some(existing) => Some(existing.full_name()),
                None => new_ids.get(&op.id()).cloned(),
            };
            if let Some(first) = first {
                return Err(ReflectError::OpIdCollision {
                    first,
                    second: full_name,
                    id: op.id(),
                });
            }
            new_ids.insert(op.id(), full_name.clone());
            new_names.insert(full_name, op.id());
        }
        for op in service.ops() {
            if let Entry::Vacant(slot) = self.by_id.entry(op.id()) {
                slot.insert(op);
                self.ops.push(op);
            }
        }
        self.by_name.extend(new_names);
        self.services.push(service);
        Ok(())
    }

    /// The op with this id.
    pub fn get(&self, id: OpId) -> Option<&'static OpDescriptor> {
        self.by_id.get(&id).copied()
    }

    /// The op with this full name (`package.Service/method`).
    pub fn get_by_name(&self, full_name: &str) -> Option<&'static OpDescriptor> {
        self.by_name.get(full_name).and_then(|id| self.get(*id))
    }

    /// Every op, in registration order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'static OpDescriptor> + '_ {
        self.ops.iter().copied()
    }

    /// Every registered service, in registration order.
    pub fn services(&self) -> &[&'static ServiceDescriptor] {
        &self.services
    }

    /// The number of ops.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no op is registered.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use facet::Facet;

    use super::*;
    use crate::OpKind;

    const fn op(service: &'static str, method: &'static str, id: OpId) -> OpDescriptor {
        OpDescriptor::new(
            service,
            method,
            id,
            OpKind::Unary,
            <u32 as Facet>::SHAPE,
            <u32 as Facet>::SHAPE,
        )
        .with_package("t")
    }

    static A_OPS: [OpDescriptor; 2] = [
        op("A", "one", OpId::from_name("t", "A", "one")),
        op("A", "two", OpId::from_name("t", "A", "two")),
    ];
    static A: ServiceDescriptor = ServiceDescriptor::new("t", "A", &A_OPS);
    static CLASH_OPS: [OpDescriptor; 1] = [op("B", "other", OpId::from_name("t", "A", "one"))];
    static CLASH: ServiceDescriptor = ServiceDescriptor::new("t", "B", &CLASH_OPS);
    static SELF_CLASH_OPS: [OpDescriptor; 2] =
        [op("C", "x", OpId::new(7)), op("C", "y", OpId::new(7))];
    static SELF_CLASH: ServiceDescriptor = ServiceDescriptor::new("t", "C", &SELF_CLASH_OPS);
    static TWICE_OPS: [OpDescriptor; 2] = [op("D", "x", OpId::new(1)), op("D", "x", OpId::new(2))];
    static TWICE: ServiceDescriptor = ServiceDescriptor::new("t", "D", &TWICE_OPS);

    #[test]
    fn lookup_and_iterate() {
        let mut table = OpTable::new();
        table.register(&A).unwrap();
        assert_eq!(table.len(), 2);
        let one = OpId::from_name("t", "A", "one");
        assert_eq!(table.get(one).unwrap().full_name(), "t.A/one");
        assert_eq!(table.get_by_name("t.A/two").unwrap().method(), "two");
        assert!(table.get(OpId::new(0)).is_none());
        let names: Vec<_> = table.iter().map(|o| o.method()).collect();
        assert_eq!(names, ["one", "two"]);
        assert_eq!(table.services().len(), 1);
    }

    #[test]
    fn collision_names_both_ops() {
        let mut table = OpTable::new();
        table.register(&A).unwrap();
        let err = table.register(&CLASH).unwrap_err();
        let id = OpId::from_name("t", "A", "one");
        assert_eq!(
            err,
            ReflectError::OpIdCollision {
                first: "t.A/one".into(),
                second: "t.B/other".into(),
                id
            }
        );
        let msg = err.to_string();
        assert!(
            msg.contains("t.A/one") && msg.contains("t.B/other"),
            "{msg}"
        );
        assert_eq!(table.len(), 2, "a failed registration adds nothing");
    }

    #[test]
    fn collision_inside_one_service_adds_nothing() {
        let mut table = OpTable::new();
        let err = table.register(&SELF_CLASH).unwrap_err();
        assert!(matches!(err, ReflectError::OpIdCollision { .. }), "{err}");
        assert!(table.is_empty() && table.services().is_empty());
    }

    #[test]
    fn duplicates_are_errors() {
        let mut table = OpTable::new();
        table.register(&A).unwrap();
        let err = table.register(&A).unwrap_err();
        assert_eq!(
            err,
            ReflectError::DuplicateOp {
                full_name: "t.A/one".into()
            }
        );
        assert_eq!(err.to_string(), "op `t.A/one` is registered twice");
        let err = OpTable::new().register(&TWICE).unwrap_err();
        assert!(matches!(err, ReflectError::DuplicateOp { .. }));
    }
}
