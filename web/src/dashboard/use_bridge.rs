//! `use_bridge(url)`: a daemon's live bridge as a hook. It keeps the WebSocket open (reconnecting with
//! capped exponential backoff), queues messages as they arrive outside yew, and applies them to the
//! dashboard's model a few times a second: thousands of changes a second cost a few renders, not thousands.

use super::model::Live;
use crate::shared::{Model, Shared};
use gloo_timers::callback::{Interval, Timeout};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use yew::prelude::*;

/// How often queued messages are applied.
const FLUSH_MS: u32 = 250;
/// An idle bridge still redraws this often, for the lease countdowns.
const IDLE_REDRAW_EVERY: u32 = 4;

/// The dashboard's model as `use_reducer` state.
pub type LiveState = Shared<Live>;

pub enum LiveAction {
    /// Messages as they came off the socket.
    Ingest(Vec<String>),
    /// Nothing new: redraw for the countdowns.
    Tick,
    TogglePause,
    /// Another daemon: forget everything.
    Reset,
}

impl Model for Live {
    type Action = LiveAction;

    fn update(&mut self, action: LiveAction) {
        match action {
            LiveAction::Ingest(batch) => self.ingest(batch),
            LiveAction::Tick => {}
            LiveAction::TogglePause => self.toggle_pause(),
            LiveAction::Reset => *self = Live::default(),
        }
    }
}

/// What the hook gives the dashboard.
#[derive(Clone, PartialEq)]
pub struct Bridge {
    pub live: UseReducerHandle<LiveState>,
    pub connected: bool,
}

#[hook]
pub fn use_bridge(url: &str) -> Bridge {
    let live = use_reducer(LiveState::default);
    let connected = use_state(|| false);
    let inbox = use_mut_ref(Vec::<String>::new);
    {
        let (live, connected, inbox) = (live.clone(), connected.clone(), inbox.clone());
        use_effect_with(url.to_string(), move |url| {
            live.dispatch(LiveAction::Reset);
            let on_status = Callback::from(move |up: bool| connected.set(up));
            let conn = Connection::open(url.clone(), inbox, on_status);
            move || drop(conn)
        });
    }
    {
        let (live, inbox) = (live.clone(), inbox.clone());
        use_effect_with((), move |_| {
            let mut idle = 0u32;
            let flush = Interval::new(FLUSH_MS, move || {
                let batch = std::mem::take(&mut *inbox.borrow_mut());
                if !batch.is_empty() {
                    idle = 0;
                    live.dispatch(LiveAction::Ingest(batch));
                } else {
                    idle += 1;
                    if idle.is_multiple_of(IDLE_REDRAW_EVERY) {
                        live.dispatch(LiveAction::Tick);
                    }
                }
            });
            move || drop(flush)
        });
    }
    Bridge { live, connected: *connected }
}

/// The socket to one daemon's bridge. Dropping it closes the socket and stops reconnecting.
struct Connection {
    inner: Rc<RefCell<Socket>>,
}

struct Socket {
    url: String,
    ws: Option<web_sys::WebSocket>,
    /// The socket's handlers, kept alive as long as it is.
    handlers: Vec<Box<dyn std::any::Any>>,
    retry: Option<Timeout>,
    attempts: u32,
    inbox: Rc<RefCell<Vec<String>>>,
    on_status: Callback<bool>,
}

impl Connection {
    fn open(url: String, inbox: Rc<RefCell<Vec<String>>>, on_status: Callback<bool>) -> Connection {
        let inner = Rc::new(RefCell::new(Socket {
            url,
            ws: None,
            handlers: vec![],
            retry: None,
            attempts: 0,
            inbox,
            on_status,
        }));
        connect(&inner);
        Connection { inner }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut s = self.inner.borrow_mut();
        s.retry = None;
        s.detach();
    }
}

impl Socket {
    /// Closes the socket after unhooking its handlers, which are dropped with it and must not be called.
    fn detach(&mut self) {
        if let Some(ws) = self.ws.take() {
            ws.set_onclose(None);
            ws.set_onmessage(None);
            ws.set_onopen(None);
            let _ = ws.close();
        }
        self.handlers.clear();
        // Nothing from the old socket may be applied to the new one's state.
        self.inbox.borrow_mut().clear();
    }
}

fn connect(inner: &Rc<RefCell<Socket>>) {
    let mut s = inner.borrow_mut();
    s.detach();
    let Ok(ws) = web_sys::WebSocket::new(&s.url) else {
        drop(s);
        return schedule_retry(inner);
    };
    let inbox = s.inbox.clone();
    let on_msg = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        if let Some(text) = e.data().as_string() {
            inbox.borrow_mut().push(text);
        }
    });
    let weak = Rc::downgrade(inner);
    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        if let Some(inner) = weak.upgrade() {
            let mut s = inner.borrow_mut();
            s.attempts = 0;
            s.on_status.emit(true);
        }
    });
    let weak = Rc::downgrade(inner);
    let on_close = Closure::<dyn FnMut(web_sys::CloseEvent)>::new(move |_| closed(&weak));
    ws.set_onmessage(Some(on_msg.as_ref().unchecked_ref()));
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    s.handlers = vec![Box::new(on_msg), Box::new(on_open), Box::new(on_close)];
    s.ws = Some(ws);
}

fn closed(weak: &Weak<RefCell<Socket>>) {
    let Some(inner) = weak.upgrade() else { return };
    inner.borrow().on_status.emit(false);
    schedule_retry(&inner);
}

/// Capped exponential backoff: 0.5 s, 1 s, 2 s … 30 s.
fn schedule_retry(inner: &Rc<RefCell<Socket>>) {
    let mut s = inner.borrow_mut();
    let ms = (500u32 << s.attempts.min(6)).min(30_000);
    s.attempts += 1;
    let weak = Rc::downgrade(inner);
    s.retry = Some(Timeout::new(ms, move || {
        if let Some(inner) = weak.upgrade() {
            connect(&inner);
        }
    }));
}
