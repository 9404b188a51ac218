//! What the platform must do after an event: the core's answer to each
//! event it handles, as Hubris's `NextTask` is to a syscall.
//!
//! The core never reaches into a platform; it decides, and says what it
//! decided as an [`Effects`] value that each public event method of
//! [`crate::Kernel`] returns. The platform applies it in this order:
//! stop the tasks in [`Effects::stopped`] (they faulted or are being
//! reinitialised), start afresh those in [`Effects::restarted`] (a task
//! reinitialised into `Stopped` gets fresh memory but is not run), then
//! answer the pending syscall of those in [`Effects::resumed`] with their
//! `save.rets`. There are no flags on tasks for the platform to find.

use crate::task::TaskIndex;

/// The most tasks a table may have: a `TaskId` index has 10 bits.
pub const MAX_TASKS: usize = 1 << abi::TaskId::INDEX_BITS;

const WORDS: usize = MAX_TASKS / 64;

/// A set of task indices, without allocation.
#[derive(Copy, Clone, Default, Debug, Eq, PartialEq)]
struct TaskSet([u64; WORDS]);

impl TaskSet {
    fn insert(&mut self, index: usize) {
        if let Some(word) = self.0.get_mut(index / 64) {
            *word |= 1 << (index % 64);
        }
    }

    fn remove(&mut self, index: usize) {
        if let Some(word) = self.0.get_mut(index / 64) {
            *word &= !(1 << (index % 64));
        }
    }

    fn contains(&self, index: usize) -> bool {
        self.0
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    fn union(&mut self, other: &Self) {
        for (word, theirs) in self.0.iter_mut().zip(other.0) {
            *word |= theirs;
        }
    }

    /// Removes every member of `other`.
    fn subtract(&mut self, other: &Self) {
        for (word, theirs) in self.0.iter_mut().zip(other.0) {
            *word &= !theirs;
        }
    }

    /// The members in increasing order. Every syscall's effects are
    /// walked, so this visits set bits only (a few words, one
    /// `trailing_zeros` per member), not all `MAX_TASKS` indices: walking
    /// every index cost a third of an IPC round trip.
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(word_index, &word)| {
            let base = word_index.wrapping_mul(64);
            let mut bits = word;
            core::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let bit = bits.trailing_zeros() as usize;
                bits &= bits.wrapping_sub(1);
                Some(base.wrapping_add(bit))
            })
        })
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|&word| word == 0)
    }
}

/// What the platform must do, task by task, after one or more events.
#[must_use = "the platform must carry out what the core decided"]
#[derive(Clone, Default, Debug, Eq, PartialEq)]
pub struct Effects {
    stop: TaskSet,
    restart: TaskSet,
    resume: TaskSet,
}

impl Effects {
    /// Tasks whose execution must stop: faulted, or about to restart.
    pub fn stopped(&self) -> impl Iterator<Item = usize> + '_ {
        self.stop.iter()
    }

    /// Tasks to start afresh from their image (after stopping the old
    /// execution). One whose state is `Stopped` gets fresh memory only.
    pub fn restarted(&self) -> impl Iterator<Item = usize> + '_ {
        self.restart.iter()
    }

    /// Tasks whose pending syscall is answered with their `save.rets`.
    pub fn resumed(&self) -> impl Iterator<Item = usize> + '_ {
        self.resume.iter()
    }

    pub fn stops(&self, index: usize) -> bool {
        self.stop.contains(index)
    }

    pub fn restarts(&self, index: usize) -> bool {
        self.restart.contains(index)
    }

    pub fn resumes(&self, index: usize) -> bool {
        self.resume.contains(index)
    }

    pub fn is_empty(&self) -> bool {
        self.stop.is_empty()
            && self.restart.is_empty()
            && self.resume.is_empty()
    }

    /// Adds what a later event decided. A task stopped by either is not
    /// resumed unless the later event resumed it after the stop (a
    /// restarted task's first syscall): resumptions of an execution that
    /// was stopped afterwards are dropped by the core as it decides.
    pub fn merge(&mut self, later: Effects) {
        self.resume.subtract(&later.stop);
        self.stop.union(&later.stop);
        self.restart.union(&later.restart);
        self.resume.union(&later.resume);
    }

    pub(crate) fn resume(&mut self, index: TaskIndex) {
        self.resume.insert(index.get());
    }

    /// The task's execution ends: it is not answered.
    pub(crate) fn stop(&mut self, index: TaskIndex) {
        self.resume.remove(index.get());
        self.stop.insert(index.get());
    }

    pub(crate) fn restart(&mut self, index: TaskIndex) {
        self.restart.insert(index.get());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_cancels_an_earlier_resume_but_not_a_later_one() {
        let tasks = [0usize, 1, 2];
        let mut first = Effects::default();
        first.resume.insert(tasks[1]);
        first.resume.insert(tasks[2]);
        let mut later = Effects::default();
        later.stop.insert(tasks[1]);
        first.merge(later);
        assert_eq!(first.resumed().collect::<Vec<_>>(), [2]);
        assert_eq!(first.stopped().collect::<Vec<_>>(), [1]);
        let mut again = Effects::default();
        again.resume.insert(tasks[1]);
        first.merge(again);
        assert!(first.resumes(1) && first.stops(1));
    }

    #[test]
    fn iteration_yields_exactly_the_members_in_order() {
        let members = [0, 1, 63, 64, 65, 500, MAX_TASKS - 2, MAX_TASKS - 1];
        let mut set = TaskSet::default();
        for m in members {
            set.insert(m);
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), members);
        let mut other = TaskSet::default();
        other.insert(64);
        other.insert(500);
        set.subtract(&other);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [0, 1, 63, 65, MAX_TASKS - 2, MAX_TASKS - 1]
        );
        assert_eq!(TaskSet::default().iter().count(), 0);
    }

    #[test]
    fn indices_past_the_largest_table_are_ignored() {
        let mut set = TaskSet::default();
        set.insert(MAX_TASKS);
        set.insert(MAX_TASKS - 1);
        assert_eq!(set.iter().collect::<Vec<_>>(), [MAX_TASKS - 1]);
    }

    /// Each set keeps exactly its own members, across words, and a stop
    /// takes a task out of the resumed set without touching the others.
    /// Written for issue 16 (`cargo mutants` on this file).
    #[test]
    fn each_set_answers_for_exactly_its_members() {
        let index = |i: usize| crate::TaskIndex::for_tests(i);
        let mut e = Effects::default();
        assert!(e.is_empty());
        let members: [&[usize]; 3] =
            [&[5, 64], &[2, 700], &[0, 1, 63, 65, MAX_TASKS - 1]];
        for &i in members[0] {
            e.stop(index(i));
        }
        for &i in members[1] {
            e.restart(index(i));
        }
        for &i in members[2] {
            e.resume(index(i));
        }
        assert_eq!(e.stopped().collect::<Vec<_>>(), members[0]);
        assert_eq!(e.restarted().collect::<Vec<_>>(), members[1]);
        assert_eq!(e.resumed().collect::<Vec<_>>(), members[2]);
        for i in [0, 1, 2, 5, 63, 64, 65, 128, 700, MAX_TASKS - 1] {
            assert_eq!(e.stops(i), members[0].contains(&i), "stops {i}");
            assert_eq!(e.restarts(i), members[1].contains(&i), "restarts {i}");
            assert_eq!(e.resumes(i), members[2].contains(&i), "resumes {i}");
        }
        // Stopping a resumed task drops only its resumption.
        e.stop(index(65));
        e.stop(index(1));
        assert_eq!(e.resumed().collect::<Vec<_>>(), [0, 63, MAX_TASKS - 1]);
        assert_eq!(e.stopped().collect::<Vec<_>>(), [1, 5, 64, 65]);
        // Any one non-empty set makes the effects non-empty.
        for which in 0..3 {
            let mut one = Effects::default();
            match which {
                0 => one.stop(index(3)),
                1 => one.restart(index(3)),
                _ => one.resume(index(3)),
            }
            assert!(!one.is_empty(), "set {which}");
        }
    }
}
