fn main() -> std::process::ExitCode {
    fz::cli::main()
}
