fn main() {
    build_util::generate_notifications();
    build_util::generate_peripherals();
}
