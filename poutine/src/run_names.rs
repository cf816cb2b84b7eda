//! [`RunNames`]: the sample names of one particle's run, checked for repeats as a trace would.

use pyro_trace::Name;
use rustc_hash::FxBuildHasher;
use smallvec::SmallVec;
use std::hash::BuildHasher;
use std::sync::Arc;

/// The sample names of a run, in order, each with the position of the chosen site it is (if it is
/// one): it refuses a repeated name, as a trace would, and finds the chosen sites.
///
/// Most models visit the same names in the same order at every run, so a run is first checked
/// against the previous successful run, one name comparison a site, and only counted: while the
/// names so far equal that run's, whose names were all distinct, they are distinct too. From the
/// first name that differs, this run's names are kept (starting with the previous run's names
/// so far) and hashed into an open-addressing table (kept at most half full). Buffers are reused
/// from run to run.
pub(crate) struct RunNames {
    /// The chosen sites.
    sites: Arc<[Name]>,
    /// The hashes of `sites`, compared before the names.
    site_hashes: SmallVec<[u64; 4]>,
    /// The last successful run's names, with the position in `sites` of each.
    previous: Vec<(Name, Option<usize>)>,
    /// How many names this run has visited while following `previous`.
    followed: usize,
    /// Whether this run has left the previous run's sequence (so `current` and the table are in
    /// use).
    diverged: bool,
    /// This run's names once diverged, with the position in `sites` of each.
    current: Vec<(Name, Option<usize>)>,
    /// The hash of each name in `current`.
    hashes: Vec<u64>,
    /// Position in `current` plus one; 0 marks an empty slot. The length is a power of two.
    slots: Vec<u32>,
}

/// The name is already in the run.
#[derive(Debug, PartialEq)]
pub(crate) struct Repeated;

impl RunNames {
    pub(crate) fn new(sites: Arc<[Name]>) -> Self {
        RunNames {
            site_hashes: sites.iter().map(|n| FxBuildHasher.hash_one(n)).collect(),
            sites,
            previous: Vec::new(),
            followed: 0,
            diverged: false,
            current: Vec::new(),
            hashes: Vec::new(),
            slots: Vec::new(),
        }
    }

    /// The number of chosen sites.
    pub(crate) fn sites(&self) -> usize {
        self.sites.len()
    }

    /// Adds `name` to the run and returns its position among the chosen sites, or `Repeated`.
    #[inline(always)]
    pub(crate) fn visit(&mut self, name: &Name) -> Result<Option<usize>, Repeated> {
        if !self.diverged {
            if let Some((same, chosen)) = self.previous.get(self.followed)
                && same == name
            {
                self.followed += 1;
                return Ok(*chosen);
            }
            self.diverge();
        }
        self.visit_table(name)
    }

    /// [`RunNames::visit`] once diverged.
    fn visit_table(&mut self, name: &Name) -> Result<Option<usize>, Repeated> {
        let hash = FxBuildHasher.hash_one(name);
        if 2 * (self.current.len() + 1) > self.slots.len() {
            self.rebuild();
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while let Some(j) = self.slots[i].checked_sub(1) {
            let j = j as usize;
            if self.hashes[j] == hash && self.current[j].0 == *name {
                return Err(Repeated);
            }
            i = (i + 1) & mask;
        }
        let mut sites = self.site_hashes.iter().zip(self.sites.iter());
        let chosen = sites.position(|(h, n)| *h == hash && n == name);
        self.current.push((name.clone(), chosen));
        self.hashes.push(hash);
        self.slots[i] = self.current.len() as u32;
        Ok(chosen)
    }

    /// Leaves the previous run's sequence: the run's names so far are the previous run's first
    /// names, and the table takes them.
    #[cold]
    fn diverge(&mut self) {
        self.diverged = true;
        self.current.clear();
        self.current
            .extend_from_slice(&self.previous[..self.followed]);
        self.hashes.clear();
        self.hashes
            .extend(self.current.iter().map(|(n, _)| FxBuildHasher.hash_one(n)));
        self.rebuild();
    }

    /// Sizes the table for the names so far and one more, at most half full (at least 16
    /// slots), and files every name again.
    fn rebuild(&mut self) {
        let mut len = self.slots.len().max(16);
        while 2 * (self.current.len() + 1) > len {
            len *= 2;
        }
        self.slots.clear();
        self.slots.resize(len, 0);
        let mask = len - 1;
        for (j, hash) in self.hashes.iter().enumerate() {
            let mut i = *hash as usize & mask;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = j as u32 + 1;
        }
    }

    /// Ends a successful run: its names become the sequence the next run is checked against.
    pub(crate) fn finish(&mut self) {
        if self.diverged {
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
            self.diverged = false;
        } else {
            // The run was the previous run's first names.
            self.previous.truncate(self.followed);
        }
        self.followed = 0;
    }

    /// Forgets a failed run (whose names may repeat); the previous sequence stays.
    pub(crate) fn abandon(&mut self) {
        self.current.clear();
        self.followed = 0;
        self.diverged = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sites: &[&'static str]) -> RunNames {
        RunNames::new(sites.iter().map(|s| Name::from(*s)).collect())
    }

    #[test]
    fn repeats_are_found_before_and_after_the_table_grows() {
        let mut run = names(&["x_3"]);
        for i in 0..40 {
            let expected = (i == 3).then_some(0);
            assert_eq!(
                run.visit(&Name::indexed("x", i)),
                Ok(expected),
                "x_{i} is new"
            );
            // A repeat of an early name, spelled as a string, is found at every size.
            assert_eq!(run.visit(&Name::from("x_0".to_string())), Err(Repeated));
        }
        run.abandon();
        assert_eq!(run.visit(&Name::indexed("x", 39)), Ok(None));
    }

    #[test]
    fn a_run_that_follows_the_previous_one_is_checked_too() {
        let mut run = names(&["b"]);
        let first = ["a", "b", "c"].map(Name::from);
        for n in &first {
            run.visit(n).unwrap();
        }
        run.finish();
        // The same sequence: the chosen site is found without hashing.
        assert_eq!(run.visit(&first[0]), Ok(None));
        assert_eq!(run.visit(&first[1]), Ok(Some(0)));
        assert_eq!(run.visit(&first[2]), Ok(None));
        run.finish();
        // Leaving the sequence with a repeat of a name seen while following it.
        assert_eq!(run.visit(&first[0]), Ok(None));
        assert_eq!(run.visit(&first[0]), Err(Repeated));
        run.abandon();
        // Leaving it later, then repeating a name from before the departure.
        assert_eq!(run.visit(&first[0]), Ok(None));
        assert_eq!(run.visit(&first[1]), Ok(Some(0)));
        assert_eq!(run.visit(&Name::from("d")), Ok(None));
        assert_eq!(run.visit(&Name::from("b".to_string())), Err(Repeated));
        run.abandon();
        // An abandoned run leaves the last successful sequence in place.
        for n in &first {
            assert!(run.visit(n).is_ok());
        }
        // A longer run than the previous one diverges at its end.
        assert_eq!(run.visit(&Name::from("e")), Ok(None));
        assert_eq!(run.visit(&Name::from("c")), Err(Repeated));
        run.abandon();
        // A run that is the previous run's first names becomes the sequence...
        assert_eq!(run.visit(&first[0]), Ok(None));
        run.finish();
        // ...so a run that goes on past it is checked against the names it had.
        assert_eq!(run.visit(&first[0]), Ok(None));
        assert_eq!(run.visit(&first[1]), Ok(Some(0)));
        assert_eq!(run.visit(&first[2]), Ok(None));
        assert_eq!(run.visit(&Name::from("a".to_string())), Err(Repeated));
    }

    #[test]
    fn divergence_with_many_names_so_far_sizes_the_table() {
        let mut run = names(&[]);
        for i in 0..100 {
            run.visit(&Name::indexed("y", i)).unwrap();
        }
        run.finish();
        for i in 0..100 {
            run.visit(&Name::indexed("y", i)).unwrap();
        }
        assert_eq!(run.visit(&Name::from("z")), Ok(None));
        assert_eq!(run.visit(&Name::indexed("y", 57)), Err(Repeated));
    }
}
