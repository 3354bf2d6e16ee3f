//! The default depth limit must keep hostile input from overflowing the
//! stack of an ordinary thread: 2 MiB, what `std::thread`, the test harness
//! and tokio's worker threads get by default.
//!
//! A stack overflow aborts the whole process, so these cases live in their
//! own test binary, each on a named thread that shows in the abort message.

use facet::Facet;
use prism_codecs::postcard::{from_slice, to_vec};
use prism_codecs::{DecodeError, EncodeError};

const THREAD_STACK: usize = 2 << 20;

/// Runs `f` on a fresh thread with a 2 MiB stack, named after the case.
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

/// One enum level per level of nesting.
#[derive(Facet, Debug)]
#[repr(u8)]
enum Nest {
    Leaf,
    Node(Box<Nest>),
}

impl Drop for Nest {
    fn drop(&mut self) {
        let mut next = match self {
            Nest::Node(inner) => core::mem::replace(&mut **inner, Nest::Leaf),
            Nest::Leaf => return,
        };
        while let Nest::Node(inner) = &mut next {
            next = core::mem::replace(&mut **inner, Nest::Leaf);
        }
    }
}

/// A struct and an option per level.
#[derive(Facet, Debug)]
struct Chain {
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

/// A struct and a list per level.
#[derive(Facet, Debug)]
struct Tree {
    value: u8,
    children: Vec<Tree>,
}

fn depth_limited<T: core::fmt::Debug>(result: Result<T, DecodeError>) -> bool {
    matches!(
        result,
        Err(DecodeError::DepthLimitExceeded { limit: 128, .. })
    )
}

#[test]
fn deep_enum_through_box_fits_a_default_stack() {
    let mut input = vec![1u8; 10_000];
    input.push(0);
    on_default_stack("decode Nest 10_000 deep", || {
        assert!(depth_limited(from_slice::<Nest>(&input)));
    });
}

#[test]
fn deep_option_box_chain_fits_a_default_stack() {
    let mut input = vec![1u8; 10_000];
    input.push(0);
    on_default_stack("decode Chain 10_000 deep", || {
        assert!(depth_limited(from_slice::<Chain>(&input)));
    });
}

#[test]
fn deep_vec_tree_fits_a_default_stack() {
    let mut input = [7u8, 1].repeat(10_000);
    input.extend([7, 0]);
    on_default_stack("decode Tree 10_000 deep", || {
        assert!(depth_limited(from_slice::<Tree>(&input)));
    });
}

#[test]
fn encoding_at_the_default_limit_fits_a_default_stack() {
    let mut deep = Nest::Leaf;
    for _ in 0..1000 {
        deep = Nest::Node(Box::new(deep));
    }
    on_default_stack("encode Nest 1000 deep", || {
        assert!(matches!(
            to_vec(&deep),
            Err(EncodeError::DepthLimitExceeded { limit: 128, .. })
        ));
    });
}
