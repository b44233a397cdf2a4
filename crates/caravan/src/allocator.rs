//! The memory allocator: jemalloc rather than the C library's malloc, and what makes it
//! hand memory back to the system once a burst of work is over.
//!
//! A server holding a million allocations spent a seventh of its time in glibc's
//! free-list upkeep (`malloc_consolidate`, `unlink_chunk`) and held a tenth more memory;
//! jemalloc placed 1.6 times as many allocations per second (mimalloc was as fast but
//! held more than glibc). jemalloc's fork handlers keep the drivers' fork-then-exec safe.
//!
//! jemalloc keeps what a thread frees in that thread's cache, and freed pages in its
//! arenas for a while; both are released only as threads go on allocating. An agent
//! that falls quiet after a burst would hold them indefinitely: [`worker_idle`] and
//! [`release_freed_memory`] hand them back.

use std::cell::Cell;
use std::ffi::CStr;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it starts (its `malloc_conf` global; the
/// `_RJEM_MALLOC_CONF` environment variable still overrides them).
///
/// `slab_sizes`: each slab of small objects is as few pages as its size class allows
/// (one page for most) rather than up to seven. After a burst of work, the few objects
/// that outlive it each pin a slab, and a seven-page slab held by one object is most of
/// what a quiet agent kept: a dev agent after 2,000 jobs and a gc held 20-22 MB active
/// against 7 MB allocated with jemalloc's defaults, 12.5 MB with one-page slabs.
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: Options = Options(c"slab_sizes:1-16384:1".as_ptr());

/// A C string's address, as jemalloc reads `malloc_conf`.
#[repr(transparent)]
struct Options(*const std::ffi::c_char);

// SAFETY: it points to a string constant, never written.
unsafe impl Sync for Options {}

/// How often a busy runtime thread hands its cache back: often enough that a thread
/// which goes quiet holds little, rarely enough to cost nothing under load.
const IDLE_HINT_EVERY: Duration = Duration::from_secs(1);

/// A runtime worker thread is out of work (tokio's `on_thread_park`): tells jemalloc,
/// at most once per [`IDLE_HINT_EVERY`], so that it returns the thread's cached
/// objects to their slabs. Objects a quiet thread keeps cached pin otherwise-empty
/// pages.
pub fn worker_idle() {
    thread_local! {
        static LAST_HINT: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    let due = LAST_HINT.with(|last| {
        let due = last
            .get()
            .is_none_or(|at| now.duration_since(at) >= IDLE_HINT_EVERY);
        if due {
            last.set(Some(now));
        }
        due
    });
    if due {
        mallctl_void(c"thread.idle");
    }
}

/// Hands the pages jemalloc holds free back to the system every 10 s: it would otherwise
/// decay them only while threads allocate, and an agent whose burst of jobs was
/// garbage-collected would stay at the burst's peak.
pub async fn release_freed_memory() {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // `MALLCTL_ARENAS_ALL`: every arena at once.
        mallctl_void(c"arena.4096.purge");
    }
}

/// Runs a jemalloc control that takes and returns nothing; whether it ran. Such controls
/// fail only when the name is unknown, which would leave memory held, not harm anything.
fn mallctl_void(name: &CStr) -> bool {
    // SAFETY: `name` is NUL-terminated, and a control that reads and writes nothing
    // is passed no buffers.
    let code = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if code != 0 {
        tracing::debug!(control = ?name, code, "jemalloc control failed");
    }
    code == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `size_t` control's value.
    fn read_size(name: &CStr) -> usize {
        let mut value: usize = 0;
        let mut len = std::mem::size_of::<usize>();
        // SAFETY: the control is a size_t, read into one.
        let code = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                (&raw mut value).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(code, 0, "{name:?}");
        value
    }

    #[test]
    fn small_objects_slabs_are_as_few_pages_as_they_can_be() {
        // 896-byte objects: seven-page slabs by jemalloc's default (32 objects, no
        // waste), one page with the options; 5,120 bytes need two.
        assert_eq!(read_size(c"arenas.bin.19.size"), 896);
        assert_eq!(read_size(c"arenas.bin.19.slab_size"), 4096);
        assert_eq!(read_size(c"arenas.bin.29.size"), 5120);
        assert_eq!(read_size(c"arenas.bin.29.slab_size"), 8192);
    }

    #[test]
    fn the_controls_that_release_memory_exist() {
        assert!(mallctl_void(c"thread.idle"));
        assert!(mallctl_void(c"arena.4096.purge"));
        assert!(!mallctl_void(c"no.such.control"));
    }
}
