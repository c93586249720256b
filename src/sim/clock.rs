//! The virtual clock and its event queue.
//!
//! Events are ordered by `(time, sequence number)`, the sequence number being the order in
//! which they were scheduled, so simultaneous events run FIFO by when they were scheduled.
//! Events scheduled for the current instant skip the heap: they go to a FIFO that is drained
//! after any heap entries for the same instant (those were necessarily scheduled earlier, from
//! an earlier instant), which keeps the `(time, seq)` order exact and costs no heap operation for
//! zero-delay hops and zero-time services.

use std::collections::VecDeque;

use super::time::Nanos;

#[derive(Clone, Copy)]
struct Entry<E> {
    /// `time << 64 | seq`: one comparison orders by time, then scheduling order.
    key: u128,
    ev: E,
}

/// A binary min-heap on `key`. Hand-written rather than `std::collections::BinaryHeap` so that
/// the element being pushed or sifted stays in registers: std's `push` writes the element and
/// reads it straight back, which stalls on store forwarding and cost a fifth of the engine's
/// time on M/M/1 (measured with `perf annotate`).
struct Heap<E> {
    v: Vec<Entry<E>>,
}

impl<E: Copy> Heap<E> {
    fn with_capacity(n: usize) -> Self {
        Heap {
            v: Vec::with_capacity(n),
        }
    }

    #[inline(always)]
    fn peek_key(&self) -> Option<u128> {
        self.v.first().map(|e| e.key)
    }

    #[inline]
    fn len(&self) -> usize {
        self.v.len()
    }

    #[inline(always)]
    fn push(&mut self, key: u128, ev: E) {
        self.v.push(Entry { key, ev });
        // Sift on a local slice: its length stays in a register and the parent index is
        // provably in bounds.
        let v = self.v.as_mut_slice();
        let mut i = v.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            let p = v[parent];
            if p.key <= key {
                break;
            }
            v[i] = p;
            i = parent;
        }
        v[i] = Entry { key, ev };
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<E> {
        let last = self.v.pop()?;
        let v = self.v.as_mut_slice();
        let n = v.len();
        let Some(first) = v.first() else {
            return Some(last.ev);
        };
        let top = first.ev;
        let mut i = 0;
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let c = if r < n && v[r].key < v[l].key { r } else { l };
            let child = v[c];
            if child.key >= last.key {
                break;
            }
            v[i] = child;
            i = c;
        }
        v[i] = last;
        Some(top)
    }
}

/// A virtual clock (integer nanoseconds) with its pending events.
pub struct EventQueue<E> {
    heap: Heap<E>,
    now_q: VecDeque<E>,
    seq: u64,
    now: Nanos,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            heap: Heap::with_capacity(64),
            now_q: VecDeque::with_capacity(64),
            seq: 0,
            now: 0,
        }
    }

    /// The current virtual time.
    #[inline(always)]
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// Schedule `ev` at `at` (clamped to now: the past cannot be scheduled).
    #[inline(always)]
    pub fn schedule(&mut self, at: Nanos, ev: E) {
        self.seq += 1;
        if at <= self.now {
            self.now_q.push_back(ev);
        } else {
            self.heap.push(((at as u128) << 64) | self.seq as u128, ev);
        }
    }

    /// Schedule `ev` after `delay`.
    #[inline(always)]
    pub fn schedule_in(&mut self, delay: Nanos, ev: E) {
        self.schedule(self.now.saturating_add(delay), ev);
    }

    /// True when nothing is due at the current instant: an event scheduled now would be the
    /// very next one, so running it at once keeps the `(time, seq)` order.
    #[inline(always)]
    pub fn idle_now(&self) -> bool {
        self.now_q.is_empty()
            && self
                .heap
                .peek_key()
                .is_none_or(|k| (k >> 64) as Nanos > self.now)
    }

    /// Time of the next event, if any.
    #[inline]
    pub fn peek_time(&self) -> Option<Nanos> {
        if let Some(key) = self.heap.peek_key() {
            let t = (key >> 64) as Nanos;
            if t == self.now || self.now_q.is_empty() {
                return Some(t);
            }
        }
        if self.now_q.is_empty() {
            None
        } else {
            Some(self.now)
        }
    }

    /// Take the next event if it is due before `limit`, advancing the clock to it.
    #[inline(always)]
    pub fn pop_before(&mut self, limit: Nanos) -> Option<E> {
        if let Some(key) = self.heap.peek_key() {
            let t = (key >> 64) as Nanos;
            if t == self.now || self.now_q.is_empty() {
                if t >= limit {
                    return None;
                }
                self.now = t;
                return self.heap.pop();
            }
        }
        if self.now >= limit {
            return None;
        }
        self.now_q.pop_front()
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len() + self.now_q.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Move the clock forward to `t` when nothing is pending before it.
    pub fn advance_to(&mut self, t: Nanos) {
        if t > self.now && self.peek_time().is_none_or(|p| p >= t) {
            self.now = t;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_then_fifo() {
        let mut q = EventQueue::new();
        q.schedule(10, "b");
        q.schedule(5, "a");
        q.schedule(10, "c");
        q.schedule(0, "now");
        let mut out = vec![];
        while let Some(e) = q.pop_before(u64::MAX) {
            out.push((q.now(), e));
            if e == "a" {
                q.schedule_in(5, "d"); // same time as b and c, scheduled later
                q.schedule_in(0, "a0");
            }
            if e == "b" {
                q.schedule_in(0, "b0"); // after c: c was scheduled before
            }
        }
        assert_eq!(
            out,
            vec![
                (0, "now"),
                (5, "a"),
                (5, "a0"),
                (10, "b"),
                (10, "c"),
                (10, "d"),
                (10, "b0")
            ]
        );
    }

    #[test]
    fn heap_pops_in_key_order() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let mut h = Heap::with_capacity(4);
        let mut model: Vec<u128> = Vec::new();
        for round in 0..20_000u32 {
            if rng.gen_bool(0.55) || model.is_empty() {
                let k = (rng.gen_range(0..500u128) << 64) | round as u128;
                h.push(k, k);
                model.push(k);
            } else {
                model.sort_unstable_by(|a, b| b.cmp(a));
                assert_eq!(h.pop(), model.pop());
            }
            assert_eq!(h.len(), model.len());
        }
        model.sort_unstable_by(|a, b| b.cmp(a));
        while let Some(k) = model.pop() {
            assert_eq!(h.peek_key(), Some(k));
            assert_eq!(h.pop(), Some(k));
        }
        assert_eq!((h.pop(), h.peek_key(), h.len()), (None, None, 0));
        // Sizes around powers of two, filled in reverse, drained in order.
        for n in [1u128, 2, 3, 4, 7, 8, 9, 15, 16, 17, 100] {
            for k in (0..n).rev() {
                h.push(k, k);
            }
            for k in 0..n {
                assert_eq!(h.pop(), Some(k), "size {n}");
            }
            assert_eq!(h.pop(), None);
        }
    }

    #[test]
    fn limit_is_exclusive() {
        let mut q = EventQueue::new();
        q.schedule(10, 1);
        assert_eq!(q.pop_before(10), None);
        assert_eq!(q.pop_before(11), Some(1));
        assert_eq!(q.now(), 10);
    }
}
