//! The seed's properties 6 and 7 as proptest properties on real files.

use crate::common;

use common::{TestProject, TestRegistry};
use dxforge_traffic::{InstallOptions, TrafficLight, TrafficManager};
use proptest::prelude::*;

/// What exists at the path before the check/install.
#[derive(Debug, Clone)]
enum Existing {
    Missing,
    SameAsNew,
    Different(Vec<u8>),
}

fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        "[a-c\n]{0,60}".prop_map(String::into_bytes),
    ]
}

fn existing() -> impl Strategy<Value = Existing> {
    prop_oneof![
        Just(Existing::Missing),
        Just(Existing::SameAsNew),
        content().prop_map(Existing::Different),
    ]
}

fn path() -> impl Strategy<Value = String> {
    "[a-z]{1,6}(/[a-zé]{1,6}){0,2}\\.(ts|css|bin)"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Feature: binary-dawn, Property 6: Traffic Safety Analysis
    #[test]
    fn traffic_safety_analysis(rel in path(), new in content(), before in existing(), installed in any::<bool>()) {
        let registry = TestRegistry::new();
        // Optionally the file was installed by dxforge earlier (a base is recorded).
        registry.add("pkg", "1.0.0", &[], &[(rel.as_str(), b"pristine base\n")]);
        let p = TestProject::new(registry.path());
        if installed {
            p.install("pkg", "=1.0.0");
        }
        match &before {
            Existing::Missing => { let _ = std::fs::remove_file(p.root().join(&rel)); }
            Existing::SameAsNew => p.write(&rel, &new),
            Existing::Different(c) => p.write(&rel, c),
        }
        let current = p.read(&rel);
        let light = p.manager().analyze_traffic_safety(rel.as_ref(), &new).unwrap();
        match current {
            None => prop_assert_eq!(light, TrafficLight::Green),
            Some(c) if c == new => prop_assert_eq!(light, TrafficLight::Green),
            Some(_) => prop_assert!(matches!(light, TrafficLight::Yellow | TrafficLight::Red), "{light:?}"),
        }
        // The query is read-only.
        prop_assert_eq!(p.read(&rel), match &before {
            Existing::Missing => None,
            Existing::SameAsNew => Some(new.clone()),
            Existing::Different(c) => Some(c.clone()),
        });
    }

    /// Feature: binary-dawn, Property 7: Green Signal Injection
    #[test]
    fn green_signal_injection(rel in path(), old in content(), new in content(), before in existing(), installed in any::<bool>()) {
        let registry = TestRegistry::new();
        registry.add("pkg", "1.0.0", &[], &[(rel.as_str(), old.as_slice())]);
        registry.add("pkg", "2.0.0", &[], &[(rel.as_str(), new.as_slice())]);
        let p = TestProject::new(registry.path());
        if installed {
            p.install("pkg", "=1.0.0");
        }
        match &before {
            Existing::Missing => { let _ = std::fs::remove_file(p.root().join(&rel)); }
            Existing::SameAsNew => p.write(&rel, &new),
            Existing::Different(c) => p.write(&rel, c),
        }
        let m = TrafficManager::new(p.root().to_path_buf(), Some(registry.path()));
        let predicted = m.analyze_traffic_safety(rel.as_ref(), &new).unwrap();
        let report = m.install_package("pkg", "=2.0.0", &InstallOptions::default()).unwrap();
        let file = common::entry(&report.files, &rel);
        prop_assert_eq!(file.light, predicted, "check and install agree");
        if file.light == TrafficLight::Green {
            prop_assert_eq!(p.read(&rel), Some(new.clone()));
        }
        if file.light == TrafficLight::Red {
            let new_path = format!("{rel}.new");
            prop_assert_eq!(p.read(&new_path), Some(new.clone()));
        }
    }
}
