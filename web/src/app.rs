//! The app shell: navigation between the lab and the dashboard, and the language switch.

use crate::i18n::{Key, Lang, t};
use crate::lab::Lab;
use yew::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Page {
    Lab,
    Dashboard,
}

#[component]
pub fn App() -> Html {
    // `#dashboard` opens the dashboard (the daemon links there); anything else is the lab.
    let page = use_state(|| {
        let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
        if hash.starts_with("#dashboard") { Page::Dashboard } else { Page::Lab }
    });
    let lang = use_state(Lang::load);
    let nav = |target: Page, key: Key, testid: &'static str| {
        let page = page.clone();
        let active = *page == target;
        html! {
            <button data-testid={testid} class={classes!("nav", active.then_some("active"))}
                onclick={Callback::from(move |_| page.set(target))}>{t(*lang, key)}</button>
        }
    };
    let switch = {
        let lang = lang.clone();
        Callback::from(move |_| {
            let next = if *lang == Lang::En { Lang::Zh } else { Lang::En };
            next.save();
            lang.set(next);
        })
    };
    html! {
        <>
            <header>
                <h1 translate="no">{"dhcplab"}</h1>
                <nav>{nav(Page::Lab, Key::Lab, "nav-lab")}{nav(Page::Dashboard, Key::Dashboard, "nav-dashboard")}</nav>
                <button class="lang" data-testid="lang" translate="no" lang={if *lang == Lang::En { "zh" } else { "en" }} onclick={switch}>{ if *lang == Lang::En { "中文" } else { "English" } }</button>
            </header>
            <main>
                {match *page {
                    Page::Lab => html! { <Lab lang={*lang} /> },
                    Page::Dashboard => html! { <crate::dashboard::Dashboard lang={*lang} /> },
                }}
            </main>
        </>
    }
}
