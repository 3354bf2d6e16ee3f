//! The rkyv codec: a handler reads its request in place through a validated
//! view, and a client reads a response the same way. No decode, no copy.
//!
//! Run with `cargo run --release --example rkyv_views`.

use prism::{Archived, Channel, Server};

/// A batch of sensor readings.
#[prism::message(rkyv)]
#[derive(Debug)]
pub struct Readings {
    /// Which sensor sent them.
    pub sensor: String,
    /// The values, in order.
    pub values: Vec<f32>,
}

/// Summary statistics.
#[prism::message(rkyv)]
#[derive(Debug)]
pub struct Summary {
    /// How many values.
    pub count: u64,
    /// Their mean.
    pub mean: f32,
}

/// Statistics over readings, carried by rkyv.
#[prism::service(package = "examples", codec = rkyv, public)]
pub trait Stats {
    /// Summarises a batch, reading it in place.
    async fn summarise(&self, batch: Archived<Readings>) -> Summary;
}

struct MyStats;

impl Stats for MyStats {
    async fn summarise(&self, batch: Archived<Readings>) -> Summary {
        // `batch` derefs to rkyv's archived form: fields are read straight
        // from the received buffer, which `batch` owns.
        let values = batch.values.as_slice();
        let sum: f32 = values.iter().map(|v| v.to_native()).sum();
        println!(
            "  server: {} values from {:?}, read in place",
            values.len(),
            batch.sensor.as_str()
        );
        Summary {
            count: values.len() as u64,
            mean: if values.is_empty() {
                0.0
            } else {
                sum / values.len() as f32
            },
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(StatsServer::new(MyStats))
        .build()?;
    let path = std::env::temp_dir().join(format!("prism-rkyv-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });

    let channel = Channel::builder()
        .connect(prism::unix::UnixConnector::new(&path))
        .await?;
    let stats = StatsClient::new(channel);
    let batch = Readings {
        sensor: "probe-7".into(),
        values: (0..100_000).map(|i| (i % 100) as f32).collect(),
    };
    // Decoded into an owned value...
    let summary = stats.summarise(batch).await?;
    println!("summary: {summary:?}");
    // ...or read in place: the view owns the response buffer.
    let batch = Readings {
        sensor: "probe-8".into(),
        values: vec![1.0, 2.0, 3.0],
    };
    let view: Archived<Summary> = stats.summarise(batch).view().await?;
    println!("viewed in place: count {}, mean {}", view.count, view.mean);

    server.shutdown();
    serving.await??;
    std::fs::remove_file(&path)?;
    Ok(())
}
