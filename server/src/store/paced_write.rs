//! Background writes put on the disk a slice at a time. A commit's synced write waits for whatever else the
//! disk was given before it, so the store's own background work (a spare segment's zeros, the SQLite
//! file's WAL and its checkpoints) goes down in slices with a pause between them, never megabytes at once.
//!
//! Measured: a model of a 12 MiB spare made beside a 4 KiB synced write every millisecond (five trials
//! each) had that write wait at most 18–24 ms when the zeros were written through the page cache and synced
//! at once, 4–12 ms in direct writes back to back, 1.3–2.6 ms with a millisecond between them. In the daemon
//! (`bench/stalls`, 18,000 DORA/s, 5 December), a commit of the log overlapping the applier's `fdatasync`
//! of a second's WAL (2.4–3.1 MB at once) took over 10 ms in 2–6 % of cases, against 0–0.05 % of the
//! others; with both the WAL and the checkpoints paced, ten 20-second runs had 5 commits over 10 ms
//! against 20 in ten runs of the build before, alternating with them.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// How much one slice puts on the disk.
pub const SLICE: usize = 256 << 10;
/// The pause after a slice that wrote something.
pub const PAUSE: Duration = Duration::from_millis(1);
/// A slice that took less than this found nothing to write (the page cache's dirty tags are looked up,
/// nothing is sent): no pause after it, so a big file with a few changed pages is synced as fast as ever.
const NOTHING_WRITTEN: Duration = Duration::from_micros(30);

/// Makes `file`'s data and size durable, as `fdatasync` does, writing its changed pages a slice at a time
/// before the sync itself, which then carries little but the flush.
pub fn sync_data_paced(file: &File) -> io::Result<()> {
    write_out_paced(file)?;
    file.sync_data()
}

/// Sends `file`'s changed pages to the disk a slice at a time (`sync_file_range`, waiting for each), with
/// a pause after each slice that had any. Not durable yet: the disk's cache is not flushed.
fn write_out_paced(file: &File) -> io::Result<()> {
    let len = file.metadata()?.len();
    let mut offset = 0u64;
    while offset < len {
        let started = Instant::now();
        // SAFETY: a plain system call on a descriptor `file` keeps open; no memory is handed over.
        let r = unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                offset as libc::off64_t,
                SLICE as libc::off64_t,
                libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        if started.elapsed() >= NOTHING_WRITTEN {
            std::thread::sleep(PAUSE);
        }
        offset += SLICE as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    /// The page cache's count of `file`'s pages that are dirty or being written back (`cachestat`, Linux
    /// 6.5; the libc crate has no binding for it yet).
    fn unwritten_pages(file: &File) -> u64 {
        #[repr(C)]
        struct Range {
            off: u64,
            len: u64,
        }
        #[repr(C)]
        #[derive(Default)]
        struct Stat {
            cache: u64,
            dirty: u64,
            writeback: u64,
            evicted: u64,
            recently_evicted: u64,
        }
        const SYS_CACHESTAT: libc::c_long = 451;
        let range = Range { off: 0, len: 0 };
        let mut stat = Stat::default();
        // SAFETY: both structs are laid out as the kernel's `cachestat_range` and `cachestat`, and live
        // across the call.
        let r = unsafe { libc::syscall(SYS_CACHESTAT, file.as_raw_fd(), &range, &mut stat, 0) };
        assert_eq!(r, 0, "cachestat: {} (the test needs Linux 6.5 or later)", io::Error::last_os_error());
        stat.dirty + stat.writeback
    }

    #[test]
    fn the_slices_leave_no_page_unwritten() {
        let dir = std::env::temp_dir().join(format!("dhcplab-slices-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut f = File::create(dir.join("f")).unwrap();
        f.write_all(&vec![7u8; 3 * SLICE + 4096]).unwrap();
        assert!(
            unwritten_pages(&f) > 0,
            "{} keeps no dirty pages (tmpfs?): the test needs a disk's file system",
            dir.display()
        );
        write_out_paced(&f).unwrap();
        assert_eq!(unwritten_pages(&f), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_synced_in_slices_reads_back_whole() {
        let dir = std::env::temp_dir().join(format!("dhcplab-paced-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let mut f = std::fs::OpenOptions::new().create(true).read(true).write(true).truncate(true).open(&path).unwrap();
        let data: Vec<u8> = (0..3 * SLICE + 123).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        sync_data_paced(&f).unwrap();
        // A page changed in the middle afterwards, as a checkpoint changes a few of a big file's.
        f.seek(SeekFrom::Start(SLICE as u64 + 7)).unwrap();
        f.write_all(b"changed").unwrap();
        sync_data_paced(&f).unwrap();
        let mut want = data;
        want[SLICE + 7..SLICE + 14].copy_from_slice(b"changed");
        assert_eq!(std::fs::read(&path).unwrap(), want);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
