//! [`InferError`]: what can go wrong in inference.

use crate::mcmc::ChainStep;
use crate::mcmc_run::McmcRun;
use pyro_poutine::{Name, PyroError};
use std::fmt;

/// An error of an inference algorithm.
#[derive(Debug)]
#[non_exhaustive]
pub enum InferError {
    /// Running the model or the guide failed for one particle or sample.
    Model {
        /// The particle (or sample) index.
        index: usize,
        /// The error.
        source: PyroError,
    },
    /// There are no samples to summarise (zero particles were requested or kept).
    Empty,
    /// No particle has positive weight: every log-weight is `-inf` (or NaN), so the weights
    /// cannot be normalised.
    ///
    /// An importance run names the first particle and the sites that scored `-inf` in it (it
    /// runs that particle again, from the same seed, under a tracer): usually a data bug, such as
    /// an observation outside its distribution's support.
    ZeroWeights {
        /// The first particle, when known (`None` for weights given directly, as to
        /// [`EmpiricalMarginal::new`](crate::EmpiricalMarginal::new)).
        particle: Option<usize>,
        /// The sites whose log-density, as the log-weight counts it, is `-inf` in that particle:
        /// under the prior proposal the observed sites, with a guide every model site. Empty
        /// when no single site is `-inf` (the log-densities add up to `-inf`) or unknown.
        sites: Vec<Name>,
    },
    /// A site was asked for that the run does not have (a misspelled name, say).
    UnknownSite {
        /// The site asked for.
        site: Name,
        /// The sites the run has.
        known: Vec<Name>,
    },
    /// A site needed for a summary is missing from a sample, or has no value.
    MissingSite {
        /// The site.
        site: Name,
        /// The particle (or sample) index.
        index: usize,
    },
    /// A site's value cannot be summarised (not numeric, or of another length than the others).
    BadValue {
        /// The site, or `"_RETURN"` for the model's return value.
        site: Name,
        /// What is wrong.
        reason: String,
    },
    /// An argument of the algorithm is invalid (e.g. a quantile outside [0, 1]).
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Running the model failed inside an inference kernel (the chain and step are added by
    /// [`InferError::Chain`]).
    Run(PyroError),
    /// No starting point of positive density was found: every attempt scored `-inf`.
    NoValidStart {
        /// How many points were tried.
        attempts: usize,
        /// The sites that scored `-inf` in the first attempt.
        sites: Vec<Name>,
    },
    /// Gradient-based inference cannot take this latent site: it is discrete, its family gives
    /// no gradient, or it is not one of the latent sites of the model's first run.
    NotDifferentiable {
        /// The site.
        site: Name,
        /// Why.
        reason: String,
    },
    /// An MCMC chain failed. The other chains ran to the end; `run` holds every chain's draws
    /// up to then.
    Chain {
        /// The chain (the lowest one that failed).
        chain: usize,
        /// Where in the chain.
        step: ChainStep,
        /// What went wrong.
        source: Box<InferError>,
        /// Every chain's draws.
        run: Box<McmcRun>,
    },
}

impl From<PyroError> for InferError {
    fn from(e: PyroError) -> Self {
        InferError::Run(e)
    }
}

impl fmt::Display for InferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InferError::Model { index, source } => write!(f, "particle {index}: {source}"),
            InferError::Empty => write!(f, "no samples: nothing to summarise"),
            InferError::ZeroWeights { particle: None, .. } => write!(
                f,
                "every log-weight is -inf or NaN: the posterior weights cannot be normalised"
            ),
            InferError::ZeroWeights {
                particle: Some(particle),
                sites,
            } => {
                write!(
                    f,
                    "every particle has weight 0 (log-weight -inf): the posterior weights cannot \
                     be normalised; in particle {particle} "
                )?;
                match sites.as_slice() {
                    [] => write!(
                        f,
                        "no single site scored -inf (the log-densities add up to -inf)"
                    ),
                    [site] => write!(f, "the site '{site}' scored -inf"),
                    _ => {
                        let names: Vec<String> = sites.iter().map(|s| format!("'{s}'")).collect();
                        write!(f, "the sites {} scored -inf", names.join(", "))
                    }
                }
            }
            InferError::UnknownSite { site, known } => {
                write!(f, "no site '{site}' in this run; ")?;
                if known.is_empty() {
                    return write!(f, "it has none");
                }
                let names: Vec<String> = known.iter().map(|s| format!("'{s}'")).collect();
                write!(f, "the sites are {}", names.join(", "))
            }
            InferError::MissingSite { site, index } => {
                write!(f, "sample {index} has no value at site '{site}'")
            }
            InferError::BadValue { site, reason } => write!(f, "site '{site}': {reason}"),
            InferError::InvalidArgument { name, reason } => write!(f, "{name}: {reason}"),
            InferError::Run(e) => write!(f, "{e}"),
            InferError::NoValidStart { attempts, sites } => {
                write!(
                    f,
                    "no starting point of positive density in {attempts} draws from the prior"
                )?;
                if !sites.is_empty() {
                    let names: Vec<String> = sites.iter().map(|s| format!("'{s}'")).collect();
                    write!(f, "; the first scored -inf at {}", names.join(", "))?;
                }
                Ok(())
            }
            InferError::NotDifferentiable { site, reason } => write!(
                f,
                "site '{site}': gradient-based inference cannot take it: {reason}"
            ),
            InferError::Chain {
                chain,
                step,
                source,
                ..
            } => write!(f, "chain {chain}, {step}: {source}"),
        }
    }
}

impl std::error::Error for InferError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InferError::Model { source, .. } | InferError::Run(source) => Some(source),
            InferError::Chain { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}
