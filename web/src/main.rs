//! The dhcplab web app: the lab (the engine in the browser) and the dashboard (a daemon's live leases).

mod app;
mod i18n;
mod lab;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
