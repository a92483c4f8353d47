//! Counting words, in Rust, for Python: the module `word_count._word_count`.

use pyo3::prelude::*;
use rayon::prelude::*;

/// True if `word`, without surrounding punctuation, is `needle`.
fn is_match(word: &str, needle: &str) -> bool {
    word.trim_matches(|c: char| !c.is_alphanumeric()) == needle
}

fn count_in_line(line: &str, needle: &str) -> usize {
    line.split_whitespace().filter(|w| is_match(w, needle)).count()
}

/// Counts `needle` in `contents`, lines in parallel, without holding the GIL.
#[pyfunction]
fn search(py: Python<'_>, contents: &str, needle: &str) -> usize {
    py.allow_threads(|| contents.par_lines().map(|l| count_in_line(l, needle)).sum())
}

/// The same count on one thread.
#[pyfunction]
fn search_sequential(contents: &str, needle: &str) -> usize {
    contents.lines().map(|l| count_in_line(l, needle)).sum()
}

#[pymodule]
#[pyo3(name = "_word_count")]
fn word_count_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(search, m)?)?;
    m.add_function(wrap_pyfunction!(search_sequential, m)?)?;
    Ok(())
}
