//! [`LayerFn`]: a layer made of a function, for the client's and the
//! server's stacks alike (`prism::client::layer_fn`,
//! `prism::server::layer_fn`).

use core::fmt;
use std::sync::Arc;

use prism_transport::driver::Dispatched;

use crate::{client, server};

/// The layer of `client::layer_fn` or `server::layer_fn`: calls its
/// function with each call and the next handle in the stack.
pub struct LayerFn<F> {
    f: Arc<F>,
}

impl<F> LayerFn<F> {
    pub(crate) fn new(f: F) -> LayerFn<F> {
        LayerFn { f: Arc::new(f) }
    }

    fn wrap<H: ?Sized>(&self, inner: Arc<H>) -> FnHandle<F, H> {
        FnHandle {
            f: Arc::clone(&self.f),
            inner,
        }
    }
}

impl<F> fmt::Debug for LayerFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LayerFn")
    }
}

/// One place in a stack: the function and the handle below it.
struct FnHandle<F, H: ?Sized> {
    f: Arc<F>,
    inner: Arc<H>,
}

impl<F> server::Layer for LayerFn<F>
where
    F: Fn(server::Call, &Arc<dyn server::Handle>) -> Dispatched + Send + Sync + 'static,
{
    fn layer(&self, inner: Arc<dyn server::Handle>) -> Arc<dyn server::Handle> {
        Arc::new(self.wrap(inner))
    }
}

impl<F> server::Handle for FnHandle<F, dyn server::Handle>
where
    F: Fn(server::Call, &Arc<dyn server::Handle>) -> Dispatched + Send + Sync + 'static,
{
    fn handle(&self, call: server::Call) -> Dispatched {
        (self.f)(call, &self.inner)
    }
}

impl<F> client::Layer for LayerFn<F>
where
    F: Fn(client::Call, &Arc<dyn client::Handle>) -> client::ReplyFuture + Send + Sync + 'static,
{
    fn layer(&self, inner: Arc<dyn client::Handle>) -> Arc<dyn client::Handle> {
        Arc::new(self.wrap(inner))
    }
}

impl<F> client::Handle for FnHandle<F, dyn client::Handle>
where
    F: Fn(client::Call, &Arc<dyn client::Handle>) -> client::ReplyFuture + Send + Sync + 'static,
{
    fn handle(&self, call: client::Call) -> client::ReplyFuture {
        (self.f)(call, &self.inner)
    }
}
