//! The harness of this binary (`harness = false` in Cargo.toml): libtest's
//! command line and output, through libtest-mimic, for tests that may find at
//! run time that this machine cannot run them. libtest decides `#[ignore]`
//! when it compiles, but the database is chosen when the tests run
//! (TEST_DATABASE_URL), and Chromium or promtool may be missing: such a test
//! is reported "ignored" with its reason, never "ok" without having run.
//!
//! Each module lists its tests at its end with `crate::tests![...]`, each
//! with what it needs, if anything; `main` gathers the lists. A test is a
//! function written `fn name() {` at the start of a line, and before anything
//! runs the harness reads the modules' sources and refuses to start when one
//! of them is missing from its module's list, or when a `#[test]` attribute is
//! left (this binary is not built with `--test`, so the compiler drops the
//! function it marks without a word).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use libtest_mimic::{Arguments, Completion, FormatSetting, Trial};

/// Lists a module's tests for the harness, each as `name` or `name: needs`
/// (a [`Needs`]): `crate::tests![first_test, second_test: Needs::Postgres]`.
#[macro_export]
macro_rules! tests {
    ($($test:ident $(: $needs:expr)?),* $(,)?) => {
        /// This module's tests, for the harness (`harness.rs`).
        pub fn tests() -> Vec<$crate::harness::Test> {
            vec![$(
                $crate::harness::Test::new(module_path!(), stringify!($test), $test)
                    $(.needing($needs))?
            ),*]
        }
    };
}

/// What a test needs of the machine, checked just before it runs.
#[derive(Clone, Copy)]
pub enum Needs {
    /// Postgres (TEST_DATABASE_URL set); ignored on SQLite.
    Postgres,
    /// SQLite (TEST_DATABASE_URL unset); ignored on Postgres.
    Sqlite,
    /// A program that CI installs (`.ci/run`): the function says why it
    /// cannot be found, if it cannot. Missing in CI (`CI` set) fails the
    /// test; elsewhere the test is ignored with that reason.
    Program(fn() -> Option<String>),
}

impl Needs {
    /// Why the test cannot run here, if it cannot.
    fn unmet(self) -> Option<String> {
        match self {
            Needs::Postgres if !postgres() => Some("needs Postgres: set TEST_DATABASE_URL".to_owned()),
            Needs::Sqlite if postgres() => Some("needs SQLite: unset TEST_DATABASE_URL".to_owned()),
            Needs::Postgres | Needs::Sqlite => None,
            Needs::Program(missing) => missing(),
        }
    }
}

/// Whether the tests run on Postgres (TEST_DATABASE_URL, as `helpers::TestDb` reads it).
pub fn postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty())
}

/// One test: its name as libtest would show it (`module::function`), its
/// function and what it needs.
pub struct Test {
    name: String,
    run: fn(),
    needs: Option<Needs>,
}

impl Test {
    pub fn new(module_path: &str, function: &str, run: fn()) -> Self {
        // `api::operations` → `operations`: libtest's names leave out the crate.
        let module = module_path
            .split_once("::")
            .map_or(module_path, |(_, module)| module);
        Self {
            name: format!("{module}::{function}"),
            run,
            needs: None,
        }
    }

    pub fn needing(self, needs: Needs) -> Self {
        Self {
            needs: Some(needs),
            ..self
        }
    }

    fn into_trial(self) -> Trial {
        let Test { name, run, needs } = self;
        Trial::ignorable_test(name.clone(), move || match needs.and_then(Needs::unmet) {
            Some(reason) if matches!(needs, Some(Needs::Program(_))) && in_ci() => {
                Err(format!("{reason} (in CI a missing program fails the test)").into())
            }
            Some(reason) => Ok(Completion::ignored_with(reason)),
            None => {
                run_in_own_thread(&name, run);
                Ok(Completion::Completed)
            }
        })
    }
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// Runs a test as libtest does: on a fresh thread named after it, so that a
/// panic names the test and no thread-local state is carried from one test
/// to the next.
fn run_in_own_thread(name: &str, run: fn()) {
    let finished = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(run)
        .expect("start the test's thread")
        .join();
    if let Err(panic) = finished {
        // libtest-mimic catches it again, and reports the test failed with its message.
        std::panic::resume_unwind(panic);
    }
}

/// Runs the modules' tests as libtest would, with its command line.
pub fn main(modules: impl IntoIterator<Item = Vec<Test>>) -> ExitCode {
    let mut tests: Vec<Test> = modules.into_iter().flatten().collect();
    check_registration(&tests);
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        // libtest honours RUST_TEST_THREADS; libtest-mimic does not.
        args.test_threads = std::env::var("RUST_TEST_THREADS")
            .ok()
            .and_then(|threads| threads.parse().ok());
    }
    // libtest runs and lists its tests in the order of their names.
    tests.sort_by(|a, b| a.name.cmp(&b.name));
    let trials: Vec<Trial> = tests.into_iter().map(Test::into_trial).collect();
    let listed = (args.list && !args.quiet && matches!(args.format, None | Some(FormatSetting::Pretty)))
        .then(|| trials.iter().filter(|trial| !args.is_filtered_out(trial)).count());
    let conclusion = libtest_mimic::run(&args, trials);
    if let Some(count) = listed {
        // The summary libtest ends its list with, which libtest-mimic leaves out.
        if count > 0 {
            println!();
        }
        println!(
            "{count} {}, 0 benchmarks",
            if count == 1 { "test" } else { "tests" }
        );
    }
    conclusion.exit_code()
}

/// Refuses to run unless every test in the modules' sources is in its
/// module's list, and no `#[test]` attribute is left. Skipped when the
/// sources are not where this binary was built from.
fn check_registration(tests: &[Test]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let registered: BTreeSet<&str> = tests.iter().map(|test| test.name.as_str()).collect();
    let mut written = BTreeSet::new();
    let mut problems = Vec::new();
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let (Some(module), Some("rs")) = (
            path.file_stem().and_then(|stem| stem.to_str()),
            path.extension().and_then(|ext| ext.to_str()),
        ) else {
            continue;
        };
        let source = std::fs::read_to_string(&path).expect("read a test module");
        for (number, line) in source.lines().enumerate() {
            let attribute = line.trim();
            if attribute.starts_with("#[") && attribute.ends_with("test]") {
                problems.push(format!(
                    "tests/api/{module}.rs:{}: `{attribute}` (list the test in `crate::tests![...]` instead)",
                    number + 1
                ));
            }
            if let Some(function) = test_function(line) {
                written.insert(format!("{module}::{function}"));
            }
        }
    }
    for name in &written {
        if !registered.contains(name.as_str()) {
            problems.push(format!("{name} is not in its module's `crate::tests![...]`"));
        }
    }
    for name in &registered {
        if !written.contains(*name) {
            problems.push(format!(
                "{name} is listed but not written `fn name() {{` at the start of a line"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the tests and their lists disagree:\n{}",
        problems.join("\n")
    );
}

/// The name of the function a line starts, if it is written as a test is:
/// `fn name() {` (or `fn name() {}`) at the start of the line.
fn test_function(line: &str) -> Option<&str> {
    let (name, rest) = line.strip_prefix("fn ")?.split_once("() {")?;
    let identifier = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (identifier && (rest.is_empty() || rest == "}")).then_some(name)
}
