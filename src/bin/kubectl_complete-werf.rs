//! kubectl 1.26+ runs this for `kubectl werf <TAB>` with the words after `kubectl werf` (the last one being
//! the word under the cursor); same answer as `kubectl werf __complete WORDS...`.
fn main() -> std::process::ExitCode {
    let words: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    kubectl_werf::commands::completion::complete_main(&words)
}
