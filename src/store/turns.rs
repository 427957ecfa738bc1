//! Taking turns at the store's one writer, first come first served.
//!
//! A large batch is written in chunks and retention evicts in steps, each in a turn of its
//! own, so that a batch arriving meanwhile waits for one chunk or step, not for all of
//! them. A plain mutex does not give that: the thread that unlocks it can lock it again
//! before a waiting thread wakes up, and a 1M-span batch would keep the writer for its
//! whole length. Here each turn is a ticket: whoever asked first goes first, and a chunk
//! that comes after others queued goes after them.

use std::sync::{Condvar, Mutex, MutexGuard};

use super::lock;

pub struct Turns<T> {
    tickets: Mutex<Tickets>,
    next_in_line: Condvar,
    value: Mutex<T>,
}

struct Tickets {
    /// The ticket the next caller gets.
    issued: u64,
    /// The ticket whose turn it is.
    serving: u64,
}

/// The value, until dropped; then the next ticket's turn.
pub struct Turn<'a, T> {
    turns: &'a Turns<T>,
    value: Option<MutexGuard<'a, T>>,
}

impl<T> Turns<T> {
    pub fn new(value: T) -> Turns<T> {
        Turns {
            tickets: Mutex::new(Tickets { issued: 0, serving: 0 }),
            next_in_line: Condvar::new(),
            value: Mutex::new(value),
        }
    }

    /// Waits for every earlier caller's turn to end, then holds the value.
    pub fn take(&self) -> Turn<'_, T> {
        let mut tickets = lock(&self.tickets);
        let ticket = tickets.issued;
        tickets.issued += 1;
        while tickets.serving != ticket {
            tickets = self.next_in_line.wait(tickets).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        drop(tickets);
        Turn { turns: self, value: Some(lock(&self.value)) }
    }

    /// How many callers wait for their turn (not counting the one holding it).
    #[cfg(test)]
    pub fn waiting(&self) -> u64 {
        let tickets = lock(&self.tickets);
        (tickets.issued - tickets.serving).saturating_sub(1)
    }
}

impl<T> std::ops::Deref for Turn<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_deref().unwrap_or_else(|| unreachable!("the value is held until the turn ends"))
    }
}

impl<T> std::ops::DerefMut for Turn<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_deref_mut().unwrap_or_else(|| unreachable!("the value is held until the turn ends"))
    }
}

impl<T> Drop for Turn<'_, T> {
    /// Also when a panic unwinds through the turn: the line moves on.
    fn drop(&mut self) {
        self.value = None;
        lock(&self.turns.tickets).serving += 1;
        self.turns.next_in_line.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn turns_go_in_the_order_they_were_asked_for() {
        let turns = Arc::new(Turns::new(Vec::new()));
        let first = turns.take();
        let mut waiting = Vec::new();
        for n in 0..4u64 {
            let shared = Arc::clone(&turns);
            waiting.push(std::thread::spawn(move || shared.take().push(n)));
            // Each thread is in line before the next one starts.
            while turns.waiting() < n + 1 {
                std::thread::yield_now();
            }
        }
        drop(first);
        // The holder of the first turn asks again: it goes after the four that waited.
        turns.take().push(99);
        for thread in waiting {
            thread.join().unwrap();
        }
        assert_eq!(*turns.take(), [0, 1, 2, 3, 99]);
    }
}
