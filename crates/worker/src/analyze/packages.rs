//! The registry and lock-file facts the analysis needs, and combining them with the
//! references found in the code.

use std::collections::{BTreeMap, BTreeSet};

use super::{MAX_LISTED_REFERENCES, ModifiedFile, PackageAnalysis, PackageUsage, Reference};

/// What the package manager knows, gathered before the walk.
#[derive(Debug, Clone, Default)]
pub(crate) struct PackageFacts {
    /// Each registry package with `detect` patterns: (name, patterns).
    pub(crate) detect: Vec<(String, Vec<String>)>,
    /// Installed packages from `dxforge.lock`: name -> version.
    pub(crate) installed: BTreeMap<String, String>,
    /// Installed files the user edited: (package, path).
    pub(crate) modified: Vec<(String, String)>,
}

impl PackageFacts {
    pub(crate) fn into_analysis(
        self,
        mut found: BTreeMap<String, Vec<Reference>>,
    ) -> PackageAnalysis {
        let names: BTreeSet<String> = self
            .detect
            .iter()
            .map(|(n, _)| n.clone())
            .chain(self.installed.keys().cloned())
            .collect();
        let with_patterns: BTreeSet<&str> = self.detect.iter().map(|(n, _)| n.as_str()).collect();
        let mut packages = Vec::new();
        let mut referenced_not_installed = Vec::new();
        let mut installed_not_referenced = Vec::new();
        for name in names {
            let mut refs = found.remove(&name).unwrap_or_default();
            refs.sort();
            let installed_version = self.installed.get(&name).cloned();
            match (refs.is_empty(), installed_version.is_some()) {
                (false, false) => referenced_not_installed.push(name.clone()),
                // Without patterns there is nothing to look for, so no verdict.
                (true, true) if with_patterns.contains(name.as_str()) => {
                    installed_not_referenced.push(name.clone())
                }
                _ => {}
            }
            let reference_count = refs.len() as u64;
            refs.truncate(MAX_LISTED_REFERENCES);
            packages.push(PackageUsage {
                name,
                installed_version,
                reference_count,
                references: refs,
            });
        }
        let mut modified_files: Vec<ModifiedFile> = self
            .modified
            .into_iter()
            .map(|(package, path)| ModifiedFile { package, path })
            .collect();
        modified_files.sort_by(|a, b| (&a.path, &a.package).cmp(&(&b.path, &b.package)));
        PackageAnalysis {
            packages,
            referenced_not_installed,
            installed_not_referenced,
            modified_files,
        }
    }
}
