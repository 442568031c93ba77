fn main() -> std::process::ExitCode {
    kubectl_werf::app::main()
}
