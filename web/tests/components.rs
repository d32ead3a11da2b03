//! Component tests in headless Chromium: the lab mounted on its own, driven through its buttons.
#![cfg(target_arch = "wasm32")]

use dhcplab_web::i18n::Lang;
use dhcplab_web::lab::{Lab, Props};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn mount() -> web_sys::Element {
    let doc = web_sys::window().unwrap().document().unwrap();
    let _ = web_sys::window().unwrap().location().set_hash("#s=dora&seed=1&step=0");
    let root = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&root).unwrap();
    yew::Renderer::<Lab>::with_root_and_props(root.clone(), Props { lang: Lang::En }).render();
    yew::scheduler::flush().await;
    root
}

async fn click(root: &web_sys::Element, selector: &str) {
    let el = root.query_selector(selector).unwrap().unwrap_or_else(|| panic!("no {selector}"));
    el.dyn_into::<web_sys::HtmlElement>().unwrap().click();
    yew::scheduler::flush().await;
}

fn messages(root: &web_sys::Element) -> Vec<String> {
    let rows = root.query_selector_all("[data-testid=event-row]").unwrap();
    (0..rows.length())
        .filter_map(|i| rows.item(i)?.dyn_into::<web_sys::Element>().ok()?.get_attribute("data-msg"))
        .filter(|m| !m.is_empty())
        .collect()
}

#[wasm_bindgen_test]
async fn stepping_shows_dora_then_back_undoes_a_step() {
    let root = mount().await;
    assert!(messages(&root).is_empty());
    for _ in 0..20 {
        if messages(&root).len() >= 4 {
            break;
        }
        click(&root, "[data-testid=step]").await;
    }
    assert_eq!(messages(&root), ["DHCPDISCOVER", "DHCPOFFER", "DHCPREQUEST", "DHCPACK"]);
    let count =
        |r: &web_sys::Element| r.query_selector("[data-testid=step-count]").unwrap().unwrap().text_content().unwrap();
    let before = count(&root);
    click(&root, "[data-testid=back]").await;
    assert_ne!(count(&root), before);
    assert_eq!(messages(&root).len(), 3, "the ACK is undone");
}

#[wasm_bindgen_test]
async fn selecting_a_field_lights_its_bytes() {
    let root = mount().await;
    for _ in 0..5 {
        click(&root, "[data-testid=step]").await;
    }
    // The DISCOVER is selected as it appears; pick its transaction id.
    click(&root, "[data-testid=field][data-name='Transaction ID']").await;
    let lit = root.query_selector_all("[data-testid=hex-byte].hl").unwrap();
    let offsets: Vec<String> = (0..lit.length())
        .filter_map(|i| lit.item(i)?.dyn_into::<web_sys::Element>().ok()?.get_attribute("data-offset"))
        .collect();
    assert_eq!(offsets, ["4", "5", "6", "7"]);
}
