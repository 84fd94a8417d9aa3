//! Traffic Branching calls: traffic lights, install (with dry run), install
//! all, update, remove, diff, and the per-file report.
//!
//! These calls do blocking file-system work on the calling thread. Every
//! mutating call applies its whole plan as one transaction; bad input
//! (invalid names or versions, unsafe paths) is refused before anything is
//! written.

use std::ffi::{CString, c_char, c_int, c_void};

use dxforge_core::Result;
use dxforge_core::TrafficLight;
use dxforge_core::dxforge_traffic::{
    FileAction, FileReport, InstallOptions, InstallReport, Recovery, RemoveReport,
};

use crate::convert::{c_string, check_options_version, opt_str_arg, out_arg, str_arg};
use crate::error::{guard, guard_value, invalid};
use crate::forge::{DxForge, forge_arg, forge_ref};

/// The traffic light of a file: what an upgrade would do to the user's copy.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dxforge_traffic_light {
    /// The file does not exist, already equals the new content, or is unmodified since install.
    Green = 0,
    /// The user modified the file and the new content merges cleanly.
    Yellow = 1,
    /// The changes conflict (or the file is binary): the user's file is kept, `<file>.new` is written.
    Red = 2,
}

fn light_of(light: TrafficLight) -> dxforge_traffic_light {
    match light {
        TrafficLight::Green => dxforge_traffic_light::Green,
        TrafficLight::Yellow => dxforge_traffic_light::Yellow,
        TrafficLight::Red => dxforge_traffic_light::Red,
    }
}

/// What `dxforge_recover_traffic` found.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dxforge_recovery {
    /// No interrupted install.
    Clean = 0,
    /// An install killed before its commit point was undone: the old state is back.
    RolledBack = 1,
    /// An install killed after its commit point was completed: the new state is in place.
    RolledForward = 2,
}

/// What an operation does (or, in a dry run, would do) to one file.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum dxforge_file_action {
    /// Nothing to write: the file already has the right content (or is already gone).
    None = 0,
    /// The file did not exist and is written.
    Create = 1,
    /// The file is replaced by the new (or merged) content.
    Write = 2,
    /// The user's file is left untouched; upstream content goes to `<file>.new`.
    WriteNew = 3,
    /// The file is deleted (it was unmodified since install).
    Delete = 4,
    /// The file is kept because the user modified it; dxforge stops tracking it.
    Keep = 5,
}

fn action_of(action: FileAction) -> dxforge_file_action {
    match action {
        FileAction::None => dxforge_file_action::None,
        FileAction::Create => dxforge_file_action::Create,
        FileAction::Write => dxforge_file_action::Write,
        FileAction::WriteNew => dxforge_file_action::WriteNew,
        FileAction::Delete => dxforge_file_action::Delete,
        FileAction::Keep => dxforge_file_action::Keep,
    }
}

/// The verdict for one file of a `dxforge_traffic_report`. Read-only; it
/// belongs to its report and is valid until the report is freed.
#[repr(C)]
pub struct dxforge_file_report {
    /// Project-relative path, `/`-separated.
    pub path: *const c_char,
    /// The package shipping (or that shipped) the file; `""` when none.
    pub package: *const c_char,
    /// The light.
    pub light: dxforge_traffic_light,
    /// Why, in a few words.
    pub reason: *const c_char,
    /// What is (or would be) done to the file.
    pub action: dxforge_file_action,
    /// Number of conflicting regions (Red after a conflicting merge); the
    /// regions themselves are in the report's JSON.
    pub conflict_count: usize,
    /// Where upstream content goes for a Red file (`WRITE_NEW`):
    /// `<path>.new`, or `<path>.new.1`, … when that name is taken; NULL
    /// for every other action.
    pub side_file: *const c_char,
}

/// The result of a Traffic Branching operation (opaque): per-file verdicts,
/// the packages involved, and the whole report as JSON. Read it with the
/// `dxforge_traffic_report_*` accessors; free it with `dxforge_traffic_report_free`.
pub struct dxforge_traffic_report {
    dry_run: bool,
    files: Vec<dxforge_file_report>,
    packages: Vec<(CString, CString)>,
    json: CString,
    /// Storage of the strings `files` points into.
    _strings: Vec<CString>,
}

impl dxforge_traffic_report {
    fn build(
        dry_run: bool,
        files: &[FileReport],
        packages: Vec<(String, String)>,
        json: String,
    ) -> Box<Self> {
        let mut strings = Vec::with_capacity(files.len() * 3);
        let mut entries = Vec::with_capacity(files.len());
        for f in files {
            let (path, package, reason) = (
                c_string(f.path.as_str()),
                c_string(f.package.as_str()),
                c_string(f.reason.as_str()),
            );
            let side_file = f.side_file.as_deref().map(c_string);
            entries.push(dxforge_file_report {
                path: path.as_ptr(),
                package: package.as_ptr(),
                light: light_of(f.light),
                reason: reason.as_ptr(),
                action: action_of(f.action),
                conflict_count: f.conflicts.len(),
                side_file: side_file.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            });
            // Moving a CString keeps its heap buffer where it is.
            strings.extend([path, package, reason]);
            strings.extend(side_file);
        }
        Box::new(Self {
            dry_run,
            files: entries,
            packages: packages
                .into_iter()
                .map(|(n, v)| (c_string(n), c_string(v)))
                .collect(),
            json: c_string(json),
            _strings: strings,
        })
    }

    fn from_install(report: &InstallReport) -> Result<Box<Self>> {
        let packages = report
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        Ok(Self::build(
            report.dry_run,
            &report.files,
            packages,
            crate::json::to_string(report)?,
        ))
    }

    fn from_remove(report: &RemoveReport) -> Result<Box<Self>> {
        let packages = vec![(report.package.clone(), report.version.clone())];
        Ok(Self::build(
            report.dry_run,
            &report.files,
            packages,
            crate::json::to_string(report)?,
        ))
    }

    fn from_file(report: &FileReport) -> Result<Box<Self>> {
        Ok(Self::build(
            true,
            std::slice::from_ref(report),
            Vec::new(),
            crate::json::to_string(report)?,
        ))
    }
}

/// The current version of `dxforge_install_options`.
pub const DXFORGE_INSTALL_OPTIONS_VERSION: u32 = 1;

/// Options of the mutating Traffic Branching calls. Initialise with
/// `dxforge_install_options_init(&opts, DXFORGE_INSTALL_OPTIONS_VERSION)`;
/// passing NULL instead of options means the defaults.
#[repr(C)]
pub struct dxforge_install_options {
    /// Must be `DXFORGE_INSTALL_OPTIONS_VERSION`.
    pub version: u32,
    /// Compute and return the plan without writing anything.
    pub dry_run: bool,
}

/// Fills `opts` with the defaults for `version` (`dry_run` false).
/// Errors: `DXFORGE_ERROR_INVALID_ARGUMENT` when `opts` is NULL or `version` is unknown.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_install_options_init(
    opts: *mut dxforge_install_options,
    version: u32,
) -> c_int {
    guard(|| {
        if opts.is_null() {
            return Err(invalid("opts", "is NULL"));
        }
        check_install_version(version)?;
        // SAFETY: non-NULL and writable per the documented contract.
        unsafe {
            opts.write(dxforge_install_options {
                version,
                dry_run: false,
            })
        };
        Ok(())
    })
}

fn check_install_version(version: u32) -> Result<()> {
    check_options_version(
        version,
        DXFORGE_INSTALL_OPTIONS_VERSION,
        "DXFORGE_INSTALL_OPTIONS_VERSION",
    )
}

/// The install options behind `opts` (NULL: the defaults).
///
/// # Safety
/// `opts` is NULL or points to a readable `dxforge_install_options`.
unsafe fn install_options(opts: *const dxforge_install_options) -> Result<InstallOptions> {
    // SAFETY: NULL or readable per the documented contract.
    let Some(o) = (unsafe { opts.as_ref() }) else {
        return Ok(InstallOptions::default());
    };
    check_install_version(o.version)?;
    Ok(InstallOptions {
        dry_run: o.dry_run,
        ..Default::default()
    })
}

/// `content_len` bytes at `content` (NULL allowed when the length is 0).
///
/// # Safety
/// `content` is NULL or readable for `len` bytes.
unsafe fn bytes_arg<'a>(content: *const c_void, len: usize, name: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if content.is_null() {
        return Err(invalid(name, format!("is NULL but its length is {len}")));
    }
    // SAFETY: `len` readable bytes per the documented contract.
    Ok(unsafe { std::slice::from_raw_parts(content.cast::<u8>(), len) })
}

fn report_out(
    out: &mut *mut dxforge_traffic_report,
    report: Result<Box<dxforge_traffic_report>>,
) -> Result<()> {
    *out = Box::into_raw(report?);
    Ok(())
}

/// The seed's query: the traffic light of replacing `path` (project-relative,
/// or absolute inside the root) with the `content_len` bytes at `content`.
/// Reads only; writes nothing.
/// Errors: `DXFORGE_ERROR_UNSAFE_PATH` (path outside the root),
/// `DXFORGE_ERROR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_analyze_traffic_safety(
    forge: Option<&DxForge>,
    path: *const c_char,
    content: *const c_void,
    content_len: usize,
    out_light: *mut dxforge_traffic_light,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out_light` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out_light, "out_light", dxforge_traffic_light::Green) }?;
        let forge = forge_ref(forge)?;
        // SAFETY: per the header's contract, `path` is NULL or a NUL-terminated string and
        // `content` is NULL or readable for `content_len` bytes, each valid for this call; the
        // helpers check for NULL (and counts) first.
        let (path, content) = unsafe {
            (
                str_arg(path, "path")?,
                bytes_arg(content, content_len, "content")?,
            )
        };
        *out = light_of(forge.inner.analyze_traffic_safety(path, content)?);
        Ok(())
    })
}

/// The full verdict for replacing `path` with `content`: a report with one
/// file (light, reason, conflicting regions in the JSON). Reads only.
/// On success `*out` is owned by the caller: free it with `dxforge_traffic_report_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_check_file(
    forge: Option<&DxForge>,
    path: *const c_char,
    content: *const c_void,
    content_len: usize,
    out: *mut *mut dxforge_traffic_report,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out, "out", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        // SAFETY: per the header's contract, `path` is NULL or a NUL-terminated string and
        // `content` is NULL or readable for `content_len` bytes, each valid for this call; the
        // helpers check for NULL (and counts) first.
        let (path, content) = unsafe {
            (
                str_arg(path, "path")?,
                bytes_arg(content, content_len, "content")?,
            )
        };
        report_out(
            out,
            dxforge_traffic_report::from_file(&forge.inner.check(path, content)?),
        )
    })
}

/// Installs package `name` at the highest version matching `version_req`
/// (NULL or `""` = any) with its dependencies, and records it in
/// `[dependencies]` of `dxforge.toml`. With `opts->dry_run`, returns the plan
/// and writes nothing. `opts` may be NULL (defaults).
/// On success `*out` is owned by the caller: free it with `dxforge_traffic_report_free`.
/// Errors: `DXFORGE_ERROR_NOT_FOUND` (package), `DXFORGE_ERROR_INVALID_ARGUMENT`
/// (name or version), `DXFORGE_ERROR_DEPENDENCY`, `DXFORGE_ERROR_UNSAFE_PATH`,
/// `DXFORGE_ERROR_BUSY`, `DXFORGE_ERROR_CONFIG` (no registry).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_install_package(
    forge: *mut DxForge,
    name: *const c_char,
    version_req: *const c_char,
    opts: *const dxforge_install_options,
    out: *mut *mut dxforge_traffic_report,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, `forge` is NULL or a live
        // handle and `name` is NULL or a NUL-terminated string, each valid for this call; the
        // helpers check for NULL first.
        let (out, forge, name) = unsafe {
            (
                out_arg(out, "out", std::ptr::null_mut())?,
                forge_arg(forge)?,
                str_arg(name, "name")?,
            )
        };
        // SAFETY: per the header's contract, `version_req` is NULL or a NUL-terminated string,
        // valid for this call.
        let req = unsafe { opt_str_arg(version_req, "version_req") }?.unwrap_or("");
        // SAFETY: per the header's contract, `opts` is NULL or a readable
        // `dxforge_install_options`, valid for this call; `install_options` checks for NULL.
        let opts = unsafe { install_options(opts) }?;
        report_out(
            out,
            dxforge_traffic_report::from_install(&forge.inner.install_package(name, req, &opts)?),
        )
    })
}

/// Installs every package of `[dependencies]` in `dxforge.toml`. `opts` may
/// be NULL. On success `*out` is owned by the caller (`dxforge_traffic_report_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_install_all_dependencies(
    forge: *mut DxForge,
    opts: *const dxforge_install_options,
    out: *mut *mut dxforge_traffic_report,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, `forge` is NULL or a live
        // handle and `opts` is NULL or a readable `dxforge_install_options`, each valid for this
        // call; the helpers check for NULL first.
        let (out, forge, opts) = unsafe {
            (
                out_arg(out, "out", std::ptr::null_mut())?,
                forge_arg(forge)?,
                install_options(opts)?,
            )
        };
        report_out(
            out,
            dxforge_traffic_report::from_install(&forge.inner.install_all_dependencies(&opts)?),
        )
    })
}

/// Upgrades package `name` (NULL = every package) to the newest versions
/// `[dependencies]` allows, merging the user's edits. `opts` may be NULL.
/// On success `*out` is owned by the caller (`dxforge_traffic_report_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_update(
    forge: *mut DxForge,
    name: *const c_char,
    opts: *const dxforge_install_options,
    out: *mut *mut dxforge_traffic_report,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, `forge` is NULL or a live
        // handle, `name` is NULL or a NUL-terminated string and `opts` is NULL or a readable
        // `dxforge_install_options`, each valid for this call; the helpers check for NULL first.
        let (out, forge, name, opts) = unsafe {
            (
                out_arg(out, "out", std::ptr::null_mut())?,
                forge_arg(forge)?,
                opt_str_arg(name, "name")?,
                install_options(opts)?,
            )
        };
        report_out(
            out,
            dxforge_traffic_report::from_install(&forge.inner.update(name, &opts)?),
        )
    })
}

/// Removes package `name`: files unmodified since install are deleted, files
/// the user modified are kept (action `KEEP`) and reported. `opts` may be NULL.
/// On success `*out` is owned by the caller (`dxforge_traffic_report_free`).
/// Errors: `DXFORGE_ERROR_NOT_FOUND` when the package is not installed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_remove_package(
    forge: *mut DxForge,
    name: *const c_char,
    opts: *const dxforge_install_options,
    out: *mut *mut dxforge_traffic_report,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, `forge` is NULL or a live
        // handle, `name` is NULL or a NUL-terminated string and `opts` is NULL or a readable
        // `dxforge_install_options`, each valid for this call; the helpers check for NULL first.
        let (out, forge, name, opts) = unsafe {
            (
                out_arg(out, "out", std::ptr::null_mut())?,
                forge_arg(forge)?,
                str_arg(name, "name")?,
                install_options(opts)?,
            )
        };
        report_out(
            out,
            dxforge_traffic_report::from_remove(&forge.inner.remove_package(name, &opts)?),
        )
    })
}

/// Finishes or undoes an install that a killed process left half-done
/// (opening a handle does this too; this call is for a handle that stays open
/// while another process may have died installing). `*out` receives what was
/// found. Errors: `DXFORGE_ERROR_BUSY` while another process installs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_recover_traffic(
    forge: *mut DxForge,
    out: *mut dxforge_recovery,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable and `forge` is NULL or a
        // live handle, each valid for this call; the helpers check for NULL first.
        let (out, forge) = unsafe {
            (
                out_arg(out, "out", dxforge_recovery::Clean)?,
                forge_arg(forge)?,
            )
        };
        *out = match forge.inner.recover_traffic()? {
            Recovery::Clean => dxforge_recovery::Clean,
            Recovery::RolledBack => dxforge_recovery::RolledBack,
            Recovery::RolledForward => dxforge_recovery::RolledForward,
        };
        Ok(())
    })
}

/// The plan `dxforge_update` would apply to `name` (NULL = every package);
/// writes nothing. On success `*out` is owned by the caller (`dxforge_traffic_report_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_diff(
    forge: Option<&DxForge>,
    name: *const c_char,
    out: *mut *mut dxforge_traffic_report,
) -> c_int {
    guard(|| {
        // SAFETY: per the header's contract, `out` is NULL or writable, valid for this call;
        // `out_arg` checks for NULL.
        let out = unsafe { out_arg(out, "out", std::ptr::null_mut()) }?;
        let forge = forge_ref(forge)?;
        // SAFETY: per the header's contract, `name` is NULL or a NUL-terminated string, valid for
        // this call; `opt_str_arg` checks for NULL.
        let name = unsafe { opt_str_arg(name, "name") }?;
        report_out(
            out,
            dxforge_traffic_report::from_install(&forge.inner.diff(name)?),
        )
    })
}

/// Whether the report is a plan only (dry run, diff, check): nothing was written.
/// `false` for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_traffic_report_dry_run(
    report: *const dxforge_traffic_report,
) -> bool {
    guard_value(false, || {
        // SAFETY: per the header's contract, `report` is NULL or a live one this library returned.
        unsafe { report.as_ref() }.is_some_and(|r| r.dry_run)
    })
}

/// Whether any file of the report ended Red (the CLI exits with 3 then).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_traffic_report_has_red(
    report: *const dxforge_traffic_report,
) -> bool {
    guard_value(false, || {
        // SAFETY: as above.
        unsafe { report.as_ref() }.is_some_and(|r| {
            r.files
                .iter()
                .any(|f| f.light == dxforge_traffic_light::Red)
        })
    })
}

/// Number of files in the report (0 for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_traffic_report_file_count(
    report: *const dxforge_traffic_report,
) -> usize {
    guard_value(0, || {
        // SAFETY: per the header's contract, `report` is NULL or a live one this library returned.
        unsafe { report.as_ref() }.map_or(0, |r| r.files.len())
    })
}

/// File `index` of the report, or NULL when out of range.
///
/// Ownership: borrowed from `report`; valid until it is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_traffic_report_file(
    report: *const dxforge_traffic_report,
    index: usize,
) -> *const dxforge_file_report {
    guard_value(std::ptr::null(), || {
        // SAFETY: as above.
        unsafe { report.as_ref() }
            .and_then(|r| r.files.get(index))
            .map_or(std::ptr::null(), |f| f as *const _)
    })
}

/// Number of packages the operation installed, upgraded or removed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_traffic_report_package_count(
    report: *const dxforge_traffic_report,
) -> usize {
    guard_value(0, || {
        // SAFETY: per the header's contract, `report` is NULL or a live one this library returned.
        unsafe { report.as_ref() }.map_or(0, |r| r.packages.len())
    })
}

/// Name of package `index`, or NULL when out of range. Borrowed from `report`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_traffic_report_package_name(
    report: *const dxforge_traffic_report,
    index: usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: as above.
        unsafe { report.as_ref() }
            .and_then(|r| r.packages.get(index))
            .map_or(std::ptr::null(), |p| p.0.as_ptr())
    })
}

/// Version of package `index` (the one installed, or removed), or NULL when
/// out of range. Borrowed from `report`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_traffic_report_package_version(
    report: *const dxforge_traffic_report,
    index: usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: as above.
        unsafe { report.as_ref() }
            .and_then(|r| r.packages.get(index))
            .map_or(std::ptr::null(), |p| p.1.as_ptr())
    })
}

/// The whole report as JSON (what the CLI prints with `--json`, including
/// conflict regions and previous versions). Borrowed from `report`; NULL for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_traffic_report_json(
    report: *const dxforge_traffic_report,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        // SAFETY: per the header's contract, `report` is NULL or a live one this library returned.
        unsafe { report.as_ref() }.map_or(std::ptr::null(), |r| r.json.as_ptr())
    })
}

/// Frees a report. NULL is a no-op.
///
/// Ownership: takes ownership of `report` and of everything borrowed from it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dxforge_traffic_report_free(report: *mut dxforge_traffic_report) {
    if !report.is_null() {
        // SAFETY: from `Box::into_raw` in `report_out`.
        guard_value((), || drop(unsafe { Box::from_raw(report) }));
    }
}

/// The upper-case name of a light (`"GREEN"`, `"YELLOW"`, `"RED"`), as the CLI
/// prints it; `"UNKNOWN"` otherwise. A static string.
#[unsafe(no_mangle)]
pub extern "C" fn dxforge_traffic_light_name(light: c_int) -> *const c_char {
    let name: &str = match light {
        0 => "GREEN\0",
        1 => "YELLOW\0",
        2 => "RED\0",
        _ => "UNKNOWN\0",
    };
    name.as_ptr().cast()
}
