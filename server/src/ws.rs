//! `GET /ws`: the live bridge. A watcher first gets a `snapshot` (leases, subnets, stats) carrying the
//! sequence number of the last change it includes, then every later change in order, each with the next
//! number. A watcher that falls too far behind gets a fresh snapshot instead of a silent gap. The engine
//! never waits on a watcher: it publishes into a bounded broadcast ring and moves on.

use crate::daemon::{Command, Published};
use crate::http::AppState;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tracing::debug;

/// Changes kept for watchers; one further behind than this gets a snapshot.
pub const BACKLOG: usize = 4096;
const PING_EVERY: Duration = Duration::from_secs(15);
/// A watcher that sends nothing (not even a pong) for this long is disconnected.
const IDLE_LIMIT: Duration = Duration::from_secs(45);
/// A watcher that takes longer than this to accept one message (it stopped reading and its TCP window is
/// shut) is disconnected too, rather than holding its task forever.
const SEND_LIMIT: Duration = Duration::from_secs(10);

/// Sends one message; false when the watcher is gone or too slow to take it.
async fn send(socket: &mut WebSocket, m: Message) -> bool {
    matches!(tokio::time::timeout(SEND_LIMIT, socket.send(m)).await, Ok(Ok(())))
}

pub async fn upgrade(ws: WebSocketUpgrade, State(app): State<AppState>) -> Response {
    ws.on_upgrade(move |socket| watch(socket, app))
}

/// Why the loop woke up.
enum Wake {
    Update(Result<Published, RecvError>),
    FromClient(Option<Result<Message, axum::Error>>),
    Ping,
}

async fn snapshot(app: &AppState) -> Option<Published> {
    app.ask(Command::Snapshot).await.ok()
}

async fn watch(mut socket: WebSocket, app: AppState) {
    // Subscribe before taking the snapshot, so no change falls between the two.
    let mut rx = app.updates.subscribe();
    let Some(snap) = snapshot(&app).await else { return };
    let mut last = snap.seq;
    if !send(&mut socket, Message::Text(snap.json.to_string().into())).await {
        return;
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut heard = tokio::time::Instant::now();
    loop {
        let wake = tokio::select! {
            u = rx.recv() => Wake::Update(u),
            m = socket.recv() => Wake::FromClient(m),
            _ = ping.tick() => Wake::Ping,
        };
        match wake {
            Wake::Update(Ok(p)) => {
                // Changes already inside the snapshot are skipped.
                if p.seq <= last {
                    continue;
                }
                last = p.seq;
                if !send(&mut socket, Message::Text(p.json.to_string().into())).await {
                    return;
                }
            }
            Wake::Update(Err(RecvError::Lagged(missed))) => {
                debug!("a watcher fell {missed} changes behind: sending a fresh snapshot");
                let Some(snap) = snapshot(&app).await else { return };
                last = snap.seq;
                if !send(&mut socket, Message::Text(snap.json.to_string().into())).await {
                    return;
                }
            }
            Wake::Update(Err(RecvError::Closed)) => return,
            Wake::FromClient(Some(Ok(Message::Close(_)))) | Wake::FromClient(None) | Wake::FromClient(Some(Err(_))) => {
                return;
            }
            Wake::FromClient(Some(Ok(_))) => heard = tokio::time::Instant::now(),
            Wake::Ping => {
                if heard.elapsed() > IDLE_LIMIT {
                    debug!("a watcher was silent for {IDLE_LIMIT:?}: closing");
                    send(&mut socket, Message::Close(None)).await;
                    return;
                }
                if !send(&mut socket, Message::Ping(Vec::new().into())).await {
                    return;
                }
            }
        }
    }
}
