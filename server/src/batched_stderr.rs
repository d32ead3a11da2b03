//! The log's writer: stderr, a line at a time, except while a thread holds a [`Batch`]: its lines are then
//! kept and written together when the batch is dropped. The engine's turn and the committer's commit each
//! log a line per lease; written one `write` at a time they would cost a system call (and, under systemd,
//! a journald wake-up) per exchange on the DHCP path. Written per batch, a busy server makes one call for
//! several.

use std::cell::RefCell;
use std::io::Write;

thread_local! {
    /// This thread's held lines, while it is inside a batch.
    static HELD: RefCell<Held> = const { RefCell::new(Held { open: false, bytes: Vec::new() }) };
}

struct Held {
    open: bool,
    /// Kept between batches, so a batch allocates only when it outgrows the last.
    bytes: Vec<u8>,
}

/// The [`tracing_subscriber::fmt::MakeWriter`] for the daemon's log.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter
    }
}

/// Writes one formatted line: held if the thread is inside a batch, else straight to stderr.
pub struct LineWriter;

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let held = HELD
            .try_with(|h| {
                let mut h = h.borrow_mut();
                h.open.then(|| h.bytes.extend_from_slice(buf)).is_some()
            })
            .unwrap_or(false);
        if held { Ok(buf.len()) } else { std::io::stderr().write(buf) }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// While it lives, this thread's log lines are held; dropped (also when unwinding: a panic's own lines are
/// not lost), it writes them to stderr in one go. A batch opened inside another is part of the outer one.
#[must_use = "the lines are written when the batch is dropped"]
pub struct Batch {
    outer: bool,
}

impl Batch {
    pub fn open() -> Batch {
        let nested = HELD.try_with(|h| std::mem::replace(&mut h.borrow_mut().open, true)).unwrap_or(true);
        Batch { outer: !nested }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if !self.outer {
            return;
        }
        let _ = HELD.try_with(|h| {
            let mut h = h.borrow_mut();
            h.open = false;
            if !h.bytes.is_empty() {
                // Nothing to do if stderr is gone; the lines are dropped as an unbatched write would be.
                let _ = std::io::stderr().lock().write_all(&h.bytes);
                h.bytes.clear();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held() -> Vec<u8> {
        HELD.with_borrow(|h| h.bytes.clone())
    }

    #[test]
    fn lines_inside_a_batch_are_held_until_it_ends_and_nested_batches_join_the_outer_one() {
        {
            let _batch = Batch::open();
            LineWriter.write_all(b"one\n").unwrap();
            {
                let _inner = Batch::open();
                LineWriter.write_all(b"two\n").unwrap();
            }
            assert_eq!(held(), b"one\ntwo\n", "the inner batch did not write on its own");
        }
        assert!(held().is_empty(), "written when the batch ended");
        assert!(!HELD.with_borrow(|h| h.open), "lines after it are written at once");
    }

    #[test]
    fn a_batch_that_panics_still_closes() {
        let r = std::panic::catch_unwind(|| {
            let _batch = Batch::open();
            LineWriter.write_all(b"x\n").unwrap();
            panic!("boom")
        });
        assert!(r.is_err());
        assert!(held().is_empty() && !HELD.with_borrow(|h| h.open));
    }
}
