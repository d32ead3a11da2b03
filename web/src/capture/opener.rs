//! Opening a capture: a file picked with the `open-capture` input or dropped on the lab. The bytes stay in
//! the browser; the engine reads them there.

use crate::i18n::{Key, Lang, t};
use yew::prelude::*;

/// A file's name and bytes, once read.
pub type Opened = (String, Vec<u8>);

/// Reads `file` and hands its name and bytes to `on_open` (no bytes if the browser could not read it,
/// which the engine then calls not a capture).
pub fn read_file(file: web_sys::File, on_open: Callback<Opened>) {
    wasm_bindgen_futures::spawn_local(async move {
        let bytes = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
            .await
            .map(|buf| js_sys::Uint8Array::new(&buf).to_vec())
            .unwrap_or_default();
        on_open.emit((file.name(), bytes));
    });
}

/// The first file of a drop, if it carried one.
pub fn dropped_file(e: &DragEvent) -> Option<web_sys::File> {
    e.data_transfer()?.files()?.get(0)
}

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub on_open: Callback<Opened>,
}

#[component]
pub fn CaptureOpener(p: &Props) -> Html {
    let onchange = {
        let on_open = p.on_open.clone();
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            if let Some(file) = input.files().and_then(|f| f.get(0)) {
                read_file(file, on_open.clone());
            }
            // The same file picked again is opened again.
            input.set_value("");
        })
    };
    html! {
        <label class="opencap" title={t(p.lang, Key::DropCapture)}>
            {t(p.lang, Key::OpenCapture)}{"…"}
            <input type="file" data-testid="open-capture" accept=".pcap,.pcapng,.cap,application/vnd.tcpdump.pcap" {onchange} />
        </label>
    }
}
