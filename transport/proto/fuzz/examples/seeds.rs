//! Writes seed inputs into `corpus/<target>/`: HELLO payloads, streams of
//! well-formed frames of every kind, and session conversations (a HELLO,
//! calls with and without deadlines, cancels, pings, a GOAWAY, streams with
//! chunked messages and credits), so a short
//! fuzzing run starts from inputs that get past the handshake.
//!
//! ```sh
//! cargo run --example seeds   # from transport/proto/fuzz; no nightly needed
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use prism_core::Payload;
use prism_proto::frame::{Flags, Frame, FrameHeader, FrameKind, encode_frame};
use prism_proto::session::{self, Extension, Hello, OpEntry};

struct Corpus {
    dir: PathBuf,
    count: usize,
}

impl Corpus {
    fn new(target: &str) -> Corpus {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(target);
        fs::create_dir_all(&dir).expect("create the corpus directory");
        Corpus { dir, count: 0 }
    }

    fn add(&mut self, name: &str, bytes: &[u8]) {
        let path = self.dir.join(format!("seed-{name}-{}", self.count));
        fs::write(&path, bytes).expect("write a seed");
        self.count += 1;
    }
}

fn hellos() -> Vec<Hello> {
    let mut full = Hello::new(vec![
        OpEntry {
            op: 7,
            fingerprint: 0xfeed,
            codecs: vec![1, 2],
        },
        OpEntry {
            op: u64::MAX,
            fingerprint: 0,
            codecs: vec![],
        },
    ]);
    full.extensions.push(Extension {
        kind: 1,
        data: Bytes::from_static(b"token"),
    });
    let mut tiny = Hello::new(vec![]);
    tiny.max_frame = 8;
    tiny.max_channels = 1;
    vec![Hello::default(), full, tiny]
}

fn frame(kind: FrameKind, channel: u32, aux: u64, body: &[u8]) -> Frame {
    let mut header = FrameHeader::new(kind);
    header.channel = channel;
    header.aux = aux;
    if kind == FrameKind::Call {
        header.op = 7;
        header.codec = 1;
    }
    if kind == FrameKind::Response {
        header.codec = 1;
        header.flags = Flags::APP_ERROR;
    }
    Frame::new(header, Payload::new(Bytes::copy_from_slice(body)))
}

fn data(channel: u32, flags: Flags, aux: u64, body: &[u8]) -> Frame {
    let mut header = FrameHeader::new(FrameKind::Data);
    header.channel = channel;
    header.flags = flags;
    header.codec = 1;
    header.aux = aux;
    Frame::new(header, Payload::new(Bytes::copy_from_slice(body)))
}

fn wire(frames: &[Frame]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for f in frames {
        encode_frame(f, &mut out);
    }
    out.to_vec()
}

fn main() {
    let mut out = Corpus::new("hello_decode");
    for hello in hellos() {
        out.add("hello", &hello.encode());
        out.add("accept", &session::Accept::new(hello.ops).encode());
    }

    use FrameKind::*;
    let goaway = [14u8, 0, b'b', b'y', b'e'];
    let mut out = Corpus::new("frame_decoder");
    let all = wire(&[
        frame(Hello, 0, 0, &hellos()[1].encode()),
        frame(Accept, 0, 0, &session::Accept::default().encode()),
        frame(Call, 1, 5_000, b"request"),
        frame(Response, 2, 0, b"0123456789abcdef"),
        frame(Error, 3, 13, b"boom"),
        frame(Cancel, 5, 0, b""),
        frame(Ping, 0, 9, b""),
        frame(Pong, 0, 9, b""),
        frame(GoAway, 0, 3, &goaway),
        data(1, Flags::MORE, 20, b"0123456789"),
        data(1, Flags::NONE, 0, b"abcdefghij"),
        data(1, Flags::END, 0, b""),
        frame(Credit, 0, 4096, b""),
    ]);
    for sizes in [&[0u8][..], &[1, 7, 32], &[200, 192]] {
        let mut input = vec![(sizes.len() - 1) as u8];
        input.extend_from_slice(sizes);
        input.extend_from_slice(&all);
        out.add("stream", &input);
    }

    // Session inputs: flags, control length, control, wire (after the
    // HELLO the harness puts first when flag bit 0 is set).
    let mut out = Corpus::new("session");
    let open = |channel: u32| {
        let mut call = frame(Call, channel, 0, b"");
        call.header.flags = Flags::OPEN;
        call
    };
    let conversations: [(&str, Vec<Frame>); 6] = [
        (
            "calls",
            vec![
                frame(Call, 1, 0, b"no deadline"),
                frame(Call, 3, 1_000, b"short deadline"),
                frame(Call, 5, 0, b""),
                frame(Cancel, 5, 0, b""),
                frame(Ping, 0, 1, b""),
            ],
        ),
        (
            "goaway",
            vec![
                frame(Call, 1, 0, b"x"),
                frame(GoAway, 0, 0, &goaway),
                frame(Call, 3, 0, b"after goaway"),
            ],
        ),
        (
            "violations",
            vec![
                frame(Call, 1, 0, b"x"),
                frame(Call, 1, 0, b"same id"),
                frame(Response, 2, 0, b"never opened"),
            ],
        ),
        (
            "pongs",
            vec![frame(Pong, 0, 1, b""), frame(Ping, 0, 2, b"")],
        ),
        (
            "streams",
            vec![
                open(1),
                data(1, Flags::NONE, 0, b"item"),
                data(1, Flags::MORE, 12, b"chunk"),
                data(1, Flags::NONE, 0, b" two!!!"),
                frame(Call, 3, 0, b"unary between"),
                data(1, Flags::END, 0, b""),
                frame(Credit, 1, 100, b""),
                frame(Credit, 0, 100, b""),
            ],
        ),
        (
            "stream-violations",
            vec![
                open(1),
                data(1, Flags::MORE, 100, b"first"),
                data(1, Flags::MORE, 100, b"first again"),
                data(9, Flags::NONE, 0, b"never opened"),
            ],
        ),
    ];
    // Two control bytes per step: chunk size / 8, then clock step exponent
    // (low 5 bits) and action (high 3 bits: 0 send an item, 1 finish or
    // stop, 2 release credit, 3 respond, 4 fail, 5 ping, 6 go away, 7
    // close).
    let controls: [&[u8]; 4] = [
        &[8, 0],
        &[4, 12, 4, 3 << 5 | 10, 4, 5 << 5 | 1, 0, 20],
        &[255, 6 << 5, 0, 25],
        &[16, 0, 200, 1, 4, 2 << 5, 2, 1 << 5, 3, 1 << 5, 0, 2 << 5],
    ];
    for (name, frames) in &conversations {
        for (flags, control) in [
            (1u8, controls[0]),
            (1, controls[1]),
            (3, controls[2]),
            (1, controls[3]),
        ] {
            let mut input = vec![flags, control.len() as u8];
            input.extend_from_slice(control);
            input.extend_from_slice(&wire(frames));
            out.add(name, &input);
        }
    }
    println!("wrote seeds for hello_decode, frame_decoder and session");
}
