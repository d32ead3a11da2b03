//! `GET /ws`: one task per watcher, on the HTTP runtime. A watcher first gets a `snapshot` (leases, stats)
//! carrying the sequence number of the last change it includes, then every later change in order, each
//! with the next number. A watcher that falls too far behind gets a fresh snapshot instead of a silent gap.
//! The engine never waits on a watcher: it publishes into a bounded broadcast ring and moves on.

use crate::bridge::publisher::Published;
use crate::daemon::Command;
use crate::http::AppState;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tracing::debug;

const PING_EVERY: Duration = Duration::from_secs(15);
/// A watcher that sends nothing (not even a pong) for this long is disconnected.
const IDLE_LIMIT: Duration = Duration::from_secs(45);
/// A watcher that takes longer than this to accept one message (it stopped reading and its TCP window is
/// shut) is disconnected too, rather than holding its task forever.
const SEND_LIMIT: Duration = Duration::from_secs(10);

/// A watcher that falls behind again this soon after a snapshot waits out the rest before the next one:
/// a dashboard too slow for the current rate costs the engine at most one lease-table copy per interval.
const MIN_SNAPSHOT_GAP: Duration = Duration::from_secs(5);

/// At most this many changes go out in one write.
const MAX_BATCH: usize = 256;
/// After a write of at least `COALESCE_ABOVE` changes the watcher pauses this long before the next: under
/// load each watcher then wakes ~100 times a second instead of once per change; a quiet stream is not delayed.
const COALESCE: Duration = Duration::from_millis(10);
const COALESCE_ABOVE: usize = 8;

/// Sends messages as one write (queued, then flushed once): under load a watcher costs one system call per
/// batch, not one per change. False when the watcher is gone or too slow to take them.
async fn send(socket: &mut WebSocket, batch: impl IntoIterator<Item = Message>) -> bool {
    let write = async {
        for m in batch {
            socket.feed(m).await?;
        }
        socket.flush().await
    };
    matches!(tokio::time::timeout(SEND_LIMIT, write).await, Ok(Ok(())))
}

/// After falling behind: waits out `MIN_SNAPSHOT_GAP`, starts reading from now, and sends a fresh snapshot.
/// Returns the snapshot's sequence number, or `None` when the watcher is gone.
async fn resync(
    socket: &mut WebSocket,
    app: &AppState,
    rx: &mut tokio::sync::broadcast::Receiver<Published>,
    snapshot_at: &mut tokio::time::Instant,
) -> Option<u64> {
    tokio::time::sleep_until(*snapshot_at + MIN_SNAPSHOT_GAP).await;
    // What piled up meanwhile is in the snapshot.
    *rx = rx.resubscribe();
    let (seq, json) = snapshot(app).await?;
    *snapshot_at = tokio::time::Instant::now();
    send(socket, [Message::Text(json.into())]).await.then_some(seq)
}

/// The most a watcher may send in one message or frame: it sends only pongs and a close.
const MAX_FROM_WATCHER: usize = 4096;

/// One of `[http] max_watchers` places, given back when the watcher leaves.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(app: &AppState) -> Option<Slot> {
        app.watchers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < app.max_watchers).then_some(n + 1))
            .ok()
            .map(|_| Slot(app.watchers.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub async fn upgrade(ws: WebSocketUpgrade, State(app): State<AppState>) -> Response {
    let Some(slot) = Slot::take(&app) else {
        app.watchers_refused.fetch_add(1, Ordering::Relaxed);
        let why = format!("{} live-bridge connections are open already ([http] max_watchers)", app.max_watchers);
        return (StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    };
    ws.max_message_size(MAX_FROM_WATCHER).max_frame_size(MAX_FROM_WATCHER).on_upgrade(move |socket| async move {
        watch(socket, app).await;
        drop(slot);
    })
}

/// Why the loop woke up.
enum Wake {
    Update(Result<Published, RecvError>),
    FromClient(Option<Result<Message, axum::Error>>),
    Ping,
}

/// Snapshots being made at once. Each is a copy of up to `SNAPSHOT_MAX_LEASES` leases on the engine's thread
/// and a megabyte of JSON on the blocking pool: when many watchers connect at once (or a hostile page opens
/// sockets in a loop) they queue here one by one, instead of dozens of serializing threads taking the
/// cores from DHCP.
static SNAPSHOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// A snapshot as JSON, serialized on the blocking pool (tens of milliseconds for a big table), with its
/// sequence number.
async fn snapshot(app: &AppState) -> Option<(u64, String)> {
    let _turn = SNAPSHOTS.acquire().await.ok()?;
    let snap = app.ask(Command::Snapshot).await.ok()?;
    let seq = snap.seq;
    let json = tokio::task::spawn_blocking(move || snap.into_json()).await.ok()?;
    Some((seq, json))
}

async fn watch(mut socket: WebSocket, app: AppState) {
    // Subscribe before taking the snapshot, so no change falls between the two.
    let mut rx = app.updates.subscribe();
    let Some((seq, json)) = snapshot(&app).await else { return };
    let mut last = seq;
    let mut snapshot_at = tokio::time::Instant::now();
    if !send(&mut socket, [Message::Text(json.into())]).await {
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
            Wake::Update(Ok(first)) => {
                // This change and every one already waiting, in one write.
                let mut batch = vec![first];
                let mut lagged = false;
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(TryRecvError::Lagged(_)) => {
                            lagged = true;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                // Changes already inside the snapshot are skipped.
                let after = last;
                let fresh: Vec<Message> = batch
                    .into_iter()
                    .filter(|p| p.seq > after)
                    .map(|p| {
                        last = p.seq;
                        Message::Text(p.json)
                    })
                    .collect();
                let busy = fresh.len() >= COALESCE_ABOVE;
                if !fresh.is_empty() && !send(&mut socket, fresh).await {
                    return;
                }
                if busy {
                    // A busy stream: let changes gather for a moment, so each write carries many.
                    tokio::time::sleep(COALESCE).await;
                }
                if lagged {
                    debug!("a watcher fell behind: sending a fresh snapshot");
                    let Some(seq) = resync(&mut socket, &app, &mut rx, &mut snapshot_at).await else { return };
                    last = seq;
                }
            }
            Wake::Update(Err(RecvError::Lagged(missed))) => {
                debug!("a watcher fell {missed} changes behind: sending a fresh snapshot");
                let Some(seq) = resync(&mut socket, &app, &mut rx, &mut snapshot_at).await else { return };
                last = seq;
            }
            Wake::Update(Err(RecvError::Closed)) => return,
            Wake::FromClient(Some(Ok(Message::Close(_)))) | Wake::FromClient(None) | Wake::FromClient(Some(Err(_))) => {
                return;
            }
            Wake::FromClient(Some(Ok(_))) => heard = tokio::time::Instant::now(),
            Wake::Ping => {
                if heard.elapsed() > IDLE_LIMIT {
                    debug!("a watcher was silent for {IDLE_LIMIT:?}: closing");
                    send(&mut socket, [Message::Close(None)]).await;
                    return;
                }
                if !send(&mut socket, [Message::Ping(Vec::new().into())]).await {
                    return;
                }
            }
        }
    }
}
