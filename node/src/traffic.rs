//! `DxForge` methods of Traffic Branching: convert and delegate.
//!
//! Every method does file-system work, so each returns a Promise and runs on
//! the core runtime's blocking pool. Package operations are transactions in
//! the core: a failed or killed install leaves the old state.

use napi::Env;
use napi::bindgen_prelude::{Buffer, Either, PromiseRaw};
use napi_derive::napi;

use crate::forge::DxForge;
use crate::promise::promise_blocking;
use crate::traffic_types::{
    FileReport, InstallOptions, InstallReport, Recovery, RemoveReport, TrafficLight,
    install_options,
};

/// New content given as text (UTF-8) or bytes.
fn content(c: Either<String, Buffer>) -> Vec<u8> {
    match c {
        Either::A(text) => text.into_bytes(),
        Either::B(bytes) => bytes.to_vec(),
    }
}

#[napi]
impl DxForge {
    /// The seed's query: the traffic light of replacing `path` (project-relative,
    /// or absolute inside the root) with `newContent`. Reads only.
    #[napi]
    pub fn analyze_traffic_safety<'env>(
        &self,
        env: &'env Env,
        path: String,
        new_content: Either<String, Buffer>,
    ) -> napi::Result<PromiseRaw<'env, TrafficLight>> {
        let forge = self.forge_owned();
        let bytes = content(new_content);
        promise_blocking(
            env,
            move || forge?.analyze_traffic_safety(&path, &bytes),
            TrafficLight::from,
        )
    }

    /// Full verdict (light, reason, conflicting regions) of replacing `path`
    /// with `newContent`. Reads only.
    #[napi]
    pub fn check<'env>(
        &self,
        env: &'env Env,
        path: String,
        new_content: Either<String, Buffer>,
    ) -> napi::Result<PromiseRaw<'env, FileReport>> {
        let forge = self.forge_owned();
        let bytes = content(new_content);
        promise_blocking(env, move || forge?.check(&path, &bytes), FileReport::from)
    }

    /// Installs `name` at the highest version matching `versionReq` (default:
    /// any) with its dependencies, and records it in `[dependencies]`. With
    /// `{ dryRun: true }` resolves with the plan and writes nothing. Red files
    /// keep the user's content; upstream goes to `<file>.new`.
    #[napi]
    pub fn install_package<'env>(
        &self,
        env: &'env Env,
        name: String,
        version_req: Option<String>,
        options: Option<InstallOptions>,
    ) -> napi::Result<PromiseRaw<'env, InstallReport>> {
        let forge = self.forge_owned();
        let req = version_req.unwrap_or_default();
        promise_blocking(
            env,
            move || forge?.install_package(&name, &req, &install_options(options)),
            InstallReport::from,
        )
    }

    /// Installs every package of `dxforge.toml`'s `[dependencies]`.
    #[napi]
    pub fn install_all_dependencies<'env>(
        &self,
        env: &'env Env,
        options: Option<InstallOptions>,
    ) -> napi::Result<PromiseRaw<'env, InstallReport>> {
        let forge = self.forge_owned();
        promise_blocking(
            env,
            move || forge?.install_all_dependencies(&install_options(options)),
            InstallReport::from,
        )
    }

    /// Upgrades `name` (or every package) to the newest versions `[dependencies]` allows.
    #[napi]
    pub fn update<'env>(
        &self,
        env: &'env Env,
        name: Option<String>,
        options: Option<InstallOptions>,
    ) -> napi::Result<PromiseRaw<'env, InstallReport>> {
        let forge = self.forge_owned();
        promise_blocking(
            env,
            move || forge?.update(name.as_deref(), &install_options(options)),
            InstallReport::from,
        )
    }

    /// Removes a package: unmodified files are deleted, files the user
    /// modified are kept (action `keep`) and reported.
    #[napi]
    pub fn remove_package<'env>(
        &self,
        env: &'env Env,
        name: String,
        options: Option<InstallOptions>,
    ) -> napi::Result<PromiseRaw<'env, RemoveReport>> {
        let forge = self.forge_owned();
        promise_blocking(
            env,
            move || forge?.remove_package(&name, &install_options(options)),
            RemoveReport::from,
        )
    }

    /// The plan `update(name)` would apply; writes nothing.
    #[napi]
    pub fn diff<'env>(
        &self,
        env: &'env Env,
        name: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, InstallReport>> {
        let forge = self.forge_owned();
        promise_blocking(
            env,
            move || forge?.diff(name.as_deref()),
            InstallReport::from,
        )
    }

    /// Finishes or undoes an install that a killed process left half-done
    /// (every package operation also does this first).
    #[napi]
    pub fn recover_traffic<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Recovery>> {
        let forge = self.forge_owned();
        promise_blocking(env, move || forge?.recover_traffic(), Recovery::from)
    }
}
