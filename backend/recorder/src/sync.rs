//! Locks that shrug off poisoning.
//!
//! A mutex is poisoned when a thread panics while holding it. Everything this workspace keeps
//! behind a mutex stays consistent across such a panic (whole values are replaced, appends are
//! whole), and a panic in a scenario must not take the recorder or the server down with it, so
//! every lock is taken with `lock_unpoisoned` and every condvar wait ends with `unpoisoned`.

use std::sync::{LockResult, Mutex, MutexGuard};

/// `Mutex::lock` that takes over a poisoned lock instead of failing.
pub trait LockUnpoisoned<T: ?Sized> {
    fn lock_unpoisoned(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> LockUnpoisoned<T> for Mutex<T> {
    fn lock_unpoisoned(&self) -> MutexGuard<'_, T> {
        self.lock().unpoisoned()
    }
}

/// The guard of a lock result (a lock or a condvar wait), poisoned or not.
pub trait Unpoisoned<G> {
    fn unpoisoned(self) -> G;
}

impl<G> Unpoisoned<G> for LockResult<G> {
    fn unpoisoned(self) -> G {
        self.unwrap_or_else(|e| e.into_inner())
    }
}
