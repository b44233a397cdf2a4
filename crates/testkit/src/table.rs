//! Table tests of text in, text out: each case is `(name, input, want)`.

/// One case: its name, the input, and what is wanted (the output, or a part of the
/// error).
pub type Case<'a> = (&'a str, &'a str, &'a str);

/// Checks that `run(input)` answers exactly `Ok(want)` for each case.
pub fn each_answers(cases: &[Case], run: impl Fn(&str) -> Result<String, String>) {
    for (name, input, want) in cases {
        assert_eq!(run(input).as_deref(), Ok(*want), "case {name}: {input}");
    }
}

/// Checks that `run(input)` fails, with an error that contains `want`, for each case.
pub fn each_fails_with(cases: &[Case], run: impl Fn(&str) -> Result<String, String>) {
    for (name, input, want) in cases {
        let error = run(input).expect_err(name);
        assert!(
            error.contains(want),
            "case {name}: {error:?} should contain {want:?}"
        );
    }
}
