//! The page shell and the routes.

use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Outlet, ParentRoute, Redirect, Route, Router, Routes},
    path, SsrMode,
};

use crate::{
    account::SessionsPage,
    auth::{self, LoginPage},
    items::{ItemsPage, NewItemPage},
    session::{SessionGuard, SignInOut},
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The page's Content-Security-Policy names this response's nonce, which
    // Leptos also puts on its hydration script.
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        let policy = crate::security::content_security_policy(&nonce.to_string(), &options);
        if let Ok(value) = http::HeaderValue::from_str(&policy) {
            res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // No icon file: an empty one spares every page a 404.
                <link rel="icon" href="data:," />
                <AutoReload options=options.clone() />
                // Named by content hash (hash.txt beside the binary), read
                // on the server: the shell is never hydrated.
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser: the marker says the page is hydrated
    // (browser tests wait for it before acting on client-side behaviour).
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Title text="session-guard" />
        <Router>
            <main data-hydrated=move || hydrated.get().to_string()>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=|| view! { <Redirect path="/items" /> } />
                    <Route path=path!("/login") view=LoginPage />
                    // Every signed-in page lives inside one SessionGuard, so the
                    // countdown carries on across them.
                    <ParentRoute path=path!("") view=Guarded ssr=SsrMode::Async>
                        <Route path=path!("/items") view=ItemsPage ssr=SsrMode::Async />
                        <Route path=path!("/items/new") view=NewItemPage ssr=SsrMode::Async />
                        <Route path=path!("/sessions") view=SessionsPage ssr=SsrMode::Async />
                    </ParentRoute>
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn Guarded() -> impl IntoView {
    // The session module knows nothing of how users sign in: auth/ does.
    let auth = SignInOut {
        // No `next`: the server answers without a redirect; the page stays.
        sign_in: Arc::new(|(username, password)| Box::pin(auth::sign_in(username, password, None))),
        sign_out: Arc::new(|()| Box::pin(auth::sign_out())),
    };
    view! {
        <SessionGuard auth>
            <Outlet />
        </SessionGuard>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <h1>"Page not found"</h1>
        <p><a href="/items">"Go to your items"</a></p>
    }
}
