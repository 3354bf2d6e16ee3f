//! The in-process floor: a request through a tokio `mpsc` channel to a
//! server task, the reply through a `oneshot`. No bytes are copied, so it
//! has no large-payload or footprint figures.

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::System;
use crate::rpc::drive::{Handle, Shared};
use crate::rpc::{Result, Scenario, SystemId};

/// What the server task receives.
type Request = (Bytes, oneshot::Sender<Bytes>);

/// Requests the channel holds before senders wait.
const CAPACITY: usize = 1024;

/// `tokio::sync::mpsc` + `oneshot` between two tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokioChannel;

/// The sending side of the server task's queue.
#[derive(Clone, Debug)]
pub struct ChannelHandle(mpsc::Sender<Request>);

impl System for TokioChannel {
    type Endpoint = mpsc::Sender<Request>;
    type Client = Shared<ChannelHandle>;

    fn id(&self) -> SystemId {
        SystemId {
            system: "tokio",
            transport: "in-process",
            codec: "none",
        }
    }

    fn supports(&self, scenario: Scenario) -> bool {
        matches!(
            scenario,
            Scenario::Unary | Scenario::InFlight | Scenario::Allocs
        )
    }

    async fn serve(self) -> Result<mpsc::Sender<Request>> {
        let (tx, mut rx) = mpsc::channel::<Request>(CAPACITY);
        tokio::spawn(async move {
            while let Some((body, reply)) = rx.recv().await {
                let _ = reply.send(body);
            }
        });
        Ok(tx)
    }

    async fn connect(&self, endpoint: &mut mpsc::Sender<Request>) -> Result<Self::Client> {
        Ok(Shared(ChannelHandle(endpoint.clone())))
    }
}

impl Handle for ChannelHandle {
    async fn echo(&self, payload: Bytes) -> Result<usize> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send((payload, tx))
            .await
            .map_err(|_| "the server task stopped")?;
        Ok(rx.await?.len())
    }
}
