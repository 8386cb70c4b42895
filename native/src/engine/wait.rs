//! Waiting for a reply from another thread: spin briefly, then park. Waking
//! a parked thread costs tens of microseconds; a short spin catches the
//! common case of a fast call.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::Thread;

use super::runner::SPIN;

/// Who a spinning thread waits for: both threads publish the CPU they last
/// spun on, so a spinner can tell when the thread it waits for is queued on
/// its own core.
pub struct Spin<'a> {
    pub me: &'a AtomicU32,
    pub partner: &'a AtomicU32,
    /// Whether this spinner (an isolate thread) moves itself to another CPU
    /// when it finds the thread it waits for on its own.
    pub migrate: bool,
}

thread_local! {
    /// Looks in a row that found the partner on this thread's core.
    static TOGETHER: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Looks in a row (one per 32 pauses) on a shared core before a spinner
/// moves itself.
const LASTING: u32 = 256;

/// Moves the calling thread off `cpu` (to any other CPU it may run on), at
/// most once per `MIGRATE_EVERY`; false when it did not. Two threads handing
/// calls to each other were seen to stay on one core for seconds, at a
/// context switch per hop.
fn move_off(cpu: u32) -> bool {
    thread_local! {
        static LAST: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
    }
    const MIGRATE_EVERY: std::time::Duration = std::time::Duration::from_millis(1);
    let now = std::time::Instant::now();
    if LAST.with(|l| l.get().is_some_and(|t| now.duration_since(t) < MIGRATE_EVERY)) {
        return false;
    }
    LAST.with(|l| l.set(Some(now)));
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: cpu_set_t is plain data; the calls read and write only the
    // sets passed, for the calling thread (pid 0).
    unsafe {
        let mut orig: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size, &mut orig) != 0 || (cpu as usize) >= libc::CPU_SETSIZE as usize {
            return false;
        }
        let mut others = orig;
        libc::CPU_CLR(cpu as usize, &mut others);
        if libc::CPU_COUNT(&others) == 0 {
            return false;
        }
        // The first call moves the thread at once; the second gives it its
        // old freedom back without moving it again.
        if libc::sched_setaffinity(0, size, &others) != 0 {
            return false;
        }
        libc::sched_setaffinity(0, size, &orig);
    }
    true
}

/// Stores `cpu` in `at` unless it is there already: the partner reads `at`
/// all the time, and a store would take its cache line away every time.
#[inline]
pub fn publish_cpu(at: &AtomicU32, cpu: u32) {
    if at.load(Ordering::Relaxed) != cpu {
        at.store(cpu, Ordering::Relaxed);
    }
}

/// The CPU the calling thread runs on (a vDSO call).
pub fn current_cpu() -> u32 {
    // SAFETY: sched_getcpu has no preconditions; -1 (error) maps to u32::MAX.
    unsafe { libc::sched_getcpu() as u32 }
}

/// One step of a spin: a pause, and now and then a look at the CPUs. When the
/// thread waited for last ran on this very core (more runnable threads than
/// cores), spinning would only burn the timeslice it needs, so the spinner
/// yields at once. Otherwise it keeps its core: a yield would hand it to
/// other processes for a whole timeslice, far longer than the wait. Long
/// spins yield now and then anyway.
#[inline]
pub fn relax(i: u32, spin: Option<&Spin>) {
    if i % 32 == 31 {
        if let Some(s) = spin {
            let cpu = current_cpu();
            publish_cpu(s.me, cpu);
            if s.partner.load(Ordering::Relaxed) == cpu {
                // Moving is for a pairing that lasts (the scheduler keeping
                // both threads on one core call after call); a brief one (a
                // new thread starting next to its creator) only yields.
                let lasting = TOGETHER.with(|t| {
                    let n = t.get().saturating_add(1);
                    t.set(n);
                    n >= LASTING
                });
                if !(s.migrate && lasting && move_off(cpu)) {
                    std::thread::yield_now();
                }
                return;
            }
            TOGETHER.with(|t| t.set(0));
        }
    }
    if i >= 1024 && i % 256 == 255 {
        std::thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

/// Spins this many turns before a waiter reads the clock.
const CLOCK_AFTER: u32 = 256;

/// How long a thread spins before it parks, in µs: `SPIN_BASE` to start
/// with, doubled after each park that ended within `PREMATURE` (the spin
/// gave up just before the reply or the next call came), up to `SPIN_MAX`;
/// halved again after each longer park. On a VM whose vCPUs are often
/// descheduled by the hypervisor, a fixed short spin feeds on itself: one
/// side is held up past the other's spin, the other parks, its vCPU halts,
/// and waking a halted vCPU takes hundreds of µs, longer than the next
/// spin. Calls back to back then cost ~400 µs each instead of ~3 µs for
/// seconds at a time (measured here). Threads that wait long between
/// messages (most isolates) keep the short spin.
const SPIN_BASE: u32 = 200;
const SPIN_MAX: u32 = 2000;
const PREMATURE: std::time::Duration = std::time::Duration::from_micros(1000);

thread_local! {
    static SPIN_US: std::cell::Cell<u32> = const { std::cell::Cell::new(SPIN_BASE) };
}

/// This thread's spin before parking (see `SPIN_BASE`).
#[inline]
pub fn spin_time() -> std::time::Duration {
    std::time::Duration::from_micros(SPIN_US.with(|s| s.get()) as u64)
}

/// A park of this thread ended after `parked` with work to do: a short park
/// lengthens the next spins, a long one shortens them.
pub fn woke_after(parked: std::time::Duration) {
    SPIN_US.with(|s| {
        let cur = s.get();
        s.set(if parked < PREMATURE { (cur * 2).min(SPIN_MAX) } else { (cur / 2).max(SPIN_BASE) });
    });
}

/// A waiter's spin-then-park policy: spin at least `SPIN` turns and
/// `spin_time()` (the clock is read only once the spin is no longer short: a
/// fast reply comes before it is needed, and a reading costs ~70 ns on a
/// VM), then park; work done for the waiter restarts the spin.
#[derive(Default)]
pub struct Backoff {
    start: Option<std::time::Instant>,
    i: u32,
    /// When the spin ran out (the waiter parks from then on).
    parked: Option<std::time::Instant>,
}

impl Backoff {
    pub fn new() -> Backoff {
        Backoff::default()
    }

    /// Whether the spin is over: the waiter parks from now on.
    pub fn parked(&self) -> bool {
        self.parked.is_some()
    }

    /// The wait is over (the reply came, or work to do): a park it ended
    /// tunes the next spins (`woke_after`).
    pub fn done(&mut self) {
        if let Some(t) = self.parked.take() {
            woke_after(t.elapsed());
        }
    }

    /// The waiter did some work: more is likely to follow, spin again.
    pub fn restart(&mut self) {
        self.done();
        *self = Backoff::new();
    }

    /// One turn of the spin; at its end the waiter is marked parked instead.
    pub fn spin(&mut self, spin: Option<&Spin>) {
        self.i = self.i.wrapping_add(1);
        if self.i == CLOCK_AFTER {
            self.start = Some(std::time::Instant::now());
        }
        if self.i >= SPIN && self.i % 64 == 0 && self.start.is_some_and(|s| s.elapsed() > spin_time()) {
            self.parked = Some(std::time::Instant::now());
            return;
        }
        relax(self.i, spin);
    }
}

const EMPTY: u8 = 0;
const FULL: u8 = 1;
const TAKEN: u8 = 2;

/// A one-shot reply slot: filled once by any thread, read by its waiter.
pub struct Slot<T> {
    state: AtomicU8,
    value: UnsafeCell<Option<T>>,
    waiter: Thread,
}

// SAFETY: `value` is written once by the filler before `state` becomes FULL
// (release) and read only by the waiter after it observes FULL (acquire).
unsafe impl<T: Send> Send for Slot<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Slot<T> {}

impl<T> Slot<T> {
    /// A slot whose waiter is the current thread.
    pub fn new() -> Arc<Slot<T>> {
        Arc::new(Slot { state: AtomicU8::new(EMPTY), value: UnsafeCell::new(None), waiter: std::thread::current() })
    }

    /// Makes a used slot ready for another wait. Only for a slot nobody else
    /// holds any more (`Arc::strong_count == 1`).
    pub fn reset(&self) {
        self.state.store(EMPTY, Ordering::Relaxed);
        // SAFETY: no other holder exists, so nothing reads or writes `value`.
        unsafe { *self.value.get() = None };
    }

    /// Fills the slot and wakes its waiter. Only the first fill counts.
    pub fn put(&self, v: T) {
        if self.state.load(Ordering::Acquire) != EMPTY {
            return;
        }
        // SAFETY: only one filler exists per slot (the call's `done`), and the
        // waiter does not read before FULL is published below.
        unsafe { *self.value.get() = Some(v) };
        self.state.store(FULL, Ordering::Release);
        self.waiter.unpark();
    }

    #[inline]
    fn try_take(&self) -> Option<T> {
        if self.state.load(Ordering::Acquire) == FULL {
            self.state.store(TAKEN, Ordering::Relaxed);
            // SAFETY: FULL was published with release after the write; only
            // the waiter takes, once.
            return unsafe { (*self.value.get()).take() };
        }
        None
    }

    /// Waits for the value. `service` runs while waiting (it must be cheap
    /// when there is nothing to do), for work that arrives for this thread
    /// while it waits; its argument says whether the thread has started
    /// parking. Work done restarts the spin (more is likely to follow).
    pub fn wait_or(&self, spin: Option<&Spin>, mut service: impl FnMut(bool) -> Step) -> Option<T> {
        let mut backoff = Backoff::new();
        loop {
            if let Some(v) = self.try_take() {
                backoff.done();
                return Some(v);
            }
            match service(backoff.parked()) {
                Step::Abandon => return None,
                Step::Worked => {
                    backoff.restart();
                    continue;
                }
                Step::Idle => {}
            }
            if !backoff.parked() {
                backoff.spin(spin);
            } else {
                std::thread::park_timeout(std::time::Duration::from_millis(20));
            }
        }
    }

    /// Waits for the value, running `service` meanwhile (see `wait_or`); the
    /// service returns whether it did any work.
    pub fn wait(&self, spin: Option<&Spin>, mut service: impl FnMut() -> bool) -> T {
        self.wait_or(spin, |_| if service() { Step::Worked } else { Step::Idle })
            .expect("a wait that is never abandoned")
    }
}

thread_local! {
    /// Reply slots for sync calls made from this thread, reused.
    static SLOTS: std::cell::RefCell<Vec<Arc<Slot<crate::transfer::Outcome>>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A reply slot whose waiter is this thread: a used one when there is one.
pub fn reply_slot() -> Arc<Slot<crate::transfer::Outcome>> {
    SLOTS.with(|s| s.borrow_mut().pop()).unwrap_or_else(Slot::new)
}

/// Keeps a slot for the next `reply_slot` of this thread, if nobody else
/// holds it any more.
pub fn recycle(slot: Arc<Slot<crate::transfer::Outcome>>) {
    if Arc::strong_count(&slot) == 1 {
        slot.reset();
        SLOTS.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < 8 {
                s.push(slot);
            }
        });
    }
}

/// What a waiter's service step did.
pub enum Step {
    Idle,
    Worked,
    Abandon,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_put_on_another_thread_reaches_the_waiter() {
        for delay in [0u64, 1, 50] {
            let slot = Slot::<u32>::new();
            let filler = slot.clone();
            let t = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(delay));
                filler.put(7);
            });
            assert_eq!(slot.wait(None, || false), 7);
            t.join().unwrap();
        }
    }

    #[test]
    fn short_parks_lengthen_the_spin_and_long_ones_shorten_it() {
        std::thread::spawn(|| {
            let us = || spin_time().as_micros() as u32;
            assert_eq!(us(), SPIN_BASE);
            woke_after(std::time::Duration::from_micros(300));
            assert_eq!(us(), SPIN_BASE * 2);
            for _ in 0..10 {
                woke_after(std::time::Duration::from_micros(300));
            }
            assert_eq!(us(), SPIN_MAX);
            woke_after(std::time::Duration::from_millis(50));
            assert_eq!(us(), SPIN_MAX / 2);
            for _ in 0..10 {
                woke_after(std::time::Duration::from_millis(50));
            }
            assert_eq!(us(), SPIN_BASE);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_wait_that_parked_briefly_spins_longer_next_time() {
        std::thread::spawn(|| {
            let slot = Slot::<u32>::new();
            let filler = slot.clone();
            let mut spins = 0u32;
            // The service puts the value once the waiter has parked.
            let v = slot.wait_or(None, |parked| {
                spins += 1;
                if parked {
                    filler.put(5);
                }
                Step::Idle
            });
            assert_eq!(v, Some(5));
            assert!(spins > 1);
            assert_eq!(spin_time().as_micros() as u32, SPIN_BASE * 2);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn only_the_first_put_counts() {
        let slot = Slot::<u32>::new();
        slot.put(1);
        slot.put(2);
        assert_eq!(slot.wait(None, || false), 1);
    }

    #[test]
    fn the_service_runs_while_waiting_and_can_abandon() {
        let slot = Slot::<u32>::new();
        let mut calls = 0;
        let r = slot.wait_or(None, |_| {
            calls += 1;
            if calls < 10 {
                Step::Idle
            } else {
                Step::Abandon
            }
        });
        assert_eq!(r, None);
        assert_eq!(calls, 10);
    }
}
