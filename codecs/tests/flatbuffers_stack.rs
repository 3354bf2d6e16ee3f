//! The default depth limit keeps FlatBuffers decoding of hostile, deeply
//! nested buffers within the 2 MiB stack of an ordinary thread, and the
//! deepest value that encodes under the limit also decodes there.
//!
//! A stack overflow aborts the process, so these cases live in their own
//! test binary, each on a named thread that shows in the abort message.

use ::flatbuffers::FlatBufferBuilder;
use facet::Facet;
use prism_codecs::flatbuffers::{self as fb, FlatView};
use prism_codecs::{DecodeError, EncodeError, Limits, Payload};

const THREAD_STACK: usize = 2 << 20;

fn on_default_stack(name: &str, f: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name(name.to_owned())
            .stack_size(THREAD_STACK)
            .spawn_scoped(s, f)
            .expect("spawn")
            .join()
            .expect("case panicked");
    });
}

#[derive(Facet, Debug, PartialEq)]
struct Chain {
    label: String,
    next: Option<Box<Chain>>,
}

impl Drop for Chain {
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(mut node) = next {
            next = node.next.take();
        }
    }
}

#[derive(Facet, Debug, PartialEq)]
#[repr(u8)]
enum Expr {
    Lit(i64),
    Neg(Box<Expr>),
}

fn chain(depth: usize) -> Chain {
    let mut node = Chain {
        label: "leaf".into(),
        next: None,
    };
    for _ in 0..depth {
        node = Chain {
            label: "x".into(),
            next: Some(Box::new(node)),
        };
    }
    node
}

#[test]
fn deepest_encodable_value_decodes_on_a_small_stack() {
    on_default_stack("deepest chain", || {
        let mut depth = 0;
        while fb::to_vec(&chain(depth + 1)).is_ok() {
            depth += 1;
        }
        assert!(depth > 30, "only {depth} levels encode");
        let err = fb::to_vec(&chain(depth + 1)).unwrap_err();
        assert!(
            matches!(err, EncodeError::DepthLimitExceeded { limit: 128, .. }),
            "{err:?}"
        );
        let bytes = fb::to_vec(&chain(depth)).unwrap();
        let back: Chain = fb::from_slice(&bytes).unwrap();
        assert_eq!(back, chain(depth));
        let view =
            FlatView::<Chain>::new(Payload::copy_from_slice(&bytes), &Limits::default()).unwrap();
        assert_eq!(view.to_owned().unwrap(), chain(depth));
    });
}

/// `Chain` tables nested `depth` deep, built by hand (innermost first).
fn hostile_chain(depth: usize) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let label = fbb.create_string("x");
    let start = fbb.start_table();
    fbb.push_slot_always(4, label);
    let mut node = fbb.end_table(start);
    for _ in 0..depth {
        let start = fbb.start_table();
        fbb.push_slot_always(4, label);
        fbb.push_slot_always(6, node);
        node = fbb.end_table(start);
    }
    fbb.finish_minimal(node);
    fbb.finished_data().to_vec()
}

/// `Expr::Neg` nested `depth` deep: a union inside each variant table.
fn hostile_expr(depth: usize) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let start = fbb.start_table();
    fbb.push_slot_always(4, 5i64);
    let mut node = fbb.end_table(start);
    let mut ty = 1u8;
    for _ in 0..depth {
        let start = fbb.start_table();
        fbb.push_slot_always(4, ty);
        fbb.push_slot_always(6, node);
        node = fbb.end_table(start);
        ty = 2;
    }
    // The root wraps the union: `table Root { value: Expr; }`.
    let start = fbb.start_table();
    fbb.push_slot_always(4, 2u8);
    fbb.push_slot_always(6, node);
    let root = fbb.end_table(start);
    fbb.finish_minimal(root);
    fbb.finished_data().to_vec()
}

#[test]
fn hostile_nesting_is_refused_without_overflow() {
    on_default_stack("hostile chain", || {
        for depth in [200, 1_000, 100_000] {
            let bytes = hostile_chain(depth);
            let err = fb::from_slice::<Chain>(&bytes).unwrap_err();
            assert!(
                matches!(err, DecodeError::DepthLimitExceeded { limit: 128, .. }),
                "{err:?}"
            );
            let err = FlatView::<Chain>::new(Payload::copy_from_slice(&bytes), &Limits::default())
                .unwrap_err();
            assert!(
                matches!(err, DecodeError::DepthLimitExceeded { .. }),
                "{err:?}"
            );
        }
        // Shallow enough for the verifier, too deep for the value's own count.
        let bytes = hostile_chain(100);
        let err = fb::from_slice::<Chain>(&bytes).unwrap_err();
        assert!(
            matches!(err, DecodeError::DepthLimitExceeded { limit: 128, .. }),
            "{err:?}"
        );
        let ok = hostile_chain(20);
        assert!(fb::from_slice::<Chain>(&ok).is_ok());
    });
    on_default_stack("hostile expr", || {
        for depth in [150, 100_000] {
            let err = fb::from_slice::<Expr>(&hostile_expr(depth)).unwrap_err();
            assert!(
                matches!(err, DecodeError::DepthLimitExceeded { limit: 128, .. }),
                "{err:?}"
            );
        }
        let mut expect = Expr::Lit(5);
        for _ in 0..10 {
            expect = Expr::Neg(Box::new(expect));
        }
        assert_eq!(fb::from_slice::<Expr>(&hostile_expr(10)).unwrap(), expect);
    });
}
