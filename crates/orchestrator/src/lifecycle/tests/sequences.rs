//! Random sequences of starts, stops and exits.

use super::*;

/// One step of [`any_sequence_keeps_at_most_one_live_process_and_a_consistent_state`].
#[derive(Debug, Clone, Copy)]
enum Op {
    Start,
    Stop,
    /// The live process (if any) exits with this code.
    Exit(i32),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Op::Start),
        Just(Op::Stop),
        Just(Op::Exit(0)),
        Just(Op::Exit(1)),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(64))]
    #[test]
    fn any_sequence_keeps_at_most_one_live_process_and_a_consistent_state(
        ops in proptest::collection::vec(op(), 1..16)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (tool, _) = tool(Policy { restart: RestartPolicy::OnFailure, max_restarts: 2, ..policy() });
            let launcher = MockLauncher::new(&[RUNS]);
            for op in ops {
                let mut ended = None;
                match op {
                    Op::Start => { start(&tool, &launcher).await.unwrap(); }
                    Op::Stop => stop_tool(&tool).await.unwrap(),
                    Op::Exit(code) => {
                        let live = launcher.spawned.lock().unwrap().iter().enumerate()
                            .find(|(_, r)| r.exited.borrow().is_none())
                            .map(|(i, r)| (1001 + i as u32, r.clone()));
                        if let Some((pid, live)) = live {
                            live.exit(ExitStatus::Code(code));
                            ended = Some(pid);
                        }
                    }
                }
                // Let the supervision see the exit and settle (restarts included).
                let rec = tool
                    .wait_for(|r| {
                        (r.life.is_up() || r.life.is_idle()) && (ended.is_none() || r.life.pid() != ended)
                    })
                    .await;
                let live: Vec<u32> = launcher.spawned.lock().unwrap().iter().enumerate()
                    .filter(|(_, r)| r.exited.borrow().is_none())
                    .map(|(i, _)| 1001 + i as u32)
                    .collect();
                assert!(live.len() <= 1, "two live processes: {live:?}");
                match rec.life {
                    Life::Running { pid } => assert_eq!(live, vec![pid]),
                    ref life => {
                        assert!(life.is_idle(), "{life:?}");
                        assert!(live.is_empty(), "{life:?} with live {live:?}");
                        assert_eq!(rec.pid, None);
                    }
                }
                assert!(rec.restarts <= 2);
                assert_eq!(tool.status(), rec.life.status());
            }
        });
    }
}
