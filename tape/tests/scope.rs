//! Gradient scopes: leaves made lazily, backward for chosen leaves, the record API, and the
//! errors (stale `Real`s, nested gradients, variables that are not leaves), each an error and
//! never a wrong number or a panic.

use pyro_tape::{Real, Tape, TapeError, gradient};

/// `Err(TapeError::Stale)` with this value, used in this file.
fn assert_stale<T: std::fmt::Debug>(result: Result<T, TapeError>, value: f64) {
    match result {
        Err(TapeError::Stale {
            value: stale,
            location,
        }) => {
            assert_eq!(stale, value);
            assert!(location.file().ends_with("scope.rs"), "{location}");
        }
        other => panic!("expected a stale Real of value {value}, got {other:?}"),
    }
}

/// A gradient whose output is returned: stale as soon as the gradient ends.
fn kept_from_a_gradient(x: f64) -> Real {
    let mut kept = Real::constant(0.0);
    gradient(&[x], |v| {
        kept = v[0] * 2.0;
        Ok::<_, TapeError>(kept)
    })
    .expect("a fresh gradient");
    kept
}

#[test]
fn a_stale_real_is_an_error_never_a_wrong_number() {
    // The kept Real was node 1 of its tape; in the next gradient node 1 exists again (the second
    // leaf): the id tells them apart.
    let kept = kept_from_a_gradient(3.0);
    assert_eq!(kept.value(), 6.0);
    let result = gradient(&[1.0, 2.0], |v| Ok::<_, TapeError>(v[0] * v[1] + kept));
    assert_stale(result, 6.0);
    // Used deep inside, by a function, or by a recorded node.
    assert_stale(
        gradient(&[1.0], |v| {
            Ok::<_, TapeError>((v[0] + 1.0).exp() * kept.sin())
        }),
        6.0,
    );
    assert_stale(
        gradient(&[1.0], |v| {
            Ok::<_, TapeError>(Real::record(0.0, &[(v[0], 1.0), (kept, 1.0)]))
        }),
        6.0,
    );
    // Used where it does not even reach the output: still an error.
    assert_stale(
        gradient(&[1.0], |v| {
            let _unused = v[0] * kept;
            Ok::<_, TapeError>(v[0])
        }),
        6.0,
    );
    // Returned as the output.
    assert_stale(gradient(&[1.0], |_| Ok::<_, TapeError>(kept)), 6.0);
}

#[test]
fn a_stale_real_outside_a_gradient_keeps_its_value_and_stays_stale() {
    let kept = kept_from_a_gradient(1.5);
    let derived = (kept * 2.0 + 1.0).ln();
    assert_eq!(derived.value(), 7.0_f64.ln());
    assert!(!derived.is_constant());
    assert_stale(
        gradient(&[1.0], |v| Ok::<_, TapeError>(v[0] + derived)),
        derived.value(),
    );
    // Comparisons and formatting only read the value.
    assert!(kept == 3.0 && kept > 2.0 && 4.0 > kept);
    assert_eq!(format!("{kept} {kept:?}"), "3 3.0");
}

#[test]
fn a_stale_leaf_or_output_given_to_backward_is_an_error() -> Result<(), TapeError> {
    let (old_leaf, old_output) = {
        let tape = Tape::start()?;
        let x = tape.leaf(4.0);
        (x, x * x)
    };
    let tape = Tape::start()?;
    let x = tape.leaf(1.0);
    let y = x * 3.0;
    assert_stale(tape.backward(y, &[x, old_leaf]), 4.0);
    assert_stale(tape.backward(old_output, &[x]), 16.0);
    // The tape is not poisoned by those: backward works with the right arguments.
    assert_eq!(tape.backward(y, &[x])?, vec![3.0]);
    Ok(())
}

#[test]
fn a_real_from_another_thread_is_stale() -> Result<(), TapeError> {
    // Both threads take a gradient at the same time, each with its first node a leaf: the ids
    // still differ, so the foreign Real is detected.
    let barrier = std::sync::Barrier::new(2);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::scope(|scope| -> Result<(), TapeError> {
        scope.spawn(|| {
            let tape = Tape::start().expect("a gradient on a fresh thread");
            sender.send(tape.leaf(5.0)).expect("the receiver is alive");
            barrier.wait();
        });
        let tape = Tape::start()?;
        let x = tape.leaf(1.0);
        let foreign = receiver.recv().expect("the sender sends one Real");
        let result = tape.backward(x * foreign, &[x]);
        barrier.wait();
        assert_stale(result, 5.0);
        Ok(())
    })
}

#[test]
fn gradients_do_not_nest() -> Result<(), TapeError> {
    let outer = Tape::start()?;
    assert!(matches!(Tape::start(), Err(TapeError::Nested)));
    let inner = gradient(&[1.0], |v| Ok::<_, TapeError>(v[0]));
    assert_eq!(inner, Err(TapeError::Nested));
    // The outer gradient is unharmed.
    let x = outer.leaf(2.0);
    assert_eq!(outer.backward(x * x, &[x])?, vec![4.0]);
    drop(outer);
    // Once it has ended, a new one starts.
    assert_eq!(
        gradient(&[3.0], |v| Ok::<_, TapeError>(v[0] * v[0]))?,
        (9.0, vec![6.0])
    );
    Ok(())
}

#[test]
fn variables_must_be_leaves() -> Result<(), TapeError> {
    let tape = Tape::start()?;
    let x = tape.leaf(2.0);
    let y = x * x;
    assert_eq!(
        tape.backward(y, &[x, y]),
        Err(TapeError::NotALeaf {
            position: 1,
            value: 4.0
        })
    );
    assert_eq!(
        tape.backward(y, &[Real::constant(1.0)]),
        Err(TapeError::NotALeaf {
            position: 0,
            value: 1.0
        })
    );
    Ok(())
}

#[test]
fn leaves_are_made_as_sites_appear() -> Result<(), TapeError> {
    // A model run that meets its latent sites one by one: each becomes a leaf when it appears.
    let tape = Tape::start()?;
    let mut leaves = Vec::new();
    let mut log_density = Real::constant(0.0);
    let mut previous = Real::constant(0.0);
    for (i, value) in [0.5, -1.0, 2.0].into_iter().enumerate() {
        let x = tape.leaf(value);
        leaves.push(x);
        // A random walk: x_i ~ Normal(x_{i-1}, 1), up to a constant.
        log_density -= 0.5 * (x - previous).powi(2);
        previous = x;
        assert_eq!(leaves.len(), i + 1);
    }
    // d/dx_i = -(x_i - x_{i-1}) + (x_{i+1} - x_i).
    let expected = vec![-0.5 + -1.5, 1.5 + 3.0, -3.0];
    assert_eq!(tape.backward(log_density, &leaves)?, expected);
    // A leaf made after the output has gradient 0; backward can be called again, for another
    // output, after recording more.
    let late = tape.leaf(7.0);
    assert_eq!(
        tape.backward(log_density, &[late, leaves[0]])?,
        vec![0.0, -2.0]
    );
    let more = log_density + late * leaves[2];
    assert_eq!(tape.backward(more, &[late])?, vec![2.0]);
    // A constant output has a zero gradient.
    assert_eq!(tape.backward(Real::constant(1.0), &leaves)?, vec![0.0; 3]);
    Ok(())
}

#[test]
fn backward_into_reuses_the_callers_buffer() -> Result<(), TapeError> {
    let mut grad = Vec::with_capacity(8);
    let address = grad.as_ptr();
    for x in [1.0, 2.0, 3.0] {
        let tape = Tape::start()?;
        let leaves = [tape.leaf(x), tape.leaf(1.0)];
        tape.backward_into(leaves[0] * leaves[0] * leaves[1], &leaves, &mut grad)?;
        assert_eq!(grad, vec![2.0 * x, x * x]);
        assert_eq!(grad.as_ptr(), address);
    }
    // On an error the buffer is left empty.
    let tape = Tape::start()?;
    let x = tape.leaf(1.0);
    assert!(tape.backward_into(x, &[x * 2.0], &mut grad).is_err());
    assert!(grad.is_empty());
    Ok(())
}

#[test]
fn record_makes_one_node_with_many_parents() -> Result<(), TapeError> {
    // The sum of squares of 100 leaves as one node: partials 2 x_i.
    let point: Vec<f64> = (0..100).map(|i| f64::from(i) / 10.0 - 5.0).collect();
    let (value, grad) = gradient(&point, |v| {
        let parents: Vec<(Real, f64)> = v.iter().map(|&x| (x, 2.0 * x.value())).collect();
        let sum = v.iter().map(|x| x.value() * x.value()).sum();
        Ok::<_, TapeError>(Real::record(sum, &parents))
    })?;
    assert_eq!(value, point.iter().map(|x| x * x).sum::<f64>());
    assert_eq!(grad, point.iter().map(|x| 2.0 * x).collect::<Vec<_>>());
    // A parent given twice counts twice; constant parents are skipped, their partials unread.
    let (_, grad) = gradient(&[1.0], |v| {
        let c = Real::constant(1.0);
        Ok::<_, TapeError>(Real::record(
            0.0,
            &[(v[0], 1.5), (c, f64::NAN), (v[0], 2.0)],
        ))
    })?;
    assert_eq!(grad, vec![3.5]);
    // All-constant parents (or none) make a constant.
    assert!(Real::record(1.0, &[(Real::constant(2.0), 1.0)]).is_constant());
    assert!(Real::record(1.0, &[]).is_constant());
    Ok(())
}

#[test]
fn record_keeps_two_parents_inline_and_more_out_of_line() -> Result<(), TapeError> {
    let c = Real::constant(1.0);
    let (value, grad) = gradient(&[1.0, 2.0, 3.0], |v| {
        let (x, y, z) = (v[0], v[1], v[2]);
        // Constants anywhere among the parents, their partials unread: two tracked parents
        // (inline), three and four (out of line), and nodes of each kind as parents of others.
        let two = Real::record(1.0, &[(c, f64::NAN), (x, 1.0), (c, f64::NAN), (y, 2.0)]);
        let three = Real::record(2.0, &[(x, 3.0), (c, f64::NAN), (y, 4.0), (z, 5.0)]);
        let four = Real::record(
            3.0,
            &[(z, 6.0), (x, 7.0), (c, f64::NAN), (z, 8.0), (y, 9.0)],
        );
        let top = Real::record(
            6.0,
            &[(two, 10.0), (three, 100.0), (four, 1000.0), (x, 0.5)],
        );
        Ok::<_, TapeError>(top + Real::record(0.0, &[(two, 1.0), (c, f64::NAN), (three, 1.0)]))
    })?;
    assert_eq!(value, 6.0);
    // d/dx = 10 + 300 + 7000 + 0.5 + 1 + 3, d/dy = 20 + 400 + 9000 + 2 + 4,
    // d/dz = 500 + 14000 + 5.
    assert_eq!(grad, vec![7314.5, 9426.0, 14505.0]);
    // A stale parent after the first two tracked ones is found too.
    let kept = kept_from_a_gradient(2.0);
    assert_stale(
        gradient(&[1.0, 2.0], |v| {
            Ok::<_, TapeError>(Real::record(
                0.0,
                &[(v[0], 1.0), (v[1], 1.0), (c, 1.0), (kept, 1.0)],
            ))
        }),
        4.0,
    );
    Ok(())
}

#[test]
fn errors_of_the_function_pass_through() {
    #[derive(Debug, PartialEq)]
    enum ModelError {
        Tape(TapeError),
        Site(&'static str),
    }
    impl From<TapeError> for ModelError {
        fn from(error: TapeError) -> Self {
            ModelError::Tape(error)
        }
    }
    let failing = gradient(&[1.0], |_| Err::<Real, _>(ModelError::Site("y")));
    assert_eq!(failing, Err(ModelError::Site("y")));
    let kept = kept_from_a_gradient(1.0);
    let stale = gradient(&[1.0], |v| Ok::<_, ModelError>(v[0] * kept));
    assert!(matches!(
        stale,
        Err(ModelError::Tape(TapeError::Stale { value: 2.0, .. }))
    ));
    // The tape is clean again afterwards.
    assert_eq!(
        gradient(&[1.0], |v| Ok::<_, ModelError>(v[0] * 5.0)),
        Ok((5.0, vec![5.0]))
    );
}

#[test]
fn a_panicking_function_ends_its_gradient() {
    let caught = std::panic::catch_unwind(|| {
        let _ = gradient(&[1.0], |_| -> Result<Real, TapeError> {
            panic!("model bug")
        });
    });
    assert!(caught.is_err());
    assert_eq!(
        gradient(&[2.0], |v| Ok::<_, TapeError>(v[0].powi(3))),
        Ok((8.0, vec![12.0]))
    );
}

#[test]
fn error_messages_say_what_and_where() {
    let kept = kept_from_a_gradient(1.25);
    let line = line!() + 1;
    let error = gradient(&[1.0], |v| Ok::<_, TapeError>(v[0] - kept)).unwrap_err();
    // The location is the subtraction's: this file, the line above, its column.
    let message = error.to_string();
    let (place, explanation) = message.split_once("; ").expect("two parts");
    let prefix = format!(
        "a Real from an earlier gradient (value 2.5) was used at {}:{line}:",
        file!()
    );
    assert!(place.starts_with(&prefix), "{message}");
    assert!(place[prefix.len()..].parse::<u32>().is_ok(), "{message}");
    assert_eq!(
        explanation,
        "a Real that depends on a gradient's variables is valid only while that gradient is taken"
    );
    assert_eq!(
        TapeError::Nested.to_string(),
        "cannot start a gradient while another one is being taken on this thread (nested \
         gradients are not supported)"
    );
    assert_eq!(
        TapeError::NotALeaf {
            position: 2,
            value: 0.5
        }
        .to_string(),
        "variable 2 (value 0.5) given to backward is not a leaf of this gradient's tape (make \
         variables with Tape::leaf)"
    );
    assert_eq!(
        TapeError::Full.to_string(),
        "the gradient tape is full: one gradient recorded more than 4294967295 nodes"
    );
    assert_eq!(
        TapeError::Exhausted.to_string(),
        "cannot start a gradient: this process has used up the ids of gradient nodes"
    );
    assert_eq!(
        TapeError::Unavailable.to_string(),
        "cannot take a gradient: this thread's tape is gone (the thread is exiting)"
    );
}

#[test]
fn a_gradient_while_the_thread_exits_works_or_is_unavailable() {
    // A thread-local whose destructor takes a gradient: run before the tape's buffers are freed,
    // it works; after, it is `TapeError::Unavailable`. Never a panic or a wrong number.
    struct Late(std::sync::mpsc::Sender<Result<(f64, Vec<f64>), TapeError>>);
    impl Drop for Late {
        fn drop(&mut self) {
            let result = gradient(&[3.0], |v| Ok::<_, TapeError>(v[0] * v[0]));
            let _ = self.0.send(result);
        }
    }
    thread_local! {
        static LATE: std::cell::RefCell<Option<Late>> = const { std::cell::RefCell::new(None) };
    }
    for late_first in [true, false] {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let set = || LATE.with(|late| *late.borrow_mut() = Some(Late(sender.clone())));
            // Thread-locals are destroyed in the reverse order of their first use, here.
            if late_first {
                set();
            }
            assert_eq!(
                gradient(&[1.0], |v| Ok::<_, TapeError>(v[0] * 2.0)),
                Ok((2.0, vec![2.0]))
            );
            if !late_first {
                set();
            }
        })
        .join()
        .expect("the thread exits cleanly");
        let result = receiver.recv().expect("the destructor ran");
        assert!(
            result == Ok((9.0, vec![6.0])) || result == Err(TapeError::Unavailable),
            "{result:?}"
        );
    }
}
