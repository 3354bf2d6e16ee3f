//! probe
use facet::Facet;
use prism_codecs::Limits;
use prism_codecs::postcard::from_slice;

#[derive(Facet, Debug, PartialEq, Clone)]
struct List {
    value: u8,
    next: Option<Box<List>>,
}
impl Drop for List {
    fn drop(&mut self) {
        let mut n = self.next.take();
        while let Some(mut x) = n {
            n = x.next.take();
        }
    }
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct Tree {
    value: i32,
    children: Vec<Tree>,
}

fn list_bytes(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.extend([7, 1]);
    }
    v.extend([7, 0]);
    v
}
fn tree_bytes(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.extend([2, 1]);
    }
    v.extend([2, 0]);
    v
}

#[test]
fn probe() {
    for n in [10, 30, 60, 63, 64, 100] {
        let b = list_bytes(n);
        let ours = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || {
                let r = from_slice::<List>(&b).map(|_| ());
                r
            })
            .unwrap()
            .join()
            .unwrap();
        eprintln!("list {n}: ours {:?}", ours.is_ok());
        let b = list_bytes(n);
        let r = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || from_slice::<List>(&b).is_ok())
            .unwrap()
            .join();
        eprintln!("list {n}: ours in 2MiB ok={:?}", r.is_ok());
        let b = tree_bytes(n);
        let r = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || from_slice::<Tree>(&b).is_ok())
            .unwrap()
            .join();
        eprintln!("tree {n}: ours in 2MiB {:?}", r);
    }
    let _ = Limits::default();
}

#[test]
fn probe_facet() {
    for n in [20, 63, 64] {
        let b = list_bytes(n);
        let r = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || facet_postcard::from_slice::<List>(&b).is_ok())
            .unwrap()
            .join();
        eprintln!("facet list {n}: {:?}", r);
        let b = tree_bytes(n);
        let r = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || facet_postcard::from_slice::<Tree>(&b).is_ok())
            .unwrap()
            .join();
        eprintln!("facet tree {n}: {:?}", r);
    }
}
