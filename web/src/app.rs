//! The app shell: navigation between the lab and the dashboard.

use yew::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Page {
    Lab,
    Dashboard,
}

#[component]
pub fn App() -> Html {
    let page = use_state(|| Page::Lab);
    let nav = |target: Page, label: &'static str, testid: &'static str| {
        let page = page.clone();
        let active = *page == target;
        html! {
            <button data-testid={testid} class={classes!("nav", active.then_some("active"))}
                onclick={Callback::from(move |_| page.set(target))}>{label}</button>
        }
    };
    html! {
        <>
            <header>
                <h1>{"dhcplab"}</h1>
                <nav>{nav(Page::Lab, "Lab", "nav-lab")}{nav(Page::Dashboard, "Dashboard", "nav-dashboard")}</nav>
            </header>
            <main>
                {match *page {
                    Page::Lab => html! { <p>{"The DHCP lab runs the dhcplab engine in your browser."}</p> },
                    Page::Dashboard => html! { <p>{"The dashboard shows a running daemon's leases."}</p> },
                }}
            </main>
        </>
    }
}
