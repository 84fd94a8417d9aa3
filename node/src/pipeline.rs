//! `runPipeline`: the CLI's command strings, run in-process.

use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;

use crate::forge::DxForge;
use crate::promise::promise;

/// What a command produced. A command that ran but reports a problem (a Red
/// file, a tool exiting non-zero) has a non-zero `exitCode`; it is not an error.
#[napi(object)]
pub struct PipelineOutcome {
    /// Exit code the CLI would use (0, 3 for a Red file, or a tool's own code for `run`).
    pub exit_code: i32,
    /// Human-readable output.
    pub text: String,
    /// The same result as one JSON value (what `dxforge --json` prints).
    pub json: serde_json::Value,
}

impl From<dxforge::PipelineOutcome> for PipelineOutcome {
    fn from(o: dxforge::PipelineOutcome) -> Self {
        Self {
            exit_code: o.exit_code,
            text: o.text,
            json: o.json,
        }
    }
}

#[napi]
impl DxForge {
    /// Runs one command string as the `dxforge` CLI would, e.g. `'status'`,
    /// `'run lint -- --fix'` or `'add button@^1.2 --dry-run'`. `up` starts the
    /// tools and resolves (they keep running until `stop`/`close`). A malformed
    /// command rejects with code `USAGE`.
    #[napi]
    pub fn run_pipeline<'env>(
        &self,
        env: &'env Env,
        command: String,
    ) -> napi::Result<PromiseRaw<'env, PipelineOutcome>> {
        let forge = self.forge_owned();
        promise(
            env,
            async move { forge?.run_pipeline(&command).await },
            PipelineOutcome::from,
        )
    }
}
