//! The lifecycle of one tool as an explicit state machine.
//!
//! * [`state`]: the one enum of states ([`Life`]), the record observers
//!   read through a `watch` channel, and the per-tool [`Tool`] that owns them;
//! * [`control`]: the typed command channel to a tool's supervising task,
//!   and the guard that turns a panic of that task into `Broken`;
//! * [`child`]: the traits the logic needs from a process (spawn, wait,
//!   signal, pid) and from a health check;
//! * [`deps`]: dependency waits (each dependency up before its dependent);
//! * [`machine`] and [`stopping`]: the logic itself (claim, readiness,
//!   restarts with backoff; stop escalation), generic over those traits,
//!   so the unit tests run it against a scripted mock child with no real
//!   process.

pub(crate) mod child;
pub(crate) mod control;
pub(crate) mod deps;
pub(crate) mod machine;
pub(crate) mod state;
pub(crate) mod stopping;

#[cfg(test)]
mod tests;

pub(crate) use child::{ChildProcess, Launcher, Remote, Signal};
pub(crate) use machine::{Claim, claim, launch_claimed, settle};
pub(crate) use state::{Life, Policy, Tool, is_up};
pub(crate) use stopping::{stop, stop_blocking};
