//! ExternalCopy's data: a value copied out of every heap, shared by every
//! handle to it (in Node and in any isolate) and materialised anew by each
//! copy. ArrayBuffers are kept as V8 backing stores, so that a transfer moves
//! memory instead of copying it.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Failure, Transfer};
use crate::engine::memory::Budget;

/// A backing store that may be held on any thread.
pub struct Store(pub v8::SharedRef<v8::BackingStore>);

// SAFETY: a BackingStore is owned through a thread-safe shared pointer and is
// immutable apart from its contents (which JS may write concurrently, as with
// SharedArrayBuffers); V8 itself moves stores between threads.
unsafe impl Send for Store {}
// SAFETY: as above: only `data()` and `byte_length()` are read through `&`.
unsafe impl Sync for Store {}

impl Clone for Store {
    fn clone(&self) -> Store {
        Store(self.0.clone())
    }
}

impl Store {
    pub fn len(&self) -> usize {
        self.0.byte_length()
    }
    pub fn ptr(&self) -> *mut u8 {
        self.0.data().map(|p| p.as_ptr() as *mut u8).unwrap_or(std::ptr::null_mut())
    }
    /// The bytes (a snapshot: JS may write them concurrently for shared stores).
    pub fn bytes(&self) -> &[u8] {
        let p = self.ptr();
        if p.is_null() {
            return &[];
        }
        // SAFETY: the store keeps `len` bytes at `p` alive while `self` lives.
        unsafe { std::slice::from_raw_parts(p, self.len()) }
    }
    /// A store owning a copy of `bytes`, counted against no isolate.
    pub fn copy_of(bytes: &[u8]) -> Store {
        let len = bytes.len();
        let p = block::alloc(len);
        if p.is_null() {
            // Out of memory: V8's own allocation path reports it.
            return Store(v8::ArrayBuffer::new_backing_store_from_vec(bytes.to_vec()).make_shared());
        }
        // SAFETY: `p` has room for `len` bytes; the regions do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, len) };
        // SAFETY: `p` is a live block of `len` bytes that the store now owns.
        let s = unsafe { v8::ArrayBuffer::new_backing_store_from_ptr(p as *mut c_void, len, free_block, std::ptr::null_mut()) };
        Store(s.make_shared())
    }
    /// A store for SharedArrayBuffers (V8 refuses to make one over an
    /// ArrayBuffer's store) owning a copy of `bytes`, counted against no isolate.
    pub fn shared_copy_of(bytes: &[u8]) -> Store {
        let len = bytes.len();
        let p = block::alloc(len);
        if p.is_null() {
            return Store(v8::SharedArrayBuffer::new_backing_store_from_vec(bytes.to_vec()).make_shared());
        }
        // SAFETY: `p` has room for `len` bytes; the regions do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, len) };
        // SAFETY: `p` is a live block of `len` bytes that the store now owns.
        let s = unsafe { v8::SharedArrayBuffer::new_backing_store_from_ptr(p as *mut c_void, len, free_block, std::ptr::null_mut()) };
        Store(s.make_shared())
    }
}

unsafe extern "C" fn free_block(p: *mut c_void, len: usize, _data: *mut c_void) {
    // SAFETY: `p` came from `block::alloc(len)`.
    unsafe { block::free(p as *mut u8, len) };
}

/// Memory blocks for copied buffers. Large blocks are mapped with their pages
/// populated up front: touching fresh pages one fault at a time costs more
/// than the copy itself on virtual machines.
/// Freed large blocks are kept (up to `CACHE` bytes) for the next buffer of
/// the same size.
pub mod block {
    use parking_lot::Mutex;

    const LARGE: usize = 256 << 10;
    const CACHE: usize = 64 << 20;

    struct Cached {
        blocks: Vec<(usize, usize)>,
        bytes: usize,
    }

    static FREE: Mutex<Cached> = Mutex::new(Cached { blocks: Vec::new(), bytes: 0 });

    pub fn alloc(len: usize) -> *mut u8 {
        if len < LARGE {
            // SAFETY: malloc of a non-zero size; null is checked by callers.
            return unsafe { libc::malloc(len.max(1)) } as *mut u8;
        }
        {
            let mut c = FREE.lock();
            if let Some(i) = c.blocks.iter().rposition(|b| b.0 == len) {
                let (_, p) = c.blocks.swap_remove(i);
                c.bytes -= len;
                return p as *mut u8;
            }
        }
        // SAFETY: an anonymous private mapping; MAP_FAILED is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        p as *mut u8
    }

    /// # Safety
    /// `p` must come from `alloc(len)` and not be used afterwards.
    pub unsafe fn free(p: *mut u8, len: usize) {
        if len < LARGE {
            // SAFETY: from malloc, per the contract.
            unsafe { libc::free(p as *mut libc::c_void) };
        } else {
            {
                let mut c = FREE.lock();
                if c.bytes + len <= CACHE {
                    c.blocks.push((len, p as usize));
                    c.bytes += len;
                    return;
                }
            }
            // SAFETY: a mapping of `len` bytes, per the contract.
            unsafe { libc::munmap(p as *mut libc::c_void, len) };
        }
    }
}

/// A view over a buffer: which kind, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub kind: ViewKind,
    pub offset: usize,
    /// Elements for typed arrays, bytes for DataViews.
    pub length: usize,
}

/// View kinds; the codes are shared with the JS layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ViewKind {
    Int8 = 1,
    Uint8 = 2,
    Uint8Clamped = 3,
    Int16 = 4,
    Uint16 = 5,
    Int32 = 6,
    Uint32 = 7,
    Float32 = 8,
    Float64 = 9,
    BigInt64 = 10,
    BigUint64 = 11,
    DataView = 12,
    Float16 = 13,
}

impl ViewKind {
    /// Bytes per element (1 for DataViews, whose length is in bytes).
    pub fn element_size(self) -> usize {
        use ViewKind::*;
        match self {
            Int8 | Uint8 | Uint8Clamped | DataView => 1,
            Int16 | Uint16 | Float16 => 2,
            Int32 | Uint32 | Float32 => 4,
            Float64 | BigInt64 | BigUint64 => 8,
        }
    }

    pub fn from_code(c: u32) -> Option<ViewKind> {
        use ViewKind::*;
        Some(match c {
            1 => Int8,
            2 => Uint8,
            3 => Uint8Clamped,
            4 => Int16,
            5 => Uint16,
            6 => Int32,
            7 => Uint32,
            8 => Float32,
            9 => Float64,
            10 => BigInt64,
            11 => BigUint64,
            12 => DataView,
            13 => Float16,
            _ => return None,
        })
    }
}

/// What an ExternalCopy holds.
pub enum Stored {
    /// A primitive (string, number, bigint...).
    Value(Transfer),
    /// A structured clone, and the handles it holds (shareable ones only:
    /// see `Transfer::share`).
    Serialized(Vec<u8>, Vec<Transfer>),
    /// An ArrayBuffer (or SharedArrayBuffer), possibly seen through a view.
    /// `store` is None once its memory was transferred out.
    Buffer { store: Option<Store>, view: Option<View>, shared: bool },
}

static TOTAL: AtomicUsize = AtomicUsize::new(0);

/// Bytes held by all live ExternalCopy data in the process.
pub fn total_size() -> usize {
    TOTAL.load(Ordering::Relaxed)
}

pub struct ExternalData {
    stored: Mutex<Stored>,
    size: AtomicUsize,
    /// What the ExternalCopies nested in a clone hold (see `charged_size`).
    nested: usize,
}

pub const INVALID_BUFFER: &str = "Array buffer is invalid";
pub const ALLOCATION_FAILED: &str = "Array buffer allocation failed";

fn size_of(s: &Stored) -> usize {
    match s {
        Stored::Value(Transfer::String(s)) => s.len(),
        Stored::Value(Transfer::String16(s)) => s.len() * 2,
        Stored::Value(Transfer::BigInt { words, .. }) => words.len() * 8,
        Stored::Value(_) => 8,
        Stored::Serialized(b, _) => b.len(),
        Stored::Buffer { store, .. } => store.as_ref().map_or(0, |s| s.len()),
    }
}

impl ExternalData {
    pub fn new(stored: Stored) -> Arc<ExternalData> {
        let size = size_of(&stored);
        let nested = match &stored {
            Stored::Serialized(_, handles) => handles
                .iter()
                .map(|h| match h {
                    Transfer::External(d) => d.charged_size(),
                    _ => 0,
                })
                .fold(0usize, usize::saturating_add),
            _ => 0,
        };
        TOTAL.fetch_add(size, Ordering::Relaxed);
        Arc::new(ExternalData { stored: Mutex::new(stored), size: AtomicUsize::new(size), nested })
    }

    pub fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// The size plus that of the ExternalCopies nested inside (which this
    /// data keeps alive): what a guest's new ExternalCopy counts against its
    /// budget, so that releasing the inner copies frees nothing it could
    /// reuse. Shared data may be counted more than once.
    pub fn charged_size(&self) -> usize {
        self.size().saturating_add(self.nested)
    }

    /// A copy of what is held, for materialising; with `transfer_in`, a
    /// buffer's memory is moved out (the data is empty afterwards).
    /// Whether this is a SharedArrayBuffer's memory (which every taker shares).
    pub fn is_shared_buffer(&self) -> bool {
        matches!(&*self.stored.lock(), Stored::Buffer { shared: true, view: None, .. })
    }

    pub fn take(&self, transfer_in: bool) -> Result<Taken, Failure> {
        let mut s = self.stored.lock();
        Ok(match &mut *s {
            Stored::Value(t) => Taken::Value(clone_primitive(t)),
            Stored::Serialized(b, h) => Taken::Serialized(b.clone(), h.iter().filter_map(Transfer::share).collect()),
            Stored::Buffer { store, view, shared } => {
                let st = if transfer_in && !*shared {
                    let st = store.take().ok_or_else(|| Failure::error(INVALID_BUFFER))?;
                    let n = self.size.swap(0, Ordering::Relaxed);
                    TOTAL.fetch_sub(n, Ordering::Relaxed);
                    st
                } else {
                    store.clone().ok_or_else(|| Failure::error(INVALID_BUFFER))?
                };
                Taken::Buffer { store: st, view: *view, shared: *shared, moved: transfer_in && !*shared }
            }
        })
    }
}

impl ExternalData {
    /// The memory of a plain (not shared, not viewed) ArrayBuffer held.
    pub fn array_buffer(&self) -> Option<Store> {
        match &*self.stored.lock() {
            Stored::Buffer { store: Some(st), view: None, shared: false } => Some(st.clone()),
            _ => None,
        }
    }

    /// Holds `bytes` as an ArrayBuffer (no copy).
    pub fn array_buffer_of(bytes: Vec<u8>) -> Arc<ExternalData> {
        let store = Store(v8::ArrayBuffer::new_backing_store_from_vec(bytes).make_shared());
        ExternalData::new(Stored::Buffer { store: Some(store), view: None, shared: false })
    }

    /// Puts back a buffer taken with `transfer_in` that could not be used.
    pub fn restore(&self, st: Store) {
        let mut s = self.stored.lock();
        if let Stored::Buffer { store, .. } = &mut *s {
            if store.is_none() {
                let n = st.len();
                *store = Some(st);
                self.size.fetch_add(n, Ordering::Relaxed);
                TOTAL.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for ExternalData {
    fn drop(&mut self) {
        TOTAL.fetch_sub(self.size.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// What `take` hands out.
pub enum Taken {
    Value(Transfer),
    Serialized(Vec<u8>, Vec<Transfer>),
    /// `moved`: the caller owns the memory now (no copy needed).
    Buffer { store: Store, view: Option<View>, shared: bool, moved: bool },
}

/// ExternalCopy contents for a structured clone: its handles must be ones
/// that can be handed out again with every copy.
pub fn stored_clone(s: super::Serialized) -> Result<Stored, Failure> {
    if s.handles.iter().any(|t| t.share().is_none()) {
        return Err(Failure::type_error(super::capture::NON_TRANSFERABLE));
    }
    let (bytes, handles) = s.into_parts();
    Ok(Stored::Serialized(bytes, handles))
}

pub fn clone_primitive(t: &Transfer) -> Transfer {
    match t {
        Transfer::Null => Transfer::Null,
        Transfer::Bool(b) => Transfer::Bool(*b),
        Transfer::Number(n) => Transfer::Number(*n),
        Transfer::BigInt { negative, words } => Transfer::BigInt { negative: *negative, words: words.clone() },
        Transfer::String(s) => Transfer::String(s.clone()),
        Transfer::String16(s) => Transfer::String16(s.clone()),
        _ => Transfer::Undefined,
    }
}

// ---------------------------------------------------------------------------
// Memory counted against an isolate's ArrayBuffer budget

/// A store holding a copy of `bytes`, counted against `budget` until freed.
/// None if the budget cannot take it (the caller throws a RangeError).
pub fn counted_copy(budget: &Arc<Budget>, bytes: &[u8]) -> Option<Store> {
    let len = bytes.len();
    if !budget.reserve(len) {
        return None;
    }
    let p = block::alloc(len);
    if p.is_null() {
        budget.unreserve(len);
        return None;
    }
    // SAFETY: `p` has room for `len` bytes; the regions do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, len) };
    let data = Arc::into_raw(budget.clone()) as *mut c_void;
    // SAFETY: `p` is a live allocation of `len` bytes that the store now owns;
    // `free_counted` releases it and the budget exactly once.
    let store = unsafe { v8::ArrayBuffer::new_backing_store_from_ptr(p as *mut c_void, len, free_counted, data) };
    Some(Store(store.make_shared()))
}

unsafe extern "C" fn free_counted(p: *mut c_void, len: usize, data: *mut c_void) {
    // SAFETY: `p` came from `block::alloc(len)` in `counted_copy`; `data` from Arc::into_raw.
    unsafe { block::free(p as *mut u8, len) };
    let budget = unsafe { Arc::from_raw(data as *const Budget) };
    budget.unreserve(len);
}

/// Who a moved store's memory is counted against, while it is in an isolate.
struct Charge {
    budget: Mutex<Option<Arc<Budget>>>,
    len: usize,
}

impl Charge {
    fn release(&self) {
        if let Some(b) = self.budget.lock().take() {
            b.unreserve(self.len);
        }
    }
}

/// Stores moved into isolates, by data address: a store moved out again
/// stops counting against the isolate it leaves.
static CHARGES: once_cell::sync::Lazy<Mutex<HashMap<usize, Arc<Charge>>>> =
    once_cell::sync::Lazy::new(|| Mutex::new(HashMap::new()));

/// Makes moved memory count against `budget` without copying it: a store
/// over the same bytes whose release also releases the charge. Err if the
/// budget cannot take it.
pub fn charge(budget: &Arc<Budget>, store: Store) -> Result<Store, Store> {
    let len = store.len();
    let ptr = store.ptr();
    if ptr.is_null() || len == 0 {
        return Ok(store);
    }
    if let Some(c) = CHARGES.lock().get(&(ptr as usize)).cloned() {
        // Already one of ours: count it against its new isolate.
        let mut b = c.budget.lock();
        if b.is_some() || !budget.reserve(len) {
            return if b.is_some() { Ok(store) } else { Err(store) };
        }
        *b = Some(budget.clone());
        return Ok(store);
    }
    if !budget.reserve(len) {
        return Err(store);
    }
    let charge = Arc::new(Charge { budget: Mutex::new(Some(budget.clone())), len });
    CHARGES.lock().insert(ptr as usize, charge.clone());
    let holder = Box::into_raw(Box::new((store, charge)));
    // SAFETY: the new store points into the held store's memory, which stays
    // alive until `drop_charged` drops the holder (exactly once).
    let s = unsafe { v8::ArrayBuffer::new_backing_store_from_ptr(ptr as *mut c_void, len, drop_charged, holder as *mut c_void) };
    Ok(Store(s.make_shared()))
}

unsafe extern "C" fn drop_charged(p: *mut c_void, _len: usize, data: *mut c_void) {
    // SAFETY: `data` is the holder boxed in `charge`.
    let (store, charge) = *unsafe { Box::from_raw(data as *mut (Store, Arc<Charge>)) };
    {
        let mut map = CHARGES.lock();
        if map.get(&(p as usize)).is_some_and(|c| Arc::ptr_eq(c, &charge)) {
            map.remove(&(p as usize));
        }
    }
    charge.release();
    drop(store);
}

/// A store leaves an isolate (transferred out): it stops counting there.
pub fn discharge(store: &Store) {
    let c = CHARGES.lock().get(&(store.ptr() as usize)).cloned();
    if let Some(c) = c {
        c.release();
    }
}
