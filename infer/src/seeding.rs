//! Per-particle seeds: each particle's generator derives from the run's seed and the particle's
//! index alone, never from the thread that runs it, so results do not depend on the number of
//! threads.

/// The SplitMix64 output function: a bijective mixer of 64-bit words.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of stream `stream` (e.g. 0 for a guide, 1 for the model) of particle `index` in a
/// run seeded with `seed`.
pub(crate) fn particle_seed(seed: u64, index: usize, stream: u64) -> u64 {
    let golden = 0x9e37_79b9_7f4a_7c15_u64;
    mix(mix(seed.wrapping_add(golden)) ^ mix((index as u64).wrapping_mul(4).wrapping_add(stream)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn seeds_differ_across_particles_streams_and_runs() {
        let mut seen = HashSet::new();
        for seed in 0..4 {
            for index in 0..1000 {
                for stream in 0..2 {
                    assert!(seen.insert(particle_seed(seed, index, stream)));
                }
            }
        }
    }

    #[test]
    fn seeds_are_pinned() {
        // The derivation is part of the reproducibility promise: changing it changes every
        // seeded result, so it is pinned.
        let pinned = [
            particle_seed(42, 0, 0),
            particle_seed(42, 1, 0),
            particle_seed(42, 0, 1),
        ];
        assert_eq!(
            pinned,
            [
                12870963724712631011,
                13887203899462787672,
                4984707694332144937
            ]
        );
    }
}
