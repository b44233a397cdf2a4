fn main() {
    std::process::exit(caravan_cli::main());
}
