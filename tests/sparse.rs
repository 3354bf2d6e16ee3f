//! A sparse file as a server stream with the segments codec, over the
//! in-memory, TCP and Unix transports: the server finds the ranges that
//! hold data (`SEEK_DATA` / `SEEK_HOLE`) and sends each as a small header
//! plus one raw segment; holes never travel. A 1 GiB file with a few MiB
//! of data arrives as a few MiB, and the copy is as sparse as the original.

#[macro_use]
mod common;

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use common::{Counters, Fixture, Transport, assert_no_panics};
use prism::{Segmented, Server, Status, Streaming};
use rustix::fs::SeekFrom;

/// Which file to send.
#[prism::message]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// Its path on the server.
    pub path: String,
}

/// Where one range of data goes.
#[prism::message]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    /// The whole file's length (holes included).
    pub file_len: u64,
    /// Where this range starts.
    pub offset: u64,
}

/// Files as streams of their data ranges.
#[prism::service(public, package = "tests")]
pub trait Files {
    /// The ranges of a file that hold data, at most 1 MiB per message; a
    /// file of holes only sends one empty extent that gives its length.
    #[prism(codec = segments, bare)]
    async fn extents(&self, open: Segmented<Open>) -> Streaming<Segmented<Extent>>;
}

/// The largest range sent in one message.
const PIECE: u64 = 1 << 20;

struct Disk;

impl Files for Disk {
    async fn extents(&self, open: Segmented<Open>) -> Streaming<Segmented<Extent>> {
        match read_extents(Path::new(&open.header.path)) {
            Ok(extents) => Streaming::iter(extents),
            Err(e) => Streaming::from_try_stream(futures_util::stream::once(async move {
                Err(Status::not_found(format!("cannot read the file: {e}")))
            })),
        }
    }
}

/// Every data range of the file at `path`, cut into messages of at most
/// [`PIECE`] bytes.
fn read_extents(path: &Path) -> io::Result<Vec<Segmented<Extent>>> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut extents = Vec::new();
    let mut at = 0;
    while at < file_len {
        let start = match rustix::fs::seek(&file, SeekFrom::Data(at)) {
            Ok(start) => start,
            Err(rustix::io::Errno::NXIO) => break, // only a hole is left
            Err(e) => return Err(e.into()),
        };
        let end = rustix::fs::seek(&file, SeekFrom::Hole(start))?;
        let mut offset = start;
        while offset < end {
            let len = PIECE.min(end - offset);
            let mut data = vec![0; len as usize];
            file.read_exact_at(&mut data, offset)?;
            extents.push(Segmented {
                header: Extent { file_len, offset },
                segments: vec![Bytes::from(data)],
            });
            offset += len;
        }
        at = end;
    }
    if extents.is_empty() {
        extents.push(Segmented {
            header: Extent {
                file_len,
                offset: 0,
            },
            segments: Vec::new(),
        });
    }
    Ok(extents)
}

/// A path in the temp dir, unique to this process and call.
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("prism-sparse-{}-{n}-{name}", std::process::id()))
}

/// Removes the file when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const GIB: u64 = 1 << 30;

/// The ranges the test writes: a few MiB in 1 GiB, one range not
/// page-aligned and longer than a message.
fn written() -> Vec<(u64, Vec<u8>)> {
    vec![
        (0, vec![1; 256 << 10]),
        (
            512 << 20,
            (0..3 * PIECE + 100).map(|i| (i % 251) as u8).collect(),
        ),
        (GIB - (64 << 10), vec![3; 64 << 10]),
    ]
}

per_transport!(only_the_data_of_a_sparse_file_travels);

async fn only_the_data_of_a_sparse_file_travels(transport: Transport) {
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(FilesServer::new(Disk))
        .allow_plaintext()
        .build()
        .expect("server");
    let fx = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
    let files = FilesClient::new(fx.channel.clone());

    let source = Scratch(scratch("source"));
    let file = File::create(&source.0).expect("create");
    file.set_len(GIB).expect("a 1 GiB hole");
    for (offset, data) in written() {
        file.write_all_at(&data, offset).expect("write");
    }
    drop(file);

    let open = Segmented {
        header: Open {
            path: source.0.display().to_string(),
        },
        segments: Vec::new(),
    };
    let mut extents = files.extents(open).await.expect("open");
    let copy = Scratch(scratch("copy"));
    let out = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&copy.0)
        .expect("create the copy");
    let mut carried = 0u64;
    let mut file_len = 0;
    while let Some(extent) = extents.message().await.expect("extent") {
        file_len = extent.header.file_len;
        let mut offset = extent.header.offset;
        for segment in &extent.segments {
            out.write_all_at(segment, offset).expect("write the copy");
            offset += segment.len() as u64;
            carried += segment.len() as u64;
        }
    }
    out.set_len(file_len).expect("the copy's length");

    assert_eq!(file_len, GIB);
    let data: u64 = written().iter().map(|(_, d)| d.len() as u64).sum();
    // Data ranges are found a page (or a block) at a time.
    assert!(
        carried >= data && carried < data + (1 << 20),
        "{carried} bytes carried for {data} bytes of data in 1 GiB"
    );
    let received = fx.channel.stats().bytes_received;
    assert!(
        received >= carried && received < data + (2 << 20),
        "{received} bytes received for {data} bytes of data"
    );
    for (offset, expected) in written() {
        let mut back = vec![0; expected.len()];
        out.read_exact_at(&mut back, offset).expect("read the copy");
        assert!(back == expected, "the range at {offset} differs");
    }
    let allocated = out.metadata().expect("metadata").blocks() * 512;
    assert!(allocated < 16 << 20, "the copy allocated {allocated} bytes");
    fx.shutdown().await.expect("clean shutdown");
}
