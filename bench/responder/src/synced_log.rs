//! The least a server can write to make an ACK durable: a few bytes per ACK (the address and the client's
//! hardware address), appended in whole blocks to a file zeroed up front, each write direct and synced by
//! itself (`O_DIRECT | O_DSYNC`), the way dhcplab's change log writes its segments. No record format, no
//! index, no file ever read back: what it costs is the disk's and the kernel's price of a durable write on
//! this machine, and nothing of dhcplab's.

use crate::REPLY_ROOM;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// The unit of a direct write: offset, length and memory address are multiples of it.
const BLOCK: usize = 4096;
/// One ACK's record: the address (4 bytes) and the hardware address (6), and room to spare.
pub const RECORD: usize = 16;
/// The file's size; writes go round it.
const FILE_SIZE: u64 = 16 << 20;
/// A write holds at most this many blocks (4,096 records): a batch with more is written in several.
const MAX_BLOCKS: usize = 16;

#[derive(Clone, Copy)]
#[repr(C, align(4096))]
struct Block([u8; BLOCK]);

/// The file, and the records waiting for its next write.
pub struct SyncedLog {
    file: File,
    blocks: Box<[Block; MAX_BLOCKS]>,
    /// Bytes of records in `blocks`.
    filled: usize,
    /// Where the next write goes.
    at: u64,
    /// Writes made: each one is a durable commit.
    pub writes: u64,
}

impl SyncedLog {
    /// Creates (or overwrites) `path`, zeroes it so later writes allocate nothing, and opens it for direct,
    /// synchronous writes.
    pub fn create(path: &Path) -> io::Result<SyncedLog> {
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
        let zeros = vec![0u8; 1 << 20];
        for at in (0..FILE_SIZE).step_by(zeros.len()) {
            file.write_all_at(&zeros, at)?;
        }
        file.sync_all()?;
        let synced = |flags| OpenOptions::new().write(true).custom_flags(flags).open(path);
        // A filesystem without direct I/O (an old tmpfs) refuses the flag: each write still syncs itself.
        let file = synced(nix::libc::O_DIRECT | nix::libc::O_DSYNC).or_else(|_| synced(nix::libc::O_DSYNC))?;
        Ok(SyncedLog { file, blocks: Box::new([Block([0; BLOCK]); MAX_BLOCKS]), filled: 0, at: 0, writes: 0 })
    }

    /// Whether another record fits before the next write.
    pub fn has_room(&self) -> bool {
        self.filled + RECORD <= MAX_BLOCKS * BLOCK
    }

    /// Adds the record of an ACK (a reply's bytes: its yiaddr and chaddr, RFC 2131 §2); the caller writes
    /// first if there is no room.
    pub fn add(&mut self, ack: &[u8; REPLY_ROOM]) {
        let (block, offset) = (self.filled / BLOCK, self.filled % BLOCK);
        let record = &mut self.blocks[block].0[offset..offset + RECORD];
        record[..4].copy_from_slice(&ack[16..20]);
        record[4..10].copy_from_slice(&ack[28..34]);
        self.filled += RECORD;
    }

    /// Writes the records added since the last write, durably: when this returns they are on the disk.
    pub fn write(&mut self) -> io::Result<()> {
        if self.filled == 0 {
            return Ok(());
        }
        let blocks = self.filled.div_ceil(BLOCK);
        let len = (blocks * BLOCK) as u64;
        if self.at + len > FILE_SIZE {
            self.at = 0;
        }
        // SAFETY: `Block` is BLOCK plain bytes with no padding, so the first `blocks` blocks are that many
        // initialised, aligned bytes, borrowed only for the write.
        let bytes = unsafe { std::slice::from_raw_parts(self.blocks.as_ptr().cast::<u8>(), blocks * BLOCK) };
        self.file.write_all_at(bytes, self.at)?;
        self.at += len;
        self.writes += 1;
        // The next batch's records start a fresh block; what this one left beyond them is zeroed.
        for block in &mut self.blocks[..blocks] {
            block.0.fill(0);
        }
        self.filled = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn records_are_in_the_file_after_a_write_and_the_next_batch_starts_a_block() {
        let dir = std::env::temp_dir().join(format!("synced-log-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let mut log = SyncedLog::create(&path).unwrap();
        log.add(&ack([10, 0, 0, 1], 1));
        log.add(&ack([10, 0, 0, 2], 2));
        log.write().unwrap();
        log.add(&ack([10, 0, 0, 3], 3));
        log.write().unwrap();
        assert_eq!(log.writes, 2);
        let mut bytes = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, FILE_SIZE);
        assert_eq!(bytes[..10], [10, 0, 0, 1, 2, 0, 0, 0, 0, 1]);
        assert_eq!(bytes[RECORD..RECORD + 10], [10, 0, 0, 2, 2, 0, 0, 0, 0, 2]);
        assert!(bytes[2 * RECORD..BLOCK].iter().all(|b| *b == 0));
        assert_eq!(bytes[BLOCK..BLOCK + 10], [10, 0, 0, 3, 2, 0, 0, 0, 0, 3]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A reply giving `yiaddr` to the hardware address 02:00:00:00:00:`last`.
    fn ack(yiaddr: [u8; 4], last: u8) -> [u8; REPLY_ROOM] {
        let mut reply = [0; REPLY_ROOM];
        reply[16..20].copy_from_slice(&yiaddr);
        reply[28..34].copy_from_slice(&[2, 0, 0, 0, 0, last]);
        reply
    }
}
