fn main() -> std::process::ExitCode {
    buildkit_lsp::cli::main()
}
