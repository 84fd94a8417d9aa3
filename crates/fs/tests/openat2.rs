//! Confinement through the kernel's openat2 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS).

mod cases;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {

            cases::$name();
        }
    )*};
}

cases!(
    write_creates_parents_and_replaces,
    reserved_names_are_out_of_reach_at_any_depth,
    non_plain_paths_are_refused,
    a_link_inside_the_project_into_git_is_not_followed,
    a_link_out_of_the_project_is_not_followed,
    a_link_at_the_target_is_replaced_not_written_through,
    reads_are_bounded,
    a_fifo_is_refused_without_blocking,
    temp_files_are_unique_and_removed_on_drop,
    sweep_removes_temps_but_not_through_links,
    state_root_is_reached_only_as_a_subroot_and_never_through_a_link,
    the_project_lock_excludes_and_names_its_holder,
    rename_and_remove_stay_beneath_the_root,
);
