fn main() {
    eprintln!("kubectl-werf: under construction");
    std::process::exit(1);
}
