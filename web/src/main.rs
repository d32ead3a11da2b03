//! Starts the dhcplab web app.

fn main() {
    yew::Renderer::<dhcplab_web::app::App>::new().render();
}
