//! Doc-tests that are not documentation of an item: the README's examples,
//! and the guards that must not be dropped at once. Compiled only by
//! `cargo test --doc`.

/// The README's Rust examples, compiled as they are written (`no_run`: they
/// write files and bind ports).
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExamples;

/// A guard dropped at once stops what it guards: each is `#[must_use]`, so
/// that `deny(unused_must_use)` rejects these statements...
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// fn main() -> Result<(), rustprof::cpu::CpuError> {
///     rustprof::cpu::start(rustprof::cpu::CpuOptions::default())?; // the profile would stop here
///     Ok(())
/// }
/// ```
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// fn main() {
///     rustprof::labels::scope(&[("endpoint", "login")]); // the labels would be unset here
/// }
/// ```
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// fn main() {
///     rustprof::sync::BlockEvent::start(); // never recorded
/// }
/// ```
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// fn main() {
///     let m = rustprof::sync::Mutex::new(0);
///     m.lock().unwrap(); // unlocked at once
/// }
/// ```
///
/// ...while the same code keeping the guards compiles (so the failures above
/// are the lint's, not typos):
///
/// ```no_run
/// #![deny(unused_must_use)]
/// fn main() -> Result<(), rustprof::cpu::CpuError> {
///     let profile = rustprof::cpu::start(rustprof::cpu::CpuOptions::default())?;
///     let _labels = rustprof::labels::scope(&[("endpoint", "login")]);
///     let event = rustprof::sync::BlockEvent::start();
///     event.finish();
///     let m = rustprof::sync::Mutex::new(0);
///     let _held = m.lock().unwrap();
///     drop(profile.stop()?);
///     Ok(())
/// }
/// ```
pub struct MustUseGuards;
