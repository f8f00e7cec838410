//! The one place in the browser that sees every server-function answer.
//!
//! Every `#[server]` function in this app names [`GuardClient`] as its client.
//! It delegates the request to the browser client and hands each answer's
//! session headers to [`super::tracker`]: the idle time left, or the reason a
//! 401 gives. Call sites never check for expiry themselves.

use std::future::Future;

use bytes::Bytes;
use futures::{Sink, Stream};
use server_fn::{
    client::{browser::BrowserClient, Client},
    error::FromServerFnError,
    request::browser::BrowserRequest,
    response::browser::BrowserResponse,
};

pub struct GuardClient;

impl<E, IS, OS> Client<E, IS, OS> for GuardClient
where
    E: FromServerFnError,
    IS: FromServerFnError,
    OS: FromServerFnError,
{
    type Request = BrowserRequest;
    type Response = BrowserResponse;

    fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
        let sent = <BrowserClient as Client<E, IS, OS>>::send(req);
        async move {
            let res = sent.await?;
            #[cfg(feature = "hydrate")]
            {
                use server_fn::response::ClientRes;
                let status = <BrowserResponse as ClientRes<E>>::status(&res);
                super::tracker::observe_answer(status, &res.generate_headers());
            }
            Ok(res)
        }
    }

    #[allow(clippy::type_complexity)]
    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (
                impl Stream<Item = Result<Bytes, Bytes>> + Send + 'static,
                impl Sink<Bytes> + Send + 'static,
            ),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, IS, OS>>::spawn(future)
    }
}
