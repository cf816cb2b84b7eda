//! Automatic guides built from a model's latent sites: [`AutoNormal`] (mean-field normal in
//! unconstrained space), [`AutoMultivariateNormal`] (a correlated normal, through a Cholesky
//! factor) and [`AutoDelta`] (a point, for MAP estimation), as Pyro's autoguides.

use crate::error::InferError;
use crate::potential::{Latent, Potential, constrain};
use pyro_poutine::distributions::{
    Batched, Constraint, Delta, Normal, Real, Reals, ScalarSupport, Value,
};
use pyro_poutine::{Model, Name, PyroError, PyroRng, param, sample, site, with_param_store};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// The latent sites of a model, found from one run drawn from the prior, as [`Potential`] finds
/// them: continuous sites only, none in a subsampled plate.
fn latents_of<M, A>(model: &M, args: &A, rng: &mut PyroRng) -> Result<Arc<[Latent]>, InferError>
where
    M: Model<A>,
    A: Clone,
{
    let potential = Potential::new(|a: A| model.call(a), args, rng)?;
    Ok(potential.latents().into())
}

/// The store's unconstrained coordinates of the parameter `name` (`n` of them).
fn coordinates(name: &str, n: usize) -> Result<Vec<f64>, InferError> {
    match with_param_store(|s| s.unconstrained(name).cloned()) {
        Some(Value::Real(x)) if n == 1 => Ok(vec![x]),
        Some(Value::Reals(v)) if v.len() == n => Ok(v),
        other => Err(InferError::BadValue {
            site: Name::from(name.to_string()),
            reason: format!(
                "the guide's parameter is {other:?} in the store, not {n} unconstrained \
                 coordinates (has the guide been fitted?)"
            ),
        }),
    }
}

/// `scale` if it can be an initial scale (finite and positive).
fn check_init_scale(scale: f64) -> Result<f64, InferError> {
    if scale.is_finite() && scale > 0.0 {
        Ok(scale)
    } else {
        Err(InferError::InvalidArgument {
            name: "init_scale",
            reason: format!("must be finite and > 0, got {scale}"),
        })
    }
}

/// The standard normal's `q`-quantile, for `q` in (0, 1).
fn standard_normal_quantile(q: f64) -> Result<f64, InferError> {
    if q > 0.0 && q < 1.0 {
        Ok(spec_math::cephes64::ndtri(q))
    } else {
        Err(InferError::InvalidArgument {
            name: "q",
            reason: format!("a quantile must be in (0, 1), got {q}"),
        })
    }
}

/// A value in the latent's support for unconstrained coordinates `u` (constants).
fn constrained(latent: &Latent, u: &[f64]) -> Value {
    let coords: Vec<Real> = u.iter().map(|&x| Real::constant(x)).collect();
    let (value, _, _) = constrain(latent, &coords).expect("a latent's support is continuous");
    value
}

/// The guide's site `name` with value `x` (the latent mapped into its support) whose
/// log-density is `log_density` (the map's negative log-Jacobian): a point mass, or one per
/// element for a vector latent, the whole log-density on the first (Pyro's `Delta` with
/// `log_density`, as its `AutoContinuous` guides emit).
fn emit(latent: &Latent, x: &[Real], log_density: Real) -> Result<(), PyroError> {
    if latent.vector {
        let deltas = x
            .iter()
            .enumerate()
            .map(|(i, &xi)| {
                Delta::with_log_density(xi, if i == 0 { log_density } else { 0.0.into() })
            })
            .collect::<Result<Vec<_>, _>>();
        sample(latent.name.clone(), Batched::per_element(deltas?))?;
    } else {
        sample(
            latent.name.clone(),
            Delta::with_log_density(x[0], log_density),
        )?;
    }
    Ok(())
}

/// Pyro's `AutoNormal`: a mean-field normal guide in unconstrained space. Each latent site of the
/// model gets a location and a scale per unconstrained coordinate, the parameters
/// `AutoNormal.locs.{site}` (initially 0, Pyro's `init_to_feasible`) and
/// `AutoNormal.scales.{site}` (initially [`init_scale`](AutoNormal::init_scale), 0.1); its value
/// is a normal draw mapped into the site's support (its log-density with the map's
/// log-Jacobian). The guide is a model: give it to [`Svi`](crate::Svi), and to
/// [`Predictive`](crate::Predictive) for draws from the fitted posterior.
///
/// ```
/// use pyro_infer::{Adam, AutoNormal, Svi, TraceElbo};
/// use pyro_infer::poutine::distributions::{HalfNormal, Normal, Value};
/// use rand::SeedableRng;
/// use pyro_infer::poutine::{PyroError, PyroRng, observe, sample};
///
/// let model = |ys: Vec<f64>| -> Result<(), PyroError> {
///     let mu = sample("mu", Normal::new(0.0, 10.0))?;
///     let sigma = sample("sigma", HalfNormal::new(5.0))?;
///     for (i, y) in ys.iter().enumerate() {
///         observe(format!("y{i}"), Normal::new(mu, sigma), *y)?;
///     }
///     Ok(())
/// };
/// let ys = vec![4.9, 5.3, 5.1, 4.7, 5.0];
/// let guide = AutoNormal::new(&model, &ys, &mut PyroRng::seed_from_u64(0))?;
/// let mut svi = Svi::new(model, guide, Adam::new(0.05)?, TraceElbo::new()).seed(1);
/// svi.run(&ys, 2000)?;
/// let median = svi.guide().median()?;
/// let Value::Real(mu) = median[0].1 else { unreachable!() };
/// assert!((mu - 5.0).abs() < 0.2, "{mu}");
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
pub struct AutoNormal<A> {
    latents: Arc<[Latent]>,
    /// The names of each latent's parameters and auxiliary site, made once.
    names: Arc<[NormalNames]>,
    init_scale: f64,
    /// The model's arguments' type: the guide is a model of the same arguments.
    args: PhantomData<fn(A)>,
}

/// The names of an [`AutoNormal`] latent's location and scale parameters and of its auxiliary
/// site.
#[derive(Debug)]
struct NormalNames {
    loc: Name,
    scale: Name,
    auxiliary: Name,
}

impl<A> Clone for AutoNormal<A> {
    fn clone(&self) -> Self {
        AutoNormal {
            latents: self.latents.clone(),
            names: self.names.clone(),
            init_scale: self.init_scale,
            args: PhantomData,
        }
    }
}

impl<A> fmt::Debug for AutoNormal<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AutoNormal")
            .field("latents", &self.latents)
            .field("init_scale", &self.init_scale)
            .finish()
    }
}

impl<A> AutoNormal<A> {
    /// The guide of `model`'s latent sites, found from one run at `args` drawn from the prior
    /// with `rng`.
    ///
    /// # Errors
    /// As [`Potential::new`]: the model fails, or a latent site is discrete or in a subsampled
    /// plate (write a guide for those).
    pub fn new<M>(model: &M, args: &A, rng: &mut PyroRng) -> Result<Self, InferError>
    where
        M: Model<A>,
        A: Clone,
    {
        let latents = latents_of(model, args, rng)?;
        let names = latents
            .iter()
            .map(|l| NormalNames {
                loc: Name::from(format!("AutoNormal.locs.{}", l.name)),
                scale: Name::from(format!("AutoNormal.scales.{}", l.name)),
                auxiliary: Name::from(format!("_AutoNormal.unconstrained.{}", l.name)),
            })
            .collect();
        Ok(AutoNormal {
            latents,
            names,
            init_scale: 0.1,
            args: PhantomData,
        })
    }

    /// The initial scale of every coordinate (Pyro's `init_scale`, 0.1).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] unless finite and positive.
    pub fn init_scale(mut self, scale: f64) -> Result<Self, InferError> {
        self.init_scale = check_init_scale(scale)?;
        Ok(self)
    }

    /// Each latent site's posterior median under the fitted guide: its location mapped into
    /// the support.
    ///
    /// # Errors
    /// [`InferError::BadValue`] if the store does not hold the guide's parameters (it has not
    /// been run).
    pub fn median(&self) -> Result<Vec<(Name, Value)>, InferError> {
        self.quantile(0.5)
    }

    /// Each latent site's `q`-quantile under the fitted guide, coordinate by coordinate: the
    /// location plus `z_q` scales, mapped into the support (as Pyro's `AutoNormal.quantiles`).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] for `q` outside (0, 1); as [`median`](Self::median).
    pub fn quantile(&self, q: f64) -> Result<Vec<(Name, Value)>, InferError> {
        let z = standard_normal_quantile(q)?;
        self.latents
            .iter()
            .zip(self.names.iter())
            .map(|(l, names)| {
                let loc = coordinates(&names.loc.as_cow(), l.len)?;
                let scale = coordinates(&names.scale.as_cow(), l.len)?;
                let u: Vec<f64> = loc
                    .iter()
                    .zip(&scale)
                    .map(|(m, s)| m + s.exp() * z)
                    .collect();
                Ok((l.name.clone(), constrained(l, &u)))
            })
            .collect()
    }
}

impl<A> Model<A> for AutoNormal<A> {
    type Output = ();

    fn call(&self, _: A) -> Result<(), PyroError> {
        for (l, names) in self.latents.iter().zip(self.names.iter()) {
            let auxiliary = names.auxiliary.clone();
            let u: Vec<Real> = if l.vector {
                let init = |x: f64| Reals::from(vec![x; l.len]);
                let loc: Reals = param(names.loc.clone(), init(0.0), Constraint::RealVector)?;
                let scale: Reals = param(
                    names.scale.clone(),
                    init(self.init_scale),
                    Constraint::Elementwise(ScalarSupport::Positive),
                )?;
                let dists = loc
                    .iter()
                    .zip(scale.iter())
                    .map(|(m, s)| Normal::new(m, s))
                    .collect::<Result<Vec<_>, _>>()?;
                let u: Reals = site(auxiliary)
                    .infer("is_auxiliary", true)
                    .sample(Batched::per_element(dists))?;
                u.iter().collect()
            } else {
                let loc: Real = param(names.loc.clone(), Real::from(0.0), Constraint::Real)?;
                let scale: Real = param(
                    names.scale.clone(),
                    Real::from(self.init_scale),
                    Constraint::Positive,
                )?;
                let u: Real = site(auxiliary)
                    .infer("is_auxiliary", true)
                    .sample(Normal::new(loc, scale))?;
                vec![u]
            };
            let Some((_, x, log_jacobian)) = constrain(l, &u) else {
                return Err(PyroError::InvalidMessage {
                    site: l.name.clone(),
                    reason: "the latent site's support has no bijection",
                });
            };
            emit(l, &x, -log_jacobian)?;
        }
        Ok(())
    }
}

/// Pyro's `AutoDelta`: a point for each latent site, the parameter `AutoDelta.{site}` in the
/// site's support (initially the median of prior draws, Pyro's `init_to_median`). Fitting it
/// with [`Svi`](crate::Svi) maximises the joint density: maximum a posteriori estimation
/// (in the support's own coordinates, as Pyro's; the guide's log-density is 0).
///
/// ```
/// use pyro_infer::{Adam, AutoDelta, Svi, TraceElbo};
/// use pyro_infer::poutine::distributions::{Normal, Value};
/// use rand::SeedableRng;
/// use pyro_infer::poutine::{PyroError, PyroRng, observe, sample};
///
/// // The MAP of mu ~ N(0, 1), y ~ N(mu, 1) at y = 2 is 1.
/// let model = |y: f64| -> Result<(), PyroError> {
///     let mu = sample("mu", Normal::new(0.0, 1.0))?;
///     observe("y", Normal::new(mu, 1.0), y)?;
///     Ok(())
/// };
/// let guide = AutoDelta::new(&model, &2.0, &mut PyroRng::seed_from_u64(0))?;
/// let mut svi = Svi::new(model, guide, Adam::new(0.05)?, TraceElbo::new());
/// svi.run(&2.0, 1000)?;
/// let Value::Real(mu) = svi.guide().median()?[0].1 else { unreachable!() };
/// assert!((mu - 1.0).abs() < 1e-3, "{mu}");
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
pub struct AutoDelta<A> {
    latents: Arc<[Latent]>,
    /// The name of each latent's parameter, made once.
    names: Arc<[Name]>,
    /// The initial values, one per latent site.
    init: Arc<[Value]>,
    /// The model's arguments' type: the guide is a model of the same arguments.
    args: PhantomData<fn(A)>,
}

impl<A> Clone for AutoDelta<A> {
    fn clone(&self) -> Self {
        AutoDelta {
            latents: self.latents.clone(),
            names: self.names.clone(),
            init: self.init.clone(),
            args: PhantomData,
        }
    }
}

impl<A> fmt::Debug for AutoDelta<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AutoDelta")
            .field("latents", &self.latents)
            .field("init", &self.init)
            .finish()
    }
}

impl<A> AutoDelta<A> {
    /// The guide of `model`'s latent sites, found from one run at `args` drawn from the prior
    /// with `rng`, initialised at the median of 15 prior draws.
    ///
    /// # Errors
    /// As [`AutoNormal::new`].
    pub fn new<M>(model: &M, args: &A, rng: &mut PyroRng) -> Result<Self, InferError>
    where
        M: Model<A>,
        A: Clone,
    {
        let potential = Potential::new(|a: A| model.call(a), args, rng)?;
        let u = potential.init_point(args, &crate::potential::Init::Median, None, rng)?;
        let init = potential
            .constrained(&u)?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        let latents: Arc<[Latent]> = potential.latents().into();
        let names = latents
            .iter()
            .map(|l| Name::from(format!("AutoDelta.{}", l.name)))
            .collect();
        Ok(AutoDelta {
            latents,
            names,
            init,
            args: PhantomData,
        })
    }

    /// Each latent site's fitted point (the MAP estimate once fitted).
    ///
    /// # Errors
    /// [`InferError::BadValue`] if the store does not hold the guide's parameters.
    pub fn median(&self) -> Result<Vec<(Name, Value)>, InferError> {
        self.quantile(0.5)
    }

    /// Each latent site's `q`-quantile under the fitted guide: its point, whatever `q` (the
    /// guide is a point mass, as Pyro's `AutoDelta.quantiles`).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] for `q` outside (0, 1); as [`median`](Self::median).
    pub fn quantile(&self, q: f64) -> Result<Vec<(Name, Value)>, InferError> {
        standard_normal_quantile(q)?;
        self.latents
            .iter()
            .zip(self.names.iter())
            .map(|(l, name)| {
                let value = with_param_store(|s| s.get(&name.as_cow())).ok_or_else(|| {
                    InferError::BadValue {
                        site: name.clone(),
                        reason:
                            "the guide's parameter is not in the store (has the guide been run?)"
                                .into(),
                    }
                })?;
                Ok((l.name.clone(), value))
            })
            .collect()
    }
}

impl<A> Model<A> for AutoDelta<A> {
    type Output = ();

    fn call(&self, _: A) -> Result<(), PyroError> {
        for ((l, init), name) in self
            .latents
            .iter()
            .zip(self.init.iter())
            .zip(self.names.iter())
        {
            match init {
                Value::Reals(v) => {
                    let x: Reals = param(name.clone(), Reals::from(v.clone()), l.support)?;
                    let x: Vec<Real> = x.iter().collect();
                    emit(l, &x, Real::constant(0.0))?;
                }
                value => {
                    let start = match value {
                        Value::Real(x) => *x,
                        Value::Int(k) => *k as f64,
                        _ => 0.0,
                    };
                    let x: Real = param(name.clone(), Real::from(start), l.support)?;
                    emit(l, &[x], Real::constant(0.0))?;
                }
            }
        }
        Ok(())
    }
}

/// Pyro's `AutoMultivariateNormal`: one multivariate normal over all the latent sites'
/// unconstrained coordinates, `z = loc + L eps` with `eps` standard normal and `L` lower
/// triangular (a Cholesky factor of the covariance), each site's slice of `z` mapped into its
/// support. The parameters are `AutoMultivariateNormal.loc` (initially 0), and `L` as
/// `AutoMultivariateNormal.scale_tril_diag` (positive, initially
/// [`init_scale`](AutoMultivariateNormal::init_scale), 0.1) and
/// `AutoMultivariateNormal.scale_tril_lower` (the entries below the diagonal, row by row,
/// initially 0). The guide draws `eps` as an auxiliary site and gives the model's sites point
/// masses carrying the log-density `-ln |det L|` minus the maps' log-Jacobians.
///
/// ```
/// use pyro_infer::{Adam, AutoMultivariateNormal, Svi, TraceElbo};
/// use pyro_infer::poutine::distributions::{Normal, Value};
/// use rand::SeedableRng;
/// use pyro_infer::poutine::{PyroError, PyroRng, observe, sample};
///
/// // a and b are correlated a posteriori: only their sum is observed. The posterior mean of
/// // the sum is 2 * 2 / (2 + 0.5^2) = 1.78.
/// let model = |y: f64| -> Result<(), PyroError> {
///     let a = sample("a", Normal::new(0.0, 1.0))?;
///     let b = sample("b", Normal::new(0.0, 1.0))?;
///     observe("y", Normal::new(a + b, 0.5), y)?;
///     Ok(())
/// };
/// let guide = AutoMultivariateNormal::new(&model, &2.0, &mut PyroRng::seed_from_u64(0))?;
/// let mut svi = Svi::new(model, guide, Adam::new(0.02)?, TraceElbo::new()).seed(1);
/// svi.run(&2.0, 3000)?;
/// let median = svi.guide().median()?;
/// let (Value::Real(a), Value::Real(b)) = (&median[0].1, &median[1].1) else { unreachable!() };
/// assert!((a + b - 1.78).abs() < 0.15, "{a} {b}");
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
pub struct AutoMultivariateNormal<A> {
    latents: Arc<[Latent]>,
    dim: usize,
    init_scale: f64,
    args: PhantomData<fn(A)>,
}

impl<A> Clone for AutoMultivariateNormal<A> {
    fn clone(&self) -> Self {
        AutoMultivariateNormal {
            latents: self.latents.clone(),
            dim: self.dim,
            init_scale: self.init_scale,
            args: PhantomData,
        }
    }
}

impl<A> fmt::Debug for AutoMultivariateNormal<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AutoMultivariateNormal")
            .field("latents", &self.latents)
            .field("init_scale", &self.init_scale)
            .finish()
    }
}

const MVN_LOC: &str = "AutoMultivariateNormal.loc";
const MVN_DIAG: &str = "AutoMultivariateNormal.scale_tril_diag";
const MVN_LOWER: &str = "AutoMultivariateNormal.scale_tril_lower";

impl<A> AutoMultivariateNormal<A> {
    /// The guide of `model`'s latent sites, found from one run at `args` drawn from the prior
    /// with `rng`.
    ///
    /// # Errors
    /// As [`AutoNormal::new`].
    pub fn new<M>(model: &M, args: &A, rng: &mut PyroRng) -> Result<Self, InferError>
    where
        M: Model<A>,
        A: Clone,
    {
        let latents = latents_of(model, args, rng)?;
        let dim = latents.iter().map(|l| l.len).sum();
        Ok(AutoMultivariateNormal {
            latents,
            dim,
            init_scale: 0.1,
            args: PhantomData,
        })
    }

    /// The initial diagonal of the Cholesky factor (Pyro's `init_scale`, 0.1).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] unless finite and positive.
    pub fn init_scale(mut self, scale: f64) -> Result<Self, InferError> {
        self.init_scale = check_init_scale(scale)?;
        Ok(self)
    }

    /// Each latent site's posterior median under the fitted guide: its slice of the location
    /// mapped into its support.
    ///
    /// # Errors
    /// [`InferError::BadValue`] if the store does not hold the guide's parameters.
    pub fn median(&self) -> Result<Vec<(Name, Value)>, InferError> {
        self.quantile(0.5)
    }

    /// Each latent site's `q`-quantile under the fitted guide, coordinate by coordinate: the
    /// location plus `z_q` marginal standard deviations (the square roots of the diagonal of
    /// `L L^T`), mapped into the support.
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] for `q` outside (0, 1); as [`median`](Self::median).
    pub fn quantile(&self, q: f64) -> Result<Vec<(Name, Value)>, InferError> {
        let z = standard_normal_quantile(q)?;
        let d = self.dim;
        let loc = coordinates(MVN_LOC, d)?;
        let diag: Vec<f64> = coordinates(MVN_DIAG, d)?.iter().map(|u| u.exp()).collect();
        let lower = coordinates(MVN_LOWER, d * (d - 1) / 2)?;
        let sd: Vec<f64> = (0..d)
            .map(|i| {
                let row = &lower[i * (i.saturating_sub(1)) / 2..][..i];
                (row.iter().map(|l| l * l).sum::<f64>() + diag[i] * diag[i]).sqrt()
            })
            .collect();
        Ok(self
            .latents
            .iter()
            .map(|l| {
                let u: Vec<f64> = (l.offset..l.offset + l.len)
                    .map(|k| loc[k] + sd[k] * z)
                    .collect();
                (l.name.clone(), constrained(l, &u))
            })
            .collect())
    }
}

impl<A> Model<A> for AutoMultivariateNormal<A> {
    type Output = ();

    fn call(&self, _: A) -> Result<(), PyroError> {
        let d = self.dim;
        let vector = |x: f64, n: usize| Reals::from(vec![x; n]);
        let loc: Reals = param(MVN_LOC, vector(0.0, d), Constraint::RealVector)?;
        let diag: Reals = param(
            MVN_DIAG,
            vector(self.init_scale, d),
            Constraint::Elementwise(ScalarSupport::Positive),
        )?;
        let lower: Reals = if d > 1 {
            param(
                MVN_LOWER,
                vector(0.0, d * (d - 1) / 2),
                Constraint::RealVector,
            )?
        } else {
            Reals::default()
        };
        let eps: Reals = site("_AutoMultivariateNormal.eps")
            .infer("is_auxiliary", true)
            .sample(Batched::iid(Normal::new(0.0, 1.0)?, d)?)?;
        // z = loc + L eps, row by row; ln |det L| = sum of ln L_ii.
        let mut z = Vec::with_capacity(d);
        let mut log_det = Real::constant(0.0);
        for i in 0..d {
            let row = i * i.saturating_sub(1) / 2;
            let mut zi = loc.at(i) + diag.at(i) * eps.values()[i];
            for j in 0..i {
                zi += lower.at(row + j) * eps.values()[j];
            }
            z.push(zi);
            log_det += diag.at(i).ln();
        }
        let mut extra = -log_det;
        for l in self.latents.iter() {
            let u = &z[l.offset..l.offset + l.len];
            let Some((_, x, log_jacobian)) = constrain(l, u) else {
                return Err(PyroError::InvalidMessage {
                    site: l.name.clone(),
                    reason: "the latent site's support has no bijection",
                });
            };
            emit(l, &x, extra - log_jacobian)?;
            extra = Real::constant(0.0);
        }
        Ok(())
    }
}
